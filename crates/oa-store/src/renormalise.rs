//! Re-applying the normaliser (new tag rules, new postcodes, a fixed bug) to every stored
//! item, batch by batch in keyset order, each batch in its own transaction: items and their
//! opportunities stay consistent at every moment, and an interrupted run can simply rerun.
//!
//! Within a batch, chunks are normalised while the previous chunk is written (the same
//! [`ChunkWriter`] as a page's), and an item whose output digest comes out as stored is not
//! written at all.

use std::collections::{HashMap, HashSet};

use oa_model::{ItemRole, Normaliser};
use serde_json::Value;

use crate::StoreError;
use crate::page::{
    Normalisation, PageOutcome, PageTx, StoredChild, StoredParent, StoredStates, Work, corrupt,
    drop_superseded, normalise_work, series_with_children,
};
use crate::page_write::{CHUNK_WORK, ChunkWrite, ChunkWriter, Writes};

/// What one batch did, and where the next one starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenormaliseBatch {
    pub items: usize,
    /// Items whose opportunities and problems came out exactly as stored (by their digests),
    /// so were not rewritten.
    pub unchanged: usize,
    pub opportunities: usize,
    pub unusable: usize,
    pub awaiting_parent: usize,
    /// The last (feed id, item id) done; `None` when the store is exhausted.
    pub next: Option<(i64, String)>,
}

/// What a batch is normalised from, read in one snapshot.
pub(crate) struct BatchInput {
    /// Where it starts, as asked.
    pub after: Option<(i64, String)>,
    pub limit: usize,
    stored: Vec<StoredChild>,
    parents: Vec<StoredParent>,
    /// Series of the batch with live children: their schedules generate nothing.
    with_children: HashSet<String>,
}

impl BatchInput {
    /// How many chunks [`BatchChunks`] hands out for it.
    pub(crate) fn chunks(&self) -> usize {
        self.stored.len().div_ceil(CHUNK_WORK)
    }

    /// Where the batch after this one starts; `None` when this one is the last.
    pub(crate) fn next(&self) -> Option<(i64, String)> {
        (self.stored.len() == self.limit)
            .then(|| self.stored.last().map(|i| (i.feed_id, i.item_id.clone())))
            .flatten()
    }
}

/// Reads the `limit` live items after `after`, with their parents. `tx` may be a read-only
/// snapshot (to read the next batch while this one is written) or the batch's own write
/// transaction.
pub(crate) async fn read_batch<T: PageTx>(
    tx: &mut T,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<BatchInput, StoreError> {
    let (after_feed, after_item) = after.clone().unwrap_or((i64::MIN, String::new()));
    let stored = tx
        .live_items_after((after_feed, &after_item), limit as i64)
        .await?;
    let wanted: Vec<String> = stored
        .iter()
        .filter_map(|i| i.parent_ref.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let parents = if wanted.is_empty() {
        Vec::new()
    } else {
        tx.parents(&wanted).await?
    };
    // Renormalising moves no child between series, so which series have children (and so
    // generate no sessions) is known before the first chunk.
    let series = stored
        .iter()
        .filter(|i| ItemRole::parse(&i.role) == Some(ItemRole::Parent))
        .filter_map(|i| i.data_id.clone());
    let with_children = series_with_children(tx, series).await?;
    Ok(BatchInput {
        after,
        limit,
        stored,
        parents,
        with_children,
    })
}

/// Renormalises a batch read by [`read_batch`] in `tx` (which the caller commits), handing
/// `tx` back. The input must be what `tx` sees: read in it, or read in a snapshot that no
/// page has been applied since.
pub(crate) async fn batch<T: PageTx + 'static>(
    tx: T,
    input: BatchInput,
    normaliser: &dyn Normaliser,
) -> Result<(T, RenormaliseBatch), StoreError> {
    let writer = ChunkWriter::start(
        tx,
        Writes::Batch {
            chunks: input.chunks(),
        },
    );
    let mut chunks = match BatchChunks::new(&input, normaliser) {
        Ok(chunks) => chunks,
        Err(e) => {
            writer.abandon();
            return Err(e);
        }
    };
    while let Some(chunk) = chunks.next_chunk() {
        match chunk {
            Ok(chunk) => {
                if writer.write(chunk).is_err() {
                    break; // The writer failed: `finish` says why.
                }
            }
            Err(e) => {
                writer.abandon();
                return Err(e);
            }
        }
    }
    let (tx, _) = writer.finish().await?;
    Ok((tx, chunks.summary()))
}

/// A batch normalised chunk by chunk, so the database can write one chunk while the next
/// is normalised. Pure: it reads only the batch's input.
pub(crate) struct BatchChunks<'a> {
    input: &'a BatchInput,
    normaliser: &'a dyn Normaliser,
    parents: HashMap<String, Value>,
    stored_states: StoredStates<'a>,
    parts: std::slice::Chunks<'a, StoredChild>,
    outcome: PageOutcome,
    summary: RenormaliseBatch,
}

impl<'a> BatchChunks<'a> {
    pub(crate) fn new(
        input: &'a BatchInput,
        normaliser: &'a dyn Normaliser,
    ) -> Result<Self, StoreError> {
        let mut parents = HashMap::new();
        for parent in &input.parents {
            let data =
                serde_json::from_str(&parent.data).map_err(|e| corrupt(&parent.data_id, e))?;
            parents.insert(parent.data_id.clone(), data);
        }
        Ok(BatchChunks {
            input,
            normaliser,
            parents,
            stored_states: StoredStates::of(&input.stored),
            parts: input.stored.chunks(CHUNK_WORK),
            outcome: PageOutcome::default(),
            summary: RenormaliseBatch {
                items: input.stored.len(),
                next: input.next(),
                ..RenormaliseBatch::default()
            },
        })
    }

    /// The next chunk's writes; `None` once every chunk is done.
    pub(crate) fn next_chunk(&mut self) -> Option<Result<ChunkWrite, StoreError>> {
        let part = self.parts.next()?;
        Some(settle_chunk(
            part,
            &self.parents,
            &self.input.with_children,
            &self.stored_states,
            self.normaliser,
            &mut self.outcome,
            &mut self.summary,
        ))
    }

    /// What the chunks handed out so far did.
    pub(crate) fn summary(self) -> RenormaliseBatch {
        RenormaliseBatch {
            unusable: self.outcome.unusable,
            ..self.summary
        }
    }
}

/// Normalises one chunk of stored items and keeps what changed: the statuses, and the
/// opportunities or problems of items whose digests differ from the stored ones.
fn settle_chunk(
    part: &[StoredChild],
    parents: &HashMap<String, Value>,
    with_children: &HashSet<String>,
    stored: &StoredStates<'_>,
    normaliser: &dyn Normaliser,
    outcome: &mut PageOutcome,
    summary: &mut RenormaliseBatch,
) -> Result<ChunkWrite, StoreError> {
    let data: Vec<Value> = part
        .iter()
        .map(|i| serde_json::from_str(&i.data).map_err(|e| corrupt(&i.item_id, e)))
        .collect::<Result<_, _>>()?;
    let work: Vec<Work<'_>> = part
        .iter()
        .zip(&data)
        .map(|(i, data)| Work {
            feed_id: i.feed_id,
            feed_url: &i.feed_url,
            item_id: &i.item_id,
            kind: &i.kind,
            modified: i.modified,
            parent_ref: i.parent_ref.as_deref(),
            data: Some(data),
        })
        .collect();
    let Normalisation {
        statuses,
        mut rows,
        problems,
    } = normalise_work(&work, parents, normaliser, outcome)?;
    drop_superseded(&mut rows, with_children);
    summary.opportunities += rows.len();
    summary.awaiting_parent += statuses
        .values()
        .filter(|(status, _)| *status == "awaiting_parent")
        .count();
    let keys: Vec<(i64, &str)> = work.iter().map(|w| (w.feed_id, w.item_id)).collect();
    let (chunk, unchanged) = ChunkWrite::of_stored(&keys, stored, statuses, rows, problems);
    summary.unchanged += unchanged;
    Ok(chunk)
}
