//! Radius search, written once over [`Store::candidates`]: the backend's spatial index
//! narrows to a box, the exact great-circle distance decides, keyset cursors page.

use oa_geo::{BoundingBox, Point, distance_km};

pub use crate::filters::{ActivityFilter, ClientGender, Filters, TimeOfDay};

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
    pub filters: Filters,
    pub sort: SortOrder,
    pub limit: usize,
    pub after: Option<SearchCursor>,
    /// One result per series with up to this many occurrences (the first included).
    pub group: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct SearchHit {
    pub candidate: Candidate,
    pub distance_km: f64,
    /// When grouping by series: the series' next occurrences after this one, in start order.
    pub later: Vec<Candidate>,
}

#[derive(Debug, Clone)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// Every match of the search, on all pages.
    pub total: usize,
    /// Present when there are more results.
    pub next: Option<SearchCursor>,
}

/// Candidates read from the index per round trip.
const BATCH: usize = 500;

/// Every match is read (for the total), ordered, and the page after the cursor cut out.
pub async fn search(store: &dyn Store, request: &SearchRequest) -> Result<SearchPage, StoreError> {
    let query = CandidateQuery {
        bbox: BoundingBox::around(request.centre, request.radius_km),
        from: request.from,
        to: request.to,
        after: None,
        limit: BATCH as i64,
    };
    let mut hits = matching_in_index_order(store, request, query).await?;
    if let Some(per_group) = request.group {
        hits = group_by_series(hits, per_group);
    }
    let total = hits.len();
    // Index order is (start, id) already; distance needs sorting.
    if request.sort == SortOrder::Distance {
        hits.sort_by(|a, b| {
            a.distance_km
                .total_cmp(&b.distance_km)
                .then_with(|| a.candidate.id.cmp(&b.candidate.id))
        });
    }
    let past = match &request.after {
        None => 0,
        Some(SearchCursor::Start { start_at, id }) => hits.partition_point(|h| {
            (h.candidate.start_at, h.candidate.id.as_str()) <= (*start_at, id.as_str())
        }),
        Some(SearchCursor::Distance { distance_km, id }) => hits.partition_point(|h| {
            (h.distance_km, h.candidate.id.as_str()) <= (*distance_km, id.as_str())
        }),
    };
    hits.drain(..past);
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
    Ok(SearchPage { hits, total, next })
}

/// One hit per series (or per standalone opportunity), at its soonest occurrence, carrying
/// the series' next occurrences; groups keep the order of their soonest occurrence.
fn group_by_series(hits: Vec<SearchHit>, per_group: usize) -> Vec<SearchHit> {
    let mut groups: Vec<SearchHit> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for hit in hits {
        let opportunity = &hit.candidate.opportunity;
        let key = opportunity
            .series_id
            .clone()
            .unwrap_or_else(|| format!("{}#{}", hit.candidate.feed_url, hit.candidate.id));
        match index.get(&key) {
            Some(&at) => {
                let group = &mut groups[at];
                if group.later.len() + 1 < per_group {
                    group.later.push(hit.candidate);
                }
            }
            None => {
                index.insert(key, groups.len());
                groups.push(hit);
            }
        }
    }
    groups
}

/// Reads the index batch by batch in (start, id) order, keeping the candidates that match.
async fn matching_in_index_order(
    store: &dyn Store,
    request: &SearchRequest,
    mut query: CandidateQuery,
) -> Result<Vec<SearchHit>, StoreError> {
    let mut hits = Vec::new();
    loop {
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
    if !request.filters.accepts(&candidate.opportunity) {
        return None;
    }
    Some(SearchHit {
        candidate,
        distance_km,
        later: Vec::new(),
    })
}
