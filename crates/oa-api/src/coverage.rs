//! `/v1/coverage`: for ICS managers. How many sessions, of what, when and by whom across the
//! area and each district, and (`/v1/coverage/access`) how far each small area's residents
//! are from the nearest suitable session. JSON, CSV (Excel-ready) and GeoJSON (for QGIS).

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use chrono_tz::Europe::London;
use oa_geo::{Ics, NearestIndex, Point, Region, district_of};
use oa_store::search::{Filters, TimeOfDay};
use oa_store::{Candidate, CandidateQuery};
use serde::Serialize;
use serde_json::{Value, json};

use crate::problem::ApiError;
use crate::routes::AppState;

const DEFAULT_AREA: &str = "lancashire-south-cumbria";
/// Access is measured to sessions in the next 28 days.
const WINDOW_DAYS: i64 = 28;
const KM_PER_MILE: f64 = 1.609_344;
const BATCH: i64 = 1000;

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

fn parse(raw: Option<&str>, allow_filters: bool) -> Result<Query, ApiError> {
    let mut problems = Vec::new();
    let mut area = DEFAULT_AREA.to_owned();
    let mut filters = Filters::default();
    let mut format = Format::Json;
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let value = value.trim().to_owned();
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
    let ics = Ics::bundled(&area);
    if ics.is_none() {
        problems.push((
            "area".into(),
            format!(
                "{area:?} is not an area (known: {})",
                Ics::bundled_keys().join(", ")
            ),
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

/// Upcoming scheduled sessions inside the ICS that pass the filters, with their small area.
async fn sessions_in<'a>(
    state: &AppState,
    ics: &'a Ics,
    filters: &Filters,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(Candidate, &'a Region)>, ApiError> {
    let bbox = bounding_box(ics);
    let mut query = CandidateQuery {
        bbox,
        from: from.timestamp(),
        to: to.timestamp(),
        after: None,
        limit: BATCH,
    };
    let mut found = Vec::new();
    loop {
        let batch = state.store.candidates(&query).await?;
        let exhausted = (batch.len() as i64) < BATCH;
        query.after = batch.last().map(|c| (c.start_at, c.id.clone()));
        for candidate in batch {
            if !filters.accepts(&candidate.opportunity) {
                continue;
            }
            if let Some(region) = ics.small_area(Point::new(candidate.lat, candidate.lng)) {
                found.push((candidate, region));
            }
        }
        if exhausted {
            return Ok(found);
        }
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
    let Query { ics, format, .. } = parse(raw.as_deref(), false)?;
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
    let mut districts: BTreeMap<String, (DistrictCounts, BTreeMap<String, ()>)> = BTreeMap::new();
    let (mut by_tag, mut by_activity, mut by_day, mut by_time, mut providers) = (
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
    );
    for (candidate, region) in &sessions {
        let o = &candidate.opportunity;
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
        if candidate.start_at < week {
            entry.0.sessions_next_7_days += 1;
        }
        let provider = o
            .organizer
            .as_ref()
            .and_then(|org| org.name.clone())
            .or_else(|| candidate.publisher.clone());
        if let Some(provider) = provider {
            entry.1.insert(provider.clone(), ());
            *providers.entry(provider).or_insert(0usize) += 1;
        }
        for tag in &o.tags {
            *by_tag.entry(tag.name.clone()).or_insert(0usize) += 1;
        }
        for activity in &o.activities {
            *by_activity.entry(activity.label.clone()).or_insert(0usize) += 1;
        }
        let local = o.start.with_timezone(&London);
        *by_day
            .entry(local.weekday().num_days_from_monday())
            .or_insert(0usize) += 1;
        let part = match TimeOfDay::of_hour(local.hour()) {
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
            counts
        })
        .collect();
    if format == Format::Csv {
        let mut csv = String::from(
            "\u{feff}district,sessions_next_7_days,sessions_next_28_days,providers_publishing\r\n",
        );
        for d in &districts {
            csv.push_str(&format!(
                "{},{},{},{}\r\n",
                csv_field(&d.district),
                d.sessions_next_7_days,
                d.sessions_next_28_days,
                d.providers_publishing
            ));
        }
        return Ok(csv_response(csv, "coverage.csv"));
    }
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
        "districts": districts,
        "by_tag": by_tag,
        "by_activity": top_activities.into_iter().map(|(label, sessions)| json!({"activity": label, "sessions": sessions})).collect::<Vec<_>>(),
        "by_day": by_day.into_iter().map(|(d, n)| (days[d as usize].to_owned(), n)).collect::<BTreeMap<_, _>>(),
        "by_time_of_day": by_time,
        "providers_publishing": publishing.into_iter().map(|(name, sessions)| json!({"name": name, "sessions_next_28_days": sessions})).collect::<Vec<_>>(),
        "feeds": feed_states,
    }))
    .into_response())
}

#[derive(Serialize)]
struct Access<'a> {
    code: &'a str,
    name: &'a str,
    district: &'a str,
    lat: f64,
    lng: f64,
    /// Great-circle km from the small area's centroid to the nearest suitable session.
    nearest_km: Option<f64>,
}

/// For every small area, the distance to the nearest suitable session in the next 28 days.
#[utoipa::path(
    get,
    path = "/v1/coverage/access",
    tag = "coverage",
    params(
        ("area" = Option<String>, Query, description = "Area key; default lancashire-south-cumbria"),
        ("tags" = Option<String>, Query, description = "Tags all required, e.g. social,beginner_friendly"),
        ("activity" = Option<String>, Query, description = "Activity List id or label (narrower included); repeatable"),
        ("max_price" = Option<f64>, Query, description = "Lowest price at most this (GBP)"),
        ("format" = Option<String>, Query, description = "json (default), csv or geojson")
    ),
    responses(
        (status = 200, description = "Per small area: nearest suitable session in km; summary: median, shares beyond 3 and 5 miles", body = Object),
        (status = 400, description = "Bad parameters", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")
    )
)]
pub async fn access(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let Query {
        ics,
        filters,
        format,
    } = parse(raw.as_deref(), true)?;
    let now = Utc::now();
    let sessions = sessions_in(
        &state,
        ics,
        &filters,
        now,
        now + Duration::days(WINDOW_DAYS),
    )
    .await?;
    let centre_lat = ics
        .small_areas
        .iter()
        .next()
        .map_or(54.0, |r| r.centroid.lat);
    let index = NearestIndex::new(
        sessions.iter().map(|(c, _)| Point::new(c.lat, c.lng)),
        centre_lat,
    );
    let rows: Vec<Access<'_>> = ics
        .small_areas
        .iter()
        .map(|r| Access {
            code: &r.code,
            name: &r.name,
            district: district_of(r),
            lat: r.centroid.lat,
            lng: r.centroid.lng,
            nearest_km: index
                .nearest_km(r.centroid)
                .map(|d| (d * 100.0).round() / 100.0),
        })
        .collect();
    match format {
        Format::Csv => {
            let mut csv = String::from(
                "\u{feff}lsoa_code,lsoa_name,district,latitude,longitude,nearest_session_km\r\n",
            );
            for r in &rows {
                let km = r.nearest_km.map(|d| d.to_string()).unwrap_or_default();
                csv.push_str(&format!(
                    "{},{},{},{},{},{km}\r\n",
                    r.code,
                    csv_field(r.name),
                    csv_field(r.district),
                    r.lat,
                    r.lng
                ));
            }
            Ok(csv_response(csv, "access.csv"))
        }
        Format::GeoJson => {
            let features: Vec<Value> = ics
                .small_areas
                .iter()
                .zip(&rows)
                .map(|(region, row)| json!({
                    "type": "Feature",
                    "properties": {"lsoa_code": row.code, "name": row.name, "district": row.district,
                                   "nearest_km": row.nearest_km, "band": band(row.nearest_km)},
                    "geometry": geometry(region),
                }))
                .collect();
            Ok((
                [(header::CONTENT_TYPE, "application/geo+json")],
                axum::Json(json!({"type": "FeatureCollection", "features": features})),
            )
                .into_response())
        }
        Format::Json => {
            let mut distances: Vec<f64> = rows.iter().filter_map(|r| r.nearest_km).collect();
            distances.sort_by(f64::total_cmp);
            let share_beyond = |km: f64| {
                let beyond = rows
                    .iter()
                    .filter(|r| r.nearest_km.is_none_or(|d| d > km))
                    .count();
                (beyond as f64 / rows.len().max(1) as f64 * 1000.0).round() / 1000.0
            };
            Ok(axum::Json(json!({
                "area": AreaRef { key: &ics.key, code: &ics.code, name: &ics.name },
                "sessions": sessions.len(),
                "summary": {
                    "small_areas": rows.len(),
                    "median_km": distances.get(distances.len() / 2),
                    "share_beyond_3_miles": share_beyond(3.0 * KM_PER_MILE),
                    "share_beyond_5_miles": share_beyond(5.0 * KM_PER_MILE),
                },
                "small_areas": rows,
            }))
            .into_response())
        }
    }
}

/// Distance bands for maps.
fn band(km: Option<f64>) -> &'static str {
    match km.map(|k| k / KM_PER_MILE) {
        None => "none within 28 days",
        Some(m) if m <= 1.0 => "up to 1 mile",
        Some(m) if m <= 3.0 => "1 to 3 miles",
        Some(m) if m <= 5.0 => "3 to 5 miles",
        Some(_) => "over 5 miles",
    }
}

fn geometry(region: &Region) -> Value {
    let ring =
        |line: &geo::LineString<f64>| line.0.iter().map(|c| json!([c.x, c.y])).collect::<Vec<_>>();
    let polygons: Vec<Value> = region
        .shape
        .0
        .iter()
        .map(|p| {
            let mut rings = vec![json!(ring(p.exterior()))];
            rings.extend(p.interiors().iter().map(|r| json!(ring(r))));
            json!(rings)
        })
        .collect();
    json!({"type": "MultiPolygon", "coordinates": polygons})
}

/// Quotes a CSV field when it needs it.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn csv_response(body: String, file: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body,
    )
        .into_response()
}
