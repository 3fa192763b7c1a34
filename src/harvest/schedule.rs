//! Walking many feeds at once: at most `concurrency` feeds walk together, each feed's pages
//! strictly in order, so one slow or broken feed holds one slot and nothing else. `run_once`
//! walks every feed to its end; `run_forever` keeps polling ends and retrying failures.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use oa_harvest::{Shutdown, WalkError, WalkSummary};
use oa_store::FeedRecord;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::sources::discover_sources;
use super::{Harvester, harvest_feed};
use crate::config::Source;

/// How often and how hard to harvest.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Feeds walked at once.
    pub concurrency: usize,
    /// A feed's last page is never polled more often than this (nor than its `max-age`).
    pub min_poll_interval: Duration,
    /// After a feed fails, the first wait before trying again; it doubles per failure.
    pub failure_cooldown: Duration,
    pub max_failure_cooldown: Duration,
    /// How often sources are discovered again in `run_forever`.
    pub rediscover_every: Duration,
    /// How often every stored item is normalised again in `run_forever`, so sessions
    /// generated from schedules follow the moving horizon.
    pub refresh_every: Duration,
}

impl Schedule {
    /// The wait before polling a caught-up feed's last page again.
    pub fn poll_interval(&self, max_age: Option<Duration>) -> Duration {
        self.min_poll_interval.max(max_age.unwrap_or_default())
    }

    /// The wait after `failures` failed walks in a row (at least one).
    pub fn cooldown(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        self.failure_cooldown
            .saturating_mul(1 << doublings)
            .min(self.max_failure_cooldown)
    }
}

/// How one feed's walk went.
#[derive(Debug)]
pub struct FeedOutcome {
    pub feed: FeedRecord,
    pub result: Result<WalkSummary, WalkError>,
}

/// Walks every harvestable feed once, to its end. With `progress`, one bar per feed.
pub async fn run_once(
    harvester: &Harvester,
    concurrency: usize,
    progress: Option<&MultiProgress>,
    shutdown: &Shutdown,
) -> Result<Vec<FeedOutcome>, oa_store::StoreError> {
    let feeds: Vec<FeedRecord> = harvester
        .store
        .feeds()
        .await?
        .into_iter()
        .filter(|f| f.state.is_harvestable())
        .collect();
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for feed in feeds {
        let (harvester, slots, shutdown) = (harvester.clone(), slots.clone(), shutdown.clone());
        let bar = progress.map(|bars| bars.add(feed_bar(&feed.url)));
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let mut sink = harvester
                .sink(feed.as_ref())
                .with_shutdown(shutdown.clone());
            if let Some(bar) = &bar {
                sink = sink.with_progress(bar.clone());
            }
            let result = harvest_feed(
                harvester.store.clone(),
                &harvester.fetcher,
                &feed,
                &sink,
                &shutdown,
            )
            .await;
            if let Some(bar) = bar {
                bar.finish_with_message(match &result {
                    Ok(_) => "done".to_owned(),
                    Err(e) => format!("failed: {e}"),
                });
            }
            log_outcome(&feed, &result);
            FeedOutcome { feed, result }
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => tracing::error!(error = %e, "a feed's harvest task died: {e}"),
        }
    }
    outcomes.sort_by(|a, b| a.feed.url.cmp(&b.feed.url));
    Ok(outcomes)
}

fn feed_bar(url: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {pos:>5} pages  {prefix}  {msg}") {
        bar.set_style(style);
    }
    bar.set_prefix(url.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn log_outcome(feed: &FeedRecord, result: &Result<WalkSummary, WalkError>) {
    match result {
        Ok(summary) => tracing::info!(
            feed.url = %feed.url, pages = summary.pages, items = summary.items,
            "{} is caught up ({} pages, {} items)", feed.url, summary.pages, summary.items
        ),
        Err(e) => tracing::warn!(feed.url = %feed.url, error = %e, "{} failed: {e}", feed.url),
    }
}

/// Harvests until shutdown: discovers sources now and every `rediscover_every`, keeps one
/// task per live feed that walks to the end, polls the last page, and cools down on failure.
pub async fn run_forever(
    harvester: Harvester,
    sources: Vec<Source>,
    schedule: Schedule,
    shutdown: Shutdown,
) {
    let slots = Arc::new(Semaphore::new(schedule.concurrency.max(1)));
    let mut running: HashMap<i64, tokio::task::JoinHandle<()>> = HashMap::new();
    let refresher = tokio::spawn(super::refresh::refresh_forever(
        harvester.clone(),
        schedule.refresh_every,
        shutdown.clone(),
    ));
    loop {
        if let Err(e) = discover_sources(&harvester.store, &harvester.fetcher, &sources).await {
            tracing::error!(error = %e, "recording discovered feeds failed: {e}");
        }
        match harvester.store.feeds().await {
            Ok(feeds) => {
                running.retain(|_, task| !task.is_finished());
                for feed in feeds {
                    if !feed.state.is_harvestable() {
                        if let Some(task) = running.remove(&feed.id) {
                            task.abort();
                        }
                        continue;
                    }
                    running.entry(feed.id).or_insert_with(|| {
                        let follower = FeedFollower {
                            harvester: harvester.clone(),
                            slots: slots.clone(),
                            schedule: schedule.clone(),
                            shutdown: shutdown.clone(),
                        };
                        tokio::spawn(follower.follow(feed))
                    });
                }
            }
            Err(e) => tracing::error!(error = %e, "listing feeds failed: {e}"),
        }
        tokio::select! {
            () = shutdown.requested() => break,
            () = tokio::time::sleep(schedule.rediscover_every) => {}
        }
    }
    for (_, task) in running {
        let _ = task.await;
    }
    let _ = refresher.await;
}

/// Keeps one feed harvested until shutdown or until it is gone.
struct FeedFollower {
    harvester: Harvester,
    slots: Arc<Semaphore>,
    schedule: Schedule,
    shutdown: Shutdown,
}

impl FeedFollower {
    async fn follow(self, mut feed: FeedRecord) {
        let mut failures = 0u32;
        loop {
            let slot = tokio::select! {
                () = self.shutdown.requested() => return,
                slot = self.slots.clone().acquire_owned() => slot,
            };
            let sink = self
                .harvester
                .sink(feed.as_ref())
                .with_shutdown(self.shutdown.clone());
            let result = harvest_feed(
                self.harvester.store.clone(),
                &self.harvester.fetcher,
                &feed,
                &sink,
                &self.shutdown,
            )
            .await;
            drop(slot);
            let wait = match &result {
                Ok(summary) if summary.stopped => return,
                Ok(summary) => {
                    failures = 0;
                    feed.cursor = Some(summary.last_url.clone());
                    self.schedule.poll_interval(summary.max_age)
                }
                Err(WalkError::Gone(_)) => {
                    log_outcome(&feed, &result);
                    return;
                }
                Err(_) => {
                    failures += 1;
                    log_outcome(&feed, &result);
                    self.refresh_cursor(&mut feed).await;
                    self.schedule.cooldown(failures)
                }
            };
            tokio::select! {
                () = self.shutdown.requested() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// After a failure the stored cursor is the truth: pages before it committed.
    async fn refresh_cursor(&self, feed: &mut FeedRecord) {
        match self.harvester.store.feeds().await {
            Ok(feeds) => {
                if let Some(stored) = feeds.into_iter().find(|f| f.id == feed.id) {
                    *feed = stored;
                }
            }
            Err(e) => {
                tracing::error!(feed.url = %feed.url, error = %e, "re-reading the cursor of {} failed: {e}", feed.url)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        Schedule {
            concurrency: 4,
            min_poll_interval: Duration::from_secs(8),
            failure_cooldown: Duration::from_secs(60),
            max_failure_cooldown: Duration::from_secs(3600),
            rediscover_every: Duration::from_secs(21600),
            refresh_every: Duration::from_secs(86400),
        }
    }

    #[test]
    fn polling_waits_for_the_longer_of_the_minimum_and_max_age() {
        let s = schedule();
        assert_eq!(s.poll_interval(None), Duration::from_secs(8));
        assert_eq!(
            s.poll_interval(Some(Duration::from_secs(3))),
            Duration::from_secs(8)
        );
        assert_eq!(
            s.poll_interval(Some(Duration::from_secs(300))),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn failure_cooldown_doubles_up_to_its_cap() {
        let s = schedule();
        assert_eq!(s.cooldown(1), Duration::from_secs(60));
        assert_eq!(s.cooldown(2), Duration::from_secs(120));
        assert_eq!(s.cooldown(6), Duration::from_secs(1920));
        assert_eq!(s.cooldown(7), Duration::from_secs(3600));
        assert_eq!(s.cooldown(u32::MAX), Duration::from_secs(3600));
    }
}
