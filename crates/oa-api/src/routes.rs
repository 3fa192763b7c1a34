//! The handlers and the JSON they answer with.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use oa_model::Opportunity;
use oa_store::search::{SearchHit, search};
use oa_store::{FeedRecord, Store, StoreError};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::problem::ApiError;
use crate::{cursor, params};

pub type AppState = Arc<dyn Store>;

#[derive(Serialize)]
pub struct SessionList {
    items: Vec<Value>,
    /// Pass as `cursor` (with the same other parameters) for the next page.
    next_cursor: Option<String>,
    /// The next page's path and query, ready to request.
    next: Option<String>,
}

#[derive(Serialize)]
struct SessionSummary<'a> {
    id: &'a str,
    distance_km: f64,
    #[serde(flatten)]
    opportunity: &'a Opportunity,
    source: Source<'a>,
}

#[derive(Serialize)]
struct Source<'a> {
    feed_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    publisher: Option<&'a str>,
    modified: i64,
}

pub async fn sessions(
    State(store): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let request = params::search_request(query.as_deref(), Utc::now())?;
    let page = search(store.as_ref(), &request).await?;
    let next_cursor = page.next.as_ref().map(cursor::encode);
    let next = next_cursor
        .as_deref()
        .map(|c| next_link(query.as_deref(), c));
    let body = SessionList {
        items: page.hits.iter().map(summary).map(brief_tags).collect(),
        next_cursor,
        next,
    };
    Ok(Json(body).into_response())
}

/// Search results carry tag names; reasons are in `/v1/sessions/{id}`.
fn brief_tags(summary: SessionSummary<'_>) -> Value {
    let mut value = serde_json::to_value(&summary).unwrap_or(Value::Null);
    if let Some(fields) = value.as_object_mut() {
        fields.remove("withheld_tags");
        let names: Vec<Value> = summary
            .opportunity
            .tags
            .iter()
            .map(|t| Value::String(t.name.clone()))
            .collect();
        fields.insert("tags".into(), Value::Array(names));
    }
    value
}

fn summary(hit: &SearchHit) -> SessionSummary<'_> {
    let candidate = &hit.candidate;
    SessionSummary {
        id: &candidate.id,
        // Metres are enough for people and keep the JSON readable.
        distance_km: (hit.distance_km * 1000.0).round() / 1000.0,
        opportunity: &candidate.opportunity,
        source: Source {
            feed_url: &candidate.feed_url,
            publisher: candidate.publisher.as_deref(),
            modified: candidate.modified,
        },
    }
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

pub async fn session(
    State(store): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let detail = match store.opportunity(&id).await {
        Ok(detail) => detail,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound(format!("session {id:?}"))),
        Err(e) => return Err(e.into()),
    };
    let item = raw(detail.item_data.as_deref());
    let parent = raw(detail.parent_data.as_deref());
    let body = SessionDetail {
        id: &detail.id,
        opportunity: &detail.opportunity,
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

#[derive(Serialize)]
pub struct FeedList {
    feeds: Vec<FeedView>,
}

#[derive(Serialize)]
struct FeedView {
    url: String,
    kind: Option<String>,
    publisher: Option<String>,
    dataset_site: Option<String>,
    state: &'static str,
    cursor: Option<String>,
    items_stored: i64,
    items_unusable: i64,
    items_awaiting_parent: i64,
    last_success: Option<DateTime<Utc>>,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
}

impl From<FeedRecord> for FeedView {
    fn from(feed: FeedRecord) -> Self {
        let at = |secs: Option<i64>| secs.and_then(|s| DateTime::from_timestamp(s, 0));
        FeedView {
            state: feed.state.as_str(),
            last_success: at(feed.last_success_at),
            last_error_at: at(feed.last_error_at),
            url: feed.url,
            kind: feed.kind,
            publisher: feed.publisher,
            dataset_site: feed.dataset_site,
            cursor: feed.cursor,
            items_stored: feed.items_stored,
            items_unusable: feed.items_unusable,
            items_awaiting_parent: feed.items_awaiting_parent,
            last_error: feed.last_error,
        }
    }
}

pub async fn feeds(State(store): State<AppState>) -> Result<Json<FeedList>, ApiError> {
    let feeds = store.feeds().await?;
    Ok(Json(FeedList {
        feeds: feeds.into_iter().map(FeedView::from).collect(),
    }))
}

#[derive(Serialize)]
pub struct Health {
    status: &'static str,
}

pub async fn health(State(store): State<AppState>) -> Result<Json<Health>, ApiError> {
    store.ping().await.map_err(ApiError::Unavailable)?;
    Ok(Json(Health { status: "ok" }))
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("this path".into())
}
