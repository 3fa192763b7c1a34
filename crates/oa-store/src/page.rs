//! Applying one RPDE page: the rules, written once for every backend.
//!
//! Inside the page's transaction: keep only items newer than what is stored (the greatest
//! `modified` wins, also within the page); write them; recompute the opportunities of every
//! item that changed and of every stored child whose parent changed (in any feed); move the
//! cursor. Backends supply the SQL through [`PageTx`].

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use oa_model::{ItemRole, ItemState, Normaliser, PreparedItem};
use serde_json::Value;

use crate::digest::Digest;
pub(crate) use crate::stored_state::StoredStates;
use crate::{FeedRef, StoreError};

pub(crate) use crate::normalisation::{Normalisation, Work, normalise_work};
use crate::page_write::{CHUNK_WORK, ChunkWriter, PageWrites, Writes, chunk_write};

/// A stored item's version, as needed to decide whether a page's item is newer.
#[derive(Debug, Clone)]
pub(crate) struct ExistingItem {
    pub item_id: String,
    pub modified: i64,
    pub data_id: Option<String>,
    pub role: Option<ItemRole>,
}

/// A stored item to normalise again (a child of a changed parent, or one of a `renormalise`
/// batch). Also read from a JSON array of its fields in this order but its data, which
/// SQLite's batch read sends apart.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub(crate) struct StoredChild {
    pub feed_id: i64,
    pub feed_url: String,
    pub item_id: String,
    pub kind: String,
    pub modified: i64,
    pub role: String,
    pub data_id: Option<String>,
    pub parent_ref: Option<String>,
    #[serde(skip)]
    pub data: String,
    /// Its status, problem and output digest as stored, so an item that comes out the same
    /// need not be rewritten.
    pub status: String,
    pub problem: Option<String>,
    pub digest_opportunities: Option<i64>,
    pub digest_problems: Option<i64>,
    pub digest_ids: Option<i64>,
}

/// A stored parent's data, found by its `@id`.
#[derive(Debug, Clone)]
pub(crate) struct StoredParent {
    pub data_id: String,
    pub data: String,
}

/// An item row to upsert.
#[derive(Debug, Clone)]
pub(crate) struct ItemRow {
    /// Without its parsed `data`, which is not written.
    pub item: PreparedItem,
    pub status: &'static str,
    pub problem: Option<String>,
}

/// A recomputed item's new status, for items not in the page itself.
#[derive(Debug, Clone)]
pub(crate) struct StatusRow {
    pub feed_id: i64,
    pub item_id: String,
    pub status: &'static str,
    pub problem: Option<String>,
}

/// An item's new output digests ([`crate::digest`]).
#[derive(Debug, Clone)]
pub(crate) struct DigestRow {
    pub feed_id: i64,
    pub item_id: String,
    pub digest: Digest,
}

/// An opportunity row to insert.
#[derive(Debug, Clone)]
pub(crate) struct OpportunityRow {
    pub id: String,
    pub feed_id: i64,
    pub item_id: String,
    pub kind: &'static str,
    pub start_at: i64,
    pub end_at: Option<i64>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub status: &'static str,
    pub modified: i64,
    pub parent_ref: Option<String>,
    pub doc: String,
    /// Generated from this series' `Schedule` (its `parent_ref` is the series itself).
    pub from_schedule_of: Option<String>,
}

/// The SQL a backend runs inside one page transaction.
#[async_trait]
pub(crate) trait PageTx: Send {
    /// Serialises concurrent pages that touch the same parent/child links (PostgreSQL).
    async fn lock_links(&mut self, keys: &[String]) -> Result<(), StoreError>;
    async fn existing_items(
        &mut self,
        feed_id: i64,
        ids: &[String],
    ) -> Result<Vec<ExistingItem>, StoreError>;
    /// Live parents by `@id`.
    async fn parents(&mut self, data_ids: &[String]) -> Result<Vec<StoredParent>, StoreError>;
    /// Live (not deleted) items after a (feed id, item id) position, in that order.
    async fn live_items_after(
        &mut self,
        after: (i64, &str),
        limit: i64,
    ) -> Result<Vec<StoredChild>, StoreError>;
    /// Live children pointing at any of these parent `@id`s.
    async fn children_of(&mut self, parent_ids: &[String]) -> Result<Vec<StoredChild>, StoreError>;
    async fn upsert_items(&mut self, feed_id: i64, rows: &[ItemRow]) -> Result<(), StoreError>;
    async fn set_item_status(&mut self, rows: &[StatusRow]) -> Result<(), StoreError>;
    async fn set_digests(&mut self, rows: &[DigestRow]) -> Result<(), StoreError>;
    /// Which of these series `@id`s have live children (ScheduledSessions) in any feed.
    async fn series_with_children(
        &mut self,
        series_ids: &[String],
    ) -> Result<HashSet<String>, StoreError>;
    /// Deletes the sessions generated from these series' schedules, and the output digests
    /// of the series items that generated them.
    async fn delete_generated(&mut self, series_ids: &[String]) -> Result<(), StoreError>;
    /// Deletes every problem of these source items, then inserts `rows`.
    async fn replace_problems(
        &mut self,
        sources: &[(i64, String)],
        rows: &[ProblemRow],
    ) -> Result<(), StoreError>;
    /// Makes `rows` the opportunities of these source items: those that went are deleted,
    /// the rest upserted in place.
    async fn replace_opportunities(
        &mut self,
        sources: &[(i64, String)],
        rows: Vec<OpportunityRow>,
    ) -> Result<(), StoreError>;
    async fn finish_page(&mut self, feed_id: i64, next: &str) -> Result<(), StoreError>;
}

/// What applying a page did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageOutcome {
    /// Items written (new or newer than stored).
    pub applied: usize,
    /// Items skipped because the stored version is as new or newer.
    pub stale: usize,
    pub deleted: usize,
    /// Items that could not become opportunities.
    pub unusable: usize,
    /// Stored children recomputed because their parent changed.
    pub children_recomputed: usize,
    pub opportunities_written: usize,
}

/// A data-quality problem of a stored item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProblemRow {
    pub feed_id: i64,
    pub item_id: String,
    pub code: String,
    pub detail: String,
}

/// Applies the page in `tx` (which the caller commits), handing `tx` back.
pub(crate) async fn apply<T: PageTx + 'static>(
    mut tx: T,
    feed: &FeedRef,
    items: Vec<PreparedItem>,
    next: &str,
    normaliser: &dyn Normaliser,
) -> Result<(T, PageOutcome), StoreError> {
    let mut outcome = PageOutcome::default();
    let received = items.len();
    let items = newest_per_id(items);
    outcome.stale += received - items.len();

    let links: Vec<String> = items
        .iter()
        .filter_map(|i| {
            i.data_id
                .clone()
                .filter(|_| i.role == ItemRole::Parent)
                .or(i.parent_ref.clone())
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    tx.lock_links(&links).await?;

    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let existing: HashMap<String, ExistingItem> = tx
        .existing_items(feed.id, &ids)
        .await?
        .into_iter()
        .map(|e| (e.item_id.clone(), e))
        .collect();
    // A deleted (or re-identified) parent is known only by its stored `@id`: lock that too,
    // so a child page in another feed cannot link to it while it goes.
    let stored_parent_links: Vec<String> = existing
        .values()
        .filter(|e| e.role == Some(ItemRole::Parent))
        .filter_map(|e| e.data_id.clone())
        .filter(|id| !links.contains(id))
        .collect();
    tx.lock_links(&stored_parent_links).await?;
    let fresh: Vec<&PreparedItem> = items
        .iter()
        .filter(|i| existing.get(&i.id).is_none_or(|e| i.modified > e.modified))
        .collect();
    outcome.stale += items.len() - fresh.len();
    outcome.applied = fresh.len();

    // Parents whose children must be recomputed: new, updated, deleted, or re-identified.
    let mut changed_parents: HashSet<String> = HashSet::new();
    for item in &fresh {
        let before = existing.get(&item.id);
        if item.role == ItemRole::Parent || before.is_some_and(|e| e.role == Some(ItemRole::Parent))
        {
            changed_parents.extend(item.data_id.clone());
            changed_parents.extend(before.and_then(|e| e.data_id.clone()));
        }
    }
    let page_ids: HashSet<&str> = fresh.iter().map(|i| i.id.as_str()).collect();
    let changed_parents: Vec<String> = changed_parents.into_iter().collect();
    let stored_children: Vec<StoredChild> = if changed_parents.is_empty() {
        Vec::new()
    } else {
        tx.children_of(&changed_parents)
            .await?
            .into_iter()
            .filter(|c| !(c.feed_id == feed.id && page_ids.contains(c.item_id.as_str())))
            .collect()
    };
    outcome.children_recomputed = stored_children.len();
    let stored_children_data: Vec<Value> = stored_children
        .iter()
        .map(|c| serde_json::from_str(&c.data).map_err(|e| corrupt(&c.item_id, e)))
        .collect::<Result<_, _>>()?;

    let mut work: Vec<Work<'_>> = fresh
        .iter()
        .map(|i| Work {
            feed_id: feed.id,
            feed_url: &feed.url,
            item_id: &i.id,
            kind: &i.kind,
            modified: i.modified,
            parent_ref: i.parent_ref.as_deref(),
            data: match i.state {
                ItemState::Updated => i.data.as_ref(),
                ItemState::Deleted => None,
            },
        })
        .collect();
    work.extend(
        stored_children
            .iter()
            .zip(&stored_children_data)
            .map(|(c, data)| Work {
                feed_id: c.feed_id,
                feed_url: &c.feed_url,
                item_id: &c.item_id,
                kind: &c.kind,
                modified: c.modified,
                parent_ref: c.parent_ref.as_deref(),
                data: Some(data),
            }),
    );

    // Parents: this page's own first (they are the newest), then the stored ones.
    let mut parents: HashMap<String, Value> = fresh
        .iter()
        .filter(|i| i.role == ItemRole::Parent && i.state == ItemState::Updated)
        .filter_map(|i| Some((i.data_id.clone()?, i.data.clone()?)))
        .collect();
    let deleted_here: HashSet<&str> = fresh
        .iter()
        .filter(|i| i.state == ItemState::Deleted)
        .filter_map(|i| existing.get(&i.id)?.data_id.as_deref())
        .collect();
    let wanted: Vec<String> = work
        .iter()
        .filter_map(|w| w.parent_ref)
        .filter(|r| !parents.contains_key(*r) && !deleted_here.contains(r))
        .map(str::to_owned)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if !wanted.is_empty() {
        for parent in tx.parents(&wanted).await? {
            let data =
                serde_json::from_str(&parent.data).map_err(|e| corrupt(&parent.data_id, e))?;
            parents.insert(parent.data_id, data);
        }
    }

    // A ScheduledSession arriving for a series replaces the sessions its schedule generated.
    let new_children: Vec<String> = fresh
        .iter()
        .filter(|i| i.role == ItemRole::Child && i.state == ItemState::Updated)
        .filter_map(|i| i.parent_ref.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let stored_states = StoredStates::of(&stored_children);
    let fresh_by_id: HashMap<&str, &PreparedItem> =
        fresh.iter().map(|i| (i.id.as_str(), *i)).collect();
    // Items this feed never sent before have no opportunities or problems to replace.
    let first_seen: HashSet<&str> = fresh
        .iter()
        .map(|i| i.id.as_str())
        .filter(|id| !existing.contains_key(*id))
        .collect();
    let writer = ChunkWriter::start(
        tx,
        Writes {
            chunks: work.len().div_ceil(CHUNK_WORK).max(1),
            page: Some(PageWrites {
                feed_id: feed.id,
                next: next.to_owned(),
                new_children,
            }),
        },
    );
    // An empty page still goes through the writer once: it moves the cursor.
    let chunks: Vec<&[Work<'_>]> = if work.is_empty() {
        vec![&[]]
    } else {
        work.chunks(CHUNK_WORK).collect()
    };
    for part in chunks {
        let chunk = match normalise_work(part, &parents, normaliser, &mut outcome) {
            Ok(normalised) => chunk_write(
                feed.id,
                part,
                &fresh_by_id,
                &first_seen,
                &stored_states,
                normalised,
            ),
            Err(e) => {
                writer.abandon();
                return Err(e);
            }
        };
        if writer.write(chunk).await.is_err() {
            break; // The writer failed: `finish` says why.
        }
    }
    let (tx, written) = writer.finish().await?;
    outcome.opportunities_written = written;
    Ok((tx, outcome))
}

/// The rule for schedules: a series' schedule is expanded only while the publisher sends no
/// ScheduledSessions for it, so the sessions generated for series with children are dropped.
pub(crate) fn drop_superseded(rows: &mut Vec<OpportunityRow>, with_children: &HashSet<String>) {
    rows.retain(|r| {
        r.from_schedule_of
            .as_ref()
            .is_none_or(|s| !with_children.contains(s))
    });
}

/// The series that `rows` were generated for and that have live children, as stored.
pub(crate) async fn stored_series_with_children<T: PageTx>(
    tx: &mut T,
    rows: &[OpportunityRow],
) -> Result<HashSet<String>, StoreError> {
    let series = rows.iter().filter_map(|r| r.from_schedule_of.clone());
    series_with_children(tx, series).await
}

/// Which of these series `@id`s have live children, as stored (no query for none).
pub(crate) async fn series_with_children<T: PageTx>(
    tx: &mut T,
    series: impl Iterator<Item = String>,
) -> Result<HashSet<String>, StoreError> {
    let series: Vec<String> = series.collect::<HashSet<_>>().into_iter().collect();
    if series.is_empty() {
        return Ok(HashSet::new());
    }
    tx.series_with_children(&series).await
}

/// The RPDE rule within one page: when an id appears twice, the greater `modified` wins
/// (and, at equal `modified`, the later one, as a consumer reading in order would keep).
fn newest_per_id(items: Vec<PreparedItem>) -> Vec<PreparedItem> {
    let mut index: HashMap<String, usize> = HashMap::with_capacity(items.len());
    let mut kept: Vec<PreparedItem> = Vec::with_capacity(items.len());
    for item in items {
        match index.get(&item.id) {
            Some(&at) if kept[at].modified > item.modified => {}
            Some(&at) => kept[at] = item,
            None => {
                index.insert(item.id.clone(), kept.len());
                kept.push(item);
            }
        }
    }
    kept
}

pub(crate) fn corrupt(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("stored JSON of {what} does not parse: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, modified: i64) -> PreparedItem {
        PreparedItem {
            id: id.into(),
            kind: "Event".into(),
            state: ItemState::Updated,
            modified,
            role: ItemRole::Standalone,
            data_id: None,
            parent_ref: None,
            data_json: None,
            data: None,
        }
    }

    #[test]
    fn greatest_modified_wins_within_a_page() {
        let kept = newest_per_id(vec![item("a", 5), item("b", 1), item("a", 3), item("a", 7)]);
        let summary: Vec<(&str, i64)> = kept.iter().map(|i| (i.id.as_str(), i.modified)).collect();
        assert_eq!(summary, vec![("a", 7), ("b", 1)]);
    }
}
