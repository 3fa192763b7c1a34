//! The normalised opportunity: one bookable or attendable thing at one time and place, as
//! stored in the read model and served by the API.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What sort of opportunity this is, reduced from the many OpenActive types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpportunityKind {
    /// A ScheduledSession of a SessionSeries.
    Session,
    /// A standalone Event (or HeadlineEvent, OnDemandEvent).
    Event,
    /// A CourseInstance.
    Course,
    /// A Slot of a FacilityUse or IndividualFacilityUse.
    FacilitySlot,
}

impl OpportunityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpportunityKind::Session => "session",
            OpportunityKind::Event => "event",
            OpportunityKind::Course => "course",
            OpportunityKind::FacilitySlot => "facility_slot",
        }
    }
}

/// `eventStatus`, reduced. Only `Scheduled` opportunities are ever returned by search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Scheduled,
    Cancelled,
    Postponed,
    Rescheduled,
    MovedOnline,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Scheduled => "scheduled",
            EventStatus::Cancelled => "cancelled",
            EventStatus::Postponed => "postponed",
            EventStatus::Rescheduled => "rescheduled",
            EventStatus::MovedOnline => "moved_online",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Activity {
    /// Activity-list concept id: the publisher's, or the one its label matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The list's preferred label when matched, else the publisher's.
    pub label: String,
    /// How it was matched to the Activity List.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<ActivityMatch>,
    /// The publisher's label, when it differs from the list's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_label: Option<String>,
}

/// How a published activity was matched to the OpenActive Activity List.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityMatch {
    /// By its concept id.
    Id,
    /// By its label, equal (ignoring case, punctuation, plurals) to a preferred label.
    PrefLabel,
    /// By its label, equal to an alternative label.
    AltLabel,
    /// Not in the list: kept as free text.
    Unknown,
}

impl Activity {
    /// An activity as published, before matching.
    pub fn published(id: Option<String>, label: String) -> Self {
        Activity {
            id,
            label,
            matched: None,
            published_label: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub address: Address,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lng: Option<f64>,
    /// How exactly `lat`/`lng` are known.
    #[serde(default)]
    pub precision: GeoPrecision,
}

/// Where a location's coordinates came from, most exact first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeoPrecision {
    /// The publisher's own `geo`.
    Exact,
    /// The full postcode's centroid.
    Postcode,
    /// The postcode sector's centroid.
    Sector,
    /// The postcode district's centroid.
    District,
    /// Not located.
    #[default]
    None,
}

/// Ages a session admits, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgeRange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

impl AgeRange {
    pub fn admits(&self, age: u32) -> bool {
        self.min.is_none_or(|min| age >= min) && self.max.is_none_or(|max| age <= max)
    }
}

/// A session restricted to one gender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GenderRestriction {
    Female,
    Male,
}

/// A data-quality problem found while normalising; it never hides an opportunity that can
/// still be shown honestly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityProblem {
    /// A stable code, e.g. `missing_geo`, `geo_postcode_mismatch`.
    pub code: String,
    pub detail: String,
}

impl QualityProblem {
    pub fn new(code: &str, detail: impl Into<String>) -> Self {
        QualityProblem {
            code: code.to_owned(),
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Organizer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephone: Option<String>,
}

/// Prices across the opportunity's offers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Price {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// `isAccessibleForFree`, when the publisher said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accessible_for_free: Option<bool>,
}

/// Withheld tags are left out when there are none, and always from a stored document: they
/// only explain, and explanations are worked out again when asked for.
fn withheld_left_out(tags: &Arc<[crate::Tag]>) -> bool {
    tags.is_empty() || crate::tags::writing_stored_form()
}

/// One opportunity, normalised from an item and (for children) its parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opportunity {
    pub kind: OpportunityKind,
    /// Set when one item yields several opportunities (embedded `subEvent`s): what tells
    /// them apart (their `@id`, else their start), so each keeps a stable id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<String>,
    /// The item's own `@id`, when published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_id: Option<String>,
    // What tells a series' sessions apart comes first, what they share after it: a stored
    // document's shared end is written once for them all (`oa_store`'s `document_tails`).
    #[serde(serialize_with = "crate::rfc3339::serialize")]
    pub start: DateTime<Utc>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::rfc3339::serialize_option"
    )]
    pub end: Option<DateTime<Utc>>,
    pub status: EventStatus,
    /// Where to find out more or book.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The parent's `@id` (SessionSeries, FacilityUse), when there is one.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::sibling_docs::series_id"
    )]
    pub series_id: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::sibling_docs::name"
    )]
    pub name: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::sibling_docs::description"
    )]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_minutes: Option<i64>,
    #[serde(serialize_with = "crate::sibling_docs::activities")]
    pub activities: Vec<Activity>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::sibling_docs::location"
    )]
    pub location: Option<Location>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::sibling_docs::organizer"
    )]
    pub organizer: Option<Organizer>,
    #[serde(serialize_with = "crate::sibling_docs::price")]
    pub price: Price,
    /// Tags it carries, each with its reasons (shared by the sessions of one series, which
    /// earn the same tags for the same reasons). A stored document keeps their names only
    /// ([`crate::tags::to_stored_json`]).
    #[serde(default, serialize_with = "crate::sibling_docs::tags")]
    pub tags: Arc<[crate::Tag]>,
    /// Tags some evidence suggested but other evidence ruled out, with both sides.
    #[serde(default, skip_serializing_if = "withheld_left_out")]
    pub withheld_tags: Arc<[crate::Tag]>,
    /// Data-quality problems found in the item.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "crate::sibling_docs::problems"
    )]
    pub problems: Vec<QualityProblem>,
    /// `level` as published ("Beginner", "All levels"...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub level: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_range: Option<AgeRange>,
    /// Set when the session is for one gender only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender_restriction: Option<GenderRestriction>,
    /// Accessibility support offered (labels, else concept ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accessibility: Vec<String>,
    /// Generated from its series' `Schedule` (the publisher sends no ScheduledSessions).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_schedule: bool,
    /// The small area of each configured area its location falls in, assigned when it is
    /// normalised (so `renormalise` re-applies a changed area).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "crate::sibling_docs::areas"
    )]
    pub areas: Vec<SmallAreaRef>,
}

/// A location's small area (an LSOA) within one configured area (an ICS).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SmallAreaRef {
    /// The area's key (`lancashire-south-cumbria`).
    pub area: String,
    /// The small area's code (`E01012571`).
    pub small_area: String,
}

impl Opportunity {
    /// Whether it carries the tag.
    pub fn has_tag(&self, name: &str) -> bool {
        self.tags.iter().any(|t| t.name == name)
    }

    /// Latitude and longitude when both are known.
    pub fn point(&self) -> Option<(f64, f64)> {
        let location = self.location.as_ref()?;
        Some((location.lat?, location.lng?))
    }
}
