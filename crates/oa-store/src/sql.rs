//! SQL text both backends run unchanged (the dialects differ elsewhere: arrays, points, locks).

use crate::FeedEvent;
use crate::document_tails::{stored_doc, tail_join};

/// The columns of `FeedRow`, with live item counts, each counted by `$count` (a macro taking
/// the condition on the feed's (`f`) items (`i`): each backend finds a feed's items its way).
macro_rules! feed_columns {
    ($count:ident) => {
        concat!(
            "select f.id, f.url, f.kind, f.publisher, f.dataset_site, f.source, f.state, \
             f.cursor, f.caught_up, f.pages, f.last_success_at, f.last_error, f.last_error_at, \
             f.discovered_at, f.vanished_at, ",
            $count!("i.state = 'updated'"),
            " as items_stored, ",
            $count!("i.status = 'unusable'"),
            " as items_unusable, ",
            $count!("i.status = 'awaiting_parent'"),
            " as items_awaiting_parent from feeds f"
        )
    };
}
pub(crate) use feed_columns;

/// The columns behind [`Store::opportunity`], the opportunity's (`o`) item (`i`) joined by
/// `$item_join`; each backend adds the `where` that finds the id (SQLite's ids and item keys
/// are apart from their rows, `sqlite/opportunity_ids.rs`, `sqlite/item_keys.rs`).
macro_rules! detail_columns {
    ($item_join:literal) => {
        concat!(
            "select o.id, ",
            crate::document_tails::stored_doc!(),
            " as doc, f.url as feed_url, f.publisher, o.item_id, i.kind as item_kind, \
            i.modified, i.data as item_data, \
            (select p.data from items p where p.data_id = o.parent_ref and p.role = 'parent' and p.state = 'updated' limit 1) as parent_data \
            from opportunities o join feeds f on f.id = o.feed_id ",
            $item_join,
            crate::document_tails::tail_join!()
        )
    };
}
pub(crate) use detail_columns;

/// The query behind [`Store::opportunity`] on PostgreSQL.
pub(crate) const DETAIL_QUERY: &str = concat!(
    detail_columns!("join items i on i.feed_id = o.feed_id and i.item_id = o.item_id"),
    " where o.id = $1"
);

/// Adds or refreshes a discovered feed. A feed that vanished or was gone and is listed again
/// is harvested again.
pub(crate) const UPSERT_FEED: &str = "insert into feeds (url, kind, publisher, dataset_site, source, discovered_at) \
    values ($1, $2, $3, $4, $5, $6) \
    on conflict (url) do update set kind = coalesce(excluded.kind, feeds.kind), \
    publisher = coalesce(excluded.publisher, feeds.publisher), \
    dataset_site = coalesce(excluded.dataset_site, feeds.dataset_site), \
    source = excluded.source, vanished_at = null, \
    state = case when feeds.state in ('vanished', 'gone') then 'new' else feeds.state end";

/// The statement recording a feed event, with its state and error text; binds are
/// (state, error, now, feed id).
pub(crate) fn feed_event(event: &FeedEvent) -> (&'static str, &'static str, Option<&str>) {
    const CAUGHT_UP: &str = "update feeds set caught_up = true, state = $1, last_error = coalesce($2, last_error), \
        last_success_at = $3 where id = $4";
    const FAILED: &str =
        "update feeds set state = $1, last_error = $2, last_error_at = $3 where id = $4";
    match event {
        FeedEvent::CaughtUp => (CAUGHT_UP, "ok", None),
        FeedEvent::Retrying { error } => (FAILED, "retrying", Some(error)),
        FeedEvent::Failing { error } => (FAILED, "failing", Some(error)),
        FeedEvent::Gone { error } => (FAILED, "gone", Some(error)),
    }
}

/// The harvested state in canonical order (see `StoreDump`).
pub(crate) const DUMP_ITEMS: &str = "select f.url, i.item_id, i.modified, i.state, i.status from items i \
    join feeds f on f.id = i.feed_id order by f.url, i.item_id";
pub(crate) const DUMP_OPPORTUNITIES: &str = concat!(
    "select o.id, o.start_at, ",
    stored_doc!(),
    " as doc from opportunities o",
    tail_join!(),
    " order by o.id"
);
pub(crate) const DUMP_CURSORS: &str = "select url, cursor from feeds order by url";

/// Marks the feed's cursor after a stored page (binds: next, now, feed id, and the cursor
/// the page before left when this page was written while that one may not have committed,
/// else null: then no row is updated unless it did).
pub(crate) const FINISH_PAGE: &str = "update feeds set cursor = $1, pages = pages + 1, state = 'ok', \
    caught_up = false, last_success_at = $2 where id = $3 and ($4 is null or cursor = $4)";

/// Items with each data-quality problem, per feed.
pub(crate) const PROBLEM_COUNTS: &str = "select feed_id, code, count(*) from item_problems \
    group by feed_id, code order by feed_id, code";

/// One feed's item problems after a keyset position.
pub(crate) const FEED_PROBLEMS: &str = "select item_id, code, detail from item_problems \
    where feed_id = $1 and (item_id, code) > ($2, $3) order by item_id, code limit $4";

/// Adds a known provider or updates the one with the same key.
pub(crate) const UPSERT_PROVIDER: &str = "insert into providers (key, name, postcode, website, email, kind, extra, imported_at) \
    values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (key) do update set name = excluded.name, \
    postcode = excluded.postcode, website = excluded.website, email = excluded.email, kind = excluded.kind, \
    extra = excluded.extra, imported_at = excluded.imported_at";

pub(crate) const PROVIDERS: &str =
    "select id, name, postcode, website, email, kind, extra from providers order by id";

pub(crate) const SET_PROVIDER_LINK: &str = "insert into provider_links (provider_id, organizer, linked) \
    values ($1, $2, $3) on conflict (provider_id, organizer) do update set linked = excluded.linked";

pub(crate) const PROVIDER_LINKS: &str =
    "select provider_id, organizer, linked from provider_links order by provider_id, organizer";

/// The columns of `StoredChild` (in its field order, which SQLite's JSON batch read relies
/// on), its feed and item ids taken from `$key` (the items, `i`, or a table of their keys);
/// callers add the `from` (items `i`, feeds `f`) and the `where`.
macro_rules! stored_child_columns {
    ($key:literal) => {
        concat!(
            "select ",
            $key,
            ".feed_id, f.url as feed_url, ",
            $key,
            ".item_id, i.kind, i.modified, i.role, i.data_id, i.parent_ref, i.data, i.status, \
             i.problem, i.digest_opportunities, i.digest_problems, i.digest_ids"
        )
    };
}
pub(crate) use stored_child_columns;

/// The columns of `StoredChild` from live and deleted items alike; callers add the `where`.
macro_rules! stored_children {
    () => {
        concat!(
            crate::sql::stored_child_columns!("i"),
            " from items i join feeds f on f.id = i.feed_id"
        )
    };
}
pub(crate) use stored_children;

macro_rules! index_columns {
    () => {
        concat!(
            "select o.id, o.start_at, o.lat, o.lng, o.status, f.url as feed_url, f.publisher, ",
            crate::document_tails::stored_doc!(),
            " as doc from opportunities o join feeds f on f.id = o.feed_id",
            crate::document_tails::tail_join!()
        )
    };
}

/// The columns of `IndexRow`; callers add the `where`.
pub(crate) const INDEX_COLUMNS: &str = index_columns!();

/// What the index loads: every scheduled, located opportunity, streamed in one query (a
/// keyset walk in id order costs a sort per batch when PostgreSQL's statistics are stale).
pub(crate) const INDEX_ROWS: &str = concat!(
    index_columns!(),
    " where o.status = 'scheduled' and o.lat is not null and o.lng is not null"
);

/// The columns of `CandidateDoc`; callers add the `where`.
pub(crate) const CANDIDATE_COLUMNS: &str = concat!(
    "select o.id, o.start_at, o.lat, o.lng, ",
    stored_doc!(),
    " as doc, f.url as feed_url, f.publisher, o.modified from opportunities o join feeds f on f.id = o.feed_id",
    tail_join!()
);

/// The columns of `Occurrence`; callers add the `where`.
pub(crate) const OCCURRENCE_COLUMNS: &str =
    "select o.id, o.start_at, o.end_at from opportunities o";

/// Forgets old change records (binds: before).
pub(crate) const PRUNE_CHANGES: &str = "delete from opportunity_changes where at < $1";

/// Each id once, in first-seen order, and whether more were written than one read returns.
pub(crate) fn distinct_changes(ids: Vec<String>) -> (Vec<String>, bool) {
    let overflow = ids.len() > crate::MAX_CHANGES;
    let mut seen = std::collections::HashSet::new();
    let ids = ids
        .into_iter()
        .take(crate::MAX_CHANGES)
        .filter(|id| seen.insert(id.clone()))
        .collect();
    (ids, overflow)
}
