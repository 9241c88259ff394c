-- Custom metrics received over OTLP/HTTP: one series per metric name and
-- attribute set (canonical JSON, keys sorted), one row per data point.
CREATE TABLE metric_series (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,           -- sum | gauge | histogram | summary
    unit        TEXT    NOT NULL,
    monotonic   INTEGER NOT NULL,
    attributes  TEXT    NOT NULL,           -- {"key":"value",...}
    created_at  INTEGER NOT NULL,
    UNIQUE (name, attributes)
) STRICT;

CREATE TABLE metric_points (
    id           INTEGER PRIMARY KEY,
    series_id    INTEGER NOT NULL REFERENCES metric_series (id),
    ts           INTEGER NOT NULL,          -- unix ms
    value        REAL    NOT NULL,          -- number points: the value; histograms: the sum
    count        INTEGER,                   -- histograms and summaries
    bounds       TEXT,                      -- histogram explicit bounds, JSON array
    buckets      TEXT,                      -- histogram bucket counts, JSON array
    received_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX metric_points_by_series_time ON metric_points (series_id, ts);
CREATE INDEX metric_points_by_time ON metric_points (ts);
