//! The tag rules as an area configures them (`config/tags.toml`), compiled once into a
//! phrase index so text is scanned in one pass whatever the number of phrases.

use std::collections::HashMap;

use serde::Deserialize;

use super::text::phrase_words;

/// The rules shipped with the service.
pub const DEFAULT_RULES: &str = include_str!("../../../../config/tags.toml");

/// `config/tags.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagConfig {
    /// `low_cost` means a lowest adult price above 0 and at most this (GBP).
    pub low_cost_max: f64,
    /// Words that negate a phrase that follows within `negation_window` words, in a clause.
    pub negators: Vec<String>,
    pub negation_window: usize,
    pub tags: Vec<TagRule>,
}

/// How one tag is recognised. Every list is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TagRule {
    pub name: String,
    /// `category` values that give the tag.
    pub categories: Vec<String>,
    /// `level` values that give the tag.
    pub levels: Vec<String>,
    /// When every `level` is one of these, the tag is withheld (structured evidence).
    pub excluding_levels: Vec<String>,
    /// `amenityFeature` types (e.g. `beta:Cafe`) that give the tag when their value is true.
    pub amenities: Vec<String>,
    /// Activity labels (as folded words) that give the tag by their nature.
    pub activities: Vec<String>,
    /// Boolean properties: true gives the tag, false withholds it.
    pub properties: Vec<String>,
    /// `accessibilitySupport` labels or ids that give the tag.
    pub accessibility_support: Vec<String>,
    /// `genderRestriction` values (the part after the last `/`).
    pub gender_restrictions: Vec<String>,
    /// `ageRange.minValue` at least this gives the tag.
    pub min_age_at_least: Option<f64>,
    /// Offers decide (`free`, `low_cost`): `all_zero`, or `lowest_up_to_low_cost_max`.
    pub offers: Option<String>,
    /// Text that gives the tag (name, description, attendeeInstructions, category, level).
    pub phrases: Vec<String>,
    /// Text that withholds the tag.
    pub excluding_phrases: Vec<String>,
    /// Text that is neither (e.g. "free parking" for `free`): masked before matching.
    pub ignored_phrases: Vec<String>,
}

/// What a phrase means for its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhraseRole {
    Gives,
    Excludes,
    Ignored,
}

#[derive(Debug, Clone)]
pub struct Phrase {
    pub tag: usize,
    pub role: PhraseRole,
    pub words: Vec<String>,
}

/// Phrases by their first word, longest first, so the longest match wins at each position.
#[derive(Debug, Clone, Default)]
pub struct PhraseIndex {
    pub by_first_word: HashMap<String, Vec<Phrase>>,
}

impl PhraseIndex {
    pub fn build(rules: &[TagRule]) -> PhraseIndex {
        let mut index = PhraseIndex::default();
        for (tag, rule) in rules.iter().enumerate() {
            let roles = [
                (&rule.phrases, PhraseRole::Gives),
                (&rule.excluding_phrases, PhraseRole::Excludes),
                (&rule.ignored_phrases, PhraseRole::Ignored),
            ];
            for (phrases, role) in roles {
                for phrase in phrases {
                    let words = phrase_words(phrase);
                    if let Some(first) = words.first() {
                        index
                            .by_first_word
                            .entry(first.clone())
                            .or_default()
                            .push(Phrase { tag, role, words });
                    }
                }
            }
        }
        for phrases in index.by_first_word.values_mut() {
            phrases.sort_by_key(|p| std::cmp::Reverse(p.words.len()));
        }
        index
    }
}

/// A rules file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("tag rules: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("tag rules: tag {0:?} is defined twice")]
    Duplicate(String),
    #[error(
        "tag rules: tag {tag:?}: offers = {value:?}; use all_zero or lowest_up_to_low_cost_max"
    )]
    Offers { tag: String, value: String },
}
