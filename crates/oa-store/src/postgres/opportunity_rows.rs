//! The opportunity rows a page transaction writes on PostgreSQL, with the tails of their
//! documents (`crate::document_tails`): rows that went deleted, the rest inserted or
//! upserted as arrays.

use super::page_tx::{PgPageTx, by_feed};
use crate::StoreError;
use crate::document_tails::{SharedTail, released};
use crate::page::OpportunityRow;

/// Makes `rows` the opportunities of these source items (see `PageTx::replace_opportunities`).
pub(super) async fn replace(
    tx: &mut PgPageTx,
    sources: &[(i64, String)],
    rows: Vec<OpportunityRow>,
    tails: Vec<SharedTail>,
) -> Result<(), StoreError> {
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
    for (feed_id, item_ids) in by_feed(sources) {
        let kept: Vec<&str> = rows
            .iter()
            .filter(|r| r.feed_id == feed_id)
            .map(|r| r.id.as_str())
            .collect();
        let deleted: Vec<Option<i64>> = sqlx::query_scalar(
            "delete from opportunities where feed_id = $1 and item_id = any($2) \
             and not (id = any($3)) returning tail_id",
        )
        .bind(feed_id)
        .bind(item_ids)
        .bind(kept)
        .fetch_all(&mut *tx.0)
        .await?;
        old_tails.extend(deleted.into_iter().flatten());
    }
    let tail_ids = insert_tails(tx, tails).await?;
    let (first_seen, stored): (Vec<OpportunityRow>, Vec<OpportunityRow>) =
        rows.into_iter().partition(|r| r.first_seen);
    write_opportunities(tx, first_seen, &tail_ids, "").await?;
    write_opportunities(tx, stored, &tail_ids, OPPORTUNITIES_ON_CONFLICT).await?;
    release_tails(tx, old_tails).await
}

/// How a stored opportunity is replaced (as `super::page_tx`'s items are). The update leaves
/// feed_id and item_id: the id is a digest of both (as on SQLite).
const OPPORTUNITIES_ON_CONFLICT: &str = " on conflict (id) do update set kind = excluded.kind, \
    start_at = excluded.start_at, end_at = excluded.end_at, lat = excluded.lat, \
    lng = excluded.lng, geo = excluded.geo, status = excluded.status, \
    modified = excluded.modified, parent_ref = excluded.parent_ref, doc = excluded.doc, \
    tail_id = excluded.tail_id";

/// Stores the tails of the documents about to be written, each as a new row; their rids,
/// in order (taken from the sequence first: the order of an insert's `returning` rows is
/// not promised).
async fn insert_tails(tx: &mut PgPageTx, tails: Vec<SharedTail>) -> Result<Vec<i64>, StoreError> {
    if tails.is_empty() {
        return Ok(Vec::new());
    }
    let rids: Vec<i64> = sqlx::query_scalar(
        "select nextval(pg_get_serial_sequence('document_tails', 'rid')) from generate_series(1, $1)",
    )
    .bind(tails.len() as i64)
    .fetch_all(&mut *tx.0)
    .await?;
    let refs: Vec<i64> = tails.iter().map(|t| t.refs).collect();
    let bodies: Vec<String> = tails.into_iter().map(|t| t.body).collect();
    sqlx::query(
        "insert into document_tails (rid, refs, body) \
         select * from unnest($1::bigint[], $2::bigint[], $3::text[])",
    )
    .bind(&rids)
    .bind(refs)
    .bind(bodies)
    .execute(&mut *tx.0)
    .await?;
    Ok(rids)
}

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

/// Inserts opportunity rows as arrays, with `on_conflict` after the rows; a row's `tail`
/// indexes `tail_ids`.
async fn write_opportunities(
    tx: &mut PgPageTx,
    rows: Vec<OpportunityRow>,
    tail_ids: &[i64],
    on_conflict: &str,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "insert into opportunities (id, feed_id, item_id, kind, start_at, end_at, lat, lng, geo, status, modified, parent_ref, doc, tail_id) \
         select id, feed_id, item_id, kind, start_at, end_at, lat, lng, \
         case when lat is not null and lng is not null then point(lng, lat) end, status, modified, parent_ref, doc, tail_id \
         from unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], \
         $7::float8[], $8::float8[], $9::text[], $10::bigint[], $11::text[], $12::bigint[], $13::text[]) \
         as r(id, feed_id, item_id, kind, start_at, end_at, lat, lng, status, modified, parent_ref, tail_id, doc){on_conflict}"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.feed_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.item_id.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.kind).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.start_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.end_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.lat).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.lng).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.status).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.modified).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.parent_ref.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.tail.map(|n| tail_ids[n]))
                .collect::<Vec<_>>(),
        )
        .bind(rows.into_iter().map(|r| r.doc).collect::<Vec<_>>())
        .execute(&mut *tx.0)
        .await?;
    Ok(())
}
