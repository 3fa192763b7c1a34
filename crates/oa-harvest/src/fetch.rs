//! Fetching one RPDE page: timeouts, a size limit enforced while streaming, retries with
//! exponential backoff and jitter that honour `Retry-After`, and the page's `max-age`.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bytes::{Bytes, BytesMut};
use reqwest::header::{CACHE_CONTROL, HeaderMap, RETRY_AFTER};

use oa_model::{RpdePage, parse_page};

use crate::FetchError;

/// How pages are fetched.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub user_agent: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_page_bytes: u64,
    /// Attempts per page before the feed is recorded as failing.
    pub max_attempts: usize,
    pub min_retry_delay: Duration,
    pub max_retry_delay: Duration,
    /// A publisher's `Retry-After` is honoured up to this long.
    pub max_retry_after: Duration,
    /// Whether a page's `next` may name another host (a feed moved to a CDN or a booking
    /// platform). Allowed by default and logged; when refused the walk stops with an error.
    pub allow_cross_host_next: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            user_agent: "oa-aggregator/0.1 (+https://example.org/contact)".into(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_page_bytes: 64 * 1024 * 1024,
            max_attempts: 5,
            min_retry_delay: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(120),
            max_retry_after: Duration::from_secs(600),
            allow_cross_host_next: true,
        }
    }
}

/// A fetched page body and how long the publisher says it stays fresh.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub body: Bytes,
    pub max_age: Option<Duration>,
}

/// Fetches pages; cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    config: FetchConfig,
}

impl Fetcher {
    pub fn new(config: FetchConfig) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| FetchError::Connect {
                url: String::new(),
                reason: e.to_string(),
            })?;
        Ok(Fetcher { client, config })
    }

    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Fetches `url`, retrying what may pass; gives up after `max_attempts`.
    pub async fn fetch(&self, url: &str) -> Result<Fetched, FetchError> {
        self.with_retries(url, || self.fetch_once(url), &|_, _| {})
            .await
    }

    /// Fetches and parses one RPDE page. Parsing is part of each attempt, because a page
    /// that does not parse is most often a transfer cut short.
    pub async fn fetch_page(&self, url: &str) -> Result<(RpdePage, Option<Duration>), FetchError> {
        self.fetch_page_noting_retries(url, &|_, _| {}).await
    }

    /// [`Fetcher::fetch_page`], calling `on_retry` before each wait to try again.
    pub async fn fetch_page_noting_retries(
        &self,
        url: &str,
        on_retry: &(dyn Fn(&FetchError, Duration) + Sync),
    ) -> Result<(RpdePage, Option<Duration>), FetchError> {
        self.with_retries(
            url,
            || async {
                let fetched = self.fetch_once(url).await?;
                let page = parse_page(&fetched.body).map_err(|e| FetchError::Page {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })?;
                Ok((page, fetched.max_age))
            },
            on_retry,
        )
        .await
    }

    async fn with_retries<T, F, Fut>(
        &self,
        url: &str,
        attempt: F,
        on_retry: &(dyn Fn(&FetchError, Duration) + Sync),
    ) -> Result<T, FetchError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, FetchError>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.config.min_retry_delay)
            .with_max_delay(self.config.max_retry_delay)
            .with_max_times(self.config.max_attempts.saturating_sub(1))
            .with_jitter();
        let max_retry_after = self.config.max_retry_after;
        attempt
            .retry(backoff)
            .when(FetchError::is_retryable)
            .adjust(move |error, delay| {
                // Stop means stop; otherwise the publisher's wait, capped, beats our guess.
                delay.map(|d| {
                    error
                        .retry_after()
                        .map_or(d, |asked| asked.min(max_retry_after))
                })
            })
            .notify(|error, delay| {
                tracing::warn!(feed.page = %url, %error, "retrying {url} in {delay:?}: {error}");
                on_retry(error, delay);
            })
            .await
    }

    /// One attempt, no retries.
    pub async fn fetch_once(&self, url: &str) -> Result<Fetched, FetchError> {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| classify(url, &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
                retry_after: retry_after(response.headers()),
            });
        }
        let max_age = max_age(response.headers());
        let limit = self.config.max_page_bytes;
        let too_large = || FetchError::TooLarge {
            url: url.to_owned(),
            limit,
        };
        if response
            .content_length()
            .is_some_and(|length| length > limit)
        {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        let mut response = response;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| match classify(url, &e) {
                FetchError::Connect { reason, .. } => FetchError::Body {
                    url: url.to_owned(),
                    reason,
                },
                other => other,
            })?
        {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            body: body.freeze(),
            max_age,
        })
    }
}

fn classify(url: &str, error: &reqwest::Error) -> FetchError {
    if error.is_timeout() {
        FetchError::Timeout {
            url: url.to_owned(),
        }
    } else {
        let mut reason = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            reason = format!("{reason}: {cause}");
            source = cause.source();
        }
        FetchError::Connect {
            url: url.to_owned(),
            reason,
        }
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

/// `Cache-Control: max-age=N`.
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|directive| {
            let (name, value) = directive.trim().split_once('=')?;
            name.eq_ignore_ascii_case("max-age")
                .then(|| value.trim().parse().ok())?
        })
        .map(Duration::from_secs)
}
