//! What the benches that run a real `oa-aggregator` process share: a fresh PostgreSQL
//! schema that a child process can be pointed at, and a SQLite database removed whole.

use oa_store::PgStore;

/// Drops `schema` and creates it anew with the store's tables; the store, and the URL that
/// makes another process use that schema (`search_path` as a connection option).
pub async fn fresh_pg_schema(url: &str, schema: &str) -> (PgStore, String) {
    let admin = PgStore::connect(url).await.expect("postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop schema if exists {schema} cascade"
    )))
    .execute(admin.pool())
    .await
    .expect("drop schema");
    let store = PgStore::connect_in_schema(url, schema)
        .await
        .expect("schema");
    (store, in_schema(url, schema))
}

/// `url` with every connection's `search_path` set to `schema`.
pub fn in_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Removes a SQLite database with its WAL and shared-memory files.
pub fn remove_sqlite(file: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
