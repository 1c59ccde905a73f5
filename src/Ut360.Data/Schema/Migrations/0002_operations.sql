-- What the design lacks and a deployment needs: a record of every load and every Redis sync.
-- See docs/schema.md.

CREATE TABLE data_loads (
    id BIGSERIAL PRIMARY KEY,
    data_version VARCHAR(100) NOT NULL,
    mode VARCHAR(20) NOT NULL,                 -- snapshot, upsert
    source_dir TEXT NOT NULL,
    source_format VARCHAR(10) NOT NULL,        -- parquet, csv
    source_files JSONB NOT NULL DEFAULT '[]',  -- [{name, sha256, bytes, rows}]
    rows_recommendations INTEGER NOT NULL DEFAULT 0,
    rows_profiles INTEGER NOT NULL DEFAULT 0,
    rows_monthly_arpu INTEGER NOT NULL DEFAULT 0,
    rows_rejected INTEGER NOT NULL DEFAULT 0,
    rows_inserted INTEGER NOT NULL DEFAULT 0,
    rows_updated INTEGER NOT NULL DEFAULT 0,
    rows_deleted INTEGER NOT NULL DEFAULT 0,
    rejects_file TEXT,
    dual_write BOOLEAN NOT NULL DEFAULT FALSE,
    needs_sync BOOLEAN NOT NULL DEFAULT FALSE,
    started_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    finished_at TIMESTAMPTZ,
    outcome VARCHAR(20) NOT NULL DEFAULT 'running',  -- running, succeeded, refused, failed
    message TEXT,
    CONSTRAINT chk_load_mode CHECK (mode IN ('snapshot', 'upsert')),
    CONSTRAINT chk_load_outcome CHECK (outcome IN ('running', 'succeeded', 'refused', 'failed'))
);

CREATE INDEX idx_data_loads_started ON data_loads(started_at DESC);

CREATE TABLE sync_runs (
    id BIGSERIAL PRIMARY KEY,
    kind VARCHAR(20) NOT NULL,                 -- full, incremental, dual-write
    trigger VARCHAR(20) NOT NULL,              -- cli, schedule, api, load
    data_version VARCHAR(100),
    changed_since TEXT,
    started_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    finished_at TIMESTAMPTZ,
    duration_ms BIGINT,
    keys_written INTEGER NOT NULL DEFAULT 0,
    keys_deleted INTEGER NOT NULL DEFAULT 0,
    subscribers INTEGER NOT NULL DEFAULT 0,
    redis_used_memory BIGINT,
    outcome VARCHAR(20) NOT NULL DEFAULT 'running', -- running, succeeded, failed, skipped
    message TEXT,
    host TEXT
);

CREATE INDEX idx_sync_runs_started ON sync_runs(started_at DESC);
