-- Storage v2 (see server/src/storage/facts/): each fact declared once.
--
-- * Raw events keep their columns, with integer codes and dictionary ids in
--   place of repeated texts. `id` is `created_at << 20` plus a slot from a
--   hash of the event's id (server/src/storage/raw_write.rs): a time range
--   is a range of the primary key, and the primary key is the idempotency
--   key, so raw tables need no other index; `stamped_hash` (with a unique
--   index) finds again the events Tally stamped on arrival. Views under the
--   former table names show the rows as before (names, not codes).
-- * Rollups: one table per set of dimensions, every grain in one table
--   (`grain` = bucket width in seconds, 0 for all time; rollups by key keep
--   one key's rows together, with an index by bucket), a sparse latency
--   histogram in one blob (server/src/histogram.rs) instead of a column per
--   bin, and status, container source, status class and pool kind counted
--   by measures of their own rather than as dimensions.
--
-- The tables of the previous schema are renamed `legacy_*` here; at start-up
-- the server converts their rows into the new tables and drops them
-- (server/src/storage/upgrade.rs).

ALTER TABLE executions RENAME TO legacy_executions;
ALTER TABLE api_requests RENAME TO legacy_api_requests;
ALTER TABLE pool_events RENAME TO legacy_pool_events;
ALTER TABLE execution_rollup_hourly RENAME TO legacy_execution_rollup_hourly;
ALTER TABLE execution_rollup_daily RENAME TO legacy_execution_rollup_daily;
ALTER TABLE execution_rollup_total RENAME TO legacy_execution_rollup_total;
ALTER TABLE request_rollup_hourly RENAME TO legacy_request_rollup_hourly;
ALTER TABLE request_rollup_daily RENAME TO legacy_request_rollup_daily;
ALTER TABLE request_rollup_total RENAME TO legacy_request_rollup_total;
ALTER TABLE pool_rollup_hourly RENAME TO legacy_pool_rollup_hourly;
ALTER TABLE pool_rollup_daily RENAME TO legacy_pool_rollup_daily;
ALTER TABLE pool_rollup_total RENAME TO legacy_pool_rollup_total;
ALTER TABLE metric_rollup_hourly RENAME TO legacy_metric_rollup_hourly;
ALTER TABLE metric_rollup_daily RENAME TO legacy_metric_rollup_daily;

-- The histogram has 32 bins per octave now; the server writes their edges
-- at start-up (storage::open), so SQL and Rust bin values alike.
DELETE FROM histogram_bins;

-- Dictionaries: texts that repeat in every row, stored once.
CREATE TABLE languages (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE endpoints (
    id    INTEGER PRIMARY KEY,
    path  TEXT NOT NULL UNIQUE
) STRICT;

-- Incremented by every commit of the writer: the hot counters know from it
-- which updates a rebuild has already counted.
CREATE TABLE writer_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    commit_seq  INTEGER NOT NULL
) STRICT;
INSERT INTO writer_state (id, commit_seq) VALUES (1, 0);

CREATE TABLE executions_raw (
    id                 INTEGER PRIMARY KEY,
    stamped_hash       INTEGER,
    execution_id       TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    key_id             INTEGER NOT NULL,
    language_id        INTEGER NOT NULL,
    status             INTEGER NOT NULL,
    container_source   INTEGER NOT NULL,
    execution_time_ms  REAL    NOT NULL,
    memory_peak_mb     REAL    NOT NULL,
    cpu_time_ms        REAL    NOT NULL,
    files_uploaded     INTEGER NOT NULL,
    files_generated    INTEGER NOT NULL,
    output_size_bytes  INTEGER NOT NULL,
    state_size_bytes   INTEGER NOT NULL,
    queue_wait_ms      REAL    NOT NULL,
    repl_mode          INTEGER NOT NULL,
    session_id         TEXT,
    user_id            TEXT,
    entity_id          TEXT,
    received_at        INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX executions_raw_stamped ON executions_raw (stamped_hash) WHERE stamped_hash IS NOT NULL;

CREATE VIEW executions AS
SELECT r.id, r.execution_id, r.created_at, r.key_id, l.name AS language,
       CASE r.status WHEN 0 THEN 'completed' WHEN 1 THEN 'failed' WHEN 2 THEN 'timeout' ELSE 'error' END AS status,
       CASE r.container_source WHEN 0 THEN 'pool_hit' WHEN 1 THEN 'pool_miss' ELSE 'unknown' END AS container_source,
       r.execution_time_ms, r.memory_peak_mb, r.cpu_time_ms, r.files_uploaded, r.files_generated,
       r.output_size_bytes, r.state_size_bytes, r.queue_wait_ms, r.repl_mode, r.session_id,
       r.user_id, r.entity_id, r.received_at
FROM executions_raw r LEFT JOIN languages l ON l.id = r.language_id;

CREATE TABLE api_requests_raw (
    id           INTEGER PRIMARY KEY,
    stamped_hash INTEGER,
    request_id   TEXT    NOT NULL,
    ts           INTEGER NOT NULL,
    method       INTEGER NOT NULL,
    endpoint_id  INTEGER NOT NULL,
    status_code  INTEGER NOT NULL,
    duration_ms  REAL    NOT NULL,
    key_id       INTEGER NOT NULL,
    cache_hit    INTEGER NOT NULL,
    client_ip    TEXT,
    user_agent   TEXT,
    error        TEXT,
    received_at  INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX api_requests_raw_stamped ON api_requests_raw (stamped_hash) WHERE stamped_hash IS NOT NULL;

CREATE VIEW api_requests AS
SELECT r.id, r.request_id, r.ts,
       CASE r.method WHEN 0 THEN 'GET' WHEN 1 THEN 'POST' WHEN 2 THEN 'PUT' WHEN 3 THEN 'PATCH'
            WHEN 4 THEN 'DELETE' WHEN 5 THEN 'HEAD' WHEN 6 THEN 'OPTIONS' WHEN 7 THEN 'CONNECT'
            ELSE 'TRACE' END AS method,
       e.path AS endpoint, r.status_code, r.duration_ms, r.key_id, r.cache_hit, r.client_ip,
       r.user_agent, r.error, r.received_at
FROM api_requests_raw r LEFT JOIN endpoints e ON e.id = r.endpoint_id;

CREATE TABLE pool_events_raw (
    id               INTEGER PRIMARY KEY,
    stamped_hash     INTEGER,
    event_id         TEXT    NOT NULL,
    ts               INTEGER NOT NULL,
    kind             INTEGER NOT NULL,
    language_id      INTEGER NOT NULL,
    acquire_time_ms  REAL    NOT NULL,
    received_at      INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX pool_events_raw_stamped ON pool_events_raw (stamped_hash) WHERE stamped_hash IS NOT NULL;

CREATE VIEW pool_events AS
SELECT r.id, r.event_id, r.ts,
       CASE r.kind WHEN 0 THEN 'hit' WHEN 1 THEN 'miss' ELSE 'exhausted' END AS kind,
       l.name AS language, r.acquire_time_ms, r.received_at
FROM pool_events_raw r LEFT JOIN languages l ON l.id = r.language_id;

CREATE TABLE exec_rollup (
    grain INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    executions INTEGER NOT NULL,
    completed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    timed_out INTEGER NOT NULL,
    errored INTEGER NOT NULL,
    pool_hits INTEGER NOT NULL,
    pool_misses INTEGER NOT NULL,
    sum_time_ms REAL NOT NULL,
    max_time_ms REAL NOT NULL,
    sum_time_pool_hit_ms REAL NOT NULL,
    sum_time_pool_miss_ms REAL NOT NULL,
    sum_cpu_ms REAL NOT NULL,
    sum_memory_mb REAL NOT NULL,
    max_memory_mb REAL NOT NULL,
    sum_memory_mb_s REAL NOT NULL,
    sum_files_uploaded INTEGER NOT NULL,
    sum_files_generated INTEGER NOT NULL,
    sum_output_bytes INTEGER NOT NULL,
    sum_state_bytes INTEGER NOT NULL,
    sum_queue_wait_ms REAL NOT NULL,
    max_queue_wait_ms REAL NOT NULL,
    repl_executions INTEGER NOT NULL,
    hist BLOB NOT NULL,
    PRIMARY KEY (grain, bucket)
) STRICT, WITHOUT ROWID;

CREATE TABLE exec_rollup_by_language (
    grain INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    language_id INTEGER NOT NULL,
    executions INTEGER NOT NULL,
    completed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    timed_out INTEGER NOT NULL,
    errored INTEGER NOT NULL,
    pool_hits INTEGER NOT NULL,
    pool_misses INTEGER NOT NULL,
    sum_time_ms REAL NOT NULL,
    max_time_ms REAL NOT NULL,
    sum_time_pool_hit_ms REAL NOT NULL,
    sum_time_pool_miss_ms REAL NOT NULL,
    sum_cpu_ms REAL NOT NULL,
    sum_memory_mb REAL NOT NULL,
    max_memory_mb REAL NOT NULL,
    sum_memory_mb_s REAL NOT NULL,
    sum_files_uploaded INTEGER NOT NULL,
    sum_files_generated INTEGER NOT NULL,
    sum_output_bytes INTEGER NOT NULL,
    sum_state_bytes INTEGER NOT NULL,
    sum_queue_wait_ms REAL NOT NULL,
    max_queue_wait_ms REAL NOT NULL,
    repl_executions INTEGER NOT NULL,
    hist BLOB NOT NULL,
    PRIMARY KEY (grain, bucket, language_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE exec_rollup_by_key (
    grain INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    executions INTEGER NOT NULL,
    completed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    timed_out INTEGER NOT NULL,
    errored INTEGER NOT NULL,
    pool_hits INTEGER NOT NULL,
    pool_misses INTEGER NOT NULL,
    sum_time_ms REAL NOT NULL,
    max_time_ms REAL NOT NULL,
    sum_time_pool_hit_ms REAL NOT NULL,
    sum_time_pool_miss_ms REAL NOT NULL,
    sum_cpu_ms REAL NOT NULL,
    sum_memory_mb REAL NOT NULL,
    max_memory_mb REAL NOT NULL,
    sum_memory_mb_s REAL NOT NULL,
    sum_files_uploaded INTEGER NOT NULL,
    sum_files_generated INTEGER NOT NULL,
    sum_output_bytes INTEGER NOT NULL,
    sum_state_bytes INTEGER NOT NULL,
    sum_queue_wait_ms REAL NOT NULL,
    max_queue_wait_ms REAL NOT NULL,
    repl_executions INTEGER NOT NULL,
    hist BLOB NOT NULL,
    PRIMARY KEY (grain, key_id, bucket)
) STRICT, WITHOUT ROWID;
CREATE INDEX exec_rollup_by_key_bucket ON exec_rollup_by_key (grain, bucket);

CREATE TABLE exec_rollup_by_key_language (
    grain INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    language_id INTEGER NOT NULL,
    executions INTEGER NOT NULL,
    completed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    timed_out INTEGER NOT NULL,
    errored INTEGER NOT NULL,
    pool_hits INTEGER NOT NULL,
    pool_misses INTEGER NOT NULL,
    sum_time_ms REAL NOT NULL,
    max_time_ms REAL NOT NULL,
    sum_time_pool_hit_ms REAL NOT NULL,
    sum_time_pool_miss_ms REAL NOT NULL,
    sum_cpu_ms REAL NOT NULL,
    sum_memory_mb REAL NOT NULL,
    max_memory_mb REAL NOT NULL,
    sum_memory_mb_s REAL NOT NULL,
    sum_files_uploaded INTEGER NOT NULL,
    sum_files_generated INTEGER NOT NULL,
    sum_output_bytes INTEGER NOT NULL,
    sum_state_bytes INTEGER NOT NULL,
    sum_queue_wait_ms REAL NOT NULL,
    max_queue_wait_ms REAL NOT NULL,
    repl_executions INTEGER NOT NULL,
    hist BLOB NOT NULL,
    PRIMARY KEY (grain, key_id, bucket, language_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX exec_rollup_by_key_language_bucket ON exec_rollup_by_key_language (grain, bucket);

CREATE TABLE request_rollup_by_endpoint (
    grain INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    endpoint_id INTEGER NOT NULL,
    method INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    cache_hits INTEGER NOT NULL,
    with_error INTEGER NOT NULL,
    sum_duration_ms REAL NOT NULL,
    max_duration_ms REAL NOT NULL,
    class_1xx INTEGER NOT NULL,
    class_2xx INTEGER NOT NULL,
    class_3xx INTEGER NOT NULL,
    class_4xx INTEGER NOT NULL,
    class_5xx INTEGER NOT NULL,
    hist BLOB NOT NULL,
    PRIMARY KEY (grain, bucket, endpoint_id, method)
) STRICT, WITHOUT ROWID;

CREATE TABLE request_rollup_by_key (
    grain INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    cache_hits INTEGER NOT NULL,
    with_error INTEGER NOT NULL,
    sum_duration_ms REAL NOT NULL,
    max_duration_ms REAL NOT NULL,
    class_1xx INTEGER NOT NULL,
    class_2xx INTEGER NOT NULL,
    class_3xx INTEGER NOT NULL,
    class_4xx INTEGER NOT NULL,
    class_5xx INTEGER NOT NULL,
    hist BLOB NOT NULL,
    PRIMARY KEY (grain, key_id, bucket)
) STRICT, WITHOUT ROWID;
CREATE INDEX request_rollup_by_key_bucket ON request_rollup_by_key (grain, bucket);

CREATE TABLE request_rollup_by_key_endpoint (
    grain INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    endpoint_id INTEGER NOT NULL,
    method INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    cache_hits INTEGER NOT NULL,
    with_error INTEGER NOT NULL,
    sum_duration_ms REAL NOT NULL,
    max_duration_ms REAL NOT NULL,
    class_1xx INTEGER NOT NULL,
    class_2xx INTEGER NOT NULL,
    class_3xx INTEGER NOT NULL,
    class_4xx INTEGER NOT NULL,
    class_5xx INTEGER NOT NULL,
    hist BLOB NOT NULL,
    PRIMARY KEY (grain, key_id, bucket, endpoint_id, method)
) STRICT, WITHOUT ROWID;
CREATE INDEX request_rollup_by_key_endpoint_bucket ON request_rollup_by_key_endpoint (grain, bucket);

CREATE TABLE pool_rollup_by_language (
    grain INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    language_id INTEGER NOT NULL,
    events INTEGER NOT NULL,
    hits INTEGER NOT NULL,
    misses INTEGER NOT NULL,
    exhausted INTEGER NOT NULL,
    sum_acquire_ms REAL NOT NULL,
    sum_acquire_hit_ms REAL NOT NULL,
    sum_acquire_miss_ms REAL NOT NULL,
    sum_acquire_exhausted_ms REAL NOT NULL,
    max_acquire_ms REAL NOT NULL,
    PRIMARY KEY (grain, bucket, language_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE metric_rollup (
    grain INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    series_id INTEGER NOT NULL,
    points INTEGER NOT NULL,
    sum REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    last REAL NOT NULL,
    last_ts INTEGER NOT NULL,
    PRIMARY KEY (grain, bucket, series_id)
) STRICT, WITHOUT ROWID;

