//! The compact record each indexed session keeps in memory, and the vocabulary its small
//! numbers point into (tags as bits; activities, organisers, venues and feeds interned),
//! built from the stored document by reading only the fields search and coverage use.

use std::collections::HashMap;
use std::hash::Hash;

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Europe::London;
use oa_model::{Activity, GenderRestriction, OpportunityKind, Organizer, SmallAreaRef, Tag};
use serde::Deserialize;

use crate::IndexRow;

/// Distinct tags the index can filter on.
pub(crate) const MAX_TAGS: u32 = 32;

/// `u8` fields use this for "not published".
pub(crate) const UNSET: u8 = u8::MAX;

/// One scheduled, located session: 64 bytes, so a million fit in 64 MB. Over 65,535 feeds
/// or accessibility sets, the last number stands for all the rest.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionRecord {
    /// The opportunity id (16 hex digits) as a number: same order as the text.
    pub id: u64,
    pub start: i64,
    /// FNV-1a of the series id; 0 for a session with no series.
    pub series: u64,
    /// Bit `n` set: carries vocabulary tag `n`.
    pub tags: u32,
    /// Degrees × 10^7 (about a centimetre): as small as an `f32` and exact for any
    /// coordinate published with up to seven decimals.
    pub lat: i32,
    pub lng: i32,
    /// Lowest published price; NaN when not published.
    pub price_min: f32,
    pub activities: u32,
    pub organizer: u32,
    pub venue: u32,
    pub feed: u16,
    pub accessibility: u16,
    pub kind: OpportunityKind,
    /// Monday = 0, in UK local time.
    pub weekday: u8,
    /// UK local hour.
    pub hour: u8,
    pub age_min: u8,
    pub age_max: u8,
    pub gender: Option<GenderRestriction>,
    /// Minutes from start to end, or [`NO_END`] / [`END_IN_STORE`]: a grouped search lists
    /// a series' later occurrences from here without reading their rows.
    pub end_minutes: u16,
}

/// `end_minutes` when no end was published.
pub(crate) const NO_END: u16 = u16::MAX;
/// `end_minutes` when the end is not a whole number of minutes under 45 days after the
/// start: rare enough to read from the store when needed.
pub(crate) const END_IN_STORE: u16 = u16::MAX - 1;

/// The `end_minutes` of a session.
fn end_minutes(start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> u16 {
    let Some(end) = end else { return NO_END };
    let seconds = (end - start).num_seconds();
    if seconds % 60 != 0 {
        return END_IN_STORE;
    }
    u16::try_from(seconds / 60)
        .ok()
        .filter(|&m| m < END_IN_STORE)
        .unwrap_or(END_IN_STORE)
}

/// What coverage needs of a session's place: its postcode as published and the small areas
/// it was assigned to when normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Venue {
    pub postcode: Option<String>,
    pub areas: Vec<SmallAreaRef>,
}

/// Where a session was published.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FeedSource {
    pub url: String,
    pub publisher: Option<String>,
}

/// Values many sessions share, stored once and referred to by number.
#[derive(Debug, Default)]
pub(crate) struct Vocabulary {
    pub tags: Interner<String>,
    pub activities: Interner<Vec<Activity>>,
    pub organizers: Interner<Option<Organizer>>,
    pub venues: Interner<Venue>,
    pub feeds: Interner<FeedSource>,
    pub accessibility: Interner<Vec<String>>,
}

/// Values in order of first sight, each with its number.
#[derive(Debug)]
pub(crate) struct Interner<T> {
    pub values: Vec<T>,
    numbers: HashMap<T, u32>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            values: Vec::new(),
            numbers: HashMap::new(),
        }
    }
}

impl<T: Eq + Hash + Clone> Interner<T> {
    pub fn intern(&mut self, value: T) -> u32 {
        if let Some(&n) = self.numbers.get(&value) {
            return n;
        }
        let n = self.values.len() as u32;
        self.values.push(value.clone());
        self.numbers.insert(value, n);
        n
    }

    pub fn number(&self, value: &T) -> Option<u32> {
        self.numbers.get(value).copied()
    }
}

/// The fields of a stored opportunity document the index reads (the rest is skipped).
#[derive(Deserialize)]
struct IndexedDoc {
    kind: OpportunityKind,
    #[serde(default)]
    series_id: Option<String>,
    start: DateTime<Utc>,
    #[serde(default)]
    end: Option<DateTime<Utc>>,
    #[serde(default)]
    activities: Vec<Activity>,
    #[serde(default)]
    location: Option<IndexedLocation>,
    #[serde(default)]
    organizer: Option<Organizer>,
    #[serde(default)]
    price: IndexedPrice,
    /// By name in documents stored now, with reasons in older ones: [`Tag`] reads both.
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    age_range: Option<oa_model::AgeRange>,
    #[serde(default)]
    gender_restriction: Option<GenderRestriction>,
    #[serde(default)]
    accessibility: Vec<String>,
    #[serde(default)]
    areas: Vec<SmallAreaRef>,
}

#[derive(Deserialize)]
struct IndexedLocation {
    #[serde(default)]
    address: IndexedAddress,
}

#[derive(Deserialize, Default)]
struct IndexedAddress {
    #[serde(default)]
    postcode: Option<String>,
}

#[derive(Deserialize, Default)]
struct IndexedPrice {
    #[serde(default)]
    min: Option<f64>,
}

/// Why a stored row cannot be indexed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    #[error("opportunity {0} has no usable id")]
    Id(String),
    #[error("opportunity {0} does not parse: {1}")]
    Doc(String, serde_json::Error),
}

/// The opportunity id's number: ids are 16 lower-case hex digits, so numeric order is
/// their text order.
pub fn id_number(id: &str) -> Option<u64> {
    (id.len() == 16)
        .then(|| u64::from_str_radix(id, 16).ok())
        .flatten()
}

/// The opportunity id of a number.
pub fn id_text(id: u64) -> String {
    format!("{id:016x}")
}

/// Fixed-point degrees (see [`SessionRecord::lat`]).
pub(crate) const FIXED_PER_DEGREE: f64 = 1e7;

pub(crate) fn to_fixed(degrees: f64) -> i32 {
    (degrees * FIXED_PER_DEGREE).round() as i32
}

/// A stable number for a series id (FNV-1a), never 0.
pub(crate) fn series_number(series_id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in series_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash.max(1)
}

impl Vocabulary {
    /// The record of a scheduled, located row (`None` otherwise).
    pub fn record(&mut self, row: &IndexRow) -> Result<Option<SessionRecord>, RecordError> {
        let (Some(lat), Some(lng)) = (row.lat, row.lng) else {
            return Ok(None);
        };
        if row.status != "scheduled" {
            return Ok(None);
        }
        let id = id_number(&row.id).ok_or_else(|| RecordError::Id(row.id.clone()))?;
        let doc: IndexedDoc =
            serde_json::from_str(&row.doc).map_err(|e| RecordError::Doc(row.id.clone(), e))?;
        let mut tags = 0u32;
        for tag in doc.tags {
            // Tags come from the rules file, a handful in practice; past MAX_TAGS a tag is
            // still stored and shown but cannot be filtered on (the index warns when it loads).
            let bit = self.tags.intern(tag.name);
            if bit < MAX_TAGS {
                tags |= 1 << bit;
            }
        }
        let local = doc.start.with_timezone(&London);
        let age = |v: Option<u32>| v.map_or(UNSET, |a| a.min(u32::from(UNSET - 1)) as u8);
        let feed = self.feeds.intern(FeedSource {
            url: row.feed_url.clone(),
            publisher: row.publisher.clone(),
        });
        Ok(Some(SessionRecord {
            id,
            start: row.start_at,
            series: doc.series_id.as_deref().map_or(0, series_number),
            tags,
            lat: to_fixed(lat),
            lng: to_fixed(lng),
            price_min: doc.price.min.map_or(f32::NAN, |p| p as f32),
            activities: self.activities.intern(doc.activities),
            organizer: self.organizers.intern(doc.organizer),
            venue: self.venues.intern(Venue {
                postcode: doc.location.and_then(|l| l.address.postcode),
                areas: doc.areas,
            }),
            feed: u16::try_from(feed).unwrap_or(u16::MAX),
            accessibility: u16::try_from(self.accessibility.intern(doc.accessibility))
                .unwrap_or(u16::MAX),
            kind: doc.kind,
            weekday: local.weekday().num_days_from_monday() as u8,
            hour: local.hour() as u8,
            age_min: age(doc.age_range.and_then(|r| r.min)),
            age_max: age(doc.age_range.and_then(|r| r.max)),
            gender: doc.gender_restriction,
            end_minutes: end_minutes(doc.start, doc.end),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_stay_small() {
        assert!(std::mem::size_of::<SessionRecord>() <= 64);
    }

    #[test]
    fn ends_are_kept_in_whole_minutes_or_left_to_the_store() {
        let start = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .expect("date")
            .to_utc();
        let after = |seconds| Some(start + chrono::Duration::seconds(seconds));
        assert_eq!(end_minutes(start, None), NO_END);
        assert_eq!(end_minutes(start, after(0)), 0);
        assert_eq!(end_minutes(start, after(90 * 60)), 90);
        assert_eq!(end_minutes(start, after(90)), END_IN_STORE);
        assert_eq!(end_minutes(start, after(-60)), END_IN_STORE);
        assert_eq!(end_minutes(start, after(60 * 65_534)), END_IN_STORE);
        assert_eq!(end_minutes(start, after(60 * 65_533)), 65_533);
    }

    #[test]
    fn id_numbers_keep_text_order() {
        let (a, b) = ("00ff000000000000", "0a00000000000000");
        assert_eq!(a < b, id_number(a) < id_number(b));
        assert_eq!(id_text(id_number(a).expect("hex")), a);
        assert_eq!(id_number("xyz"), None);
    }

    #[test]
    fn fixed_point_coordinates_round_trip_published_decimals() {
        for degrees in [53.8132, -2.7031, 0.0000001, -179.9999999, 89.1234567] {
            assert_eq!(f64::from(to_fixed(degrees)) / FIXED_PER_DEGREE, degrees);
        }
    }
}
