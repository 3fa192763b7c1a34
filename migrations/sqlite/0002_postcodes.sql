-- Full postcode centroids, imported with `oa-aggregator import postcodes FILE.csv`.
create table postcodes (
    postcode text primary key,   -- normalised: upper case, one space ("PR1 2XX")
    lat      real not null,
    lng      real not null
) without rowid;
