//! The contract between the normaliser and the store: an item made ready for storage, and
//! the normaliser the store calls inside a page's transaction to (re)compute opportunities.

use serde_json::Value;

use crate::{ItemState, Opportunity};

/// How an item relates to others, which decides what the store recomputes when it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemRole {
    /// SessionSeries, FacilityUse: other items point at it; changing it recomputes them.
    Parent,
    /// ScheduledSession, Slot: needs its parent (by `parent_ref`) to become an opportunity.
    Child,
    /// Event, CourseInstance and anything else that stands alone.
    Standalone,
}

impl ItemRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemRole::Parent => "parent",
            ItemRole::Child => "child",
            ItemRole::Standalone => "standalone",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "parent" => Some(ItemRole::Parent),
            "child" => Some(ItemRole::Child),
            "standalone" => Some(ItemRole::Standalone),
            _ => None,
        }
    }
}

/// One RPDE item classified and parsed, ready for the store.
#[derive(Debug, Clone)]
pub struct PreparedItem {
    pub id: String,
    pub kind: String,
    pub state: ItemState,
    pub modified: i64,
    pub role: ItemRole,
    /// The data's own `@id`, by which children find it.
    pub data_id: Option<String>,
    /// The parent's `@id` this item points at (`superEvent`, `facilityUse`).
    pub parent_ref: Option<String>,
    /// The publisher's JSON text, stored verbatim.
    pub data_json: Option<String>,
    /// The same, parsed.
    pub data: Option<Value>,
}

/// What normalising one item produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Normalised {
    Opportunities(Vec<Opportunity>),
    /// A child whose parent has not arrived yet: kept, and recomputed when it does.
    AwaitingParent,
    /// The item cannot become an opportunity; the reason is recorded against its feed.
    Unusable(String),
}

/// Turns an item (and its parent, when it has one and the store holds it) into opportunities.
/// Called by the store inside the page transaction, so it must be pure and fast.
pub trait Normaliser: Send + Sync {
    fn normalise(&self, kind: &str, item: &Value, parent: Option<&Value>) -> Normalised;

    /// Several children (kind, data) of one parent, each as [`Normaliser::normalise`] would
    /// make it, in order. Implementations share the work that depends only on the parent.
    fn normalise_siblings(&self, children: &[(&str, &Value)], parent: &Value) -> Vec<Normalised> {
        children
            .iter()
            .map(|(kind, item)| self.normalise(kind, item, Some(parent)))
            .collect()
    }
}

/// A stable public id for an opportunity, the same across re-harvests and database rebuilds:
/// FNV-1a (64-bit) over the feed URL, the RPDE item id and the occurrence key.
pub fn opportunity_id(feed_url: &str, item_id: &str, occurrence: Option<&str>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [feed_url, "\n", item_id, "\n", occurrence.unwrap_or("")] {
        for byte in part.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opportunity_ids_are_stable_and_distinct() {
        let a = opportunity_id("https://p/f", "1", None);
        assert_eq!(a, opportunity_id("https://p/f", "1", None));
        assert_eq!(a.len(), 16);
        assert_ne!(a, opportunity_id("https://p/f", "2", None));
        assert_ne!(a, opportunity_id("https://p/g", "1", None));
        assert_ne!(a, opportunity_id("https://p/f", "1", Some("x")));
    }
}
