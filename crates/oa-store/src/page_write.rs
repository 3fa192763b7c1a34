//! The write half of applying a page or a `renormalise` batch.
//!
//! A page or a batch is written by a task that owns the transaction and writes each chunk
//! while the next is normalised ([`ChunkWriter`]): normalising is pure and reads only what
//! the transaction read before its first write, so the database (SQLite's worker thread,
//! PostgreSQL's server) works while the normaliser does. A page planned ahead
//! ([`crate::page_plan`]) hands its chunks over all at once. A page's cursor moves after its
//! last chunk ([`finish_page`]); only the caller commits.

use hashbrown::{HashMap, HashSet};

use oa_model::PreparedItem;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::StoreError;
use crate::digest::{Digest, output_digests};
use crate::document_tails::split_shared_tails;
use crate::normalisation::{Normalisation, Statuses, Work};
use crate::page::{
    DigestRow, ItemRow, OpportunityRow, PageTx, ProblemRow, StatusRow, StoredStates,
    drop_superseded, stored_series_with_children,
};
use crate::stored_state::keep_changed;

/// Work items normalised (and written) together while the next are normalised: small, so
/// that the writer starts early.
pub(crate) const CHUNK_WORK: usize = 250;

/// Work items a plan normalises (and its transaction writes) together. A plan's chunks are
/// handed to the writer all at once, so nothing overlaps them and each chunk costs a round
/// of statements: a 500-item page as one chunk ran about 6 % faster into PostgreSQL, whose
/// server is a harvest's bound (docs/PERFORMANCE.md, "Thirty-fifth session"). Still
/// bounded, for a page that recomputes many stored children.
pub(crate) const PLANNED_CHUNK_WORK: usize = 1_000;

/// What one chunk of normalised work writes.
pub(crate) struct ChunkWrite {
    /// The page's own items in the chunk, with their new status.
    pub items: Vec<ItemRow>,
    /// Changed statuses of stored children in the chunk.
    pub statuses: Vec<StatusRow>,
    /// Work items of the chunk whose stored opportunities `rows` replace (any others' rows
    /// are upserted: items never stored before, or whose opportunities keep their ids).
    pub opportunity_sources: Vec<(i64, String)>,
    pub rows: Vec<OpportunityRow>,
    /// Likewise for problems.
    pub problem_sources: Vec<(i64, String)>,
    pub problems: Vec<ProblemRow>,
    /// Digests of what the chunk writes, for items whose output changed.
    pub digests: Vec<DigestRow>,
}

/// The writer of one page's (or batch's) chunks, running beside the normaliser.
pub(crate) struct ChunkWriter<T> {
    chunks: mpsc::UnboundedSender<ChunkWrite>,
    task: JoinHandle<Result<(T, usize), StoreError>>,
}

/// What a [`ChunkWriter`] writes.
pub(crate) enum Writes {
    /// A `renormalise` batch of this many chunks: nothing is finished unless all are
    /// written.
    Batch { chunks: usize },
    /// A page of this feed: each chunk also writes the page's own items, with their digests.
    Page { feed_id: i64 },
}

/// What a page's writes leave to do once its chunks are written.
pub(crate) struct PageWrites {
    pub feed_id: i64,
    /// The cursor the page leaves.
    pub next: String,
    /// The cursor the page before leaves, when that page may still be in its transaction
    /// ([`crate::Store::apply_plan_after`]).
    pub after: Option<String>,
    /// Series that received ScheduledSessions: their generated sessions go.
    pub new_children: Vec<String>,
}

impl<T: PageTx + 'static> ChunkWriter<T> {
    /// Starts writing: `tx` moves to the writer task until [`ChunkWriter::finish`].
    pub(crate) fn start(tx: T, writes: Writes) -> Self {
        // Unbounded, so a normaliser can hand chunks over without awaiting: what can wait
        // is one page's or one batch's chunks.
        let (chunks, queue) = mpsc::unbounded_channel();
        ChunkWriter {
            chunks,
            task: tokio::spawn(write_chunks(tx, writes, queue)),
        }
    }

    /// Queues a chunk. An error means the writer stopped; [`ChunkWriter::finish`] says why.
    pub(crate) fn write(&self, chunk: ChunkWrite) -> Result<(), ()> {
        self.chunks.send(chunk).map_err(|_| ())
    }

    /// Waits for the writes: the transaction back, and the opportunities written.
    pub(crate) async fn finish(self) -> Result<(T, usize), StoreError> {
        drop(self.chunks);
        match self.task.await {
            Ok(written) => written,
            Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
            Err(_) => Err(abandoned()),
        }
    }

    /// Stops the writer; its transaction is rolled back when dropped.
    pub(crate) fn abandon(self) {
        self.task.abort();
    }
}

/// The writes of one chunk of normalised work. Stored children whose output comes out as
/// stored keep their rows; the page's own items get their digests in the writer, once the
/// sessions their schedules generated are settled.
pub(crate) fn chunk_write(
    feed_id: i64,
    part: &[Work<'_>],
    fresh_by_id: &HashMap<&str, &PreparedItem>,
    first_seen: &HashSet<&str>,
    stored: &StoredStates<'_>,
    normalised: Normalisation<'_>,
) -> ChunkWrite {
    let Normalisation {
        mut statuses,
        mut rows,
        problems,
    } = normalised;
    for row in rows
        .iter_mut()
        .filter(|r| r.feed_id == feed_id && first_seen.contains(r.item_id.as_str()))
    {
        row.first_seen = true;
    }
    let in_page = |w: &&Work<'_>| w.feed_id == feed_id && fresh_by_id.contains_key(w.item_id);
    let items: Vec<ItemRow> = part
        .iter()
        .filter(in_page)
        .filter_map(|w| fresh_by_id.get(w.item_id).copied())
        .map(|item| {
            let (status, problem) = statuses
                .remove(&(feed_id, item.id.as_str()))
                .unwrap_or(("ok", None));
            ItemRow {
                item: written_item(item),
                status,
                problem,
                digest: None,
                first_seen: first_seen.contains(item.id.as_str()),
            }
        })
        .collect();
    let replaced_in_page: Vec<(i64, String)> = items
        .iter()
        .filter(|i| !first_seen.contains(i.item.id.as_str()))
        .map(|i| (feed_id, i.item.id.clone()))
        .collect();
    // What is left are stored children (never series, so nothing of theirs is generated):
    // their digests are final here.
    let children: Vec<(i64, &str)> = part
        .iter()
        .filter(|w| !in_page(w))
        .map(|w| (w.feed_id, w.item_id))
        .collect();
    let (mut chunk, _) = ChunkWrite::of_stored(&children, stored, statuses, rows, problems);
    chunk.items = items;
    // Taken here, beside the normaliser, rather than in the writer, which the harvest waits
    // on: they stand unless the writer drops superseded generated sessions (see
    // `settle_page_items`).
    set_item_digests(feed_id, &mut chunk);
    chunk
        .opportunity_sources
        .extend(replaced_in_page.iter().cloned());
    chunk.problem_sources.extend(replaced_in_page);
    chunk
}

impl ChunkWrite {
    /// The writes of normalised stored items against what they have stored: the statuses
    /// that changed, and the opportunities and problems of those whose digests changed (the
    /// others' rows dropped); with how many items have nothing to write.
    pub(crate) fn of_stored(
        items: &[(i64, &str)],
        stored: &StoredStates<'_>,
        statuses: Statuses<'_>,
        mut rows: Vec<OpportunityRow>,
        mut problems: Vec<ProblemRow>,
    ) -> (Self, usize) {
        let digests = output_digests(items.iter().copied(), &rows, &problems);
        let replaced = keep_changed(items, stored, &digests, &mut rows, &mut problems);
        let chunk = ChunkWrite {
            items: Vec::new(),
            statuses: stored.changed(statuses),
            opportunity_sources: replaced.opportunity_sources,
            rows,
            problem_sources: replaced.problem_sources,
            problems,
            digests: replaced.digests,
        };
        (chunk, replaced.unchanged)
    }
}

/// The item as its row stores it (the raw JSON text, not the parsed tree).
fn written_item(item: &PreparedItem) -> PreparedItem {
    PreparedItem {
        id: item.id.clone(),
        kind: item.kind.clone(),
        state: item.state,
        modified: item.modified,
        role: item.role,
        data_id: item.data_id.clone(),
        parent_ref: item.parent_ref.clone(),
        data_json: item.data_json.clone(),
        data: None,
    }
}

fn abandoned() -> StoreError {
    StoreError::Abandoned("its writes stopped before its last chunk".into())
}

async fn write_chunks<T: PageTx>(
    mut tx: T,
    writes: Writes,
    mut queue: mpsc::UnboundedReceiver<ChunkWrite>,
) -> Result<(T, usize), StoreError> {
    let mut received = 0;
    let mut written = 0;
    while let Some(mut chunk) = queue.recv().await {
        received += 1;
        let page_feed = match writes {
            Writes::Page { feed_id } => {
                settle_page_items(&mut tx, feed_id, &mut chunk).await?;
                Some(feed_id)
            }
            Writes::Batch { .. } => None,
        };
        written += chunk.rows.len();
        let digests = std::mem::take(&mut chunk.digests);
        // After every digest of the chunk was taken of the whole documents.
        let tails = split_shared_tails(&mut chunk.rows);
        tx.write_rows(page_feed, chunk, tails).await?;
        if !digests.is_empty() {
            tx.set_digests(digests).await?;
        }
    }
    // A batch whose normalising stopped early must not finish. (A page's normalising that
    // stops abandons its writer.)
    if let Writes::Batch { chunks } = writes
        && received != chunks
    {
        return Err(abandoned());
    }
    Ok((tx, written))
}

/// What a page leaves to do once its chunks are written: its series' generated sessions
/// go, and its cursor moves.
pub(crate) async fn finish_page<T: PageTx>(tx: &mut T, page: PageWrites) -> Result<(), StoreError> {
    // Last, so that sessions generated by a series earlier in this very page go too.
    if !page.new_children.is_empty() {
        tx.delete_generated(&page.new_children).await?;
    }
    tx.finish_page(page.feed_id, &page.next, page.after.as_deref())
        .await
}

/// Settles the sessions generated for the page's series (against the children stored so
/// far; this page's own are settled at its end), then each page item's output digest: taken
/// again only when some generated sessions went, or the chunk came without them.
async fn settle_page_items<T: PageTx>(
    tx: &mut T,
    feed_id: i64,
    chunk: &mut ChunkWrite,
) -> Result<(), StoreError> {
    let with_children = stored_series_with_children(tx, &chunk.rows).await?;
    let before = chunk.rows.len();
    drop_superseded(&mut chunk.rows, &with_children);
    if chunk.rows.len() != before || chunk.items.iter().any(|i| i.digest.is_none()) {
        set_item_digests(feed_id, chunk);
    }
    Ok(())
}

/// Each of the chunk's page items' output digests, over the chunk's rows and problems.
fn set_item_digests(feed_id: i64, chunk: &mut ChunkWrite) {
    let keys = chunk.items.iter().map(|i| (feed_id, i.item.id.as_str()));
    let digests = output_digests(keys, &chunk.rows, &chunk.problems);
    let settled: Vec<Digest> = chunk
        .items
        .iter()
        .map(|i| digests[&(feed_id, i.item.id.as_str())])
        .collect();
    drop(digests);
    for (item, digest) in chunk.items.iter_mut().zip(settled) {
        item.digest = Some(digest);
    }
}
