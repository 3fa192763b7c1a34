-- The change log's triggers stamp each row with `unixepoch()` instead of the column default
-- `cast(strftime('%s', 'now') as integer)`: the same whole seconds, without formatting and
-- parsing a string for every opportunity written. That formatting was 13 % of the writer's
-- time when a tag-rule edit rewrote a million sessions (docs/PERFORMANCE.md, "Renormalise").
drop trigger opportunities_inserted;
drop trigger opportunities_updated;
drop trigger opportunities_deleted;

create trigger opportunities_inserted after insert on opportunities
begin
    insert into opportunity_changes (at, id) values (unixepoch(), new.id);
end;

create trigger opportunities_updated after update on opportunities
begin
    insert into opportunity_changes (at, id) values (unixepoch(), new.id);
end;

create trigger opportunities_deleted after delete on opportunities
begin
    insert into opportunity_changes (at, id) values (unixepoch(), old.id);
end;
