//! A chunk's rows on SQLite (`PageTx::write_rows`): one kind at a time, each a prepared
//! statement stepped a row at a time on the transaction's connection.

use super::item_keys::{self, rid_of_key};
use super::opportunity_rows;
use super::page_tx::SqlitePageTx;
use super::problems;
use crate::StoreError;
use crate::document_tails::SharedTail;
use crate::page::{ItemRow, OpportunityRow, ProblemRow, StatusRow};

impl SqlitePageTx {
    pub(super) async fn upsert_items(
        &mut self,
        feed_id: i64,
        rows: Vec<ItemRow>,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.run_with_inserted(|conn, inserted| {
            item_keys::write_items(conn, feed_id, &rows, inserted)
        })
        .await
    }

    pub(super) async fn set_item_status(&mut self, rows: &[StatusRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.run(|conn| {
            let mut update = conn.prepare_cached(concat!(
                "update items set status = ?3, problem = ?4 where rid = ",
                rid_of_key!("?1", "?2")
            ))?;
            for r in rows {
                update.execute(rusqlite::params![r.feed_id, r.item_id, r.status, r.problem])?;
            }
            Ok(())
        })
        .await
    }

    pub(super) async fn replace_problems(
        &mut self,
        sources: &[(i64, String)],
        rows: &[ProblemRow],
    ) -> Result<(), StoreError> {
        if sources.is_empty() && rows.is_empty() {
            return Ok(());
        }
        self.run_with_inserted(|conn, inserted| problems::replace(conn, sources, rows, inserted))
            .await
    }

    pub(super) async fn replace_opportunities(
        &mut self,
        sources: &[(i64, String)],
        rows: Vec<OpportunityRow>,
        tails: Vec<SharedTail>,
    ) -> Result<(), StoreError> {
        if sources.is_empty() && rows.is_empty() {
            return Ok(());
        }
        self.run_with_inserted(|conn, inserted| {
            opportunity_rows::replace(conn, sources, &rows, &tails, inserted)
        })
        .await
    }
}
