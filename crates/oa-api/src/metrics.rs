//! `GET /metrics`: the harvest's state in the Prometheus text format, for alerting on a feed
//! that stops updating or a backlog of unusable items.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::problem::ApiError;
use crate::routes::AppState;

/// Feeds by state, item counts, and each feed's last success.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let feeds = state.store.feeds().await?;
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut stored, mut unusable, mut awaiting) = (0i64, 0i64, 0i64);
    for feed in &feeds {
        *by_state.entry(feed.state.as_str()).or_default() += 1;
        stored += feed.items_stored;
        unusable += feed.items_unusable;
        awaiting += feed.items_awaiting_parent;
    }
    let mut out = String::new();
    out.push_str("# HELP oa_feeds Feeds by harvest state.\n# TYPE oa_feeds gauge\n");
    for name in ["new", "ok", "retrying", "failing", "gone", "vanished"] {
        let _ = writeln!(
            out,
            "oa_feeds{{state=\"{name}\"}} {}",
            by_state.get(name).copied().unwrap_or(0)
        );
    }
    let _ = write!(
        out,
        "# HELP oa_items_stored Live items stored.\n# TYPE oa_items_stored gauge\noa_items_stored {stored}\n\
         # HELP oa_items_unusable Items kept raw because they could not be normalised.\n# TYPE oa_items_unusable gauge\noa_items_unusable {unusable}\n\
         # HELP oa_items_awaiting_parent Children whose parent has not arrived.\n# TYPE oa_items_awaiting_parent gauge\noa_items_awaiting_parent {awaiting}\n\
         # HELP oa_feed_last_success_timestamp_seconds When each feed last caught up.\n# TYPE oa_feed_last_success_timestamp_seconds gauge\n"
    );
    for feed in &feeds {
        if let Some(at) = feed.last_success_at {
            let _ = writeln!(
                out,
                "oa_feed_last_success_timestamp_seconds{{feed=\"{}\"}} {at}",
                label(&feed.url)
            );
        }
    }
    let cache = state.index.document_cache();
    let _ = write!(
        out,
        "# HELP oa_search_documents_read_total Search results' documents, by where they came from.\n\
         # TYPE oa_search_documents_read_total counter\n\
         oa_search_documents_read_total{{from=\"memory\"}} {}\n\
         oa_search_documents_read_total{{from=\"store\"}} {}\n\
         # HELP oa_search_documents_cached Documents of recent results kept in memory.\n# TYPE oa_search_documents_cached gauge\noa_search_documents_cached {}\n\
         # HELP oa_search_documents_cached_bytes Their size.\n# TYPE oa_search_documents_cached_bytes gauge\noa_search_documents_cached_bytes {}\n",
        cache.hits, cache.misses, cache.documents, cache.bytes
    );
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

/// A label value with Prometheus' escapes.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
