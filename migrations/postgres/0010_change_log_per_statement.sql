-- A change-log record per statement, naming its opportunities as an array, instead of a row
-- per opportunity: a harvested page wrote a row, its primary key and two index entries in
-- PostgreSQL's server process for every opportunity (docs/PERFORMANCE.md, "Harvest
-- throughput", eighteenth session). SQLite's log has the same shape (its migration 10).
alter table opportunity_changes add column ids text[];
update opportunity_changes set ids = array[id];
alter table opportunity_changes alter column ids set not null;
alter table opportunity_changes drop column id;

create or replace function log_opportunity_changes() returns trigger language plpgsql as $$
begin
    insert into opportunity_changes (ids)
        select array_agg(id) from changed_rows having count(*) > 0;
    return null;
end
$$;
