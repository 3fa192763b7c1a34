//! The store's errors.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    #[error("could not connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("could not migrate the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("not found")]
    NotFound,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the page was abandoned and nothing of it stored: {0}")]
    Abandoned(String),
    /// A page written while the page before it was in its transaction
    /// ([`crate::Store::apply_plan_after`]), when that page did not commit: the feed's cursor
    /// is not at the page's URL, given here, and nothing of the page was stored.
    #[error("the page before {0} was not stored, so it was not stored either")]
    PageBeforeNotStored(String),
    /// What this database cannot do.
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A page's statement on SQLite, run on a connection borrowed from sqlx
    /// (`sqlite::direct`).
    #[error("database error: {0}")]
    Direct(#[source] rusqlite::Error),
    /// A read on the SQLite connections search uses directly (`sqlite::lookups`).
    #[error("could not read from {database}: {source}")]
    Lookup {
        database: String,
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Whether waiting and trying again may help (the database restarting, a lock).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Connect(_) => true,
            StoreError::Database(e) => {
                matches!(
                    e,
                    sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
                ) || e
                    .as_database_error()
                    .and_then(|d| d.code())
                    .is_some_and(|code| {
                        // SQLITE_BUSY / SQLITE_LOCKED, and PostgreSQL's connection, shutdown,
                        // serialization and deadlock classes.
                        matches!(code.as_ref(), "5" | "6" | "40001" | "40P01")
                            || code.starts_with("08")
                            || code.starts_with("57P")
                    })
            }
            StoreError::Lookup { source, .. } | StoreError::Direct(source) => is_busy(source),
            _ => false,
        }
    }
}

/// Whether SQLite refused because another connection holds a lock it needs.
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}
