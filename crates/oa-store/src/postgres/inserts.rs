//! Inserts into several tables sent to PostgreSQL as one statement, each a data-modifying
//! `with` part: one round trip for a chunk's rows where a page of sessions took five
//! (docs/PERFORMANCE.md, "Thirty-fifth session").

use sqlx::postgres::PgArguments;
use sqlx::{Arguments, Encode, Postgres, Type};

use super::page_tx::PgPageTx;
use crate::StoreError;

/// One statement's parts and the values they bind, in order.
#[derive(Default)]
pub(super) struct Inserts {
    parts: Vec<String>,
    args: PgArguments,
}

impl Inserts {
    /// Binds `value` as the next parameter; returns its placeholder, cast to `sql_type`.
    pub(super) fn bind<'q, T>(&mut self, value: T, sql_type: &str) -> Result<String, StoreError>
    where
        T: Encode<'q, Postgres> + Type<Postgres>,
    {
        self.args
            .add(value)
            .map_err(|e| StoreError::Database(sqlx::Error::Encode(e)))?;
        Ok(format!("${}::{sql_type}", self.args.len()))
    }

    /// Adds `name as (statement)`. A part may read the `select` parts added before it;
    /// the inserts all see the snapshot the statement starts with, so no part may depend
    /// on another's writes.
    pub(super) fn part(&mut self, name: &str, statement: &str) {
        self.parts.push(format!("{name} as ({statement})"));
    }

    /// Adds a `select` part that later parts read, evaluated once for all of them (so a
    /// sequence's `nextval` in it gives each row one value, whoever reads it).
    pub(super) fn select_part(&mut self, name: &str, select: &str) {
        self.parts
            .push(format!("{name} as materialized ({select})"));
    }

    /// Runs the parts added, if any, to completion.
    pub(super) async fn execute(self, tx: &mut PgPageTx) -> Result<(), StoreError> {
        if self.parts.is_empty() {
            return Ok(());
        }
        let sql = format!("with {} select", self.parts.join(", "));
        sqlx::query_with(sqlx::AssertSqlSafe(sql), self.args)
            .execute(&mut *tx.0)
            .await?;
        Ok(())
    }
}

/// Arrays of one length as rows (`unnest(a), unnest(b), ...`), for a select list: there
/// PostgreSQL steps them together row by row, where `unnest(a, b, ...)` in a `from` first
/// copies every row into a tuple store.
pub(super) fn in_step(columns: &[String]) -> String {
    columns
        .iter()
        .map(|column| format!("unnest({column})"))
        .collect::<Vec<_>>()
        .join(", ")
}
