//! Reading the index: the sessions in a circle or box and a time window that pass the
//! filters, as unordered hits for search or as a self-contained set for coverage.

use chrono::Weekday;
use oa_geo::{BoundingBox, DistancesFrom, Point, Reach};
use oa_model::{Activity, Organizer};

use super::cell_fit::{CellFit, CircleCells};
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
    /// NaN until [`Found::measure`]d: a session in a grid cell wholly inside the circle is
    /// found without measuring, and only the page's need measuring when sorting by start.
    pub distance_km: f64,
    /// Where it is, as the index keeps it (degrees × 10^7).
    pub lat: i32,
    pub lng: i32,
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

impl Found {
    /// A found session at no particular place, for tests of what is done with matches.
    #[cfg(test)]
    pub(crate) fn at_start(id: u64, start_at: i64, series: u64, distance_km: f64) -> Found {
        Found {
            id,
            start_at,
            distance_km,
            lat: 0,
            lng: 0,
            series,
            end: Ending::Unpublished,
        }
    }

    /// Sets the distance from the search's centre, unless known.
    pub fn measure(&mut self, from: &DistancesFrom) {
        if self.distance_km.is_nan() {
            self.distance_km = from.to(Point::new(
                f64::from(self.lat) / FIXED_PER_DEGREE,
                f64::from(self.lng) / FIXED_PER_DEGREE,
            ));
        }
    }
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
        let cells = CircleCells::new(centre, radius_km);
        let fit = |cell: &BoundingBox| cells.fit(cell);
        inner.visit(
            &BoundingBox::around(centre, radius_km),
            from,
            to,
            filters,
            fit,
            |r, fit| {
                // Unmeasured (NaN) unless measuring was needed to tell: only the page's are.
                let distance_km = if fit == CellFit::Inside {
                    f64::NAN
                } else {
                    match cells.reach(r.point()) {
                        Reach::Inside => f64::NAN,
                        Reach::At(d) => d,
                        Reach::Outside => return,
                    }
                };
                found.push(Found {
                    id: r.id,
                    start_at: r.start,
                    distance_km,
                    lat: r.lat,
                    lng: r.lng,
                    series: r.series,
                    end: r.ending(),
                });
            },
        );
    }

    /// Every session in the box, starting in `[from, to)`, that passes the filters (the
    /// free-text words aside), with what coverage reports about each.
    pub fn in_box(&self, bbox: &BoundingBox, from: i64, to: i64, filters: &Filters) -> SessionSet {
        let inner = self.read();
        let mut records = Vec::new();
        inner.visit(
            bbox,
            from,
            to,
            filters,
            |_| CellFit::Crossed,
            |r, _| {
                if bbox.contains(r.point()) {
                    records.push(*r);
                }
            },
        );
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
    /// Calls `each` with every record in the box's cells that starts in `[from, to)` and
    /// passes the filters, and with what `fit` said of its cell; a cell `fit` finds wholly
    /// outside is not read.
    fn visit(
        &self,
        bbox: &BoundingBox,
        from: i64,
        to: i64,
        filters: &Filters,
        fit: impl Fn(&BoundingBox) -> CellFit,
        mut each: impl FnMut(&SessionRecord, CellFit),
    ) {
        let matcher = filters.compile(&self.vocab);
        for (cell, slots) in self.grid.cells_in(bbox) {
            let cell_fit = fit(&cell);
            if cell_fit == CellFit::Outside {
                continue;
            }
            for &slot in slots {
                let record = &self.records[slot as usize];
                if record.start >= to {
                    break; // The rest of the cell starts later still.
                }
                if record.start >= from && matcher.accepts(record) {
                    each(record, cell_fit);
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IndexRow;
    use crate::index::SessionIndex;
    use crate::index::record::to_fixed;

    /// Sessions on a 250 m lattice around Preston, ids numbered from 1.
    fn index_around(centre: Point) -> (SessionIndex, Vec<(u64, Point)>) {
        let index = SessionIndex::new();
        let mut placed = Vec::new();
        {
            let mut inner = index.write();
            let mut id = 0u64;
            for i in -60..=60 {
                for j in -60..=60 {
                    id += 1;
                    let at = Point::new(
                        centre.lat + f64::from(i) * 0.00225,
                        centre.lng + f64::from(j) * 0.0038,
                    );
                    inner.upsert(&IndexRow {
                        id: format!("{id:016x}"),
                        start_at: 1_900_000_000,
                        lat: Some(at.lat),
                        lng: Some(at.lng),
                        status: "scheduled".into(),
                        feed_url: "https://feed.example".into(),
                        publisher: None,
                        doc: r#"{"kind":"session","start":"2030-03-17T17:46:40Z","price":{}}"#
                            .into(),
                    });
                    placed.push((id, at));
                }
            }
        }
        (index, placed)
    }

    #[test]
    fn sessions_taken_unmeasured_are_exactly_those_a_measure_of_each_finds() {
        let centre = Point::new(53.7632, -2.7031);
        let (index, placed) = index_around(centre);
        let distances = DistancesFrom::new(centre);
        for radius_km in [0.3, 2.0, 5.0, 9.87, 12.0] {
            let mut found = Vec::new();
            index.within(
                centre,
                radius_km,
                0,
                i64::MAX,
                &Filters::default(),
                &mut found,
            );
            let unmeasured = found.iter().filter(|f| f.distance_km.is_nan()).count();
            for f in &mut found {
                f.measure(&distances);
            }
            let mut got: Vec<(u64, f64)> = found.iter().map(|f| (f.id, f.distance_km)).collect();
            got.sort_by_key(|(id, _)| *id);
            // Every session measured from the point the index keeps, as the search did.
            let expected: Vec<(u64, f64)> = placed
                .iter()
                .map(|&(id, at)| {
                    let kept = Point::new(
                        f64::from(to_fixed(at.lat)) / FIXED_PER_DEGREE,
                        f64::from(to_fixed(at.lng)) / FIXED_PER_DEGREE,
                    );
                    (id, distances.to(kept))
                })
                .filter(|&(_, d)| d <= radius_km)
                .collect();
            assert_eq!(got, expected, "radius {radius_km} km");
            // Only sessions close to the edge are measured (in cells the circle crosses, by
            // the flat estimate of `Circle::reach`).
            assert!(
                unmeasured * 10 > got.len() * 9,
                "radius {radius_km}: only {unmeasured} of {} unmeasured",
                got.len()
            );
        }
    }
}
