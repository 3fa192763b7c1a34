-- Full postcode centroids, imported with `oa-aggregator import postcodes FILE.csv`.
create table postcodes (
    postcode text primary key,   -- normalised: upper case, one space ("PR1 2XX")
    lat      double precision not null,
    lng      double precision not null
);
