-- Which life of the database server a reader of the change log read its mark in. Marks are
-- transaction ids, and a server that recovers from a crash may hand out again the ids of
-- transactions it lost (harvested pages commit without waiting for the disk, and no
-- server waits for an abort), so a reader whose mark passed them would skip the changes of
-- the new transactions that get them. An unlogged table is emptied by crash recovery and
-- kept by a clean restart: the first reader after a crash finds it empty and writes a new
-- token, and every mark read under the old token asks its reader to reload
-- (`crates/oa-store/src/postgres/changes.rs`).
create unlogged table server_incarnation (
    id integer primary key check (id = 1),
    token bigint not null
);
