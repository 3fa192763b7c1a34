//! What the in-memory search index reads from SQLite: its rows, and the change log the
//! triggers write. SQLite has one writer, so `seq` order is commit order.

use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use futures::TryStreamExt;

use crate::sql::{self, INDEX_COLUMNS, INDEX_ROWS};
use crate::{ChangeBatch, IndexRow, MAX_CHANGES, StoreError};

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
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let mut query = QueryBuilder::<Sqlite>::new(columns);
        query.push(" where o.id in (");
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(id.as_str());
        }
        query.push(")");
        rows.extend(query.build_query_as::<T>().fetch_all(pool).await?);
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
    mark: Option<i64>,
) -> Result<ChangeBatch, StoreError> {
    let Some(mark) = mark else {
        let (mark,): (i64,) =
            sqlx::query_as("select coalesce(max(seq), 0) from opportunity_changes")
                .fetch_one(pool)
                .await?;
        return Ok(ChangeBatch {
            mark,
            ..ChangeBatch::default()
        });
    };
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "select seq, id from opportunity_changes where seq > $1 order by seq limit $2",
    )
    .bind(mark)
    .bind(MAX_CHANGES as i64 + 1)
    .fetch_all(pool)
    .await?;
    let mark = rows.last().map_or(mark, |(seq, _)| *seq);
    let (ids, overflow) = sql::distinct_changes(rows.into_iter().map(|(_, id)| id).collect());
    Ok(ChangeBatch {
        ids,
        mark,
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
