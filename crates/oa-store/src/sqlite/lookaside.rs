//! A larger lookaside allocator for the writer's connection.
//!
//! SQLite copies every bound text into memory of its own, and a page's multi-row statements
//! bind thousands of them at once. Its per-connection lookaside allocator serves small
//! allocations from a preallocated buffer, without glibc's malloc; the default buffer (100
//! slots) is exhausted by the first rows of a statement. With 2,000 slots the writer thread
//! (what bounds a harvest) runs 9 % fewer instructions (docs/PERFORMANCE.md, "Harvest
//! throughput", nineteenth session). Only the writer gets it: the buffer is resident, and
//! every connection having a larger one took a harvest's peak memory over 100 MB. (The
//! writers: sqlx's, and the page connection, `super::page_writer`.)

use std::ffi::{c_int, c_void};

use rusqlite::ffi;
use sqlx::{Connection, SqliteConnection};

/// Bytes a slot; allocations up to this size come from the buffer. SQLite's default is
/// 1,200: 512 kept almost all of the gain (the texts bound are mostly ids, words and short
/// values) in 1 MB instead of 2.4.
const SLOT_SIZE: c_int = 512;
/// Slots in the buffer (SQLite's default is 100); SQLite carves small 128-byte slots out of
/// the same buffer for the many short values.
const SLOTS: c_int = 2000;

/// Gives the connection the larger lookaside buffer; whether SQLite took it. SQLite refuses
/// (busy) while any lookaside memory is in use, as it is by the statements sqlx cached while
/// connecting, so those are finalised first. Refused, the connection keeps its default,
/// which is only slower.
pub(super) async fn enlarge(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    conn.clear_cached_statements().await?;
    let mut handle = conn.lock_handle().await?;
    let code = configure(handle.as_raw_handle().as_ptr());
    if code != ffi::SQLITE_OK {
        tracing::warn!(
            code,
            "SQLite kept the writer's default lookaside allocator (code {code}): writes are slower"
        );
    }
    Ok(code == ffi::SQLITE_OK)
}

/// [`enlarge`] for a connection opened through rusqlite, before it runs any statement (the
/// page connection, `super::page_writer`).
pub(super) fn configure_direct(conn: &rusqlite::Connection) -> bool {
    #[expect(
        unsafe_code,
        reason = "rusqlite hands out the raw handle only through an unsafe fn"
    )]
    // SAFETY: the handle stays open as long as `conn`, which this call borrows.
    let db = unsafe { conn.handle() };
    let code = configure(db);
    if code != ffi::SQLITE_OK {
        tracing::warn!(
            code,
            "SQLite kept the page writer's default lookaside allocator (code {code}): writes are slower"
        );
    }
    code == ffi::SQLITE_OK
}

#[expect(
    unsafe_code,
    reason = "sqlite3_db_config has no binding in sqlx or rusqlite's safe API"
)]
fn configure(db: *mut ffi::sqlite3) -> c_int {
    // SAFETY: `db` is an open connection, locked away from sqlx's worker thread for the
    // duration of the call; a null buffer makes SQLite allocate (and later free) its own; the
    // variadic arguments are the pointer and two ints SQLITE_DBCONFIG_LOOKASIDE reads.
    unsafe {
        ffi::sqlite3_db_config(
            db,
            ffi::SQLITE_DBCONFIG_LOOKASIDE,
            std::ptr::null_mut::<c_void>(),
            SLOT_SIZE,
            SLOTS,
        )
    }
}

#[cfg(test)]
mod tests {
    use sqlx::ConnectOptions;
    use sqlx::sqlite::SqliteConnectOptions;

    #[tokio::test]
    async fn a_connection_that_ran_statements_takes_the_larger_buffer() {
        let mut conn = SqliteConnectOptions::new()
            .in_memory(true)
            .connect()
            .await
            .expect("an in-memory database opens");
        sqlx::query("create table t (x text)")
            .execute(&mut conn)
            .await
            .expect("a statement runs");
        sqlx::query("insert into t values (?)")
            .bind("cached")
            .execute(&mut conn)
            .await
            .expect("a statement runs");
        assert!(
            super::enlarge(&mut conn)
                .await
                .expect("the connection answers")
        );
    }
}
