//! Radius search over the in-memory [`SessionIndex`]: the grid narrows to a box, the exact
//! great-circle distance decides, keyset cursors page (only the page is put in order), and
//! the store supplies the documents of the page.

mod group;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use oa_geo::{DistancesFrom, Point};

pub use crate::filters::{ActivityFilter, ClientGender, Filters, TimeOfDay};

use crate::index::{Ending, Found, SessionIndex, id_number, id_text};
use crate::{Candidate, CandidateDoc, Occurrence, Store, StoreError};
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
    /// The result's stored columns and its document as text: a page is often written
    /// straight from the text, so it is parsed only when asked ([`SearchHit::candidate`]).
    pub document: Arc<CandidateDoc>,
    pub distance_km: f64,
    /// When grouping by series: the series' next occurrences after this one, in start order.
    pub later: Vec<Occurrence>,
}

impl SearchHit {
    /// The result with its document parsed.
    pub fn candidate(&self) -> Result<Candidate, StoreError> {
        self.document.parse()
    }
}

#[derive(Debug, Clone)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// Every match of the search, on all pages.
    pub total: usize,
    /// Present when there are more results.
    pub next: Option<SearchCursor>,
}

/// Matches kept in a thread's scratch buffers between searches; a search that matched more
/// frees them afterwards (56 bytes a match: about 3.5 MB).
const SCRATCH_KEPT: usize = 65_536;

thread_local! {
    /// Each thread's buffers for the index pass, reused from search to search. A city's
    /// radius matches thousands of sessions; vectors allocated and grown afresh by every
    /// search, and held by every search in flight while its documents were read, left
    /// glibc's arenas fragmented (resident memory 125 → 175 MB under 16 connections).
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

#[derive(Default)]
struct Scratch {
    found: Vec<Found>,
    /// Each result's first session (of its series, when grouping).
    groups: Vec<Found>,
    series: SeriesGroups,
}

/// What the index decides before any document is read: the page's sessions in order, each
/// with its group's later occurrences, the number of results and the next cursor.
struct PagePlan {
    page: Vec<(Found, Vec<Found>)>,
    total: usize,
    next: Option<SearchCursor>,
}

/// Every match is found in the in-memory index (for the total); the page after the cursor
/// is picked and put in order; only that page's documents are read from the store.
pub async fn search(
    store: &dyn Store,
    index: &SessionIndex,
    request: &SearchRequest,
) -> Result<SearchPage, StoreError> {
    index.refresh(store).await?;
    let within = |found: &mut Vec<Found>| {
        index.within(
            request.centre,
            request.radius_km,
            request.from,
            request.to,
            &request.filters,
            found,
        );
    };
    let mut documents: HashMap<u64, Arc<CandidateDoc>> = HashMap::new();
    let plan = if request.filters.words.is_empty() {
        SCRATCH.with_borrow_mut(|scratch| {
            let mut found = std::mem::take(&mut scratch.found);
            within(&mut found);
            let plan = plan_page(&found, scratch, request);
            found.clear();
            if found.capacity() <= SCRATCH_KEPT {
                scratch.found = found;
            }
            plan
        })
    } else {
        let mut found = Vec::new();
        within(&mut found);
        let found = with_words(store, found, &request.filters, &mut documents).await?;
        SCRATCH.with_borrow_mut(|scratch| plan_page(&found, scratch, request))
    };
    // The index's buffers are back in the scratch: what is held while the documents are
    // read is the page alone.
    let wanted: Vec<u64> = plan
        .page
        .iter()
        .filter(|(f, _)| !documents.contains_key(&f.id))
        .map(|(f, _)| f.id)
        .collect();
    for doc in index.documents(store, &wanted).await? {
        if let Some(id) = id_number(&doc.id) {
            documents.insert(id, doc);
        }
    }
    // Later occurrences come from the index; only an end it could not keep is read.
    let unindexed: Vec<String> = plan
        .page
        .iter()
        .flat_map(|(_, later)| later)
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
    let hits = plan
        .page
        .into_iter()
        .filter_map(|(first, later)| {
            Some(SearchHit {
                document: documents.remove(&first.id)?,
                distance_km: first.distance_km,
                later: later
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
    Ok(SearchPage {
        hits,
        total: plan.total,
        next: plan.next,
    })
}

/// Groups the matches (when asked), keeps those after the cursor and picks the page: only
/// the page (and one more, to know whether there is a next) is put in order.
fn plan_page(found: &[Found], scratch: &mut Scratch, request: &SearchRequest) -> PagePlan {
    let Scratch { groups, series, .. } = scratch;
    match request.group {
        Some(_) => series.firsts(found, groups),
        None => {
            groups.clear();
            groups.extend_from_slice(found);
        }
    }
    let total = groups.len();
    let distances = DistancesFrom::new(request.centre);
    let by_distance = request.sort == SortOrder::Distance
        || matches!(request.after, Some(SearchCursor::Distance { .. }));
    if by_distance {
        groups.iter_mut().for_each(|f| f.measure(&distances));
    }
    // A cursor's id is one this service issued; a tampered one sorts first.
    let id_of = |id: &str| id_number(id).unwrap_or(0);
    match &request.after {
        None => {}
        Some(SearchCursor::Start { start_at, id }) => {
            let after = (*start_at, id_of(id));
            groups.retain(|f| (f.start_at, f.id) > after);
        }
        Some(SearchCursor::Distance { distance_km, id }) => {
            let id = id_of(id);
            groups.retain(|f| {
                f.distance_km > *distance_km || (f.distance_km == *distance_km && f.id > id)
            });
        }
    }
    let limit = request.limit.max(1);
    let order = |a: &Found, b: &Found| match request.sort {
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
    groups.iter_mut().for_each(|f| f.measure(&distances));
    let next = (groups.len() > limit).then(|| {
        groups.truncate(limit);
        let last = &groups[limit - 1];
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
    let later = match request.group {
        Some(per_group) => series.later(found, groups, per_group),
        None => vec![Vec::new(); groups.len()],
    };
    let page = groups.iter().copied().zip(later).collect();
    groups.clear();
    if groups.capacity() > SCRATCH_KEPT {
        *groups = Vec::new();
    }
    series.shrink_past(SCRATCH_KEPT);
    PagePlan { page, total, next }
}

/// Keeps the sessions whose documents contain every free-text word, keeping the documents.
async fn with_words(
    store: &dyn Store,
    found: Vec<Found>,
    filters: &Filters,
    documents: &mut HashMap<u64, Arc<CandidateDoc>>,
) -> Result<Vec<Found>, StoreError> {
    // Every match's document, read past the cache: keeping thousands would evict the
    // pages link workers come back to.
    let ids: Vec<String> = found.iter().map(|f| id_text(f.id)).collect();
    for doc in store.candidate_docs_by_id(&ids).await? {
        if let Some(id) = id_number(&doc.id)
            && filters.words_match(&doc.parse()?.opportunity)
        {
            documents.insert(id, Arc::new(doc));
        }
    }
    Ok(found
        .into_iter()
        .filter(|f| documents.contains_key(&f.id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(id: u64, start_at: i64, series: u64) -> Found {
        Found::at_start(id, start_at, series, id as f64)
    }

    fn request(group: Option<usize>, limit: usize) -> SearchRequest {
        SearchRequest {
            centre: Point::new(53.7, -2.7),
            radius_km: 5.0,
            from: 0,
            to: i64::MAX,
            filters: Filters::default(),
            sort: SortOrder::Start,
            limit,
            after: None,
            group,
        }
    }

    /// (first id, later ids) of each page entry, the total and whether there is a next page.
    fn shape(plan: &PagePlan) -> (Vec<(u64, Vec<u64>)>, usize, bool) {
        let page = plan
            .page
            .iter()
            .map(|(first, later)| (first.id, later.iter().map(|f| f.id).collect()))
            .collect();
        (page, plan.total, plan.next.is_some())
    }

    #[test]
    fn a_reused_scratch_plans_every_page_as_a_fresh_one_does() {
        // Three series of four sessions, and two sessions of no series, out of order.
        let found: Vec<Found> = (1..=14)
            .rev()
            .map(|id| {
                found(
                    id,
                    100 + (id as i64 * 7) % 13,
                    if id <= 12 { id % 3 + 1 } else { 0 },
                )
            })
            .collect();
        let few = &found[..5];
        let requests = [
            (request(Some(3), 2), &found[..]),
            (request(None, 4), &found[..]),
            (request(Some(2), 10), few),
            (request(None, 20), few),
            (request(Some(4), 3), &found[..]),
        ];
        let mut reused = Scratch::default();
        for (n, (request, found)) in requests.iter().enumerate() {
            let fresh = plan_page(found, &mut Scratch::default(), request);
            let again = plan_page(found, &mut reused, request);
            assert_eq!(shape(&again), shape(&fresh), "request {n}");
        }
        // Grouped: one entry per series and per series-less session, each with its later.
        let grouped = plan_page(&found, &mut reused, &request(Some(3), 10));
        let (page, total, next) = shape(&grouped);
        assert_eq!((total, next), (5, false));
        assert!(page.iter().all(|(_, later)| later.len() <= 2));
        assert_eq!(page.iter().map(|(_, later)| later.len()).sum::<usize>(), 6);
        // Not grouped after a grouped plan: no later occurrences are carried over.
        let plain = plan_page(&found, &mut reused, &request(None, 20));
        assert_eq!(plain.total, 14);
        assert!(plain.page.iter().all(|(_, later)| later.is_empty()));
    }
}
