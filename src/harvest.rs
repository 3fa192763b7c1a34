//! The per-page glue between harvesting and storing: each page is normalised and handed,
//! with its `next` URL as the new cursor, to one store transaction.

use std::sync::Arc;

use async_trait::async_trait;
use oa_harvest::{Fetcher, PageSink, WalkError, WalkSummary, walk_to_end};
use oa_model::RpdePage;
use oa_normalise::OpenActiveNormaliser;
use oa_store::{FeedEvent, FeedRecord, FeedRef, Store};

/// Stores pages of one feed.
#[derive(Debug)]
pub struct StoreSink {
    store: Arc<dyn Store>,
    feed: FeedRef,
}

impl StoreSink {
    pub fn new(store: Arc<dyn Store>, feed: FeedRef) -> Self {
        StoreSink { store, feed }
    }
}

#[async_trait]
impl PageSink for StoreSink {
    async fn apply(&self, requested: &str, page: RpdePage) -> Result<(), String> {
        let items = page.valid_items().map(oa_normalise::prepare).collect();
        let outcome = self
            .store
            .apply_page(&self.feed, items, &page.next, &OpenActiveNormaliser)
            .await
            .map_err(|e| e.to_string())?;
        tracing::debug!(feed.url = %self.feed.url, page = %requested, ?outcome, "stored a page of {}", self.feed.url);
        Ok(())
    }
}

/// Walks one feed from its stored cursor to its end and records how it went.
pub async fn harvest_feed(
    store: Arc<dyn Store>,
    fetcher: &Fetcher,
    feed: &FeedRecord,
    sink: &dyn PageSink,
) -> Result<WalkSummary, WalkError> {
    let result = walk_to_end(fetcher, sink, feed.resume_url()).await;
    let event = match &result {
        Ok(_) => FeedEvent::CaughtUp,
        Err(WalkError::Gone(e)) => FeedEvent::Gone {
            error: e.to_string(),
        },
        Err(e) => FeedEvent::Failing {
            error: e.to_string(),
        },
    };
    if let Err(e) = store.record_feed_event(feed.id, &event).await {
        tracing::error!(feed.url = %feed.url, error = %e, "could not record the state of {}: {e}", feed.url);
    }
    result
}
