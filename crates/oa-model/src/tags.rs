//! Tags on an opportunity and the reasons for each: what a link worker sees when asking
//! "why does this say beginner-friendly?".

use std::cell::Cell;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A tag and the evidence that decided it.
///
/// Serialised as `{"name", "reasons"}`, or inside [`to_stored_json`] as its name alone; it
/// deserialises from either (a name alone has no reasons).
#[derive(Debug, Clone, PartialEq, Eq)]
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
/// Deserialises from an object, or from an array of its fields in this order (how stores
/// written before tags were stored by name kept them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

thread_local! {
    static STORED_FORM: Cell<bool> = const { Cell::new(false) };
}

/// Writes `value` as JSON the way a store keeps it: each tag as its name alone, and no
/// withheld tags. Reasons were 43 % of a session's stored document, rewritten whenever a
/// rule changed; they are worked out again from the stored item when someone asks why
/// (`explain`), with the rules in force.
pub fn to_stored_json<T: Serialize>(value: &T, into: &mut Vec<u8>) -> serde_json::Result<()> {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            STORED_FORM.set(self.0);
        }
    }
    let _restore = Restore(STORED_FORM.replace(true));
    serde_json::to_writer(into, value)
}

/// Whether tags being written now are in the stored form (inside [`to_stored_json`]).
pub(crate) fn writing_stored_form() -> bool {
    STORED_FORM.get()
}

impl Serialize for Tag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Full<'a> {
            name: &'a str,
            reasons: &'a [TagReason],
        }
        if writing_stored_form() {
            return serializer.serialize_str(&self.name);
        }
        Full {
            name: &self.name,
            reasons: &self.reasons,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TagVisitor)
    }
}

/// Reads a tag's name alone or its object, without buffering either (documents are parsed
/// on every search).
struct TagVisitor;

impl<'de> Visitor<'de> for TagVisitor {
    type Value = Tag;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a tag's name, or an object with its name and reasons")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Tag, E> {
        self.visit_string(name.to_owned())
    }

    fn visit_string<E: de::Error>(self, name: String) -> Result<Tag, E> {
        Ok(Tag {
            name,
            reasons: Vec::new(),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tag, A::Error> {
        let (mut name, mut reasons) = (None, Vec::new());
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "name" => name = Some(map.next_value()?),
                "reasons" => reasons = map.next_value()?,
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
        Ok(Tag { name, reasons })
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

    fn tags() -> Vec<Tag> {
        vec![
            Tag {
                name: "free".into(),
                reasons: reasons(),
            },
            Tag {
                name: "social".into(),
                reasons: Vec::new(),
            },
        ]
    }

    #[test]
    fn stored_tags_are_names_that_read_back_without_reasons() {
        let mut stored = Vec::new();
        to_stored_json(&tags(), &mut stored).expect("stored");
        assert_eq!(
            String::from_utf8(stored.clone()).expect("utf-8"),
            r#"["free","social"]"#
        );
        let back: Vec<Tag> = serde_json::from_slice(&stored).expect("names read back");
        let names: Vec<&str> = back.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["free", "social"]);
        assert!(back.iter().all(|t| t.reasons.is_empty()));
    }

    #[test]
    fn tags_outside_the_stored_form_keep_their_reasons_as_objects() {
        let object = serde_json::to_string(&tags()).expect("object");
        assert!(
            object.starts_with(
                r#"[{"name":"free","reasons":[{"evidence":"structured","effect":"withholds""#
            ),
            "{object}"
        );
        assert!(!object.contains(r#""note":null"#), "{object}");
        assert_eq!(
            serde_json::from_str::<Vec<Tag>>(&object).expect("object reads back"),
            tags()
        );
    }

    #[test]
    fn reasons_stored_as_arrays_by_earlier_versions_still_read() {
        let earlier = r#"[{"name":"free","reasons":[["structured","withholds","offers","costs \"£2.50\"","free.offers"],
            ["structured","withholds","offers","costs \"£2.50\"","free.offers","structured evidence wins"]],"extra":1}]"#;
        let read: Vec<Tag> = serde_json::from_str(earlier).expect("earlier form");
        assert_eq!(read, tags()[..1]);
    }

    #[test]
    fn the_stored_form_ends_with_its_call_even_on_error() {
        struct Fails;
        impl Serialize for Fails {
            fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no"))
            }
        }
        assert!(to_stored_json(&Fails, &mut Vec::new()).is_err());
        let object = serde_json::to_string(&tags()).expect("object");
        assert!(object.starts_with(r#"[{"name""#), "{object}");
    }
}
