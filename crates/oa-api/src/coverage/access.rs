//! `/v1/coverage/access`: how far each small area's residents are from the nearest suitable
//! session in the next 28 days, with the summary managers quote (median, shares beyond 3 and
//! 5 miles).

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use oa_geo::{NearestIndex, district_of};
use serde::Serialize;
use serde_json::{Value, json};

use super::export::{band, csv_field, csv_response, geometry};
use super::{AreaRef, Format, KM_PER_MILE, Query, WINDOW_DAYS, accepted, parse, sessions_in};
use crate::problem::ApiError;
use crate::routes::AppState;

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
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let Query {
        ics,
        filters,
        format,
    } = parse(&state.areas, raw.as_deref(), true, accepted(&headers))?;
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
        sessions.iter().map(|(session, _)| session.point()),
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
                .map(|d| (d * 10.0).round() / 10.0),
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
