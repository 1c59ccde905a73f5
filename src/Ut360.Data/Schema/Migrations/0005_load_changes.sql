-- The subscribers each load changed or removed, written by the load in its own transaction, so
-- they commit with the data. An incremental sync and a load's dual write push exactly these
-- (every ISDN with any row inserted, updated or deleted; deleted = gone from recommendations)
-- instead of scanning every row and index member. A full sync drops the sets of the loads it
-- covered. See docs/redis.md.
CREATE TABLE load_changes (
    load_id BIGINT NOT NULL REFERENCES data_loads(id) ON DELETE CASCADE,
    isdn VARCHAR(255) COLLATE "C" NOT NULL,
    deleted BOOLEAN NOT NULL,
    PRIMARY KEY (load_id, isdn)
);
