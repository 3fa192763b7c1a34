//! The production backend: PostgreSQL, no extension needed (searches run on the in-memory
//! index, `crate::index`). Pages from many feeds are written concurrently; pages that touch
//! the same parent/child links take advisory locks so neither misses the other.

mod changes;
mod chunk_rows;
mod inserts;
mod opportunity_rows;
mod own_ids;
mod page_tx;
#[cfg(test)]
mod tests;

use own_ids::FeedUrls;
use page_tx::{FeedLock, PgPageTx};

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use oa_model::{DiscoveredFeed, Normaliser, PreparedItem};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::page_plan::PlanCheck;
use crate::renormalise::{self, RenormaliseBatch};
use crate::sql::{self, DETAIL_QUERY};
use crate::types::{DetailRow, FeedRow};
use crate::{
    CandidateDoc, ChangeBatch, ChangeMark, FeedEvent, FeedRecord, FeedRef, IndexRow, ItemProblem,
    NewProvider, Occurrence, OpportunityDetail, PageOutcome, PagePlan, Provider, Store, StoreDump,
    StoreError, now_secs, page_plan,
};

/// A feed's (`f`) items (`i`) that meet `$condition`, counted through their key.
macro_rules! count_feed_items {
    ($condition:literal) => {
        concat!(
            "(select count(*) from items i where i.feed_id = f.id and ",
            $condition,
            ")"
        )
    };
}

/// The columns of `FeedRow`.
const FEED_COLUMNS: &str = sql::feed_columns!(count_feed_items);

/// How a harvested page's transaction begins: its commit does not wait for the server to
/// flush it to disk. A crash of the server or the machine may then undo the last pages
/// committed (up to three `wal_writer_delay`s, 600 ms by default), each whole and with the
/// cursor it moved, so the next harvest fetches them again: the guarantee SQLite's WAL
/// with `synchronous = normal` gives this store's pages. Sampled through a harvest, a page
/// was waiting for the flush at its commit in 9 % of the samples, and the page after it
/// waited for its turn meanwhile (docs/PERFORMANCE.md, "Harvest throughput", thirty-sixth
/// session). Every other write waits as usual, and its flush takes the pages committed
/// before it along: a feed's walk that runs to its end records the feed's state, so its
/// pages are on disk when it is done.
const BEGIN_PAGE: &str = "begin; set local synchronous_commit = off";

/// PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The search's reads by id (documents, occurrences, index rows), on connections that
    /// plan each statement once. PostgreSQL keeps planning `where o.id = any($1)` afresh on
    /// every execution (its custom plans look cheaper than the generic one), yet the plan
    /// never depends on the ids: one unique-index probe each. Searches run these thousands of
    /// times a second (docs/PERFORMANCE.md: 13-18 % less of PostgreSQL's CPU a search).
    lookups: PgPool,
    generation: Arc<AtomicU64>,
}

/// Connections of [`PgStore::lookups`]: a search holds one for a single short statement.
const LOOKUP_CONNECTIONS: u32 = 4;

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(StoreError::Connect)?;
        Self::connect_with(options).await
    }

    /// Connects with every table inside `schema` (created if missing): how tests get a
    /// fresh database each, and how several deployments can share one server.
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(StoreError::Connect)?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(StoreError::Connect)?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "create schema if not exists \"{}\"",
            schema.replace('"', "")
        )))
        .execute(&admin)
        .await?;
        admin.close().await;
        Self::connect_with(options.options([("search_path", schema)])).await
    }

    async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(StoreError::Connect)?;
        sqlx::migrate!("../../migrations/postgres")
            .run(&pool)
            .await?;
        let lookups = PgPoolOptions::new()
            .max_connections(LOOKUP_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_lazy_with(options.options([("plan_cache_mode", "force_generic_plan")]));
        Ok(PgStore {
            pool,
            lookups,
            generation: Arc::default(),
        })
    }

    /// A page's transaction, with the locks every page takes first: its feed's row, then
    /// its turn (`page_tx::take_turn`).
    async fn begin_page(
        &self,
        feed: &FeedRef,
        next: &str,
        feed_lock: FeedLock,
    ) -> Result<PgPageTx, StoreError> {
        let mut tx = PgPageTx(self.pool.begin_with(BEGIN_PAGE).await?, FeedUrls::of(feed));
        page_tx::lock_feed(&mut tx, feed.id, feed_lock).await?;
        page_tx::take_turn(&mut tx, feed.id, next).await?;
        Ok(tx)
    }

    /// The pool, for tests that need to reach under the trait (fault injection).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The pool of the search's reads by id, for tests.
    pub fn lookup_pool(&self) -> &PgPool {
        &self.lookups
    }
}

#[async_trait]
impl Store for PgStore {
    async fn sync_source_feeds(
        &self,
        source: &str,
        feeds: &[DiscoveredFeed],
    ) -> Result<Vec<FeedRecord>, StoreError> {
        let now = now_secs();
        let mut tx = self.pool.begin().await?;
        for feed in feeds {
            sqlx::query(sql::UPSERT_FEED)
                .bind(&feed.url)
                .bind(&feed.kind)
                .bind(&feed.publisher)
                .bind(&feed.dataset_site)
                .bind(source)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        let listed: Vec<&str> = feeds.iter().map(|f| f.url.as_str()).collect();
        sqlx::query(
            "update feeds set state = 'vanished', vanished_at = $1 \
             where state <> 'vanished' and source = $2 and not (url = any($3))",
        )
        .bind(now)
        .bind(source)
        .bind(&listed)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let rows: Vec<FeedRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{FEED_COLUMNS} where f.source = $1 and f.state <> 'vanished' order by f.id"
        )))
        .bind(source)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(FeedRecord::try_from).collect()
    }

    async fn feeds(&self) -> Result<Vec<FeedRecord>, StoreError> {
        let rows: Vec<FeedRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{FEED_COLUMNS} order by f.id")))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(FeedRecord::try_from).collect()
    }

    async fn plan_page(
        &self,
        feed: &FeedRef,
        items: Vec<PreparedItem>,
        normaliser: &dyn Normaliser,
    ) -> Result<PagePlan, StoreError> {
        // Read-only, and without the page's locks: only the page's own transaction takes them.
        let reads = self.pool.begin_with("begin read only").await?;
        let reads = page_tx::PgPageTx(reads, FeedUrls::default());
        page_plan::plan(reads, feed, items, normaliser, None).await
    }

    async fn apply_plan(
        &self,
        feed: &FeedRef,
        plan: PagePlan,
        next: &str,
        normaliser: &dyn Normaliser,
    ) -> Result<PageOutcome, StoreError> {
        let tx = self.begin_page(feed, next, FeedLock::Writer).await?;
        let (tx, outcome, _) =
            page_plan::apply_plan(tx, feed, plan, (next, None), (normaliser, PlanCheck::Read))
                .await?;
        tx.0.commit().await?;
        self.generation.fetch_add(1, Ordering::Release);
        Ok(outcome)
    }

    /// Two connections write one feed's consecutive pages: the server's work on a page is
    /// most of the harvest's chain of steps, and the machine's other core would wait for it.
    fn writes_pages_ahead(&self) -> bool {
        true
    }

    async fn apply_plan_after(
        &self,
        feed: &FeedRef,
        plan: PagePlan,
        requested: &str,
        next: &str,
        normaliser: &dyn Normaliser,
    ) -> Result<PageOutcome, StoreError> {
        let mut tx = self.begin_page(feed, next, FeedLock::BesideWriter).await?;
        page_tx::beside_the_page_before(&mut tx, feed.id, requested).await?;
        let after = (next, Some(requested));
        let (tx, outcome, _) =
            page_plan::apply_plan(tx, feed, plan, after, (normaliser, PlanCheck::Read)).await?;
        tx.0.commit().await?;
        self.generation.fetch_add(1, Ordering::Release);
        Ok(outcome)
    }

    async fn renormalise_batch(
        &self,
        after: Option<(i64, String)>,
        limit: usize,
        normaliser: &dyn Normaliser,
    ) -> Result<RenormaliseBatch, StoreError> {
        let mut tx = page_tx::PgPageTx(self.pool.begin().await?, FeedUrls::default());
        // Pages wait while the batch works, and it waits for pages under way (each locks its
        // feed's row first): a page that changed a series whose sessions the batch holds
        // would otherwise be overwritten with rows made from the series as the batch read it.
        // Plain reads (searches, the API) go on.
        sqlx::query("lock table feeds in exclusive mode")
            .execute(&mut *tx.0)
            .await?;
        let input = renormalise::read_batch(&mut tx, after, limit).await?;
        let (tx, batch) = renormalise::batch(tx, input, normaliser).await?;
        tx.0.commit().await?;
        self.generation.fetch_add(1, Ordering::Release);
        Ok(batch)
    }

    async fn record_feed_event(&self, feed_id: i64, event: &FeedEvent) -> Result<(), StoreError> {
        let (statement, state, error) = sql::feed_event(event);
        sqlx::query(statement)
            .bind(state)
            .bind(error)
            .bind(now_secs())
            .bind(feed_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn for_each_index_row(
        &self,
        each: &mut (dyn FnMut(IndexRow) + Send),
    ) -> Result<(), StoreError> {
        changes::for_each_index_row(&self.pool, each).await
    }

    async fn index_rows_by_id(&self, ids: &[String]) -> Result<Vec<IndexRow>, StoreError> {
        changes::index_rows_by_id(&self.lookups, ids).await
    }

    async fn changes_since(&self, mark: Option<ChangeMark>) -> Result<ChangeBatch, StoreError> {
        changes::changes_since(&self.pool, mark).await
    }

    async fn prune_changes(&self, before: i64) -> Result<u64, StoreError> {
        changes::prune_changes(&self.pool, before).await
    }

    async fn candidate_docs_by_id(&self, ids: &[String]) -> Result<Vec<CandidateDoc>, StoreError> {
        changes::candidate_docs_by_id(&self.lookups, ids).await
    }

    async fn occurrences_by_id(&self, ids: &[String]) -> Result<Vec<Occurrence>, StoreError> {
        changes::occurrences_by_id(&self.lookups, ids).await
    }

    fn write_generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    async fn opportunity(&self, id: &str) -> Result<OpportunityDetail, StoreError> {
        let row: Option<DetailRow> = sqlx::query_as(DETAIL_QUERY)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    async fn dump(&self) -> Result<StoreDump, StoreError> {
        Ok(StoreDump {
            items: sqlx::query_as(sql::DUMP_ITEMS)
                .fetch_all(&self.pool)
                .await?,
            opportunities: sqlx::query_as(sql::DUMP_OPPORTUNITIES)
                .fetch_all(&self.pool)
                .await?,
            cursors: sqlx::query_as(sql::DUMP_CURSORS)
                .fetch_all(&self.pool)
                .await?,
        })
    }

    async fn import_postcodes(&self, rows: &[(String, f64, f64)]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        for chunk in rows.chunks(10_000) {
            let postcodes: Vec<&str> = chunk.iter().map(|r| r.0.as_str()).collect();
            let lats: Vec<f64> = chunk.iter().map(|r| r.1).collect();
            let lngs: Vec<f64> = chunk.iter().map(|r| r.2).collect();
            sqlx::query(
                "insert into postcodes (postcode, lat, lng) \
                 select * from unnest($1::text[], $2::float8[], $3::float8[]) \
                 on conflict (postcode) do update set lat = excluded.lat, lng = excluded.lng",
            )
            .bind(&postcodes)
            .bind(&lats)
            .bind(&lngs)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    async fn postcodes(&self) -> Result<Vec<(String, f64, f64)>, StoreError> {
        Ok(sqlx::query_as("select postcode, lat, lng from postcodes")
            .fetch_all(&self.pool)
            .await?)
    }

    async fn import_providers(&self, providers: &[NewProvider]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let before: i64 = sqlx::query_scalar("select count(*) from providers")
            .fetch_one(&mut *tx)
            .await?;
        for p in providers {
            sqlx::query(sql::UPSERT_PROVIDER)
                .bind(&p.key)
                .bind(&p.name)
                .bind(&p.postcode)
                .bind(&p.website)
                .bind(&p.email)
                .bind(&p.kind)
                .bind(&p.extra)
                .bind(now_secs())
                .execute(&mut *tx)
                .await?;
        }
        let after: i64 = sqlx::query_scalar("select count(*) from providers")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((after - before).max(0) as u64)
    }

    async fn providers(&self) -> Result<Vec<Provider>, StoreError> {
        Ok(sqlx::query_as(sql::PROVIDERS).fetch_all(&self.pool).await?)
    }

    async fn set_provider_link(
        &self,
        provider_id: i64,
        organizer: &str,
        linked: bool,
    ) -> Result<(), StoreError> {
        let known: Option<i64> = sqlx::query_scalar("select id from providers where id = $1")
            .bind(provider_id)
            .fetch_optional(&self.pool)
            .await?;
        if known.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query(sql::SET_PROVIDER_LINK)
            .bind(provider_id)
            .bind(organizer)
            .bind(linked)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn provider_links(&self) -> Result<Vec<(i64, String, bool)>, StoreError> {
        Ok(sqlx::query_as(sql::PROVIDER_LINKS)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn problem_counts(&self) -> Result<Vec<(i64, String, i64)>, StoreError> {
        Ok(sqlx::query_as(sql::PROBLEM_COUNTS)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn feed_problems(
        &self,
        feed_id: i64,
        after: Option<(String, String)>,
        limit: i64,
    ) -> Result<Vec<ItemProblem>, StoreError> {
        let (item_id, code) = after.unwrap_or_default();
        Ok(sqlx::query_as(sql::FEED_PROBLEMS)
            .bind(feed_id)
            .bind(item_id)
            .bind(code)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }
}
