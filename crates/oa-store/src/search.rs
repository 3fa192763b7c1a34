//! Radius search, written once over [`Store::candidates`]: the backend's spatial index
//! narrows to a box, the exact great-circle distance decides, keyset cursors page.

use std::collections::HashSet;

use oa_geo::{BoundingBox, Point, distance_km};

use crate::{Candidate, CandidateQuery, Store, StoreError};

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// Soonest first, then by id.
    Start,
    /// Nearest first, then by id.
    Distance,
}

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchCursor {
    Start { start_at: i64, id: String },
    Distance { distance_km: f64, id: String },
}

impl SearchCursor {
    pub fn sort(&self) -> SortOrder {
        match self {
            SearchCursor::Start { .. } => SortOrder::Start,
            SearchCursor::Distance { .. } => SortOrder::Distance,
        }
    }
}

/// A validated search.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub centre: Point,
    pub radius_km: f64,
    /// Unix seconds, inclusive.
    pub from: i64,
    /// Unix seconds, exclusive.
    pub to: i64,
    /// Only opportunities with one of these activities.
    pub activity: Option<ActivityFilter>,
    pub sort: SortOrder,
    pub limit: usize,
    pub after: Option<SearchCursor>,
}

/// Activities a search accepts: concept ids (a concept and everything beneath it), or a
/// free-text label for activities the Activity List does not know.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub ids: HashSet<String>,
    pub label: String,
}

impl ActivityFilter {
    fn accepts(&self, activity: &oa_model::Activity) -> bool {
        activity.id.as_ref().is_some_and(|id| self.ids.contains(id))
            || activity.label.eq_ignore_ascii_case(&self.label)
            || activity
                .published_label
                .as_ref()
                .is_some_and(|l| l.eq_ignore_ascii_case(&self.label))
    }
}

#[derive(Debug, Clone)]
pub struct SearchHit {
    pub candidate: Candidate,
    pub distance_km: f64,
}

#[derive(Debug, Clone)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// Present when there are more results.
    pub next: Option<SearchCursor>,
}

/// Candidates read from the index per round trip.
const BATCH: usize = 500;

pub async fn search(store: &dyn Store, request: &SearchRequest) -> Result<SearchPage, StoreError> {
    let bbox = BoundingBox::around(request.centre, request.radius_km);
    let mut query = CandidateQuery {
        bbox,
        from: request.from,
        to: request.to,
        after: None,
        limit: BATCH as i64,
    };
    let mut hits = match (&request.sort, &request.after) {
        (SortOrder::Start, after) => {
            if let Some(SearchCursor::Start { start_at, id }) = after {
                query.after = Some((*start_at, id.clone()));
            }
            // Rows arrive in (start, id) order: stop as soon as one more than a page matched.
            matching_in_index_order(store, request, query, Some(request.limit + 1)).await?
        }
        (SortOrder::Distance, after) => {
            let mut hits = matching_in_index_order(store, request, query, None).await?;
            hits.sort_by(|a, b| {
                a.distance_km
                    .total_cmp(&b.distance_km)
                    .then_with(|| a.candidate.id.cmp(&b.candidate.id))
            });
            if let Some(SearchCursor::Distance { distance_km, id }) = after {
                let past = hits.partition_point(|h| {
                    (h.distance_km, h.candidate.id.as_str()) <= (*distance_km, id.as_str())
                });
                hits.drain(..past);
            }
            hits
        }
    };
    let next = (hits.len() > request.limit).then(|| {
        hits.truncate(request.limit);
        let last = &hits[request.limit - 1];
        match request.sort {
            SortOrder::Start => SearchCursor::Start {
                start_at: last.candidate.start_at,
                id: last.candidate.id.clone(),
            },
            SortOrder::Distance => SearchCursor::Distance {
                distance_km: last.distance_km,
                id: last.candidate.id.clone(),
            },
        }
    });
    Ok(SearchPage { hits, next })
}

/// Reads the index batch by batch in (start, id) order, keeping the candidates that match,
/// until `enough` have matched or the index is exhausted.
async fn matching_in_index_order(
    store: &dyn Store,
    request: &SearchRequest,
    mut query: CandidateQuery,
    enough: Option<usize>,
) -> Result<Vec<SearchHit>, StoreError> {
    let mut hits = Vec::new();
    while enough.is_none_or(|enough| hits.len() < enough) {
        let batch = store.candidates(&query).await?;
        let exhausted = batch.len() < BATCH;
        query.after = batch.last().map(|c| (c.start_at, c.id.clone()));
        hits.extend(batch.into_iter().filter_map(|c| matching(request, c)));
        if exhausted {
            break;
        }
    }
    Ok(hits)
}

fn matching(request: &SearchRequest, candidate: Candidate) -> Option<SearchHit> {
    let distance_km = distance_km(request.centre, Point::new(candidate.lat, candidate.lng));
    if distance_km > request.radius_km {
        return None;
    }
    if let Some(wanted) = &request.activity
        && !candidate
            .opportunity
            .activities
            .iter()
            .any(|a| wanted.accepts(a))
    {
        return None;
    }
    Some(SearchHit {
        candidate,
        distance_km,
    })
}
