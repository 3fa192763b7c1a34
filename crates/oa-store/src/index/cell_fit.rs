//! Which grid cells a search's circle holds wholly, crosses or misses, told from a cell's
//! bounds alone: a search measures no session of a cell wholly inside and reads none of a
//! cell wholly outside.

use oa_geo::{BoundingBox, Circle, DistancesFrom, Point, Reach};

/// How far inside the radius a cell's farthest corner must be for its sessions to be taken
/// unmeasured: a metre, far above the distance's rounding.
const INSIDE_MARGIN_KM: f64 = 0.001;

/// How much farther than the radius a cell's nearest edge point (the centre clamped into
/// the cell) must be for the cell to be passed over unread. A point of the cell can be
/// nearer than that one only through the shorter parallels of the cell's other latitudes:
/// by about 0.02 % of the distance in England, 0.1 % at 80°N, for a 0.02° cell. 1 % is a
/// wide margin, tested on a fine lattice of points.
const OUTSIDE_MARGIN: f64 = 1.01;

/// Beyond this latitude (and across the antimeridian) every cell the box meets is read.
const CLAMP_SAFE_LAT: f64 = 80.0;

/// A search's circle, and which cells it holds wholly or misses, told from their bounds.
pub(super) struct CircleCells {
    centre: Point,
    exact: Circle,
    /// A cell's farthest corner must be a little inside for its sessions to go unmeasured.
    well_inside: Circle,
    well_outside: Circle,
}

impl CircleCells {
    pub fn new(centre: Point, radius_km: f64) -> Self {
        let distances = DistancesFrom::new(centre);
        CircleCells {
            centre,
            exact: distances.circle(radius_km),
            well_inside: distances.circle(radius_km - INSIDE_MARGIN_KM),
            well_outside: distances.circle(radius_km * OUTSIDE_MARGIN),
        }
    }

    /// Where a session of a cell the circle crosses lies against it.
    pub fn reach(&self, point: Point) -> Reach {
        self.exact.reach(point)
    }

    pub fn fit(&self, cell: &BoundingBox) -> CellFit {
        let inside = [
            (cell.min_lat, cell.min_lng),
            (cell.min_lat, cell.max_lng),
            (cell.max_lat, cell.min_lng),
            (cell.max_lat, cell.max_lng),
        ]
        .into_iter()
        .all(|(lat, lng)| self.well_inside.reach(Point::new(lat, lng)) != Reach::Outside);
        if inside {
            return CellFit::Inside;
        }
        let nearest = Point::new(
            self.centre.lat.clamp(cell.min_lat, cell.max_lat),
            self.centre.lng.clamp(cell.min_lng, cell.max_lng),
        );
        if nearest.lat.abs() < CLAMP_SAFE_LAT
            && (nearest.lng - self.centre.lng).abs() < 90.0
            && self.well_outside.reach(nearest) == Reach::Outside
        {
            CellFit::Outside
        } else {
            CellFit::Crossed
        }
    }
}

/// What a search knows of a cell from its bounds alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CellFit {
    /// Wholly inside the circle: its sessions need no measuring.
    Inside,
    /// Maybe partly inside: each session is measured.
    Crossed,
    /// Wholly outside: not read.
    Outside,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::grid;

    #[test]
    fn cells_passed_over_or_taken_whole_hold_no_point_the_other_side_of_the_circle() {
        let centre = Point::new(53.7632, -2.7031);
        let distances = DistancesFrom::new(centre);
        for radius_km in [0.4, 5.0, 10.0, 50.0] {
            let cells = CircleCells::new(centre, radius_km);
            let bbox = BoundingBox::around(centre, radius_km);
            let meets_box = |cell: &BoundingBox| {
                cell.max_lat >= bbox.min_lat
                    && cell.min_lat <= bbox.max_lat
                    && cell.max_lng >= bbox.min_lng
                    && cell.min_lng <= bbox.max_lng
            };
            // Cells a search would read but for this rule, and cells taken whole.
            let (mut outside_in_box, mut inside) = (0, 0);
            // The cells of the box around the circle, and a ring of cells beyond it.
            let (lat_cells, lng_cells) = (radius_km / 2.2 + 3.0, radius_km / 1.9 + 3.0);
            let (lat_cells, lng_cells) = (lat_cells as i32, lng_cells as i32);
            let (la0, ln0) = grid::cell_of(centre);
            for la in la0 - lat_cells..=la0 + lat_cells {
                for ln in ln0 - lng_cells..=ln0 + lng_cells {
                    let cell = grid::bounds_of(la, ln);
                    let fit = cells.fit(&cell);
                    // Every point of a fine lattice over the cell, its edges included.
                    let points = (0..=10).flat_map(|i| {
                        (0..=10).map(move |j| {
                            Point::new(
                                cell.min_lat + (cell.max_lat - cell.min_lat) * f64::from(i) / 10.0,
                                cell.min_lng + (cell.max_lng - cell.min_lng) * f64::from(j) / 10.0,
                            )
                        })
                    });
                    match fit {
                        CellFit::Outside => {
                            outside_in_box += usize::from(meets_box(&cell));
                            for p in points {
                                assert!(
                                    distances.to(p) > radius_km,
                                    "{radius_km} km: {p:?} passed over"
                                );
                            }
                        }
                        CellFit::Inside => {
                            inside += 1;
                            for p in points {
                                assert!(
                                    distances.to(p) <= radius_km,
                                    "{radius_km} km: {p:?} taken"
                                );
                            }
                        }
                        CellFit::Crossed => {}
                    }
                }
            }
            // From a few kilometres up, the box's corners hold cells wholly outside the
            // circle, and its middle cells wholly inside.
            if radius_km >= 5.0 {
                assert!(outside_in_box > 0 && inside > 0, "{radius_km} km");
            }
        }
    }
}
