//! A chunk's rows on PostgreSQL (`PageTx::write_rows`): the deletes of what they replace
//! first, then every insert in one statement ([`Inserts`]), then the stored children's
//! statuses.

use super::inserts::{Inserts, in_step};
use super::opportunity_rows;
use super::page_tx::{PgPageTx, by_feed, ids_by_feed};
use crate::StoreError;
use crate::digest::Digest;
use crate::document_tails::SharedTail;
use crate::page::{ItemRow, ProblemRow, StatusRow};
use crate::page_write::ChunkWrite;

/// Writes a chunk's rows (`PageTx::write_rows`). The inserts come after the deletes, which
/// read the rows they replace (and the tails those point at), and touch different rows
/// from each other and from the statuses written after them.
pub(super) async fn write(
    tx: &mut PgPageTx,
    page_feed: Option<i64>,
    mut chunk: ChunkWrite,
    tails: Vec<SharedTail>,
) -> Result<(), StoreError> {
    let feeds = chunk.opportunity_sources.iter().map(|s| s.0);
    tx.1.know(&mut tx.0, feeds).await?;
    let old_tails =
        opportunity_rows::delete_replaced(tx, &chunk.opportunity_sources, &chunk.rows).await?;
    delete_problems(tx, &chunk.problem_sources).await?;
    let mut inserts = Inserts::default();
    if let Some(feed_id) = page_feed {
        let (first_seen, stored): (Vec<ItemRow>, Vec<ItemRow>) = std::mem::take(&mut chunk.items)
            .into_iter()
            .partition(|r| r.first_seen);
        items(&mut inserts, "items_new", feed_id, &first_seen, "")?;
        items(
            &mut inserts,
            "items_stored",
            feed_id,
            &stored,
            ITEMS_ON_CONFLICT,
        )?;
    }
    opportunity_rows::insert(&mut inserts, std::mem::take(&mut chunk.rows), tails)?;
    problems(&mut inserts, &chunk.problems)?;
    inserts.execute(tx).await?;
    set_item_status(tx, &chunk.statuses).await?;
    opportunity_rows::release_tails(tx, old_tails).await
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

/// Adds a page's item rows as arrays, with `on_conflict` after the rows.
fn items(
    inserts: &mut Inserts,
    name: &str,
    feed_id: i64,
    rows: &[ItemRow],
    on_conflict: &str,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let text = |f: fn(&ItemRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let optional =
        |f: fn(&ItemRow) -> Option<&str>| rows.iter().map(f).collect::<Vec<Option<&str>>>();
    let digests = |f: fn(Digest) -> i64| {
        rows.iter()
            .map(|r| r.digest.map(f))
            .collect::<Vec<Option<i64>>>()
    };
    let columns = [
        inserts.bind(text(|r| &r.item.id), "text[]")?,
        inserts.bind(text(|r| &r.item.kind), "text[]")?,
        inserts.bind(
            rows.iter().map(|r| r.item.modified).collect::<Vec<_>>(),
            "bigint[]",
        )?,
        inserts.bind(text(|r| r.item.state.as_str()), "text[]")?,
        inserts.bind(text(|r| r.item.role.as_str()), "text[]")?,
        inserts.bind(optional(|r| r.item.data_id.as_deref()), "text[]")?,
        inserts.bind(optional(|r| r.item.parent_ref.as_deref()), "text[]")?,
        inserts.bind(optional(|r| r.item.data_json.as_deref()), "text[]")?,
        inserts.bind(text(|r| r.status), "text[]")?,
        inserts.bind(optional(|r| r.problem.as_deref()), "text[]")?,
        inserts.bind(digests(|d| d.opportunities), "bigint[]")?,
        inserts.bind(digests(|d| d.problems), "bigint[]")?,
        inserts.bind(digests(|d| d.opportunity_ids), "bigint[]")?,
    ];
    let feed = inserts.bind(feed_id, "bigint")?;
    inserts.part(
        name,
        &format!(
            "insert into items (feed_id, item_id, kind, modified, state, role, data_id, parent_ref, data, \
             status, problem, digest_opportunities, digest_problems, digest_ids) \
             select {feed}, {}{on_conflict}",
            in_step(&columns)
        ),
    );
    Ok(())
}

/// Adds the chunk's problems.
fn problems(inserts: &mut Inserts, rows: &[ProblemRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let text = |f: fn(&ProblemRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let feeds = inserts.bind(
        rows.iter().map(|r| r.feed_id).collect::<Vec<_>>(),
        "bigint[]",
    )?;
    let items = inserts.bind(text(|r| &r.item_id), "text[]")?;
    let codes = inserts.bind(text(|r| &r.code), "text[]")?;
    let details = inserts.bind(text(|r| &r.detail), "text[]")?;
    inserts.part(
        "problems",
        &format!(
            "insert into item_problems (feed_id, item_id, code, detail) \
             select {}",
            in_step(&[feeds, items, codes, details])
        ),
    );
    Ok(())
}

/// Deletes every problem of these source items.
async fn delete_problems(tx: &mut PgPageTx, sources: &[(i64, String)]) -> Result<(), StoreError> {
    for (feed_id, item_ids) in ids_by_feed(sources) {
        sqlx::query("delete from item_problems where feed_id = $1 and item_id = any($2)")
            .bind(feed_id)
            .bind(item_ids)
            .execute(&mut *tx.0)
            .await?;
    }
    Ok(())
}

/// Stored children's new statuses, per feed (see `page_tx::by_feed`).
async fn set_item_status(tx: &mut PgPageTx, rows: &[StatusRow]) -> Result<(), StoreError> {
    for (feed_id, rows) in by_feed(rows, |r| r.feed_id) {
        let ids: Vec<&str> = rows.iter().map(|r| r.item_id.as_str()).collect();
        sqlx::query(
            "update items i set status = u.status, problem = u.problem \
             from unnest($2::text[], $3::text[], $4::text[]) as u(item_id, status, problem) \
             where i.feed_id = $1 and i.item_id = any($2) and i.item_id = u.item_id",
        )
        .bind(feed_id)
        .bind(&ids)
        .bind(rows.iter().map(|r| r.status).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.problem.as_deref())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx.0)
        .await?;
    }
    Ok(())
}
