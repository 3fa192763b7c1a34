//! The embedded default: SQLite in WAL mode. Searches run on the in-memory index
//! (`crate::index`), so no spatial index is kept in the database.
//!
//! Harvested pages are written on a connection of the store's own ([`page_writer`]); other
//! writes go through sqlx's pool of one connection. Both hold the store's write gate, so
//! this process has one writer at a time, as SQLite has anyway, and a write never waits on
//! another inside SQLite. Reads use their own pool.

mod batch_part;
mod changes;
mod checkpoint;
mod chunk_rows;
mod commit_log;
mod direct;
mod item_keys;
mod lookaside;
mod lookups;
mod opportunity_ids;
mod opportunity_rows;
mod page_tx;
mod page_writer;
mod pass;
mod problems;
mod recent_keys;
#[cfg(test)]
mod test_store;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use oa_model::{DiscoveredFeed, Normaliser, PreparedItem};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, QueryBuilder, Sqlite, SqlitePool};

use crate::page_plan::PlanCheck;
use crate::renormalise::RenormaliseBatch;
use crate::sql;
use crate::types::{DetailRow, FeedRow};
use crate::{
    CandidateDoc, ChangeBatch, ChangeMark, FeedEvent, FeedRecord, FeedRef, IndexRow, ItemProblem,
    NewProvider, Occurrence, OpportunityDetail, PageOutcome, PagePlan, Provider, Store, StoreDump,
    StoreError, now_secs, page_plan,
};
use item_keys::count_feed_items;

/// The columns of `FeedRow`.
const FEED_COLUMNS: &str = sql::feed_columns!(count_feed_items);

/// The query behind [`Store::opportunity`], the id found apart from the rows.
const DETAIL_QUERY: &str = concat!(
    sql::detail_columns!("join items i on i.rid = o.item_rid"),
    " where ",
    opportunity_ids::id_in!(),
    "$1))"
);

/// Bytes per database page, for a database this creates (an existing one keeps its own).
const PAGE_SIZE: u32 = 16384;

/// The page connection's cache once it writes pages ([`page_writer`]): 16 MiB, set by the
/// process's first page, not when the connection opens (see [`SMALL_CACHE_KIB`]). With 64
/// MiB the cache filled as the store grew and a harvest's peak resident memory with it (130
/// MB at 1.1 million items, against 97 MB with 32 MiB), for no more items a second (13,596
/// against 13,365). Since a page is planned while the one before is written, 32 MiB took
/// the harvest to 108-110 MB, and 16 MiB brings it back to 93-98 MB (docs/PERFORMANCE.md).
const HARVEST_CACHE_KIB: i64 = 16384;

/// Every other connection's page cache, and the page connection's until it writes a page.
/// Each connection keeps to its own cache: the SQLite bundled here is built without
/// `SQLITE_ENABLE_MEMORY_MANAGEMENT` (`.cargo/config.toml`), which pooled the caches of all
/// a process's connections behind one mutex taken on every page read. Pooled, any connection
/// could fill what the others were allowed: with the page connection opened at 16 MiB, a
/// `serve` that never harvested held 24 MB of pages after its index load's scan of a million
/// sessions (docs/PERFORMANCE.md).
const SMALL_CACHE_KIB: i64 = 2048;

/// The writer's page cache while it renormalises: 64 MiB, the index pages of a whole store
/// rewritten in keyset order (a batch job, not a long-running process).
const RENORMALISE_CACHE: &str = "pragma cache_size = -65536";

/// Reader connections: see `connect`.
const READERS: u32 = 2;

/// This process's hold on writing: the page connection, locked ([`page_writer::WriteGate`]).
pub(crate) type WriteGuard = tokio::sync::OwnedMutexGuard<rusqlite::Connection>;

/// SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    /// The page connection, and the gate every write of this process holds.
    gate: page_writer::WriteGate,
    reader: SqlitePool,
    lookups: Arc<lookups::Lookups>,
    generation: Arc<AtomicU64>,
    /// What each commit on the page connection wrote, for the pages planned before it.
    commits: Arc<commit_log::CommitLog>,
}

impl SqliteStore {
    /// Opens (creating if needed, with its folder) the database a `sqlite://` URL names.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Connect)?
            .create_if_missing(true)
            .page_size(PAGE_SIZE)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            // Small (see `SMALL_CACHE_KIB`): a process that only serves searches stays small.
            .pragma("cache_size", format!("-{SMALL_CACHE_KIB}"))
            .pragma("temp_store", "memory")
            // Checkpoints run on their own connection (`checkpoint`), not in a commit. A
            // restarted WAL keeps its file for the next commits to overwrite; one that grew
            // well past the limit (a reader held it) is cut back to a quarter over it.
            .pragma("wal_autocheckpoint", "0")
            .pragma(
                "journal_size_limit",
                (checkpoint::WAL_LIMIT_FRAMES * i64::from(PAGE_SIZE) * 5 / 4).to_string(),
            );
        if let Some(folder) = options
            .get_filename()
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(folder).map_err(|e| StoreError::Connect(sqlx::Error::Io(e)))?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            // sqlx pings a connection as it goes back to the pool: a second ping as it is
            // taken again, a moment later, was one more round trip to the writer's thread
            // for every page.
            .test_before_acquire(false)
            .after_connect(|conn, _| {
                Box::pin(async move { lookaside::enlarge(conn).await.map(drop) })
            })
            .connect_with(options.clone())
            .await
            .map_err(StoreError::Connect)?;
        sqlx::migrate!("../../migrations/sqlite")
            .run(&writer)
            .await?;
        // Readers fetch a page of documents by id (search runs on the in-memory index), so
        // 2 MiB of cache each is plenty. Two of them, one a core: each is a thread with its
        // own glibc arena and page cache, and under 16 connections four readers held about
        // 20 MB more than two, for no more requests a second (docs/PERFORMANCE.md).
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.clone().read_only(true))
            .await
            .map_err(StoreError::Connect)?;
        // A checkpoint copying a burst of writes takes seconds by design: not a slow query.
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().disable_statement_logging())
            .await
            .map_err(StoreError::Connect)?;
        let gate = page_writer::open(options.get_filename())?;
        let lookups = Arc::new(lookups::Lookups::new(options.get_filename().to_path_buf()));
        let generation = Arc::default();
        checkpoint::spawn(checkpointer, Arc::downgrade(&generation));
        Ok(SqliteStore {
            writer,
            gate,
            reader,
            lookups,
            generation,
            commits: Arc::default(),
        })
    }

    /// Sizes sqlx's writer's page cache for a `renormalise` batch ([`RENORMALISE_CACHE`];
    /// harvested pages are written on the page connection, which has its own). Set before
    /// every batch (a no-op once set) because the pool may replace its connection.
    async fn grow_write_cache(&self) -> Result<(), StoreError> {
        sqlx::query(RENORMALISE_CACHE).execute(&self.writer).await?;
        Ok(())
    }

    /// A write transaction holding SQLite's write lock from its first statement. A deferred
    /// one that reads first cannot wait for the lock when it comes to write: if the
    /// checkpointer restarted the WAL meanwhile, its snapshot is gone and SQLite answers
    /// "database is locked" at once instead of calling the busy handler.
    ///
    /// The write gate is held for as long as the guard returned with it lives.
    async fn write_tx(
        &self,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Sqlite>, WriteGuard), StoreError> {
        let gate = self.gate.clone().lock_owned().await;
        Ok((self.writer.begin_with("begin immediate").await?, gate))
    }

    /// Holds the write gate for a write outside a transaction.
    async fn hold_gate(&self) -> WriteGuard {
        self.gate.clone().lock_owned().await
    }

    /// The write pool, for tests that need to reach under the trait (fault injection).
    pub fn writer_pool(&self) -> &SqlitePool {
        &self.writer
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn sync_source_feeds(
        &self,
        source: &str,
        feeds: &[DiscoveredFeed],
    ) -> Result<Vec<FeedRecord>, StoreError> {
        let now = now_secs();
        let (mut tx, gate) = self.write_tx().await?;
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
        let mut vanish =
            QueryBuilder::<Sqlite>::new("update feeds set state = 'vanished', vanished_at = ");
        vanish
            .push_bind(now)
            .push(" where state <> 'vanished' and source = ")
            .push_bind(source);
        if !feeds.is_empty() {
            vanish.push(" and url not in (");
            let mut list = vanish.separated(", ");
            for feed in feeds {
                list.push_bind(&feed.url);
            }
            vanish.push(")");
        }
        vanish.build().execute(&mut *tx).await?;
        tx.commit().await?;
        drop(gate);
        let rows: Vec<FeedRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{FEED_COLUMNS} where f.source = $1 and f.state <> 'vanished' order by f.id"
        )))
        .bind(source)
        .fetch_all(&self.writer)
        .await?;
        rows.into_iter().map(FeedRecord::try_from).collect()
    }

    async fn feeds(&self) -> Result<Vec<FeedRecord>, StoreError> {
        let rows: Vec<FeedRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{FEED_COLUMNS} order by f.id")))
                .fetch_all(&self.reader)
                .await?;
        rows.into_iter().map(FeedRecord::try_from).collect()
    }

    async fn plan_page(
        &self,
        feed: &FeedRef,
        items: Vec<PreparedItem>,
        normaliser: &dyn Normaliser,
    ) -> Result<PagePlan, StoreError> {
        // Noted before the snapshot: a commit between the two is taken as unseen.
        let generation = self.commits.generation();
        // A read transaction on a connection of the store's own: one snapshot, while the
        // writer goes on writing.
        let reads = page_tx::SqlitePageTx::Read(self.lookups.snapshot()?);
        // The plan keeps what it read (the page's stored items even for a feed new to the
        // store): reading them here is the planning core's work, not the writer's.
        page_plan::plan(reads, feed, items, normaliser, Some(generation)).await
    }

    async fn apply_plan(
        &self,
        feed: &FeedRef,
        plan: PagePlan,
        next: &str,
        normaliser: &dyn Normaliser,
    ) -> Result<PageOutcome, StoreError> {
        let write = page_writer::PageWrite::begin(&self.gate).await?;
        self.commits
            .observe(write.conn())
            .map_err(StoreError::Direct)?;
        let check = match plan.read_at() {
            Some((generation, read)) if self.commits.unchanged_since(generation, read) => {
                PlanCheck::Unchanged
            }
            _ => PlanCheck::Read,
        };
        let tx = page_tx::SqlitePageTx::Page(write);
        let (tx, outcome, wrote) =
            page_plan::apply_plan(tx, feed, plan, (next, None), (normaliser, check)).await?;
        tx.commit_recorded(&self.commits, wrote).await?;
        self.generation.fetch_add(1, Ordering::Release);
        Ok(outcome)
    }

    async fn renormalise_batch(
        &self,
        after: Option<(i64, String)>,
        limit: usize,
        normaliser: &dyn Normaliser,
    ) -> Result<RenormaliseBatch, StoreError> {
        let mut done = None;
        self.renormalise_pass(after, limit, normaliser, &mut |batch| {
            done = Some(batch.clone());
            false
        })
        .await?;
        done.ok_or_else(|| StoreError::Abandoned("the batch did not commit".into()))
    }

    async fn renormalise_pass(
        &self,
        after: Option<(i64, String)>,
        limit: usize,
        normaliser: &dyn Normaliser,
        each: &mut (dyn for<'b> FnMut(&'b RenormaliseBatch) -> bool + Send),
    ) -> Result<(), StoreError> {
        pass::pass(self, after, limit, normaliser, each).await
    }

    async fn record_feed_event(&self, feed_id: i64, event: &FeedEvent) -> Result<(), StoreError> {
        let (statement, state, error) = sql::feed_event(event);
        let query = sqlx::query(statement)
            .bind(state)
            .bind(error)
            .bind(now_secs())
            .bind(feed_id);
        {
            let _gate = self.hold_gate().await;
            query.execute(&self.writer).await?;
        }
        recent_keys::settle_after_walk(&self.gate).await;
        Ok(())
    }

    async fn for_each_index_row(
        &self,
        each: &mut (dyn FnMut(IndexRow) + Send),
    ) -> Result<(), StoreError> {
        changes::for_each_index_row(&self.reader, each).await
    }

    async fn index_rows_by_id(&self, ids: &[String]) -> Result<Vec<IndexRow>, StoreError> {
        changes::index_rows_by_id(&self.reader, ids).await
    }

    async fn changes_since(&self, mark: Option<ChangeMark>) -> Result<ChangeBatch, StoreError> {
        changes::changes_since(&self.reader, mark).await
    }

    async fn prune_changes(&self, before: i64) -> Result<u64, StoreError> {
        let _gate = self.hold_gate().await;
        changes::prune_changes(&self.writer, before).await
    }

    async fn candidate_docs_by_id(&self, ids: &[String]) -> Result<Vec<CandidateDoc>, StoreError> {
        self.lookups.candidate_docs(ids)
    }

    async fn occurrences_by_id(&self, ids: &[String]) -> Result<Vec<Occurrence>, StoreError> {
        self.lookups.occurrences(ids)
    }

    fn write_generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    async fn opportunity(&self, id: &str) -> Result<OpportunityDetail, StoreError> {
        let row: Option<DetailRow> = sqlx::query_as(DETAIL_QUERY)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    async fn dump(&self) -> Result<StoreDump, StoreError> {
        Ok(StoreDump {
            items: sqlx::query_as(sql::DUMP_ITEMS)
                .fetch_all(&self.reader)
                .await?,
            opportunities: sqlx::query_as(sql::DUMP_OPPORTUNITIES)
                .fetch_all(&self.reader)
                .await?,
            cursors: sqlx::query_as(sql::DUMP_CURSORS)
                .fetch_all(&self.reader)
                .await?,
        })
    }

    async fn import_postcodes(&self, rows: &[(String, f64, f64)]) -> Result<u64, StoreError> {
        let (mut tx, _gate) = self.write_tx().await?;
        // 3 binds a row keeps each statement far below SQLite's 32766-parameter limit.
        for chunk in rows.chunks(2000) {
            let mut insert =
                sqlx::QueryBuilder::new("insert or replace into postcodes (postcode, lat, lng) ");
            insert.push_values(chunk, |mut row, (postcode, lat, lng)| {
                row.push_bind(postcode).push_bind(lat).push_bind(lng);
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    async fn postcodes(&self) -> Result<Vec<(String, f64, f64)>, StoreError> {
        Ok(sqlx::query_as("select postcode, lat, lng from postcodes")
            .fetch_all(&self.reader)
            .await?)
    }

    async fn import_providers(&self, providers: &[NewProvider]) -> Result<u64, StoreError> {
        let (mut tx, _gate) = self.write_tx().await?;
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
        Ok(sqlx::query_as(sql::PROVIDERS)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn set_provider_link(
        &self,
        provider_id: i64,
        organizer: &str,
        linked: bool,
    ) -> Result<(), StoreError> {
        let _gate = self.hold_gate().await;
        let known: Option<i64> = sqlx::query_scalar("select id from providers where id = $1")
            .bind(provider_id)
            .fetch_optional(&self.writer)
            .await?;
        if known.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query(sql::SET_PROVIDER_LINK)
            .bind(provider_id)
            .bind(organizer)
            .bind(linked)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn provider_links(&self) -> Result<Vec<(i64, String, bool)>, StoreError> {
        Ok(sqlx::query_as(sql::PROVIDER_LINKS)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn problem_counts(&self) -> Result<Vec<(i64, String, i64)>, StoreError> {
        Ok(sqlx::query_as(sql::PROBLEM_COUNTS)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn feed_problems(
        &self,
        feed_id: i64,
        after: Option<(String, String)>,
        limit: i64,
    ) -> Result<Vec<ItemProblem>, StoreError> {
        let (item_id, code) = after.unwrap_or_default();
        Ok(sqlx::query_as(problems::FEED_PROBLEMS)
            .bind(feed_id)
            .bind(item_id)
            .bind(code)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("select 1").execute(&self.reader).await?;
        Ok(())
    }
}
