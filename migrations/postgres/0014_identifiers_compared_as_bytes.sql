-- Item ids, `@id`s and opportunity ids are opaque identifiers, compared byte by byte (as
-- SQLite compares them), not by the database's locale. Under a locale's collation every
-- comparison in their B-tree indexes went through `strcoll` (copying both strings to
-- terminate them first): a tenth of the server's time in a harvest on `C.UTF-8`, and
-- more under a linguistic locale such as `en_GB.UTF-8` (docs/PERFORMANCE.md, "Harvest
-- throughput", thirty-fifth session). Only the collation changes: the indexes on these
-- columns are rebuilt, the tables are not rewritten.
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
