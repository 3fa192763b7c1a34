//! `/v1/coverage`: for ICS managers. How many sessions, of what, when and by whom across the
//! area and each district, and (`/v1/coverage/access`) how far each small area's residents
//! are from the nearest suitable session. JSON, CSV (Excel-ready) and GeoJSON (for QGIS).

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use oa_geo::{Ics, Region};
use oa_normalise::ActivityList;
use oa_store::index::{SessionFacts, SessionSet};
use oa_store::search::Filters;
use serde::Serialize;

pub mod access;
pub mod dashboard;
mod export;
pub mod providers;
pub mod summary;

use crate::problem::ApiError;
use crate::routes::AppState;

/// Access is measured to sessions in the next 28 days.
const WINDOW_DAYS: i64 = 28;
const KM_PER_MILE: f64 = 1.609_344;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    GeoJson,
}

/// The parsed query: area, filters on sessions, output format.
struct Query {
    ics: &'static Ics,
    filters: Filters,
    format: Format,
}

/// The format an `Accept` header asks for (`text/csv`, `application/geo+json`), when no
/// `format` parameter overrides it.
fn accepted(headers: &HeaderMap) -> Format {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let media: Vec<&str> = accept
        .split(',')
        .map(|m| m.split(';').next().unwrap_or_default().trim())
        .collect();
    if media.contains(&"text/csv") {
        Format::Csv
    } else if media.contains(&"application/geo+json") {
        Format::GeoJson
    } else {
        Format::Json
    }
}

fn parse(
    areas: &[&'static Ics],
    raw: Option<&str>,
    allow_filters: bool,
    accepted: Format,
) -> Result<Query, ApiError> {
    let mut problems = Vec::new();
    // The first configured area is the default.
    let mut area = areas
        .first()
        .map_or_else(String::new, |ics| ics.key.clone());
    let mut filters = Filters::default();
    let mut format = accepted;
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let value = value.trim().to_owned();
        // An empty form field means "no filter".
        if value.is_empty() && name != "area" {
            continue;
        }
        match name.as_ref() {
            "area" => area = value,
            "format" => match value.as_str() {
                "json" => format = Format::Json,
                "csv" => format = Format::Csv,
                "geojson" => format = Format::GeoJson,
                other => problems.push((
                    "format".into(),
                    format!("{other:?} is not json, csv or geojson"),
                )),
            },
            "tags" if allow_filters => filters.tags.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            ),
            "activity" if allow_filters => filters
                .activities
                .push(crate::params::activity_filter(&value).0),
            "max_price" if allow_filters => match value.parse::<f64>() {
                Ok(p) if p >= 0.0 && p.is_finite() => filters.max_price = Some(p),
                _ => problems.push(("max_price".into(), format!("{value:?} is not a price"))),
            },
            other => problems.push((other.to_owned(), "unknown parameter".into())),
        }
    }
    let ics = areas.iter().copied().find(|ics| ics.key == area);
    if ics.is_none() {
        let known: Vec<&str> = areas.iter().map(|ics| ics.key.as_str()).collect();
        problems.push((
            "area".into(),
            format!("{area:?} is not an area (known: {})", known.join(", ")),
        ));
    }
    match (ics, problems.is_empty()) {
        (Some(ics), true) => Ok(Query {
            ics,
            filters,
            format,
        }),
        _ => Err(ApiError::InvalidParameters(problems)),
    }
}

/// Upcoming scheduled sessions inside the ICS that pass the filters, each with its small
/// area; sessions outside the ICS are left out of its counts.
struct InArea<'a> {
    set: SessionSet,
    regions: Vec<Option<&'a Region>>,
}

impl<'a> InArea<'a> {
    fn iter(&self) -> impl Iterator<Item = (SessionFacts<'_>, &'a Region)> {
        self.set
            .iter()
            .zip(&self.regions)
            .filter_map(|(session, region)| Some((session, (*region)?)))
    }

    fn len(&self) -> usize {
        self.regions.iter().flatten().count()
    }
}

async fn sessions_in<'a>(
    state: &AppState,
    ics: &'a Ics,
    filters: &Filters,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<InArea<'a>, ApiError> {
    state.index.refresh(state.store.as_ref()).await?;
    let set = state.index.in_box(
        &bounding_box(ics),
        from.timestamp(),
        to.timestamp(),
        filters,
    );
    // Sessions carry the small area they were assigned when normalised. One normalised
    // before this area was configured is placed now, each venue once.
    let mut by_venue: HashMap<(u64, u64), Option<&Region>> = HashMap::new();
    let regions = set
        .iter()
        .map(|session| match session.small_area(&ics.key) {
            Some(code) => ics.small_areas.get(code),
            None => {
                let point = session.point();
                *by_venue
                    .entry((point.lat.to_bits(), point.lng.to_bits()))
                    .or_insert_with(|| ics.small_area(point))
            }
        })
        .collect();
    Ok(InArea { set, regions })
}

/// Sessions are counted by the top level of the Activity List ("Walking Football" counts
/// under "Football"); an activity the list does not know counts under its own label.
#[derive(Default)]
struct TopLevels {
    by_activity: HashMap<String, Vec<String>>,
}

impl TopLevels {
    /// Each top-level label once, for one session.
    fn of(&mut self, session: &SessionFacts<'_>) -> std::collections::BTreeSet<String> {
        let list = ActivityList::shipped();
        let mut groups = std::collections::BTreeSet::new();
        for activity in session.activities() {
            let key = activity.id.clone().unwrap_or_default();
            let labels = self.by_activity.entry(key).or_insert_with(|| {
                let tops: Vec<String> = activity
                    .id
                    .as_deref()
                    .map(|id| list.top_level(id))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| c.pref_label.clone())
                    .collect();
                tops
            });
            if labels.is_empty() {
                groups.insert(activity.label.clone());
            } else {
                groups.extend(labels.iter().cloned());
            }
        }
        groups
    }
}

fn bounding_box(ics: &Ics) -> oa_geo::BoundingBox {
    let (mut b, mut first) = (
        oa_geo::BoundingBox {
            min_lat: 0.0,
            max_lat: 0.0,
            min_lng: 0.0,
            max_lng: 0.0,
        },
        true,
    );
    for region in ics.small_areas.iter().chain(ics.boundary.iter()) {
        for polygon in &region.shape.0 {
            for c in &polygon.exterior().0 {
                if first {
                    b = oa_geo::BoundingBox {
                        min_lat: c.y,
                        max_lat: c.y,
                        min_lng: c.x,
                        max_lng: c.x,
                    };
                    first = false;
                }
                b.min_lat = b.min_lat.min(c.y);
                b.max_lat = b.max_lat.max(c.y);
                b.min_lng = b.min_lng.min(c.x);
                b.max_lng = b.max_lng.max(c.x);
            }
        }
    }
    b
}

#[derive(Serialize)]
struct AreaRef<'a> {
    key: &'a str,
    code: &'a str,
    name: &'a str,
}
