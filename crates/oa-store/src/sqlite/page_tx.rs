//! The page transaction's SQL on SQLite: multi-row statements per page, chunked below
//! SQLite's bound-parameter limit.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use oa_model::ItemRole;
use sqlx::{QueryBuilder, Sqlite, Transaction};

use super::multi_row::MultiRow;
use crate::page::{
    DigestRow, ExistingItem, ItemRow, OpportunityRow, PageTx, ProblemRow, StatusRow, StoredChild,
    StoredParent,
};
use crate::{StoreError, now_secs};

/// Stored items per row of a batch read (`live_items_after`), a literal for its SQL.
macro_rules! part_items {
    () => {
        100
    };
}
const PART_ITEMS: usize = part_items!();

/// Rows per multi-row statement: 13 columns x 1000 stays under SQLite's 32766 parameters.
const CHUNK: usize = 1000;

pub(crate) struct SqlitePageTx(pub Transaction<'static, Sqlite>);

/// `(select value from json_each(?))`: a list as one JSON parameter. Bound value by value, a
/// page's 500 ids cost sqlx two allocations and a copy each, and SQLite a third.
fn push_list<'a>(sql: &mut QueryBuilder<Sqlite>, values: impl IntoIterator<Item = &'a str>) {
    sql.push("(select value from json_each(")
        .push_bind(json_array(values))
        .push("))");
}

/// The values as a JSON array of strings.
fn json_array<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let values: Vec<&str> = values.into_iter().collect();
    // Serialising strings cannot fail.
    serde_json::to_string(&values).unwrap_or_default()
}

impl SqlitePageTx {
    /// Records that these opportunities changed, in the transaction that changed them: one
    /// change-log row for the statement (`migrations/sqlite/0010_change_log_per_statement.sql`),
    /// which is how every serving process's search index learns of it.
    async fn log_changes(&mut self, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.log_record(json_array(ids.iter().map(String::as_str)))
            .await
    }

    /// [`SqlitePageTx::log_changes`] for ids already written as a JSON array.
    async fn log_record(&mut self, ids: String) -> Result<(), StoreError> {
        sqlx::query("insert into opportunity_changes (at, ids) values (unixepoch(), ?)")
            .bind(ids)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
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
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let mut sql = QueryBuilder::<Sqlite>::new(
                "select item_id, modified, data_id, role from items where feed_id = ",
            );
            sql.push_bind(feed_id).push(" and item_id in ");
            push_list(&mut sql, chunk.iter().map(String::as_str));
            let rows: Vec<(String, i64, Option<String>, String)> =
                sql.build_query_as().fetch_all(&mut *self.0).await?;
            found.extend(
                rows.into_iter()
                    .map(|(item_id, modified, data_id, role)| ExistingItem {
                        item_id,
                        modified,
                        data_id,
                        role: ItemRole::parse(&role),
                    }),
            );
        }
        Ok(found)
    }

    async fn parents(&mut self, data_ids: &[String]) -> Result<Vec<StoredParent>, StoreError> {
        let mut found = Vec::new();
        for chunk in data_ids.chunks(CHUNK) {
            let mut sql = QueryBuilder::<Sqlite>::new(
                "select data_id, data from items where role = 'parent' and state = 'updated' and data_id in ",
            );
            push_list(&mut sql, chunk.iter().map(String::as_str));
            sql.push(" order by modified");
            let rows: Vec<(String, String)> = sql.build_query_as().fetch_all(&mut *self.0).await?;
            found.extend(
                rows.into_iter()
                    .map(|(data_id, data)| StoredParent { data_id, data }),
            );
        }
        Ok(found)
    }

    async fn live_items_after(
        &mut self,
        after: (i64, &str),
        limit: i64,
    ) -> Result<Vec<StoredChild>, StoreError> {
        // The batch in parts of PART_ITEMS items, one query each, every part starting after
        // the last key of the one before. Read as a row per item, sqlx's hand-off of every
        // row from its worker thread and its two copies of every value cost ~7 µs an item.
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
            let (fields, data): (String, Option<String>) = sqlx::query_as(concat!(
                "select json_group_array(json_array(json_array(feed_id, feed_url, item_id, kind, modified, role, \
                 data_id, parent_ref, status, problem, digest_opportunities, digest_problems, digest_ids), \
                 coalesce(octet_length(data), 0))), group_concat(data, '') \
                 from (",
                crate::sql::stored_children!(),
                " where i.state = 'updated' and (i.feed_id, i.item_id) > (?, ?) \
                 order by i.feed_id, i.item_id limit ",
                part_items!(),
                ")"
            ))
            .bind(after.0)
            .bind(&after.1)
            .fetch_one(&mut *self.0)
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
        let mut found = Vec::new();
        for chunk in parent_ids.chunks(CHUNK) {
            let mut sql = QueryBuilder::<Sqlite>::new(concat!(
                crate::sql::stored_children!(),
                " where i.state = 'updated' and i.parent_ref in "
            ));
            push_list(&mut sql, chunk.iter().map(String::as_str));
            let rows: Vec<StoredChild> = sql.build_query_as().fetch_all(&mut *self.0).await?;
            found.extend(rows);
        }
        Ok(found)
    }

    async fn upsert_items(&mut self, feed_id: i64, rows: Vec<ItemRow>) -> Result<(), StoreError> {
        // The rows' strings move into the statement's parameters.
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut sql = MultiRow::new(
                "insert into items (feed_id, item_id, kind, modified, state, role, data_id, parent_ref, data, status, problem)",
                11,
                rows.len().min(CHUNK),
            );
            for r in rows.by_ref().take(CHUNK) {
                sql.row()
                    .bind(feed_id)
                    .bind(r.item.id)
                    .bind(r.item.kind)
                    .bind(r.item.modified)
                    .bind_word(r.item.state.as_str())
                    .bind_word(r.item.role.as_str())
                    .bind(r.item.data_id)
                    .bind(r.item.parent_ref)
                    .bind(r.item.data_json)
                    .bind_word(r.status)
                    .bind(r.problem);
            }
            sql.finish(
                " on conflict (feed_id, item_id) do update set kind = excluded.kind, modified = excluded.modified, \
                 state = excluded.state, role = excluded.role, data_id = excluded.data_id, \
                 parent_ref = excluded.parent_ref, data = excluded.data, status = excluded.status, \
                 problem = excluded.problem",
            )?
            .execute(&mut *self.0)
            .await?;
        }
        Ok(())
    }

    async fn set_item_status(&mut self, rows: &[StatusRow]) -> Result<(), StoreError> {
        // One statement per chunk: sqlx runs each statement through its worker thread.
        for chunk in rows.chunks(CHUNK) {
            let mut sql = MultiRow::new(
                "with s(feed_id, item_id, status, problem) as (",
                4,
                chunk.len(),
            );
            for r in chunk {
                sql.row()
                    .bind(r.feed_id)
                    .bind(r.item_id.as_str())
                    .bind(r.status)
                    .bind(r.problem.as_deref());
            }
            sql.finish(
                ") update items set status = s.status, problem = s.problem from s \
                 where items.feed_id = s.feed_id and items.item_id = s.item_id",
            )?
            .execute(&mut *self.0)
            .await?;
        }
        Ok(())
    }

    async fn set_digests(&mut self, rows: Vec<DigestRow>) -> Result<(), StoreError> {
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut sql = MultiRow::new(
                "insert into item_digests (feed_id, item_id, opportunities, problems, opportunity_ids)",
                5,
                rows.len().min(CHUNK),
            );
            for r in rows.by_ref().take(CHUNK) {
                sql.row()
                    .bind(r.feed_id)
                    .bind(r.item_id)
                    .bind(r.digest.opportunities)
                    .bind(r.digest.problems)
                    .bind(r.digest.opportunity_ids);
            }
            sql.finish(
                " on conflict (feed_id, item_id) do update set \
                 opportunities = excluded.opportunities, problems = excluded.problems, \
                 opportunity_ids = excluded.opportunity_ids",
            )?
            .execute(&mut *self.0)
            .await?;
        }
        Ok(())
    }

    async fn series_with_children(
        &mut self,
        series_ids: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let mut found = HashSet::new();
        for chunk in series_ids.chunks(CHUNK) {
            let mut sql = QueryBuilder::<Sqlite>::new(
                "select distinct parent_ref from items where state = 'updated' and parent_ref in ",
            );
            push_list(&mut sql, chunk.iter().map(String::as_str));
            let rows: Vec<(String,)> = sql.build_query_as().fetch_all(&mut *self.0).await?;
            found.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(found)
    }

    async fn delete_generated(&mut self, series_ids: &[String]) -> Result<(), StoreError> {
        for chunk in series_ids.chunks(CHUNK) {
            let mut sql = QueryBuilder::<Sqlite>::new(
                "delete from item_digests where (feed_id, item_id) in (select p.feed_id, p.item_id \
                 from items p where p.role = 'parent' and p.state = 'updated' \
                 and exists (select 1 from opportunities o where o.feed_id = p.feed_id \
                 and o.item_id = p.item_id and o.parent_ref = p.data_id) and p.data_id in ",
            );
            push_list(&mut sql, chunk.iter().map(String::as_str));
            sql.push(")");
            sql.build().execute(&mut *self.0).await?;
            // Found through the series items (by `@id`, then their opportunities by source):
            // opportunities have no index on parent_ref, and scanning them for every page of
            // sessions made a large harvest quadratic.
            let mut sql = QueryBuilder::<Sqlite>::new(
                "delete from opportunities where rid in (select o.rid from items p \
                 join opportunities o on o.feed_id = p.feed_id and o.item_id = p.item_id \
                 and o.parent_ref = p.data_id \
                 where p.role = 'parent' and p.state = 'updated' and p.data_id in ",
            );
            push_list(&mut sql, chunk.iter().map(String::as_str));
            sql.push(") returning id");
            let deleted: Vec<String> = sql.build_query_scalar().fetch_all(&mut *self.0).await?;
            self.log_changes(&deleted).await?;
        }
        Ok(())
    }

    async fn replace_problems(
        &mut self,
        sources: &[(i64, String)],
        rows: &[ProblemRow],
    ) -> Result<(), StoreError> {
        let mut by_feed: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
        for (feed_id, item_id) in sources {
            by_feed.entry(*feed_id).or_default().push(item_id);
        }
        for (feed_id, item_ids) in &by_feed {
            for chunk in item_ids.chunks(CHUNK) {
                let mut sql =
                    QueryBuilder::<Sqlite>::new("delete from item_problems where feed_id = ");
                sql.push_bind(*feed_id).push(" and item_id in ");
                push_list(&mut sql, chunk.iter().copied());
                sql.build().execute(&mut *self.0).await?;
            }
        }
        for chunk in rows.chunks(CHUNK) {
            let mut sql = QueryBuilder::<Sqlite>::new(
                "insert into item_problems (feed_id, item_id, code, detail) ",
            );
            sql.push_values(chunk, |mut row, r| {
                row.push_bind(r.feed_id)
                    .push_bind(r.item_id.clone())
                    .push_bind(r.code.clone())
                    .push_bind(r.detail.clone());
            });
            sql.build().execute(&mut *self.0).await?;
        }
        Ok(())
    }

    async fn replace_opportunities(
        &mut self,
        sources: &[(i64, String)],
        rows: Vec<OpportunityRow>,
    ) -> Result<(), StoreError> {
        let mut by_feed: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
        for (feed_id, item_id) in sources {
            by_feed.entry(*feed_id).or_default().push(item_id);
        }
        // Only the opportunities that went are deleted; the rest are upserted below, in place
        // rather than deleted and inserted again.
        for (feed_id, item_ids) in &by_feed {
            for chunk in item_ids.chunks(CHUNK) {
                let in_chunk: HashSet<&str> = chunk.iter().copied().collect();
                let kept: Vec<&str> = rows
                    .iter()
                    .filter(|r| r.feed_id == *feed_id && in_chunk.contains(r.item_id.as_str()))
                    .map(|r| r.id.as_str())
                    .collect();
                let mut sql =
                    QueryBuilder::<Sqlite>::new("delete from opportunities where feed_id = ");
                sql.push_bind(*feed_id).push(" and item_id in ");
                push_list(&mut sql, chunk.iter().copied());
                // One JSON array parameter: a chunk's items can have more opportunities than
                // SQLite allows bound parameters.
                sql.push(" and id not in (select value from json_each(")
                    .push_bind(json_array(kept))
                    .push(")) returning id");
                let deleted: Vec<String> = sql.build_query_scalar().fetch_all(&mut *self.0).await?;
                self.log_changes(&deleted).await?;
            }
        }
        let mut rows = rows;
        while !rows.is_empty() {
            let chunk: Vec<OpportunityRow> = rows.drain(..rows.len().min(CHUNK)).collect();
            // Named before the rows move into the statement.
            let written = json_array(chunk.iter().map(|r| r.id.as_str()));
            let mut sql = MultiRow::new(
                "insert into opportunities (id, feed_id, item_id, kind, start_at, end_at, lat, lng, status, modified, parent_ref, doc)",
                12,
                chunk.len(),
            );
            for r in chunk {
                sql.row()
                    .bind(r.id)
                    .bind(r.feed_id)
                    .bind(r.item_id)
                    .bind_word(r.kind)
                    .bind(r.start_at)
                    .bind(r.end_at)
                    .bind(r.lat)
                    .bind(r.lng)
                    .bind_word(r.status)
                    .bind(r.modified)
                    .bind(r.parent_ref)
                    .bind(r.doc);
            }
            // An id is a digest of its feed's URL and item id (`oa_model::opportunity_id`), so
            // a stored row with the same id has the same feed_id and item_id: leaving them out
            // of the update spares SQLite rewriting the row's entry in `opportunities_by_source`.
            sql.finish(
                " on conflict (id) do update set kind = excluded.kind, start_at = excluded.start_at, end_at = excluded.end_at, lat = excluded.lat, \
                 lng = excluded.lng, status = excluded.status, modified = excluded.modified, \
                 parent_ref = excluded.parent_ref, doc = excluded.doc",
            )?
            .execute(&mut *self.0)
            .await?;
            self.log_record(written).await?;
        }
        Ok(())
    }

    async fn finish_page(&mut self, feed_id: i64, next: &str) -> Result<(), StoreError> {
        sqlx::query(crate::sql::FINISH_PAGE)
            .bind(next)
            .bind(now_secs())
            .bind(feed_id)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}
