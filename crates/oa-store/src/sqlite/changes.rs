//! What the in-memory search index reads from SQLite: its rows, and the change log the page
//! transactions write (a record per statement, `sqlite/page_tx.rs`). SQLite has one writer,
//! so `seq` order is commit order.

use sqlx::SqlitePool;

use futures::TryStreamExt;

use super::opportunity_ids;
use crate::sql::{self, INDEX_COLUMNS, INDEX_ROWS};
use crate::{ChangeBatch, ChangeMark, IndexRow, MAX_CHANGES, StoreError};

/// Ids per `in (…)` list, well under SQLite's bound-parameter limit.
const IDS_PER_QUERY: usize = 500;

pub(super) async fn for_each_index_row(
    pool: &SqlitePool,
    each: &mut (dyn FnMut(IndexRow) + Send),
) -> Result<(), StoreError> {
    let mut rows = sqlx::query_as::<_, IndexRow>(INDEX_ROWS).fetch(pool);
    while let Some(row) = rows.try_next().await? {
        each(row);
    }
    Ok(())
}

/// Rows of `columns` whose id is one of `ids`, a few hundred ids per query.
async fn by_id<T>(pool: &SqlitePool, columns: &str, ids: &[String]) -> Result<Vec<T>, StoreError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    let mut rows = Vec::with_capacity(ids.len());
    let recent: bool = sqlx::query_scalar(opportunity_ids::ANY_RECENT)
        .fetch_one(pool)
        .await?;
    for chunk in ids.chunks(IDS_PER_QUERY) {
        // Only placeholders are written into the text; the ids are bound.
        let sql = opportunity_ids::select_by_ids(columns, chunk.len(), recent);
        let mut query = sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(id.as_str());
        }
        rows.extend(query.fetch_all(pool).await?);
    }
    Ok(rows)
}

pub(super) async fn index_rows_by_id(
    pool: &SqlitePool,
    ids: &[String],
) -> Result<Vec<IndexRow>, StoreError> {
    by_id(pool, INDEX_COLUMNS, ids).await
}

pub(super) async fn changes_since(
    pool: &SqlitePool,
    mark: Option<ChangeMark>,
) -> Result<ChangeBatch, StoreError> {
    let Some(ChangeMark { position: mark, .. }) = mark else {
        let (mark,): (i64,) =
            sqlx::query_as("select coalesce(max(seq), 0) from opportunity_changes")
                .fetch_one(pool)
                .await?;
        return Ok(ChangeBatch {
            mark: ChangeMark {
                position: mark,
                incarnation: 0,
            },
            ..ChangeBatch::default()
        });
    };
    // A record names the opportunities one statement changed (up to a page's chunk): read
    // records until they name more than a batch holds.
    let mut records = sqlx::query_as::<_, (i64, String)>(
        "select seq, ids from opportunity_changes where seq > $1 order by seq",
    )
    .bind(mark)
    .fetch(pool);
    let mut ids = Vec::new();
    let mut last = mark;
    while let Some((seq, named)) = records.try_next().await? {
        let named: Vec<String> = serde_json::from_str(&named).map_err(|e| {
            StoreError::Corrupt(format!("change-log record {seq} is not a list of ids: {e}"))
        })?;
        ids.extend(named);
        last = seq;
        if ids.len() > MAX_CHANGES {
            break;
        }
    }
    let (ids, overflow) = sql::distinct_changes(ids);
    Ok(ChangeBatch {
        ids,
        mark: ChangeMark {
            position: last,
            incarnation: 0,
        },
        overflow,
    })
}

pub(super) async fn prune_changes(pool: &SqlitePool, before: i64) -> Result<u64, StoreError> {
    Ok(sqlx::query(sql::PRUNE_CHANGES)
        .bind(before)
        .execute(pool)
        .await?
        .rows_affected())
}
