//! WAL checkpoints on their own connection, off the write path.
//!
//! SQLite's automatic checkpoint runs inside the committing writer: every 1,000 pages of WAL
//! a page transaction stops to copy them into the database and fsync it. Here the writer
//! never checkpoints (`wal_autocheckpoint = 0`); this task does, passively (it never blocks
//! the writer or readers), shortly after writes. It stops when the last handle on the store
//! is dropped.

use std::sync::Weak;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::SqlitePool;

/// How soon after a write the WAL is checkpointed.
const AFTER_WRITES: Duration = Duration::from_millis(250);
/// A checkpoint at least this often anyway (another process may have written).
const AT_LEAST_EVERY: Duration = Duration::from_secs(30);

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
            if let Err(e) = sqlx::query("pragma wal_checkpoint(passive)")
                .execute(&pool)
                .await
            {
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
