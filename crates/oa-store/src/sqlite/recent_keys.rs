//! Keys kept in a small recent table before they move into their main one in key order:
//! the public ids of opportunities (`super::opportunity_ids`) and the keys of items
//! (`super::item_keys`).
//!
//! Keys that arrive in no order (hashed ids, a real feed's item ids) put each new entry of
//! a unique index wherever it falls: once the index outgrows the writer's cache, nearly every
//! key written rewrote a 16 KiB leaf at its page's commit. A page's new keys share the few
//! leaves of the recent table instead; when it holds enough they move into the main table
//! in one pass in key order, which writes each of its leaves once for all of them. Keys
//! that always arrive in no order (opportunity ids, which are hashes) pass through a middle
//! table on the way, so that what a move writes does not grow with the whole store.

use rusqlite::Connection;

use super::page_writer::{PageWrite, WriteGate};
use super::{item_keys, opportunity_ids};
use crate::StoreError;

/// A main table of keys and the recent one in front of it.
pub(super) struct RecentKeys {
    /// What moves, for the log.
    pub what: &'static str,
    /// Counts the recent keys.
    pub count: &'static str,
    /// Move every recent key into the main table, in order. A statement that may fail half
    /// way (an upsert, an `insert` that aborts) keeps a copy of every page it changes until
    /// it ends (its statement journal, in memory here): up to the whole main table, which
    /// took a harvest's peak memory from 81 to 117 MB. `insert or fail` needs none, and the
    /// page's transaction rolls back whole anyway.
    pub moves: &'static [&'static str],
}

/// How many keys a recent table holds before they move. A page's new entries land in its
/// leaves (about a hundred of 16 KiB at this size), and each move writes every leaf of the
/// main table once (about 2,700 at a million opportunities): more keys between moves write
/// the main table less often and the recent one's leaves more.
pub(super) const RECENT_KEYS_MAX: i64 = 32_768;

impl RecentKeys {
    /// Moves the recent keys into the main table once there are `most` of them (the
    /// store's writes pass [`RECENT_KEYS_MAX`]).
    pub(super) fn settle_when_full(&self, conn: &Connection, most: i64) -> rusqlite::Result<()> {
        if self.holds(conn, most)? {
            self.settle(conn)?;
        }
        Ok(())
    }

    /// Whether there are `most` recent keys or more.
    pub(super) fn holds(&self, conn: &Connection, most: i64) -> rusqlite::Result<bool> {
        let recent: i64 = conn
            .prepare_cached(self.count)?
            .query_row([], |row| row.get(0))?;
        Ok(recent >= most)
    }

    /// Moves every recent key into the main table.
    pub(super) fn settle(&self, conn: &Connection) -> rusqlite::Result<()> {
        let started = std::time::Instant::now();
        let mut moved = 0;
        for statement in self.moves {
            let changed = conn.prepare_cached(statement)?.execute([])?;
            if statement.starts_with("insert") {
                moved = changed;
            }
        }
        // A move holds the writer: how long each takes is what a harvest's pauses are made of.
        tracing::debug!(
            what = self.what,
            keys = moved,
            millis = started.elapsed().as_secs_f64() * 1e3,
            "moved {moved} {} into their main table",
            self.what
        );
        Ok(())
    }
}

/// Moves every recent (and middle) key into its main table once a feed's walk ends (any
/// feed event ends one), so that a store no page is being written to finds each key through
/// one index: a lookup that also probes a recent table of thousands of keys reads one of its
/// leaves for nothing, and a search reads a few dozen documents by id (docs/PERFORMANCE.md).
/// A move writes at most a leaf of the main table per key moved, so the moves add up to no
/// more than the keys. One that fails (the database busy past the wait) leaves the keys
/// where they are, still found.
pub(super) async fn settle_after_walk(gate: &WriteGate) {
    let moved = async {
        let write = PageWrite::begin(gate).await?;
        opportunity_ids::settle_all(write.conn()).map_err(StoreError::Direct)?;
        item_keys::RECENT
            .settle_when_full(write.conn(), 1)
            .map_err(StoreError::Direct)?;
        write.commit()
    };
    if let Err(e) = moved.await {
        tracing::warn!(error = %e, "recent keys were not moved into their main tables: {e}");
    }
}
