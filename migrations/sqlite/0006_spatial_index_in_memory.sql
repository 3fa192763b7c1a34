-- Searches and coverage are answered by the in-memory index each serving process builds
-- from `opportunities` (a grid of compact records, kept current from the change log), so
-- the R*Tree and the start-time index were maintained on every write and read by nothing.
-- Dropping them roughly halves the cost of writing an opportunity.
drop table if exists opportunity_geo;
drop index if exists opportunities_by_start;
