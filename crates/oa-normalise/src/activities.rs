//! The OpenActive Activity List as an in-memory concept index: ids, labels, several parents
//! per concept, and every concept's narrower concepts, for matching publishers' labels and
//! for searching a concept with everything beneath it (Football includes Walking Football).

use std::collections::HashMap;
use std::sync::LazyLock;

use oa_model::{Activity, ActivityMatch};
use serde::Deserialize;

use crate::tags::text::phrase_words;

const SHIPPED_LIST: &str = include_str!("../../../fixtures/openactive/activity-list.jsonld");

/// How a published activity was matched to the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelMatch {
    PrefLabel,
    AltLabel,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Concept {
    pub id: String,
    #[serde(rename = "prefLabel")]
    pub pref_label: String,
    #[serde(rename = "altLabel", default)]
    pub alt_labels: Vec<String>,
    #[serde(default)]
    pub broader: Vec<String>,
    #[serde(default)]
    pub narrower: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Scheme {
    concept: Vec<Concept>,
}

/// The concept index.
#[derive(Debug, Clone)]
pub struct ActivityList {
    concepts: Vec<Concept>,
    by_id: HashMap<String, usize>,
    by_label: HashMap<String, (usize, LabelMatch)>,
    children: Vec<Vec<usize>>,
    parents: Vec<Vec<usize>>,
}

static SHIPPED: LazyLock<ActivityList> = LazyLock::new(|| {
    #[allow(clippy::expect_used)] // The embedded list is tested; failing here is a build defect.
    ActivityList::from_json(SHIPPED_LIST).expect("the embedded activity list parses")
});

impl ActivityList {
    /// The list embedded in the binary.
    pub fn shipped() -> &'static ActivityList {
        &SHIPPED
    }

    pub fn from_json(text: &str) -> Result<ActivityList, serde_json::Error> {
        let scheme: Scheme = serde_json::from_str(text)?;
        let concepts = scheme.concept;
        let by_id: HashMap<String, usize> = concepts
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        let mut by_label = HashMap::new();
        // Preferred labels first, so an alternative label never shadows one.
        for (i, c) in concepts.iter().enumerate() {
            by_label
                .entry(label_key(&c.pref_label))
                .or_insert((i, LabelMatch::PrefLabel));
        }
        for (i, c) in concepts.iter().enumerate() {
            for alt in &c.alt_labels {
                by_label
                    .entry(label_key(alt))
                    .or_insert((i, LabelMatch::AltLabel));
            }
        }
        let mut children = vec![Vec::new(); concepts.len()];
        for (i, c) in concepts.iter().enumerate() {
            for parent in &c.broader {
                if let Some(&p) = by_id.get(parent) {
                    children[p].push(i);
                }
            }
            for child in &c.narrower {
                if let Some(&n) = by_id.get(child) {
                    children[i].push(n);
                }
            }
        }
        for list in &mut children {
            list.sort_unstable();
            list.dedup();
        }
        let mut parents = vec![Vec::new(); concepts.len()];
        for (p, list) in children.iter().enumerate() {
            for &c in list {
                parents[c].push(p);
            }
        }
        Ok(ActivityList {
            concepts,
            by_id,
            by_label,
            children,
            parents,
        })
    }

    pub fn len(&self) -> usize {
        self.concepts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty()
    }

    pub fn concept(&self, id: &str) -> Option<&Concept> {
        self.by_id.get(id).map(|&i| &self.concepts[i])
    }

    /// The concept a label names, ignoring case, punctuation, plurals and "&" versus "and".
    pub fn match_label(&self, label: &str) -> Option<(&Concept, LabelMatch)> {
        self.by_label
            .get(&label_key(label))
            .map(|&(i, how)| (&self.concepts[i], how))
    }

    /// A concept by id, or by label.
    pub fn resolve(&self, id_or_label: &str) -> Option<&Concept> {
        self.concept(id_or_label)
            .or_else(|| self.match_label(id_or_label).map(|(c, _)| c))
    }

    /// The concept's id and those of every concept beneath it, at any depth.
    pub fn with_narrower(&self, id: &str) -> Vec<&str> {
        let Some(&start) = self.by_id.get(id) else {
            return Vec::new();
        };
        let mut seen = vec![false; self.concepts.len()];
        let mut stack = vec![start];
        let mut found = Vec::new();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            found.push(self.concepts[i].id.as_str());
            stack.extend(self.children[i].iter().copied().filter(|&c| !seen[c]));
        }
        found
    }

    /// The top-level concepts above this one (itself when nothing is broader), in list
    /// order; several when it sits under several.
    pub fn top_level(&self, id: &str) -> Vec<&Concept> {
        let Some(&start) = self.by_id.get(id) else {
            return Vec::new();
        };
        let mut seen = vec![false; self.concepts.len()];
        let mut stack = vec![start];
        let mut roots = Vec::new();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            if self.parents[i].is_empty() {
                roots.push(i);
            }
            stack.extend(self.parents[i].iter().copied().filter(|&p| !seen[p]));
        }
        roots.sort_unstable();
        roots.into_iter().map(|i| &self.concepts[i]).collect()
    }
}

const LIST_PREFIX: &str = "https://openactive.io/activity-list#";

impl ActivityList {
    /// Matches published activities to the list: by id (also a bare `#uuid`), else by
    /// label; what does not match is kept as free text, marked unknown.
    pub fn resolve_all(&self, published: Vec<Activity>) -> Vec<Activity> {
        published.into_iter().map(|a| self.resolve_one(a)).collect()
    }

    fn resolve_one(&self, activity: Activity) -> Activity {
        let by_id = activity.id.as_deref().and_then(|id| {
            self.concept(id).or_else(|| {
                let uuid = id.rsplit(['#', '/']).next()?;
                self.concept(&format!("{LIST_PREFIX}{uuid}"))
            })
        });
        let (concept, how) = match by_id {
            Some(concept) => (concept, ActivityMatch::Id),
            None => match self.match_label(&activity.label) {
                Some((concept, LabelMatch::PrefLabel)) => (concept, ActivityMatch::PrefLabel),
                Some((concept, LabelMatch::AltLabel)) => (concept, ActivityMatch::AltLabel),
                None => {
                    return Activity {
                        matched: Some(ActivityMatch::Unknown),
                        ..activity
                    };
                }
            },
        };
        let differs = label_key(&activity.label) != label_key(&concept.pref_label);
        Activity {
            id: Some(concept.id.clone()),
            label: concept.pref_label.clone(),
            matched: Some(how),
            published_label: differs.then_some(activity.label),
        }
    }
}

/// Words folded and singular: "Walking-Football", "walking footballs" and "WALKING FOOTBALL"
/// share a key, as do "Strength & Conditioning" and "strength and conditioning".
fn label_key(label: &str) -> String {
    phrase_words(label)
        .into_iter()
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if w.len() > 3 && !w.ends_with("ss") => stem.to_owned(),
            _ => w,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOOTBALL: &str =
        "https://openactive.io/activity-list#0a5f732d-e806-4e51-ad40-0a7de0239c8c";
    const WALKING_FOOTBALL: &str =
        "https://openactive.io/activity-list#b8019b67-2ade-406f-a012-91a5c3869652";

    #[test]
    fn top_level_concepts_are_found_through_every_broader_link() {
        let list = ActivityList::shipped();
        let above_walking_football: Vec<&str> = list
            .top_level(WALKING_FOOTBALL)
            .iter()
            .map(|c| c.pref_label.as_str())
            .collect();
        let above_football: Vec<&str> = list
            .top_level(FOOTBALL)
            .iter()
            .map(|c| c.pref_label.as_str())
            .collect();
        assert!(!above_football.is_empty());
        // Walking Football sits under Football, so shares its top level (and may have more).
        for label in &above_football {
            assert!(above_walking_football.contains(label), "{label}");
        }
        for concept in list.top_level(WALKING_FOOTBALL) {
            assert!(list.with_narrower(&concept.id).contains(&WALKING_FOOTBALL));
        }
        assert!(list.top_level("https://example.org/not-listed").is_empty());
    }

    #[test]
    fn the_embedded_list_has_every_concept() {
        assert_eq!(ActivityList::shipped().len(), 768);
    }

    #[test]
    fn labels_match_whatever_their_case_punctuation_plural_or_ampersand() {
        let list = ActivityList::shipped();
        for label in [
            "Walking Football",
            "walking-football",
            "WALKING FOOTBALLS",
            " walking  football ",
        ] {
            let (concept, how) = list.match_label(label).expect(label);
            assert_eq!(concept.id, WALKING_FOOTBALL, "{label}");
            assert_eq!(how, LabelMatch::PrefLabel);
        }
        assert!(list.match_label("Underwater basket weaving").is_none());
    }

    #[test]
    fn a_concept_includes_everything_beneath_it() {
        let list = ActivityList::shipped();
        let football = list.with_narrower(FOOTBALL);
        assert!(football.contains(&WALKING_FOOTBALL));
        assert!(football.contains(&FOOTBALL));
        assert!(list.with_narrower(WALKING_FOOTBALL).len() < football.len());
    }

    #[test]
    fn published_activities_are_matched_by_id_or_label_and_unknown_ones_kept() {
        let resolved = ActivityList::shipped().resolve_all(vec![
            Activity::published(Some(WALKING_FOOTBALL.into()), "Walking footy".into()),
            Activity::published(None, "walking footballs".into()),
            Activity::published(
                Some("#b8019b67-2ade-406f-a012-91a5c3869652".into()),
                "WF".into(),
            ),
            Activity::published(None, "Fun with Friends".into()),
        ]);
        assert_eq!(resolved[0].matched, Some(ActivityMatch::Id));
        assert_eq!(resolved[0].label, "Walking Football");
        assert_eq!(
            resolved[0].published_label.as_deref(),
            Some("Walking footy")
        );
        assert_eq!(resolved[1].matched, Some(ActivityMatch::PrefLabel));
        assert_eq!(resolved[1].id.as_deref(), Some(WALKING_FOOTBALL));
        assert_eq!(resolved[1].published_label, None, "only the plural differs");
        assert_eq!(resolved[2].id.as_deref(), Some(WALKING_FOOTBALL));
        assert_eq!(resolved[3].matched, Some(ActivityMatch::Unknown));
        assert_eq!(
            (resolved[3].id.as_deref(), resolved[3].label.as_str()),
            (None, "Fun with Friends")
        );
    }

    #[test]
    fn concepts_with_several_parents_are_beneath_each() {
        let list = ActivityList::shipped();
        let shared = list
            .concepts
            .iter()
            .find(|c| c.broader.len() > 1)
            .expect("some concept has two parents");
        for parent in &shared.broader {
            assert!(
                list.with_narrower(parent).contains(&shared.id.as_str()),
                "{parent}"
            );
        }
    }
}
