//! Applying one RPDE page: its rows, the SQL each backend supplies ([`PageTx`]), and the
//! rules, written once for every backend.
//!
//! Inside the page's transaction ([`crate::page_plan`]): keep only items newer than what is
//! stored (the greatest `modified` wins, also within the page); write them; recompute the
//! opportunities of every item that changed and of every stored child whose parent changed
//! (in any feed); move the cursor.

use std::collections::HashSet;

use async_trait::async_trait;
use oa_model::{ItemRole, PreparedItem};

use crate::StoreError;
use crate::digest::Digest;
use crate::document_tails::SharedTail;
use crate::page_write::ChunkWrite;
pub(crate) use crate::stored_state::StoredStates;

pub(crate) use crate::normalisation::{Normalisation, Work, normalise_work};

/// A stored item's version, as needed to decide whether a page's item is newer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExistingItem {
    pub item_id: String,
    pub modified: i64,
    pub data_id: Option<String>,
    pub role: Option<ItemRole>,
}

/// A stored item to normalise again (a child of a changed parent, or one of a `renormalise`
/// batch). Also read from a JSON array of its fields in this order but its data, which
/// SQLite's batch read sends apart.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Deserialize)]
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
#[derive(Debug, Clone, PartialEq)]
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
    /// Its output digests, once its chunk's rows are settled; `None` writes them unknown.
    pub digest: Option<Digest>,
    /// Not stored before this page (as read after the page's locks, so no other writer can
    /// store it meanwhile): a backend may insert it without a conflict clause.
    pub first_seen: bool,
}

/// A recomputed item's new status, for items not in the page itself.
#[derive(Debug, Clone)]
pub(crate) struct StatusRow {
    pub feed_id: i64,
    pub item_id: String,
    pub status: &'static str,
    pub problem: Option<String>,
}

/// A stored item's new output digests ([`crate::digest`]), written on its row.
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
    /// The stored document, or its head when `tail` is set.
    pub doc: String,
    /// The rest of the document, by index into the tails written with the row
    /// ([`crate::document_tails`]).
    pub tail: Option<usize>,
    /// Generated from this series' `Schedule` (its `parent_ref` is the series itself).
    pub from_schedule_of: Option<String>,
    /// Made from an item not stored before (see [`ItemRow::first_seen`]): its id, a digest
    /// of the item's feed and id, names no stored row.
    pub first_seen: bool,
    /// One of its item's occurrences (a series' scheduled session, an event's sub-event):
    /// its id has an occurrence key. Otherwise it is its item's own opportunity, whose id
    /// the item alone gives (PostgreSQL finds it by that id, `postgres::own_ids`).
    pub occurrence: bool,
}

#[cfg(test)]
impl OpportunityRow {
    /// A scheduled session of item `i` in feed 1, made from an item never stored before.
    pub(crate) fn session(id: &str, doc: &str) -> Self {
        OpportunityRow {
            id: id.into(),
            feed_id: 1,
            item_id: "i".into(),
            kind: "ScheduledSession",
            start_at: 0,
            end_at: None,
            lat: None,
            lng: None,
            status: "scheduled",
            modified: 0,
            parent_ref: None,
            doc: doc.into(),
            tail: None,
            from_schedule_of: None,
            first_seen: true,
            occurrence: false,
        }
    }
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
    /// Writes a chunk's rows (its digests taken out): the page's own items, when
    /// `page_feed` names the page's feed; the changed statuses of stored children; its
    /// opportunities, `chunk.rows` (every stored one of `chunk.opportunity_sources` that went
    /// deleted, the rest upserted in place, with `tails`, the shared ends of their documents
    /// ([`crate::document_tails`]), each stored as a new row, and a tail that the rows
    /// deleted or rewritten were the last to point at deleted); and its problems (every one
    /// of `chunk.problem_sources` deleted, then `chunk.problems` inserted).
    async fn write_rows(
        &mut self,
        page_feed: Option<i64>,
        chunk: ChunkWrite,
        tails: Vec<SharedTail>,
    ) -> Result<(), StoreError>;
    async fn set_digests(&mut self, rows: Vec<DigestRow>) -> Result<(), StoreError>;
    /// Which of these series `@id`s have live children (ScheduledSessions) in any feed.
    async fn series_with_children(
        &mut self,
        series_ids: &[String],
    ) -> Result<HashSet<String>, StoreError>;
    /// Deletes the sessions generated from these series' schedules, and the output digests
    /// of the series items that generated them.
    async fn delete_generated(&mut self, series_ids: &[String]) -> Result<(), StoreError>;
    /// Moves the feed's cursor to `next`. With `after`, the page was written while the page
    /// before it (which leaves the cursor at `after`) may still be in its transaction: it
    /// waits for that page to end, and fails with [`StoreError::PageBeforeNotStored`] unless
    /// that page committed.
    async fn finish_page(
        &mut self,
        feed_id: i64,
        next: &str,
        after: Option<&str>,
    ) -> Result<(), StoreError>;
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
    /// Normalised ahead of its transaction ([`crate::Store::plan_page`]), against the state
    /// the transaction found; `false` when normalised in the transaction.
    pub planned: bool,
    /// Planned, and the transaction read the state the plan was normalised against again
    /// to compare. A SQLite store reads it only when a commit since the plan may have
    /// changed it (`sqlite::commit_log`); PostgreSQL always does.
    pub plan_checked: bool,
}

/// Whether the cursor moved (`moved` rows): it must have when the page was written after one
/// that may not have committed (`after`, see [`PageTx::finish_page`]).
pub(crate) fn page_before_stored(moved: usize, after: Option<&str>) -> Result<(), StoreError> {
    match after {
        Some(after) if moved == 0 => Err(StoreError::PageBeforeNotStored(after.to_owned())),
        _ => Ok(()),
    }
}

/// A data-quality problem of a stored item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProblemRow {
    pub feed_id: i64,
    pub item_id: String,
    pub code: String,
    pub detail: String,
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
pub(crate) fn newest_per_id(items: Vec<PreparedItem>) -> Vec<PreparedItem> {
    // foldhash (hashbrown's default): SipHash was most of what hashing cost a page's plan.
    let mut index: hashbrown::HashMap<String, usize> =
        hashbrown::HashMap::with_capacity(items.len());
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
    use oa_model::ItemState;

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
