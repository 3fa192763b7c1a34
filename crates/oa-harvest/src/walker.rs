//! Walking a feed by the RPDE rules: follow `next` verbatim, hand each page to the sink
//! (which stores it with the cursor in one transaction), stop at the end of the feed.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use oa_model::RpdePage;

use crate::{FetchError, Fetcher, Shutdown};

/// Receives each page; `next` becomes the feed's cursor when the sink commits it.
#[async_trait]
pub trait PageSink: Send + Sync {
    async fn apply(&self, requested: &str, page: Arc<RpdePage>) -> Result<(), String>;

    /// A page fetched while an earlier one is stored (at most two ahead): pages are told in
    /// order, and each goes to `apply` after those told before it, unless the walk stops
    /// first. A sink may start now on what needs nothing of the earlier pages committed (the
    /// cursor still moves only when `apply` commits).
    fn upcoming(&self, _requested: &str, _page: &Arc<RpdePage>) {}

    /// How many pages to fetch ahead of the one being stored: 1 (the next) or 2 (the next
    /// two; more are not fetched).
    fn pages_ahead(&self) -> usize {
        2
    }

    /// A fetch of the feed failed and will be tried again after `delay`.
    fn retrying(&self, _error: &FetchError, _delay: Duration) {}

    /// Called once when a walk ends, however it ends: finish anything `retrying` started.
    async fn settle(&self) {}
}

/// How a walk to the end went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkSummary {
    pub pages: usize,
    pub items: usize,
    pub invalid_items: usize,
    /// The URL to poll from now on (the last page).
    pub last_url: String,
    /// The last page's `Cache-Control: max-age`, which bounds how often it is polled.
    pub max_age: Option<Duration>,
    /// Shutdown was requested: the walk stopped between pages, before the end.
    pub stopped: bool,
}

/// Why a walk stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    #[error("the feed is gone: {0}")]
    Gone(FetchError),
    #[error(transparent)]
    Fetch(FetchError),
    #[error("storing the page of {url} failed: {reason}")]
    Sink { url: String, reason: String },
    #[error(
        "{url} names a next page on another host ({next}), which this harvester is configured to refuse"
    )]
    CrossHost { url: String, next: String },
}

/// Walks from `start_url` (the feed URL or a stored cursor) to the end of the feed.
pub async fn walk_to_end(
    fetcher: &Fetcher,
    sink: &dyn PageSink,
    start_url: &str,
) -> Result<WalkSummary, WalkError> {
    walk_until(fetcher, sink, start_url, &Shutdown::never()).await
}

/// [`walk_to_end`], stopping between pages when shutdown is requested: a page being stored
/// is always finished, a fetch (or a retry wait) is abandoned.
pub async fn walk_until(
    fetcher: &Fetcher,
    sink: &dyn PageSink,
    start_url: &str,
    shutdown: &Shutdown,
) -> Result<WalkSummary, WalkError> {
    let result = walk(fetcher, sink, start_url, shutdown).await;
    sink.settle().await;
    result
}

async fn walk(
    fetcher: &Fetcher,
    sink: &dyn PageSink,
    start_url: &str,
    shutdown: &Shutdown,
) -> Result<WalkSummary, WalkError> {
    let mut summary = WalkSummary::default();
    let mut url = start_url.to_owned();
    let mut fetched = fetch_unless_shutdown(fetcher, sink, &url, shutdown).await;
    // The fetch of the page after, begun while the page before this one was stored.
    let mut ahead: Option<Ahead<'_>> = None;
    loop {
        let Some((page, max_age)) = fetched.transpose()? else {
            summary.last_url = url;
            summary.stopped = true;
            return Ok(summary);
        };
        summary.max_age = max_age;
        let step = step_after(fetcher, &url, &page);
        let next = page.next.clone();
        match &step {
            Step::End => {
                summary.last_url = url;
                return Ok(summary);
            }
            Step::Refused => return Err(WalkError::CrossHost { url, next }),
            Step::Across { from, to } => {
                tracing::warn!(feed.page = %url, feed.next = %next, "{url} names a next page on another host ({from} to {to}); following it");
            }
            Step::Itself | Step::On => {}
        }
        summary.pages += 1;
        summary.items += page.items.len();
        summary.invalid_items += page.items.iter().filter(|i| i.is_err()).count();
        for error in page.items.iter().filter_map(|i| i.as_ref().err()) {
            tracing::warn!(feed.page = %url, item.id = %error.id, "skipping an item of {url}: {error}");
        }
        if step == Step::Itself {
            store(sink, &url, page).await?;
            tracing::warn!(feed.page = %url, "{url} is not empty but names itself as next; stopping here");
            summary.last_url = url;
            return Ok(summary);
        }
        // The next page (and the one after it, when the sink wants two ahead) is fetched and
        // parsed while this one is stored, and the sink told of each as it arrives, so it
        // can plan a page while the pages before it are written. A page is only applied (and
        // so its cursor only moves) after the pages before it have committed.
        let following = ahead
            .take()
            .unwrap_or_else(|| Ahead::fetch(fetcher, sink, next.clone(), shutdown));
        let beyond_next = |arrived: &Fetched| beyond(fetcher, sink, shutdown, &next, arrived);
        (fetched, ahead) =
            store_while_fetching(store(sink, &url, page), following, &beyond_next).await?;
        url = next;
        if shutdown.is_requested() {
            // Asked while the page was stored: stop between pages, as before a fetch.
            fetched = None;
            ahead = None;
        }
    }
}

/// Runs `storing` to its end while the pages ahead are fetched: the next (`following`) and,
/// once it has arrived, the one `beyond` it. A failed store abandons both. Returns the next
/// page and the fetch of the one after it, which goes on while the next page is stored.
async fn store_while_fetching<'a>(
    storing: impl Future<Output = Result<(), WalkError>>,
    mut following: Ahead<'a>,
    beyond: &(dyn Fn(&Fetched) -> Option<Ahead<'a>> + Sync),
) -> Result<(Fetched, Option<Ahead<'a>>), WalkError> {
    let mut ahead = match &following {
        Ahead::Fetched(arrived) => beyond(arrived),
        Ahead::Fetching(_) => None,
    };
    tokio::pin!(storing);
    loop {
        tokio::select! {
            stored = &mut storing => {
                stored?;
                break;
            }
            arrived = following.arrival(), if following.is_fetching() => {
                ahead = beyond(&arrived);
                following = Ahead::Fetched(arrived);
            }
            arrived = Ahead::arrival_of(&mut ahead), if ahead.as_ref().is_some_and(Ahead::is_fetching) => {
                ahead = Some(Ahead::Fetched(arrived));
            }
        }
    }
    Ok(match following {
        Ahead::Fetched(arrived) => (arrived, ahead),
        Ahead::Fetching(fetching) => {
            let arrived = fetching.await;
            let ahead = beyond(&arrived);
            (arrived, ahead)
        }
    })
}

/// A page fetched, or `None` when shutdown was requested first.
type Fetched = Option<Result<(Arc<RpdePage>, Option<Duration>), WalkError>>;

/// A page ahead of the one being stored: its fetch under way, or done.
enum Ahead<'a> {
    Fetching(Pin<Box<dyn Future<Output = Fetched> + Send + 'a>>),
    Fetched(Fetched),
}

impl<'a> Ahead<'a> {
    /// Fetches `url`, telling the sink of the page as soon as it arrives.
    fn fetch(
        fetcher: &'a Fetcher,
        sink: &'a dyn PageSink,
        url: String,
        shutdown: &'a Shutdown,
    ) -> Self {
        Ahead::Fetching(Box::pin(async move {
            let fetched = fetch_unless_shutdown(fetcher, sink, &url, shutdown).await;
            if let Some(Ok((upcoming, _))) = &fetched
                && !upcoming.is_last_page(&url)
            {
                sink.upcoming(&url, upcoming);
            }
            fetched
        }))
    }

    fn is_fetching(&self) -> bool {
        matches!(self, Ahead::Fetching(_))
    }

    /// The page, once fetched (only polled while fetching).
    async fn arrival(&mut self) -> Fetched {
        match self {
            Ahead::Fetching(fetching) => fetching.await,
            Ahead::Fetched(_) => std::future::pending().await,
        }
    }

    async fn arrival_of(ahead: &mut Option<Ahead<'a>>) -> Fetched {
        match ahead {
            Some(ahead) => ahead.arrival().await,
            None => std::future::pending().await,
        }
    }
}

/// The fetch of the page after `url`'s, once `url`'s has arrived, when the sink wants two
/// pages ahead and the walk will go on to it: not at the end, a loop, or a refused host.
fn beyond<'a>(
    fetcher: &'a Fetcher,
    sink: &'a dyn PageSink,
    shutdown: &'a Shutdown,
    url: &str,
    fetched: &Fetched,
) -> Option<Ahead<'a>> {
    let Some(Ok((page, _))) = fetched else {
        return None;
    };
    let goes_on = matches!(
        step_after(fetcher, url, page),
        Step::On | Step::Across { .. }
    );
    (goes_on && sink.pages_ahead() >= 2)
        .then(|| Ahead::fetch(fetcher, sink, page.next.clone(), shutdown))
}

/// Where a walk goes after the page fetched from `url`.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// The end of the feed: no items, and `next` is the URL requested.
    End,
    /// A non-empty page whose `next` is itself, which would be fetched forever: it is stored
    /// once and taken as the end (polling comes back to it later).
    Itself,
    /// `next` is on another host, which the configuration refuses.
    Refused,
    /// `next` is on another host, followed (and logged).
    Across {
        from: String,
        to: String,
    },
    On,
}

fn step_after(fetcher: &Fetcher, url: &str, page: &RpdePage) -> Step {
    if page.is_last_page(url) {
        return Step::End;
    }
    if page.next == url {
        return Step::Itself;
    }
    match host_change(url, &page.next) {
        Some(_) if !fetcher.config().allow_cross_host_next => Step::Refused,
        Some((from, to)) => Step::Across { from, to },
        None => Step::On,
    }
}

/// The hosts, when `next` names a different one from the page that linked to it.
fn host_change(url: &str, next: &str) -> Option<(String, String)> {
    let host = |u: &str| {
        reqwest::Url::parse(u)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    };
    match (host(url), host(next)) {
        (Some(from), Some(to)) if from != to => Some((from, to)),
        _ => None,
    }
}

async fn store(sink: &dyn PageSink, url: &str, page: Arc<RpdePage>) -> Result<(), WalkError> {
    sink.apply(url, page)
        .await
        .map_err(|reason| WalkError::Sink {
            url: url.to_owned(),
            reason,
        })
}

/// A page, or `None` when shutdown is requested first (the fetch, or its retry wait, is
/// abandoned).
async fn fetch_unless_shutdown(
    fetcher: &Fetcher,
    sink: &dyn PageSink,
    url: &str,
    shutdown: &Shutdown,
) -> Fetched {
    tokio::select! {
        biased;
        () = shutdown.requested() => None,
        fetched = fetch_page(fetcher, sink, url) => Some(fetched),
    }
}

async fn fetch_page(
    fetcher: &Fetcher,
    sink: &dyn PageSink,
    url: &str,
) -> Result<(Arc<RpdePage>, Option<Duration>), WalkError> {
    let on_retry = |error: &FetchError, delay: Duration| sink.retrying(error, delay);
    match fetcher.fetch_page_noting_retries(url, &on_retry).await {
        // Shared with the sink, which plans it from the same parsed page.
        Ok((page, max_age)) => Ok((Arc::new(page), max_age)),
        Err(e) if e.is_gone() => Err(WalkError::Gone(e)),
        Err(e) => Err(WalkError::Fetch(e)),
    }
}
