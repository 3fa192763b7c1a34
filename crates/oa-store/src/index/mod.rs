//! The in-memory search index: every scheduled, located session as a 64-byte record in a
//! spatial grid, so a search filters and counts without touching the database; documents
//! are read only for the page of results.
//!
//! It follows the store through the change log its triggers write: at once after a write
//! in this process (the store's write generation moves), and at least every second for
//! writes by other processes (a separate `harvest`, `renormalise`).

mod cell_fit;
mod documents;
pub(crate) mod grid;
mod ids;
pub(crate) mod record;
mod sessions;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub use record::{FeedSource, id_number, id_text};
use record::{SessionRecord, Vocabulary};
pub use sessions::{Ending, Found, SessionFacts, SessionSet};

use crate::{CandidateDoc, ChangeMark, IndexRow, Store, StoreError};
use documents::DocumentCache;
pub use documents::DocumentCacheStats;

/// How stale the index may get when nothing in this process wrote.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Change records are kept this long; a reader that has not caught up for half of it
/// reloads instead of trusting the log.
const CHANGE_LOG_KEPT: Duration = Duration::from_secs(3600);
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// See the module documentation. One per serving process, shared by every request.
#[derive(Debug)]
pub struct SessionIndex {
    inner: RwLock<Inner>,
    sync: tokio::sync::Mutex<SyncState>,
    /// The store's write generation when the index last caught up (`u64::MAX`: never).
    seen_generation: AtomicU64,
    /// Milliseconds after `created` of the last catch-up.
    synced_at_ms: AtomicU64,
    created: Instant,
    /// Documents of recent results, dropped as the change log names them.
    documents: DocumentCache,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    records: Vec<SessionRecord>,
    /// Slots of removed records, reused first.
    free: Vec<u32>,
    by_id: ids::IdTable,
    grid: grid::Grid,
    vocab: Vocabulary,
}

#[derive(Debug, Default)]
struct SyncState {
    /// The change-log position read up to; `None` until the first load.
    mark: Option<ChangeMark>,
    synced: Option<Instant>,
    pruned: Option<Instant>,
}

impl Default for SessionIndex {
    fn default() -> Self {
        SessionIndex {
            inner: RwLock::default(),
            sync: tokio::sync::Mutex::default(),
            seen_generation: AtomicU64::new(u64::MAX),
            synced_at_ms: AtomicU64::new(0),
            created: Instant::now(),
            documents: DocumentCache::default(),
        }
    }
}

impl SessionIndex {
    /// An empty index; the first [`SessionIndex::refresh`] loads it.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same, keeping up to `bytes` of recent results' documents (0: none).
    pub fn with_document_cache(bytes: usize) -> Self {
        SessionIndex {
            documents: DocumentCache::with_budget(bytes),
            ..Self::default()
        }
    }

    /// Sessions held.
    pub fn len(&self) -> usize {
        self.read().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Brings the index up to date with the store: loads it the first time, then applies
    /// what changed. Cheap when nothing did.
    pub async fn refresh(&self, store: &dyn Store) -> Result<(), StoreError> {
        if self.is_fresh(store) {
            return Ok(());
        }
        let mut sync = self.sync.lock().await;
        // Another request may have caught up while this one waited.
        if self.is_fresh(store) {
            return Ok(());
        }
        // Read before the changes, so a write landing meanwhile is looked for next time.
        let generation = store.write_generation();
        let stale = sync
            .synced
            .is_none_or(|at| at.elapsed() > CHANGE_LOG_KEPT / 2);
        match sync.mark {
            Some(mark) if !stale => {
                let batch = store.changes_since(Some(mark)).await?;
                if batch.overflow {
                    sync.mark = Some(self.reload(store).await?);
                } else {
                    self.apply(store, &batch.ids).await?;
                    sync.mark = Some(batch.mark);
                }
            }
            _ => sync.mark = Some(self.reload(store).await?),
        }
        sync.synced = Some(Instant::now());
        self.seen_generation.store(generation, Ordering::Release);
        self.synced_at_ms
            .store(self.created.elapsed().as_millis() as u64, Ordering::Release);
        if sync.pruned.is_none_or(|at| at.elapsed() > PRUNE_EVERY) {
            sync.pruned = Some(Instant::now());
            let before = crate::now_secs() - CHANGE_LOG_KEPT.as_secs() as i64;
            if let Err(e) = store.prune_changes(before).await {
                tracing::warn!(error = %e, "could not prune the change log: {e}");
            }
        }
        Ok(())
    }

    fn is_fresh(&self, store: &dyn Store) -> bool {
        let seen = self.seen_generation.load(Ordering::Acquire);
        let synced_ms = self.synced_at_ms.load(Ordering::Acquire);
        seen != u64::MAX
            && seen == store.write_generation()
            && (self.created.elapsed().as_millis() as u64).saturating_sub(synced_ms)
                < POLL_INTERVAL.as_millis() as u64
    }

    /// Reads every indexed row into a new index and swaps it in; returns the change-log
    /// mark taken before reading, so nothing written meanwhile is missed.
    async fn reload(&self, store: &dyn Store) -> Result<ChangeMark, StoreError> {
        let started = Instant::now();
        let mark = store.changes_since(None).await?.mark;
        let mut fresh = Inner::default();
        store
            .for_each_index_row(&mut |row| {
                if let Some(record) = fresh.record_of(&row) {
                    fresh.records.push(record);
                }
            })
            .await?;
        fresh.build_lookups();
        if fresh.vocab.tags.values.len() > record::MAX_TAGS as usize {
            tracing::warn!(
                tags = fresh.vocab.tags.values.len(),
                "more distinct tags than the index can search on: only the first {} can be",
                record::MAX_TAGS
            );
        }
        tracing::info!(
            sessions = fresh.by_id.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "search index loaded"
        );
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.documents.clear();
        Ok(mark)
    }

    /// Re-reads these opportunities and updates, adds or drops their records.
    async fn apply(&self, store: &dyn Store, ids: &[String]) -> Result<(), StoreError> {
        self.documents
            .forget(ids.iter().filter_map(|id| id_number(id)));
        for chunk in ids.chunks(1_000) {
            let rows = store.index_rows_by_id(chunk).await?;
            let present: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
            let mut inner = self.write();
            for id in chunk.iter().filter(|id| !present.contains(id.as_str())) {
                if let Some(id) = id_number(id) {
                    inner.remove(id);
                }
            }
            for row in &rows {
                inner.upsert(row);
            }
        }
        Ok(())
    }

    /// How the cache of result documents has done.
    pub fn document_cache(&self) -> DocumentCacheStats {
        self.documents.stats()
    }

    /// The stored documents of these opportunities (as numbers), in any order, unknown ones
    /// left out: from memory when recently read, else from the store (and then kept).
    pub async fn documents(
        &self,
        store: &dyn Store,
        ids: &[u64],
    ) -> Result<Vec<Arc<CandidateDoc>>, StoreError> {
        let (mut found, missing, epoch) = self.documents.get(ids);
        if missing.is_empty() {
            return Ok(found);
        }
        let wanted: Vec<String> = missing.iter().map(|&id| id_text(id)).collect();
        let docs = store.candidate_docs_by_id(&wanted).await?;
        // A result is written straight from its document's text, so a document that is not
        // a JSON object would break the whole page: each is checked once, as it is read.
        if let Some(bad) = docs.iter().find(|d| !is_json_object(&d.doc)) {
            return Err(StoreError::Corrupt(format!(
                "opportunity {}: its stored document is not a JSON object",
                bad.id
            )));
        }
        let read: Vec<(u64, Arc<CandidateDoc>)> = docs
            .into_iter()
            .filter_map(|doc| Some((id_number(&doc.id)?, Arc::new(doc))))
            .collect();
        self.documents.keep(epoch, &read);
        found.extend(read.into_iter().map(|(_, doc)| doc));
        Ok(found)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock leaves records consistent enough to read: each
        // update is a remove then an insert of one record.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    /// Replaces the record of this row's opportunity; drops it if the row is no longer
    /// searchable (cancelled, no location). A row that cannot be read is logged and left
    /// out: the index is a view, the stored data is untouched.
    /// The record of a searchable row. A row that cannot be read is logged and left out:
    /// the index is a view, the stored data is untouched.
    fn record_of(&mut self, row: &IndexRow) -> Option<SessionRecord> {
        self.vocab.record(row).unwrap_or_else(|e| {
            tracing::warn!(opportunity = %row.id, error = %e, "not indexed: {e}");
            None
        })
    }

    /// Builds the id table and the grid over all records at once, each at its final size.
    fn build_lookups(&mut self) {
        // Neighbours in space become neighbours in memory: a search reads each cell's
        // records in one sweep instead of jumping about.
        self.records
            .sort_unstable_by_key(|r| (grid::cell_of(r.point()), r.start));
        self.records.shrink_to_fit();
        self.by_id = ids::IdTable::with_capacity(self.records.len());
        for slot in 0..self.records.len() as u32 {
            self.by_id.insert(slot, &self.records);
        }
        let records = &self.records;
        self.grid = grid::Grid::build(records.iter().map(SessionRecord::point), |s| {
            records[s as usize].start
        });
    }

    fn upsert(&mut self, row: &IndexRow) {
        let record = self.record_of(row);
        if let Some(id) = id_number(&row.id) {
            self.remove(id);
        }
        let Some(record) = record else {
            return;
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.records[slot as usize] = record;
                slot
            }
            None => {
                self.records.push(record);
                (self.records.len() - 1) as u32
            }
        };
        self.by_id.insert(slot, &self.records);
        let records = &self.records;
        self.grid.insert(slot, record.point(), record.start, |s| {
            records[s as usize].start
        });
    }

    fn remove(&mut self, id: u64) {
        if let Some(slot) = self.by_id.remove(id, &self.records) {
            let record = self.records[slot as usize];
            self.grid.remove(slot, record.point());
            self.free.push(slot);
        }
    }
}

/// Whether `text` is one JSON object, checked without building it.
fn is_json_object(text: &str) -> bool {
    text.trim_start().starts_with('{')
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}
