//! Grouping a search's sessions by series: each series' soonest occurrences, in one flat
//! table, so that the thousands of series in a city's radius cost no allocation each.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::index::Found;

/// `per_group` slots a group; a group's filled slots are its soonest occurrences in
/// (start, id) order. Its buffers are kept from one grouping to the next.
#[derive(Default)]
pub(super) struct SeriesGroups {
    per_group: usize,
    slots: Vec<Found>,
    filled: Vec<usize>,
    by_series: HashMap<u64, usize, BuildHasherDefault<SeriesHasher>>,
}

impl SeriesGroups {
    /// Groups `found`: one group per series (and per session with no series). `firsts` gets
    /// each group's first occurrence and number, the groups in no particular order.
    pub fn fill(&mut self, found: &[Found], per_group: usize, firsts: &mut Vec<(Found, usize)>) {
        let per_group = per_group.max(1);
        let soonest = |f: &Found| (f.start_at, f.id);
        self.per_group = per_group;
        self.slots.clear();
        self.filled.clear();
        self.by_series.clear();
        for &f in found {
            let group = if f.series == 0 {
                self.open(f)
            } else {
                match self.by_series.get(&f.series) {
                    Some(&group) => group,
                    None => {
                        let group = self.open(f);
                        self.by_series.insert(f.series, group);
                        group
                    }
                }
            };
            let start = group * per_group;
            let filled = &mut self.filled[group];
            let slots = &mut self.slots[start..start + per_group];
            let place = slots[..*filled].partition_point(|g| soonest(g) < soonest(&f));
            if place == per_group {
                continue;
            }
            let kept = (*filled).min(per_group - 1);
            slots.copy_within(place..kept, place + 1);
            slots[place] = f;
            *filled = kept + 1;
        }
        firsts.clear();
        firsts.extend((0..self.filled.len()).map(|group| (self.slots[group * per_group], group)));
    }

    /// Frees buffers grown past `entries` (by a search over a whole city), so one large
    /// search does not keep its memory for good.
    pub fn shrink_past(&mut self, entries: usize) {
        if self.slots.capacity() > entries {
            *self = SeriesGroups::default();
        }
    }

    /// A new, empty group (its slots hold `f` as a placeholder).
    fn open(&mut self, f: Found) -> usize {
        self.slots.resize(self.slots.len() + self.per_group, f);
        self.filled.push(0);
        self.filled.len() - 1
    }

    /// The group's occurrences after its first, soonest first.
    pub fn later(&self, group: usize) -> &[Found] {
        let start = group * self.per_group;
        &self.slots[start + 1..start + self.filled[group].max(1)]
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
    use crate::index::Ending;

    fn found(id: u64, start_at: i64, series: u64) -> Found {
        Found {
            id,
            start_at,
            distance_km: 1.0,
            series,
            end: Ending::Unpublished,
        }
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
        let (mut groups, mut firsts) = (SeriesGroups::default(), Vec::new());
        groups.fill(&input, 3, &mut firsts);
        let shape: Vec<(u64, Vec<u64>)> = firsts
            .iter()
            .map(|&(first, group)| (first.id, groups.later(group).iter().map(|f| f.id).collect()))
            .collect();
        assert_eq!(
            shape,
            [(2, vec![4, 5]), (6, vec![]), (8, vec![]), (9, vec![])]
        );
    }

    #[test]
    fn equal_starts_are_ordered_by_id_and_a_group_of_one_has_no_later() {
        let input = vec![found(3, 10, 7), found(1, 10, 7), found(2, 10, 7)];
        let (mut groups, mut firsts) = (SeriesGroups::default(), Vec::new());
        groups.fill(&input, 2, &mut firsts);
        assert_eq!(firsts[0].0.id, 1);
        assert_eq!(
            groups.later(0).iter().map(|f| f.id).collect::<Vec<_>>(),
            [2]
        );
        groups.fill(&input, 1, &mut firsts);
        assert_eq!(firsts[0].0.id, 1);
        assert!(groups.later(0).is_empty());
    }
}
