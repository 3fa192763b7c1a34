//! What each commit since a page's plan wrote ([`CommitLog`]), so that the page's
//! transaction can tell its plan still holds without reading the page's state again.
//!
//! A plan notes the log's generation before its snapshot. Every page committed on the page
//! connection records the footprint of what it wrote ([`Footprint`]); every other commit is
//! recorded as unknown: a page normalised again (or applied unplanned) as it commits, the
//! rest (another connection's or process's, the page connection's key moves) when the next
//! page begins, as a change of `PRAGMA data_version` (commits on other connections) or of
//! the page connection's count of changed rows. A page's transaction skips its reading when
//! every commit since its plan's generation is known and meets none of what the plan read.
//! Reading the state again was 7 % of the writer's time at 110,000 items
//! (docs/PERFORMANCE.md, "Harvest throughput", thirty-fourth session).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

use crate::footprint::Footprint;

/// Commits remembered: a plan older than this many commits reads its state again.
const KEPT: usize = 64;

/// The page connection's commits, newest last.
#[derive(Debug, Default)]
pub(crate) struct CommitLog {
    inner: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    /// Commits recorded so far.
    generation: u64,
    /// The last [`KEPT`] commits, by generation: what each wrote, `None` when not known.
    commits: VecDeque<(u64, Option<Arc<Footprint>>)>,
    /// `data_version` and the page connection's changed rows as the last commit recorded
    /// left them: any other commit changes one of them.
    after_last: Option<Marks>,
}

impl Log {
    fn push(&mut self, wrote: Option<Arc<Footprint>>) {
        self.generation += 1;
        if self.commits.len() == KEPT {
            self.commits.pop_front();
        }
        self.commits.push_back((self.generation, wrote));
    }
}

/// The page connection's marks of other commits: `data_version` (other connections' and
/// processes') and its own changed rows. Read holding SQLite's write lock, so that no other
/// commit falls between them and what they mark.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Marks(i64, u64);

impl Marks {
    pub(crate) fn read(conn: &Connection) -> rusqlite::Result<Self> {
        let version = conn
            .prepare_cached("pragma data_version")?
            .query_row([], |row| row.get(0))?;
        Ok(Marks(version, conn.total_changes()))
    }
}

impl CommitLog {
    fn lock(&self) -> MutexGuard<'_, Log> {
        // The log holds no invariant a panic half way could break worse than losing it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The generation a plan notes before its snapshot.
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// At a page's `begin`, holding SQLite's write lock: records the commits made since the
    /// last one recorded, if any, as unknown.
    pub(crate) fn observe(&self, conn: &Connection) -> rusqlite::Result<()> {
        let now = Marks::read(conn)?;
        let mut log = self.lock();
        if log.after_last != Some(now) {
            log.push(None);
            log.after_last = Some(now);
        }
        Ok(())
    }

    /// After a commit on the page connection, still holding the write gate: what it wrote
    /// (`None` when not known), and its marks read just before it committed (its own commit
    /// changes neither; another connection's, the moment the lock is free, does).
    pub(crate) fn record(&self, before_commit: Marks, wrote: Option<Arc<Footprint>>) {
        let mut log = self.lock();
        log.push(wrote);
        log.after_last = Some(before_commit);
    }

    /// Whether no commit after `generation` may have changed what `read` covers.
    pub(crate) fn unchanged_since(&self, generation: u64, read: &Footprint) -> bool {
        let since: Vec<Option<Arc<Footprint>>> = {
            let log = self.lock();
            let forgotten = log
                .commits
                .front()
                .is_none_or(|(first, _)| *first > generation + 1);
            if log.generation > generation && forgotten {
                return false;
            }
            log.commits
                .iter()
                .filter(|(g, _)| *g > generation)
                .map(|(_, wrote)| wrote.clone())
                .collect()
        };
        since
            .iter()
            .all(|wrote| wrote.as_ref().is_some_and(|w| !w.meets(read)))
    }
}

#[cfg(test)]
mod tests {
    use oa_model::{ItemRole, ItemState, PreparedItem};

    use super::*;

    fn footprint(item_id: &str) -> Arc<Footprint> {
        let item = PreparedItem {
            id: item_id.into(),
            kind: "Event".into(),
            state: ItemState::Updated,
            modified: 1,
            role: ItemRole::Standalone,
            data_id: None,
            parent_ref: None,
            data_json: None,
            data: None,
        };
        Arc::new(Footprint::of(1, &[item], &[], &[]))
    }

    /// A file database in WAL mode with a table, and two connections on it.
    fn two_connections() -> (tempfile::TempDir, Connection, Connection) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log.db");
        let first = Connection::open(&path).expect("open");
        first
            .execute_batch("pragma journal_mode = wal; create table t (x integer)")
            .expect("schema");
        let second = Connection::open(&path).expect("open");
        (dir, first, second)
    }

    /// A page committed on `conn` and recorded, as the page connection does.
    fn commit_page(log: &CommitLog, conn: &Connection, wrote: Option<Arc<Footprint>>) {
        conn.execute_batch("begin immediate").expect("begin");
        log.observe(conn).expect("observe");
        conn.execute_batch("insert into t values (1)")
            .expect("write");
        let marks = Marks::read(conn).expect("marks");
        conn.execute_batch("commit").expect("commit");
        log.record(marks, wrote);
    }

    /// A page begins on `conn` (the log sees what was committed since), and is rolled back.
    fn begin_a_page(log: &CommitLog, conn: &Connection) {
        conn.execute_batch("begin immediate").expect("begin");
        log.observe(conn).expect("observe");
        conn.execute_batch("rollback").expect("rollback");
    }

    #[test]
    fn a_plan_holds_past_pages_that_wrote_nothing_it_read_and_not_past_one_that_did() {
        let (_dir, conn, _) = two_connections();
        let log = CommitLog::default();
        commit_page(&log, &conn, Some(footprint("a")));
        let planned_at = log.generation();
        assert!(
            log.unchanged_since(planned_at, &footprint("b")),
            "nothing since"
        );

        commit_page(&log, &conn, Some(footprint("c")));
        begin_a_page(&log, &conn);
        assert!(log.unchanged_since(planned_at, &footprint("b")));
        assert!(!log.unchanged_since(planned_at, &footprint("c")));

        commit_page(&log, &conn, None);
        assert!(
            !log.unchanged_since(planned_at, &footprint("b")),
            "a page whose writes are not known"
        );
    }

    #[test]
    fn commits_the_log_did_not_record_are_taken_as_changing_everything() {
        let (_dir, conn, other) = two_connections();
        let log = CommitLog::default();
        commit_page(&log, &conn, Some(footprint("a")));
        let planned_at = log.generation();

        // Another connection's commit: seen by `data_version`.
        other
            .execute_batch("insert into t values (2)")
            .expect("other");
        begin_a_page(&log, &conn);
        assert!(!log.unchanged_since(planned_at, &footprint("b")));

        // The page connection's own write outside a recorded page: seen by its changed rows.
        let planned_at = log.generation();
        conn.execute_batch("insert into t values (3)")
            .expect("write");
        begin_a_page(&log, &conn);
        assert!(!log.unchanged_since(planned_at, &footprint("b")));

        // Nothing since: nothing recorded.
        let planned_at = log.generation();
        begin_a_page(&log, &conn);
        assert!(log.unchanged_since(planned_at, &footprint("b")));
    }

    #[test]
    fn a_plan_older_than_the_commits_kept_reads_its_state_again() {
        let (_dir, conn, _) = two_connections();
        let log = CommitLog::default();
        commit_page(&log, &conn, Some(footprint("a")));
        let planned_at = log.generation();
        for _ in 0..KEPT {
            commit_page(&log, &conn, Some(footprint("a")));
        }
        assert!(log.unchanged_since(planned_at, &footprint("b")));
        commit_page(&log, &conn, Some(footprint("a")));
        assert!(!log.unchanged_since(planned_at, &footprint("b")));
    }
}
