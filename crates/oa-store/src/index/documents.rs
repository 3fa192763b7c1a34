//! The stored documents of recently shown search results, kept in memory within a byte
//! budget: link workers in one area page through the same sessions again and again, and
//! reading a page's twenty documents from the store was half of a search's cost.
//!
//! The index drops an entry whenever the change log names its opportunity, and everything
//! when it reloads, so a cached document is never older than the index's own record of
//! the session. A document read from the store while the index applied changes is not
//! kept: it may predate them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::CandidateDoc;

/// Bytes of documents kept by default (`api.document_cache_mib`): about 2,700 of the usual
/// 1.5 KB.
pub(crate) const DOCUMENT_CACHE_BYTES: usize = 4 << 20;

/// What an entry costs beyond its strings (the map, the queue, the allocation headers).
const ENTRY_OVERHEAD: usize = 160;

#[derive(Debug)]
pub(crate) struct DocumentCache {
    budget: usize,
    inner: Mutex<Entries>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How the cache has done since the process started (for `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentCacheStats {
    /// Documents served from memory.
    pub hits: u64,
    /// Documents that had to be read from the store.
    pub misses: u64,
    pub documents: usize,
    pub bytes: usize,
}

#[derive(Debug, Default)]
struct Entries {
    by_id: HashMap<u64, (Arc<CandidateDoc>, u64)>,
    /// (id, entry number), oldest first; an id dropped and cached again is found here under
    /// its old number too, which no longer matches the map's.
    order: VecDeque<(u64, u64)>,
    bytes: usize,
    next_entry: u64,
    /// Raised by every invalidation.
    epoch: u64,
}

impl Default for DocumentCache {
    fn default() -> Self {
        DocumentCache::with_budget(DOCUMENT_CACHE_BYTES)
    }
}

impl DocumentCache {
    pub fn with_budget(budget: usize) -> Self {
        DocumentCache {
            budget,
            inner: Mutex::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The cached documents of these ids, and the ids not cached; with the epoch to hand
    /// back to [`DocumentCache::keep`] with what the store returns for the missing ones.
    pub fn get(&self, ids: &[u64]) -> (Vec<Arc<CandidateDoc>>, Vec<u64>, u64) {
        let entries = self.lock();
        let (mut found, mut missing) = (Vec::with_capacity(ids.len()), Vec::new());
        for id in ids {
            match entries.by_id.get(id) {
                Some((doc, _)) => found.push(Arc::clone(doc)),
                None => missing.push(*id),
            }
        }
        self.hits.fetch_add(found.len() as u64, Ordering::Relaxed);
        self.misses
            .fetch_add(missing.len() as u64, Ordering::Relaxed);
        (found, missing, entries.epoch)
    }

    pub fn stats(&self) -> DocumentCacheStats {
        let entries = self.lock();
        DocumentCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            documents: entries.by_id.len(),
            bytes: entries.bytes,
        }
    }

    /// Keeps documents read from the store, unless an invalidation came after `epoch`
    /// (they may be older than it). Evicts the oldest entries past the budget.
    pub fn keep(&self, epoch: u64, docs: &[(u64, Arc<CandidateDoc>)]) {
        let mut entries = self.lock();
        if entries.epoch != epoch {
            return;
        }
        for (id, doc) in docs {
            let bytes = cost(doc);
            if bytes > self.budget {
                continue;
            }
            let number = entries.next_entry;
            entries.next_entry += 1;
            if let Some((old, _)) = entries.by_id.insert(*id, (Arc::clone(doc), number)) {
                entries.bytes -= cost(&old);
            }
            entries.order.push_back((*id, number));
            entries.bytes += bytes;
        }
        while entries.bytes > self.budget {
            let Some((id, number)) = entries.order.pop_front() else {
                break;
            };
            if entries.by_id.get(&id).is_some_and(|(_, n)| *n == number)
                && let Some((doc, _)) = entries.by_id.remove(&id)
            {
                entries.bytes -= cost(&doc);
            }
        }
        // Stale queue positions of re-cached ids would otherwise pile up.
        if entries.order.len() > 2 * entries.by_id.len() + 64 {
            let Entries { by_id, order, .. } = &mut *entries;
            order.retain(|(id, number)| by_id.get(id).is_some_and(|(_, n)| n == number));
        }
    }

    /// Drops these opportunities' documents (they changed or went). None named (the index
    /// catching up on a quiet store): nothing to drop, and reads in flight are kept.
    pub fn forget(&self, ids: impl IntoIterator<Item = u64>) {
        let mut ids = ids.into_iter().peekable();
        if ids.peek().is_none() {
            return;
        }
        let mut entries = self.lock();
        entries.epoch += 1;
        for id in ids {
            if let Some((doc, _)) = entries.by_id.remove(&id) {
                entries.bytes -= cost(&doc);
            }
        }
        if entries.by_id.is_empty() {
            entries.order.clear();
        }
    }

    /// Drops every document.
    pub fn clear(&self) {
        let mut entries = self.lock();
        let epoch = entries.epoch + 1;
        *entries = Entries {
            epoch,
            next_entry: entries.next_entry,
            ..Entries::default()
        };
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Entries are consistent between statements: a panic elsewhere leaves them usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn cost(doc: &CandidateDoc) -> usize {
    doc.id.len()
        + doc.doc.len()
        + doc.feed_url.len()
        + doc.publisher.as_ref().map_or(0, String::len)
        + ENTRY_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: u64, body: &str) -> (u64, Arc<CandidateDoc>) {
        (
            id,
            Arc::new(CandidateDoc {
                id: format!("{id:016x}"),
                start_at: 0,
                lat: 53.7,
                lng: -2.7,
                doc: body.to_owned(),
                feed_url: "https://feed.example".into(),
                publisher: None,
                modified: 1,
            }),
        )
    }

    fn bodies(cache: &DocumentCache, ids: &[u64]) -> (Vec<String>, Vec<u64>) {
        let (found, missing, _) = cache.get(ids);
        (found.iter().map(|d| d.doc.clone()).collect(), missing)
    }

    #[test]
    fn keeps_what_it_is_given_and_reports_the_rest_missing() {
        let cache = DocumentCache::default();
        let (_, missing, epoch) = cache.get(&[1, 2, 3]);
        assert_eq!(missing, [1, 2, 3]);
        cache.keep(epoch, &[doc(1, "one"), doc(3, "three")]);
        assert_eq!(
            bodies(&cache, &[1, 2, 3]),
            (vec!["one".into(), "three".into()], vec![2])
        );
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.documents), (2, 4, 2));
    }

    #[test]
    fn a_changed_opportunity_is_forgotten_and_a_read_that_raced_the_change_is_not_kept() {
        let cache = DocumentCache::default();
        let (_, _, epoch) = cache.get(&[1, 2]);
        cache.keep(epoch, &[doc(1, "one"), doc(2, "two")]);
        // A catch-up that found no change does not hold back a read in flight.
        let (_, _, quiet) = cache.get(&[4]);
        cache.forget([]);
        cache.keep(quiet, &[doc(4, "four")]);
        assert_eq!(bodies(&cache, &[4]).1, Vec::<u64>::new());
        // A search reads 3 from the store; meanwhile the index applies a change to 1.
        let (_, _, before_change) = cache.get(&[3]);
        cache.forget([1]);
        cache.keep(before_change, &[doc(3, "three, maybe stale")]);
        assert_eq!(bodies(&cache, &[1, 2, 3]), (vec!["two".into()], vec![1, 3]));
        // Read again after the change: kept.
        let (_, _, epoch) = cache.get(&[1, 3]);
        cache.keep(epoch, &[doc(1, "one, new"), doc(3, "three")]);
        assert_eq!(
            bodies(&cache, &[1, 3]),
            (vec!["one, new".into(), "three".into()], vec![])
        );
        cache.clear();
        assert_eq!(bodies(&cache, &[1, 2, 3]).1, [1, 2, 3]);
        assert_eq!(cache.stats().bytes, 0);
    }

    #[test]
    fn the_oldest_go_first_past_the_budget_and_the_bytes_add_up() {
        let one = cost(&doc(0, &"x".repeat(100)).1);
        let cache = DocumentCache::with_budget(3 * one);
        for id in 0..5 {
            let (_, _, epoch) = cache.get(&[id]);
            cache.keep(epoch, &[doc(id, &"x".repeat(100))]);
        }
        assert_eq!(bodies(&cache, &[0, 1, 2, 3, 4]).1, [0, 1]);
        assert_eq!(cache.stats().bytes, 3 * one);
        // Cached again, 2 is the newest: the next eviction takes 3.
        let (_, _, epoch) = cache.get(&[2]);
        cache.keep(epoch, &[doc(2, &"x".repeat(100))]);
        cache.keep(epoch, &[doc(5, &"x".repeat(100))]);
        assert_eq!(bodies(&cache, &[2, 3, 4, 5]).1, [3]);
        assert_eq!(cache.stats().bytes, 3 * one);
        // A document larger than the whole budget is not kept at all.
        cache.keep(epoch, &[doc(9, &"x".repeat(4 * one))]);
        assert_eq!(bodies(&cache, &[9]).1, [9]);
        // A budget of 0 keeps nothing.
        let none = DocumentCache::with_budget(0);
        none.keep(0, &[doc(1, "one")]);
        assert_eq!(none.stats().documents, 0);
    }
}
