//! What a page's state covers of the store ([`Footprint`]): what its plan read, and so what
//! writing the page may change. Two pages whose footprints do not meet cannot change what
//! the other read.
//!
//! A page reads its items as stored (by key), the stored children of the parents it
//! changes (by the parents' `@id`) and the stored parents its items and those children point
//! at (by `@id`). It writes its items and those children (by key), parent rows under the
//! `@id`s its parents have and had, children pointing at the `@id`s its items point at, and
//! the rows of the parents its children point at (their generated sessions dropped).
//! A child moved from one parent to another is caught by its key: a page that read the old
//! parent's children read it.
//!
//! Keys and `@id`s are kept as 64-bit hashes: a footprint is a few kilobytes however long
//! the ids, and two that hash alike only make a page read its state again.

use std::hash::BuildHasher;
use std::sync::LazyLock;

use hashbrown::{DefaultHashBuilder, HashSet};
use oa_model::{ItemRole, PreparedItem};

use crate::page::{ExistingItem, StoredChild};

/// One hasher for every footprint of the process, so that equal keys hash alike.
static HASHER: LazyLock<DefaultHashBuilder> = LazyLock::new(DefaultHashBuilder::default);

fn key(feed_id: i64, item_id: &str) -> u64 {
    HASHER.hash_one((feed_id, item_id))
}

fn ids<'a>(ids: impl IntoIterator<Item = &'a String>) -> impl Iterator<Item = u64> {
    ids.into_iter().map(|id| HASHER.hash_one(id.as_str()))
}

/// The item keys and `@id`s a page's state covers, hashed.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Footprint {
    /// (feed id, item id) of the page's items and of the stored children it recomputes.
    keys: HashSet<u64>,
    /// `@id`s of the page's parents, and of its stored items that were parents.
    parent_ids: HashSet<u64>,
    /// `@id`s the page's items and its stored children point at as their parent.
    parent_refs: HashSet<u64>,
}

impl Footprint {
    /// The footprint of a page of `feed_id`'s `items`, planned against a state whose stored
    /// versions of them are `existing` and whose recomputed children are `children`.
    pub(crate) fn of(
        feed_id: i64,
        items: &[PreparedItem],
        existing: &[ExistingItem],
        children: &[StoredChild],
    ) -> Self {
        let mut footprint = Footprint::default();
        for item in items {
            footprint.keys.insert(key(feed_id, &item.id));
            if item.role == ItemRole::Parent {
                footprint.parent_ids.extend(ids(&item.data_id));
            }
            footprint.parent_refs.extend(ids(&item.parent_ref));
        }
        for stored in existing.iter().filter(|e| e.role == Some(ItemRole::Parent)) {
            footprint.parent_ids.extend(ids(&stored.data_id));
        }
        for child in children {
            footprint.keys.insert(key(child.feed_id, &child.item_id));
            footprint.parent_refs.extend(ids(&child.parent_ref));
            // A page of sessions writes the row of the parent they point at (its generated
            // sessions go), which a page reads only as a child: the normaliser gives parents
            // no parent of their own, but the store does not depend on it.
            if ItemRole::parse(&child.role) == Some(ItemRole::Parent) {
                footprint.parent_ids.extend(ids(&child.data_id));
            }
        }
        footprint
    }

    /// Whether writing one of the two may change what the other read: an item key in both,
    /// or a parent `@id` of one that the other points at. Two pages pointing at the same
    /// parent do not meet (writing a child changes neither the parent's row nor what a page
    /// that does not change the parent reads), nor do two with parents of one `@id` in two
    /// feeds (a page reads no stored parent under an `@id` it has or deletes itself).
    pub(crate) fn meets(&self, other: &Footprint) -> bool {
        fn share(a: &HashSet<u64>, b: &HashSet<u64>) -> bool {
            let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            small.iter().any(|x| large.contains(x))
        }
        share(&self.keys, &other.keys)
            || share(&self.parent_ids, &other.parent_refs)
            || share(&self.parent_refs, &other.parent_ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oa_model::ItemState;

    fn item(
        id: &str,
        role: ItemRole,
        data_id: Option<&str>,
        parent_ref: Option<&str>,
    ) -> PreparedItem {
        PreparedItem {
            id: id.into(),
            role,
            data_id: data_id.map(str::to_owned),
            parent_ref: parent_ref.map(str::to_owned),
            kind: "Event".into(),
            state: ItemState::Updated,
            modified: 1,
            data_json: None,
            data: None,
        }
    }

    fn page(items: &[PreparedItem]) -> Footprint {
        Footprint::of(1, items, &[], &[])
    }

    #[test]
    fn pages_meet_on_a_shared_key_and_a_parent_one_has_and_the_other_points_at() {
        let series = page(&[item("s", ItemRole::Parent, Some("urn:s"), None)]);
        let session = page(&[item("a", ItemRole::Child, Some("urn:a"), Some("urn:s"))]);
        let other_session = page(&[item("b", ItemRole::Child, Some("urn:b"), Some("urn:s"))]);
        let same_key = page(&[item("a", ItemRole::Standalone, None, None)]);
        assert!(series.meets(&session) && session.meets(&series));
        assert!(session.meets(&same_key));
        assert!(!session.meets(&other_session), "children of one parent");
        assert!(!same_key.meets(&other_session));
        // The same key in another feed is another item.
        let elsewhere = Footprint::of(2, &[item("a", ItemRole::Standalone, None, None)], &[], &[]);
        assert!(!session.meets(&elsewhere));
    }

    #[test]
    fn a_page_covers_the_parents_its_stored_items_were_and_the_children_it_recomputes() {
        // A standalone item that was stored as a parent: its old `@id` is covered.
        let demoted = Footprint::of(
            1,
            &[item("s", ItemRole::Standalone, Some("urn:new"), None)],
            &[ExistingItem {
                item_id: "s".into(),
                modified: 1,
                data_id: Some("urn:old".into()),
                role: Some(ItemRole::Parent),
            }],
            &[],
        );
        let child_of_old = page(&[item("c", ItemRole::Child, None, Some("urn:old"))]);
        assert!(demoted.meets(&child_of_old));

        let child = StoredChild {
            feed_id: 7,
            feed_url: "https://q.example/sessions".into(),
            item_id: "c".into(),
            kind: "ScheduledSession".into(),
            modified: 1,
            role: "child".into(),
            data_id: None,
            parent_ref: Some("urn:elsewhere".into()),
            data: String::new(),
            status: "ok".into(),
            problem: None,
            digest_opportunities: None,
            digest_problems: None,
            digest_ids: None,
        };
        let recomputed_child = child.clone();
        let recomputing = Footprint::of(1, &[], &[], &[child]);
        let same_child = Footprint::of(7, &[item("c", ItemRole::Child, None, None)], &[], &[]);
        assert!(recomputing.meets(&same_child));
        let parent_elsewhere = page(&[item("p", ItemRole::Parent, Some("urn:elsewhere"), None)]);
        assert!(recomputing.meets(&parent_elsewhere));
        // A stored child that is a parent too: a page pointing at it may write its row.
        let child_parent = StoredChild {
            role: "parent".into(),
            data_id: Some("urn:middle".into()),
            ..recomputed_child.clone()
        };
        let pointing_at_it = page(&[item("m", ItemRole::Child, None, Some("urn:middle"))]);
        assert!(Footprint::of(1, &[], &[], &[child_parent]).meets(&pointing_at_it));
        assert!(!recomputing.meets(&pointing_at_it));
    }
}
