-- `opportunities.rid` was a serial key nothing in PostgreSQL reads (on SQLite the same
-- column keyed the R*Tree, dropped in migration 6). Every opportunity written paid for the
-- sequence's next value and an entry in its primary-key index in the server process, the
-- bound of a harvest into PostgreSQL (docs/PERFORMANCE.md, "Harvest throughput",
-- nineteenth session). The id, unique and not null already, becomes the key (its index
-- built again once, under its new name).
alter table opportunities drop column rid;
alter table opportunities drop constraint opportunities_id_key, add primary key (id);
