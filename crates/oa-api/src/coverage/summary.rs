//! `GET /v1/coverage`: the same breakdown for the whole area and for each district: known
//! providers and those publishing, upcoming sessions in 7 and 28 days, by tag, activity (the
//! Activity List's top level), day and time of day, and per 10,000 residents.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use oa_geo::{Ics, Postcode, district_of};
use oa_store::index::SessionFacts;
use oa_store::search::{Filters, TimeOfDay};
use serde::Serialize;
use serde_json::json;

use super::export::{csv_field, csv_response};
use super::providers::{ProviderCoverage, provider_coverage_of};
use super::{AreaRef, Format, Query, TopLevels, WINDOW_DAYS, accepted, parse, sessions_in};
use crate::problem::ApiError;
use crate::routes::AppState;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// What coverage counts for one area or district.
#[derive(Serialize, Default)]
struct Breakdown {
    sessions_next_7_days: usize,
    sessions_next_28_days: usize,
    /// Organisers (or, without one, publishers) with at least one session in 28 days.
    providers_publishing: usize,
    /// Providers on the register placed here by their postcode.
    known_providers: usize,
    /// ... of which publishing.
    known_providers_publishing: usize,
    /// When the area's config names a populations file.
    #[serde(skip_serializing_if = "Option::is_none")]
    residents: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions_per_10k_residents: Option<f64>,
    by_tag: BTreeMap<String, usize>,
    by_activity: Vec<ActivityCount>,
    by_day: BTreeMap<&'static str, usize>,
    by_time_of_day: BTreeMap<&'static str, usize>,
    #[serde(skip)]
    activities: BTreeMap<String, usize>,
    #[serde(skip)]
    publishers: BTreeMap<String, usize>,
}

#[derive(Serialize)]
struct ActivityCount {
    activity: String,
    sessions: usize,
}

#[derive(Serialize)]
struct CoverageBody<'a> {
    area: AreaRef<'a>,
    generated_at: chrono::DateTime<Utc>,
    #[serde(flatten)]
    counts: Breakdown,
    districts: Vec<District>,
    providers_publishing: Vec<serde_json::Value>,
    feeds: BTreeMap<&'a str, usize>,
    known_providers: serde_json::Value,
}

#[derive(Serialize)]
struct District {
    district: String,
    #[serde(flatten)]
    counts: Breakdown,
}

impl Breakdown {
    fn count(&mut self, session: &SessionFacts<'_>, groups: &BTreeSet<String>, week_end: i64) {
        self.sessions_next_28_days += 1;
        if session.start_at() < week_end {
            self.sessions_next_7_days += 1;
        }
        if let Some(provider) = provider_of(session) {
            *self.publishers.entry(provider).or_default() += 1;
        }
        for tag in session.tags() {
            *self.by_tag.entry(tag.to_owned()).or_default() += 1;
        }
        for group in groups {
            *self.activities.entry(group.clone()).or_default() += 1;
        }
        *self
            .by_day
            .entry(DAYS[session.weekday().num_days_from_monday() as usize])
            .or_default() += 1;
        let part = match TimeOfDay::of_hour(session.hour()) {
            TimeOfDay::Morning => "morning",
            TimeOfDay::Afternoon => "afternoon",
            TimeOfDay::Evening => "evening",
        };
        *self.by_time_of_day.entry(part).or_default() += 1;
    }

    /// Turns the running tallies into the published figures.
    fn finish(mut self, residents: Option<u64>, top_activities: usize) -> Breakdown {
        self.providers_publishing = self.publishers.len();
        self.residents = residents;
        self.sessions_per_10k_residents = per_10k(self.sessions_next_28_days, residents);
        let mut activities: Vec<(String, usize)> =
            std::mem::take(&mut self.activities).into_iter().collect();
        activities.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        activities.truncate(top_activities);
        self.by_activity = activities
            .into_iter()
            .map(|(activity, sessions)| ActivityCount { activity, sessions })
            .collect();
        self
    }
}

/// Who runs a session, for counting providers: its organiser, else its feed's publisher.
fn provider_of(session: &SessionFacts<'_>) -> Option<String> {
    session
        .organizer()
        .and_then(|org| org.name.clone())
        .or_else(|| session.feed().publisher.clone())
}

/// Sessions in the next 28 days per 10,000 residents, to one decimal place.
fn per_10k(sessions: usize, residents: Option<u64>) -> Option<f64> {
    residents
        .filter(|&r| r > 0)
        .map(|r| (sessions as f64 * 10_000.0 / r as f64 * 10.0).round() / 10.0)
}

/// The district each known provider's postcode places it in (best precision the gazetteer
/// has); providers without a usable postcode, or outside the area, are in none.
fn place_known_providers(
    state: &AppState,
    ics: &Ics,
    known: &ProviderCoverage,
    districts: &mut BTreeMap<String, Breakdown>,
) {
    for provider in &known.providers {
        let Some(district) = provider
            .postcode
            .as_deref()
            .and_then(Postcode::parse)
            .and_then(|postcode| state.places.locate(&postcode))
            .and_then(|(point, _)| ics.small_area(point))
            .map(district_of)
        else {
            continue;
        };
        let counts = districts.entry(district.to_owned()).or_default();
        counts.known_providers += 1;
        if provider.status == "publishing" {
            counts.known_providers_publishing += 1;
        }
    }
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
        (status = 200, description = "For the area and each district: known providers and those publishing, sessions in the next 7 and 28 days, by tag, activity, day and time of day, per 10,000 residents; organisers matched to the register; feed states", body = Object),
        (status = 400, description = "Bad parameters", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")
    )
)]
pub async fn coverage(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let Query { ics, format, .. } = parse(&state.areas, raw.as_deref(), false, accepted(&headers))?;
    let now = Utc::now();
    let sessions = sessions_in(
        &state,
        ics,
        &Filters::default(),
        now,
        now + Duration::days(WINDOW_DAYS),
    )
    .await?;
    let week_end = (now + Duration::days(7)).timestamp();
    let mut top_levels = TopLevels::default();
    // Every district is listed, those without sessions too: they are the gaps.
    let mut codes_by_district: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for region in ics.small_areas.iter() {
        codes_by_district
            .entry(district_of(region))
            .or_default()
            .push(&region.code);
    }
    let mut districts: BTreeMap<String, Breakdown> = codes_by_district
        .keys()
        .map(|district| ((*district).to_owned(), Breakdown::default()))
        .collect();
    let mut area = Breakdown::default();
    for (session, region) in sessions.iter() {
        let groups = top_levels.of(&session);
        area.count(&session, &groups, week_end);
        districts
            .entry(district_of(region).to_owned())
            .or_default()
            .count(&session, &groups, week_end);
    }
    // The same unfiltered 28-day set the providers view counts: read once.
    let known = provider_coverage_of(&state, &sessions).await?;
    place_known_providers(&state, ics, &known, &mut districts);
    area.known_providers = known.known;
    area.known_providers_publishing = known.publishing;
    let publishing: Vec<(String, usize)> = {
        let mut list: Vec<(String, usize)> = area
            .publishers
            .iter()
            .map(|(name, n)| (name.clone(), *n))
            .collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list
    };
    let area = area.finish(
        ics.residents(ics.small_areas.iter().map(|r| r.code.as_str())),
        20,
    );
    let districts: Vec<District> = districts
        .into_iter()
        .map(|(district, counts)| {
            let residents = codes_by_district
                .get(district.as_str())
                .and_then(|codes| ics.residents(codes.iter().copied()));
            District {
                counts: counts.finish(residents, 10),
                district,
            }
        })
        .collect();
    if format == Format::Csv {
        return Ok(districts_csv(&districts));
    }
    let feeds = state.store.feeds().await?;
    let mut feed_states: BTreeMap<&str, usize> = BTreeMap::new();
    for feed in &feeds {
        *feed_states.entry(feed.state.as_str()).or_insert(0) += 1;
    }
    let body = CoverageBody {
        area: AreaRef {
            key: &ics.key,
            code: &ics.code,
            name: &ics.name,
        },
        generated_at: now,
        counts: area,
        districts,
        providers_publishing: publishing
            .into_iter()
            .map(|(name, sessions)| json!({"name": name, "sessions_next_28_days": sessions}))
            .collect(),
        feeds: feed_states,
        known_providers: json!({
            "known": known.known,
            "publishing": known.publishing,
            "not_publishing": known.not_publishing,
            "organizers_matched": known.organizers - known.unmatched_organizers.len(),
            "organizers_unmatched": known.unmatched_organizers.len(),
        }),
    };
    Ok(axum::Json(body).into_response())
}

/// One row per district, Excel-ready.
fn districts_csv(districts: &[District]) -> Response {
    let mut csv = String::from(
        "\u{feff}district,sessions_next_7_days,sessions_next_28_days,providers_publishing,known_providers,known_providers_publishing,residents,sessions_per_10k_residents\r\n",
    );
    let optional = |v: Option<String>| v.unwrap_or_default();
    for d in districts {
        let c = &d.counts;
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{}\r\n",
            csv_field(&d.district),
            c.sessions_next_7_days,
            c.sessions_next_28_days,
            c.providers_publishing,
            c.known_providers,
            c.known_providers_publishing,
            optional(c.residents.map(|r| r.to_string())),
            optional(c.sessions_per_10k_residents.map(|r| r.to_string())),
        ));
    }
    csv_response(csv, "coverage.csv")
}
