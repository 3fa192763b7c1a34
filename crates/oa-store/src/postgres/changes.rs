//! What the in-memory search index reads from PostgreSQL: its rows, and the change log the
//! triggers write. Pages commit concurrently, out of `seq` order, so a reader's mark is the
//! oldest transaction still running when it read (`pg_snapshot_xmin`): the next read starts
//! there, re-reading a little rather than missing a late commit. A mark also names the
//! server's life it was read in (migration 15): after a crash recovery, which may reuse
//! transaction ids, its reader reloads.

use sqlx::PgPool;

use futures::TryStreamExt;

use crate::sql::{self, CANDIDATE_COLUMNS, INDEX_COLUMNS, INDEX_ROWS, OCCURRENCE_COLUMNS};
use crate::types::CandidateDoc;
use crate::{ChangeBatch, ChangeMark, IndexRow, MAX_CHANGES, Occurrence, StoreError};

pub(super) async fn for_each_index_row(
    pool: &PgPool,
    each: &mut (dyn FnMut(IndexRow) + Send),
) -> Result<(), StoreError> {
    let mut rows = sqlx::query_as::<_, IndexRow>(INDEX_ROWS).fetch(pool);
    while let Some(row) = rows.try_next().await? {
        each(row);
    }
    Ok(())
}

pub(super) async fn index_rows_by_id(
    pool: &PgPool,
    ids: &[String],
) -> Result<Vec<IndexRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{INDEX_COLUMNS} where o.id = any($1)"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

pub(super) async fn candidate_docs_by_id(
    pool: &PgPool,
    ids: &[String],
) -> Result<Vec<CandidateDoc>, StoreError> {
    let rows: Vec<CandidateDoc> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{CANDIDATE_COLUMNS} where o.id = any($1)"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

pub(super) async fn occurrences_by_id(
    pool: &PgPool,
    ids: &[String],
) -> Result<Vec<Occurrence>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{OCCURRENCE_COLUMNS} where o.id = any($1)"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

pub(super) async fn changes_since(
    pool: &PgPool,
    mark: Option<ChangeMark>,
) -> Result<ChangeBatch, StoreError> {
    // Taken before reading, so whatever commits after this read is at or past it.
    let (position, token): (i64, Option<i64>) = sqlx::query_as(
        "select pg_snapshot_xmin(pg_current_snapshot())::text::bigint, \
         (select token from server_incarnation where id = 1)",
    )
    .fetch_one(pool)
    .await?;
    let incarnation = match token {
        Some(token) => token,
        None => new_incarnation(pool).await?,
    };
    let next_mark = ChangeMark {
        position,
        incarnation,
    };
    let Some(mark) = mark else {
        return Ok(ChangeBatch {
            mark: next_mark,
            ..ChangeBatch::default()
        });
    };
    if mark.incarnation != incarnation {
        tracing::warn!(
            "the database recovered from a crash since the search index last read its changes: reloading the index"
        );
        return Ok(ChangeBatch {
            mark: next_mark,
            overflow: true,
            ..ChangeBatch::default()
        });
    }
    let ids: Vec<String> = sqlx::query_scalar(
        "select unnest(ids) from opportunity_changes where xid >= $1::bigint::text::xid8 limit $2",
    )
    .bind(mark.position)
    .bind(MAX_CHANGES as i64 + 1)
    .fetch_all(pool)
    .await?;
    let (ids, overflow) = sql::distinct_changes(ids);
    Ok(ChangeBatch {
        ids,
        mark: next_mark,
        overflow,
    })
}

/// Writes the token of the server's current life, when no reader has since it started or
/// recovered (the first of several at once wins), and returns it.
async fn new_incarnation(pool: &PgPool) -> Result<i64, StoreError> {
    sqlx::query(
        "insert into server_incarnation (id, token) \
         values (1, (extract(epoch from clock_timestamp()) * 1000000)::bigint) \
         on conflict (id) do nothing",
    )
    .execute(pool)
    .await?;
    Ok(
        sqlx::query_scalar("select token from server_incarnation where id = 1")
            .fetch_one(pool)
            .await?,
    )
}

pub(super) async fn prune_changes(pool: &PgPool, before: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query(sql::PRUNE_CHANGES)
        .bind(before)
        .execute(pool)
        .await?
        .rows_affected())
}
