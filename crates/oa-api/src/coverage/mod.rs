//! `/v1/coverage`: for ICS managers. How many sessions, of what, when and by whom across the
//! area and each district, and (`/v1/coverage/access`) how far each small area's residents
//! are from the nearest suitable session. JSON, CSV (Excel-ready) and GeoJSON (for QGIS).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use oa_geo::{Ics, Region, district_of};
use oa_normalise::ActivityList;
use oa_store::index::{SessionFacts, SessionSet};
use oa_store::search::{Filters, TimeOfDay};
use serde::Serialize;
use serde_json::json;

pub mod access;
pub mod dashboard;
mod export;
pub mod providers;

use export::{csv_field, csv_response};

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

fn parse(
    areas: &[&'static Ics],
    raw: Option<&str>,
    allow_filters: bool,
) -> Result<Query, ApiError> {
    let mut problems = Vec::new();
    // The first configured area is the default.
    let mut area = areas
        .first()
        .map_or_else(String::new, |ics| ics.key.clone());
    let mut filters = Filters::default();
    let mut format = Format::Json;
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
    // Many sessions share a venue: each venue's small area is looked up once.
    let mut by_venue: HashMap<(u64, u64), Option<&Region>> = HashMap::new();
    let regions = set
        .iter()
        .map(|session| {
            let point = session.point();
            *by_venue
                .entry((point.lat.to_bits(), point.lng.to_bits()))
                .or_insert_with(|| ics.small_area(point))
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

#[derive(Serialize, Default)]
struct DistrictCounts {
    district: String,
    sessions_next_7_days: usize,
    sessions_next_28_days: usize,
    providers_publishing: usize,
    /// When the area's config names a populations file.
    #[serde(skip_serializing_if = "Option::is_none")]
    residents: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions_per_10k_residents: Option<f64>,
}

/// Sessions in the next 28 days per 10,000 residents, to one decimal place.
fn per_10k(sessions: usize, residents: Option<u64>) -> Option<f64> {
    residents
        .filter(|&r| r > 0)
        .map(|r| (sessions as f64 * 10_000.0 / r as f64 * 10.0).round() / 10.0)
}

/// Counts across the area and per district.
#[utoipa::path(
    get,
    path = "/v1/coverage",
    tag = "coverage",
    params(
        ("area" = Option<String>, Query, description = "Area key; default lancashire-south-cumbria"),
        ("format" = Option<String>, Query, description = "json (default) or csv (per district)")
    ),
    responses(
        (status = 200, description = "Sessions in the next 7 and 28 days by district, tag, activity, day and time; providers publishing; feed states", body = Object),
        (status = 400, description = "Bad parameters", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")
    )
)]
pub async fn coverage(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let Query { ics, format, .. } = parse(&state.areas, raw.as_deref(), false)?;
    let now = Utc::now();
    let sessions = sessions_in(
        &state,
        ics,
        &Filters::default(),
        now,
        now + Duration::days(WINDOW_DAYS),
    )
    .await?;
    let week = (now + Duration::days(7)).timestamp();
    let mut top_levels = TopLevels::default();
    // Every district is listed, those without sessions too: they are the gaps.
    let mut districts: BTreeMap<String, (DistrictCounts, BTreeMap<String, ()>)> = BTreeMap::new();
    let mut codes_by_district: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for region in ics.small_areas.iter() {
        codes_by_district
            .entry(district_of(region))
            .or_default()
            .push(&region.code);
    }
    for (district, codes) in &codes_by_district {
        districts.insert(
            (*district).to_owned(),
            (
                DistrictCounts {
                    district: (*district).to_owned(),
                    residents: ics.residents(codes.iter().copied()),
                    ..Default::default()
                },
                BTreeMap::new(),
            ),
        );
    }
    let (mut by_tag, mut by_activity, mut by_day, mut by_time, mut providers) = (
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
    );
    for (session, region) in sessions.iter() {
        let entry = districts
            .entry(district_of(region).to_owned())
            .or_insert_with(|| {
                (
                    DistrictCounts {
                        district: district_of(region).to_owned(),
                        ..Default::default()
                    },
                    BTreeMap::new(),
                )
            });
        entry.0.sessions_next_28_days += 1;
        if session.start_at() < week {
            entry.0.sessions_next_7_days += 1;
        }
        let provider = session
            .organizer()
            .and_then(|org| org.name.clone())
            .or_else(|| session.feed().publisher.clone());
        if let Some(provider) = provider {
            entry.1.insert(provider.clone(), ());
            *providers.entry(provider).or_insert(0usize) += 1;
        }
        for tag in session.tags() {
            *by_tag.entry(tag.to_owned()).or_insert(0usize) += 1;
        }
        for group in top_levels.of(&session) {
            *by_activity.entry(group.to_owned()).or_insert(0usize) += 1;
        }
        *by_day
            .entry(session.weekday().num_days_from_monday())
            .or_insert(0usize) += 1;
        let part = match TimeOfDay::of_hour(session.hour()) {
            TimeOfDay::Morning => "morning",
            TimeOfDay::Afternoon => "afternoon",
            TimeOfDay::Evening => "evening",
        };
        *by_time.entry(part).or_insert(0usize) += 1;
    }
    let districts: Vec<DistrictCounts> = districts
        .into_values()
        .map(|(mut counts, providers)| {
            counts.providers_publishing = providers.len();
            counts.sessions_per_10k_residents =
                per_10k(counts.sessions_next_28_days, counts.residents);
            counts
        })
        .collect();
    let residents = ics.residents(ics.small_areas.iter().map(|r| r.code.as_str()));
    if format == Format::Csv {
        let mut csv = String::from(
            "\u{feff}district,sessions_next_7_days,sessions_next_28_days,providers_publishing,residents,sessions_per_10k_residents\r\n",
        );
        for d in &districts {
            let optional = |v: Option<String>| v.unwrap_or_default();
            csv.push_str(&format!(
                "{},{},{},{},{},{}\r\n",
                csv_field(&d.district),
                d.sessions_next_7_days,
                d.sessions_next_28_days,
                d.providers_publishing,
                optional(d.residents.map(|r| r.to_string())),
                optional(d.sessions_per_10k_residents.map(|r| r.to_string())),
            ));
        }
        return Ok(csv_response(csv, "coverage.csv"));
    }
    let known = providers::provider_coverage(&state, ics).await?;
    let feeds = state.store.feeds().await?;
    let mut feed_states: BTreeMap<&str, usize> = BTreeMap::new();
    for feed in &feeds {
        *feed_states.entry(feed.state.as_str()).or_insert(0) += 1;
    }
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let mut top_activities: Vec<(String, usize)> = by_activity.into_iter().collect();
    top_activities.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top_activities.truncate(20);
    let mut publishing: Vec<(String, usize)> = providers.into_iter().collect();
    publishing.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(axum::Json(json!({
        "area": AreaRef { key: &ics.key, code: &ics.code, name: &ics.name },
        "generated_at": now,
        "sessions_next_7_days": districts.iter().map(|d| d.sessions_next_7_days).sum::<usize>(),
        "sessions_next_28_days": sessions.len(),
        "residents": residents,
        "sessions_per_10k_residents": per_10k(sessions.len(), residents),
        "districts": districts,
        "by_tag": by_tag,
        "by_activity": top_activities.into_iter().map(|(label, sessions)| json!({"activity": label, "sessions": sessions})).collect::<Vec<_>>(),
        "by_day": by_day.into_iter().map(|(d, n)| (days[d as usize].to_owned(), n)).collect::<BTreeMap<_, _>>(),
        "by_time_of_day": by_time,
        "providers_publishing": publishing.into_iter().map(|(name, sessions)| json!({"name": name, "sessions_next_28_days": sessions})).collect::<Vec<_>>(),
        "feeds": feed_states,
        "known_providers": {"known": known.known, "publishing": known.publishing, "not_publishing": known.not_publishing},
    }))
    .into_response())
}
