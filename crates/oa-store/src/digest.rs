//! The digests of what normalising an item stores (of its opportunity rows, of their ids
//! alone, of its problems), kept on the item's row so an item whose output has not changed is
//! not rewritten.
//!
//! `renormalise` recomputes every item; most come out as stored, and after a tag-rule edit
//! most change their opportunities (but not their ids) and not their problems. Comparing
//! 64-bit digests read with the item replaces reading and comparing every stored document.
//! The digest is SipHash-1-3 with fixed keys: stable across runs and builds, so a stored
//! digest stays comparable; a mismatch (a changed algorithm, a store written before digests)
//! only costs one rewrite. A stored digest must always describe the rows stored for the
//! item: whatever deletes some of them without rewriting the item clears its digests.

use std::hash::Hasher;

use hashbrown::HashMap;
use siphasher::sip::SipHasher13;

use crate::page::{OpportunityRow, ProblemRow};

/// What one item's normalisation stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Digest {
    pub opportunities: i64,
    pub problems: i64,
    /// Of the opportunities' ids alone: when only this matches, the rows are rewritten in
    /// place and none of the item's opportunities has to be deleted.
    pub opportunity_ids: i64,
}

/// Each item's digests (by feed id and item id) over the rows and problems attributed to it
/// (an item with none has the digest of nothing).
pub(crate) fn output_digests<'a>(
    items: impl IntoIterator<Item = (i64, &'a str)>,
    rows: &[OpportunityRow],
    problems: &[ProblemRow],
) -> HashMap<(i64, &'a str), Digest> {
    let mut at: HashMap<(i64, &'a str), usize> = HashMap::new();
    for key in items {
        let next = at.len();
        at.entry(key).or_insert(next);
    }
    let fresh = || SipHasher13::new_with_keys(0, 0);
    let mut hashers = vec![[fresh(), fresh(), fresh()]; at.len()];
    for row in rows {
        if let Some(&n) = at.get(&(row.feed_id, row.item_id.as_str())) {
            let [opportunities, _, ids] = &mut hashers[n];
            write_row(opportunities, row);
            write_str(ids, &row.id);
        }
    }
    for problem in problems {
        if let Some(&n) = at.get(&(problem.feed_id, problem.item_id.as_str())) {
            let h = &mut hashers[n][1];
            write_str(h, &problem.code);
            write_str(h, &problem.detail);
        }
    }
    at.into_iter()
        .map(|(key, n)| {
            let [opportunities, problems, ids] = &hashers[n];
            // Stored as signed 64-bit columns on both backends.
            let digest = Digest {
                opportunities: opportunities.finish() as i64,
                problems: problems.finish() as i64,
                opportunity_ids: ids.finish() as i64,
            };
            (key, digest)
        })
        .collect()
}

fn write_row(h: &mut SipHasher13, row: &OpportunityRow) {
    write_str(h, &row.id);
    write_str(h, row.kind);
    h.write_i64(row.start_at);
    write_opt(h, row.end_at.map(|v| v.to_le_bytes()));
    write_opt(h, row.lat.map(|v| v.to_bits().to_le_bytes()));
    write_opt(h, row.lng.map(|v| v.to_bits().to_le_bytes()));
    write_str(h, row.status);
    h.write_i64(row.modified);
    match &row.parent_ref {
        Some(parent) => {
            h.write_u8(1);
            write_str(h, parent);
        }
        None => h.write_u8(0),
    }
    write_str(h, &row.doc);
}

/// Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
fn write_str(h: &mut SipHasher13, s: &str) {
    h.write_u64(s.len() as u64);
    h.write(s.as_bytes());
}

fn write_opt(h: &mut SipHasher13, value: Option<[u8; 8]>) {
    match value {
        Some(bytes) => {
            h.write_u8(1);
            h.write(&bytes);
        }
        None => h.write_u8(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(item_id: &str, id: &str, doc: &str) -> OpportunityRow {
        OpportunityRow {
            id: id.into(),
            feed_id: 1,
            item_id: item_id.into(),
            kind: "event",
            start_at: 100,
            end_at: None,
            lat: Some(53.7),
            lng: Some(-2.7),
            status: "scheduled",
            modified: 1,
            parent_ref: None,
            doc: doc.into(),
            tail: None,
            from_schedule_of: None,
            first_seen: false,
            occurrence: false,
        }
    }

    fn problem(item_id: &str, code: &str, detail: &str) -> ProblemRow {
        ProblemRow {
            feed_id: 1,
            item_id: item_id.into(),
            code: code.into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn a_digest_changes_with_any_stored_field_and_each_part_on_its_own() {
        let items = [(1, "a"), (1, "b")];
        let base = output_digests(items, &[row("a", "o1", "{}")], &[problem("a", "x", "y")]);
        assert_eq!(
            base,
            output_digests(items, &[row("a", "o1", "{}")], &[problem("a", "x", "y")]),
            "the same output has the same digests"
        );
        assert_ne!(base[&(1, "a")], base[&(1, "b")], "rows versus none");

        let mut moved = row("a", "o1", "{}");
        moved.lat = Some(53.8);
        let mut ended = row("a", "o1", "{}");
        ended.end_at = Some(200);
        for (rows, same_ids) in [
            (vec![row("a", "o1", "{ }")], true),
            (vec![row("a", "o2", "{}")], false),
            (vec![moved], true),
            (vec![ended], true),
            (vec![row("a", "o1", "{}"), row("a", "o3", "{}")], false),
        ] {
            let changed = output_digests(items, &rows, &[problem("a", "x", "y")]);
            let (now, before) = (changed[&(1, "a")], base[&(1, "a")]);
            assert_ne!(now.opportunities, before.opportunities);
            assert_eq!(now.problems, before.problems, "problems as they were");
            assert_eq!(now.opportunity_ids == before.opportunity_ids, same_ids);
            assert_eq!(changed[&(1, "b")], base[&(1, "b")], "b's output is its own");
        }
        let changed = output_digests(items, &[row("a", "o1", "{}")], &[problem("a", "x", "z")]);
        let (now, before) = (changed[&(1, "a")], base[&(1, "a")]);
        assert_eq!(now.opportunities, before.opportunities);
        assert_ne!(now.problems, before.problems);

        let split = output_digests(items, &[], &[problem("a", "ab", "c")]);
        let joined = output_digests(items, &[], &[problem("a", "a", "bc")]);
        assert_ne!(split[&(1, "a")], joined[&(1, "a")]);
    }
}
