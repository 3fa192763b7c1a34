//! Reads run on the calling thread through connections of the store's own rather than
//! through sqlx's worker threads: search's reads by id (a page's documents, a series' later
//! occurrences) and a harvested page's plan ([`Snapshot`]).
//!
//! Through sqlx, a read is handed to its connection's thread and each row handed back: about
//! nine thread switches a search, which on this kind of machine cost more than the reads
//! (docs/PERFORMANCE.md). Read here, a page's dozen uncached documents (from the operating
//! system's file cache) cost a search about 250-300 µs of CPU, the order of the index pass
//! that already runs on the same thread: a radius search over 2,000 places took 400-500 µs
//! against 165 µs when every document came from memory.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Row, params_from_iter};

use super::opportunity_ids;
use crate::sql::{CANDIDATE_COLUMNS, OCCURRENCE_COLUMNS};
use crate::{CandidateDoc, Occurrence, StoreError};

/// Ids per `in (…)` list: a search asks for a page (20) or its series' later occurrences.
/// Longer lists are split, so each length has one cached statement.
const IDS_PER_QUERY: usize = 100;

/// Idle connections kept: one per thread that reads at once (the runtime's workers).
const IDLE_KEPT: usize = 4;

/// Each connection's page cache: 512 KiB. A read descends through the interior pages of the
/// id index and of the table (about fifty 16 KiB pages at a million sessions), which stay
/// cached as far as its 32 pages go; the leaves it ends on are all over the file, and no
/// cache a process can afford would keep them. While the process's connections shared one
/// pool of pages, the search bench peaked at 151 MB with 1 MiB here and at 148 MB with
/// 512 KiB, at the same requests a second; with a cache per connection
/// (`super::SMALL_CACHE_KIB`) its requests a second stayed the same (docs/PERFORMANCE.md).
const CACHE_KIB: i64 = 512;

/// Statements each connection keeps prepared: a read of each list length up to a page,
/// for the two queries.
const STATEMENTS_KEPT: usize = 64;

/// How long a read waits for a lock before failing.
const BUSY_WAIT: Duration = Duration::from_secs(2);

/// Read-only connections to one SQLite database file, opened as needed.
#[derive(Debug)]
pub(super) struct Lookups {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Lookups {
    pub(super) fn new(path: PathBuf) -> Self {
        Lookups {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The documents of these opportunities, unknown ids left out.
    pub(super) fn candidate_docs(&self, ids: &[String]) -> Result<Vec<CandidateDoc>, StoreError> {
        self.by_id(CANDIDATE_COLUMNS, ids, |row| {
            Ok(CandidateDoc {
                id: row.get(0)?,
                start_at: row.get(1)?,
                lat: row.get(2)?,
                lng: row.get(3)?,
                doc: row.get(4)?,
                feed_url: row.get(5)?,
                publisher: row.get(6)?,
                modified: row.get(7)?,
            })
        })
    }

    /// When these opportunities run, unknown ids left out.
    pub(super) fn occurrences(&self, ids: &[String]) -> Result<Vec<Occurrence>, StoreError> {
        self.by_id(OCCURRENCE_COLUMNS, ids, |row| {
            Ok(Occurrence {
                id: row.get(0)?,
                start_at: row.get(1)?,
                end_at: row.get(2)?,
            })
        })
    }

    fn by_id<T>(
        &self,
        columns: &str,
        ids: &[String],
        read: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let connection = self.take()?;
        let mut rows = Vec::with_capacity(ids.len());
        let result =
            (|| {
                let recent: bool = connection
                    .prepare_cached(opportunity_ids::ANY_RECENT)?
                    .query_row([], |row| row.get(0))?;
                for chunk in ids.chunks(IDS_PER_QUERY) {
                    let mut statement = connection.prepare_cached(
                        &opportunity_ids::select_by_ids(columns, chunk.len(), recent),
                    )?;
                    let mut found = statement.query(params_from_iter(chunk))?;
                    while let Some(row) = found.next()? {
                        rows.push(read(row)?);
                    }
                }
                Ok::<_, rusqlite::Error>(())
            })();
        match result {
            Ok(()) => {
                self.give_back(connection);
                Ok(rows)
            }
            // A connection that failed is dropped, not reused: the next read opens afresh.
            Err(e) => Err(lookup_error(&self.path, e)),
        }
    }

    /// A read transaction: one snapshot of the store for as long as it lives.
    pub(super) fn snapshot(self: &Arc<Self>) -> Result<Snapshot, StoreError> {
        let connection = self.take()?;
        // Deferred: the snapshot is taken at its first read, and every read after sees it.
        if let Err(e) = connection.execute_batch("begin") {
            return Err(lookup_error(&self.path, e));
        }
        Ok(Snapshot {
            lookups: self.clone(),
            connection: Some(connection),
        })
    }

    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(connection) = self.lock().pop() {
            return Ok(connection);
        }
        open(&self.path).map_err(|e| lookup_error(&self.path, e))
    }

    fn give_back(&self, connection: Connection) {
        let mut idle = self.lock();
        if idle.len() < IDLE_KEPT {
            idle.push(connection);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // Only whole connections are ever pushed or popped: a panic elsewhere leaves the
        // list usable.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A read transaction on one of the store's read connections: a page's plan reads what the
/// page depends on through it. Through sqlx's readers, `begin`, each group of reads and the
/// rollback were each a hand-off to the connection's thread and back, on the chain of work
/// every page waits for (docs/PERFORMANCE.md, "Harvest throughput", twenty-third session).
/// Ended (rolled back) when dropped; the connection is then given back.
#[derive(Debug)]
pub(crate) struct Snapshot {
    lookups: Arc<Lookups>,
    connection: Option<Connection>,
}

impl Snapshot {
    /// The connection, inside the transaction.
    pub(crate) fn conn(&self) -> &Connection {
        // Present until dropped.
        self.connection
            .as_ref()
            .expect("a snapshot holds its connection until dropped")
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        // One whose transaction would not end is not reused: the next read opens afresh.
        if connection.is_autocommit() || connection.execute_batch("rollback").is_ok() {
            self.lookups.give_back(connection);
        }
    }
}

fn open(path: &PathBuf) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // The wait runs on a runtime worker: a search gives up (a transient error) rather than
    // hold one for long. A reader of a WAL database waits only while the WAL is reset.
    connection.busy_timeout(BUSY_WAIT)?;
    connection.pragma_update(None, "cache_size", -CACHE_KIB)?;
    connection.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
    Ok(connection)
}

fn lookup_error(path: &std::path::Path, source: rusqlite::Error) -> StoreError {
    StoreError::Lookup {
        database: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_sees_one_state_and_gives_its_connection_back_ended() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("store.db");
        let writer = Connection::open(&file).expect("opens");
        writer
            .execute_batch("pragma journal_mode = wal; create table t (x integer)")
            .expect("a table");
        let count = |conn: &Connection| -> i64 {
            conn.query_row("select count(*) from t", [], |row| row.get(0))
                .expect("counts")
        };
        let lookups = Arc::new(Lookups::new(file));
        let snapshot = lookups.snapshot().expect("a snapshot");
        assert_eq!(count(snapshot.conn()), 0);
        writer
            .execute("insert into t values (1)", [])
            .expect("a write");
        assert_eq!(
            count(snapshot.conn()),
            0,
            "the snapshot's state stays as first read"
        );
        drop(snapshot);
        assert_eq!(lookups.lock().len(), 1, "the connection is given back");
        assert!(
            lookups.lock()[0].is_autocommit(),
            "with its transaction ended"
        );
        let later = lookups.snapshot().expect("another snapshot");
        assert_eq!(count(later.conn()), 1, "a later snapshot sees the write");
        assert!(lookups.lock().is_empty(), "on the same connection");
    }

    #[test]
    fn a_missing_database_is_an_error_naming_it() {
        let lookups = Lookups::new(PathBuf::from("/nonexistent/folder/store.db"));
        let error = lookups
            .candidate_docs(&["0000000000000001".to_owned()])
            .expect_err("no such database");
        assert!(
            error.to_string().contains("/nonexistent/folder/store.db"),
            "{error}"
        );
        assert!(!error.is_transient());
    }
}
