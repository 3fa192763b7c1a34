//! `renormalise` on SQLite: while a batch is written, the next one is read on a reader
//! connection, so the one writer connection (the bottleneck) spends its time writing.
//!
//! A snapshot read beside the writer is used only if no page has been applied since it was
//! taken. Every page adds one to its feed's `pages` in its own transaction, so the sum over
//! feeds, read in the snapshot and again in the batch's write transaction, tells, whichever
//! process applied the page. Renormalise batches do not count: they rewrite only their own
//! items' derived rows, which no later batch of the same pass reads. (Two passes with
//! different tag rules at once, say a CLI run beside a server's daily refresh, race with or
//! without this: the store ends with one pass's output or a mix.) The snapshot is taken
//! while the current batch holds the write lock, so no page can land between it and the
//! current batch.

use std::sync::Mutex;

use oa_model::Normaliser;
use sqlx::{SqliteConnection, SqlitePool};

use super::page_tx::SqlitePageTx;
use crate::StoreError;
use crate::renormalise::{self, BatchInput, RenormaliseBatch};

const PAGES_APPLIED: &str = "select coalesce(sum(pages), 0) from feeds";

/// The next batch's input, read ahead.
#[derive(Default)]
pub(super) struct Prefetched(Mutex<Option<Snapshot>>);

impl std::fmt::Debug for Prefetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prefetched")
    }
}

struct Snapshot {
    input: BatchInput,
    /// Pages applied when it was read.
    pages_applied: i64,
}

impl Prefetched {
    /// The snapshot of the batch asked for, if that is what was read ahead.
    fn take(&self, after: &Option<(i64, String)>, limit: usize) -> Option<Snapshot> {
        let mut slot = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.take()
            .filter(|s| &s.input.after == after && s.input.limit == limit)
    }

    fn put(&self, snapshot: Snapshot) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(snapshot);
    }
}

/// Renormalises the batch after `after` in `tx`, from the snapshot read ahead if it is still
/// current (else read in `tx`), reading the next batch on `reader` meanwhile.
pub(super) async fn batch(
    mut tx: SqlitePageTx,
    reader: &SqlitePool,
    prefetched: &Prefetched,
    after: Option<(i64, String)>,
    limit: usize,
    normaliser: &dyn Normaliser,
) -> Result<(SqlitePageTx, RenormaliseBatch), StoreError> {
    let input = match prefetched.take(&after, limit) {
        Some(ahead) if ahead.pages_applied == pages_applied(&mut tx.0).await? => ahead.input,
        _ => renormalise::read_batch(&mut tx, after, limit).await?,
    };
    let reading = input
        .next()
        .map(|next| tokio::spawn(read_snapshot(reader.clone(), next, limit)));
    let written = renormalise::batch(tx, input, normaliser).await;
    if let Some(reading) = reading {
        if written.is_err() {
            reading.abort();
        } else if let Ok(Ok(snapshot)) = reading.await {
            prefetched.put(snapshot);
        }
        // A failed read ahead only means the next batch reads in its own transaction.
    }
    written
}

async fn read_snapshot(
    reader: SqlitePool,
    after: (i64, String),
    limit: usize,
) -> Result<Snapshot, StoreError> {
    let mut tx = SqlitePageTx(reader.begin().await?);
    // First, so the snapshot it counts is the one the items are read in.
    let pages_applied = pages_applied(&mut tx.0).await?;
    let input = renormalise::read_batch(&mut tx, Some(after), limit).await?;
    Ok(Snapshot {
        input,
        pages_applied,
    })
}

async fn pages_applied(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    let (pages,): (i64,) = sqlx::query_as(PAGES_APPLIED).fetch_one(conn).await?;
    Ok(pages)
}
