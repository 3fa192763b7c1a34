//! The demo publishers' web server: each publisher's RPDE feeds, paged by the real RPDE
//! publishing code, and (for some) a dataset site whose JSON-LD lists them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use oa_model::rpde_publish::{PublishedItem, build_page, parse_after};
use serde_json::json;

use super::generate::{DemoFeed, DemoPublisher};

/// Items per page: small, so the demo walks several pages per feed.
const PAGE_SIZE: usize = 25;
const LICENSE: &str = "https://creativecommons.org/licenses/by/4.0/";

#[derive(Debug, Default)]
struct Site {
    feeds: HashMap<String, DemoFeed>,
    dataset_sites: HashMap<String, String>,
    base_url: String,
}

pub fn router(publishers: &[DemoPublisher], base_url: &str) -> axum::Router {
    let mut site = Site {
        base_url: base_url.to_owned(),
        ..Site::default()
    };
    for publisher in publishers {
        site.dataset_sites.insert(
            format!("/{}/openactive/", publisher.key),
            dataset_site_html(publisher, base_url),
        );
        for feed in &publisher.feeds {
            site.feeds.insert(feed.path.clone(), feed.clone());
        }
    }
    axum::Router::new()
        .fallback(serve)
        .with_state(Arc::new(site))
}

async fn serve(State(site): State<Arc<Site>>, uri: Uri, RawQuery(query): RawQuery) -> Response {
    if let Some(html) = site.dataset_sites.get(uri.path()) {
        return (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html.clone(),
        )
            .into_response();
    }
    let Some(feed) = site.feeds.get(uri.path()) else {
        return (StatusCode::NOT_FOUND, "no such demo page").into_response();
    };
    let after = match parse_after(query.as_deref()) {
        Ok(after) => after,
        Err(problem) => return (StatusCode::BAD_REQUEST, problem).into_response(),
    };
    let items: Vec<PublishedItem<'_>> = feed
        .items
        .iter()
        .map(|item| PublishedItem {
            id: &item.id,
            kind: item.kind,
            modified: item.modified,
            data: item.data.as_deref(),
        })
        .collect();
    let url = format!("{}{}", site.base_url, feed.path);
    let body = build_page(&url, feed.ordering, &items, &after, PAGE_SIZE, LICENSE);
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=30"),
        ],
        body,
    )
        .into_response()
}

fn dataset_site_html(publisher: &DemoPublisher, base_url: &str) -> String {
    let distribution: Vec<_> = publisher
        .feeds
        .iter()
        .map(|feed| {
            json!({
                "@type": "DataDownload",
                "name": feed.kind,
                "additionalType": format!("https://openactive.io/{}", feed.kind),
                "encodingFormat": "application/vnd.openactive.rpde+json; version=1",
                "contentUrl": format!("{base_url}{}", feed.path),
            })
        })
        .collect();
    let dataset = json!({
        "@context": ["https://schema.org/", "https://openactive.io/"],
        "@type": "Dataset",
        "@id": format!("{base_url}/{}/openactive/", publisher.key),
        "name": format!("{} Sessions and Facilities", publisher.name),
        "license": LICENSE,
        "publisher": {"@type": "Organization", "name": publisher.name, "url": publisher.url},
        "distribution": distribution,
    });
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{name}</title>\n\
         <script type=\"application/ld+json\">{dataset}</script></head>\n\
         <body><h1>{name}</h1><p>Demo OpenActive dataset site.</p></body></html>\n",
        name = html_escape(&publisher.name),
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
