//! The connection harvested pages are written on: opened by the store itself (not sqlx),
//! so a page's whole transaction, from `begin` to `commit`, runs on the task applying it.
//!
//! Through sqlx's writer connection every step of a page was a hand-off to that
//! connection's thread and back: taking the connection from the pool, `begin`, the cache
//! pragma, a lock of the handle for each group of statements, `commit`. About fifteen thread
//! switches a page, 2-3 ms of a 12 ms page on this kind of machine (docs/PERFORMANCE.md,
//! "Harvest throughput", twenty-second session). Here there are none.
//!
//! The connection lives behind the store's write gate ([`WriteGate`]): every write of this
//! process, through this connection or sqlx's, holds the gate, so the two never wait on
//! each other inside SQLite. Other processes' writers are waited for without blocking a
//! runtime thread: `begin` is tried, and on a busy database retried after an async sleep.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::commit_log::{CommitLog, Marks};
use super::item_keys::InsertedRows;
use crate::StoreError;
use crate::error::is_busy;
use crate::footprint::Footprint;

/// The page connection, and the lock every write of this process takes first.
pub(super) type WriteGate = Arc<Mutex<Connection>>;

/// How long `begin` waits for another process's write (or a restarting checkpoint) before
/// the page fails as busy (a transient error: the harvest tries it again).
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// The longest sleep between two tries of `begin`: short, because the usual wait is the
/// checkpointer restarting the WAL (tens of milliseconds), and a page that sleeps past the
/// moment it ends holds up the harvest for the rest of the sleep.
const BUSY_SLEEP_MAX: Duration = Duration::from_millis(10);

/// Opens the page connection on the store's file, with the writer's settings. The schema
/// exists (sqlx's migrations ran first).
pub(super) fn open(path: &Path) -> Result<WriteGate, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(StoreError::Direct)?;
    // Before any statement: SQLite takes a larger lookaside buffer only while none of the
    // current one is in use.
    super::lookaside::configure_direct(&conn);
    conn.execute_batch(
        "pragma synchronous = normal; pragma foreign_keys = on; pragma temp_store = memory; \
         pragma wal_autocheckpoint = 0;",
    )
    .map_err(StoreError::Direct)?;
    conn.pragma_update(None, "cache_size", -super::SMALL_CACHE_KIB)
        .map_err(StoreError::Direct)?;
    // Statements in a transaction that holds the write lock do not wait; a lock that is not
    // free at `begin` is waited for there, asynchronously.
    conn.busy_timeout(Duration::ZERO)
        .map_err(StoreError::Direct)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(Arc::new(Mutex::new(conn)))
}

/// Gives the page connection the harvest's cache, the first time it writes a page: a process
/// that writes none keeps the small one ([`super::SMALL_CACHE_KIB`]).
fn size_cache_for_pages(conn: &Connection) -> Result<(), StoreError> {
    let cache: i64 = conn
        .pragma_query_value(None, "cache_size", |row| row.get(0))
        .map_err(StoreError::Direct)?;
    if cache != -super::HARVEST_CACHE_KIB {
        conn.pragma_update(None, "cache_size", -super::HARVEST_CACHE_KIB)
            .map_err(StoreError::Direct)?;
    }
    Ok(())
}

/// A write transaction on the page connection, holding the write gate. Rolled back when
/// dropped uncommitted.
#[derive(Debug)]
pub(crate) struct PageWrite {
    conn: OwnedMutexGuard<Connection>,
    open: bool,
    /// The item rows this transaction inserted.
    inserted: InsertedRows,
}

impl PageWrite {
    /// Takes the gate and begins a transaction holding SQLite's write lock (`immediate`, for
    /// the reason `SqliteStore::write_tx` gives).
    pub(super) async fn begin(gate: &WriteGate) -> Result<Self, StoreError> {
        Self::begin_waiting(gate, BUSY_WAIT).await
    }

    /// [`PageWrite::begin`], waiting at most `wait` for SQLite's write lock.
    async fn begin_waiting(gate: &WriteGate, wait: Duration) -> Result<Self, StoreError> {
        let conn = gate.clone().lock_owned().await;
        if !conn.is_autocommit() {
            // A transaction left open would make this page part of it.
            conn.execute_batch("rollback").map_err(StoreError::Direct)?;
        }
        size_cache_for_pages(&conn)?;
        let started = Instant::now();
        let mut sleep = Duration::from_millis(1);
        loop {
            match conn.execute_batch("begin immediate") {
                Ok(()) => {
                    return Ok(PageWrite {
                        conn,
                        open: true,
                        inserted: InsertedRows::default(),
                    });
                }
                Err(e) if is_busy(&e) && started.elapsed() < wait => {
                    tokio::time::sleep(sleep).await;
                    sleep = (sleep * 2).min(BUSY_SLEEP_MAX);
                }
                Err(e) => return Err(StoreError::Direct(e)),
            }
        }
    }

    /// The connection, inside the transaction.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The connection, with the item rows the transaction inserted so far.
    pub(super) fn with_inserted(&mut self) -> (&Connection, &mut InsertedRows) {
        (&self.conn, &mut self.inserted)
    }

    /// Commits, recording what the transaction wrote (`None`: not known) in `log`; the gate
    /// is released once it is recorded.
    pub(super) fn commit_recorded(
        mut self,
        log: &CommitLog,
        wrote: Option<Arc<Footprint>>,
    ) -> Result<(), StoreError> {
        let marks = Marks::read(&self.conn).map_err(StoreError::Direct)?;
        self.conn
            .execute_batch("commit")
            .map_err(StoreError::Direct)?;
        self.open = false;
        log.record(marks, wrote);
        Ok(())
    }

    /// Commits; the gate is released.
    pub(crate) fn commit(mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("commit")
            .map_err(StoreError::Direct)?;
        self.open = false;
        Ok(())
    }
}

impl Drop for PageWrite {
    fn drop(&mut self) {
        // A failed statement may have ended the transaction already; what matters is that
        // none is left open for the next page.
        if self.open && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("rollback");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rusqlite::Connection;

    use super::{PageWrite, WriteGate};

    /// SQLite as `.cargo/config.toml` builds it: without memory statistics, and with a page
    /// cache per connection rather than one pool for the process behind a mutex.
    #[test]
    fn sqlite_is_built_with_the_workspace_options() {
        let conn = Connection::open_in_memory().expect("open");
        let options: Vec<String> = conn
            .prepare("pragma compile_options")
            .expect("prepare")
            .query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("options");
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }

    /// A database file with a table, and the page connection on it.
    fn database() -> (tempfile::TempDir, std::path::PathBuf, WriteGate) {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("pages.db");
        Connection::open(&file)
            .and_then(|c| c.execute_batch("pragma journal_mode = wal; create table t (x text)"))
            .expect("a database with a table");
        let gate = super::open(&file).expect("the page connection opens");
        (dir, file, gate)
    }

    /// Another connection that does not wait for locks.
    fn other(file: &std::path::Path) -> Connection {
        let conn = Connection::open(file).expect("another connection");
        conn.busy_timeout(Duration::ZERO).expect("busy timeout");
        conn
    }

    /// Another connection, in a transaction that holds SQLite's write lock.
    fn holding_the_write_lock(file: &std::path::Path) -> Connection {
        let conn = other(file);
        conn.execute_batch("begin immediate")
            .expect("another connection takes the write lock");
        conn
    }

    fn rows(file: &std::path::Path) -> i64 {
        other(file)
            .query_row("select count(*) from t", [], |r| r.get(0))
            .expect("count")
    }

    fn insert(page: &PageWrite) {
        page.conn()
            .execute("insert into t values ('x')", [])
            .expect("insert");
    }

    #[test]
    fn the_page_connection_writes_as_the_store_writer_does() {
        let (_dir, _file, gate) = database();
        let conn = gate.try_lock().expect("nothing holds the gate");
        let pragma = |name: &str| -> i64 {
            conn.query_row(&format!("pragma {name}"), [], |r| r.get(0))
                .expect("pragma")
        };
        // Commits never stop to checkpoint (the checkpointer does, on its own connection),
        // foreign keys hold, commits do not wait for the disk (WAL), the small cache until
        // a page is written.
        assert_eq!(pragma("wal_autocheckpoint"), 0);
        assert_eq!(pragma("foreign_keys"), 1);
        assert_eq!(pragma("synchronous"), 1, "normal");
        assert_eq!(pragma("cache_size"), -2048);
        assert_eq!(pragma("busy_timeout"), 0, "waiting is done by `begin`");
    }

    #[tokio::test]
    async fn the_page_connection_takes_the_harvests_cache_when_it_writes_a_page() {
        let (_dir, _file, gate) = database();
        let page = PageWrite::begin(&gate).await.expect("begin");
        let cache: i64 = page
            .conn()
            .query_row("pragma cache_size", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(cache, -16384);
        page.commit().expect("commit");
    }

    #[tokio::test]
    async fn a_page_dropped_uncommitted_leaves_nothing_and_releases_the_write_lock() {
        let (_dir, file, gate) = database();
        let page = PageWrite::begin(&gate).await.expect("begin");
        insert(&page);
        drop(page);
        assert_eq!(rows(&file), 0, "the dropped page's write is rolled back");
        // Another connection can write at once: nothing holds SQLite's write lock.
        other(&file)
            .execute("insert into t values ('other')", [])
            .expect("the write lock is free");

        let page = PageWrite::begin(&gate).await.expect("a later page begins");
        insert(&page);
        page.commit().expect("commit");
        assert_eq!(rows(&file), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn begin_waits_for_another_writer_without_holding_up_the_runtime() {
        let (_dir, file, gate) = database();
        let holder = holding_the_write_lock(&file);
        holder
            .execute("insert into t values ('held')", [])
            .expect("the other connection writes");
        let begun = tokio::spawn(async move {
            let page = PageWrite::begin(&gate).await?;
            insert(&page);
            page.commit()
        });
        // On this single-threaded runtime the waiting `begin` must yield for this task to
        // run and let the lock go.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!begun.is_finished(), "the page waits for the lock");
        holder
            .execute_batch("commit")
            .expect("the other writer commits");
        begun
            .await
            .expect("the task ends")
            .expect("the page is written once the lock is free");
        assert_eq!(rows(&file), 2);
    }

    #[tokio::test]
    async fn a_lock_held_past_the_wait_is_a_transient_error() {
        let (_dir, file, gate) = database();
        let holder = holding_the_write_lock(&file);
        let failed = PageWrite::begin_waiting(&gate, Duration::from_millis(100))
            .await
            .expect_err("the lock is not free in time");
        assert!(failed.is_transient(), "{failed}");
        holder.execute_batch("commit").expect("commit");
        PageWrite::begin(&gate)
            .await
            .expect("the page connection is usable afterwards")
            .commit()
            .expect("commit");
    }
}
