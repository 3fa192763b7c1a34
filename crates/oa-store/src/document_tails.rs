//! A series' sessions store the end their documents share once: each row keeps its own
//! head, and one `document_tails` row the rest.
//!
//! The sessions of one series inherit its name, description, activities, place, organizer,
//! price and tags, and differ in their ids, dates and status, which their documents write
//! first (`oa_model::Opportunity`). Written whole, nine tenths of every session's document
//! repeated its siblings' bytes, in the table, in the WAL and in every checkpoint: with
//! only what differs written per session a harvest into SQLite ran about a sixth faster
//! (docs/PERFORMANCE.md, "Harvest throughput", twenty-fifth session).
//!
//! Every read of a document splices it back ([`stored_doc!`]), so readers see the whole
//! text, byte for byte; digests are taken of the whole text before it is split. A tail is
//! shared only by rows written together, so it needs no lookup by content: it gets the
//! next `rid`. It counts the rows that point at it (`refs`), and the transaction that
//! deletes or rewrites the last of them deletes it: an index on `opportunities.tail_id`,
//! to find the rows still pointing at a tail, cost every row written an entry, and took
//! about two thirds of what the split saved (same section).

use std::collections::BTreeMap;

use hashbrown::HashMap;

use crate::page::OpportunityRow;

/// The stored document of the opportunity aliased `o`, its head and its tail spliced, in a
/// query that joins [`tail_join!`] (both dialects: a missing tail reads as nothing).
macro_rules! stored_doc {
    () => {
        "(o.doc || coalesce(t.body, ''))"
    };
}
pub(crate) use stored_doc;

/// The join [`stored_doc!`] reads a tail through. A join rather than a subquery per row:
/// SQLite read a million documents in a fifth less time (0.81 s against 1.05 s).
macro_rules! tail_join {
    () => {
        " left join document_tails t on t.rid = o.tail_id"
    };
}
pub(crate) use tail_join;

/// A shared end shorter than this stays in each document: its own row would cost about
/// what it saves.
const SHORTEST_TAIL: usize = 256;

/// The shared end of some rows' documents, and how many rows point at it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SharedTail {
    pub body: String,
    pub refs: i64,
}

/// Splits the documents of rows with the same parent (`parent_ref`) at the longest end
/// they all share, when it is long enough: each row keeps its head in `doc` and points
/// at its tail by index into the returned tails (`tail`).
pub(crate) fn split_shared_tails(rows: &mut [OpportunityRow]) -> Vec<SharedTail> {
    let mut siblings: HashMap<&str, Vec<usize>> = HashMap::new();
    for (n, row) in rows.iter().enumerate() {
        if let Some(parent) = &row.parent_ref {
            siblings.entry(parent.as_str()).or_default().push(n);
        }
    }
    let mut groups: Vec<Vec<usize>> = siblings
        .into_values()
        .filter(|group| group.len() > 1)
        .collect();
    // In row order, so the same rows always give the same tails in the same order.
    groups.sort_unstable_by_key(|group| group[0]);
    let mut tails = Vec::new();
    for group in groups {
        let shared = shared_end(group.iter().map(|&n| rows[n].doc.as_str()));
        if shared < SHORTEST_TAIL {
            continue;
        }
        let first = &rows[group[0]].doc;
        tails.push(SharedTail {
            body: first[first.len() - shared..].to_owned(),
            refs: group.len() as i64,
        });
        for &n in &group {
            let doc = &mut rows[n].doc;
            doc.truncate(doc.len() - shared);
            rows[n].tail = Some(tails.len() - 1);
        }
    }
    tails
}

/// The tails that rows deleted or rewritten pointed at (a tail once per row), as (rid, rows
/// no longer pointing at it), in order of rid so that transactions meet them in one order.
pub(crate) fn released(old_tails: impl IntoIterator<Item = i64>) -> Vec<(i64, i64)> {
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for rid in old_tails {
        *counts.entry(rid).or_default() += 1;
    }
    counts.into_iter().collect()
}

/// How many bytes at the end all the texts share, backed off to the start of a character
/// (the shared bytes are the same in every text, so one boundary suits all).
fn shared_end<'a>(mut docs: impl Iterator<Item = &'a str>) -> usize {
    let Some(first) = docs.next() else {
        return 0;
    };
    let first = first.as_bytes();
    let mut shared = first.len();
    for doc in docs {
        shared = common_suffix(first, doc.as_bytes(), shared);
    }
    while shared > 0 && !is_char_start(first[first.len() - shared]) {
        shared -= 1;
    }
    shared
}

/// The length of the longest common end of `a` and `b`, up to `limit`: compared a block at
/// a time (the writer compares every session's document, about a kilobyte each, with its
/// first sibling's), then byte by byte within the block that differs.
fn common_suffix(a: &[u8], b: &[u8], limit: usize) -> usize {
    const BLOCK: usize = 64;
    let most = limit.min(a.len()).min(b.len());
    let (a, b) = (&a[a.len() - most..], &b[b.len() - most..]);
    let mut shared = 0;
    while shared + BLOCK <= most
        && a[most - shared - BLOCK..most - shared] == b[most - shared - BLOCK..most - shared]
    {
        shared += BLOCK;
    }
    while shared < most && a[most - shared - 1] == b[most - shared - 1] {
        shared += 1;
    }
    shared
}

fn is_char_start(byte: u8) -> bool {
    // UTF-8 continuation bytes are 0b10xx_xxxx.
    byte & 0xC0 != 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(parent: Option<&str>, doc: &str) -> OpportunityRow {
        OpportunityRow {
            kind: "session",
            parent_ref: parent.map(str::to_owned),
            ..OpportunityRow::session(doc, doc)
        }
    }

    fn whole(row: &OpportunityRow, tails: &[SharedTail]) -> String {
        format!(
            "{}{}",
            row.doc,
            row.tail.map_or("", |n| tails[n].body.as_str())
        )
    }

    fn bodies(tails: &[SharedTail]) -> Vec<&str> {
        tails.iter().map(|t| t.body.as_str()).collect()
    }

    fn shared_text(n: usize) -> String {
        format!(r#","name":"Walk","description":"{}"}}"#, "é".repeat(n))
    }

    #[test]
    fn siblings_keep_their_own_heads_and_share_one_tail_that_splices_back_to_each_document() {
        let tail = shared_text(200);
        let docs: Vec<String> = (1..=3)
            .map(|day| format!(r#"{{"start":"2030-01-0{day}"{tail}"#))
            .collect();
        let mut rows: Vec<_> = docs.iter().map(|d| row(Some("series"), d)).collect();
        rows.push(row(Some("other"), &docs[0]));
        let tails = split_shared_tails(&mut rows);
        // The start's last digit differs; everything after it is shared, by three rows.
        assert_eq!(
            tails,
            [SharedTail {
                body: format!(r#""{tail}"#),
                refs: 3
            }]
        );
        for (row, doc) in rows.iter().zip(&docs) {
            assert_eq!(&whole(row, &tails), doc);
        }
        assert_eq!(rows[0].doc, r#"{"start":"2030-01-01"#);
        assert_eq!(rows[3].tail, None, "a series' only session stays whole");
    }

    #[test]
    fn a_tail_starts_at_a_character_not_inside_one() {
        // "é" and "©" differ in their first byte and share their second: the shared bytes
        // start with that second byte, which is not a place to split.
        let tail = shared_text(200);
        let docs = [format!("{{\"x\":\"é{tail}"), format!("{{\"x\":\"©{tail}")];
        assert_ne!(docs[0].as_bytes()[6], docs[1].as_bytes()[6]);
        assert_eq!(docs[0].as_bytes()[7], docs[1].as_bytes()[7]);
        let mut rows: Vec<_> = docs.iter().map(|d| row(Some("s"), d)).collect();
        let tails = split_shared_tails(&mut rows);
        assert_eq!(bodies(&tails), [tail.as_str()]);
        for (row, doc) in rows.iter().zip(&docs) {
            assert_eq!(&whole(row, &tails), doc);
        }
    }

    #[test]
    fn short_shared_ends_and_rows_without_a_parent_stay_whole() {
        let short = shared_text(10);
        let mut rows = vec![
            row(Some("s"), &format!("{{\"a\":1{short}")),
            row(Some("s"), &format!("{{\"a\":2{short}")),
            row(None, &format!("{{\"a\":3{}", shared_text(200))),
            row(None, &format!("{{\"a\":4{}", shared_text(200))),
        ];
        let before: Vec<String> = rows.iter().map(|r| r.doc.clone()).collect();
        assert!(split_shared_tails(&mut rows).is_empty());
        let after: Vec<String> = rows.iter().map(|r| r.doc.clone()).collect();
        assert_eq!(after, before);
        assert!(rows.iter().all(|r| r.tail.is_none()));
    }

    #[test]
    fn identical_documents_keep_empty_heads() {
        let doc = format!("{{\"a\":1{}", shared_text(200));
        let mut rows = vec![row(Some("s"), &doc), row(Some("s"), &doc)];
        let tails = split_shared_tails(&mut rows);
        assert_eq!(bodies(&tails), [doc.as_str()]);
        for row in &rows {
            assert_eq!(row.doc, "");
            assert_eq!(whole(row, &tails), doc);
        }
    }

    #[test]
    fn released_tails_are_counted_per_row_in_order_of_rid() {
        assert_eq!(released([7, 3, 7, 7]), [(3, 1), (7, 3)]);
        assert!(released([]).is_empty());
    }

    #[test]
    fn common_ends_are_found_across_block_boundaries_and_within_the_limit() {
        let base: Vec<u8> = (0..300u32).map(|n| (n % 251) as u8).collect();
        for differs_at in [0, 1, 63, 64, 65, 127, 128, 200, 299] {
            let mut other = base.clone();
            other[differs_at] ^= 0xFF;
            let expected = base.len() - differs_at - 1;
            assert_eq!(
                common_suffix(&base, &other, usize::MAX),
                expected,
                "{differs_at}"
            );
            assert_eq!(common_suffix(&base, &other, 10), expected.min(10));
        }
        assert_eq!(common_suffix(&base, &base, usize::MAX), base.len());
        assert_eq!(common_suffix(&base, &base[100..], usize::MAX), 200);
        assert_eq!(common_suffix(b"", &base, usize::MAX), 0);
    }
}
