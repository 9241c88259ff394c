-- A grain added to a rollup that already holds data has buckets only from
-- the moment the writer started filling it. The planner reads such a grain
-- from `since_ms` (Unix ms, on an hour) and answers what lies before from
-- the rollup's other grains and raw rows, as it did before the grain was
-- added.
CREATE TABLE rollup_grains_since (
    rollup   TEXT    NOT NULL,
    grain    INTEGER NOT NULL,
    since_ms INTEGER NOT NULL,
    PRIMARY KEY (rollup, grain)
) WITHOUT ROWID;

-- The (key, language) rollup gains quarter hours. A database that holds
-- executions already gets them from the hour after the newest event it has
-- stored (or now, if later), rounded up to an hour: every event at or after that instant is written
-- by a writer that fills the new grain. A new database (or one whose legacy
-- tables are yet to be converted, which rebuilds every quarter-hour grain)
-- has it from the start.
INSERT INTO rollup_grains_since (rollup, grain, since_ms)
SELECT 'exec_rollup_by_key_language', 900, (after + 3599999) / 3600000 * 3600000
FROM (
    -- The end of what is stored: the newest event, or its hour's row.
    SELECT MAX(
        CAST(strftime('%s', 'now') AS INTEGER) * 1000,
        COALESCE((SELECT MAX(id) >> 20 FROM executions_raw) + 1, 0),
        COALESCE((SELECT MAX(bucket) * 1000 + 3600000 FROM exec_rollup_by_key_language
                  WHERE grain = 3600), 0)
    ) AS after
)
WHERE EXISTS (SELECT 1 FROM executions_raw)
   OR EXISTS (SELECT 1 FROM exec_rollup_by_key_language);
