-- Item ids, `@id`s and opportunity ids are opaque identifiers, compared byte by byte (as
-- SQLite compares them), not by the database's locale. Under a linguistic collation every
-- comparison in their B-tree indexes goes through the locale: into a database created with
-- ICU's `en-GB` a harvest ran 40,000-42,000 items/s with the server's CPU at 2.6-2.8 s,
-- against 43,900-46,700 and 2.3-2.4 s with these columns compared as bytes (on `C.UTF-8`
-- the same either way; docs/PERFORMANCE.md, "Harvest throughput", thirty-fifth session).
-- Only the collation changes: the indexes on these columns are rebuilt, the tables are
-- not rewritten.
alter table items
    alter column item_id type text collate "C",
    alter column data_id type text collate "C",
    alter column parent_ref type text collate "C";
alter table opportunities
    alter column id type text collate "C",
    alter column item_id type text collate "C",
    alter column parent_ref type text collate "C";
alter table item_problems
    alter column item_id type text collate "C";
