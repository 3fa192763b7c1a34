//! An item's own opportunity id on PostgreSQL: the id of its opportunity without an
//! occurrence, which finds that row by the primary key rather than through an index on the
//! opportunities' source.
//!
//! An opportunity's id is a hash of its feed's URL, its item's id and its occurrence key
//! (`oa_model::opportunity_id`), so an item has at most one opportunity without an
//! occurrence, and its id is known from the item. Rows with an occurrence (a series'
//! scheduled sessions, an event's sub-events; `OpportunityRow::occurrence`) are marked
//! `occurrence` and only they are in `opportunities_by_source_occurrence` (migration 16):
//! a session item's row, most of what a harvest writes, no longer adds an entry to an index
//! on its source.

use std::collections::HashMap;

use oa_model::opportunity_id;
use sqlx::PgConnection;

use crate::{FeedRef, StoreError};

/// The URLs of the feeds whose items' opportunities a transaction replaces, by feed id.
#[derive(Debug, Default)]
pub(crate) struct FeedUrls(HashMap<i64, String>);

impl FeedUrls {
    /// Knowing the page's own feed.
    pub(crate) fn of(feed: &FeedRef) -> Self {
        FeedUrls(HashMap::from([(feed.id, feed.url.clone())]))
    }

    /// Reads the URLs of these feeds that are not known yet (a stored child of another
    /// feed, a renormalised batch).
    pub(super) async fn know(
        &mut self,
        conn: &mut PgConnection,
        feed_ids: impl Iterator<Item = i64>,
    ) -> Result<(), StoreError> {
        let mut missing: Vec<i64> = feed_ids.filter(|id| !self.0.contains_key(id)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        missing.dedup();
        let rows: Vec<(i64, String)> =
            sqlx::query_as("select id, url from feeds where id = any($1)")
                .bind(&missing)
                .fetch_all(conn)
                .await?;
        self.0.extend(rows);
        Ok(())
    }

    /// The id of the item's opportunity without an occurrence (`know` its feed first).
    pub(super) fn own_id(&self, feed_id: i64, item_id: &str) -> Result<String, StoreError> {
        let url = self
            .0
            .get(&feed_id)
            .ok_or_else(|| StoreError::Corrupt(format!("feed {feed_id} is not in the store")))?;
        Ok(opportunity_id(url, item_id, None))
    }
}
