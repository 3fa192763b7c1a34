//! The opportunity rows a page transaction writes on SQLite, with the tails of their
//! documents (`crate::document_tails`): rows that went deleted, stored ones rewritten in
//! place, new ones inserted with their ids recorded (`super::opportunity_ids`).

use hashbrown::{HashMap, HashSet};

use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::item_keys::{InsertedRows, rid_of_key, rids_of_items};
use super::opportunity_ids::{self, ID_IN, MIDDLE_KEYS_MAX};
use super::page_tx::{by_feed, json_array, log_record};
use super::recent_keys::RECENT_KEYS_MAX;
use crate::document_tails::{SharedTail, released};
use crate::page::OpportunityRow;

/// Makes `rows` the opportunities of these source items (see `PageTx::replace_opportunities`).
pub(super) fn replace(
    conn: &Connection,
    sources: &[(i64, String)],
    rows: &[OpportunityRow],
    tails: &[SharedTail],
    inserted: &InsertedRows,
) -> rusqlite::Result<()> {
    let written = json_array(rows.iter().map(|r| r.id.as_str()));
    // The stored rows of these ids, rewritten in place, and the tails these writes may
    // leave unused. A row made from an item never stored before names none.
    let mut stored: HashMap<String, i64> = HashMap::new();
    let mut old_tails: Vec<i64> = Vec::new();
    if rows.iter().any(|r| !r.first_seen) {
        let rewritten = json_array(rows.iter().filter(|r| !r.first_seen).map(|r| r.id.as_str()));
        let mut read = conn.prepare_cached(&format!(
            "select o.id, o.rid, o.tail_id from opportunities o where {ID_IN}\
             select value from json_each(?1)))"
        ))?;
        let mut found = read.query([&rewritten])?;
        while let Some(row) = found.next()? {
            stored.insert(row.get(0)?, row.get(1)?);
            old_tails.extend(row.get::<_, Option<i64>>(2)?);
        }
    }
    // Only the opportunities that went are deleted; the rest are rewritten below, in
    // place rather than deleted and inserted again.
    for (feed_id, item_ids) in by_feed(sources) {
        let in_items: HashSet<&str> = item_ids.iter().copied().collect();
        let kept = json_array(
            rows.iter()
                .filter(|r| r.feed_id == feed_id && in_items.contains(r.item_id.as_str()))
                .map(|r| r.id.as_str()),
        );
        let deleted: Vec<(String, Option<i64>)> = conn
            .prepare_cached(concat!(
                "delete from opportunities where item_rid in (",
                rids_of_items!(),
                ") and id not in (select value from json_each(?3)) returning id, tail_id"
            ))?
            .query_map(
                rusqlite::params![feed_id, json_array(item_ids), kept],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?
            .collect::<rusqlite::Result<_>>()?;
        let (deleted, freed): (Vec<String>, Vec<Option<i64>>) = deleted.into_iter().unzip();
        old_tails.extend(freed.into_iter().flatten());
        forget_deleted(conn, &deleted)?;
    }
    if !rows.is_empty() {
        let tail_ids = insert_tails(conn, tails)?;
        // The item's row was written before its opportunities (`page_write`), and its
        // key is in the cache (most often in the recent keys, asked first). An id is a digest of its feed's URL and item id
        // (`oa_model::opportunity_id`), so a stored row with the same id has the same
        // item: the update leaves `feed_id`, `item_id` and `item_rid` as they are.
        let mut insert = conn.prepare_cached(concat!(
            "insert into opportunities (id, feed_id, item_id, kind, start_at, end_at, lat, lng, status, modified, parent_ref, doc, tail_id, item_rid) \
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, coalesce(?14, ",
            rid_of_key!("?2", "?3"),
            "))"
        ))?;
        let mut update = conn.prepare_cached(
            "update opportunities set kind = ?2, start_at = ?3, end_at = ?4, lat = ?5, lng = ?6, \
             status = ?7, modified = ?8, parent_ref = ?9, doc = ?10, tail_id = ?11 where rid = ?1",
        )?;
        for r in rows {
            let tail = r.tail.map(|n| tail_ids[n]);
            // What both statements write, after what picks the row (`?1`, or `?1`-`?3`).
            let fields: [&dyn ToSql; 10] = [
                &r.kind,
                &r.start_at,
                &r.end_at,
                &r.lat,
                &r.lng,
                &r.status,
                &r.modified,
                &r.parent_ref,
                &r.doc,
                &tail,
            ];
            if let Some(rid) = stored.get(r.id.as_str()) {
                let row: [&dyn ToSql; 1] = [rid];
                update.execute(params_from_iter(row.into_iter().chain(fields)))?;
                continue;
            }
            let row: [&dyn ToSql; 3] = [&r.id, &r.feed_id, &r.item_id];
            let item_rid = inserted.rid(r.feed_id, &r.item_id);
            insert.execute(params_from_iter(
                row.into_iter()
                    .chain(fields)
                    .chain([&item_rid as &dyn ToSql]),
            ))?;
            let rid = conn.last_insert_rowid();
            opportunity_ids::remember(conn, &r.id, rid)?;
            // The same id twice in these rows is written once, as the upsert it replaces did.
            stored.insert(r.id.clone(), rid);
        }
        log_record(conn, &written)?;
        opportunity_ids::settle_when_full(conn, RECENT_KEYS_MAX, MIDDLE_KEYS_MAX)?;
    }
    release_tails(conn, old_tails)
}

/// Forgets deleted opportunities' ids and logs the change.
pub(super) fn forget_deleted(conn: &Connection, deleted: &[String]) -> rusqlite::Result<()> {
    if deleted.is_empty() {
        return Ok(());
    }
    let ids = json_array(deleted.iter().map(String::as_str));
    opportunity_ids::forget(conn, &ids)?;
    log_record(conn, &ids)
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
