-- The Redis key namespace a sync run wrote (the sync lock is per database and namespace), so a
-- sync that takes the lock can tell which 'running' rows were its namespace's and can only be
-- leftovers of a killed run (outcome 'interrupted'). Rows from before: the default namespace.
ALTER TABLE sync_runs ADD COLUMN namespace TEXT;
