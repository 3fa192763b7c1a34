//! From configured sources to stored feeds: each source is discovered and its feeds synced,
//! so re-discovery adds new feeds and marks vanished ones without duplicating any.

use std::sync::Arc;

use oa_harvest::{Fetcher, discover_catalog, discover_dataset_site};
use oa_model::DiscoveredFeed;
use oa_store::{FeedState, Store, StoreError};

use crate::config::Source;

/// What discovering one source found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOutcome {
    pub source: String,
    /// Live feeds the source has after this discovery.
    pub feeds: usize,
    /// What could not be read. Feeds behind an unreadable page are kept, never marked vanished.
    pub errors: Vec<String>,
}

/// Discovers every source and records its feeds. A source that cannot be read keeps the
/// feeds it had; only a clean read may declare a feed vanished.
pub async fn discover_sources(
    store: &Arc<dyn Store>,
    fetcher: &Fetcher,
    sources: &[Source],
) -> Result<Vec<SourceOutcome>, StoreError> {
    let mut outcomes = Vec::with_capacity(sources.len());
    for source in sources {
        let key = source.key();
        let (mut found, errors) = match source {
            Source::Feed(url) => (vec![direct_feed(url)], Vec::new()),
            Source::DatasetSite(url) => match discover_dataset_site(fetcher, url).await {
                Ok(feeds) => (feeds, Vec::new()),
                Err(e) => (Vec::new(), vec![e.to_string()]),
            },
            Source::DataCatalog(url) => {
                let discovery = discover_catalog(fetcher, url).await;
                (discovery.feeds, discovery.errors)
            }
        };
        for error in &errors {
            tracing::warn!(source = %key, %error, "discovering {key}: {error}");
        }
        if !errors.is_empty() {
            keep_known_feeds(store, &key, &mut found).await?;
        }
        let live = store.sync_source_feeds(&key, &found).await?;
        outcomes.push(SourceOutcome {
            source: key,
            feeds: live.len(),
            errors,
        });
    }
    Ok(outcomes)
}

fn direct_feed(url: &str) -> DiscoveredFeed {
    DiscoveredFeed {
        url: url.to_owned(),
        kind: None,
        publisher: None,
        dataset_site: None,
    }
}

/// Adds the source's currently live feeds to a partial discovery, so they do not vanish.
async fn keep_known_feeds(
    store: &Arc<dyn Store>,
    key: &str,
    found: &mut Vec<DiscoveredFeed>,
) -> Result<(), StoreError> {
    for known in store.feeds().await? {
        if known.source == key
            && known.state != FeedState::Vanished
            && !found.iter().any(|f| f.url == known.url)
        {
            found.push(DiscoveredFeed {
                url: known.url,
                kind: known.kind,
                publisher: known.publisher,
                dataset_site: known.dataset_site,
            });
        }
    }
    Ok(())
}
