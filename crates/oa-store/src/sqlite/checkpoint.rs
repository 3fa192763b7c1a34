//! WAL checkpoints on their own connection, off the write path.
//!
//! SQLite's automatic checkpoint runs inside the committing writer: every 1,000 pages of WAL
//! a page transaction stops to copy them into the database and fsync it. Here the writer
//! never checkpoints (`wal_autocheckpoint = 0`); this task does, passively (it never blocks
//! the writer or readers), shortly after writes. It stops when the last handle on the store
//! is dropped.
//!
//! SQLite rewinds a WAL only when a writer starts after a checkpoint that copied all of it.
//! Under a harvest's continuous writes a passive checkpoint never quite catches up, so the
//! WAL grew with the harvest (4 GB for a million items). Once it passes [`WAL_LIMIT_FRAMES`]
//! this task restarts it: copies all of it, holding the writer for the moment that takes, so
//! the next commit writes from the WAL's start again. The file keeps its size rather than
//! being truncated: a WAL that regrows from nothing makes the kernel allocate and zero
//! every page of it again, which was a quarter of the writer's time in a million-session
//! rewrite (docs/PERFORMANCE.md, "Renormalise").

use std::sync::Weak;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::SqlitePool;

/// How soon after a write the WAL is checkpointed.
const AFTER_WRITES: Duration = Duration::from_millis(250);
/// A checkpoint at least this often anyway (another process may have written).
const AT_LEAST_EVERY: Duration = Duration::from_secs(30);
/// 256 MiB of the store's pages: past this the WAL is restarted.
pub(super) const WAL_LIMIT_FRAMES: i64 = (256 << 20) / super::PAGE_SIZE as i64;

/// What one checkpoint round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Checkpointed {
    /// Copied what it could without waiting; the WAL keeps its size.
    Passively,
    /// The WAL was past its limit: copied in full, the next commit writes from its start.
    Restarted,
}

/// One round: a passive checkpoint, then a restarting one when the WAL is past `limit`
/// frames.
pub(super) async fn checkpoint(pool: &SqlitePool, limit: i64) -> Result<Checkpointed, sqlx::Error> {
    let (_busy, frames, _copied): (i64, i64, i64) =
        sqlx::query_as("pragma wal_checkpoint(passive)")
            .fetch_one(pool)
            .await?;
    if frames <= limit {
        return Ok(Checkpointed::Passively);
    }
    // Waits (up to the busy timeout) for the writer's transaction to end.
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("pragma wal_checkpoint(restart)")
        .fetch_one(pool)
        .await?;
    Ok(if busy == 0 {
        Checkpointed::Restarted
    } else {
        Checkpointed::Passively
    })
}

pub(super) fn spawn(pool: SqlitePool, generation: Weak<AtomicU64>) {
    tokio::spawn(async move {
        let mut checkpointed_at = 0;
        let mut last = Instant::now();
        loop {
            tokio::time::sleep(AFTER_WRITES).await;
            let Some(now) = generation.upgrade().map(|g| g.load(Ordering::Acquire)) else {
                break;
            };
            if now == checkpointed_at && last.elapsed() < AT_LEAST_EVERY {
                continue;
            }
            if let Err(e) = checkpoint(&pool, WAL_LIMIT_FRAMES).await {
                // The writer checkpoints nothing itself: say so, and try again next round.
                tracing::warn!(error = %e, "WAL checkpoint failed: {e}");
                continue;
            }
            checkpointed_at = now;
            last = Instant::now();
        }
        pool.close().await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;

    #[tokio::test]
    async fn a_wal_past_its_limit_is_written_again_from_its_start_not_left_to_grow() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("wal.db");
        let store = SqliteStore::connect(&format!("sqlite://{}", file.display()))
            .await
            .expect("store");
        let writer = store.writer_pool();
        sqlx::query("create table filler (bytes blob)")
            .execute(writer)
            .await
            .expect("table");
        let fill = || async {
            for _ in 0..50 {
                sqlx::query("insert into filler values (randomblob(8192))")
                    .execute(writer)
                    .await
                    .expect("insert");
            }
        };
        fill().await;
        let wal = dir.path().join("wal.db-wal");
        let size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
        let filled = size();
        assert!(filled > 50 * 8192, "the inserts are in the WAL");

        let generous = checkpoint(writer, WAL_LIMIT_FRAMES)
            .await
            .expect("checkpoint");
        assert_eq!(generous, Checkpointed::Passively);
        assert_eq!(size(), filled, "a passive checkpoint leaves the WAL's size");

        let tight = checkpoint(writer, 10).await.expect("checkpoint");
        assert_eq!(tight, Checkpointed::Restarted);
        assert_eq!(
            size(),
            filled,
            "the file is kept for the next commits to overwrite, not truncated"
        );
        fill().await;
        assert_eq!(
            size(),
            filled,
            "the next commits wrote from the WAL's start"
        );
        let (rows,): (i64,) = sqlx::query_as("select count(*) from filler")
            .fetch_one(writer)
            .await
            .expect("count");
        assert_eq!(rows, 100, "nothing written is lost");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_that_read_first_wait_for_a_restarting_checkpoint_instead_of_failing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("busy.db").display());
        let store = SqliteStore::connect(&url).await.expect("store");
        sqlx::query("create table filler (bytes blob)")
            .execute(store.writer_pool())
            .await
            .expect("table");
        let checkpointer = SqlitePool::connect(&url).await.expect("second connection");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let restarting = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut restarted = 0;
                while !stop.load(Ordering::Acquire) {
                    if checkpoint(&checkpointer, 0).await.expect("checkpoint")
                        == Checkpointed::Restarted
                    {
                        restarted += 1;
                    }
                }
                restarted
            }
        });
        // As a page transaction does: read, then write.
        for n in 0..300 {
            let (mut tx, _gate) = store.write_tx().await.expect("begin");
            let (_,): (i64,) = sqlx::query_as("select count(*) from filler")
                .fetch_one(&mut *tx)
                .await
                .expect("read");
            sqlx::query("insert into filler values (randomblob(4096))")
                .execute(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("write {n} failed: {e}"));
            tx.commit().await.expect("commit");
        }
        stop.store(true, Ordering::Release);
        assert!(
            restarting.await.expect("checkpointer") > 0,
            "the WAL was restarted meanwhile"
        );
    }
}
