//! The page transaction's SQL on PostgreSQL: whole pages as arrays through `unnest`, with no
//! parameter-count limit to chunk around; a chunk's rows in `chunk_rows`.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use oa_model::ItemRole;
use sqlx::{Postgres, Transaction};

use super::chunk_rows;
use super::opportunity_rows::release_tails;
use super::own_ids::FeedUrls;
use crate::digest::Digest;
use crate::document_tails::SharedTail;
use crate::page::{DigestRow, ExistingItem, PageTx, StoredChild, StoredParent, page_before_stored};
use crate::page_write::ChunkWrite;
use crate::{StoreError, now_secs};

/// A transaction of the store's, with the URLs of the feeds whose items' opportunities it
/// replaces.
pub(crate) struct PgPageTx(pub Transaction<'static, Postgres>, pub FeedUrls);

/// Rows grouped by their feed (`feed_of`). Each statement names one feed and an array of
/// item ids, so the planner reaches rows through the (feed_id, item_id) keys: a join
/// against `unnest` of pairs was planned as a scan of the whole table while a first
/// harvest grew it faster than autovacuum's statistics followed.
pub(super) fn by_feed<T>(rows: &[T], feed_of: fn(&T) -> i64) -> BTreeMap<i64, Vec<&T>> {
    let mut grouped: BTreeMap<i64, Vec<&T>> = BTreeMap::new();
    for row in rows {
        grouped.entry(feed_of(row)).or_default().push(row);
    }
    grouped
}

/// The item ids of `sources` (feed id, item id), grouped by feed (see [`by_feed`]).
pub(super) fn ids_by_feed(sources: &[(i64, String)]) -> BTreeMap<i64, Vec<&str>> {
    by_feed(sources, |s| s.0)
        .into_iter()
        .map(|(feed_id, sources)| (feed_id, sources.iter().map(|s| s.1.as_str()).collect()))
        .collect()
}

#[async_trait]
impl PageTx for PgPageTx {
    async fn lock_links(&mut self, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        // Taken in one sorted pass so two pages never wait on each other in a cycle.
        sqlx::query(
            "select pg_advisory_xact_lock(k) from \
             (select distinct hashtextextended(key, 7305) as k from unnest($1::text[]) key order by 1) locks",
        )
        .bind(keys)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn existing_items(
        &mut self,
        feed_id: i64,
        ids: &[String],
    ) -> Result<Vec<ExistingItem>, StoreError> {
        let rows: Vec<(String, i64, Option<String>, String)> = sqlx::query_as(
            "select item_id, modified, data_id, role from items where feed_id = $1 and item_id = any($2)",
        )
        .bind(feed_id)
        .bind(ids)
        .fetch_all(&mut *self.0)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(item_id, modified, data_id, role)| ExistingItem {
                item_id,
                modified,
                data_id,
                role: ItemRole::parse(&role),
            })
            .collect())
    }

    async fn parents(&mut self, data_ids: &[String]) -> Result<Vec<StoredParent>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "select data_id, data from items where role = 'parent' and state = 'updated' \
             and data_id = any($1) order by modified",
        )
        .bind(data_ids)
        .fetch_all(&mut *self.0)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(data_id, data)| StoredParent { data_id, data })
            .collect())
    }

    async fn live_items_after(
        &mut self,
        after: (i64, &str),
        limit: i64,
    ) -> Result<Vec<StoredChild>, StoreError> {
        let rows: Vec<StoredChild> = sqlx::query_as(concat!(
            crate::sql::stored_children!(),
            " where i.state = 'updated' and (i.feed_id, i.item_id) > ($1, $2) \
             order by i.feed_id, i.item_id limit $3 for update of i"
        ))
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .fetch_all(&mut *self.0)
        .await?;
        Ok(rows)
    }

    async fn children_of(&mut self, parent_ids: &[String]) -> Result<Vec<StoredChild>, StoreError> {
        let rows: Vec<StoredChild> = sqlx::query_as(concat!(
            crate::sql::stored_children!(),
            " where i.state = 'updated' and i.parent_ref = any($1)"
        ))
        .bind(parent_ids)
        .fetch_all(&mut *self.0)
        .await?;
        Ok(rows)
    }

    async fn set_digests(&mut self, rows: Vec<DigestRow>) -> Result<(), StoreError> {
        // Per feed, the items named as an array too (see `by_feed`): a join on the unnested
        // pairs alone may be planned as a scan of every item.
        for (feed_id, rows) in by_feed(&rows, |r| r.feed_id) {
            let ids: Vec<&str> = rows.iter().map(|r| r.item_id.as_str()).collect();
            let digest =
                |f: fn(&Digest) -> i64| rows.iter().map(|r| f(&r.digest)).collect::<Vec<_>>();
            sqlx::query(
                "update items i set digest_opportunities = d.opportunities, digest_problems = d.problems, \
                 digest_ids = d.opportunity_ids \
                 from unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) \
                 as d(item_id, opportunities, problems, opportunity_ids) \
                 where i.feed_id = $1 and i.item_id = any($2) and i.item_id = d.item_id",
            )
            .bind(feed_id)
            .bind(&ids)
            .bind(digest(|d| d.opportunities))
            .bind(digest(|d| d.problems))
            .bind(digest(|d| d.opportunity_ids))
            .execute(&mut *self.0)
            .await?;
        }
        Ok(())
    }

    async fn series_with_children(
        &mut self,
        series_ids: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "select distinct parent_ref from items where state = 'updated' and parent_ref = any($1)",
        )
        .bind(series_ids)
        .fetch_all(&mut *self.0)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn delete_generated(&mut self, series_ids: &[String]) -> Result<(), StoreError> {
        // One statement: the series' digests go unknown for the rows it deletes, which it
        // finds through the series items by `@id` (an index), not a scan of opportunities,
        // and then through the index on occurrences' sources: a generated session is an
        // occurrence (`OpportunityRow::occurrence`).
        let tails: Vec<(Option<i64>,)> = sqlx::query_as(
            "with gone as (delete from opportunities o using items p where p.role = 'parent' \
             and p.state = 'updated' and p.data_id = any($1) and o.feed_id = p.feed_id \
             and o.item_id = p.item_id and o.occurrence and o.parent_ref = p.data_id \
             returning o.tail_id, o.feed_id, o.item_id), \
             unknown as (update items p set digest_opportunities = null, digest_problems = null, \
             digest_ids = null from (select distinct feed_id, item_id from gone) g \
             where p.feed_id = g.feed_id and p.item_id = g.item_id) \
             select tail_id from gone",
        )
        .bind(series_ids)
        .fetch_all(&mut *self.0)
        .await?;
        release_tails(self, tails.into_iter().filter_map(|(t,)| t).collect()).await
    }

    async fn write_rows(
        &mut self,
        page_feed: Option<i64>,
        chunk: ChunkWrite,
        tails: Vec<SharedTail>,
    ) -> Result<(), StoreError> {
        chunk_rows::write(self, page_feed, chunk, tails).await
    }

    async fn finish_page(
        &mut self,
        feed_id: i64,
        next: &str,
        after: Option<&str>,
    ) -> Result<(), StoreError> {
        if let Some(after) = after {
            // The page before holds this turn until its transaction ends.
            take_turn(self, feed_id, after).await?;
        }
        let moved = sqlx::query(crate::sql::FINISH_PAGE)
            .bind(next)
            .bind(now_secs())
            .bind(feed_id)
            .bind(after)
            .execute(&mut *self.0)
            .await?
            .rows_affected();
        page_before_stored(moved as usize, after)
    }
}

/// The advisory lock key of a page's turn (binds: feed id, the cursor the page leaves):
/// seeded with the feed, apart from the link keys of `lock_links`, and naming the schema, as
/// advisory locks are the whole database's and deployments (and tests) may share one.
macro_rules! turn_key {
    () => {
        "hashtextextended('page ' || current_schema() || ' ' || $2, $1)"
    };
}

/// How a page locks its feed's row first, before anything else: a renormalise batch holds
/// the feeds table exclusively while it works (see `renormalise_batch`), and either lock
/// waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FeedLock {
    /// The feed's writer for the whole transaction (`for no key update`): a page of the feed
    /// from another walk (another process) waits for it, and waits for the next.
    Writer,
    /// Beside it (`for key share`, which the cursor update of the page before does not wait
    /// for): a page written while the page before it is in its transaction.
    BesideWriter,
}

pub(super) async fn lock_feed(
    tx: &mut PgPageTx,
    feed_id: i64,
    lock: FeedLock,
) -> Result<(), StoreError> {
    let statement = match lock {
        FeedLock::Writer => "select 1 from feeds where id = $1 for no key update",
        FeedLock::BesideWriter => "select 1 from feeds where id = $1 for key share",
    };
    sqlx::query(statement)
        .bind(feed_id)
        .execute(&mut *tx.0)
        .await?;
    Ok(())
}

/// Makes sure a page written beside the page of this feed that leaves its cursor at `after`
/// may be: that page is in its transaction (another connection holds its turn), or it has
/// committed. Another walk's page of the feed that commits in between moves the cursor
/// elsewhere, and this page's cursor update, which waits for that page's row lock, then
/// refuses it (docs/RELIABILITY.md, "A feed's pages written two at a time"). It
/// waits a second at most for that page to begin (it may not have reached its turn yet);
/// past that, nothing is stored and the page is to be applied after it.
pub(super) async fn beside_the_page_before(
    tx: &mut PgPageTx,
    feed_id: i64,
    after: &str,
) -> Result<(), StoreError> {
    for _ in 0..50 {
        // A bigint advisory lock shows in `pg_locks` as its high and low halves.
        let (begun, committed): (bool, bool) = sqlx::query_as(concat!(
            "select exists (select 1 from pg_locks l where l.locktype = 'advisory' and l.granted \
             and l.pid <> pg_backend_pid() and l.database = (select oid from pg_database where datname = current_database()) \
             and l.objsubid = 1 and l.classid = ((k.turn >> 32) & 4294967295)::oid \
             and l.objid = (k.turn & 4294967295)::oid), \
             exists (select 1 from feeds where id = $1 and cursor = $2) \
             from (select ",
            turn_key!(),
            " as turn) k"
        ))
        .bind(feed_id)
        .bind(after)
        .fetch_one(&mut *tx.0)
        .await?;
        if begun || committed {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err(StoreError::Abandoned(format!(
        "the page before {after} had not begun"
    )))
}

/// Takes, until the transaction ends, the turn of the page of this feed that leaves its
/// cursor at `next`. Every page takes its own turn first; a page written while the page
/// before it may still be in its transaction takes that page's turn before it moves the
/// cursor (`finish_page`), so it waits for that page to end. The wait is in the server,
/// which sees any cycle it closes with other locks and breaks it (a deadlock error, which
/// the harvest retries).
pub(super) async fn take_turn(
    tx: &mut PgPageTx,
    feed_id: i64,
    next: &str,
) -> Result<(), StoreError> {
    sqlx::query(concat!("select pg_advisory_xact_lock(", turn_key!(), ")"))
        .bind(feed_id)
        .bind(next)
        .execute(&mut *tx.0)
        .await?;
    Ok(())
}
