//! Finding feeds: a data catalog lists catalogs (`hasPart`) and dataset sites (`dataset`);
//! a dataset site is an HTML page whose JSON-LD `Dataset` lists its feeds in `distribution`.

use std::collections::HashSet;

use oa_model::DiscoveredFeed;
use serde_json::Value;

use crate::{FetchError, Fetcher};

/// How deep catalogs may nest: real ones nest two levels; this bounds a malicious loop.
const MAX_DEPTH: usize = 5;

/// What a discovery found, and what it could not read (one broken site never hides the rest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    pub feeds: Vec<DiscoveredFeed>,
    pub errors: Vec<String>,
}

/// The feeds a dataset site lists.
pub async fn discover_dataset_site(
    fetcher: &Fetcher,
    url: &str,
) -> Result<Vec<DiscoveredFeed>, FetchError> {
    let fetched = fetcher.fetch(url).await?;
    let text = String::from_utf8_lossy(&fetched.body);
    let dataset = dataset_json_ld(&text).ok_or_else(|| FetchError::Page {
        url: url.to_owned(),
        reason: "no JSON-LD Dataset in the page".into(),
    })?;
    Ok(feeds_of_dataset(&dataset, url))
}

/// Every feed of every dataset site a catalog lists, following nested catalogs.
pub async fn discover_catalog(fetcher: &Fetcher, url: &str) -> Discovery {
    let mut discovery = Discovery::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut queue: Vec<(String, usize)> = vec![(url.to_owned(), 0)];
    let mut sites: Vec<String> = Vec::new();
    while let Some((catalog_url, depth)) = queue.pop() {
        if !seen.insert(catalog_url.clone()) {
            continue;
        }
        if depth > MAX_DEPTH {
            discovery.errors.push(format!(
                "{catalog_url}: catalogs nested deeper than {MAX_DEPTH}"
            ));
            continue;
        }
        let catalog: Value = match fetcher.fetch(&catalog_url).await {
            Ok(fetched) => match serde_json::from_slice(&fetched.body) {
                Ok(json) => json,
                Err(e) => {
                    discovery
                        .errors
                        .push(format!("{catalog_url}: not a JSON data catalog: {e}"));
                    continue;
                }
            },
            Err(e) => {
                discovery.errors.push(e.to_string());
                continue;
            }
        };
        for part in references(catalog.get("hasPart")) {
            queue.push((part, depth + 1));
        }
        sites.extend(references(catalog.get("dataset")));
    }
    for site in sites {
        if !seen.insert(site.clone()) {
            continue;
        }
        match discover_dataset_site(fetcher, &site).await {
            Ok(feeds) => discovery.feeds.extend(feeds),
            Err(e) => discovery.errors.push(e.to_string()),
        }
    }
    discovery
}

/// URLs in a `hasPart`/`dataset` list: strings, or objects with a URL (`@id`, `id`, `url`).
fn references(value: Option<&Value>) -> Vec<String> {
    let list = match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single) => vec![single],
        None => Vec::new(),
    };
    list.into_iter()
        .filter_map(|v| match v {
            Value::String(url) => Some(url.clone()),
            Value::Object(map) => ["@id", "id", "url"]
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_str))
                .map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// The `Dataset` among a page's `<script type="application/ld+json">` blocks (or the body
/// itself, when a site serves its JSON-LD directly).
pub fn dataset_json_ld(page: &str) -> Option<Value> {
    let is_dataset = |v: &Value| {
        v.get("@type")
            .or_else(|| v.get("type"))
            .and_then(Value::as_str)
            == Some("Dataset")
    };
    if let Ok(json) = serde_json::from_str::<Value>(page) {
        return is_dataset(&json).then_some(json);
    }
    let html = scraper::Html::parse_document(page);
    let selector = scraper::Selector::parse(r#"script[type="application/ld+json"]"#).ok()?;
    html.select(&selector)
        .filter_map(|script| serde_json::from_str::<Value>(&script.text().collect::<String>()).ok())
        .find(is_dataset)
}

/// One feed per `distribution[]` entry with a `contentUrl`.
pub fn feeds_of_dataset(dataset: &Value, site_url: &str) -> Vec<DiscoveredFeed> {
    let publisher = dataset
        .get("publisher")
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let distribution = match dataset.get("distribution") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single) => vec![single],
        None => Vec::new(),
    };
    distribution
        .into_iter()
        .filter_map(|download| {
            let url = download
                .get("contentUrl")
                .and_then(Value::as_str)?
                .trim()
                .to_owned();
            let kind = download
                .get("additionalType")
                .and_then(Value::as_str)
                .map(|t| t.rsplit('/').next().unwrap_or(t).to_owned())
                .or_else(|| {
                    download
                        .get("name")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
            Some(DiscoveredFeed {
                url,
                kind,
                publisher: publisher.clone(),
                dataset_site: Some(site_url.to_owned()),
            })
        })
        .collect()
}
