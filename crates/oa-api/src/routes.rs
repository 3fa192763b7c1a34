//! The handlers and the JSON they answer with.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use oa_geo::Gazetteer;
use oa_geo::Ics;
use oa_model::{Normaliser, Opportunity};
use oa_normalise::OpenActiveNormaliser;
use oa_store::index::SessionIndex;
use oa_store::search::search;
use oa_store::{Store, StoreError};
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::explain::{explain, explain_hits};
use crate::params::{Applied, Context, SessionQuery};
use crate::pathways::Pathways;
use crate::problem::ApiError;
use crate::render::result_json;
use crate::{cursor, params};

/// What every handler reads: the store, postcode centroids for `postcode=`, the pathways.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// What searches and coverage read; kept current from the store's change log.
    pub index: Arc<SessionIndex>,
    /// The areas coverage reports on, the first being the default.
    pub areas: Arc<Vec<&'static Ics>>,
    pub places: Arc<Gazetteer>,
    pub pathways: Arc<Pathways>,
    /// The tag rules in force, to explain a session's tags when asked (`crate::explain`).
    pub normaliser: Arc<dyn Normaliser>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .field("areas", &self.areas.len())
            .field("pathways", &self.pathways)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The store with the bundled postcode centroids, the shipped pathways and tag rules.
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState {
            store,
            index: Arc::new(SessionIndex::new()),
            areas: Arc::new(Ics::lancashire_south_cumbria().ok().into_iter().collect()),
            places: Arc::new(Gazetteer::bundled().clone()),
            pathways: Arc::new(Pathways::shipped()),
            normaliser: Arc::new(OpenActiveNormaliser::default()),
        }
    }
}

/// A page of results, as the OpenAPI document describes it; the handler writes the same
/// JSON by hand ([`session_list_json`], held to this by a test).
#[derive(Serialize, ToSchema)]
#[cfg_attr(not(test), allow(dead_code))]
pub struct SessionList {
    /// Every match on all pages.
    total: usize,
    /// The filters as applied, normalised (a pathway's expansion included).
    filters: Applied,
    /// Sessions: id, distance_km, the normalised opportunity (kind, name, description, start,
    /// end, duration_minutes, activities, location with precision, organizer, price, status,
    /// url, tags, problems) and its source.
    #[schema(value_type = Vec<Object>)]
    items: Vec<Box<RawValue>>,
    /// Pass as `cursor` (with the same other parameters) for the next page.
    next_cursor: Option<String>,
    /// The next page's path and query, ready to request.
    next: Option<String>,
}

/// Upcoming sessions near a postcode or point, filtered for a client's needs.
#[utoipa::path(
    get,
    path = "/v1/sessions",
    tag = "sessions",
    params(crate::openapi::SessionParams),
    responses(
        (status = 200, description = "Matching sessions, a page at a time", body = SessionList),
        (status = 400, description = "Bad parameters, each named", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Unknown postcode", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")
    )
)]
pub async fn sessions(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let context = Context {
        now: Utc::now(),
        places: &state.places,
        pathways: &state.pathways,
    };
    let SessionQuery {
        request,
        applied,
        explain,
    } = params::session_query(query.as_deref(), context)?;
    let page = search(state.store.as_ref(), &state.index, &request).await?;
    let explained = if explain {
        explain_hits(state.store.as_ref(), state.normaliser.as_ref(), &page.hits).await?
    } else {
        Vec::new()
    };
    let next_cursor = page.next.as_ref().map(cursor::encode);
    let next = next_cursor
        .as_deref()
        .map(|c| next_link(query.as_deref(), c));
    let items = page
        .hits
        .iter()
        .enumerate()
        .map(|(n, hit)| result_json(hit, request.group.is_some(), explained.get(n)))
        .collect::<Result<Vec<_>, _>>()?;
    let body = session_list_json(page.total, &applied, &items, &next_cursor, &next)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// [`SessionList`] as JSON, with each item's text as [`result_json`] wrote it: written by
/// hand because serde would parse each item's text again to check it
/// (`RawValue::from_string`).
fn session_list_json(
    total: usize,
    filters: &Applied,
    items: &[Vec<u8>],
    next_cursor: &Option<String>,
    next: &Option<String>,
) -> Result<Vec<u8>, ApiError> {
    let length: usize = items.iter().map(|i| i.len() + 1).sum();
    let mut out = Vec::with_capacity(length + 512);
    out.extend_from_slice(b"{\"total\":");
    serde_json::to_writer(&mut out, &total).map_err(ApiError::Render)?;
    out.extend_from_slice(b",\"filters\":");
    serde_json::to_writer(&mut out, filters).map_err(ApiError::Render)?;
    out.extend_from_slice(b",\"items\":[");
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(b"],\"next_cursor\":");
    serde_json::to_writer(&mut out, next_cursor).map_err(ApiError::Render)?;
    out.extend_from_slice(b",\"next\":");
    serde_json::to_writer(&mut out, next).map_err(ApiError::Render)?;
    out.push(b'}');
    Ok(out)
}

/// The request's own query with `cursor` replaced.
fn next_link(query: Option<&str>, cursor: &str) -> String {
    let mut link = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if name != "cursor" {
            link.append_pair(&name, &value);
        }
    }
    link.append_pair("cursor", cursor);
    format!("/v1/sessions?{}", link.finish())
}

#[derive(Serialize)]
pub struct SessionDetail<'a> {
    id: &'a str,
    #[serde(flatten)]
    opportunity: &'a Opportunity,
    source: DetailSource<'a>,
}

#[derive(Serialize)]
struct DetailSource<'a> {
    feed_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    publisher: Option<&'a str>,
    item_id: &'a str,
    item_kind: &'a str,
    modified: i64,
    /// The publisher's item `data`, verbatim.
    item: Option<&'a RawValue>,
    /// The parent's `data` the opportunity inherited from, verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<&'a RawValue>,
}

/// One session with its tags' reasons, problems and the publisher's item.
#[utoipa::path(
    get,
    path = "/v1/sessions/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "A session id from a search")),
    responses(
        (status = 200, description = "The session", body = Object),
        (status = 404, description = "No such session", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")
    )
)]
pub async fn session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let detail = match state.store.opportunity(&id).await {
        Ok(detail) => detail,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound(format!("session {id:?}"))),
        Err(e) => return Err(e.into()),
    };
    let item = raw(detail.item_data.as_deref());
    let parent = raw(detail.parent_data.as_deref());
    let opportunity = explain(state.normaliser.as_ref(), &detail);
    let body = SessionDetail {
        id: &detail.id,
        opportunity: &opportunity,
        source: DetailSource {
            feed_url: &detail.feed_url,
            publisher: detail.publisher.as_deref(),
            item_id: &detail.item_id,
            item_kind: &detail.item_kind,
            modified: detail.modified,
            item: item.as_deref(),
            parent: parent.as_deref(),
        },
    };
    Ok(Json(body).into_response())
}

fn raw(json: Option<&str>) -> Option<Box<RawValue>> {
    json.and_then(|j| RawValue::from_string(j.to_owned()).ok())
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
}

/// Whether the service and its database answer.
#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    responses(
        (status = 200, description = "Up", body = Health),
        (status = 503, description = "The database does not answer", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")
    )
)]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await.map_err(ApiError::Unavailable)?;
    Ok(Json(Health { status: "ok" }))
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("this path".into())
}

/// Where the data comes from and the attribution its licences require.
#[utoipa::path(get, path = "/about", tag = "service", responses((status = 200, description = "Sources and licences", body = Object)))]
pub async fn about() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "service": "oa-aggregator: OpenActive sessions for physical-activity social prescribing",
        "sources": [
            {
                "what": "sessions",
                "from": "each publisher's OpenActive RPDE feeds; the licence of each is in its feed and dataset site",
                "feeds": "/v1/feeds"
            },
            {
                "what": "OpenActive Activity List and Accessibility Support list",
                "licence": "CC-BY-4.0 https://creativecommons.org/licenses/by/4.0/",
                "attribution": "© OpenActive"
            },
            {
                "what": "postcode sector and district centroids (ONS Postcode Directory, November 2025)",
                "licence": "Open Government Licence v3.0 https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
                "attribution": [
                    "Contains OS data © Crown copyright and database right 2025",
                    "Contains Royal Mail data © Royal Mail copyright and database right 2025",
                    "Source: Office for National Statistics licensed under the Open Government Licence v.3.0"
                ]
            }
        ]
    }))
}

/// Every pathway with what it expands to.
#[utoipa::path(get, path = "/v1/pathways", tag = "sessions", responses((status = 200, description = "The pathways", body = Pathways)))]
pub async fn pathways(State(state): State<AppState>) -> Json<Pathways> {
    Json(state.pathways.as_ref().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_written_by_hand_is_the_session_list_serde_writes() {
        let items = [
            br#"{"id":"oa-1","distance_km":1.5,"name":"A \"quoted\" name"}"#.to_vec(),
            br#"{"id":"oa-2","distance_km":0.0,"tags":["social"]}"#.to_vec(),
        ];
        let filters = Applied {
            radius_km: 5.0,
            tags: vec!["social".into()],
            q: Some("tai chi".into()),
            sort: "start",
            limit: 2,
            ..Applied::default()
        };
        for (items, next_cursor, next) in [
            (
                &items[..],
                Some("c2".to_owned()),
                Some("/v1/sessions?cursor=c2".to_owned()),
            ),
            (&items[..1], None, None),
            (&[][..], None, None),
        ] {
            let by_hand =
                session_list_json(7, &filters, items, &next_cursor, &next).expect("writes");
            let list = SessionList {
                total: 7,
                filters: filters.clone(),
                items: items
                    .iter()
                    .map(|i| RawValue::from_string(String::from_utf8(i.clone()).expect("UTF-8")))
                    .collect::<Result<_, _>>()
                    .expect("JSON"),
                next_cursor,
                next,
            };
            assert_eq!(
                String::from_utf8(by_hand).expect("UTF-8"),
                serde_json::to_string(&list).expect("writes")
            );
        }
    }
}
