//! Explainable tags (social, beginner-friendly, cost, access...): a rule engine configured by
//! `config/tags.toml`. Structured evidence is read first; text (whole words, negation-aware)
//! second; structured evidence wins when they disagree, and the reasons say so.

mod rules;
mod structured;
pub mod text;

use std::collections::HashSet;
use std::sync::LazyLock;

use oa_model::{Effect, Evidence, Tag, TagReason};
use serde_json::Value;

pub use rules::{DEFAULT_RULES, RulesError, TagConfig, TagRule};
use rules::{PhraseIndex, PhraseRole};
use text::Folded;

use crate::jsonld::{list, text as text_of};

/// Compiled tag rules.
#[derive(Debug, Clone)]
pub struct TagRules {
    config: TagConfig,
    index: PhraseIndex,
    negators: HashSet<String>,
}

/// The tags an item earns and those it was denied, each with reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tagging {
    pub tags: Vec<Tag>,
    pub withheld: Vec<Tag>,
}

/// Evidence gathered for one tag.
#[derive(Debug, Default)]
struct Gathered {
    structured_for: Vec<TagReason>,
    structured_against: Vec<TagReason>,
    text_for: Vec<TagReason>,
    text_against: Vec<TagReason>,
}

static SHIPPED: LazyLock<TagRules> = LazyLock::new(|| {
    #[allow(clippy::expect_used)] // The shipped file is tested; failing here is a build defect.
    TagRules::from_toml(DEFAULT_RULES).expect("the shipped config/tags.toml is valid")
});

/// Text fields read for phrases, in the order reasons list them.
const TEXT_FIELDS: [&str; 5] = [
    "name",
    "description",
    "attendeeInstructions",
    "category",
    "level",
];

impl TagRules {
    /// The rules shipped in `config/tags.toml`.
    pub fn shipped() -> &'static TagRules {
        &SHIPPED
    }

    pub fn from_toml(toml_text: &str) -> Result<TagRules, RulesError> {
        let mut config: TagConfig = toml::from_str(toml_text)?;
        for rule in &mut config.tags {
            for list in [
                &mut rule.categories,
                &mut rule.levels,
                &mut rule.excluding_levels,
                &mut rule.activities,
                &mut rule.accessibility_support,
            ] {
                for value in list.iter_mut() {
                    *value = structured::fold(value);
                }
            }
        }
        let mut seen = HashSet::new();
        for rule in &config.tags {
            if !seen.insert(rule.name.clone()) {
                return Err(RulesError::Duplicate(rule.name.clone()));
            }
            if let Some(offers) = &rule.offers
                && !matches!(offers.as_str(), "all_zero" | "lowest_up_to_low_cost_max")
            {
                return Err(RulesError::Offers {
                    tag: rule.name.clone(),
                    value: offers.clone(),
                });
            }
        }
        let negators = config
            .negators
            .iter()
            .flat_map(|n| text::phrase_words(n))
            .collect();
        Ok(TagRules {
            index: PhraseIndex::build(&config.tags),
            config,
            negators,
        })
    }

    /// Tags for an item's (merged) data.
    pub fn tag(&self, data: &Value) -> Tagging {
        let mut gathered: Vec<Gathered> = self
            .config
            .tags
            .iter()
            .map(|_| Gathered::default())
            .collect();
        let facts = structured::Facts::read(data);
        for (rule, evidence) in self.config.tags.iter().zip(gathered.iter_mut()) {
            structured::gather(rule, &facts, self.config.low_cost_max, evidence);
        }
        for field in TEXT_FIELDS {
            let values = list(data.get(field));
            for value in values {
                let raw = text_of(Some(value)).or_else(|| text_of(value.get("prefLabel")));
                if let Some(raw) = raw {
                    self.match_text(field, &Folded::new(&raw), &mut gathered);
                }
            }
        }
        let mut tagging = Tagging::default();
        for (rule, evidence) in self.config.tags.iter().zip(gathered) {
            decide(&rule.name, evidence, &mut tagging);
        }
        tagging
    }

    fn match_text(&self, field: &str, folded: &Folded, gathered: &mut [Gathered]) {
        struct Found {
            tag: usize,
            role: PhraseRole,
            from: usize,
            to: usize,
        }
        let mut found: Vec<Found> = Vec::new();
        for at in 0..folded.len() {
            let first = folded.word(at);
            let Some(candidates) = self.index.by_first_word.get(first.text) else {
                continue;
            };
            for phrase in candidates {
                let to = at + phrase.words.len();
                let fits = to <= folded.len()
                    && phrase.words.iter().enumerate().all(|(k, w)| {
                        let word = folded.word(at + k);
                        word.text == w && word.clause == first.clause
                    });
                if fits {
                    found.push(Found {
                        tag: phrase.tag,
                        role: phrase.role,
                        from: at,
                        to,
                    });
                }
            }
        }
        let overlaps = |a: &Found, b: &Found| a.tag == b.tag && a.from < b.to && b.from < a.to;
        for hit in &found {
            if hit.role == PhraseRole::Ignored {
                continue;
            }
            // An ignored phrase ("free parking") or, for a giving phrase, an excluding one
            // ("not suitable for beginners") covering this hit takes it over.
            // A longer phrase of the same tag containing this one ("not just for beginners"
            // around "beginners") speaks for it.
            let covered = found.iter().any(|other| {
                overlaps(hit, other)
                    && (other.role == PhraseRole::Ignored
                        || (hit.role == PhraseRole::Gives && other.role == PhraseRole::Excludes)
                        || (other.from <= hit.from
                            && hit.to <= other.to
                            && other.to - other.from > hit.to - hit.from))
            });
            if covered {
                continue;
            }
            let rule = &self.config.tags[hit.tag];
            let value = folded.phrase(hit.from, hit.to);
            let negator = self.negator_before(folded, hit.from);
            let evidence = &mut gathered[hit.tag];
            match (hit.role, negator) {
                (PhraseRole::Gives, None) => evidence.text_for.push(reason(
                    Evidence::Text,
                    Effect::Gives,
                    field,
                    value,
                    format!("{}.phrases", rule.name),
                    None,
                )),
                (PhraseRole::Gives, Some(negator)) => evidence.text_against.push(reason(
                    Evidence::Text,
                    Effect::Withholds,
                    field,
                    value,
                    format!("{}.phrases", rule.name),
                    Some(format!("negated by {negator:?}")),
                )),
                (PhraseRole::Excludes, _) => evidence.text_against.push(reason(
                    Evidence::Text,
                    Effect::Withholds,
                    field,
                    value,
                    format!("{}.excluding_phrases", rule.name),
                    None,
                )),
                (PhraseRole::Ignored, _) => {}
            }
        }
    }

    /// A negating word shortly before `at` in the same clause.
    fn negator_before(&self, folded: &Folded, at: usize) -> Option<String> {
        let clause = folded.word(at).clause;
        (at.saturating_sub(self.config.negation_window)..at)
            .rev()
            .map(|i| folded.word(i))
            .take_while(|w| w.clause == clause)
            .find(|w| self.negators.contains(w.text))
            .map(|w| w.text.to_owned())
    }
}

/// Structured evidence against a tag withholds it; structured evidence for it gives it; only
/// then does text decide, a negation or excluding phrase beating a giving one.
fn decide(name: &str, mut g: Gathered, tagging: &mut Tagging) {
    let overruled = |reasons: &mut Vec<TagReason>, note: &str| {
        for r in reasons.iter_mut() {
            r.note.get_or_insert_with(|| note.to_owned());
        }
        std::mem::take(reasons)
    };
    let (given, reasons) = if !g.structured_against.is_empty() {
        let mut reasons = std::mem::take(&mut g.structured_against);
        reasons.extend(overruled(
            &mut g.structured_for,
            "contradicted by structured evidence",
        ));
        reasons.extend(overruled(
            &mut g.text_for,
            "structured evidence wins over text",
        ));
        (false, reasons)
    } else if !g.structured_for.is_empty() {
        let mut reasons = std::mem::take(&mut g.structured_for);
        reasons.append(&mut g.text_for);
        reasons.extend(overruled(
            &mut g.text_against,
            "structured evidence wins over text",
        ));
        (true, reasons)
    } else if !g.text_against.is_empty() {
        let mut reasons = std::mem::take(&mut g.text_against);
        reasons.extend(overruled(&mut g.text_for, "the text also says otherwise"));
        (false, reasons)
    } else if !g.text_for.is_empty() {
        (true, std::mem::take(&mut g.text_for))
    } else {
        return;
    };
    let tag = Tag {
        name: name.to_owned(),
        reasons,
    };
    if given {
        tagging.tags.push(tag);
    } else {
        tagging.withheld.push(tag);
    }
}

fn reason(
    evidence: Evidence,
    effect: Effect,
    field: &str,
    value: String,
    rule: String,
    note: Option<String>,
) -> TagReason {
    TagReason {
        evidence,
        effect,
        field: field.to_owned(),
        value,
        rule,
        note,
    }
}

#[cfg(test)]
mod tests;
