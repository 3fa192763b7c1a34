//! Radius search over the in-memory [`SessionIndex`]: the grid narrows to a box, the exact
//! great-circle distance decides, keyset cursors page (only the page is put in order), and
//! the store supplies the documents of the page.

mod group;

use std::collections::HashMap;

use oa_geo::Point;

pub use crate::filters::{ActivityFilter, ClientGender, Filters, TimeOfDay};

use crate::index::{Ending, Found, SessionIndex, id_number, id_text};
use crate::{Candidate, Occurrence, Store, StoreError};
use group::SeriesGroups;

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
    pub later: Vec<Occurrence>,
}

#[derive(Debug, Clone)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// Every match of the search, on all pages.
    pub total: usize,
    /// Present when there are more results.
    pub next: Option<SearchCursor>,
}

/// Every match is found in the in-memory index (for the total); the page after the cursor
/// is picked and put in order; only that page's documents are read from the store.
pub async fn search(
    store: &dyn Store,
    index: &SessionIndex,
    request: &SearchRequest,
) -> Result<SearchPage, StoreError> {
    index.refresh(store).await?;
    let found = index.within(
        request.centre,
        request.radius_km,
        request.from,
        request.to,
        &request.filters,
    );
    let mut documents: HashMap<u64, Candidate> = HashMap::new();
    let found = if request.filters.words.is_empty() {
        found
    } else {
        with_words(store, found, &request.filters, &mut documents).await?
    };
    // Each result's first session, with its group's number when grouping.
    let (series, mut groups): (Option<SeriesGroups>, Vec<(Found, usize)>) = match request.group {
        Some(per_group) => {
            let (series, firsts) = SeriesGroups::of(found, per_group);
            (Some(series), firsts)
        }
        None => (None, found.into_iter().map(|f| (f, 0)).collect()),
    };
    let later = |group: usize| series.as_ref().map_or(&[][..], |s| s.later(group));
    let total = groups.len();
    // A cursor's id is one this service issued; a tampered one sorts first.
    let id_of = |id: &str| id_number(id).unwrap_or(0);
    match &request.after {
        None => {}
        Some(SearchCursor::Start { start_at, id }) => {
            let after = (*start_at, id_of(id));
            groups.retain(|(f, _)| (f.start_at, f.id) > after);
        }
        Some(SearchCursor::Distance { distance_km, id }) => {
            let id = id_of(id);
            groups.retain(|(f, _)| {
                f.distance_km > *distance_km || (f.distance_km == *distance_km && f.id > id)
            });
        }
    }
    // Only the page (and one more, to know whether there is a next) is put in order.
    let limit = request.limit.max(1);
    let order = |(a, _): &(Found, usize), (b, _): &(Found, usize)| match request.sort {
        SortOrder::Start => (a.start_at, a.id).cmp(&(b.start_at, b.id)),
        SortOrder::Distance => a
            .distance_km
            .total_cmp(&b.distance_km)
            .then_with(|| a.id.cmp(&b.id)),
    };
    if groups.len() > limit + 1 {
        groups.select_nth_unstable_by(limit, order);
        groups.truncate(limit + 1);
    }
    groups.sort_unstable_by(order);
    let next = (groups.len() > limit).then(|| {
        groups.truncate(limit);
        let (last, _) = &groups[limit - 1];
        match request.sort {
            SortOrder::Start => SearchCursor::Start {
                start_at: last.start_at,
                id: id_text(last.id),
            },
            SortOrder::Distance => SearchCursor::Distance {
                distance_km: last.distance_km,
                id: id_text(last.id),
            },
        }
    });
    let wanted: Vec<String> = groups
        .iter()
        .filter(|(f, _)| !documents.contains_key(&f.id))
        .map(|(f, _)| id_text(f.id))
        .collect();
    for candidate in store.candidates_by_id(&wanted).await? {
        documents.insert(id_of(&candidate.id), candidate);
    }
    // Later occurrences come from the index; only an end it could not keep is read.
    let unindexed: Vec<String> = groups
        .iter()
        .flat_map(|&(_, group)| later(group))
        .filter(|f| f.end == Ending::InStore)
        .map(|f| id_text(f.id))
        .collect();
    let mut stored_ends: HashMap<String, Option<i64>> = if unindexed.is_empty() {
        HashMap::new()
    } else {
        store
            .occurrences_by_id(&unindexed)
            .await?
            .into_iter()
            .map(|o| (o.id, o.end_at))
            .collect()
    };
    // A session deleted between the index read and this one is left out of the page.
    let hits = groups
        .into_iter()
        .filter_map(|(first, group)| {
            Some(SearchHit {
                candidate: documents.remove(&first.id)?,
                distance_km: first.distance_km,
                later: later(group)
                    .iter()
                    .filter_map(|f| {
                        let id = id_text(f.id);
                        let end_at = match f.end {
                            Ending::At(end) => Some(end),
                            Ending::Unpublished => None,
                            Ending::InStore => stored_ends.remove(&id)?,
                        };
                        Some(Occurrence {
                            id,
                            start_at: f.start_at,
                            end_at,
                        })
                    })
                    .collect(),
            })
        })
        .collect();
    Ok(SearchPage { hits, total, next })
}

/// Keeps the sessions whose documents contain every free-text word, keeping the documents.
async fn with_words(
    store: &dyn Store,
    found: Vec<Found>,
    filters: &Filters,
    documents: &mut HashMap<u64, Candidate>,
) -> Result<Vec<Found>, StoreError> {
    let ids: Vec<String> = found.iter().map(|f| id_text(f.id)).collect();
    for candidate in store.candidates_by_id(&ids).await? {
        if let Some(id) = id_number(&candidate.id)
            && filters.words_match(&candidate.opportunity)
        {
            documents.insert(id, candidate);
        }
    }
    Ok(found
        .into_iter()
        .filter(|f| documents.contains_key(&f.id))
        .collect())
}
