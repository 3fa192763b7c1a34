//! Records the store returns and queries it answers.

use oa_model::Opportunity;
use serde::Serialize;

/// A feed's harvest state, as shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedState {
    /// Discovered, not yet harvested.
    New,
    Ok,
    /// A fetch failed and is being retried.
    Retrying,
    /// Retries ran out; it will be tried again later.
    Failing,
    /// The publisher answered 404 or 410.
    Gone,
    /// Its source no longer lists it.
    Vanished,
}

impl FeedState {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedState::New => "new",
            FeedState::Ok => "ok",
            FeedState::Retrying => "retrying",
            FeedState::Failing => "failing",
            FeedState::Gone => "gone",
            FeedState::Vanished => "vanished",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            FeedState::New,
            FeedState::Ok,
            FeedState::Retrying,
            FeedState::Failing,
            FeedState::Gone,
            FeedState::Vanished,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether the harvester should walk a feed in this state.
    pub fn is_harvestable(self) -> bool {
        !matches!(self, FeedState::Gone | FeedState::Vanished)
    }
}

/// What the harvester needs to know to write a feed's pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRef {
    pub id: i64,
    pub url: String,
    /// The feed's cursor was unset when the reference was taken: no page of it stored (a
    /// page's items are stored with the cursor it leaves), or a walk from the start asked
    /// for. A page's plan on PostgreSQL then takes its items as not stored rather than
    /// reading them (`page_plan::plan`); the page's transaction reads them, as for every
    /// plan there, and normalises the page again if that was wrong. A SQLite store's plans
    /// read them anyway: its transactions skip reading a plan's state when they can.
    pub new_to_store: bool,
}

/// A feed as stored, with counts.
#[derive(Debug, Clone, Serialize)]
pub struct FeedRecord {
    pub id: i64,
    pub url: String,
    pub kind: Option<String>,
    pub publisher: Option<String>,
    pub dataset_site: Option<String>,
    pub source: String,
    pub state: FeedState,
    /// The next URL to request; the feed URL itself before the first page.
    pub cursor: Option<String>,
    /// Whether the last walk reached the end of the feed.
    pub caught_up: bool,
    pub pages: i64,
    /// Items present (not deleted) in the store.
    pub items_stored: i64,
    /// Items that could not become opportunities (see the feed's problems).
    pub items_unusable: i64,
    /// Children whose parent has not arrived.
    pub items_awaiting_parent: i64,
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub discovered_at: i64,
    pub vanished_at: Option<i64>,
}

impl FeedRecord {
    pub fn as_ref(&self) -> FeedRef {
        FeedRef {
            id: self.id,
            url: self.url.clone(),
            new_to_store: self.cursor.is_none(),
        }
    }

    /// Where the harvester resumes.
    pub fn resume_url(&self) -> &str {
        self.cursor.as_deref().unwrap_or(&self.url)
    }
}

/// Something that happened while harvesting a feed, other than a stored page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    CaughtUp,
    Retrying { error: String },
    Failing { error: String },
    Gone { error: String },
}

/// A scheduled opportunity inside the box.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: String,
    pub start_at: i64,
    pub lat: f64,
    pub lng: f64,
    pub opportunity: Opportunity,
    pub feed_url: String,
    pub publisher: Option<String>,
    pub modified: i64,
}

/// A stored opportunity as the in-memory search index reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IndexRow {
    pub id: String,
    pub start_at: i64,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub status: String,
    pub feed_url: String,
    pub publisher: Option<String>,
    pub doc: String,
}

/// When one occurrence of a series runs: what a grouped search lists after the first.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Occurrence {
    pub id: String,
    /// Unix seconds.
    pub start_at: i64,
    pub end_at: Option<i64>,
}

/// Where a reader of the change log stands: a position in the log, and which life of the
/// database it was read in. On PostgreSQL positions are transaction ids, which a server
/// that recovered from a crash may hand out again (the transactions it lost had them), so
/// a mark from before the recovery would skip changes; the store tells (`incarnation`) and
/// asks the reader to reload instead ([`ChangeBatch::overflow`]). SQLite's positions are
/// the log's own sequence, read by the process that writes it: its incarnation is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeMark {
    pub position: i64,
    pub incarnation: i64,
}

/// Opportunities changed since a reader's mark.
#[derive(Debug, Clone, Default)]
pub struct ChangeBatch {
    /// Each changed opportunity once; its current row tells what happened.
    pub ids: Vec<String>,
    /// Where the next read starts.
    pub mark: ChangeMark,
    /// More changed than one read returns, or the mark is from before the database
    /// recovered from a crash: reload everything instead.
    pub overflow: bool,
}

/// One opportunity and its provenance.
#[derive(Debug, Clone)]
pub struct OpportunityDetail {
    pub id: String,
    pub opportunity: Opportunity,
    pub feed_url: String,
    pub publisher: Option<String>,
    pub item_id: String,
    pub item_kind: String,
    pub modified: i64,
    /// The publisher's item `data`, verbatim.
    pub item_data: Option<String>,
    /// The parent's `data`, when the opportunity inherited from a stored parent.
    pub parent_data: Option<String>,
}

/// A known provider from the area's register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Provider {
    pub id: i64,
    pub name: String,
    pub postcode: Option<String>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub kind: Option<String>,
    /// The register's other columns, as a JSON object.
    pub extra: String,
}

/// A provider to import; `key` identifies it across imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProvider {
    pub key: String,
    pub name: String,
    pub postcode: Option<String>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub kind: Option<String>,
    pub extra: String,
}

/// A data-quality problem of one stored item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ItemProblem {
    pub item_id: String,
    pub code: String,
    pub detail: String,
}

/// The harvested state in canonical order: (feed url, item id, modified, state, status) for
/// items, (id, start, doc) for opportunities, (url, cursor) for feeds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreDump {
    pub items: Vec<(String, String, i64, String, String)>,
    pub opportunities: Vec<(String, i64, String)>,
    pub cursors: Vec<(String, Option<String>)>,
}

/// The columns of a feed row, shared by both backends' queries.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FeedRow {
    pub id: i64,
    pub url: String,
    pub kind: Option<String>,
    pub publisher: Option<String>,
    pub dataset_site: Option<String>,
    pub source: String,
    pub state: String,
    pub cursor: Option<String>,
    pub caught_up: bool,
    pub pages: i64,
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub discovered_at: i64,
    pub vanished_at: Option<i64>,
    pub items_stored: i64,
    pub items_unusable: i64,
    pub items_awaiting_parent: i64,
}

impl TryFrom<FeedRow> for FeedRecord {
    type Error = crate::StoreError;

    fn try_from(row: FeedRow) -> Result<Self, Self::Error> {
        let state = FeedState::parse(&row.state).ok_or_else(|| {
            crate::StoreError::Corrupt(format!(
                "feed {} has unknown state {:?}",
                row.url, row.state
            ))
        })?;
        Ok(FeedRecord {
            id: row.id,
            url: row.url,
            kind: row.kind,
            publisher: row.publisher,
            dataset_site: row.dataset_site,
            source: row.source,
            state,
            cursor: row.cursor,
            caught_up: row.caught_up,
            pages: row.pages,
            items_stored: row.items_stored,
            items_unusable: row.items_unusable,
            items_awaiting_parent: row.items_awaiting_parent,
            last_success_at: row.last_success_at,
            last_error: row.last_error,
            last_error_at: row.last_error_at,
            discovered_at: row.discovered_at,
            vanished_at: row.vanished_at,
        })
    }
}

/// A search result as stored: its columns and its document, not yet parsed (what the
/// search's document cache keeps).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CandidateDoc {
    pub id: String,
    pub start_at: i64,
    pub lat: f64,
    pub lng: f64,
    pub doc: String,
    pub feed_url: String,
    pub publisher: Option<String>,
    pub modified: i64,
}

impl CandidateDoc {
    /// The result with its document parsed.
    pub fn parse(&self) -> Result<Candidate, crate::StoreError> {
        Ok(Candidate {
            opportunity: parse_doc(&self.id, &self.doc)?,
            id: self.id.clone(),
            start_at: self.start_at,
            lat: self.lat,
            lng: self.lng,
            feed_url: self.feed_url.clone(),
            publisher: self.publisher.clone(),
            modified: self.modified,
        })
    }
}

/// The columns of one opportunity with its provenance.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DetailRow {
    pub id: String,
    pub doc: String,
    pub feed_url: String,
    pub publisher: Option<String>,
    pub item_id: String,
    pub item_kind: String,
    pub modified: i64,
    pub item_data: Option<String>,
    pub parent_data: Option<String>,
}

impl TryFrom<DetailRow> for OpportunityDetail {
    type Error = crate::StoreError;

    fn try_from(row: DetailRow) -> Result<Self, Self::Error> {
        Ok(OpportunityDetail {
            opportunity: parse_doc(&row.id, &row.doc)?,
            id: row.id,
            feed_url: row.feed_url,
            publisher: row.publisher,
            item_id: row.item_id,
            item_kind: row.item_kind,
            modified: row.modified,
            item_data: row.item_data,
            parent_data: row.parent_data,
        })
    }
}

fn parse_doc(id: &str, doc: &str) -> Result<Opportunity, crate::StoreError> {
    serde_json::from_str(doc)
        .map_err(|e| crate::StoreError::Corrupt(format!("opportunity {id} does not parse: {e}")))
}
