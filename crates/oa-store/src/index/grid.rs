//! A uniform latitude/longitude grid of record slots: four bytes a session, cheap to update
//! as pages arrive, and a radius search touches only the few cells its box covers.

use std::collections::HashMap;

use oa_geo::{BoundingBox, Point};

/// About 2.2 km north-south and 2 km east-west in England: a 5 km search reads ~30 cells.
const CELL_LAT_DEG: f64 = 0.02;
const CELL_LNG_DEG: f64 = 0.03;

/// The occupied cells a box meets, by key.
type CellIter<'a> = Box<dyn Iterator<Item = (&'a (i32, i32), &'a Vec<u32>)> + 'a>;

/// Each cell's slots, in order of their sessions' start: a search for a time window stops
/// at the first slot that starts after it, rather than reading every session of the cell
/// (measured: half of those a 14-day search read started after its window).
#[derive(Debug, Default)]
pub(crate) struct Grid {
    cells: HashMap<(i32, i32), Vec<u32>>,
}

/// The cell a point falls in.
pub(crate) fn cell_of(at: Point) -> (i32, i32) {
    cell_at(at.lat, at.lng)
}

fn cell_at(lat: f64, lng: f64) -> (i32, i32) {
    (
        (lat / CELL_LAT_DEG).floor() as i32,
        (lng / CELL_LNG_DEG).floor() as i32,
    )
}

impl Grid {
    /// The grid of points numbered 0, 1, 2… in order, each cell allocated at its size;
    /// `start_of` gives each slot's start.
    pub fn build(
        points: impl Iterator<Item = Point> + Clone,
        start_of: impl Fn(u32) -> i64,
    ) -> Self {
        let mut sizes: HashMap<(i32, i32), usize> = HashMap::new();
        for at in points.clone() {
            *sizes.entry(cell_of(at)).or_default() += 1;
        }
        let mut cells: HashMap<(i32, i32), Vec<u32>> = sizes
            .into_iter()
            .map(|(cell, n)| (cell, Vec::with_capacity(n)))
            .collect();
        for (slot, at) in points.enumerate() {
            if let Some(slots) = cells.get_mut(&cell_of(at)) {
                slots.push(slot as u32);
            }
        }
        for slots in cells.values_mut() {
            // Already so when the points come in order of start within each cell (the index
            // sorts its records by cell and start first).
            if !slots.is_sorted_by_key(|&s| start_of(s)) {
                slots.sort_by_key(|&s| start_of(s));
            }
        }
        Grid { cells }
    }

    /// Adds a slot starting at `start`, in its place; `start_of` gives the start of each slot
    /// already held.
    pub fn insert(&mut self, slot: u32, at: Point, start: i64, start_of: impl Fn(u32) -> i64) {
        let slots = self.cells.entry(cell_of(at)).or_default();
        let place = slots.partition_point(|&s| start_of(s) <= start);
        slots.insert(place, slot);
    }

    pub fn remove(&mut self, slot: u32, at: Point) {
        let cell = cell_of(at);
        if let Some(slots) = self.cells.get_mut(&cell) {
            if let Some(at) = slots.iter().position(|&s| s == slot) {
                slots.remove(at); // Keeps the rest in order.
            }
            if slots.is_empty() {
                self.cells.remove(&cell);
            }
        }
    }

    /// Every slot whose cell meets the box (the caller checks the exact point).
    #[cfg(test)]
    pub fn slots_in(&self, bbox: &BoundingBox) -> impl Iterator<Item = u32> + '_ {
        self.cells_in(bbox)
            .flat_map(|(_, slots)| slots.iter().copied())
    }

    /// Every cell that meets the box, with its bounds and its slots in order of start.
    pub fn cells_in(&self, bbox: &BoundingBox) -> impl Iterator<Item = (BoundingBox, &[u32])> + '_ {
        let (lat0, lng0) = cell_at(bbox.min_lat, bbox.min_lng);
        let (lat1, lng1) = cell_at(bbox.max_lat, bbox.max_lng);
        let cells_in_box = (i64::from(lat1 - lat0) + 1) * (i64::from(lng1 - lng0) + 1);
        // A box wider than the populated grid reads the occupied cells instead of the empty ones.
        let by_cell: CellIter<'_> = if cells_in_box > self.cells.len() as i64 {
            Box::new(self.cells.iter().filter(move |((la, ln), _)| {
                (lat0..=lat1).contains(la) && (lng0..=lng1).contains(ln)
            }))
        } else {
            Box::new(
                (lat0..=lat1)
                    .flat_map(move |la| (lng0..=lng1).map(move |ln| (la, ln)))
                    .filter_map(|cell| self.cells.get_key_value(&cell)),
            )
        };
        by_cell.map(|(&(la, ln), slots)| (bounds_of(la, ln), slots.as_slice()))
    }
}

/// The corners of a cell.
pub(crate) fn bounds_of(la: i32, ln: i32) -> BoundingBox {
    BoundingBox {
        min_lat: f64::from(la) * CELL_LAT_DEG,
        max_lat: f64::from(la + 1) * CELL_LAT_DEG,
        min_lng: f64::from(ln) * CELL_LNG_DEG,
        max_lng: f64::from(ln + 1) * CELL_LNG_DEG,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERYWHERE: BoundingBox = BoundingBox {
        min_lat: -90.0,
        max_lat: 90.0,
        min_lng: -180.0,
        max_lng: 180.0,
    };

    #[test]
    fn finds_what_it_holds_and_forgets_what_is_removed() {
        let mut grid = Grid::default();
        let (preston, kendal) = (Point::new(53.76, -2.70), Point::new(54.33, -2.75));
        let start_of = |slot: u32| i64::from(slot);
        grid.insert(1, preston, 1, start_of);
        grid.insert(2, preston, 2, start_of);
        grid.insert(3, kendal, 3, start_of);
        let near = BoundingBox {
            min_lat: 53.7,
            max_lat: 53.8,
            min_lng: -2.8,
            max_lng: -2.6,
        };
        let mut found: Vec<u32> = grid.slots_in(&near).collect();
        found.sort();
        assert_eq!(found, vec![1, 2]);
        grid.remove(1, preston);
        assert_eq!(grid.slots_in(&near).collect::<Vec<_>>(), vec![2]);
        assert_eq!(grid.slots_in(&EVERYWHERE).count(), 2);
    }

    #[test]
    fn a_built_grid_equals_one_filled_point_by_point() {
        let points = [
            Point::new(53.76, -2.70),
            Point::new(54.33, -2.75),
            Point::new(53.76, -2.70),
        ];
        let starts = [30, 10, 20];
        let start_of = |slot: u32| starts[slot as usize];
        let built = Grid::build(points.iter().copied(), start_of);
        let mut filled = Grid::default();
        for (slot, at) in points.iter().enumerate() {
            filled.insert(slot as u32, *at, starts[slot], start_of);
        }
        let in_cells = |grid: &Grid| grid.slots_in(&EVERYWHERE).collect::<Vec<u32>>();
        assert_eq!(built.cells.len(), 2);
        let mut slots = in_cells(&built);
        slots.sort();
        assert_eq!(slots, vec![0, 1, 2]);
        for (key, cell) in &built.cells {
            assert_eq!(filled.cells.get(key), Some(cell), "cell {key:?}");
        }
    }

    /// Slots of one cell, with starts in any order, ties and updates: a cell always reads
    /// in order of start, so a search can stop at the first past its window.
    #[test]
    fn a_cell_keeps_its_slots_in_order_of_start_through_inserts_and_removals() {
        let at = Point::new(53.76, -2.70);
        let mut starts: Vec<i64> = vec![50, 10, 40, 10, 30, 70, 20, 60, 40, 0];
        let mut grid = Grid::build(std::iter::repeat_n(at, starts.len()), |s| {
            starts[s as usize]
        });
        let in_order = |grid: &Grid, starts: &[i64]| {
            let read: Vec<i64> = grid
                .slots_in(&EVERYWHERE)
                .map(|s| starts[s as usize])
                .collect();
            assert!(read.is_sorted(), "{read:?}");
            read.len()
        };
        assert_eq!(in_order(&grid, &starts), 10);
        // Slot 2 moves to 65, slot 5 goes, slot 9 moves to 35, two new ones come.
        for (slot, start) in [(2, 65), (9, 35)] {
            grid.remove(slot, at);
            starts[slot as usize] = start;
            grid.insert(slot, at, start, |s| starts[s as usize]);
        }
        grid.remove(5, at);
        starts.extend([45, 5]);
        grid.insert(10, at, 45, |s| starts[s as usize]);
        grid.insert(11, at, 5, |s| starts[s as usize]);
        assert_eq!(in_order(&grid, &starts), 11);
    }
}
