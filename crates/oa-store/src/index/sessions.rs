//! Reading the index: the sessions in a circle or box and a time window that pass the
//! filters, as unordered hits for search or as a self-contained set for coverage.

use chrono::Weekday;
use oa_geo::{BoundingBox, DistancesFrom, Point};
use oa_model::{Activity, Organizer};

use super::record::{
    END_IN_STORE, FIXED_PER_DEGREE, FeedSource, MAX_TAGS, NO_END, SessionRecord, Venue, id_text,
};
use super::{Inner, SessionIndex};
use crate::filters::Filters;

/// A session a search found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    /// The opportunity id as a number (see [`id_text`]).
    pub id: u64,
    pub start_at: i64,
    pub distance_km: f64,
    /// Sessions of one series share this number; 0 for a session with no series.
    pub series: u64,
    pub end: Ending,
}

/// When a found session ends, as far as the index knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Unix seconds.
    At(i64),
    Unpublished,
    /// Only the stored row knows (see [`END_IN_STORE`]).
    InStore,
}

impl SessionRecord {
    fn ending(&self) -> Ending {
        match self.end_minutes {
            NO_END => Ending::Unpublished,
            END_IN_STORE => Ending::InStore,
            minutes => Ending::At(self.start + 60 * i64::from(minutes)),
        }
    }
}

impl SessionIndex {
    /// Sessions within `radius_km` of `centre`, starting in `[from, to)`, that pass the
    /// filters (all but the free-text words, which need the documents), in no particular
    /// order (a search needs only its page ordered), into `found` (cleared first: a caller
    /// reuses one buffer from search to search).
    pub fn within(
        &self,
        centre: Point,
        radius_km: f64,
        from: i64,
        to: i64,
        filters: &Filters,
        found: &mut Vec<Found>,
    ) {
        found.clear();
        let inner = self.read();
        let distances = DistancesFrom::new(centre);
        inner.visit(
            &BoundingBox::around(centre, radius_km),
            from,
            to,
            filters,
            |r| {
                let d = distances.to(r.point());
                if d <= radius_km {
                    found.push(Found {
                        id: r.id,
                        start_at: r.start,
                        distance_km: d,
                        series: r.series,
                        end: r.ending(),
                    });
                }
            },
        );
    }

    /// Every session in the box, starting in `[from, to)`, that passes the filters (the
    /// free-text words aside), with what coverage reports about each.
    pub fn in_box(&self, bbox: &BoundingBox, from: i64, to: i64, filters: &Filters) -> SessionSet {
        let inner = self.read();
        let mut records = Vec::new();
        inner.visit(bbox, from, to, filters, |r| {
            if bbox.contains(r.point()) {
                records.push(*r);
            }
        });
        records.sort_unstable_by_key(|r| (r.start, r.id));
        let vocab = &inner.vocab;
        SessionSet {
            records,
            tag_names: vocab.tags.values.clone(),
            activities: vocab.activities.values.clone(),
            organizers: vocab.organizers.values.clone(),
            venues: vocab.venues.values.clone(),
            feeds: vocab.feeds.values.clone(),
        }
    }
}

impl Inner {
    fn visit(
        &self,
        bbox: &BoundingBox,
        from: i64,
        to: i64,
        filters: &Filters,
        mut each: impl FnMut(&SessionRecord),
    ) {
        let matcher = filters.compile(&self.vocab);
        for slot in self.grid.slots_in(bbox) {
            let record = &self.records[slot as usize];
            if (from..to).contains(&record.start) && matcher.accepts(record) {
                each(record);
            }
        }
    }
}

impl SessionRecord {
    pub(crate) fn point(&self) -> Point {
        Point::new(
            f64::from(self.lat) / FIXED_PER_DEGREE,
            f64::from(self.lng) / FIXED_PER_DEGREE,
        )
    }
}

/// Sessions copied out of the index with the shared values they refer to, so a report can
/// be built without holding the index.
#[derive(Debug, Default)]
pub struct SessionSet {
    records: Vec<SessionRecord>,
    tag_names: Vec<String>,
    activities: Vec<Vec<Activity>>,
    organizers: Vec<Option<Organizer>>,
    venues: Vec<Venue>,
    feeds: Vec<FeedSource>,
}

impl SessionSet {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// In (start, id) order.
    pub fn iter(&self) -> impl Iterator<Item = SessionFacts<'_>> {
        self.records
            .iter()
            .map(move |record| SessionFacts { set: self, record })
    }
}

/// One session of a [`SessionSet`].
#[derive(Debug, Clone, Copy)]
pub struct SessionFacts<'a> {
    set: &'a SessionSet,
    record: &'a SessionRecord,
}

impl<'a> SessionFacts<'a> {
    pub fn id(&self) -> String {
        id_text(self.record.id)
    }

    /// Unix seconds.
    pub fn start_at(&self) -> i64 {
        self.record.start
    }

    pub fn point(&self) -> Point {
        self.record.point()
    }

    /// The day it starts, UK local time.
    pub fn weekday(&self) -> Weekday {
        Weekday::try_from(self.record.weekday).unwrap_or(Weekday::Mon)
    }

    /// The hour it starts, UK local time.
    pub fn hour(&self) -> u32 {
        u32::from(self.record.hour)
    }

    pub fn tags(&self) -> impl Iterator<Item = &'a str> {
        let bits = self.record.tags;
        self.set
            .tag_names
            .iter()
            .enumerate()
            .filter(move |(n, _)| (*n as u32) < MAX_TAGS && bits & (1 << n) != 0)
            .map(|(_, name)| name.as_str())
    }

    pub fn activities(&self) -> &'a [Activity] {
        &self.set.activities[self.record.activities as usize]
    }

    pub fn organizer(&self) -> Option<&'a Organizer> {
        self.set.organizers[self.record.organizer as usize].as_ref()
    }

    /// The venue's postcode as published.
    pub fn postcode(&self) -> Option<&'a str> {
        self.venue().postcode.as_deref()
    }

    /// The small area of `area` it was assigned to when normalised; `None` when it was not
    /// (outside that area, or normalised before the area was configured).
    pub fn small_area(&self, area: &str) -> Option<&'a str> {
        self.venue()
            .areas
            .iter()
            .find(|a| a.area == area)
            .map(|a| a.small_area.as_str())
    }

    fn venue(&self) -> &'a Venue {
        &self.set.venues[self.record.venue as usize]
    }

    pub fn feed(&self) -> &'a FeedSource {
        &self.set.feeds[usize::from(self.record.feed).min(self.set.feeds.len() - 1)]
    }
}
