//! Tags on an opportunity and the reasons for each: what a link worker sees when asking
//! "why does this say beginner-friendly?".

use std::cell::Cell;

use serde::{Deserialize, Serialize, Serializer};

/// A tag and the evidence that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub name: String,
    pub reasons: Vec<TagReason>,
}

/// Structured evidence (a property with a defined meaning) beats text when they disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    Structured,
    Text,
}

/// Whether a piece of evidence argues for the tag or against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Gives,
    Withholds,
}

/// One piece of evidence: which field, which value or phrase, which rule, and its effect.
///
/// Serialised as an object, or inside [`to_compact_json`] as an array of its fields in this
/// order; it deserialises from either.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TagReason {
    pub evidence: Evidence,
    pub effect: Effect,
    /// The OpenActive property, e.g. `description`, `level`, `offers`.
    pub field: String,
    /// The value or phrase found.
    pub value: String,
    /// The rule that matched, e.g. `beginner_friendly.excluding_phrases`.
    pub rule: String,
    /// Why this evidence did or did not decide (e.g. "structured evidence wins").
    #[serde(default)]
    pub note: Option<String>,
}

thread_local! {
    static COMPACT_REASONS: Cell<bool> = const { Cell::new(false) };
}

/// Writes `value` as JSON with every tag reason as an array of its fields rather than an
/// object: what a store keeps. Reasons are the largest part of a session's document, and
/// their keys a third of them.
pub fn to_compact_json<T: Serialize>(value: &T, into: &mut Vec<u8>) -> serde_json::Result<()> {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            COMPACT_REASONS.set(self.0);
        }
    }
    let _restore = Restore(COMPACT_REASONS.replace(true));
    serde_json::to_writer(into, value)
}

/// The object form, with the field rules the API documents.
#[derive(Serialize)]
struct ReasonFields<'a> {
    evidence: Evidence,
    effect: Effect,
    field: &'a str,
    value: &'a str,
    rule: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

impl Serialize for TagReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let TagReason {
            evidence,
            effect,
            field,
            value,
            rule,
            note,
        } = self;
        if COMPACT_REASONS.get() {
            // A missing note is left off the end; deserialising defaults it.
            return match note {
                Some(note) => (evidence, effect, field, value, rule, note).serialize(serializer),
                None => (evidence, effect, field, value, rule).serialize(serializer),
            };
        }
        ReasonFields {
            evidence: *evidence,
            effect: *effect,
            field,
            value,
            rule,
            note: note.as_deref(),
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons() -> Vec<TagReason> {
        let reason = |note: Option<&str>| TagReason {
            evidence: Evidence::Structured,
            effect: Effect::Withholds,
            field: "offers".into(),
            value: "costs \"£2.50\"".into(),
            rule: "free.offers".into(),
            note: note.map(str::to_owned),
        };
        vec![reason(None), reason(Some("structured evidence wins"))]
    }

    #[test]
    fn compact_reasons_are_arrays_that_read_back_the_same() {
        let tags = vec![Tag {
            name: "free".into(),
            reasons: reasons(),
        }];
        let mut compact = Vec::new();
        to_compact_json(&tags, &mut compact).expect("compact");
        let compact = String::from_utf8(compact).expect("utf-8");
        assert!(
            compact.contains(r#"["structured","withholds","offers""#),
            "{compact}"
        );
        assert!(!compact.contains("\"evidence\""), "{compact}");
        let back: Vec<Tag> = serde_json::from_str(&compact).expect("compact reads back");
        assert_eq!(back, tags);

        let object = serde_json::to_string(&tags).expect("object");
        assert!(object.contains(r#"{"evidence":"structured","effect":"withholds""#));
        assert!(!object.contains(r#""note":null"#), "{object}");
        assert!(
            compact.len() * 4 < object.len() * 3,
            "{compact} against {object}"
        );
        assert_eq!(
            serde_json::from_str::<Vec<Tag>>(&object).expect("object reads back"),
            tags
        );
    }

    #[test]
    fn the_compact_form_ends_with_its_call_even_on_error() {
        struct Fails;
        impl Serialize for Fails {
            fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no"))
            }
        }
        assert!(to_compact_json(&Fails, &mut Vec::new()).is_err());
        let object = serde_json::to_string(&reasons()).expect("object");
        assert!(object.starts_with(r#"[{"evidence""#), "{object}");
    }
}
