//! The page transaction's SQL on PostgreSQL: whole pages as arrays through `unnest`, one
//! statement each, with no parameter-count limit to chunk around.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use oa_model::ItemRole;
use sqlx::{Postgres, Transaction};

use super::opportunity_rows::{self, release_tails};
use crate::digest::Digest;
use crate::document_tails::SharedTail;
use crate::page::{
    DigestRow, ExistingItem, ItemRow, OpportunityRow, PageTx, ProblemRow, StatusRow, StoredChild,
    StoredParent, page_before_stored,
};
use crate::{StoreError, now_secs};

pub(crate) struct PgPageTx(pub Transaction<'static, Postgres>);

/// Source items grouped by feed. Each statement names one feed and an array of item ids, so
/// the planner reaches rows through the (feed_id, item_id) keys: a join against `unnest`
/// of pairs was planned as a scan of the whole table while a first harvest grew it faster
/// than autovacuum's statistics followed.
pub(super) fn by_feed(sources: &[(i64, String)]) -> BTreeMap<i64, Vec<String>> {
    let mut grouped: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (feed_id, item_id) in sources {
        grouped.entry(*feed_id).or_default().push(item_id.clone());
    }
    grouped
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

    async fn upsert_items(&mut self, feed_id: i64, rows: Vec<ItemRow>) -> Result<(), StoreError> {
        let (first_seen, stored): (Vec<ItemRow>, Vec<ItemRow>) =
            rows.into_iter().partition(|r| r.first_seen);
        write_items(self, feed_id, &first_seen, "").await?;
        write_items(self, feed_id, &stored, ITEMS_ON_CONFLICT).await
    }

    async fn set_item_status(&mut self, rows: &[StatusRow]) -> Result<(), StoreError> {
        let mut by_feed: BTreeMap<i64, Vec<&StatusRow>> = BTreeMap::new();
        for row in rows {
            by_feed.entry(row.feed_id).or_default().push(row);
        }
        for (feed_id, rows) in by_feed {
            let ids: Vec<String> = rows.iter().map(|r| r.item_id.clone()).collect();
            sqlx::query(
                "update items i set status = u.status, problem = u.problem \
                 from unnest($2::text[], $3::text[], $4::text[]) as u(item_id, status, problem) \
                 where i.feed_id = $1 and i.item_id = any($2) and i.item_id = u.item_id",
            )
            .bind(feed_id)
            .bind(&ids)
            .bind(rows.iter().map(|r| r.status).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.problem.clone()).collect::<Vec<_>>())
            .execute(&mut *self.0)
            .await?;
        }
        Ok(())
    }

    async fn set_digests(&mut self, rows: Vec<DigestRow>) -> Result<(), StoreError> {
        let mut by_feed: BTreeMap<i64, Vec<&DigestRow>> = BTreeMap::new();
        for row in &rows {
            by_feed.entry(row.feed_id).or_default().push(row);
        }
        // Per feed, the items named as an array too (see `by_feed`): a join on the unnested
        // pairs alone may be planned as a scan of every item.
        for (feed_id, rows) in by_feed {
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
        sqlx::query(
            "update items p set digest_opportunities = null, digest_problems = null, digest_ids = null \
             where p.role = 'parent' and p.state = 'updated' and p.data_id = any($1) \
             and exists (select 1 from opportunities o \
             where o.feed_id = p.feed_id and o.item_id = p.item_id and o.parent_ref = p.data_id)",
        )
        .bind(series_ids)
        .execute(&mut *self.0)
        .await?;
        let tails: Vec<(Option<i64>,)> = sqlx::query_as(
            // Through the series items by `@id` (an index), not a scan of opportunities.
            "delete from opportunities o using items p where p.role = 'parent' \
             and p.state = 'updated' and p.data_id = any($1) and o.feed_id = p.feed_id \
             and o.item_id = p.item_id and o.parent_ref = p.data_id returning o.tail_id",
        )
        .bind(series_ids)
        .fetch_all(&mut *self.0)
        .await?;
        release_tails(self, tails.into_iter().filter_map(|(t,)| t).collect()).await
    }

    async fn replace_problems(
        &mut self,
        sources: &[(i64, String)],
        rows: &[ProblemRow],
    ) -> Result<(), StoreError> {
        for (feed_id, item_ids) in by_feed(sources) {
            sqlx::query("delete from item_problems where feed_id = $1 and item_id = any($2)")
                .bind(feed_id)
                .bind(item_ids)
                .execute(&mut *self.0)
                .await?;
        }
        if rows.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "insert into item_problems (feed_id, item_id, code, detail) \
             select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[])",
        )
        .bind(rows.iter().map(|r| r.feed_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.item_id.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.code.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.detail.clone()).collect::<Vec<_>>())
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn replace_opportunities(
        &mut self,
        sources: &[(i64, String)],
        rows: Vec<OpportunityRow>,
        tails: Vec<SharedTail>,
    ) -> Result<(), StoreError> {
        opportunity_rows::replace(self, sources, rows, tails).await
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

/// How a stored item is replaced. Rows not stored before are inserted without it: the
/// conflict check (a speculative insertion for every row) was a third of the items
/// statement's server time in a first harvest (docs/PERFORMANCE.md, twenty-first session).
const ITEMS_ON_CONFLICT: &str = " on conflict (feed_id, item_id) do update set kind = excluded.kind, \
    modified = excluded.modified, state = excluded.state, role = excluded.role, \
    data_id = excluded.data_id, parent_ref = excluded.parent_ref, data = excluded.data, \
    status = excluded.status, problem = excluded.problem, \
    digest_opportunities = excluded.digest_opportunities, \
    digest_problems = excluded.digest_problems, digest_ids = excluded.digest_ids";

/// Inserts a page's item rows as arrays, with `on_conflict` after the rows.
async fn write_items(
    tx: &mut PgPageTx,
    feed_id: i64,
    rows: &[ItemRow],
    on_conflict: &str,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&ItemRow) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
    let digests = |f: fn(Digest) -> i64| {
        rows.iter()
            .map(|r| r.digest.map(f))
            .collect::<Vec<Option<i64>>>()
    };
    let sql = format!(
        "insert into items (feed_id, item_id, kind, modified, state, role, data_id, parent_ref, data, status, problem, \
         digest_opportunities, digest_problems, digest_ids) \
         select $1, * from unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], \
         $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::bigint[], $14::bigint[]){on_conflict}"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(feed_id)
        .bind(column(|r| Some(r.item.id.clone())))
        .bind(column(|r| Some(r.item.kind.clone())))
        .bind(rows.iter().map(|r| r.item.modified).collect::<Vec<_>>())
        .bind(column(|r| Some(r.item.state.as_str().to_owned())))
        .bind(column(|r| Some(r.item.role.as_str().to_owned())))
        .bind(column(|r| r.item.data_id.clone()))
        .bind(column(|r| r.item.parent_ref.clone()))
        .bind(column(|r| r.item.data_json.clone()))
        .bind(column(|r| Some(r.status.to_owned())))
        .bind(column(|r| r.problem.clone()))
        .bind(digests(|d| d.opportunities))
        .bind(digests(|d| d.problems))
        .bind(digests(|d| d.opportunity_ids))
        .execute(&mut *tx.0)
        .await?;
    Ok(())
}
