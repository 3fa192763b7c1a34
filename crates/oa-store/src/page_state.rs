//! What a page's transaction reads before it writes ([`PageState`], [`read_state`]): the
//! page's items as stored, the stored children of the parents it changes and the stored
//! parents its work points at. A plan reads it from a snapshot; the page's transaction
//! reads it again unless the store knows it unchanged (`page_plan`).

// foldhash, as in `normalisation` (docs/PERFORMANCE.md, "Thirty-second session").
use hashbrown::{HashMap, HashSet};

use oa_model::{ItemRole, ItemState, PreparedItem};
use serde_json::Value;

use crate::footprint::Footprint;
use crate::page::{ExistingItem, PageTx, StoredChild, StoredParent};
use crate::{FeedRef, StoreError};

/// What a page's transaction reads before it writes: everything normalising the page
/// depends on besides the page itself, in a canonical order, so that two reads of the same
/// stored state are equal.
#[derive(Debug, PartialEq)]
pub(crate) struct PageState {
    /// The page's items as stored, by item id.
    pub(crate) existing: Vec<ExistingItem>,
    /// Stored children of the parents the page changes, by (feed id, item id).
    pub(crate) children: Vec<StoredChild>,
    /// Stored parents the work points at, by `@id`; of one `@id` (in several feeds), the
    /// newest last, as read.
    pub(crate) parents: Vec<StoredParent>,
}

/// The page's items newer than their stored versions.
pub(crate) fn fresh<'a>(
    items: &'a [PreparedItem],
    existing: &HashMap<&str, &ExistingItem>,
) -> Vec<&'a PreparedItem> {
    items
        .iter()
        .filter(|i| {
            existing
                .get(i.id.as_str())
                .is_none_or(|e| i.modified > e.modified)
        })
        .collect()
}

pub(crate) fn by_id(existing: &[ExistingItem]) -> HashMap<&str, &ExistingItem> {
    existing.iter().map(|e| (e.item_id.as_str(), e)).collect()
}

/// The parents whose children must be recomputed: new, updated, deleted or re-identified.
fn changed_parents(
    fresh: &[&PreparedItem],
    existing: &HashMap<&str, &ExistingItem>,
) -> Vec<String> {
    let mut changed: HashSet<String> = HashSet::new();
    for item in fresh {
        let before = existing.get(item.id.as_str());
        if item.role == ItemRole::Parent || before.is_some_and(|e| e.role == Some(ItemRole::Parent))
        {
            changed.extend(item.data_id.clone());
            changed.extend(before.and_then(|e| e.data_id.clone()));
        }
    }
    changed.into_iter().collect()
}

/// Stored children to recompute: those not in the page itself.
pub(crate) fn recomputed<'a>(
    feed: &FeedRef,
    children: &'a [StoredChild],
    fresh: &[&PreparedItem],
) -> Vec<&'a StoredChild> {
    let page_ids: HashSet<&str> = fresh.iter().map(|i| i.id.as_str()).collect();
    children
        .iter()
        .filter(|c| !(c.feed_id == feed.id && page_ids.contains(c.item_id.as_str())))
        .collect()
}

/// The `@id`s of the page's parents (they are the newest). Read from the items' metadata,
/// not their parsed data, which a plan frees: an item has a data `@id` only if its data
/// parsed when it was prepared.
fn page_parent_ids<'a>(fresh: &[&'a PreparedItem]) -> impl Iterator<Item = &'a str> {
    fresh
        .iter()
        .filter(|i| i.role == ItemRole::Parent && i.state == ItemState::Updated)
        .filter_map(|i| i.data_id.as_deref())
}

/// The page's parents (they are the newest), by `@id`, with their parsed data.
pub(crate) fn page_parents<'a>(
    fresh: &[&'a PreparedItem],
) -> impl Iterator<Item = (&'a str, &'a Value)> {
    fresh
        .iter()
        .filter(|i| i.role == ItemRole::Parent && i.state == ItemState::Updated)
        .filter_map(|i| Some((i.data_id.as_deref()?, i.data.as_ref()?)))
}

/// The `@id`s of parents the page deletes.
fn deleted_parents<'a>(
    fresh: &[&PreparedItem],
    existing: &HashMap<&str, &'a ExistingItem>,
) -> HashSet<&'a str> {
    fresh
        .iter()
        .filter(|i| i.state == ItemState::Deleted)
        .filter_map(|i| existing.get(i.id.as_str())?.data_id.as_deref())
        .collect()
}

impl PageState {
    /// What reading this state for `items` of `feed` covered.
    pub(crate) fn footprint(&self, feed: &FeedRef, items: &[PreparedItem]) -> Footprint {
        Footprint::of(feed.id, items, &self.existing, &self.children)
    }
}

/// Who reads a page's state: a plan, from a snapshot, or the page's transaction, which takes
/// the page's link locks first.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Reading {
    Plan,
    /// A plan that keeps what it read, for its transaction to know it current without
    /// reading again (`page_plan::PagePlan::read_at`): it reads everything it depends on.
    PlanKept,
    Transaction,
}

/// Reads the page's state.
pub(crate) async fn read_state<T: PageTx>(
    tx: &mut T,
    feed: &FeedRef,
    items: &[PreparedItem],
    reading: Reading,
) -> Result<PageState, StoreError> {
    let lock = reading == Reading::Transaction;
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
    if lock {
        tx.lock_links(&links).await?;
    }
    // A plan for a feed new to the store takes its items as not stored: they seldom are (a
    // page stored earlier in the same walk may hold one), and reading them is work for the
    // database, PostgreSQL's server being what bounds a harvest into it (+5 to +43 % a
    // round there: docs/PERFORMANCE.md, "Harvest throughput", thirtieth session). The
    // transaction reads them whatever the plan took; a plan kept to skip that reading cannot
    // take them so.
    let mut existing = if reading == Reading::Plan && feed.new_to_store {
        Vec::new()
    } else {
        let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
        tx.existing_items(feed.id, &ids).await?
    };
    existing.sort_unstable_by(|a, b| a.item_id.cmp(&b.item_id));
    if lock {
        // A deleted (or re-identified) parent is known only by its stored `@id`: lock that
        // too, so a child page in another feed cannot link to it while it goes.
        let stored_parent_links: Vec<String> = existing
            .iter()
            .filter(|e| e.role == Some(ItemRole::Parent))
            .filter_map(|e| e.data_id.clone())
            .filter(|id| !links.contains(id))
            .collect();
        tx.lock_links(&stored_parent_links).await?;
    }
    let existing_by_id = by_id(&existing);
    let fresh = fresh(items, &existing_by_id);
    let changed = changed_parents(&fresh, &existing_by_id);
    let mut children = if changed.is_empty() {
        Vec::new()
    } else {
        tx.children_of(&changed).await?
    };
    children.sort_unstable_by(|a, b| (a.feed_id, &a.item_id).cmp(&(b.feed_id, &b.item_id)));
    let in_page: HashSet<&str> = page_parent_ids(&fresh).collect();
    let deleted_here = deleted_parents(&fresh, &existing_by_id);
    let wanted: Vec<String> = fresh
        .iter()
        .map(|i| i.parent_ref.as_deref())
        .chain(
            recomputed(feed, &children, &fresh)
                .iter()
                .map(|c| c.parent_ref.as_deref()),
        )
        .flatten()
        .filter(|r| !in_page.contains(*r) && !deleted_here.contains(r))
        .map(str::to_owned)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut parents = if wanted.is_empty() {
        Vec::new()
    } else {
        tx.parents(&wanted).await?
    };
    // Stable: of one `@id`, the newest stays last.
    parents.sort_by(|a, b| a.data_id.cmp(&b.data_id));
    // hashbrown's maps, unlike std's, may use what they borrow when dropped.
    drop((existing_by_id, deleted_here));
    Ok(PageState {
        existing,
        children,
        parents,
    })
}
