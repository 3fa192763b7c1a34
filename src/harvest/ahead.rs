//! A feed's pages fetched ahead of the one being stored: each planned while the pages
//! before it are written, and, where the store can ([`Store::writes_pages_ahead`]), written
//! too, on a connection of its own, committing once the page before it has.

use std::collections::HashSet;
use std::sync::Arc;

use oa_model::RpdePage;
use oa_normalise::OpenActiveNormaliser;
use oa_store::{FeedRef, PageOutcome, PagePlan, Store, StoreError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;

use super::{SlotTurn, take_slot};

/// What became of a page fetched ahead, by the time the walk applies it.
#[derive(Debug)]
pub(super) enum AheadOutcome {
    /// Planned; its transaction is still to come.
    Planned(PagePlan),
    /// Written beside the page before it: stored, or why not (it is then applied as a page
    /// without a plan is).
    Written(Result<PageOutcome, StoreError>),
}

/// A page fetched ahead, for the URL it was fetched from.
#[derive(Debug)]
pub(super) struct Upcoming {
    pub requested: String,
    /// The page's plan or write under way, with the page's slot
    /// ([`super::pages_in_memory`]).
    pub work: JoinHandle<Result<(AheadOutcome, OwnedSemaphorePermit), StoreError>>,
}

/// The page of the feed being stored now, with the URL it was fetched from: a page fetched
/// after it is written beside it only when it follows this one directly and shares none of
/// its items.
pub(super) type Applying = watch::Sender<Option<(String, Arc<RpdePage>)>>;

/// Everything a page fetched ahead needs, off the sink.
pub(super) struct AheadOf {
    pub store: Arc<dyn Store>,
    pub feed: FeedRef,
    pub normaliser: OpenActiveNormaliser,
    pub slots: Arc<Semaphore>,
    pub turn: SlotTurn,
    pub applying: watch::Receiver<Option<(String, Arc<RpdePage>)>>,
}

impl AheadOf {
    /// Plans the page fetched from `requested` (parsing its items, reading what it depends
    /// on, normalising it) on a task of its own, and writes it there too when it may be.
    pub(super) fn start(self, requested: &str, page: Arc<RpdePage>) -> Upcoming {
        let requested_url = requested.to_owned();
        let work = tokio::spawn(async move {
            let AheadOf {
                store,
                feed,
                normaliser,
                slots,
                turn,
                mut applying,
            } = self;
            // Parsed only once it has a slot: until then the page waits as fetched.
            let slot = take_slot(&slots, turn)
                .await
                .map_err(StoreError::Abandoned)?;
            let items = page.valid_items().map(oa_normalise::prepare).collect();
            // What writing it beside the page before needs, where the store can.
            let ids_and_next = store.writes_pages_ahead().then(|| {
                let ids: HashSet<String> = page.valid_items().map(|i| i.id.clone()).collect();
                (ids, page.next.clone())
            });
            drop(page);
            let plan = store.plan_page(&feed, items, &normaliser).await?;
            let Some((ids, next)) = ids_and_next else {
                return Ok((AheadOutcome::Planned(plan), slot));
            };
            // Written once the page before it is being stored (pages further back have
            // committed by then), unless this page is stored first.
            let beside = match applying
                .wait_for(|now| {
                    now.as_ref().is_some_and(|(fetched_from, page)| {
                        *fetched_from == requested_url || page.next == requested_url
                    })
                })
                .await
            {
                Ok(now) => now.as_ref().is_some_and(|(fetched_from, before)| {
                    *fetched_from != requested_url
                        && follows_sharing_no_item(before, &requested_url, &ids)
                }),
                Err(_) => false,
            };
            if !beside {
                return Ok((AheadOutcome::Planned(plan), slot));
            }
            let written = store
                .apply_plan_after(&feed, plan, &requested_url, &next, &normaliser)
                .await;
            Ok((AheadOutcome::Written(written), slot))
        });
        Upcoming {
            requested: requested.to_owned(),
            work,
        }
    }
}

/// Whether `before` is the page just before the page fetched from `requested` (it leaves
/// the cursor there) and names none of its item ids (`ids`). A page reads its items as
/// stored before it writes them, so one written beside a page that writes the same item
/// would read it without that page's write.
fn follows_sharing_no_item(before: &RpdePage, requested: &str, ids: &HashSet<String>) -> bool {
    before.next == requested && !before.valid_items().any(|item| ids.contains(&item.id))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::follows_sharing_no_item;

    fn page(next: &str, ids: &[&str]) -> oa_model::RpdePage {
        let items: Vec<String> = ids
            .iter()
            .map(|id| format!(r#"{{"id":"{id}","kind":"Event","state":"deleted","modified":1}}"#))
            .collect();
        let body = format!(r#"{{"next":"{next}","items":[{}]}}"#, items.join(","));
        oa_model::parse_page(body.as_bytes()).expect("page")
    }

    fn ids(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn a_page_is_written_beside_only_the_page_just_before_it_and_only_with_no_item_in_common() {
        let before = page("https://p/feed?2", &["a", "b"]);
        assert!(follows_sharing_no_item(
            &before,
            "https://p/feed?2",
            &ids(&["c", "d"])
        ));
        assert!(
            !follows_sharing_no_item(&before, "https://p/feed?9", &ids(&["c", "d"])),
            "not the page before"
        );
        assert!(
            !follows_sharing_no_item(&before, "https://p/feed?2", &ids(&["c", "b"])),
            "item b is in both pages"
        );
    }
}
