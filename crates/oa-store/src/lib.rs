//! Persistence: the [`Store`] trait and its SQLite and PostgreSQL implementations.
//!
//! Each RPDE page is applied in one transaction ([`page`]): raw items, the opportunities they
//! change (including children of a changed parent, in any feed) and the feed's cursor commit
//! together. Search ([`search`]) is written once over [`Store::candidates`], which each backend
//! answers from its spatial index.

mod digest;
mod document_tails;
mod error;
mod filters;
mod footprint;
pub mod index;
mod normalisation;
mod page;
mod page_plan;
mod page_state;
mod page_write;
mod postgres;
mod renormalise;
pub mod search;
mod sql;
mod sqlite;
mod stored_state;
mod types;

use std::sync::Arc;

use async_trait::async_trait;
pub use oa_model::DiscoveredFeed;
use oa_model::{Normaliser, PreparedItem};

pub use error::StoreError;
pub use page::PageOutcome;
pub use page_plan::PagePlan;
pub use postgres::PgStore;
pub use renormalise::RenormaliseBatch;
pub use sqlite::SqliteStore;
pub use types::{
    Candidate, CandidateDoc, ChangeBatch, ChangeMark, FeedEvent, FeedRecord, FeedRef, FeedState,
    IndexRow, ItemProblem, NewProvider, Occurrence, OpportunityDetail, Provider, StoreDump,
};

/// Everything the harvester, the API and the CLI need from a database.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Records the feeds a source lists now: adds new ones, revives reappearing ones, and
    /// marks those the source no longer lists as vanished. Returns the source's live feeds.
    async fn sync_source_feeds(
        &self,
        source: &str,
        feeds: &[DiscoveredFeed],
    ) -> Result<Vec<FeedRecord>, StoreError>;

    /// Every feed with its harvest state and item counts.
    async fn feeds(&self) -> Result<Vec<FeedRecord>, StoreError>;

    /// Applies one RPDE page atomically: items newer than stored ones, the opportunities
    /// they change, and `next` as the feed's cursor.
    async fn apply_page(
        &self,
        feed: &FeedRef,
        items: Vec<PreparedItem>,
        next: &str,
        normaliser: &dyn Normaliser,
    ) -> Result<PageOutcome, StoreError> {
        let plan = PagePlan::unplanned(items);
        self.apply_plan(feed, plan, next, normaliser).await
    }

    /// How many pages of a feed a harvest should fetch and plan ahead of the one being
    /// written: 2 keeps both cores busy, when the database runs in this process (a page's
    /// plan no longer waits for its fetch after the page before it was written) and on
    /// PostgreSQL, where the next page is written beside the one being written while the
    /// one after it is planned ([`Store::writes_pages_ahead`]).
    fn pages_to_plan_ahead(&self) -> usize {
        2
    }

    /// The costly half of applying a page, outside any write transaction: what the page
    /// depends on, read as the store stands now, and the page normalised against it. A
    /// harvest plans a page while the pages before it are written.
    async fn plan_page(
        &self,
        feed: &FeedRef,
        items: Vec<PreparedItem>,
        normaliser: &dyn Normaliser,
    ) -> Result<PagePlan, StoreError>;

    /// Applies a planned page as [`Store::apply_page`] does: with the plan's writes when
    /// nothing it read has changed since, otherwise normalised again in the transaction.
    /// `normaliser` must be the one the plan was made with (it only normalises again).
    async fn apply_plan(
        &self,
        feed: &FeedRef,
        plan: PagePlan,
        next: &str,
        normaliser: &dyn Normaliser,
    ) -> Result<PageOutcome, StoreError>;

    /// Whether a feed's page may be written while the page before it is still being written
    /// ([`Store::apply_plan_after`]): on PostgreSQL, whose server writes a feed's
    /// consecutive pages on two connections at once. SQLite has one writer.
    fn writes_pages_ahead(&self) -> bool {
        false
    }

    /// Applies a planned page as [`Store::apply_plan`] does, while the page before it, which
    /// leaves the feed's cursor at `requested`, may still be in its transaction. The page
    /// commits only after that page has, and only if it did: otherwise it stores nothing
    /// and fails with [`StoreError::PageBeforeNotStored`] (or [`StoreError::Abandoned`] when
    /// that page has not begun within a second). The caller must make sure the two pages
    /// share no item id (a page reads its items as stored before it writes them), and apply
    /// the page again after the page before when this fails (docs/RELIABILITY.md, "A feed's
    /// pages written two at a time").
    async fn apply_plan_after(
        &self,
        _feed: &FeedRef,
        _plan: PagePlan,
        _requested: &str,
        _next: &str,
        _normaliser: &dyn Normaliser,
    ) -> Result<PageOutcome, StoreError> {
        Err(StoreError::Unsupported(
            "this database writes a feed's pages one at a time",
        ))
    }

    /// Normalises stored items again, `limit` at a time after a (feed id, item id) position,
    /// in one transaction per call.
    async fn renormalise_batch(
        &self,
        after: Option<(i64, String)>,
        limit: usize,
        normaliser: &dyn Normaliser,
    ) -> Result<RenormaliseBatch, StoreError>;

    /// A whole `renormalise` pass from after a (feed id, item id) position: batches of
    /// `limit` items, each in its own transaction, with `each` called for every batch once
    /// it has committed. The pass ends when the store is exhausted or `each` returns false,
    /// and nothing commits after the batch it returned false for. A backend may read and
    /// normalise the next batch while one commits.
    async fn renormalise_pass(
        &self,
        after: Option<(i64, String)>,
        limit: usize,
        normaliser: &dyn Normaliser,
        each: &mut (dyn for<'b> FnMut(&'b RenormaliseBatch) -> bool + Send),
    ) -> Result<(), StoreError> {
        let mut after = after;
        loop {
            let batch = self
                .renormalise_batch(after.take(), limit, normaliser)
                .await?;
            let go_on = each(&batch);
            match batch.next {
                Some(next) if go_on => after = Some(next),
                _ => return Ok(()),
            }
        }
    }

    /// Records a harvest event (caught up, retrying, failing, gone) against a feed.
    async fn record_feed_event(&self, feed_id: i64, event: &FeedEvent) -> Result<(), StoreError>;

    /// Calls `each` with every scheduled, located opportunity, streamed: what the in-memory
    /// search index loads.
    async fn for_each_index_row(
        &self,
        each: &mut (dyn FnMut(IndexRow) + Send),
    ) -> Result<(), StoreError>;

    /// The current rows of these opportunities, in any state; a missing id was deleted.
    async fn index_rows_by_id(&self, ids: &[String]) -> Result<Vec<IndexRow>, StoreError>;

    /// Opportunities written since `mark` (`None`: nothing, just the current mark), at most
    /// [`MAX_CHANGES`] of them.
    async fn changes_since(&self, mark: Option<ChangeMark>) -> Result<ChangeBatch, StoreError>;

    /// Forgets change records written before `before` (unix seconds); returns how many
    /// records (a record names every opportunity one statement changed).
    async fn prune_changes(&self, before: i64) -> Result<u64, StoreError>;

    /// Search results for these ids, their documents unparsed, in any order; unknown ids
    /// are left out.
    async fn candidate_docs_by_id(&self, ids: &[String]) -> Result<Vec<CandidateDoc>, StoreError>;

    /// The times of these opportunities, in any order; unknown ids are left out.
    async fn occurrences_by_id(&self, ids: &[String]) -> Result<Vec<Occurrence>, StoreError>;

    /// A number this process raises after each write that changes opportunities, so a
    /// reader in the same process knows to look for changes at once.
    fn write_generation(&self) -> u64;

    /// One opportunity with the raw item it came from.
    async fn opportunity(&self, id: &str) -> Result<OpportunityDetail, StoreError>;

    /// The whole harvested state in a canonical order, for comparing runs.
    async fn dump(&self) -> Result<StoreDump, StoreError>;

    /// Adds or replaces full postcode centroids (normalised postcodes); returns how many.
    async fn import_postcodes(&self, rows: &[(String, f64, f64)]) -> Result<u64, StoreError>;

    /// Every imported postcode centroid.
    async fn postcodes(&self) -> Result<Vec<(String, f64, f64)>, StoreError>;

    /// Adds or updates known providers by key; returns how many were new.
    async fn import_providers(&self, providers: &[NewProvider]) -> Result<u64, StoreError>;

    /// The register of known providers.
    async fn providers(&self) -> Result<Vec<Provider>, StoreError>;

    /// Records that an organiser is (`linked`) or is not the provider; `NotFound` for an
    /// unknown provider id.
    async fn set_provider_link(
        &self,
        provider_id: i64,
        organizer: &str,
        linked: bool,
    ) -> Result<(), StoreError>;

    /// Every recorded link decision: (provider id, organiser, linked).
    async fn provider_links(&self) -> Result<Vec<(i64, String, bool)>, StoreError>;

    /// How many items of each feed have each data-quality problem: (feed id, code, count).
    async fn problem_counts(&self) -> Result<Vec<(i64, String, i64)>, StoreError>;

    /// One feed's item problems ordered by (item id, code), after a keyset position.
    async fn feed_problems(
        &self,
        feed_id: i64,
        after: Option<(String, String)>,
        limit: i64,
    ) -> Result<Vec<ItemProblem>, StoreError>;

    /// Cheap round trip to the database.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The most changes [`Store::changes_since`] returns at once.
pub const MAX_CHANGES: usize = 50_000;

/// Opens the store a URL names (`sqlite://…` or `postgres://…`) and brings its schema up to date.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(redact(url)))
    }
}

/// The URL without any password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}
