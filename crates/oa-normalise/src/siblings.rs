//! The children of one parent normalised together: a series' ScheduledSessions usually
//! publish only their own dates, id and status, and inherit everything else, so what they
//! inherit (text, tags, place, price, activities) is worked out once for all of them.
//!
//! The result equals normalising each child alone ([`crate::normalise_with`]); a child that
//! publishes anything besides its occurrence is normalised alone.

use oa_model::{ItemRole, Normalised, OpportunityKind};
use serde_json::{Map, Value};

use crate::build::{self, Description, Layered, OCCURRENCE_PROPERTIES};
use crate::classify::{ItemType, item_type, parent_ref};
use crate::embedded::{NOT_INHERITED, inherit};
use crate::jsonld::id_of;
use crate::{Vocabulary, normalise_with};

/// A child's own properties that leave its description as its parent's: those only its
/// occurrence reads, and the links and JSON-LD keys that nothing reads from a child.
fn leaves_description_inherited(property: &str) -> bool {
    OCCURRENCE_PROPERTIES.contains(&property)
        || matches!(
            property,
            "@type"
                | "type"
                | "@context"
                | "superEvent"
                | "identifier"
                | "remainingAttendeeCapacity"
                | "maximumAttendeeCapacity"
        )
}

/// Each child (kind, data) normalised with `parent`, in order.
pub(crate) fn normalise_siblings(
    vocabulary: &Vocabulary<'_>,
    children: &[(&str, &Value)],
    parent: &Value,
) -> Vec<Normalised> {
    let Value::Object(parent_map) = parent else {
        return alone(vocabulary, children, parent);
    };
    let mut shared = Shared {
        vocabulary,
        parent,
        // The parent's occurrence properties a child without its own inherits.
        parent_occurrence: Value::Object(
            OCCURRENCE_PROPERTIES
                .iter()
                .filter(|key| !NOT_INHERITED.contains(key))
                .filter_map(|&key| Some((key.to_owned(), parent_map.get(key)?.clone())))
                .collect::<Map<_, _>>(),
        ),
        descriptions: Vec::new(),
    };
    children
        .iter()
        .map(|&(kind, item)| match shareable(kind, item) {
            Some(ty) => shared.normalise(ty, item),
            None => normalise_with(vocabulary, kind, item, Some(parent)),
        })
        .collect()
}

fn alone(
    vocabulary: &Vocabulary<'_>,
    children: &[(&str, &Value)],
    parent: &Value,
) -> Vec<Normalised> {
    children
        .iter()
        .map(|&(kind, item)| normalise_with(vocabulary, kind, item, Some(parent)))
        .collect()
}

/// The child's type, when it is a child whose own properties leave its description
/// inherited.
fn shareable(kind: &str, item: &Value) -> Option<ItemType> {
    let Value::Object(own) = item else {
        return None;
    };
    let ty = item_type(kind, Some(item))?;
    (ty.role() == ItemRole::Child && own.keys().all(|k| leaves_description_inherited(k)))
        .then_some(ty)
}

struct Shared<'v, 'p> {
    vocabulary: &'v Vocabulary<'v>,
    parent: &'p Value,
    parent_occurrence: Value,
    /// One per opportunity kind seen (the description's problems depend on it).
    descriptions: Vec<(OpportunityKind, Description)>,
}

impl Shared<'_, '_> {
    fn normalise(&mut self, ty: ItemType, item: &Value) -> Normalised {
        let kind = ty.opportunity_kind();
        // The occurrence properties `inherit` would give the child, read where they are.
        let own = Layered::over(item, &self.parent_occurrence);
        let when = match build::occurrence(kind, own) {
            Ok(when) => when,
            Err(reason) => return Normalised::Unusable(reason),
        };
        let series_id = id_of(self.parent)
            .map(str::to_owned)
            .or_else(|| parent_ref(ty, item));
        let what = self.description(kind).clone();
        Normalised::Opportunities(vec![build::assemble(kind, series_id, None, when, what)])
    }

    fn description(&mut self, kind: OpportunityKind) -> &Description {
        let at = match self.descriptions.iter().position(|(k, _)| *k == kind) {
            Some(at) => at,
            None => {
                // What every shareable child inherits: the parent's inheritable properties.
                let inherited = inherit(&Value::Object(Map::new()), Some(self.parent));
                let described = build::description(self.vocabulary, kind, &inherited);
                self.descriptions.push((kind, described));
                self.descriptions.len() - 1
            }
        };
        &self.descriptions[at].1
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use oa_model::Normaliser;
    use serde_json::{Value, json};

    use crate::OpenActiveNormaliser;

    fn fixed_now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 3, 1, 9, 0, 0)
            .single()
            .unwrap_or_default()
    }

    /// Every object in the shipped samples whose type is one of `types`.
    fn sample_objects(types: &[&str]) -> Vec<Value> {
        fn walk(value: &Value, types: &[&str], into: &mut Vec<Value>) {
            match value {
                Value::Object(map) => {
                    let ty = map.get("@type").or_else(|| map.get("type"));
                    if ty
                        .and_then(Value::as_str)
                        .is_some_and(|t| types.contains(&t))
                    {
                        into.push(value.clone());
                    }
                    map.values().for_each(|v| walk(v, types, into));
                }
                Value::Array(list) => list.iter().for_each(|v| walk(v, types, into)),
                _ => {}
            }
        }
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/samples");
        let mut found = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(folder)
            .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for path in files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
        {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                walk(&value, types, &mut found);
            }
        }
        found
    }

    /// Children that publish only their occurrence, in every shape the shared path must
    /// get right, and some that publish more (normalised alone).
    fn children() -> Vec<(&'static str, Value)> {
        let mut children = vec![
            (
                "ScheduledSession",
                json!({"@type": "ScheduledSession", "@id": "https://x.example/s/1",
                "superEvent": "https://x.example/series/1", "startDate": "2030-03-29T10:00:00Z",
                "endDate": "2030-03-29T11:00:00Z", "duration": "PT1H",
                "eventStatus": "https://schema.org/EventScheduled"}),
            ),
            (
                "ScheduledSession",
                json!({"@type": "ScheduledSession", "id": "s2",
                "startDate": "2030-03-31T10:00:00", "endDate": "2030-03-31T09:00:00Z",
                "eventStatus": "EventCancelled", "url": "https://x.example/book/2",
                "remainingAttendeeCapacity": 3, "maximumAttendeeCapacity": 20}),
            ),
            (
                "ScheduledSession",
                json!({"@type": "ScheduledSession", "startDate": "2030-10-27T01:30:00+01:00",
                "duration": "PT0M", "identifier": 7, "@context": "https://openactive.io/"}),
            ),
            (
                "ScheduledSession",
                json!({"@type": "ScheduledSession", "startDate": "2030-04-01T08:00:00Z",
                "duration": "PT15H30M"}),
            ),
            (
                "ScheduledSession",
                json!({"@type": "ScheduledSession", "@id": "no-start"}),
            ),
            (
                "ScheduledSession",
                json!({"@type": "ScheduledSession", "startDate": "next tuesday"}),
            ),
            (
                "ScheduledSession",
                json!({"@type": "ScheduledSession", "startDate": "2030-04-02T18:00:00Z",
                "superEvent": {"@type": "SessionSeries", "name": "Embedded, ignored beside a stored parent"}}),
            ),
            (
                "Slot",
                json!({"type": "Slot", "startDate": "2030-04-03T18:00:00Z", "duration": "PT30M"}),
            ),
            // Publishing more than the occurrence: normalised alone.
            (
                "ScheduledSession",
                json!({"@type": "ScheduledSession", "startDate": "2030-04-04T10:00:00Z",
                "offers": [{"@type": "Offer", "price": 0}]}),
            ),
            (
                "ScheduledSession",
                json!({"@type": "ScheduledSession", "startDate": "2030-04-05T10:00:00Z",
                "name": "Its own name", "description": "Beginners welcome, tea and biscuits"}),
            ),
            (
                "ScheduledSession",
                json!({"@type": "ScheduledSession", "startDate": "2030-04-05T12:00:00Z",
                "name": "Only its own name"}),
            ),
            ("ScheduledSession", json!("https://x.example/not-an-object")),
            (
                "Event",
                json!({"@type": "Event", "startDate": "2030-04-06T10:00:00Z"}),
            ),
        ];
        children.extend(
            sample_objects(&["ScheduledSession", "Slot"])
                .into_iter()
                .map(|c| ("ScheduledSession", c)),
        );
        children
    }

    #[test]
    fn siblings_normalised_together_equal_each_normalised_alone() {
        let normaliser = OpenActiveNormaliser::default().with_clock(fixed_now);
        let mut parents =
            sample_objects(&["SessionSeries", "FacilityUse", "IndividualFacilityUse"]);
        parents.push(json!({"@type": "SessionSeries", "@id": "https://x.example/series/1",
            "startDate": "2030-03-29T10:00:00Z", "duration": "PT45M", "eventStatus": "EventPostponed",
            "url": "https://x.example/series-page", "name": "Walking netball",
            "description": "<p>Gentle, all abilities. Tea &amp; chat after.</p>",
            "offers": [{"price": 600}]}));
        parents.push(json!("https://x.example/series/only-a-reference"));
        assert!(
            parents.len() > 20,
            "the samples hold parents: {}",
            parents.len()
        );
        let children = children();
        let borrowed: Vec<(&str, &Value)> = children.iter().map(|(k, c)| (*k, c)).collect();
        let mut shared_usable = 0;
        for parent in &parents {
            let together = normaliser.normalise_siblings(&borrowed, parent);
            let alone: Vec<_> = borrowed
                .iter()
                .map(|(kind, child)| normaliser.normalise(kind, child, Some(parent)))
                .collect();
            assert_eq!(together.len(), alone.len());
            for ((together, alone), (_, child)) in together.iter().zip(&alone).zip(&borrowed) {
                assert_eq!(together, alone, "child {child}\nparent {parent}");
            }
            shared_usable += together[..8]
                .iter()
                .filter(|n| matches!(n, oa_model::Normalised::Opportunities(_)))
                .count();
        }
        assert!(
            shared_usable > 100,
            "the shared path made sessions: {shared_usable}"
        );
    }
}
