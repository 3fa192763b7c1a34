//! From raw OpenActive items to opportunities: classification, inheritance from parents,
//! and the fields link workers search on. Pure functions: no I/O, no clock.

pub mod activities;
pub mod audience;
mod build;
pub mod classify;
pub mod dates;
mod embedded;
pub mod fields;
pub mod jsonld;
pub mod offers;
pub mod place;
pub mod providers;
pub mod quality;
pub mod schedule;
mod siblings;
pub mod tags;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use oa_geo::{BoundingBox, Gazetteer, Ics};
use oa_model::{ItemRole, ItemState, Normalised, Normaliser, Opportunity, PreparedItem, RpdeItem};
use serde_json::Value;

pub use crate::activities::ActivityList;
use crate::classify::{ItemType, item_type, parent_ref};
use crate::embedded::{children, has_sub_events, inherit, is_embedded_object};
use crate::jsonld::id_of;
pub use crate::tags::{TagRules, Tagging};

/// Classifies and parses an RPDE item for the store.
pub fn prepare(item: &RpdeItem) -> PreparedItem {
    let data: Option<Value> = item
        .data
        .as_ref()
        .and_then(|raw| serde_json::from_str(raw.get()).ok());
    let ty = item_type(&item.kind, data.as_ref());
    let (data_id, parent) = match (&data, ty) {
        (Some(data), Some(ty)) => (id_of(data).map(str::to_owned), parent_ref(ty, data)),
        (Some(data), None) => (id_of(data).map(str::to_owned), None),
        _ => (None, None),
    };
    PreparedItem {
        id: item.id.clone(),
        kind: item.kind.clone(),
        state: item.state,
        modified: item.modified,
        role: ty.map_or(ItemRole::Standalone, ItemType::role),
        data_id,
        parent_ref: parent,
        data_json: match item.state {
            ItemState::Updated => item.data.as_ref().map(|raw| raw.get().to_owned()),
            ItemState::Deleted => None,
        },
        data,
    }
}

/// The OpenActive normaliser the store calls for each item it (re)computes.
#[derive(Debug, Clone)]
pub struct OpenActiveNormaliser {
    rules: Arc<TagRules>,
    places: Arc<Gazetteer>,
    bounds: BoundingBox,
    clock: Clock,
    horizon: Duration,
    areas: Arc<Vec<&'static Ics>>,
}

/// Where "now" comes from: the system clock, or a fixed instant in tests.
pub type Clock = fn() -> DateTime<Utc>;

/// How far ahead a `Schedule` is expanded by default.
pub const DEFAULT_HORIZON_DAYS: i64 = 28;

impl OpenActiveNormaliser {
    /// With an area's own tag rules.
    pub fn with_rules(mut self, rules: TagRules) -> Self {
        self.rules = Arc::new(rules);
        self
    }

    /// With full postcodes (from the postcode table) besides the bundled centroids.
    pub fn with_places(mut self, places: Gazetteer) -> Self {
        self.places = Arc::new(places);
        self
    }

    /// Where item coordinates are believable (the UK by default).
    pub fn with_bounds(mut self, bounds: BoundingBox) -> Self {
        self.bounds = bounds;
        self
    }

    /// How far ahead schedules are expanded.
    pub fn with_horizon(mut self, horizon: Duration) -> Self {
        self.horizon = horizon;
        self
    }

    /// Where "now" comes from (tests fix it).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The areas whose small areas each location is assigned to.
    pub fn with_areas(mut self, areas: Vec<&'static Ics>) -> Self {
        self.areas = Arc::new(areas);
        self
    }
}

impl OpenActiveNormaliser {
    fn vocabulary(&self) -> Vocabulary<'_> {
        Vocabulary {
            tags: &self.rules,
            activities: ActivityList::shipped(),
            places: &self.places,
            bounds: &self.bounds,
            now: (self.clock)(),
            horizon: self.horizon,
            areas: &self.areas,
        }
    }
}

impl Default for OpenActiveNormaliser {
    /// The shipped tag rules, bundled postcode centroids, UK bounds.
    fn default() -> Self {
        OpenActiveNormaliser {
            rules: Arc::new(TagRules::shipped().clone()),
            places: Arc::new(Gazetteer::bundled().clone()),
            bounds: place::UK_BOUNDS,
            clock: Utc::now,
            horizon: Duration::days(DEFAULT_HORIZON_DAYS),
            areas: Arc::default(),
        }
    }
}

impl Normaliser for OpenActiveNormaliser {
    fn normalise(&self, kind: &str, item: &Value, parent: Option<&Value>) -> Normalised {
        normalise_with(&self.vocabulary(), kind, item, parent)
    }

    fn normalise_siblings(&self, children: &[(&str, &Value)], parent: &Value) -> Vec<Normalised> {
        siblings::normalise_siblings(&self.vocabulary(), children, parent)
    }
}

/// Opportunities for one item, given its stored parent when it has one, tagged by the
/// shipped rules.
pub fn normalise(kind: &str, item: &Value, parent: Option<&Value>) -> Normalised {
    let vocabulary = Vocabulary {
        tags: TagRules::shipped(),
        activities: ActivityList::shipped(),
        places: Gazetteer::bundled(),
        bounds: &place::UK_BOUNDS,
        now: Utc::now(),
        horizon: Duration::days(DEFAULT_HORIZON_DAYS),
        areas: &[],
    };
    normalise_with(&vocabulary, kind, item, parent)
}

/// The vocabularies normalisation reads: tag rules and the Activity List.
#[derive(Debug, Clone, Copy)]
pub struct Vocabulary<'a> {
    pub tags: &'a TagRules,
    pub activities: &'a ActivityList,
    pub places: &'a Gazetteer,
    pub bounds: &'a BoundingBox,
    /// Schedules expand from here...
    pub now: DateTime<Utc>,
    /// ...this far ahead.
    pub horizon: Duration,
    /// Areas whose small areas locations are assigned to.
    pub areas: &'a [&'static Ics],
}

/// [`normalise`] with the given vocabularies.
pub fn normalise_with(
    vocabulary: &Vocabulary<'_>,
    kind: &str,
    item: &Value,
    parent: Option<&Value>,
) -> Normalised {
    let Some(ty) = item_type(kind, Some(item)) else {
        let published = jsonld::type_of(item).unwrap_or(kind);
        return Normalised::Unusable(format!("unknown type {published:?}"));
    };
    let embedded_parent = ty
        .parent_property()
        .or(Some("superEvent"))
        .and_then(|property| item.get(property))
        .filter(|parent| is_embedded_object(parent));
    let parent = parent.or(embedded_parent);
    let series_id = parent
        .and_then(id_of)
        .map(str::to_owned)
        .or_else(|| parent_ref(ty, item));
    match ty.role() {
        ItemRole::Child => {
            let Some(parent) = parent else {
                return Normalised::AwaitingParent;
            };
            let merged = inherit(item, Some(parent));
            match build::opportunity(vocabulary, ty, &merged, series_id, None) {
                Ok(found) => Normalised::Opportunities(vec![found]),
                Err(reason) => Normalised::Unusable(reason),
            }
        }
        ItemRole::Standalone => {
            let merged = inherit(item, parent);
            let mut found = children(vocabulary, ty, &merged, series_id.clone());
            if merged.get("startDate").is_some() || found.is_empty() {
                match build::opportunity(vocabulary, ty, &merged, series_id, None) {
                    Ok(own) => found.insert(0, own),
                    Err(reason) if found.is_empty() => return Normalised::Unusable(reason),
                    Err(_) => {}
                }
            }
            Normalised::Opportunities(found)
        }
        // A parent is not an opportunity itself; embedded sessions and slots are. A full
        // Schedule is expanded only when the series embeds no sessions: embedded ones are
        // the publisher's own, as ScheduledSessions in a feed of their own are (the store
        // drops generated sessions of series that have those).
        ItemRole::Parent => {
            let series_id = id_of(item).map(str::to_owned);
            let mut found = children(vocabulary, ty, item, series_id.clone());
            if ty == ItemType::SessionSeries && !has_sub_events(item) {
                found.extend(scheduled(vocabulary, item, series_id));
            }
            Normalised::Opportunities(found)
        }
    }
}

/// Properties of a series that describe the series itself, not one of its occurrences.
const SERIES_ONLY: &[&str] = &[
    "@id",
    "id",
    "url",
    "identifier",
    "eventSchedule",
    "subEvent",
];

/// Sessions generated from a series' full `Schedule`s, each with the series' properties and
/// its own start, end, `@id` (`idTemplate`) and `url` (`urlTemplate`). The store drops them
/// when the publisher sends ScheduledSessions for the series.
fn scheduled(
    vocabulary: &Vocabulary<'_>,
    series: &Value,
    series_id: Option<String>,
) -> Vec<Opportunity> {
    let Value::Object(fields) = series else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for plan in schedule::full_schedules(series) {
        let mut assumptions = Vec::new();
        let occurrences =
            schedule::expand(plan, vocabulary.now, vocabulary.horizon, &mut assumptions);
        for occurrence in occurrences {
            let mut data = fields.clone();
            for key in SERIES_ONLY {
                data.remove(*key);
            }
            data.insert("startDate".into(), occurrence.start.to_rfc3339().into());
            if let Some(end) = occurrence.end {
                data.insert("endDate".into(), end.to_rfc3339().into());
            }
            if let Some(minutes) = occurrence.duration_minutes {
                data.insert("duration".into(), format!("PT{minutes}M").into());
            }
            if let Some(id) = &occurrence.id {
                data.insert("@id".into(), id.clone().into());
            }
            if let Some(url) = &occurrence.url {
                data.insert("url".into(), url.clone().into());
            }
            let key = occurrence.id.unwrap_or(occurrence.local_start);
            let data = Value::Object(data);
            let made = build::opportunity(
                vocabulary,
                ItemType::ScheduledSession,
                &data,
                series_id.clone(),
                Some(key),
            );
            if let Ok(mut session) = made {
                session.from_schedule = true;
                session.problems.extend(assumptions.iter().cloned());
                found.push(session);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests;
