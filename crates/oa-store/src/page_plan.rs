//! A page applied in two halves: what it reads of the store and what normalising makes of
//! it ([`plan`], outside any write transaction), then its writes ([`apply_plan`], in the
//! page's transaction).
//!
//! The harvest plans a feed's next page while the one before is written, so the normaliser
//! and the database's single writer each have a core instead of taking turns. A plan is
//! only a guess: the transaction writes the plan's rows only if the state is the one the
//! plan was normalised against (nothing it read changed since: the page before, another
//! feed's page, a `renormalise`), which it reads again ([`crate::page_state`]) unless the
//! store knows it unchanged (SQLite's log of commits, [`PlanCheck::Unchanged`]). Otherwise
//! it normalises the page again against what it read. Normalising depends on nothing else,
//! so a page stores exactly what it would have stored had it been normalised in its
//! transaction.

// foldhash, as in `normalisation`: SipHash on these per-item maps and sets was 3 % of a
// harvest's instructions (docs/PERFORMANCE.md, "Thirty-second session").
use std::sync::Arc;

use hashbrown::{HashMap, HashSet};

use oa_model::{ItemRole, ItemState, Normaliser, PreparedItem};
use serde_json::Value;

use crate::footprint::Footprint;
use crate::page::{
    PageOutcome, PageTx, StoredChild, StoredStates, Work, corrupt, newest_per_id, normalise_work,
};
use crate::page_state::{PageState, Reading, by_id, fresh, page_parents, read_state, recomputed};
use crate::page_write::{
    CHUNK_WORK, ChunkWrite, ChunkWriter, PLANNED_CHUNK_WORK, PageWrites, Writes, chunk_write,
    finish_page,
};
use crate::{FeedRef, StoreError};

/// A page with its items kept newest per id, and, when planned, what normalising it against
/// a state read outside its transaction gave.
pub struct PagePlan {
    items: Vec<PreparedItem>,
    /// Items dropped for an older duplicate within the page.
    duplicates: usize,
    ahead: Option<Ahead>,
}

struct Ahead {
    state: PageState,
    writes: NormalisedPage,
    /// The generation of the store's log of commits before the plan's snapshot, and what
    /// the plan read: kept by a store that can tell, from them, that the state is unchanged
    /// (`sqlite::commit_log`).
    read: Option<(u64, Arc<Footprint>)>,
}

/// A page's work normalised: its chunks of writes, in order, and what is left once they
/// are written.
struct NormalisedPage {
    chunks: Vec<ChunkWrite>,
    outcome: PageOutcome,
    new_children: Vec<String>,
}

impl PagePlan {
    /// A page to be read and normalised in its transaction.
    pub(crate) fn unplanned(items: Vec<PreparedItem>) -> Self {
        let received = items.len();
        let items = newest_per_id(items);
        PagePlan {
            duplicates: received - items.len(),
            items,
            ahead: None,
        }
    }

    /// Whether the page was normalised ahead of its transaction.
    pub fn is_planned(&self) -> bool {
        self.ahead.is_some()
    }

    /// The commit generation the plan read at, and what it read, when kept.
    pub(crate) fn read_at(&self) -> Option<(u64, &Footprint)> {
        let (generation, read) = self.ahead.as_ref()?.read.as_ref()?;
        Some((*generation, read))
    }
}

impl std::fmt::Debug for PagePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagePlan")
            .field("items", &self.items.len())
            .field("planned", &self.is_planned())
            .finish()
    }
}

/// Reads what the page depends on through `reads` (a snapshot: no locks are taken, nothing
/// is written) and normalises it. `generation`, when given, is that of the store's log of
/// commits before the snapshot: the plan then keeps what it read too ([`Footprint`]).
pub(crate) async fn plan<T: PageTx>(
    mut reads: T,
    feed: &FeedRef,
    items: Vec<PreparedItem>,
    normaliser: &dyn Normaliser,
    generation: Option<u64>,
) -> Result<PagePlan, StoreError> {
    let mut plan = PagePlan::unplanned(items);
    let reading = match generation {
        Some(_) => Reading::PlanKept,
        None => Reading::Plan,
    };
    let state = read_state(&mut reads, feed, &plan.items, reading).await?;
    // The snapshot ends before normalising: an open read transaction would keep SQLite's
    // checkpointer from restarting the WAL meanwhile.
    drop(reads);
    let mut chunks = Vec::new();
    let (outcome, new_children) = normalise_page(
        feed,
        &plan.items,
        &state,
        normaliser,
        PLANNED_CHUNK_WORK,
        &mut |chunk| chunks.push(chunk),
    )?;
    let writes = NormalisedPage {
        chunks,
        outcome,
        new_children,
    };
    let read = generation.map(|g| (g, Arc::new(state.footprint(feed, &plan.items))));
    plan.ahead = Some(Ahead {
        state,
        writes,
        read,
    });
    // The page's parsed trees are freed as soon as it is normalised, rather than held until
    // its transaction ends: a plan still current at its transaction never reads them again
    // (a stale one parses the kept text again). A harvest's peak memory is about 6 MB lower
    // (docs/PERFORMANCE.md, "Harvest throughput", twenty-second session).
    for item in &mut plan.items {
        item.data = None;
    }
    Ok(plan)
}

/// Parses again the data of items whose parsed tree a plan freed.
fn parse_again(items: &mut [PreparedItem]) -> Result<(), StoreError> {
    for item in items
        .iter_mut()
        .filter(|i| i.state == ItemState::Updated && i.data.is_none())
    {
        if let Some(json) = &item.data_json {
            item.data = Some(serde_json::from_str(json).map_err(|e| {
                StoreError::Corrupt(format!("item {} no longer parses: {e}", item.id))
            })?);
        }
    }
    Ok(())
}

/// How a page's transaction knows the state its plan was normalised against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PlanCheck {
    /// Read the state again and compare.
    Read,
    /// Nothing the plan read was written since its snapshot (`PagePlan::read_at`, checked
    /// by the caller): use the plan.
    Unchanged,
}

/// Applies a page in `tx` (which the caller commits), handing `tx` back: the plan's writes
/// when the state it was normalised against is still the stored one, otherwise the page
/// normalised again. `after`, for a page written while the page before it may still be in
/// its transaction, is the cursor that page leaves (see `PageTx::finish_page`). Also hands
/// back what the page wrote when its plan was used and kept it ([`PagePlan::read_at`]).
pub(crate) async fn apply_plan<T: PageTx + 'static>(
    mut tx: T,
    feed: &FeedRef,
    mut plan: PagePlan,
    (next, after): (&str, Option<&str>),
    (normaliser, check): (&dyn Normaliser, PlanCheck),
) -> Result<(T, PageOutcome, Option<Arc<Footprint>>), StoreError> {
    // The plan to use, and whether its state was read again; or the state to normalise the
    // page against.
    let current = match (plan.ahead.take(), check) {
        (Some(ahead), PlanCheck::Unchanged) => Ok((ahead, false)),
        (ahead, _) => {
            let state = read_state(&mut tx, feed, &plan.items, Reading::Transaction).await?;
            match ahead {
                Some(ahead) if ahead.state == state => Ok((ahead, true)),
                ahead => {
                    if ahead.is_some() {
                        tracing::debug!(feed.url = %feed.url, "the stored state changed since a page of {} was planned: normalising it again", feed.url);
                    }
                    Err(state)
                }
            }
        }
    };
    let writer = ChunkWriter::start(tx, Writes::Page { feed_id: feed.id });
    let mut wrote = None;
    let normalised = match current {
        Ok((ahead, plan_checked)) => {
            for chunk in ahead.writes.chunks {
                // A stopped writer says why at `finish`.
                let _ = writer.write(chunk);
            }
            let outcome = PageOutcome {
                planned: true,
                plan_checked,
                ..ahead.writes.outcome
            };
            wrote = ahead.read.map(|(_, read)| read);
            Ok((outcome, ahead.writes.new_children))
        }
        // Each chunk is written while the next is normalised.
        Err(state) => parse_again(&mut plan.items).and_then(|()| {
            normalise_page(
                feed,
                &plan.items,
                &state,
                normaliser,
                CHUNK_WORK,
                &mut |chunk| {
                    let _ = writer.write(chunk);
                },
            )
        }),
    };
    let (mut outcome, new_children) = match normalised {
        Ok(normalised) => normalised,
        Err(e) => {
            writer.abandon();
            return Err(e);
        }
    };
    outcome.stale += plan.duplicates;
    let page = PageWrites {
        feed_id: feed.id,
        next: next.to_owned(),
        after: after.map(str::to_owned),
        new_children,
    };
    let (mut tx, written) = writer.finish().await?;
    finish_page(&mut tx, page).await?;
    outcome.opportunities_written = written;
    Ok((tx, outcome, wrote))
}

/// Normalises the page's work (its fresh items and the stored children of the parents it
/// changes) against `state`, handing each chunk of `chunk_work` work items' writes to
/// `emit` as soon as it is normalised; returns the page's outcome and the series that
/// received sessions.
fn normalise_page(
    feed: &FeedRef,
    items: &[PreparedItem],
    state: &PageState,
    normaliser: &dyn Normaliser,
    chunk_work: usize,
    emit: &mut dyn FnMut(ChunkWrite),
) -> Result<(PageOutcome, Vec<String>), StoreError> {
    let mut outcome = PageOutcome::default();
    let existing = by_id(&state.existing);
    let fresh = fresh(items, &existing);
    outcome.stale += items.len() - fresh.len();
    outcome.applied = fresh.len();
    let stored_children: Vec<&StoredChild> = recomputed(feed, &state.children, &fresh);
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

    // Parents: the stored ones (of one `@id`, the newest), then this page's own, which
    // are newer still. The state holds none the page has or deletes.
    let stored_parents: Vec<Value> = state
        .parents
        .iter()
        .map(|p| serde_json::from_str(&p.data).map_err(|e| corrupt(&p.data_id, e)))
        .collect::<Result<_, _>>()?;
    let mut parents: HashMap<&str, &Value> = state
        .parents
        .iter()
        .map(|p| p.data_id.as_str())
        .zip(&stored_parents)
        .collect();
    parents.extend(page_parents(&fresh));

    // A ScheduledSession arriving for a series replaces the sessions its schedule generated.
    let new_children: Vec<String> = fresh
        .iter()
        .filter(|i| i.role == ItemRole::Child && i.state == ItemState::Updated)
        .filter_map(|i| i.parent_ref.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let stored_states = StoredStates::of(stored_children.iter().copied());
    let fresh_by_id: HashMap<&str, &PreparedItem> =
        fresh.iter().map(|i| (i.id.as_str(), *i)).collect();
    // Items this feed never sent before have no opportunities or problems to replace.
    let first_seen: HashSet<&str> = fresh
        .iter()
        .map(|i| i.id.as_str())
        .filter(|id| !existing.contains_key(*id))
        .collect();
    // An empty page is still one (empty) chunk: writing it moves the cursor.
    let parts: Vec<&[Work<'_>]> = if work.is_empty() {
        vec![&[]]
    } else {
        work.chunks(chunk_work).collect()
    };
    for part in parts {
        let normalised = normalise_work(part, &parents, normaliser, &mut outcome)?;
        emit(chunk_write(
            feed.id,
            part,
            &fresh_by_id,
            &first_seen,
            &stored_states,
            normalised,
        ));
    }
    Ok((outcome, new_children))
}
