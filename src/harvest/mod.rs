//! Harvesting configured sources into the store: discovery ([`sources`]), one store
//! transaction per page ([`StoreSink`]), and the schedule that walks many feeds at once
//! ([`schedule`]).

mod ahead;
pub mod refresh;
pub mod schedule;
pub mod sources;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use indicatif::ProgressBar;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use oa_harvest::{FetchError, Fetcher, PageSink, Shutdown, WalkError, WalkSummary, walk_until};
use oa_model::RpdePage;
use oa_normalise::OpenActiveNormaliser;
use oa_store::{FeedEvent, FeedRecord, FeedRef, PageOutcome, Store, StoreError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use ahead::{AheadOf, AheadOutcome, Applying, Upcoming};
use tokio::task::JoinHandle;

/// What harvesting needs: where to store, how to fetch, how to normalise. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Harvester {
    pub store: Arc<dyn Store>,
    pub fetcher: Fetcher,
    pub normaliser: OpenActiveNormaliser,
    /// How long a page waits for an unavailable database before its feed is marked failing.
    pub store_outage: Duration,
    /// Shared by every feed's sink: see [`pages_in_memory`].
    pub pages_in_memory: Arc<Semaphore>,
}

impl Harvester {
    /// A sink storing pages of `feed`.
    pub fn sink(&self, feed: FeedRef) -> StoreSink {
        StoreSink::new(self.store.clone(), feed)
            .with_normaliser(self.normaliser.clone())
            .with_store_outage(self.store_outage)
            .with_pages_in_memory(self.pages_in_memory.clone())
    }
}

/// How many pages may be held parsed (planned ahead, or being applied) at once across all
/// the feeds one harvester walks. A parsed page of 500 sessions is a few megabytes until
/// it is stored, and the store writes one page at a time (SQLite) or a few (PostgreSQL on
/// two cores): with sixteen feeds walked at once, each with a page applied and the next
/// planned, a harvest of twenty feeds peaked at 140-190 MB (docs/PERFORMANCE.md, "Harvest
/// throughput", twenty-second session). Waiting pages stay as fetched, unparsed.
pub const PAGES_IN_MEMORY: usize = 3;

/// The [`PAGES_IN_MEMORY`] slots for one harvester's feeds: see [`pages_in_memory_of`].
pub fn pages_in_memory() -> Arc<Semaphore> {
    pages_in_memory_of(PAGES_IN_MEMORY)
}

/// `slots` slots for pages held parsed (at least one), given in the order asked. A page
/// asks only after its feed's earlier pages have theirs, and gives it back once stored, so
/// every slot is given back in turn.
pub fn pages_in_memory_of(slots: usize) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(slots.max(1)))
}

/// The default for [`Harvester::store_outage`]: long enough for a database restart or a
/// failover.
pub const STORE_OUTAGE: Duration = Duration::from_secs(600);

/// Stores pages of one feed, each with its `next` URL as the new cursor, in one transaction.
#[derive(Debug)]
pub struct StoreSink {
    store: Arc<dyn Store>,
    feed: FeedRef,
    normaliser: OpenActiveNormaliser,
    progress: Option<ProgressBar>,
    store_outage: Duration,
    /// Abandons waiting for an unavailable database (never a write in progress).
    shutdown: Shutdown,
    /// "Retrying" writes in flight; settled before the walk's final state is recorded.
    retry_notes: Mutex<Vec<JoinHandle<()>>>,
    /// The pages fetched ahead (at most two, [`oa_harvest::walker`]), in order, each being
    /// planned (or written, [`ahead`]) while the pages before it are stored.
    upcoming: Mutex<VecDeque<Upcoming>>,
    /// The page being stored.
    applying: Applying,
    /// Slots for pages held parsed, shared with the other feeds' sinks ([`pages_in_memory`]).
    pages_in_memory: Arc<Semaphore>,
    /// This feed's pages' turns to ask for a slot.
    slot_order: SlotOrder,
    /// Pages stored from such a plan (not normalised again in their transaction).
    pages_planned: AtomicUsize,
    /// Pages written beside the page before them ([`Store::apply_plan_after`]).
    pages_written_ahead: AtomicUsize,
}

impl StoreSink {
    pub fn new(store: Arc<dyn Store>, feed: FeedRef) -> Self {
        StoreSink {
            store,
            feed,
            normaliser: OpenActiveNormaliser::default(),
            progress: None,
            store_outage: STORE_OUTAGE,
            shutdown: Shutdown::never(),
            retry_notes: Mutex::default(),
            upcoming: Mutex::default(),
            applying: Applying::new(None),
            pages_in_memory: pages_in_memory(),
            slot_order: SlotOrder::default(),
            pages_planned: AtomicUsize::new(0),
            pages_written_ahead: AtomicUsize::new(0),
        }
    }

    /// Shares slots for parsed pages with other feeds' sinks ([`pages_in_memory`]).
    pub fn with_pages_in_memory(mut self, slots: Arc<Semaphore>) -> Self {
        self.pages_in_memory = slots;
        self
    }

    /// Normalises with an area's own tag rules.
    pub fn with_normaliser(mut self, normaliser: OpenActiveNormaliser) -> Self {
        self.normaliser = normaliser;
        self
    }

    /// Waits this long, retrying, for an unavailable database before failing a page.
    pub fn with_store_outage(mut self, outage: Duration) -> Self {
        self.store_outage = outage;
        self
    }

    /// Stops waiting for an unavailable database when shutdown is requested: the page is
    /// left unstored (its transaction rolled back, the cursor where it was).
    pub fn with_shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Counts stored pages on a terminal progress bar.
    pub fn with_progress(mut self, bar: ProgressBar) -> Self {
        self.progress = Some(bar);
        self
    }

    /// How many pages were stored from the plan made while the page before them was
    /// written: how much of the walk overlapped its writes.
    pub fn pages_planned(&self) -> usize {
        self.pages_planned.load(Ordering::Relaxed)
    }

    /// How many pages were written while the page before them was, on a connection of
    /// their own ([`Store::writes_pages_ahead`]).
    pub fn pages_written_ahead(&self) -> usize {
        self.pages_written_ahead.load(Ordering::Relaxed)
    }

    /// Drops the plans of every page fetched ahead (they give their slots back).
    fn abort_upcoming(&self) {
        let later = match self.upcoming.lock() {
            Ok(mut queue) => std::mem::take(&mut *queue),
            Err(_) => VecDeque::new(),
        };
        for upcoming in later {
            upcoming.work.abort();
        }
    }

    /// The plan (or the write) of the page fetched from `requested`, if one was begun:
    /// `None` when it was not, or could not be made (the page is then applied unplanned, and
    /// any error it meets is reported from there).
    async fn plan_of(&self, requested: &str) -> Option<(AheadOutcome, OwnedSemaphorePermit)> {
        let upcoming = self.upcoming.lock().ok()?.pop_front()?;
        if upcoming.requested != requested {
            // Pages are applied in the order they were fetched; anything else is a walk
            // that started again, whose plans no page will ask for.
            upcoming.work.abort();
            self.abort_upcoming();
            return None;
        }
        match upcoming.work.await {
            Ok(Ok(plan)) => Some(plan),
            Ok(Err(error)) => {
                tracing::debug!(feed.url = %self.feed.url, feed.page = %requested, %error, "could not plan a page of {} ahead ({error}); applying it unplanned", self.feed.url);
                None
            }
            Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
            Err(_) => None,
        }
    }

    /// Counts a stored page, `waited` for its plan and `storing` it: a walk whose pages wait
    /// for their plans is bound by its normaliser, one whose pages do not, by its store.
    fn stored(
        &self,
        requested: &str,
        outcome: PageOutcome,
        (waited, storing): (Duration, Duration),
    ) {
        if outcome.planned {
            self.pages_planned.fetch_add(1, Ordering::Relaxed);
        }
        tracing::debug!(
            feed.url = %self.feed.url,
            page = %requested,
            ?outcome,
            waited_for_plan_ms = waited.as_secs_f64() * 1e3,
            storing_ms = storing.as_secs_f64() * 1e3,
            "stored a page of {}",
            self.feed.url
        );
        if let Some(bar) = &self.progress {
            bar.inc(1);
        }
    }
}

#[async_trait]
impl PageSink for StoreSink {
    async fn apply(&self, requested: &str, page: Arc<RpdePage>) -> Result<(), String> {
        if self.store.writes_pages_ahead() {
            // The page after it may be written beside it (`ahead`).
            self.applying
                .send_replace(Some((requested.to_owned(), page.clone())));
        }
        // The page's transaction rolled back whole, so a lost connection, a restart or a
        // failover is waited out and the page applied again from the start.
        let asked = Instant::now();
        let (planned, _slot) = match self.plan_of(requested).await {
            Some((AheadOutcome::Planned(plan), slot)) => (Some(plan), slot),
            Some((AheadOutcome::Written(Ok(outcome)), _slot)) => {
                self.pages_written_ahead.fetch_add(1, Ordering::Relaxed);
                // Written beside the page before: what it waited for was its write.
                self.stored(requested, outcome, (Duration::ZERO, asked.elapsed()));
                return Ok(());
            }
            Some((AheadOutcome::Written(Err(error)), slot)) => {
                tracing::debug!(feed.url = %self.feed.url, feed.page = %requested, %error, "could not write a page of {} beside the page before ({error}); applying it now", self.feed.url);
                (None, slot)
            }
            None => {
                // This page asks for its slot only now (its plan failed, or none was made).
                // Plans of the pages after it, begun meanwhile, must not keep slots while
                // this page waits for one: feeds could then hold every slot for pages that
                // wait on earlier pages that have none. Those pages are applied unplanned.
                self.abort_upcoming();
                (
                    None,
                    take_slot(&self.pages_in_memory, self.slot_order.turn()).await?,
                )
            }
        };
        let attempt = || async {
            let items = page.valid_items().map(oa_normalise::prepare).collect();
            self.store
                .apply_page(&self.feed, items, &page.next, &self.normaliser)
                .await
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(15))
            .with_total_delay(Some(self.store_outage))
            .without_max_times()
            .with_jitter();
        let retried = attempt
            .retry(backoff)
            .when(StoreError::is_transient)
            .notify(|error, delay| {
                tracing::warn!(feed.url = %self.feed.url, feed.page = %requested, %error, "the database is unavailable storing a page of {}; trying again in {delay:?}: {error}", self.feed.url);
            });
        let waited = asked.elapsed();
        let storing = Instant::now();
        // The first attempt always runs to its end (a page being stored is finished on
        // shutdown); only the waiting for a database that went away is abandoned.
        let first = match planned {
            Some(plan) => {
                self.store
                    .apply_plan(&self.feed, plan, &page.next, &self.normaliser)
                    .await
            }
            None => attempt().await,
        };
        let outcome = match first {
            Ok(outcome) => outcome,
            Err(error) if !error.is_transient() => return Err(error.to_string()),
            Err(error) => {
                tracing::warn!(feed.url = %self.feed.url, feed.page = %requested, %error, "the database is unavailable storing a page of {}: {error}", self.feed.url);
                tokio::select! {
                    outcome = retried => outcome.map_err(|e| e.to_string())?,
                    () = self.shutdown.requested() => {
                        return Err(format!("shut down while waiting for the database ({error}); the page was not stored"));
                    }
                }
            }
        };
        self.stored(requested, outcome, (waited, storing.elapsed()));
        Ok(())
    }

    /// Plans the page, or writes it ([`ahead`]), on a task of its own, while this feed's
    /// pages before it are written.
    fn upcoming(&self, requested: &str, page: &Arc<RpdePage>) {
        let upcoming = AheadOf {
            store: self.store.clone(),
            feed: self.feed.clone(),
            normaliser: self.normaliser.clone(),
            slots: self.pages_in_memory.clone(),
            turn: self.slot_order.turn(),
            applying: self.applying.subscribe(),
        }
        .start(requested, page.clone());
        if let Ok(mut queue) = self.upcoming.lock() {
            queue.push_back(upcoming);
        }
    }

    fn pages_ahead(&self) -> usize {
        self.store.pages_to_plan_ahead()
    }

    /// Shows the feed as retrying while the fetcher waits; the write must not delay the retry.
    fn retrying(&self, error: &FetchError, _delay: Duration) {
        let (store, feed) = (self.store.clone(), self.feed.clone());
        let event = FeedEvent::Retrying {
            error: error.to_string(),
        };
        let note = tokio::spawn(async move {
            if let Err(e) = store.record_feed_event(feed.id, &event).await {
                tracing::warn!(feed.url = %feed.url, error = %e, "could not record that {} is retrying: {e}", feed.url);
            }
        });
        if let Ok(mut notes) = self.retry_notes.lock() {
            notes.push(note);
        }
    }

    async fn settle(&self) {
        // Pages planned but never applied (the walk stopped first) are dropped.
        self.abort_upcoming();
        self.applying.send_replace(None);
        let notes = match self.retry_notes.lock() {
            Ok(mut notes) => std::mem::take(&mut *notes),
            Err(_) => Vec::new(),
        };
        for note in notes {
            let _ = note.await;
        }
    }
}

/// The order in which a feed's pages ask for slots: the order they were given turns in,
/// which is page order. It must be: a feed's plans run on tasks of their own (two at once
/// when two pages are fetched ahead), and were the later page's task to ask first and take
/// the last slot, the earlier page's plan would wait for it while the later page, applied
/// only after the earlier one, never gave it back.
#[derive(Debug, Default)]
struct SlotOrder {
    /// Told once the page last given a turn has its slot.
    last: Mutex<Option<oneshot::Receiver<()>>>,
}

impl SlotOrder {
    /// The next page's turn: after the page given the turn before.
    fn turn(&self) -> SlotTurn {
        let (taken, told) = oneshot::channel();
        let after = self
            .last
            .lock()
            .ok()
            .and_then(|mut last| last.replace(told));
        SlotTurn { after, taken }
    }
}

/// A page's place among its feed's pages asking for slots ([`SlotOrder`]).
struct SlotTurn {
    /// Resolves once the page before has its slot, or was dropped.
    after: Option<oneshot::Receiver<()>>,
    /// Told once this page has its slot.
    taken: oneshot::Sender<()>,
}

/// A slot for a parsed page ([`pages_in_memory`]), asked for in the page's turn.
async fn take_slot(slots: &Arc<Semaphore>, turn: SlotTurn) -> Result<OwnedSemaphorePermit, String> {
    if let Some(after) = turn.after {
        // An error is the page before dropped (its plan aborted): this page's turn now.
        let _ = after.await;
    }
    // The semaphore is never closed; an error would mean it was.
    let slot = slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| "the harvester stopped taking pages".to_owned())?;
    let _ = turn.taken.send(());
    Ok(slot)
}

/// Walks one feed from its stored cursor to its end (or to shutdown) and records how it went.
pub async fn harvest_feed(
    store: Arc<dyn Store>,
    fetcher: &Fetcher,
    feed: &FeedRecord,
    sink: &dyn PageSink,
    shutdown: &Shutdown,
) -> Result<WalkSummary, WalkError> {
    let result = walk_until(fetcher, sink, feed.resume_url(), shutdown).await;
    let event = match &result {
        Ok(summary) if summary.stopped => return result,
        Ok(_) => FeedEvent::CaughtUp,
        Err(WalkError::Gone(e)) => FeedEvent::Gone {
            error: e.to_string(),
        },
        Err(e) => FeedEvent::Failing {
            error: e.to_string(),
        },
    };
    if let Err(e) = store.record_feed_event(feed.id, &event).await {
        tracing::error!(feed.url = %feed.url, error = %e, "could not record the state of {}: {e}", feed.url);
    }
    result
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::sync::Semaphore;

    use super::{SlotOrder, SlotTurn, pages_in_memory_of, take_slot};

    /// Takes a slot in `turn`, notes it under `name`, holds it a moment and gives it back.
    async fn take_and_note(
        slots: Arc<Semaphore>,
        turn: SlotTurn,
        name: &'static str,
        served: Arc<Mutex<Vec<&'static str>>>,
    ) {
        let slot = take_slot(&slots, turn).await.expect("a slot");
        served.lock().expect("lock").push(name);
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(slot);
    }

    #[tokio::test]
    async fn a_feeds_pages_take_slots_in_page_order_whichever_asks_first() {
        let slots = pages_in_memory_of(1);
        let held = slots.clone().acquire_owned().await.expect("the one slot");
        let order = SlotOrder::default();
        let (second, third) = (order.turn(), order.turn());
        let served = Arc::new(Mutex::new(Vec::new()));
        // The later page's task asks first.
        let third = tokio::spawn(take_and_note(slots.clone(), third, "third", served.clone()));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = tokio::spawn(take_and_note(
            slots.clone(),
            second,
            "second",
            served.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        for task in [second, third] {
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .expect("served in time")
                .expect("no panic");
        }
        assert_eq!(*served.lock().expect("lock"), ["second", "third"]);
    }

    #[tokio::test]
    async fn a_dropped_turn_lets_the_next_page_ask() {
        let slots = pages_in_memory_of(1);
        let order = SlotOrder::default();
        let (dropped, next) = (order.turn(), order.turn());
        drop(dropped);
        let slot = tokio::time::timeout(Duration::from_secs(5), take_slot(&slots, next)).await;
        assert!(
            matches!(slot, Ok(Ok(_))),
            "the page after a dropped one is not held up"
        );
    }
}
