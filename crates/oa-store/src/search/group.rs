//! Grouping a search's sessions by series, in two passes over the matches: each series'
//! soonest occurrence first (enough to count the groups and pick the page), then the later
//! occurrences of the page's series only, so the thousands of series in a city's radius
//! cost one map entry each and nothing more.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::index::Found;

/// The grouping's map, kept from one search to the next.
#[derive(Default)]
pub(super) struct SeriesGroups {
    by_series: HashMap<u64, usize, BuildHasherDefault<SeriesHasher>>,
}

fn soonest(f: &Found) -> (i64, u64) {
    (f.start_at, f.id)
}

impl SeriesGroups {
    /// Each group's soonest occurrence, in no particular order, into `firsts`: one group
    /// per series, and one per session with no series.
    pub fn firsts(&mut self, found: &[Found], firsts: &mut Vec<Found>) {
        self.by_series.clear();
        firsts.clear();
        for &f in found {
            if f.series == 0 {
                firsts.push(f);
                continue;
            }
            match self.by_series.get(&f.series) {
                Some(&group) => {
                    let first = &mut firsts[group];
                    if soonest(&f) < soonest(first) {
                        *first = f;
                    }
                }
                None => {
                    self.by_series.insert(f.series, firsts.len());
                    firsts.push(f);
                }
            }
        }
    }

    /// For each group of `page` (firsts from [`SeriesGroups::firsts`]), its next
    /// `per_group - 1` occurrences among `found`, soonest first.
    pub fn later(&mut self, found: &[Found], page: &[Found], per_group: usize) -> Vec<Vec<Found>> {
        let keep = per_group.max(1) - 1;
        let mut later = vec![Vec::new(); page.len()];
        self.by_series.clear();
        for (at, first) in page.iter().enumerate() {
            if first.series != 0 {
                self.by_series.insert(first.series, at);
            }
        }
        if keep == 0 || self.by_series.is_empty() {
            return later;
        }
        for &f in found {
            let Some(&at) = self.by_series.get(&f.series).filter(|_| f.series != 0) else {
                continue;
            };
            if f.id == page[at].id {
                continue;
            }
            let occurrences: &mut Vec<Found> = &mut later[at];
            let place = occurrences.partition_point(|g| soonest(g) < soonest(&f));
            if place == keep {
                continue;
            }
            if occurrences.len() == keep {
                occurrences.pop();
            }
            occurrences.insert(place, f);
        }
        later
    }

    /// Frees a map grown past `entries` series (by a search over a whole city), so one
    /// large search does not keep its memory for good.
    pub fn shrink_past(&mut self, entries: usize) {
        if self.by_series.capacity() > entries {
            *self = SeriesGroups::default();
        }
    }
}

/// Series numbers are FNV-1a hashes already (see the index's records): hashing them again
/// for the grouping map is wasted work.
#[derive(Default)]
struct SeriesHasher(u64);

impl Hasher for SeriesHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(id: u64, start_at: i64, series: u64) -> Found {
        Found::at_start(id, start_at, series, 1.0)
    }

    /// (first id, later ids) of every group, by first id.
    fn shape(found: &[Found], per_group: usize) -> Vec<(u64, Vec<u64>)> {
        shape_of_page(found, per_group, |_| true)
    }

    /// The same for the groups whose first `on_page` keeps.
    fn shape_of_page(
        found: &[Found],
        per_group: usize,
        on_page: impl Fn(&Found) -> bool,
    ) -> Vec<(u64, Vec<u64>)> {
        let (mut groups, mut firsts) = (SeriesGroups::default(), Vec::new());
        groups.firsts(found, &mut firsts);
        firsts.retain(|f| on_page(f));
        firsts.sort_by_key(|f| f.id);
        let later = groups.later(found, &firsts, per_group);
        firsts
            .iter()
            .zip(later)
            .map(|(first, later)| (first.id, later.iter().map(|f| f.id).collect()))
            .collect()
    }

    #[test]
    fn each_series_keeps_its_soonest_in_order_whatever_the_input_order() {
        // Series 7: starts 50, 10, 40, 20, 30 (ids 1..=5); series 9: one at 5; two
        // standalone sessions.
        let input = vec![
            found(1, 50, 7),
            found(6, 5, 9),
            found(2, 10, 7),
            found(8, 1, 0),
            found(3, 40, 7),
            found(4, 20, 7),
            found(9, 2, 0),
            found(5, 30, 7),
        ];
        assert_eq!(
            shape(&input, 3),
            [(2, vec![4, 5]), (6, vec![]), (8, vec![]), (9, vec![])]
        );
        let mut reversed = input.clone();
        reversed.reverse();
        assert_eq!(shape(&reversed, 3), shape(&input, 3));
        assert_eq!(shape(&input, 9)[0], (2, vec![4, 5, 3, 1]));
    }

    #[test]
    fn equal_starts_are_ordered_by_id_and_a_group_of_one_has_no_later() {
        let input = vec![found(3, 10, 7), found(1, 10, 7), found(2, 10, 7)];
        assert_eq!(shape(&input, 2), [(1, vec![2])]);
        assert_eq!(shape(&input, 1), [(1, vec![])]);
    }

    #[test]
    fn later_occurrences_are_found_for_the_page_groups_only() {
        let input = vec![
            found(1, 10, 7),
            found(2, 20, 7),
            found(3, 5, 8),
            found(4, 6, 8),
        ];
        assert_eq!(shape_of_page(&input, 3, |f| f.series == 8), [(3, vec![4])]);
    }
}
