//! Discovery against a fake catalog host: a two-level catalog, dataset sites, a broken site.

use std::time::Duration;

use axum::extract::State;
use axum::http::Uri;
use oa_harvest::{FetchConfig, Fetcher, discover_catalog, discover_dataset_site};

fn site(base: &str, publisher: &str, feeds: &[&str]) -> String {
    let distribution: Vec<String> = feeds
        .iter()
        .map(|kind| format!(r#"{{"@type":"DataDownload","name":"{kind}","additionalType":"https://openactive.io/{kind}","contentUrl":"{base}/{publisher}/{kind}"}}"#))
        .collect();
    format!(
        r#"<!DOCTYPE html><html><head><title>{publisher}</title>
        <script type="application/ld+json">{{"@context":"https://schema.org/","@type":"Dataset","name":"{publisher} sessions",
        "publisher":{{"@type":"Organization","name":"{publisher}"}},"distribution":[{}]}}</script></head><body>...</body></html>"#,
        distribution.join(",")
    )
}

async fn host() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new()
        .fallback(|State(base): State<String>, uri: Uri| async move {
            match uri.path() {
                "/collection.jsonld" => format!(r#"{{"@type":"DataCatalog","hasPart":["{base}/a.jsonld","{base}/b.jsonld"]}}"#),
                "/a.jsonld" => format!(r#"{{"@type":"DataCatalog","dataset":["{base}/lancs/","{base}/bay/"]}}"#),
                // A loop back to the top must not be followed twice.
                "/b.jsonld" => format!(r#"{{"@type":"DataCatalog","hasPart":["{base}/collection.jsonld"],"dataset":["{base}/broken/","{base}/lancs/"]}}"#),
                "/lancs/" => site(&base, "Lancs Leisure", &["SessionSeries", "ScheduledSession"]),
                "/bay/" => site(&base, "Bay Active", &["Event"]),
                _ => "<html><body>no data here</body></html>".to_owned(),
            }
        })
        .with_state(base.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn fetcher() -> Fetcher {
    Fetcher::new(FetchConfig {
        max_attempts: 1,
        request_timeout: Duration::from_secs(5),
        ..FetchConfig::default()
    })
    .expect("client")
}

#[tokio::test]
async fn a_dataset_site_lists_its_feeds_with_kind_and_publisher() {
    let base = host().await;
    let feeds = discover_dataset_site(&fetcher(), &format!("{base}/lancs/"))
        .await
        .expect("site");
    let summary: Vec<(String, Option<String>, Option<String>)> = feeds
        .iter()
        .map(|f| (f.url.clone(), f.kind.clone(), f.publisher.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                format!("{base}/Lancs Leisure/SessionSeries"),
                Some("SessionSeries".into()),
                Some("Lancs Leisure".into())
            ),
            (
                format!("{base}/Lancs Leisure/ScheduledSession"),
                Some("ScheduledSession".into()),
                Some("Lancs Leisure".into())
            ),
        ]
    );
    assert!(
        feeds
            .iter()
            .all(|f| f.dataset_site.as_deref() == Some(format!("{base}/lancs/").as_str()))
    );
}

#[tokio::test]
async fn a_two_level_catalog_finds_every_site_once_and_reports_the_broken_one() {
    let base = host().await;
    let discovery = discover_catalog(&fetcher(), &format!("{base}/collection.jsonld")).await;
    let mut urls: Vec<&str> = discovery.feeds.iter().map(|f| f.url.as_str()).collect();
    urls.sort_unstable();
    let expected = [
        format!("{base}/Bay Active/Event"),
        format!("{base}/Lancs Leisure/ScheduledSession"),
        format!("{base}/Lancs Leisure/SessionSeries"),
    ];
    assert_eq!(
        urls,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(discovery.errors.len(), 1, "{:?}", discovery.errors);
    assert!(
        discovery.errors[0].contains("/broken/")
            && discovery.errors[0].contains("no JSON-LD Dataset")
    );
}
