//! Multi-row statements (`... values (?, ?), (?, ?) ...`) written straight into one SQL
//! string and one argument buffer, each reserved at its size.
//!
//! sqlx's `QueryBuilder` writes every placeholder through `fmt` and grows its buffers bind
//! by bind: 400 instructions a value, 3 % of a `renormalise` run's instructions (callgrind)
//! for statements of 1,000 rows of up to 12 columns. Written straight, the run took 2.4 %
//! fewer in all.
//!
//! Binding a `&str` costs sqlx two allocations and a copy (an `Arc<String>` of a copy), and
//! the writer thread frees them after the statement: owned strings are moved in (one
//! allocation), and words of a fixed vocabulary are bound as an `Arc<str>` made once a
//! thread.

use std::cell::RefCell;
use std::sync::Arc;

use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, AssertSqlSafe, Encode, Sqlite, Type};

use crate::StoreError;

pub(super) struct MultiRow {
    sql: String,
    /// `(?, ?, …)` with one placeholder per column.
    tuple: String,
    columns: usize,
    rows: usize,
    args: SqliteArguments,
    /// The first value that could not be bound.
    failed: Option<sqlx::error::BoxDynError>,
}

impl MultiRow {
    /// `head` (`insert into t (a, b)`, or `with s(a, b) as (`) followed by `values`, for
    /// about `rows` rows of `columns` values.
    pub fn new(head: &str, columns: usize, rows: usize) -> Self {
        let tuple = format!("({})", vec!["?"; columns].join(", "));
        let mut sql = String::with_capacity(head.len() + rows * (tuple.len() + 2) + 512);
        sql.push_str(head);
        sql.push_str(" values ");
        let mut args = SqliteArguments::default();
        args.reserve(rows * columns, 0);
        MultiRow {
            sql,
            tuple,
            columns,
            rows: 0,
            args,
            failed: None,
        }
    }

    /// Starts a row: its `columns` values follow with [`MultiRow::bind`].
    pub fn row(&mut self) -> &mut Self {
        if self.rows > 0 {
            self.sql.push_str(", ");
        }
        self.sql.push_str(&self.tuple);
        self.rows += 1;
        self
    }

    pub fn bind<'t, T: Encode<'t, Sqlite> + Type<Sqlite>>(&mut self, value: T) -> &mut Self {
        if let Err(e) = self.args.add(value) {
            self.failed.get_or_insert(e);
        }
        self
    }

    /// Binds a word of a fixed vocabulary (a state, a role, a status) without allocating.
    pub fn bind_word(&mut self, word: &'static str) -> &mut Self {
        thread_local! {
            static WORDS: RefCell<hashbrown::HashMap<&'static str, Arc<str>>> = RefCell::default();
        }
        let shared = WORDS.with_borrow_mut(|words| {
            Arc::clone(words.entry(word).or_insert_with(|| Arc::from(word)))
        });
        self.bind(shared)
    }

    /// The statement, with `tail` (`on conflict …`, or `) update …`) after the rows.
    pub fn finish(
        mut self,
        tail: &str,
    ) -> Result<Query<'static, Sqlite, SqliteArguments>, StoreError> {
        if let Some(e) = self.failed {
            return Err(sqlx::Error::Encode(e).into());
        }
        if self.args.len() != self.rows * self.columns {
            return Err(StoreError::Corrupt(format!(
                "{} values bound for {} rows of {} columns",
                self.args.len(),
                self.rows,
                self.columns
            )));
        }
        self.sql.push_str(tail);
        Ok(sqlx::query_with(AssertSqlSafe(self.sql), self.args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rows_are_written_and_bound_in_order() {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("sqlite");
        sqlx::query("create table t (a integer, b text, c real)")
            .execute(&mut db)
            .await
            .expect("table");
        let mut insert = MultiRow::new("insert into t (a, b, c)", 3, 5);
        insert.row().bind(1_i64).bind("one").bind(Some(1.5));
        insert
            .row()
            .bind(2_i64)
            .bind(None::<String>)
            .bind(None::<f64>);
        insert.row().bind(3_i64).bind("three".to_owned()).bind(0.25);
        insert.row().bind(4_i64).bind_word("four").bind(None::<f64>);
        insert.row().bind(5_i64).bind_word("four").bind(None::<f64>);
        insert
            .finish(" on conflict do nothing")
            .expect("statement")
            .execute(&mut db)
            .await
            .expect("insert");
        let rows: Vec<(i64, Option<String>, Option<f64>)> =
            sqlx::query_as("select a, b, c from t order by a")
                .fetch_all(&mut db)
                .await
                .expect("rows");
        assert_eq!(
            rows,
            [
                (1, Some("one".into()), Some(1.5)),
                (2, None, None),
                (3, Some("three".into()), Some(0.25)),
                (4, Some("four".into()), None),
                (5, Some("four".into()), None)
            ]
        );
    }

    #[test]
    fn a_row_missing_a_value_is_an_error_not_a_shifted_statement() {
        let mut insert = MultiRow::new("insert into t (a, b)", 2, 2);
        insert.row().bind(1_i64).bind("one");
        insert.row().bind(2_i64);
        let error = insert.finish("").err().map(|e| e.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("3 values bound for 2 rows of 2 columns")),
            "{error:?}"
        );
    }
}
