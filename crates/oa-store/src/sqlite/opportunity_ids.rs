//! Where SQLite finds an opportunity by its public id: `opportunity_ids`, the small
//! `opportunity_ids_recent` that new ids go to first and `opportunity_ids_middle` between
//! them, read as one through the view `opportunity_id_lookup`
//! (`migrations/sqlite/0015_opportunity_ids_apart.sql`, `0017_opportunity_ids_middle.sql`).
//! Public ids are hashes: as a unique index on them, each new opportunity's entry went
//! wherever its hash fell ([`super::recent_keys`] says how the tables share the writes).

use rusqlite::Connection;

use super::recent_keys::{RECENT_KEYS_MAX, RecentKeys};

/// The statements that move every id of the table `$from` into the table `$to`, in id
/// order (the tables' own). An id also in `$to` (see [`remember`]) is deleted there first,
/// so the move cannot collide.
macro_rules! move_ids {
    ($from:literal, $to:literal) => {
        &[
            concat!(
                "delete from ",
                $to,
                " where id in (select id from ",
                $from,
                ")"
            ),
            concat!(
                "insert or fail into ",
                $to,
                " (id, rid) select id, rid from ",
                $from,
                " order by id"
            ),
            concat!("delete from ", $from),
        ]
    };
}

/// The recent ids and their move into the main table.
pub(super) const RECENT: RecentKeys = RecentKeys {
    what: "recent opportunity ids",
    count: "select count(*) from opportunity_ids_recent",
    moves: move_ids!("opportunity_ids_recent", "opportunity_ids"),
};

/// The recent ids' move into the middle table.
const RECENT_INTO_MIDDLE: RecentKeys = RecentKeys {
    what: "recent opportunity ids (into the middle table)",
    count: RECENT.count,
    moves: move_ids!("opportunity_ids_recent", "opportunity_ids_middle"),
};

/// The middle ids and their move into the main table.
const MIDDLE: RecentKeys = RecentKeys {
    what: "middle opportunity ids",
    count: "select count(*) from opportunity_ids_middle",
    moves: move_ids!("opportunity_ids_middle", "opportunity_ids"),
};

/// How many ids the middle table holds before they move into the main table, and how many
/// the main table holds before recent ids go through the middle one. Ids are hashes, so a
/// move writes up to every leaf of the table it moves into: with `m` ids in the middle, `r`
/// recent and `n` in all, the leaves written per id go as `m / r + n / m`, least at `m`
/// near `sqrt(2 r n)` (about 256,000 at a million ids). Straight into the main table they
/// go as `n / r`, which at a million ids wrote four times as many, and grows with the store
/// (docs/PERFORMANCE.md, "Harvest throughput", thirty-first session).
pub(super) const MIDDLE_KEYS_MAX: i64 = 8 * RECENT_KEYS_MAX;

/// Moves the recent ids on once there are `recent_most` of them (the store's writes pass
/// [`RECENT_KEYS_MAX`]): straight into the main table while it holds fewer than
/// `middle_most` ([`MIDDLE_KEYS_MAX`]) and the middle table none, else into the middle
/// table, and the middle ids into the main table once there are `middle_most`. An id goes
/// into the main table only from the table it was last recorded in, so the newest row an id
/// named is the one kept. The other tables are counted only when the recent ids move:
/// counting walks a table's leaves.
pub(super) fn settle_when_full(
    conn: &Connection,
    recent_most: i64,
    middle_most: i64,
) -> rusqlite::Result<()> {
    if !RECENT.holds(conn, recent_most)? {
        return Ok(());
    }
    // The middle table is asked first: once it holds ids, the main table need not be
    // counted.
    if middle_empty(conn)? && main_holds_fewer(conn, middle_most)? {
        return RECENT.settle(conn);
    }
    RECENT_INTO_MIDDLE.settle(conn)?;
    if MIDDLE.holds(conn, middle_most)? {
        MIDDLE.settle(conn)?;
    }
    Ok(())
}

/// Moves every id into the main table (a feed's walk ended).
pub(super) fn settle_all(conn: &Connection) -> rusqlite::Result<()> {
    if middle_empty(conn)? {
        return RECENT.settle_when_full(conn, 1);
    }
    RECENT_INTO_MIDDLE.settle_when_full(conn, 1)?;
    MIDDLE.settle(conn)
}

/// Whether the main table holds fewer than `most` ids (counting `most` at most).
fn main_holds_fewer(conn: &Connection, most: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("select count(*) < ?1 from (select 1 from opportunity_ids limit ?1)")?
        .query_row([most], |row| row.get(0))
}

fn middle_empty(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached("select not exists (select 1 from opportunity_ids_middle)")?
        .query_row([], |row| row.get(0))
}

/// The condition, after `where`, that picks the opportunities (`o`) whose ids are bound as
/// the parameters: close it with the parameter list and `))`.
macro_rules! id_in {
    () => {
        "o.rid in (select rid from opportunity_id_lookup where id in ("
    };
}
pub(super) use id_in;
pub(super) const ID_IN: &str = id_in!();

/// Whether the recent or the middle table holds any id: when neither does,
/// [`select_by_ids`] leaves them out. (The middle one holds an id only if the recent one
/// held it first.)
pub(super) const ANY_RECENT: &str = "select exists (select 1 from opportunity_ids_recent) \
    or exists (select 1 from opportunity_ids_middle)";

/// `columns` (a `select` from `opportunities o`) of the opportunities whose ids are the
/// parameters `?1` to `?count`, the id tables joined to the rows, the recent and middle ones
/// only when `recent` ([`ANY_RECENT`]). Asked after a reader learned the ids, `ANY_RECENT`
/// sees them if they are there: an id goes into the recent table in the transaction that
/// writes its row, and leaves it only for the middle table, and that only for the main one,
/// each move in one transaction.
///
/// As one list of rids read through `opportunity_id_lookup` ([`ID_IN`]), SQLite built a
/// temporary index of them for every query, and a search whose documents came from the
/// store ran 14-18 % fewer requests a second than through the unique index this replaced;
/// with the recent table joined as a second half, even empty, 8-22 % fewer; without it, as
/// many (docs/PERFORMANCE.md, "Harvest throughput", twenty-eighth session).
pub(super) fn select_by_ids(columns: &str, count: usize, recent: bool) -> String {
    let list = (1..=count)
        .map(|n| format!("?{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let settled =
        format!("{columns} join opportunity_ids l on l.rid = o.rid where l.id in ({list})");
    if !recent {
        return settled;
    }
    format!(
        "{settled} union all \
         {columns} join opportunity_ids_middle l on l.rid = o.rid where l.id in ({list}) \
         union all \
         {columns} join opportunity_ids_recent l on l.rid = o.rid where l.id in ({list})"
    )
}

/// Records the row a new opportunity's id names. An id already recorded (two items whose
/// ids hash alike: a chance of about 3 in 10^8 at a million opportunities) is pointed at
/// the new row, as the unique index on the id kept only one of the two as well: here at
/// once, or when the id moves on into the table that holds it (each move deletes first).
pub(super) fn remember(conn: &Connection, id: &str, rid: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "insert into opportunity_ids_recent (id, rid) values (?1, ?2) \
         on conflict (id) do update set rid = excluded.rid",
    )?
    .execute(rusqlite::params![id, rid])?;
    Ok(())
}

/// Forgets the ids (a JSON array) of deleted opportunities.
pub(super) fn forget(conn: &Connection, ids: &str) -> rusqlite::Result<()> {
    for table in [
        "delete from opportunity_ids where id in (select value from json_each(?1))",
        "delete from opportunity_ids_middle where id in (select value from json_each(?1))",
        "delete from opportunity_ids_recent where id in (select value from json_each(?1))",
    ] {
        conn.prepare_cached(table)?.execute([ids])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
