//! What an item is: its OpenActive type reduced to a role (parent, child, standalone) and an
//! opportunity kind, whatever spelling the publisher used for `kind` or `@type`.

use oa_model::{ItemRole, OpportunityKind};
use serde_json::Value;

use crate::jsonld::{id_of, local_name, type_of};

/// The types the aggregator understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemType {
    SessionSeries,
    ScheduledSession,
    FacilityUse,
    Slot,
    Event,
    CourseInstance,
}

impl ItemType {
    pub fn role(self) -> ItemRole {
        match self {
            ItemType::SessionSeries | ItemType::FacilityUse => ItemRole::Parent,
            ItemType::ScheduledSession | ItemType::Slot => ItemRole::Child,
            ItemType::Event | ItemType::CourseInstance => ItemRole::Standalone,
        }
    }

    /// The kind of opportunity this type yields (for parents: what their children yield).
    pub fn opportunity_kind(self) -> OpportunityKind {
        match self {
            ItemType::SessionSeries | ItemType::ScheduledSession => OpportunityKind::Session,
            ItemType::FacilityUse | ItemType::Slot => OpportunityKind::FacilitySlot,
            ItemType::Event => OpportunityKind::Event,
            ItemType::CourseInstance => OpportunityKind::Course,
        }
    }

    /// The property a child uses to point at its parent.
    pub fn parent_property(self) -> Option<&'static str> {
        match self {
            ItemType::ScheduledSession => Some("superEvent"),
            ItemType::Slot => Some("facilityUse"),
            _ => None,
        }
    }
}

/// Reads a type name in any of the spellings seen in real feeds: `ScheduledSessions`,
/// `session`, `FacilityUse/Slot`, `Slot for FacilityUse`, `SessionSeries.ScheduledSession`,
/// `beta:IndividualFacilityUse`, full URLs.
pub fn parse_type(name: &str) -> Option<ItemType> {
    canonical_type(name).or_else(|| read_spelling(name))
}

/// OpenActive's own spellings, which nearly every item uses, most used first.
const CANONICAL_TYPES: [(&str, ItemType); 10] = [
    ("ScheduledSession", ItemType::ScheduledSession),
    ("SessionSeries", ItemType::SessionSeries),
    ("Slot", ItemType::Slot),
    ("FacilityUse", ItemType::FacilityUse),
    ("IndividualFacilityUse", ItemType::FacilityUse),
    ("Event", ItemType::Event),
    ("CourseInstance", ItemType::CourseInstance),
    ("HeadlineEvent", ItemType::Event),
    ("OnDemandEvent", ItemType::Event),
    ("OnlineEvent", ItemType::Event),
];

/// One of [`CANONICAL_TYPES`], read without [`read_spelling`]'s lower-casing copy (2 % of a
/// harvest's instructions): the same readings, as `canonical_spellings_read_as_any_spelling`
/// checks.
fn canonical_type(name: &str) -> Option<ItemType> {
    CANONICAL_TYPES
        .iter()
        .find(|(spelling, _)| *spelling == name)
        .map(|(_, ty)| *ty)
}

fn read_spelling(name: &str) -> Option<ItemType> {
    let name = name.trim();
    let tail = if name.contains("://") {
        local_name(name)
    } else {
        name
    };
    let lower = tail.to_ascii_lowercase();
    let lower = lower.strip_prefix("beta:").unwrap_or(&lower);
    if lower.contains("slot") {
        return Some(ItemType::Slot);
    }
    // `SessionSeries.ScheduledSession`: the child is the part after the separator.
    let last = lower.rsplit(['.', '/']).next().unwrap_or(lower);
    let singular = last
        .strip_suffix('s')
        .filter(|s| !s.ends_with("serie"))
        .unwrap_or(last);
    match singular {
        "scheduledsession" | "session" => Some(ItemType::ScheduledSession),
        "sessionseries" | "series" => Some(ItemType::SessionSeries),
        "facilityuse" | "individualfacilityuse" => Some(ItemType::FacilityUse),
        "event" | "headlineevent" | "ondemandevent" | "onlineevent" => Some(ItemType::Event),
        "courseinstance" | "course" => Some(ItemType::CourseInstance),
        _ => None,
    }
}

/// The item's type: its data's `@type` first (more specific than the feed's `kind`: legacy
/// feeds put Events in a `session` kind), then the RPDE `kind`.
///
/// A compound of a parent and its child type is spelled both ways round: OpenActive's
/// `SessionSeries.ScheduledSession` is a series embedding its sessions (OpenSessions even
/// puts it in the data's `type`), while Legend's `ScheduledSession.SessionSeries` feed holds
/// series. With the data at hand its shape decides: an item with its own `startDate` is the
/// session or slot, one without is the series or facility. Without data (a deleted item)
/// [`parse_type`]'s reading stands.
pub fn item_type(kind: &str, data: Option<&Value>) -> Option<ItemType> {
    let by_shape = |name: &str| {
        let (parent, child) = compound(name)?;
        let data = data?;
        Some(if data.get("startDate").is_some() {
            child
        } else {
            parent
        })
    };
    let read = |name: &str| by_shape(name).or_else(|| parse_type(name));
    data.and_then(type_of).and_then(read).or_else(|| read(kind))
}

/// `A.B` or `A/B` naming a parent type and its child type, in either order.
fn compound(name: &str) -> Option<(ItemType, ItemType)> {
    let (a, b) = name.trim().split_once(['.', '/'])?;
    let (a, b) = (parse_type(a)?, parse_type(b)?);
    match (a.role(), b.role()) {
        (ItemRole::Parent, ItemRole::Child) => Some((a, b)),
        (ItemRole::Child, ItemRole::Parent) => Some((b, a)),
        _ => None,
    }
}

/// The `@id` of the parent a child points at, whether the reference is a URL string or an
/// embedded object.
pub fn parent_ref(item_type: ItemType, data: &Value) -> Option<String> {
    let property = item_type.parent_property()?;
    data.get(property).and_then(id_of).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_spelling_seen_in_real_feeds() {
        let cases = [
            ("ScheduledSession", ItemType::ScheduledSession),
            ("ScheduledSessions", ItemType::ScheduledSession),
            ("session", ItemType::ScheduledSession),
            ("SessionSeries", ItemType::SessionSeries),
            ("SessionSeries.ScheduledSession", ItemType::ScheduledSession),
            ("FacilityUse/Slot", ItemType::Slot),
            ("Slot for FacilityUse", ItemType::Slot),
            ("FacilityUse.Slot", ItemType::Slot),
            ("IndividualFacilityUse", ItemType::FacilityUse),
            ("beta:IndividualFacilityUse", ItemType::FacilityUse),
            (
                "https://openactive.io/ScheduledSession",
                ItemType::ScheduledSession,
            ),
            ("HeadlineEvent", ItemType::Event),
            ("OnDemandEvent", ItemType::Event),
            ("CourseInstance", ItemType::CourseInstance),
            ("Course", ItemType::CourseInstance),
        ];
        for (name, expected) in cases {
            assert_eq!(parse_type(name), Some(expected), "{name}");
        }
        assert_eq!(parse_type("Lesson"), None);
    }

    #[test]
    fn canonical_spellings_read_as_any_spelling() {
        for (name, ty) in CANONICAL_TYPES {
            assert_eq!(canonical_type(name), Some(ty), "{name}");
            assert_eq!(read_spelling(name), Some(ty), "{name}");
        }
        assert_eq!(canonical_type("session"), None);
    }

    #[test]
    fn compound_names_are_read_by_the_data_shape() {
        let series = json!({"type": "SessionSeries.ScheduledSession", "subEvent": []});
        let session = json!({"startDate": "2026-05-01T10:00:00Z"});
        let spelled = "SessionSeries.ScheduledSession";
        assert_eq!(
            item_type(spelled, Some(&series)),
            Some(ItemType::SessionSeries)
        );
        assert_eq!(
            item_type(spelled, Some(&session)),
            Some(ItemType::ScheduledSession)
        );
        assert_eq!(
            item_type(
                "ScheduledSession.SessionSeries",
                Some(&json!({"name": "x"}))
            ),
            Some(ItemType::SessionSeries)
        );
        assert_eq!(
            item_type("FacilityUse/Slot", Some(&session)),
            Some(ItemType::Slot)
        );
        // A plain data type wins over a compound kind.
        assert_eq!(
            item_type(
                "ScheduledSession.SessionSeries",
                Some(&json!({"type": "ScheduledSession"}))
            ),
            Some(ItemType::ScheduledSession)
        );
    }

    #[test]
    fn data_type_wins_over_kind() {
        let data = json!({"type": "Event"});
        assert_eq!(item_type("session", Some(&data)), Some(ItemType::Event));
        assert_eq!(item_type("session", None), Some(ItemType::ScheduledSession));
    }

    #[test]
    fn parent_reference_as_string_or_embedded_object() {
        let by_url = json!({"superEvent": "https://p/series/1"});
        let embedded = json!({"superEvent": {"@id": "https://p/series/2", "name": "x"}});
        assert_eq!(
            parent_ref(ItemType::ScheduledSession, &by_url).as_deref(),
            Some("https://p/series/1")
        );
        assert_eq!(
            parent_ref(ItemType::ScheduledSession, &embedded).as_deref(),
            Some("https://p/series/2")
        );
        let slot = json!({"facilityUse": "https://p/fu/1"});
        assert_eq!(
            parent_ref(ItemType::Slot, &slot).as_deref(),
            Some("https://p/fu/1")
        );
    }
}
