//! Seeding a store for the API tests: a feed and one page of its items, applied through the
//! harvester's own write path with the shipped normaliser; reading a page as text.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use oa_normalise::OpenActiveNormaliser;
use oa_store::{DiscoveredFeed, Store};

/// Registers `feed` (as the source `feed:<url>`) and applies one page of `items` (RPDE item
/// JSON texts) to it, leaving `next` as its cursor.
pub async fn apply_items(store: &dyn Store, feed: DiscoveredFeed, items: &[String], next: &str) {
    let registered = store
        .sync_source_feeds(&format!("feed:{}", feed.url), &[feed])
        .await
        .expect("sync")
        .remove(0);
    let body = format!(
        r#"{{"next":"{next}","items":[{}],"license":"L"}}"#,
        items.join(",")
    );
    let page = oa_model::parse_page(body.as_bytes()).expect("page");
    let prepared = page.valid_items().map(oa_normalise::prepare).collect();
    store
        .apply_page(
            &registered.as_ref(),
            prepared,
            &page.next,
            &OpenActiveNormaliser::default(),
        )
        .await
        .expect("apply");
}

/// GETs `uri` from the router: the status and the body as text.
pub async fn get_text(app: &axum::Router, uri: &str) -> (axum::http::StatusCode, String) {
    use tower::ServiceExt;
    let request = axum::http::Request::get(uri)
        .body(axum::body::Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}
