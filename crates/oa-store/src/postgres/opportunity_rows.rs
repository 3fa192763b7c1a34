//! The opportunity rows a chunk writes on PostgreSQL, with the tails of their documents
//! (`crate::document_tails`): rows that went deleted first, then the rest inserted or
//! upserted as arrays, in the chunk's one statement of inserts.

use super::inserts::{Inserts, in_step};
use super::page_tx::{PgPageTx, ids_by_feed};
use crate::StoreError;
use crate::document_tails::{SharedTail, released};
use crate::page::OpportunityRow;

/// Deletes the stored opportunities of these source items that `rows` do not keep; returns
/// the tails that the deleted rows, and the stored rows `rows` will rewrite, pointed at.
pub(super) async fn delete_replaced(
    tx: &mut PgPageTx,
    sources: &[(i64, String)],
    rows: &[OpportunityRow],
) -> Result<Vec<i64>, StoreError> {
    // Rows stored before may point at tails these writes leave unused.
    let rewritten: Vec<&str> = rows
        .iter()
        .filter(|r| !r.first_seen)
        .map(|r| r.id.as_str())
        .collect();
    let mut old_tails: Vec<i64> = Vec::new();
    if !rewritten.is_empty() {
        old_tails = sqlx::query_scalar(
            "select tail_id from opportunities where id = any($1) and tail_id is not null",
        )
        .bind(&rewritten)
        .fetch_all(&mut *tx.0)
        .await?;
    }
    for (feed_id, item_ids) in ids_by_feed(sources) {
        let kept: Vec<&str> = rows
            .iter()
            .filter(|r| r.feed_id == feed_id)
            .map(|r| r.id.as_str())
            .collect();
        // Each source's own row by its id, its occurrences through their index (`own_ids`).
        let own_ids = item_ids
            .iter()
            .map(|item_id| tx.1.own_id(feed_id, item_id))
            .collect::<Result<Vec<String>, StoreError>>()?;
        let deleted: Vec<Option<i64>> = sqlx::query_scalar(
            "delete from opportunities where (id = any($4) \
             or (feed_id = $1 and item_id = any($2) and occurrence)) \
             and not (id = any($3)) returning tail_id",
        )
        .bind(feed_id)
        .bind(item_ids)
        .bind(kept)
        .bind(own_ids)
        .fetch_all(&mut *tx.0)
        .await?;
        old_tails.extend(deleted.into_iter().flatten());
    }
    Ok(old_tails)
}

/// Adds `rows` and their `tails` to the chunk's inserts: each tail a new row, its rid the
/// sequence's next, which the rows pointing at it (by their `tail`, its index) take.
pub(super) fn insert(
    inserts: &mut Inserts,
    rows: Vec<OpportunityRow>,
    tails: Vec<SharedTail>,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let refs = inserts.bind(tails.iter().map(|t| t.refs).collect::<Vec<_>>(), "bigint[]")?;
    let bodies = inserts.bind(
        tails.iter().map(|t| t.body.as_str()).collect::<Vec<_>>(),
        "text[]",
    )?;
    inserts.select_part(
        "tails",
        &format!(
            "select nextval(pg_get_serial_sequence('document_tails', 'rid')) as rid, refs, body, n \
             from unnest({refs}, {bodies}) with ordinality as t(refs, body, n)"
        ),
    );
    inserts.part(
        "tails_stored",
        "insert into document_tails (rid, refs, body) select rid, refs, body from tails",
    );
    let (first_seen, stored): (Vec<OpportunityRow>, Vec<OpportunityRow>) =
        rows.into_iter().partition(|r| r.first_seen);
    opportunities(inserts, "opportunities_new", &first_seen, "")?;
    opportunities(
        inserts,
        "opportunities_stored",
        &stored,
        OPPORTUNITIES_ON_CONFLICT,
    )
}

/// How a stored opportunity is replaced (as `super::chunk_rows`' items are). The update
/// leaves feed_id and item_id: the id is a digest of both (as on SQLite).
const OPPORTUNITIES_ON_CONFLICT: &str = " on conflict (id) do update set kind = excluded.kind, \
    start_at = excluded.start_at, end_at = excluded.end_at, lat = excluded.lat, \
    lng = excluded.lng, geo = excluded.geo, status = excluded.status, \
    modified = excluded.modified, parent_ref = excluded.parent_ref, doc = excluded.doc, \
    tail_id = excluded.tail_id, occurrence = excluded.occurrence";

/// Counts off the rows that no longer point at these tails (a tail once per row); deletes
/// a tail no row points at any more.
pub(super) async fn release_tails(
    tx: &mut PgPageTx,
    old_tails: Vec<i64>,
) -> Result<(), StoreError> {
    let (rids, rows): (Vec<i64>, Vec<i64>) = released(old_tails).into_iter().unzip();
    if rids.is_empty() {
        return Ok(());
    }
    // Two statements: a delete in the statement that updated the same row (as a
    // data-modifying `with`) would not see the update, and would skip the row.
    let counted: Vec<Option<i64>> = sqlx::query_scalar(
        "update document_tails t set refs = t.refs - c.rows \
         from unnest($1::bigint[], $2::bigint[]) as c(rid, rows) where t.rid = c.rid \
         returning case when t.refs <= 0 then t.rid end",
    )
    .bind(rids)
    .bind(rows)
    .fetch_all(&mut *tx.0)
    .await?;
    let unused: Vec<i64> = counted.into_iter().flatten().collect();
    if !unused.is_empty() {
        sqlx::query("delete from document_tails where rid = any($1)")
            .bind(unused)
            .execute(&mut *tx.0)
            .await?;
    }
    Ok(())
}

/// Adds opportunity rows as arrays, with `on_conflict` after the rows; a row's `tail`
/// numbers a row of the `tails` part.
fn opportunities(
    inserts: &mut Inserts,
    name: &str,
    rows: &[OpportunityRow],
    on_conflict: &str,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let columns = [
        inserts.bind(
            rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            "text[]",
        )?,
        inserts.bind(
            rows.iter().map(|r| r.feed_id).collect::<Vec<_>>(),
            "bigint[]",
        )?,
        inserts.bind(
            rows.iter().map(|r| r.item_id.as_str()).collect::<Vec<_>>(),
            "text[]",
        )?,
        inserts.bind(rows.iter().map(|r| r.kind).collect::<Vec<_>>(), "text[]")?,
        inserts.bind(
            rows.iter().map(|r| r.start_at).collect::<Vec<_>>(),
            "bigint[]",
        )?,
        inserts.bind(
            rows.iter().map(|r| r.end_at).collect::<Vec<_>>(),
            "bigint[]",
        )?,
        inserts.bind(rows.iter().map(|r| r.lat).collect::<Vec<_>>(), "float8[]")?,
        inserts.bind(rows.iter().map(|r| r.lng).collect::<Vec<_>>(), "float8[]")?,
        inserts.bind(rows.iter().map(|r| r.status).collect::<Vec<_>>(), "text[]")?,
        inserts.bind(
            rows.iter().map(|r| r.modified).collect::<Vec<_>>(),
            "bigint[]",
        )?,
        inserts.bind(
            rows.iter()
                .map(|r| r.parent_ref.as_deref())
                .collect::<Vec<_>>(),
            "text[]",
        )?,
        // Numbered from 1, as `with ordinality` numbers the tails.
        inserts.bind(
            rows.iter()
                .map(|r| r.tail.map(|n| n as i64 + 1))
                .collect::<Vec<_>>(),
            "bigint[]",
        )?,
        inserts.bind(
            rows.iter().map(|r| r.doc.as_str()).collect::<Vec<_>>(),
            "text[]",
        )?,
        inserts.bind(
            rows.iter().map(|r| r.occurrence).collect::<Vec<_>>(),
            "boolean[]",
        )?,
    ];
    inserts.part(
        name,
        &format!(
            "insert into opportunities (id, feed_id, item_id, kind, start_at, end_at, lat, lng, geo, status, \
             modified, parent_ref, doc, tail_id, occurrence) \
             select r.id, r.feed_id, r.item_id, r.kind, r.start_at, r.end_at, r.lat, r.lng, \
             case when r.lat is not null and r.lng is not null then point(r.lng, r.lat) end, r.status, \
             r.modified, r.parent_ref, r.doc, tails.rid, r.occurrence \
             from (select {}) as r(id, feed_id, item_id, kind, start_at, end_at, lat, lng, status, \
             modified, parent_ref, tail, doc, occurrence) left join tails on tails.n = r.tail{on_conflict}",
            in_step(&columns)
        ),
    );
    Ok(())
}
