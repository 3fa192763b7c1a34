//! A whole `renormalise` pass on SQLite, as a pipeline: the next batch is read on a reader
//! connection and normalised on this task while the batch before it is written and
//! committed on the one writer connection. Each batch is still its own transaction.
//!
//! Reading and normalising work from a snapshot taken outside the batch's transaction. A
//! snapshot is used only if no page has been applied since it was taken: every page adds
//! one to its feed's `pages` in its own transaction, so the sum over feeds, read in the
//! snapshot and again when the batch's write transaction begins, tells, whichever process
//! applied the page. When it differs, the batch and those after it are dropped unwritten,
//! and the pass goes on from that batch, reading it inside its own write transaction.
//! Renormalise batches do not count: they rewrite only their own items' derived rows,
//! which no other batch of the pass reads. (Two passes with different tag rules at once,
//! say a CLI run beside a server's daily refresh, race with or without this: the store ends
//! with one pass's output or a mix.)
//!
//! Measured (docs/PERFORMANCE.md, "Renormalise"): before, a batch's commit, during which
//! nothing was normalised, held the pass to about 1.4 of the 2 cores.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use oa_model::Normaliser;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::SqliteStore;
use super::lookups::Lookups;
use super::page_tx::SqlitePageTx;
use crate::StoreError;
use crate::page_write::{ChunkWrite, ChunkWriter, Writes};
use crate::renormalise::{self, BatchChunks, BatchInput, RenormaliseBatch};

const PAGES_APPLIED: &str = "select coalesce(sum(pages), 0) from feeds";

/// A batch's input, and the pages applied when it was read.
struct Snapshot {
    input: BatchInput,
    pages_applied: i64,
}

/// How a batch's writing ended.
enum Written {
    Committed,
    /// A page was applied after its snapshot: nothing written.
    Stale,
    /// The batch before it did not commit, or the pass stopped: nothing written.
    Skipped,
}

/// A batch handed to its writer.
struct InFlight {
    after: Option<(i64, String)>,
    summary: RenormaliseBatch,
    /// Tells the writer whether to commit, once the batch before it has been reported (a
    /// pass told to stop commits nothing more).
    commit: Option<oneshot::Sender<bool>>,
    written: JoinHandle<Result<Written, StoreError>>,
}

/// Renormalises every live item after `after`, `limit` at a time, calling `each` with each
/// batch once it has committed, until the store is exhausted or `each` says stop (the batch
/// normalised meanwhile is then rolled back: nothing commits after the batch it stopped at).
pub(super) async fn pass(
    db: &SqliteStore,
    mut after: Option<(i64, String)>,
    limit: usize,
    normaliser: &dyn Normaliser,
    each: &mut (dyn for<'b> FnMut(&'b RenormaliseBatch) -> bool + Send),
) -> Result<(), StoreError> {
    loop {
        match pipeline(db, after.take(), limit, normaliser, each).await? {
            None => return Ok(()),
            // A stale snapshot: that batch again, read in its own write transaction.
            Some(stale) => {
                db.grow_write_cache().await?;
                let (tx, gate) = db.write_tx().await?;
                let mut tx = SqlitePageTx::Sqlx(tx, gate);
                let input = renormalise::read_batch(&mut tx, stale, limit).await?;
                let (tx, batch) = renormalise::batch(tx, input, normaliser).await?;
                tx.commit().await?;
                db.generation.fetch_add(1, Ordering::Release);
                if !each(&batch) {
                    return Ok(());
                }
                match batch.next {
                    Some(next) => after = Some(next),
                    None => return Ok(()),
                }
            }
        }
    }
}

/// Runs the pipeline from `after` until the end, a stop, or a stale snapshot (whose batch
/// start it returns, everything from there on unwritten).
async fn pipeline(
    db: &SqliteStore,
    after: Option<(i64, String)>,
    limit: usize,
    normaliser: &dyn Normaliser,
    each: &mut (dyn for<'b> FnMut(&'b RenormaliseBatch) -> bool + Send),
) -> Result<Option<Option<(i64, String)>>, StoreError> {
    let mut reading = Some(spawn_read(&db.lookups, after, limit));
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut committed: Option<oneshot::Receiver<()>> = None;
    let mut stopping = false;
    let ended = 'pipeline: loop {
        if let Some(read) = reading.take().filter(|_| !stopping) {
            let snapshot = match joined(read.await) {
                Ok(Ok(snapshot)) => snapshot,
                Ok(Err(e)) | Err(e) => break Err(e),
            };
            reading = snapshot
                .input
                .next()
                .map(|next| spawn_read(&db.lookups, Some(next), limit));
            let chunk_count = snapshot.input.chunks();
            let (queue, chunks) = mpsc::channel(chunk_count.max(1));
            let (done, this_committed) = oneshot::channel();
            let (commit, may_commit) = oneshot::channel();
            let written = tokio::spawn(write_batch(
                db.clone(),
                committed.replace(this_committed),
                (snapshot.pages_applied, chunk_count),
                (chunks, may_commit),
                done,
            ));
            // The first batch in flight has nothing before it to report.
            let commit = if in_flight.is_empty() {
                let _ = commit.send(true);
                None
            } else {
                Some(commit)
            };
            match normalise_into(&snapshot.input, normaliser, &queue) {
                Ok(summary) => in_flight.push_back(InFlight {
                    after: snapshot.input.after,
                    summary,
                    commit,
                    written,
                }),
                Err(e) => {
                    written.abort();
                    break Err(e);
                }
            }
        }
        // Report what is done, keeping one batch written beside the one normalised next.
        let keep = usize::from(reading.is_some() && !stopping);
        while in_flight.len() > keep {
            let Some(batch) = in_flight.pop_front() else {
                break;
            };
            match joined(batch.written.await) {
                Ok(Ok(Written::Committed)) => {
                    stopping |= !each(&batch.summary);
                    if let Some(commit) = in_flight.front_mut().and_then(|b| b.commit.take()) {
                        let _ = commit.send(!stopping);
                    }
                }
                Ok(Ok(Written::Stale)) => break 'pipeline Ok(Some(batch.after)),
                Ok(Ok(Written::Skipped)) => {}
                Ok(Err(e)) | Err(e) => break 'pipeline Err(e),
            }
        }
        if in_flight.is_empty() && (reading.is_none() || stopping) {
            break Ok(None);
        }
    };
    drain(&mut in_flight).await;
    if let Some(read) = reading {
        read.abort();
    }
    ended
}

/// Normalises a batch into its writer's queue, which holds the whole batch: a chunk is
/// refused only if the writer stopped (its task says why).
fn normalise_into(
    input: &BatchInput,
    normaliser: &dyn Normaliser,
    queue: &mpsc::Sender<ChunkWrite>,
) -> Result<RenormaliseBatch, StoreError> {
    let mut chunks = BatchChunks::new(input, normaliser)?;
    while let Some(chunk) = chunks.next_chunk() {
        if queue.try_send(chunk?).is_err() {
            break;
        }
    }
    Ok(chunks.summary())
}

/// Lets the batches still in flight end (a later one finds its predecessor gone and
/// writes nothing).
async fn drain(in_flight: &mut VecDeque<InFlight>) {
    for batch in in_flight.drain(..) {
        drop(batch.commit);
        let _ = batch.written.await;
    }
}

/// Writes one batch's chunks in its own transaction once the batch before it committed,
/// if no page was applied since its snapshot, and commits when told to; then lets the next
/// batch begin.
async fn write_batch(
    db: SqliteStore,
    after_previous: Option<oneshot::Receiver<()>>,
    (pages_applied_then, chunk_count): (i64, usize),
    (mut chunks, may_commit): (mpsc::Receiver<ChunkWrite>, oneshot::Receiver<bool>),
    done: oneshot::Sender<()>,
) -> Result<Written, StoreError> {
    if let Some(previous) = after_previous
        && previous.await.is_err()
    {
        return Ok(Written::Skipped);
    }
    // The write lock is taken only once there is something to write, so pages from a
    // harvester in this or another process get in while the batch is still normalised.
    let Some(first) = chunks.recv().await else {
        if chunk_count > 0 {
            return Ok(Written::Skipped); // Its normalising stopped.
        }
        return commit_nothing(may_commit, done).await;
    };
    db.grow_write_cache().await?;
    let (tx, gate) = db.write_tx().await?;
    let mut tx = SqlitePageTx::Sqlx(tx, gate);
    if pages_applied(&mut tx).await? != pages_applied_then {
        return Ok(Written::Stale); // Rolled back as `tx` drops.
    }
    let batch = ChunkWriter::start(
        tx,
        Writes::Batch {
            chunks: chunk_count,
        },
    );
    let mut next = Some(first);
    while let Some(chunk) = next {
        if batch.write(chunk).is_err() {
            break; // The writer failed: `finish` says why.
        }
        next = chunks.recv().await;
    }
    let (tx, _) = batch.finish().await?;
    if may_commit.await != Ok(true) {
        return Ok(Written::Skipped); // Rolled back as `tx` drops.
    }
    tx.commit().await?;
    db.generation.fetch_add(1, Ordering::Release);
    let _ = done.send(());
    Ok(Written::Committed)
}

/// An empty batch (an empty store) commits nothing, in order like any other.
async fn commit_nothing(
    may_commit: oneshot::Receiver<bool>,
    done: oneshot::Sender<()>,
) -> Result<Written, StoreError> {
    if may_commit.await != Ok(true) {
        return Ok(Written::Skipped);
    }
    let _ = done.send(());
    Ok(Written::Committed)
}

fn spawn_read(
    reads: &Arc<Lookups>,
    after: Option<(i64, String)>,
    limit: usize,
) -> JoinHandle<Result<Snapshot, StoreError>> {
    let reads = reads.clone();
    tokio::spawn(async move {
        let mut tx = SqlitePageTx::Read(reads.snapshot()?);
        // First, so the snapshot it counts is the one the items are read in.
        let pages_applied = pages_applied(&mut tx).await?;
        let input = renormalise::read_batch(&mut tx, after, limit).await?;
        Ok(Snapshot {
            input,
            pages_applied,
        })
    })
}

async fn pages_applied(tx: &mut SqlitePageTx) -> Result<i64, StoreError> {
    tx.run(|conn| {
        conn.prepare_cached(PAGES_APPLIED)?
            .query_row([], |row| row.get(0))
    })
    .await
}

/// A task's result; a panic in it goes on here.
fn joined<T>(result: Result<T, tokio::task::JoinError>) -> Result<T, StoreError> {
    match result {
        Ok(value) => Ok(value),
        Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
        Err(_) => Err(StoreError::Abandoned(
            "a renormalise batch's task was cancelled".into(),
        )),
    }
}
