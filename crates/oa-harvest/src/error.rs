//! Why a fetch failed, and whether trying again can help.

use std::time::Duration;

/// A failed page fetch. Messages name the URL so a feed's recorded error is actionable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("could not connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{url} did not answer in time")]
    Timeout { url: String },
    #[error("{url} answered HTTP {status}")]
    Status {
        url: String,
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("{url} sent more than {limit} bytes; refused")]
    TooLarge { url: String, limit: u64 },
    #[error("reading the body of {url} failed: {reason}")]
    Body { url: String, reason: String },
    #[error("{url} is not a valid RPDE page: {reason}")]
    Page { url: String, reason: String },
}

impl FetchError {
    /// Connection problems, timeouts, 403 (hosts rate-limiting that way), 429, 5xx, a body
    /// cut short and a page that does not parse (usually a truncated transfer) are retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Connect { .. }
            | FetchError::Timeout { .. }
            | FetchError::Body { .. }
            | FetchError::Page { .. } => true,
            FetchError::Status { status, .. } => {
                matches!(status, 403 | 408 | 429) || *status >= 500
            }
            FetchError::TooLarge { .. } => false,
        }
    }

    /// 404 and 410: the feed is gone; stop and report.
    pub fn is_gone(&self) -> bool {
        matches!(
            self,
            FetchError::Status {
                status: 404 | 410,
                ..
            }
        )
    }

    /// The wait the publisher asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
