//! Opportunity id → record slot in four bytes a session: the table holds only slots and
//! reads each slot's id from the records themselves (a `HashMap<u64, u32>` would take 16
//! bytes a session, over 30 MB at a million).

use hashbrown::HashTable;

use super::record::SessionRecord;

#[derive(Debug, Default)]
pub(crate) struct IdTable {
    slots: HashTable<u32>,
}

/// Ids are FNV-1a hashes already; one multiply spreads them over the table's bits.
fn hash(id: u64) -> u64 {
    id.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl IdTable {
    pub fn with_capacity(n: usize) -> Self {
        IdTable {
            slots: HashTable::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Records that `records[slot]` (already written) holds its id.
    pub fn insert(&mut self, slot: u32, records: &[SessionRecord]) {
        let id = records[slot as usize].id;
        self.slots
            .insert_unique(hash(id), slot, |&s| hash(records[s as usize].id));
    }

    /// Forgets the id; returns the slot it had.
    pub fn remove(&mut self, id: u64, records: &[SessionRecord]) -> Option<u32> {
        self.slots
            .find_entry(hash(id), |&s| records[s as usize].id == id)
            .ok()
            .map(|entry| entry.remove().0)
    }
}
