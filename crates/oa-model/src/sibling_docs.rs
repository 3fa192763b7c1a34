//! Stored documents of sessions that share most of their fields (a series' sessions), each
//! shared field's JSON written once and copied into the next document while its value stays
//! the same.
//!
//! A series' sessions inherit their name, description, activities, place, organizer, price
//! and tags, and differ in their dates and ids: serialising those shared fields again for
//! every session was most of the cost of writing its document (escaping every string byte
//! by byte). Inside a [`SiblingDocs`] scope, [`crate::tags::to_stored_json`] keeps the text
//! of each field marked `serialize_with` one of the functions here, and writes that text
//! again when the next document's value is equal. The bytes are the same as without the
//! scope (tested), so stored digests do not change. (Equal is `PartialEq`: a number written
//! `-0.0` after an equal `0.0` would be written `0.0`; both read back as the same number, and
//! at worst the item's digest differs once.)

use std::cell::RefCell;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::opportunity::{Activity, Location, Organizer, Price, QualityProblem, SmallAreaRef};
use crate::tags::writing_stored_form;

/// One field's last value and its JSON.
type Slot<T> = Option<(T, Box<RawValue>)>;

thread_local! {
    /// `Some` inside a [`SiblingDocs`] scope.
    static KEPT: RefCell<Option<Kept>> = const { RefCell::new(None) };
}

/// While it lives, stored documents written on this thread copy the text of a shared field
/// whose value equals the previous document's. Only worth it for documents that share
/// fields: a lone document pays for keeping each field's text.
#[derive(Debug)]
#[must_use = "documents copy shared text only while it lives"]
pub struct SiblingDocs {
    outer: Option<Kept>,
}

impl SiblingDocs {
    pub fn begin() -> Self {
        SiblingDocs {
            outer: KEPT.replace(Some(Kept::default())),
        }
    }
}

impl Drop for SiblingDocs {
    fn drop(&mut self) {
        KEPT.set(self.outer.take());
    }
}

/// Writes `value`, from the kept text when it equals the last value written in this slot.
fn shared<T, S>(
    value: &T,
    serializer: S,
    slot: fn(&mut Kept) -> &mut Slot<T>,
) -> Result<S::Ok, S::Error>
where
    T: Serialize + PartialEq + Clone,
    S: Serializer,
{
    // The kept text is JSON written by serde_json in the stored form: it may only go into
    // a stored document (which `to_stored_json` writes with serde_json).
    if !writing_stored_form() {
        return value.serialize(serializer);
    }
    KEPT.with(|kept| {
        let Ok(mut kept) = kept.try_borrow_mut() else {
            return value.serialize(serializer);
        };
        let Some(kept) = kept.as_mut() else {
            return value.serialize(serializer);
        };
        let slot = slot(kept);
        if let Some((last, text)) = slot.as_ref()
            && last == value
        {
            return text.serialize(serializer);
        }
        match serde_json::value::to_raw_value(value) {
            Ok(text) => slot.insert((value.clone(), text)).1.serialize(serializer),
            Err(_) => value.serialize(serializer), // It says why again.
        }
    })
}

/// Declares the shared fields: a slot for each in [`Kept`], and the function its
/// `serialize_with` names.
macro_rules! shared_fields {
    ($($field:ident: $ty:ty),* $(,)?) => {
        /// The text kept per shared field.
        #[derive(Debug, Default)]
        struct Kept {
            $($field: Slot<$ty>,)*
        }

        $(
            pub(crate) fn $field<S: Serializer>(value: &$ty, serializer: S) -> Result<S::Ok, S::Error> {
                shared(value, serializer, |kept| &mut kept.$field)
            }
        )*
    };
}

shared_fields! {
    series_id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    activities: Vec<Activity>,
    location: Option<Location>,
    organizer: Option<Organizer>,
    price: Price,
    tags: std::sync::Arc<[crate::Tag]>,
    problems: Vec<QualityProblem>,
    areas: Vec<SmallAreaRef>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Opportunity;
    use crate::tags::to_stored_json;

    fn tag(name: &str) -> crate::Tag {
        crate::Tag {
            name: name.into(),
            reasons: Vec::new(),
        }
    }

    /// A session of a series with every shared field set.
    fn session(n: u32) -> Opportunity {
        let mut session: Opportunity = serde_json::from_value(json!({
            "kind": "session",
            "data_id": format!("https://example.org/sessions/{n}"),
            "series_id": "https://example.org/series/1",
            "name": "Walking netball \"Rounders\" été",
            "description": "Gentle,\nwith a cuppa after",
            "start": format!("2026-12-{:02}T10:00:00Z", n + 1),
            "end": format!("2026-12-{:02}T11:00:00.250Z", n + 1),
            "activities": [{"id": "https://openactive.io/activity-list#x", "label": "Walking Netball", "matched": "pref_label"}],
            "location": {"name": "Hall", "address": {"postcode": "PR1 2AA"}, "lat": 53.81234567890123, "lng": -2.7, "precision": "exact"},
            "organizer": {"name": "Club", "url": "https://club.example"},
            "price": {"min": 2.5, "max": 4.0, "currency": "GBP"},
            "status": "scheduled",
            "problems": [{"code": "html_in_text", "detail": "description had <b>"}],
            "areas": [{"area": "lsc", "small_area": "E01012571"}]
        }))
        .expect("a session");
        session.tags = vec![tag("social"), tag("beginner_friendly")].into();
        session.withheld_tags = vec![tag("free")].into();
        session
    }

    fn stored(opportunity: &Opportunity) -> String {
        let mut doc = Vec::new();
        to_stored_json(opportunity, &mut doc).expect("written");
        String::from_utf8(doc).expect("utf-8")
    }

    /// Sessions whose shared fields stay, change one at a time, and come back.
    fn sessions() -> Vec<Opportunity> {
        let mut sessions: Vec<Opportunity> = (0..12).map(session).collect();
        sessions[2].description = Some("Brisk \u{1F3C3} and \"fast\"".into());
        sessions[3].description = None;
        sessions[4].location = None;
        sessions[5].price.min = Some(0.0);
        sessions[6].tags = vec![tag("free")].into();
        sessions[7].activities.clear();
        sessions[8].problems.clear();
        sessions[9].series_id = Some("https://example.org/series/2".into());
        sessions[10].organizer = None;
        sessions[10].areas.clear();
        sessions
    }

    #[test]
    fn documents_in_a_scope_are_the_bytes_written_without_one() {
        let sessions = sessions();
        let alone: Vec<String> = sessions.iter().map(stored).collect();
        let together: Vec<String> = {
            let _docs = SiblingDocs::begin();
            sessions.iter().map(stored).collect()
        };
        assert_eq!(together, alone);
        // Copied text keeps its escapes.
        assert!(alone[0].contains(r#""name":"Walking netball \"Rounders\" été""#));
    }

    #[test]
    fn kept_text_is_used_only_for_the_stored_form_and_only_in_its_scope() {
        let sessions = sessions();
        let _docs = SiblingDocs::begin();
        let first = stored(&sessions[0]);
        // Full form: tags keep their reasons and withheld tags are written.
        let full = serde_json::to_string(&sessions[1]).expect("full form");
        assert!(
            full.contains(r#""withheld_tags":[{"name":"free""#),
            "{full}"
        );
        assert!(full.contains(r#""tags":[{"name":"social""#), "{full}");
        assert_ne!(stored(&sessions[1]), first);
        drop(_docs);
        KEPT.with_borrow(|kept| assert!(kept.is_none(), "the scope ended"));
    }

    #[test]
    fn a_scope_inside_another_gives_the_outer_one_back() {
        let outer = SiblingDocs::begin();
        stored(&session(0));
        {
            let _inner = SiblingDocs::begin();
            KEPT.with_borrow(|kept| {
                assert!(kept.as_ref().is_some_and(|k| k.name.is_none()), "fresh");
            });
        }
        KEPT.with_borrow(|kept| {
            assert!(
                kept.as_ref().is_some_and(|k| k.name.is_some()),
                "outer's kept"
            );
        });
        drop(outer);
    }
}
