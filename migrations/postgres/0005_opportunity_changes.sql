-- Which opportunities changed, so every serving process can keep its in-memory search index
-- current, whoever wrote the change (this process's harvester, a separate `harvest` process,
-- `renormalise`). Statement-level triggers catch every write path at one insert per
-- statement. Concurrent transactions commit out of `seq` order, so readers page by
-- transaction id instead: a reader remembers the oldest transaction still running when it
-- last read (`pg_snapshot_xmin`) and next reads everything from there. Rows older than an
-- hour are pruned; a reader that falls further behind reloads its index.
create table opportunity_changes (
    seq bigserial primary key,
    xid xid8 not null default pg_current_xact_id(),
    at bigint not null default extract(epoch from now())::bigint,
    id text not null
);

create index opportunity_changes_by_xid on opportunity_changes (xid);
create index opportunity_changes_by_at on opportunity_changes (at);

-- One function serves all three triggers: each names its transition table `changed_rows`.
create function log_opportunity_changes() returns trigger language plpgsql as $$
begin
    insert into opportunity_changes (id) select id from changed_rows;
    return null;
end
$$;

create trigger opportunities_inserted after insert on opportunities
    referencing new table as changed_rows for each statement execute function log_opportunity_changes();

create trigger opportunities_updated after update on opportunities
    referencing new table as changed_rows for each statement execute function log_opportunity_changes();

create trigger opportunities_deleted after delete on opportunities
    referencing old table as changed_rows for each statement execute function log_opportunity_changes();
