-- The rollups over all keys (no dimension, and by language) gain minutes,
-- so that the edges of a range read at most a minute of raw rows instead
-- of a quarter hour. As in 0010: a database that holds executions already
-- has the new grain from the hour after the newest event it has stored (or
-- now, if later); a new database, or one whose legacy tables are yet to be
-- converted (which builds the minutes from raw rows), has it from the
-- start.
INSERT INTO rollup_grains_since (rollup, grain, since_ms)
SELECT rollup, 60, (after + 3599999) / 3600000 * 3600000
FROM (
    SELECT MAX(
        CAST(strftime('%s', 'now') AS INTEGER) * 1000,
        COALESCE((SELECT MAX(id) >> 20 FROM executions_raw) + 1, 0),
        COALESCE((SELECT MAX(bucket) * 1000 + 3600000 FROM exec_rollup
                  WHERE grain = 3600), 0)
    ) AS after
)
CROSS JOIN (SELECT 'exec_rollup' AS rollup UNION ALL SELECT 'exec_rollup_by_language')
WHERE EXISTS (SELECT 1 FROM executions_raw)
   OR EXISTS (SELECT 1 FROM exec_rollup);
