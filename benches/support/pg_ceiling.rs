//! PostgreSQL's write ceiling for the harvest's own rows: what a harvest stored, written
//! again into a fresh schema with nothing else to do (no fetching, normalising or reading
//! back), one transaction per page of 500 items, each table's rows of the page as one
//! `unnest` insert; through one backend, as a harvest writes a feed, and through two.
//!
//! All rows are read into memory first, in feed order (`modified`, then id, as RPDE orders
//! them); only the writing is timed. The fresh schema has the store's migrations, so its
//! indexes and the change log's statement trigger are the harvest's.
//! The documents are written as the harvest stored them: heads, and their shared tails
//! each with the first page that points at it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use sqlx::PgPool;

const PAGE_ITEMS: usize = 500;

type ItemRow = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

type OpportunityRow = (
    String,
    i64,
    String,
    String,
    i64,
    Option<i64>,
    Option<f64>,
    Option<f64>,
    String,
    i64,
    Option<String>,
    String,
    Option<i64>,
    bool,
);

/// A shared document tail: (rid, rows pointing at it, body).
type TailRow = (i64, i64, String);

type ProblemRow = (i64, String, String, String);

/// Writes the rows of the harvest's schema (`harvested`) again into a fresh schema named
/// `fresh` on the server `url` names, on this many connections at once; returns the items
/// written and the seconds the writes took.
pub async fn replay(
    url: &str,
    harvested: &PgPool,
    fresh: &str,
    connections: usize,
) -> (usize, f64) {
    let items: Vec<ItemRow> = sqlx::query_as(
        "select feed_id, item_id, kind, modified, state, role, data_id, parent_ref, data, status, \
         problem, digest_opportunities, digest_problems, digest_ids from items \
         order by feed_id, modified, item_id",
    )
    .fetch_all(harvested)
    .await
    .expect("items");
    let mut opportunities: HashMap<(i64, String), Vec<OpportunityRow>> = HashMap::new();
    let stored: Vec<OpportunityRow> = sqlx::query_as(
        "select id, feed_id, item_id, kind, start_at, end_at, lat, lng, status, modified, \
         parent_ref, doc, tail_id, occurrence from opportunities",
    )
    .fetch_all(harvested)
    .await
    .expect("opportunities");
    for row in stored {
        opportunities
            .entry((row.1, row.2.clone()))
            .or_default()
            .push(row);
    }
    let tails: HashMap<i64, TailRow> =
        sqlx::query_as::<_, TailRow>("select rid, refs, body from document_tails")
            .fetch_all(harvested)
            .await
            .expect("tails")
            .into_iter()
            .map(|tail| (tail.0, tail))
            .collect();
    let mut problems: HashMap<(i64, String), Vec<ProblemRow>> = HashMap::new();
    let stored: Vec<ProblemRow> =
        sqlx::query_as("select feed_id, item_id, code, detail from item_problems")
            .fetch_all(harvested)
            .await
            .expect("problems");
    for row in stored {
        problems
            .entry((row.0, row.1.clone()))
            .or_default()
            .push(row);
    }
    let feeds: Vec<(i64, String, String, i64)> =
        sqlx::query_as("select id, url, source, discovered_at from feeds")
            .fetch_all(harvested)
            .await
            .expect("feeds");

    let (store, _) = crate::support::fresh_pg_schema(url, fresh).await;
    let pool = store.pool();
    for (id, feed_url, source, discovered_at) in &feeds {
        sqlx::query("insert into feeds (id, url, source, discovered_at) values ($1, $2, $3, $4)")
            .bind(id)
            .bind(feed_url)
            .bind(source)
            .bind(discovered_at)
            .execute(pool)
            .await
            .expect("feed");
    }

    // Each tail goes with the first page whose opportunities point at it.
    let mut tails_placed = std::collections::HashSet::new();
    let pages: Vec<Page<'_>> = items
        .chunk_by(|a, b| a.0 == b.0)
        .flat_map(|feed| feed.chunks(PAGE_ITEMS))
        .map(|page| {
            let keys = || page.iter().map(|i| (i.0, i.1.clone()));
            let page_opportunities: Vec<&OpportunityRow> = keys()
                .filter_map(|k| opportunities.get(&k))
                .flatten()
                .collect();
            let page_tails = page_opportunities
                .iter()
                .filter_map(|o| o.12)
                .filter(|rid| tails_placed.insert(*rid))
                .filter_map(|rid| tails.get(&rid))
                .collect();
            let page_problems = keys().filter_map(|k| problems.get(&k)).flatten().collect();
            Page {
                items: page,
                tails: page_tails,
                opportunities: page_opportunities,
                problems: page_problems,
            }
        })
        .collect();
    // Each connection takes the next page when it is free, so pages are written in order
    // but up to `connections` at once (a page's cursor update waits for the one before).
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let writers = (0..connections).map(|_| async {
        loop {
            let n = next.fetch_add(1, Ordering::Relaxed);
            let Some(page) = pages.get(n) else {
                break;
            };
            write_page(pool, page).await;
        }
    });
    futures::future::join_all(writers).await;
    (items.len(), started.elapsed().as_secs_f64())
}

macro_rules! column {
    ($rows:expr, $field:tt) => {
        $rows.iter().map(|r| r.$field.clone()).collect::<Vec<_>>()
    };
}

/// One page's rows, as the harvest wrote them.
struct Page<'a> {
    items: &'a [ItemRow],
    tails: Vec<&'a TailRow>,
    opportunities: Vec<&'a OpportunityRow>,
    problems: Vec<&'a ProblemRow>,
}

async fn write_page(pool: &PgPool, page: &Page<'_>) {
    let Page {
        items,
        tails,
        opportunities,
        problems,
    } = page;
    let feed_id = items[0].0;
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query(
        "insert into items (feed_id, item_id, kind, modified, state, role, data_id, parent_ref, data, \
         status, problem, digest_opportunities, digest_problems, digest_ids) \
         select * from unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], \
         $13::bigint[], $14::bigint[])",
    )
    .bind(column!(items, 0))
    .bind(column!(items, 1))
    .bind(column!(items, 2))
    .bind(column!(items, 3))
    .bind(column!(items, 4))
    .bind(column!(items, 5))
    .bind(column!(items, 6))
    .bind(column!(items, 7))
    .bind(column!(items, 8))
    .bind(column!(items, 9))
    .bind(column!(items, 10))
    .bind(column!(items, 11))
    .bind(column!(items, 12))
    .bind(column!(items, 13))
    .execute(&mut *tx)
    .await
    .expect("items");
    if !tails.is_empty() {
        sqlx::query(
            "insert into document_tails (rid, refs, body) \
             select * from unnest($1::bigint[], $2::bigint[], $3::text[])",
        )
        .bind(column!(tails, 0))
        .bind(column!(tails, 1))
        .bind(column!(tails, 2))
        .execute(&mut *tx)
        .await
        .expect("tails");
    }
    if !opportunities.is_empty() {
        sqlx::query(
            "insert into opportunities (id, feed_id, item_id, kind, start_at, end_at, lat, lng, \
             status, modified, parent_ref, doc, tail_id, occurrence) \
             select * from unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], \
             $6::bigint[], $7::float8[], $8::float8[], $9::text[], $10::bigint[], $11::text[], \
             $12::text[], $13::bigint[], $14::boolean[])",
        )
        .bind(column!(opportunities, 0))
        .bind(column!(opportunities, 1))
        .bind(column!(opportunities, 2))
        .bind(column!(opportunities, 3))
        .bind(column!(opportunities, 4))
        .bind(column!(opportunities, 5))
        .bind(column!(opportunities, 6))
        .bind(column!(opportunities, 7))
        .bind(column!(opportunities, 8))
        .bind(column!(opportunities, 9))
        .bind(column!(opportunities, 10))
        .bind(column!(opportunities, 11))
        .bind(column!(opportunities, 12))
        .bind(column!(opportunities, 13))
        .execute(&mut *tx)
        .await
        .expect("opportunities");
    }
    if !problems.is_empty() {
        sqlx::query(
            "insert into item_problems (feed_id, item_id, code, detail) \
             select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[])",
        )
        .bind(column!(problems, 0))
        .bind(column!(problems, 1))
        .bind(column!(problems, 2))
        .bind(column!(problems, 3))
        .execute(&mut *tx)
        .await
        .expect("problems");
    }
    sqlx::query(
        "update feeds set cursor = 'next', pages = pages + 1, state = 'ok', caught_up = false \
         where id = $1",
    )
    .bind(feed_id)
    .execute(&mut *tx)
    .await
    .expect("cursor");
    tx.commit().await.expect("commit");
}
