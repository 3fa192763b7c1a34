//! For the SQLite modules' tests: a migrated store in a temporary directory with a plain
//! connection to it, and rows read back through that connection.

use rusqlite::{Connection, Row};

/// A migrated store holding what `rows` (SQL) inserts, and a connection to it.
pub(super) async fn with_rows(rows: &str) -> (tempfile::TempDir, crate::SqliteStore, Connection) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("store.db");
    let store = crate::SqliteStore::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("store");
    let conn = Connection::open(&file).expect("open");
    conn.execute_batch(rows).expect("rows");
    (dir, store, conn)
}

/// Every row `sql` selects, each as `row` makes it.
pub(super) fn rows<T>(
    conn: &Connection,
    sql: &str,
    row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Vec<T> {
    conn.prepare(sql)
        .and_then(|mut s| s.query_map([], row)?.collect())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}
