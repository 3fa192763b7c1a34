-- Which opportunities changed, in commit order, so every serving process can keep its
-- in-memory search index current, whoever wrote the change (this process's harvester, a
-- separate `harvest` process, `renormalise`). Triggers catch every write path. Rows older
-- than an hour are pruned; a reader that falls further behind reloads its index.
create table opportunity_changes (
    seq integer primary key autoincrement,
    at integer not null default (cast(strftime('%s', 'now') as integer)),
    id text not null
);

create index opportunity_changes_by_at on opportunity_changes (at);

create trigger opportunities_inserted after insert on opportunities
begin
    insert into opportunity_changes (id) values (new.id);
end;

create trigger opportunities_updated after update on opportunities
begin
    insert into opportunity_changes (id) values (new.id);
end;

create trigger opportunities_deleted after delete on opportunities
begin
    insert into opportunity_changes (id) values (old.id);
end;
