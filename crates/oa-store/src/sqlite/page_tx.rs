//! The page transaction's SQL on SQLite: single-row statements stepped on the calling thread
//! (on the page connection, [`super::page_writer`], or one of sqlx's, [`super::direct`]),
//! lists bound as JSON arrays.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use oa_model::ItemRole;
use sqlx::{Sqlite, Transaction};

use super::WriteGuard;
use super::commit_log::CommitLog;
use super::direct;
use super::item_keys::{InsertedRows, live_items_in_key_order, rid_of_key, rids_of_items};
use super::lookups::Snapshot;
use super::opportunity_rows::{forget_deleted, release_tails};
use super::page_writer::PageWrite;
use crate::document_tails::SharedTail;
use crate::footprint::Footprint;
use crate::page::{DigestRow, ExistingItem, PageTx, StoredChild, StoredParent, page_before_stored};
use crate::page_write::ChunkWrite;
use crate::{StoreError, now_secs};

/// Stored items per row of a batch read (`live_items_after`), a literal for its SQL.
macro_rules! part_items {
    () => {
        100
    };
}
const PART_ITEMS: usize = part_items!();

/// Where a page's (or a `renormalise` batch's) statements run.
pub(crate) enum SqlitePageTx {
    /// In a transaction of sqlx's: a `renormalise` batch on the writer, holding the write
    /// gate.
    Sqlx(Transaction<'static, Sqlite>, WriteGuard),
    /// On the page connection ([`super::page_writer`]).
    Page(PageWrite),
    /// A plan's reads, on one of the store's read connections ([`Snapshot`]).
    Read(Snapshot),
}

impl SqlitePageTx {
    /// Runs `work` on the transaction's connection, on this thread.
    pub(super) async fn run<T>(
        &mut self,
        work: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        match self {
            SqlitePageTx::Sqlx(tx, _) => direct::with_connection(tx, work).await,
            SqlitePageTx::Page(page) => work(page.conn()).map_err(StoreError::Direct),
            SqlitePageTx::Read(snapshot) => work(snapshot.conn()).map_err(StoreError::Direct),
        }
    }

    /// [`Self::run`], with the item rows the transaction inserted so far: a page's, on the
    /// page connection; none recorded in a `renormalise` batch, which inserts no items.
    pub(super) async fn run_with_inserted<T>(
        &mut self,
        work: impl FnOnce(&rusqlite::Connection, &mut InsertedRows) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        if let SqlitePageTx::Page(page) = self {
            let (conn, inserted) = page.with_inserted();
            return work(conn, inserted).map_err(StoreError::Direct);
        }
        self.run(|conn| work(conn, &mut InsertedRows::default()))
            .await
    }

    /// Commits, recording what a page on the page connection wrote (`None`: not known) in
    /// `log`; releases the write gate. A commit on another connection needs no record: the
    /// page connection sees it (`commit_log`).
    pub(super) async fn commit_recorded(
        self,
        log: &CommitLog,
        wrote: Option<Arc<Footprint>>,
    ) -> Result<(), StoreError> {
        match self {
            SqlitePageTx::Page(page) => page.commit_recorded(log, wrote),
            other => other.commit().await,
        }
    }

    /// Commits, releasing the write gate.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            SqlitePageTx::Sqlx(tx, _gate) => Ok(tx.commit().await?),
            SqlitePageTx::Page(page) => page.commit(),
            // A snapshot wrote nothing: it ends as it drops.
            SqlitePageTx::Read(_) => Ok(()),
        }
    }
}

/// The values as a JSON array of strings: how a list is bound (`in (select value from
/// json_each(?))`), one statement for any length, with the plans of a list of parameters.
pub(super) fn json_array<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let values: Vec<&str> = values.into_iter().collect();
    // Serialising strings cannot fail.
    serde_json::to_string(&values).unwrap_or_default()
}

/// Records that the opportunities named (a JSON array of ids) changed, in the transaction
/// that changed them: one change-log row for the statement
/// (`migrations/sqlite/0010_change_log_per_statement.sql`), which is how every serving
/// process's search index learns of it.
pub(super) fn log_record(conn: &rusqlite::Connection, ids: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("insert into opportunity_changes (at, ids) values (unixepoch(), ?1)")?
        .execute([ids])?;
    Ok(())
}

/// Source items grouped by feed: each statement names one feed and a list of its items.
pub(super) fn by_feed(sources: &[(i64, String)]) -> BTreeMap<i64, Vec<&str>> {
    let mut grouped: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for (feed_id, item_id) in sources {
        grouped.entry(*feed_id).or_default().push(item_id);
    }
    grouped
}

#[async_trait]
impl PageTx for SqlitePageTx {
    async fn lock_links(&mut self, _keys: &[String]) -> Result<(), StoreError> {
        // The single writer connection already serialises every page.
        Ok(())
    }

    async fn existing_items(
        &mut self,
        feed_id: i64,
        ids: &[String],
    ) -> Result<Vec<ExistingItem>, StoreError> {
        self.run(|conn| {
            let mut read = conn.prepare_cached(concat!(
                "select item_id, modified, data_id, role from items where rid in (",
                rids_of_items!(),
                ")"
            ))?;
            read.query_map(
                rusqlite::params![feed_id, json_array(ids.iter().map(String::as_str))],
                |row| {
                    Ok(ExistingItem {
                        item_id: row.get(0)?,
                        modified: row.get(1)?,
                        data_id: row.get(2)?,
                        role: ItemRole::parse(row.get_ref(3)?.as_str()?),
                    })
                },
            )?
            .collect()
        })
        .await
    }

    async fn parents(&mut self, data_ids: &[String]) -> Result<Vec<StoredParent>, StoreError> {
        self.run(|conn| {
            let mut read = conn.prepare_cached(
                "select data_id, data from items where role = 'parent' and state = 'updated' \
                 and data_id in (select value from json_each(?1)) order by modified",
            )?;
            read.query_map([json_array(data_ids.iter().map(String::as_str))], |row| {
                Ok(StoredParent {
                    data_id: row.get(0)?,
                    data: row.get(1)?,
                })
            })?
            .collect()
        })
        .await
    }

    async fn live_items_after(
        &mut self,
        after: (i64, &str),
        limit: i64,
    ) -> Result<Vec<StoredChild>, StoreError> {
        // The batch in parts of PART_ITEMS items, one query each, every part starting after
        // the last key of the one before. Read as a row per item through sqlx (as it was
        // then), the hand-off of every row from its worker thread and its two copies of every
        // value cost ~7 µs an item.
        // Numbering the whole batch into parts in one query (a window function, then a group
        // by) copied every item through two temporary B-trees; without them the reader's
        // share of a rewrite pass's CPU fell from 22 % to 17 %. A part stays under glibc's
        // mmap threshold (128 KiB), so its buffers come from and go back to the heap.
        //
        // A part is one row: its items' fields as a JSON array each, with the length of the
        // item's data in place of the data, and the data of all of them concatenated. As a
        // JSON string, every quote of the data was escaped by SQLite and unescaped again by
        // serde (3 % of a renormalise run's instructions, callgrind). Missing data reads as
        // empty, which does not parse: the error names the item. The limit is written into
        // the statement: a bound one made SQLite prepare it again at every step (2.2 %).
        let wanted = usize::try_from(limit).unwrap_or_default();
        let mut items: Vec<StoredChild> = Vec::with_capacity(wanted);
        let mut after = (after.0, after.1.to_owned());
        while items.len() < wanted {
            let (fields, data): (String, Option<String>) = self
                .run(|conn| {
                    conn.prepare_cached(concat!(
                        "select json_group_array(json_array(json_array(feed_id, feed_url, item_id, kind, modified, role, \
                         data_id, parent_ref, status, problem, digest_opportunities, digest_problems, digest_ids), \
                         coalesce(octet_length(data), 0))), group_concat(data, '') \
                         from (",
                        live_items_in_key_order!(part_items!()),
                        ")"
                    ))?
                    .query_row(rusqlite::params![after.0, after.1], |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })
                })
                .await?;
            let mut read = super::batch_part::items(&fields, data.as_deref().unwrap_or_default())?;
            let ended = read.len() < PART_ITEMS;
            read.truncate(wanted - items.len());
            let Some(last) = read.last() else { break };
            after = (last.feed_id, last.item_id.clone());
            items.extend(read);
            if ended {
                break;
            }
        }
        Ok(items)
    }

    async fn children_of(&mut self, parent_ids: &[String]) -> Result<Vec<StoredChild>, StoreError> {
        let parents = json_array(parent_ids.iter().map(String::as_str));
        self.run(|conn| {
            conn.prepare_cached(concat!(
                crate::sql::stored_children!(),
                " where i.state = 'updated' and i.parent_ref in (select value from json_each(?1))"
            ))?
            .query_map([parents], |row| {
                Ok(StoredChild {
                    feed_id: row.get(0)?,
                    feed_url: row.get(1)?,
                    item_id: row.get(2)?,
                    kind: row.get(3)?,
                    modified: row.get(4)?,
                    role: row.get(5)?,
                    data_id: row.get(6)?,
                    parent_ref: row.get(7)?,
                    data: row.get(8)?,
                    status: row.get(9)?,
                    problem: row.get(10)?,
                    digest_opportunities: row.get(11)?,
                    digest_problems: row.get(12)?,
                    digest_ids: row.get(13)?,
                })
            })?
            .collect()
        })
        .await
    }

    async fn set_digests(&mut self, rows: Vec<DigestRow>) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.run(|conn| {
            let mut update = conn.prepare_cached(concat!(
                "update items set digest_opportunities = ?3, digest_problems = ?4, digest_ids = ?5 \
                 where rid = ",
                rid_of_key!("?1", "?2")
            ))?;
            for r in &rows {
                update.execute(rusqlite::params![
                    r.feed_id,
                    r.item_id,
                    r.digest.opportunities,
                    r.digest.problems,
                    r.digest.opportunity_ids,
                ])?;
            }
            Ok(())
        })
        .await
    }

    async fn series_with_children(
        &mut self,
        series_ids: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        self.run(|conn| {
            let mut read = conn.prepare_cached(
                "select distinct parent_ref from items where state = 'updated' \
                 and parent_ref in (select value from json_each(?1))",
            )?;
            read.query_map([json_array(series_ids.iter().map(String::as_str))], |row| {
                row.get(0)
            })?
            .collect()
        })
        .await
    }

    async fn delete_generated(&mut self, series_ids: &[String]) -> Result<(), StoreError> {
        let series = json_array(series_ids.iter().map(String::as_str));
        self.run(|conn| {
            conn.prepare_cached(
                "update items set digest_opportunities = null, digest_problems = null, digest_ids = null \
                 where role = 'parent' and state = 'updated' and data_id in (select value from json_each(?1)) \
                 and exists (select 1 from opportunities o where o.item_rid = items.rid \
                 and o.parent_ref = items.data_id)",
            )?
            .execute([&series])?;
            // Found through the series items (by `@id`, then their opportunities by item):
            // opportunities have no index on parent_ref, and scanning them for every page of
            // sessions made a large harvest quadratic.
            let deleted: Vec<(String, Option<i64>)> = conn
                .prepare_cached(
                    "delete from opportunities where rid in (select o.rid from items p \
                     join opportunities o on o.item_rid = p.rid and o.parent_ref = p.data_id \
                     where p.role = 'parent' and p.state = 'updated' \
                     and p.data_id in (select value from json_each(?1))) returning id, tail_id",
                )?
                .query_map([&series], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let (deleted, tails): (Vec<String>, Vec<Option<i64>>) = deleted.into_iter().unzip();
            forget_deleted(conn, &deleted)?;
            release_tails(conn, tails.into_iter().flatten())
        })
        .await
    }

    async fn write_rows(
        &mut self,
        page_feed: Option<i64>,
        mut chunk: ChunkWrite,
        tails: Vec<SharedTail>,
    ) -> Result<(), StoreError> {
        if let Some(feed_id) = page_feed {
            self.upsert_items(feed_id, std::mem::take(&mut chunk.items))
                .await?;
        }
        self.set_item_status(&chunk.statuses).await?;
        self.replace_opportunities(&chunk.opportunity_sources, chunk.rows, tails)
            .await?;
        self.replace_problems(&chunk.problem_sources, &chunk.problems)
            .await
    }

    async fn finish_page(
        &mut self,
        feed_id: i64,
        next: &str,
        after: Option<&str>,
    ) -> Result<(), StoreError> {
        // SQLite writes one page at a time: the page before has always ended, and `after`
        // only checks that it committed.
        let moved = self
            .run(|conn| {
                conn.prepare_cached(crate::sql::FINISH_PAGE)?
                    .execute(rusqlite::params![next, now_secs(), feed_id, after])
            })
            .await?;
        page_before_stored(moved, after)
    }
}
