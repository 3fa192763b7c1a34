-- Searches and coverage are answered by the in-memory index each serving process builds
-- from `opportunities` (a grid of compact records, kept current from the change log), so
-- the GiST and start-time indexes were maintained on every write and read by nothing. The
-- `geo` point column stays for ad-hoc SQL.
drop index if exists opportunities_geo;
drop index if exists opportunities_by_start;
