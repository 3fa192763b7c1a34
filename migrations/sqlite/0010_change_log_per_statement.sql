-- The change log is written by the statements that change opportunities, a row per
-- statement naming its opportunities as a JSON array of ids, instead of a row per
-- opportunity written by a trigger. Running a trigger program and inserting its row for each
-- opportunity was a sixth of the SQLite writer's instructions during a harvest
-- (docs/PERFORMANCE.md, "Harvest throughput", eighteenth session). Every statement that writes
-- `opportunities` is in `crates/oa-store/src/sqlite/page_tx.rs` and logs what it changed in
-- the same transaction.
drop trigger opportunities_inserted;
drop trigger opportunities_updated;
drop trigger opportunities_deleted;

create table opportunity_changes_by_statement (
    seq integer primary key autoincrement,
    at integer not null,
    ids text not null             -- a JSON array of opportunity ids
);

-- Existing records carried over with their sequence numbers, so a reader's mark stays valid
-- and the sequence never goes back.
insert into opportunity_changes_by_statement (seq, at, ids)
    select seq, at, json_array(id) from opportunity_changes;

drop table opportunity_changes;
alter table opportunity_changes_by_statement rename to opportunity_changes;
create index opportunity_changes_by_at on opportunity_changes (at);
