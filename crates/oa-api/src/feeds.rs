//! `/v1/feeds`: every feed's harvest state and data-quality counts, and one feed's item
//! problems, keyset paged, so a publisher can be told exactly what to fix.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use oa_store::{FeedRecord, ItemProblem};
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::ApiError;
use crate::routes::AppState;

const DEFAULT_PROBLEMS: i64 = 50;
const MAX_PROBLEMS: i64 = 500;

#[derive(Serialize, ToSchema)]
pub struct FeedList {
    feeds: Vec<FeedView>,
}

#[derive(Serialize, ToSchema)]
struct FeedView {
    id: i64,
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
    /// Items with each data-quality problem.
    problems: BTreeMap<String, i64>,
}

impl FeedView {
    fn new(feed: FeedRecord, problems: BTreeMap<String, i64>) -> Self {
        let at = |secs: Option<i64>| secs.and_then(|s| DateTime::from_timestamp(s, 0));
        FeedView {
            id: feed.id,
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
            problems,
        }
    }
}

/// Every feed: harvest state, cursor, item counts and data-quality problem counts.
#[utoipa::path(get, path = "/v1/feeds", tag = "feeds", responses((status = 200, description = "The feeds", body = FeedList)))]
pub async fn feeds(State(state): State<AppState>) -> Result<Json<FeedList>, ApiError> {
    let store = &state.store;
    let feeds = store.feeds().await?;
    let mut counts: BTreeMap<i64, BTreeMap<String, i64>> = BTreeMap::new();
    for (feed_id, code, count) in store.problem_counts().await? {
        counts.entry(feed_id).or_default().insert(code, count);
    }
    Ok(Json(FeedList {
        feeds: feeds
            .into_iter()
            .map(|f| {
                let problems = counts.remove(&f.id).unwrap_or_default();
                FeedView::new(f, problems)
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ProblemList {
    /// `item_id`, `code`, `detail`.
    #[schema(value_type = Vec<Object>)]
    items: Vec<ItemProblem>,
    next_cursor: Option<String>,
}

/// One feed's items with data-quality problems, keyset paged.
#[utoipa::path(
    get,
    path = "/v1/feeds/{id}/problems",
    tag = "feeds",
    params(
        ("id" = i64, Path, description = "The feed's id (from /v1/feeds)"),
        ("limit" = Option<u32>, Query, description = "1 to 500; default 50"),
        ("cursor" = Option<String>, Query, description = "The previous page's next_cursor")
    ),
    responses(
        (status = 200, description = "The problems", body = ProblemList),
        (status = 400, description = "Bad parameters", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such feed", body = crate::openapi::ProblemDoc, content_type = "application/problem+json")
    )
)]
pub async fn problems(
    State(state): State<AppState>,
    Path(feed_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<ProblemList>, ApiError> {
    let store = &state.store;
    let feed_id: i64 = feed_id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("feed {feed_id:?}")))?;
    if !store.feeds().await?.iter().any(|f| f.id == feed_id) {
        return Err(ApiError::NotFound(format!("feed {feed_id}")));
    }
    let (mut limit, mut after) = (DEFAULT_PROBLEMS, None);
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_PROBLEMS).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "limit",
                            format!("{value:?} is not a whole number from 1 to {MAX_PROBLEMS}"),
                        )
                    })?;
            }
            "cursor" => after = Some(decode_cursor(&value)?),
            other => return Err(ApiError::UnknownParameter(other.to_owned())),
        }
    }
    let mut items = store.feed_problems(feed_id, after, limit + 1).await?;
    let next_cursor = (items.len() as i64 > limit).then(|| {
        items.truncate(limit as usize);
        items
            .last()
            .map(|last| URL_SAFE_NO_PAD.encode(format!("{}\n{}", last.item_id, last.code)))
    });
    Ok(Json(ProblemList {
        items,
        next_cursor: next_cursor.flatten(),
    }))
}

fn decode_cursor(text: &str) -> Result<(String, String), ApiError> {
    let malformed = || ApiError::invalid("cursor", "malformed; pass back `next_cursor` unchanged");
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| malformed())?;
    let plain = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (item_id, code) = plain.split_once('\n').ok_or_else(malformed)?;
    Ok((item_id.to_owned(), code.to_owned()))
}
