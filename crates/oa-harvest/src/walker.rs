//! Walking a feed by the RPDE rules: follow `next` verbatim, hand each page to the sink
//! (which stores it with the cursor in one transaction), stop at the end of the feed.

use std::time::Duration;

use async_trait::async_trait;
use oa_model::RpdePage;

use crate::{FetchError, Fetcher, Shutdown};

/// Receives each page; `next` becomes the feed's cursor when the sink commits it.
#[async_trait]
pub trait PageSink: Send + Sync {
    async fn apply(&self, requested: &str, page: RpdePage) -> Result<(), String>;

    /// The page fetched while the page before it is stored: it goes to `apply` next, unless
    /// the walk stops first. A sink may start now on what needs nothing of the earlier page
    /// committed (the cursor still moves only when `apply` commits).
    fn upcoming(&self, _requested: &str, _page: &RpdePage) {}

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
    loop {
        let Some((page, max_age)) = fetched.transpose()? else {
            summary.last_url = url;
            summary.stopped = true;
            return Ok(summary);
        };
        summary.max_age = max_age;
        if page.is_last_page(&url) {
            summary.last_url = url;
            return Ok(summary);
        }
        // A non-empty page whose `next` is itself would be fetched forever: store it once
        // and treat it as the end (polling comes back to it later).
        let looping = page.next == url;
        let next = page.next.clone();
        if let Some((from, to)) = host_change(&url, &next) {
            if !fetcher.config().allow_cross_host_next {
                return Err(WalkError::CrossHost { url, next });
            }
            tracing::warn!(feed.page = %url, feed.next = %next, "{url} names a next page on another host ({from} to {to}); following it");
        }
        summary.pages += 1;
        summary.items += page.items.len();
        summary.invalid_items += page.items.iter().filter(|i| i.is_err()).count();
        for error in page.items.iter().filter_map(|i| i.as_ref().err()) {
            tracing::warn!(feed.page = %url, item.id = %error.id, "skipping an item of {url}: {error}");
        }
        if looping {
            store(sink, &url, page).await?;
            tracing::warn!(feed.page = %url, "{url} is not empty but names itself as next; stopping here");
            summary.last_url = url;
            return Ok(summary);
        }
        // The next page is fetched and parsed while this one is stored, and the sink told of
        // it at once; it is only applied (and so its cursor only moves) after this page has
        // committed.
        let fetching = async {
            let fetched = fetch_unless_shutdown(fetcher, sink, &next, shutdown).await;
            if let Some(Ok((upcoming, _))) = &fetched
                && !upcoming.is_last_page(&next)
            {
                sink.upcoming(&next, upcoming);
            }
            fetched
        };
        fetched = store_while_fetching(store(sink, &url, page), fetching).await?;
        url = next;
        if shutdown.is_requested() {
            // Asked while the page was stored: stop between pages, as before a fetch.
            fetched = None;
        }
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

/// Runs `storing` to its end while `fetching` makes progress alongside; a failed store
/// abandons the fetch.
async fn store_while_fetching<T>(
    storing: impl Future<Output = Result<(), WalkError>>,
    fetching: impl Future<Output = T>,
) -> Result<T, WalkError> {
    tokio::pin!(storing, fetching);
    let mut fetched = None;
    loop {
        tokio::select! {
            stored = &mut storing => {
                stored?;
                break;
            }
            done = &mut fetching, if fetched.is_none() => fetched = Some(done),
        }
    }
    Ok(match fetched {
        Some(done) => done,
        None => fetching.await,
    })
}

async fn store(sink: &dyn PageSink, url: &str, page: RpdePage) -> Result<(), WalkError> {
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
) -> Option<Result<(RpdePage, Option<Duration>), WalkError>> {
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
) -> Result<(RpdePage, Option<Duration>), WalkError> {
    let on_retry = |error: &FetchError, delay: Duration| sink.retrying(error, delay);
    match fetcher.fetch_page_noting_retries(url, &on_retry).await {
        Ok(fetched) => Ok(fetched),
        Err(e) if e.is_gone() => Err(WalkError::Gone(e)),
        Err(e) => Err(WalkError::Fetch(e)),
    }
}
