//! SQLite's write ceiling for the harvest's own rows: what a harvest stored, written again
//! into a fresh store by one thread with nothing else to do (no fetching, normalising,
//! reading back or async hand-offs), one transaction per page of 500 items.
//!
//! The rows come from the harvested store page by page in feed order (`modified`, then id,
//! as RPDE orders them), all read into memory before the writing starts: until the
//! twenty-second session a reader thread fed the writer while it wrote, and the two sharing
//! the machine's two cores took the figure from about 100,000 items/s to about 60,000
//! (docs/PERFORMANCE.md, "Harvest throughput"). The fresh store is made by `SqliteStore::connect` (migrations, 16 KiB pages,
//! WAL) and written with the harvest's pragmas: `synchronous = normal`, foreign keys on,
//! its 16 MiB cache, and passive checkpoints on another connection every 250 ms.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, params_from_iter};

const PAGE_ITEMS: usize = 500;

/// What each replayed page writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// The items' rows (raw data, status, digests) and the cursor.
    ItemsOnly,
    /// Everything a harvest's page writes: items, opportunities, problems, the change log's
    /// row and the cursor.
    Everything,
}

/// One page: its items' rows, and the opportunity and problem rows that came of them.
struct Page {
    feed_id: i64,
    items: Vec<Vec<Value>>,
    /// The shared ends of the opportunities' documents, each with the first page that
    /// points at it, as the harvest wrote it.
    tails: Vec<Vec<Value>>,
    opportunities: Vec<Vec<Value>>,
    problems: Vec<Vec<Value>>,
}

const ITEM_COLUMNS: &str = "feed_id, item_id, kind, modified, state, role, data_id, parent_ref, data, \
    status, problem, digest_opportunities, digest_problems, digest_ids";
const OPPORTUNITY_COLUMNS: &str = "id, feed_id, item_id, kind, start_at, end_at, lat, lng, status, modified, parent_ref, doc, tail_id";

/// Writes `harvested`'s rows again into the fresh store at `fresh` (a `sqlite://` URL's
/// file); returns the items written and the seconds the writing thread spent writing.
pub async fn replay(harvested: &Path, fresh: &Path, rows: Rows) -> (usize, f64) {
    crate::support::remove_sqlite(fresh);
    let url = format!("sqlite://{}", fresh.display());
    drop(
        oa_store::SqliteStore::connect(&url)
            .await
            .expect("fresh store"),
    );
    let harvested = harvested.to_owned();
    let fresh = fresh.to_owned();
    tokio::task::spawn_blocking(move || write_pages(&harvested, &fresh, rows))
        .await
        .expect("replay")
}

fn write_pages(harvested: &Path, fresh: &Path, rows: Rows) -> (usize, f64) {
    let conn = Connection::open(fresh).expect("open fresh store");
    conn.execute_batch(
        "pragma synchronous = normal; pragma foreign_keys = on; pragma cache_size = -16384; \
         pragma wal_autocheckpoint = 0;",
    )
    .expect("pragmas");
    conn.execute_batch(&format!(
        "attach '{}' as harvested; \
         insert into main.feeds select * from harvested.feeds; detach harvested;",
        harvested.display()
    ))
    .expect("copy feeds");

    // Every page is read before the writing starts, so nothing else runs while it does.
    let pages = read_pages(harvested, rows);
    let writing = AtomicBool::new(true);
    let (items, seconds) = std::thread::scope(|scope| {
        scope.spawn(|| checkpoint_while(fresh, &writing));
        // The checkpointer stops however the writing ends (a failed write panics, and the
        // scope waits for its threads before passing the panic on).
        let _stop = StopOnDrop(&writing);
        let mut writing_time = Duration::ZERO;
        let mut items = 0;
        for page in pages {
            items += page.items.len();
            let started = Instant::now();
            write_page(&conn, &page);
            writing_time += started.elapsed();
        }
        (items, writing_time.as_secs_f64())
    });
    (items, seconds)
}

fn write_page(conn: &Connection, page: &Page) {
    let tx = conn.unchecked_transaction().expect("begin");
    let last_rid: i64 = tx
        .query_row("select coalesce(max(rid), 0) from items", [], |r| r.get(0))
        .expect("last rid");
    let insert = |table: &str, columns: &str, rows: &[Vec<Value>]| {
        let marks = vec!["?"; columns.split(',').count()].join(", ");
        let mut statement = tx
            .prepare_cached(&format!("insert into {table} ({columns}) values ({marks})"))
            .expect("prepare");
        for row in rows {
            statement.execute(params_from_iter(row)).expect("insert");
        }
    };
    insert("items", ITEM_COLUMNS, &page.items);
    // Each new item's key, as the harvest records it (`item_keys_recent`; the moves into
    // the main table are not replayed).
    tx.prepare_cached(
        "insert into item_keys_recent (feed_id, item_id, rid) \
         select feed_id, item_id, rid from items where rid > ?1",
    )
    .expect("prepare")
    .execute([last_rid])
    .expect("keys");
    insert("document_tails", "rid, refs, body", &page.tails);
    insert("opportunities", OPPORTUNITY_COLUMNS, &page.opportunities);
    // Problems are kept by their item's row (`migrations/sqlite/0018_item_problems_by_row.sql`).
    let mut problem = tx
        .prepare_cached(
            "insert into item_problems (feed_id, item_rid, code, detail) values (?1, \
             (select rid from item_keys_recent where feed_id = ?1 and item_id = ?2), ?3, ?4)",
        )
        .expect("prepare");
    for row in &page.problems {
        problem.execute(params_from_iter(row)).expect("problem");
    }
    drop(problem);
    if !page.opportunities.is_empty() {
        let ids: Vec<&str> = page
            .opportunities
            .iter()
            .filter_map(|o| match &o[0] {
                Value::Text(id) => Some(id.as_str()),
                _ => None,
            })
            .collect();
        tx.prepare_cached("insert into opportunity_changes (at, ids) values (unixepoch(), ?1)")
            .expect("prepare")
            .execute([serde_json::to_string(&ids).expect("ids")])
            .expect("log");
    }
    tx.prepare_cached(
        "update feeds set cursor = ?1, pages = pages + 1, state = 'ok', caught_up = false, \
         last_success_at = unixepoch() where id = ?2",
    )
    .expect("prepare")
    .execute(rusqlite::params!["next", page.feed_id])
    .expect("cursor");
    tx.commit().expect("commit");
}

/// Reads the harvested rows a page at a time, in feed order.
fn read_pages(harvested: &Path, rows: Rows) -> Vec<Page> {
    let conn = Connection::open_with_flags(harvested, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open harvested store");
    let mut items = conn
        .prepare(&format!(
            "select {ITEM_COLUMNS} from items order by feed_id, modified, item_id"
        ))
        .expect("prepare");
    let mut opportunities = conn
        .prepare(&format!(
            "select {OPPORTUNITY_COLUMNS} from opportunities where feed_id = ?1 and item_id = ?2 order by rid"
        ))
        .expect("prepare");
    let mut problems = conn
        .prepare(
            "select p.feed_id, ?2, p.code, p.detail from item_problems p where p.feed_id = ?1 \
             and p.item_rid = (select rid from item_key_lookup where feed_id = ?1 and item_id = ?2)",
        )
        .expect("prepare");
    let mut tails = conn
        .prepare("select rid, refs, body from document_tails where rid = ?1")
        .expect("prepare");
    let mut tails_read = std::collections::HashSet::new();
    let columns = |n: usize| {
        move |row: &rusqlite::Row<'_>| {
            (0..n)
                .map(|i| row.get(i))
                .collect::<rusqlite::Result<Vec<Value>>>()
        }
    };
    let mut pages = Vec::new();
    let mut page: Option<Page> = None;
    let mut stored = items.query([]).expect("items");
    while let Some(row) = stored.next().expect("item") {
        let item: Vec<Value> = columns(14)(row).expect("item row");
        let (&Value::Integer(feed_id), key) = (&item[0], &item[1]) else {
            panic!("an item row without its feed");
        };
        if page
            .as_ref()
            .is_some_and(|p| p.feed_id != feed_id || p.items.len() == PAGE_ITEMS)
            && let Some(full) = page.take()
        {
            pages.push(full);
        }
        let current = page.get_or_insert_with(|| Page {
            feed_id,
            items: Vec::with_capacity(PAGE_ITEMS),
            tails: Vec::new(),
            opportunities: Vec::new(),
            problems: Vec::new(),
        });
        if rows == Rows::Everything {
            let of_item = rusqlite::params![feed_id, key];
            for row in opportunities
                .query_map(of_item, columns(13))
                .expect("opportunities")
            {
                let row = row.expect("opportunity row");
                if let Value::Integer(tail) = row[12]
                    && tails_read.insert(tail)
                {
                    current.tails.push(
                        tails
                            .query_row([tail], columns(3))
                            .expect("the opportunity's tail"),
                    );
                }
                current.opportunities.push(row);
            }
            current.problems.extend(
                problems
                    .query_map(of_item, columns(4))
                    .expect("problems")
                    .map(|r| r.expect("problem row")),
            );
        }
        current.items.push(item);
    }
    pages.extend(page);
    pages
}

/// Clears its flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Passive checkpoints every 250 ms while `writing`, as the store's checkpointer does.
fn checkpoint_while(fresh: &Path, writing: &AtomicBool) {
    let conn = Connection::open(fresh).expect("checkpointer");
    while writing.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(250));
        let _ = conn.query_row("pragma wal_checkpoint(passive)", [], |_| Ok(()));
    }
}
