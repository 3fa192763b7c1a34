//! Statements on a connection sqlx holds (a plan's snapshot on a reader, a `renormalise`
//! batch on the writer) run on the calling thread, through rusqlite: one prepared statement
//! stepped for each row. (A harvested page's transaction runs on a connection of the store's
//! own, `super::page_writer`, without sqlx at all.)
//!
//! Through sqlx, each statement is handed to the connection's worker thread and waited for,
//! and each bound text is copied into an `Arc` first and freed by the worker after: a page of
//! 500 sessions alternated between a tokio worker building a statement's arguments and
//! sqlx's thread running it, each idle while the other worked (docs/PERFORMANCE.md,
//! "Harvest throughput", twentieth session). Here the connection is locked away from sqlx's
//! thread for the duration of the statements, which then run where the task runs, binding
//! borrowed text. The transaction stays sqlx's: it is begun and committed there, and these
//! statements run inside it.

use sqlx::SqliteConnection;

use crate::StoreError;

/// Runs `work` on `conn`'s SQLite connection, on this thread. Statements `work` prepares
/// are finalised before it returns. Locking the connection is one round trip to sqlx's
/// thread, so callers with nothing to run return before it.
pub(super) async fn with_connection<T>(
    conn: &mut SqliteConnection,
    work: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> Result<T, StoreError> {
    let mut handle = conn.lock_handle().await?;
    let borrowed = borrow(handle.as_raw_handle().as_ptr()).map_err(StoreError::Direct)?;
    let done = work(&borrowed);
    // Its cached statements are finalised here, while the handle is still locked; the
    // connection itself stays open (it is sqlx's).
    drop(borrowed);
    done.map_err(StoreError::Direct)
}

#[expect(
    unsafe_code,
    reason = "rusqlite wraps a connection it did not open only through from_handle"
)]
fn borrow(db: *mut rusqlite::ffi::sqlite3) -> rusqlite::Result<rusqlite::Connection> {
    // SAFETY: `db` is an open connection locked away from sqlx's worker thread
    // (`LockedSqliteHandle`) for as long as the returned wrapper lives: the caller drops it
    // before the lock. `from_handle` does not take ownership, so dropping the wrapper
    // finalises its own statements and leaves the connection open.
    unsafe { rusqlite::Connection::from_handle(db) }
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection, SqliteConnection};

    use super::with_connection;
    use crate::StoreError;

    async fn connection() -> SqliteConnection {
        let mut conn = SqliteConnectOptions::new()
            .in_memory(true)
            .connect()
            .await
            .expect("an in-memory database opens");
        sqlx::query("create table t (x text primary key)")
            .execute(&mut conn)
            .await
            .expect("a table is created");
        conn
    }

    async fn rows(conn: &mut SqliteConnection) -> Vec<String> {
        sqlx::query_scalar("select x from t order by x")
            .fetch_all(conn)
            .await
            .expect("the table reads")
    }

    fn insert(conn: &rusqlite::Connection, x: &str) -> rusqlite::Result<()> {
        conn.prepare_cached("insert into t (x) values (?1)")?
            .execute([x])?;
        Ok(())
    }

    #[tokio::test]
    async fn writes_belong_to_the_sqlx_transaction_they_run_in() {
        let mut conn = connection().await;
        let mut tx = conn.begin().await.expect("a transaction begins");
        with_connection(&mut tx, |c| insert(c, "rolled back"))
            .await
            .expect("the row is written");
        tx.rollback().await.expect("the transaction rolls back");
        assert!(rows(&mut conn).await.is_empty());

        let mut tx = conn.begin().await.expect("a transaction begins");
        with_connection(&mut tx, |c| insert(c, "committed"))
            .await
            .expect("the row is written");
        tx.commit().await.expect("the transaction commits");
        assert_eq!(rows(&mut conn).await, ["committed"]);
    }

    #[tokio::test]
    async fn a_failed_write_is_an_error_and_leaves_the_connection_usable() {
        let mut conn = connection().await;
        with_connection(&mut conn, |c| insert(c, "a"))
            .await
            .expect("the row is written");
        let failed = with_connection(&mut conn, |c| insert(c, "a")).await;
        let Err(StoreError::Direct(error)) = failed else {
            panic!("a duplicate key is a write error, got {failed:?}");
        };
        assert!(error.to_string().contains("UNIQUE"), "{error}");
        // sqlx's own statements and a later borrowed write still work.
        with_connection(&mut conn, |c| insert(c, "b"))
            .await
            .expect("the connection is usable");
        assert_eq!(rows(&mut conn).await, ["a", "b"]);
    }
}
