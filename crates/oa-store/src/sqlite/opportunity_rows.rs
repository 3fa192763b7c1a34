//! The opportunity rows a page transaction writes on SQLite, with the tails of their
//! documents (`crate::document_tails`): rows that went deleted, the rest upserted.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension};

use super::page_tx::{by_feed, json_array, log_changes, log_record};
use crate::document_tails::{SharedTail, released};
use crate::page::OpportunityRow;

/// Makes `rows` the opportunities of these source items (see `PageTx::replace_opportunities`).
pub(super) fn replace(
    conn: &Connection,
    sources: &[(i64, String)],
    rows: &[OpportunityRow],
    tails: &[SharedTail],
) -> rusqlite::Result<()> {
    let written = json_array(rows.iter().map(|r| r.id.as_str()));
    // Rows stored before may point at tails these writes leave unused.
    let mut old_tails: Vec<i64> = Vec::new();
    if rows.iter().any(|r| !r.first_seen) {
        let rewritten = json_array(rows.iter().filter(|r| !r.first_seen).map(|r| r.id.as_str()));
        old_tails = conn
            .prepare_cached(
                "select tail_id from opportunities where id in (select value from json_each(?1)) \
                 and tail_id is not null",
            )?
            .query_map([&rewritten], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
    }
    // Only the opportunities that went are deleted; the rest are upserted below, in
    // place rather than deleted and inserted again.
    for (feed_id, item_ids) in by_feed(sources) {
        let in_items: HashSet<&str> = item_ids.iter().copied().collect();
        let kept = json_array(
            rows.iter()
                .filter(|r| r.feed_id == feed_id && in_items.contains(r.item_id.as_str()))
                .map(|r| r.id.as_str()),
        );
        let deleted: Vec<(String, Option<i64>)> = conn
            .prepare_cached(
                "delete from opportunities where item_rid in (select rid from items \
                 where feed_id = ?1 and item_id in (select value from json_each(?2))) \
                 and id not in (select value from json_each(?3)) returning id, tail_id",
            )?
            .query_map(
                rusqlite::params![feed_id, json_array(item_ids), kept],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?
            .collect::<rusqlite::Result<_>>()?;
        let (deleted, freed): (Vec<String>, Vec<Option<i64>>) = deleted.into_iter().unzip();
        old_tails.extend(freed.into_iter().flatten());
        log_changes(conn, &deleted)?;
    }
    if !rows.is_empty() {
        let tail_ids = insert_tails(conn, tails)?;
        // An id is a digest of its feed's URL and item id (`oa_model::opportunity_id`), so
        // a stored row with the same id has the same item: leaving it out of the update
        // spares SQLite rewriting the row's entry in `opportunities_by_item`. The item's
        // row was written before its opportunities (`page_write`), and its key's leaf is
        // in the cache.
        let mut upsert = conn.prepare_cached(
            "insert into opportunities (id, feed_id, item_id, kind, start_at, end_at, lat, lng, status, modified, parent_ref, doc, tail_id, item_rid) \
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, \
             (select rid from items where feed_id = ?2 and item_id = ?3)) \
             on conflict (id) do update set kind = excluded.kind, start_at = excluded.start_at, end_at = excluded.end_at, lat = excluded.lat, \
             lng = excluded.lng, status = excluded.status, modified = excluded.modified, \
             parent_ref = excluded.parent_ref, doc = excluded.doc, tail_id = excluded.tail_id",
        )?;
        for r in rows {
            upsert.execute(rusqlite::params![
                r.id,
                r.feed_id,
                r.item_id,
                r.kind,
                r.start_at,
                r.end_at,
                r.lat,
                r.lng,
                r.status,
                r.modified,
                r.parent_ref,
                r.doc,
                r.tail.map(|n| tail_ids[n]),
            ])?;
        }
        log_record(conn, &written)?;
    }
    release_tails(conn, old_tails)
}

/// Stores the tails of the documents about to be written, each as a new row; their rids,
/// in order.
fn insert_tails(conn: &Connection, tails: &[SharedTail]) -> rusqlite::Result<Vec<i64>> {
    let mut insert =
        conn.prepare_cached("insert into document_tails (refs, body) values (?1, ?2)")?;
    tails
        .iter()
        .map(|tail| {
            insert.execute(rusqlite::params![tail.refs, tail.body])?;
            Ok(conn.last_insert_rowid())
        })
        .collect()
}

/// Counts off the rows that no longer point at these tails (a tail once per row); deletes
/// a tail no row points at any more.
pub(super) fn release_tails(
    conn: &Connection,
    old_tails: impl IntoIterator<Item = i64>,
) -> rusqlite::Result<()> {
    let released = released(old_tails);
    if released.is_empty() {
        return Ok(());
    }
    let mut count_off = conn.prepare_cached(
        "update document_tails set refs = refs - ?2 where rid = ?1 returning refs",
    )?;
    let mut delete = conn.prepare_cached("delete from document_tails where rid = ?1")?;
    for (rid, rows) in released {
        let left: Option<i64> = count_off
            .query_row(rusqlite::params![rid, rows], |row| row.get(0))
            .optional()?;
        if left.is_some_and(|left| left <= 0) {
            delete.execute([rid])?;
        }
    }
    Ok(())
}
