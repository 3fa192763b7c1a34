//! `/v1/coverage/providers`: the register of known providers against the organisers
//! publishing sessions in the area, so a manager can call the ones missing. Automatic
//! matches say how they were made; a manager's link or unlink decision overrides them.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use oa_geo::Ics;
use oa_normalise::providers::{KnownProvider, ProviderMatch, SeenOrganizer, match_providers};
use oa_store::search::Filters;
use serde::Serialize;
use serde_json::json;

use super::export::{csv_field, csv_response};
use super::{AreaRef, Format, InArea, WINDOW_DAYS, sessions_in};
use crate::problem::ApiError;
use crate::routes::AppState;

/// A known provider and whether it publishes.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderStatus {
    pub id: i64,
    pub name: String,
    pub postcode: Option<String>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub kind: Option<String>,
    /// `publishing` (matched to an organiser with upcoming sessions) or `not_publishing`.
    pub status: &'static str,
    pub organizer: Option<String>,
    pub method: Option<&'static str>,
    pub confidence: Option<f64>,
    pub sessions_next_28_days: usize,
}

/// Everything the coverage views say about providers.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderCoverage {
    pub known: usize,
    pub publishing: usize,
    pub not_publishing: usize,
    pub providers: Vec<ProviderStatus>,
    /// Organisers publishing in the area (with sessions in 28 days).
    pub organizers: usize,
    /// Those of them that match no known provider, with their sessions.
    pub unmatched_organizers: Vec<(String, usize)>,
}

pub(super) async fn provider_coverage(
    state: &AppState,
    ics: &Ics,
) -> Result<ProviderCoverage, ApiError> {
    let now = Utc::now();
    let sessions = sessions_in(
        state,
        ics,
        &Filters::default(),
        now,
        now + Duration::days(WINDOW_DAYS),
    )
    .await?;
    provider_coverage_of(state, &sessions).await
}

/// [`provider_coverage`] over the area's unfiltered sessions of the next 28 days, already read.
pub(super) async fn provider_coverage_of(
    state: &AppState,
    sessions: &InArea<'_>,
) -> Result<ProviderCoverage, ApiError> {
    let mut seen: HashMap<SeenOrganizer, usize> = HashMap::new();
    for (session, _) in sessions.iter() {
        let Some(organizer) = session.organizer() else {
            continue;
        };
        let Some(name) = organizer
            .name
            .clone()
            .or_else(|| session.feed().publisher.clone())
        else {
            continue;
        };
        let key = SeenOrganizer {
            name,
            url: organizer.url.clone(),
            email: organizer.email.clone(),
            postcode: session.postcode().map(str::to_owned),
        };
        *seen.entry(key).or_default() += 1;
    }
    let mut sessions_by_name: BTreeMap<String, usize> = BTreeMap::new();
    for (organizer, count) in &seen {
        *sessions_by_name.entry(organizer.name.clone()).or_default() += count;
    }
    let register = state.store.providers().await?;
    let known: Vec<KnownProvider> = register
        .iter()
        .map(|p| KnownProvider {
            id: p.id,
            name: p.name.clone(),
            postcode: p.postcode.clone(),
            website: p.website.clone(),
            email: p.email.clone(),
        })
        .collect();
    let organizers: Vec<SeenOrganizer> = seen.keys().cloned().collect();
    let mut matches: Vec<ProviderMatch> = match_providers(&known, &organizers);
    for (provider_id, organizer, linked) in state.store.provider_links().await? {
        matches.retain(|m| !(m.provider_id == provider_id && m.organizer == organizer));
        if linked {
            matches.push(ProviderMatch {
                provider_id,
                organizer,
                method: "confirmed by a manager",
                confidence: 1.0,
            });
        }
    }
    let mut providers: Vec<ProviderStatus> = register
        .into_iter()
        .map(|p| {
            let best = matches
                .iter()
                .filter(|m| m.provider_id == p.id && sessions_by_name.contains_key(&m.organizer))
                .max_by(|a, b| a.confidence.total_cmp(&b.confidence));
            let sessions = best.map_or(0, |m| {
                sessions_by_name.get(&m.organizer).copied().unwrap_or(0)
            });
            ProviderStatus {
                id: p.id,
                status: if sessions > 0 {
                    "publishing"
                } else {
                    "not_publishing"
                },
                organizer: best.map(|m| m.organizer.clone()),
                method: best.map(|m| m.method),
                confidence: best.map(|m| m.confidence),
                sessions_next_28_days: sessions,
                name: p.name,
                postcode: p.postcode,
                website: p.website,
                email: p.email,
                kind: p.kind,
            }
        })
        .collect();
    providers.sort_by(|a, b| a.status.cmp(b.status).then_with(|| a.name.cmp(&b.name)));
    let organizers = sessions_by_name.len();
    let unmatched_organizers = sessions_by_name
        .into_iter()
        .filter(|(name, _)| !matches.iter().any(|m| &m.organizer == name))
        .collect();
    let publishing = providers
        .iter()
        .filter(|p| p.status == "publishing")
        .count();
    Ok(ProviderCoverage {
        known: providers.len(),
        publishing,
        not_publishing: providers.len() - publishing,
        providers,
        organizers,
        unmatched_organizers,
    })
}

/// Known providers, publishing or not, with contact details.
#[utoipa::path(
    get,
    path = "/v1/coverage/providers",
    tag = "coverage",
    params(
        ("area" = Option<String>, Query, description = "Area key; default lancashire-south-cumbria"),
        ("status" = Option<String>, Query, description = "publishing or not_publishing; default both"),
        ("format" = Option<String>, Query, description = "json (default) or csv")
    ),
    responses(
        (status = 200, description = "Known providers with their status, match and contact details; organisers publishing that match none", body = Object),
        (status = 400, description = "Bad parameters", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")
    )
)]
pub async fn providers(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut status = None;
    let mut rest = Vec::new();
    for (name, value) in url::form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
    {
        if name == "status" {
            match value.as_ref() {
                "publishing" | "not_publishing" => status = Some(value.into_owned()),
                other => {
                    return Err(ApiError::invalid(
                        "status",
                        format!("{other:?} is not publishing or not_publishing"),
                    ));
                }
            }
        } else {
            rest.push((name.into_owned(), value.into_owned()));
        }
    }
    let rest: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(rest)
        .finish();
    let query = super::parse(&state.areas, Some(&rest), false, super::accepted(&headers))?;
    let mut coverage = provider_coverage(&state, query.ics).await?;
    if let Some(wanted) = &status {
        coverage.providers.retain(|p| p.status == wanted);
    }
    if query.format == Format::Csv {
        let mut csv = String::from(
            "\u{feff}id,name,status,postcode,website,email,type,organizer,match,confidence,sessions_next_28_days\r\n",
        );
        for p in &coverage.providers {
            let field = |v: &Option<String>| csv_field(v.as_deref().unwrap_or_default());
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{}\r\n",
                p.id,
                csv_field(&p.name),
                p.status,
                field(&p.postcode),
                field(&p.website),
                field(&p.email),
                field(&p.kind),
                field(&p.organizer),
                p.method.unwrap_or_default(),
                p.confidence.map(|c| format!("{c:.2}")).unwrap_or_default(),
                p.sessions_next_28_days
            ));
        }
        return Ok(csv_response(csv, "providers.csv"));
    }
    let ics = query.ics;
    Ok(axum::Json(json!({
        "area": AreaRef { key: &ics.key, code: &ics.code, name: &ics.name },
        "known": coverage.known,
        "publishing": coverage.publishing,
        "not_publishing": coverage.not_publishing,
        "providers": coverage.providers,
        "unmatched_organizers": coverage.unmatched_organizers.iter().map(|(name, n)| json!({"name": name, "sessions_next_28_days": n})).collect::<Vec<_>>(),
    }))
    .into_response())
}
