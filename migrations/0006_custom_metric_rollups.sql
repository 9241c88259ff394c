-- Hourly and daily rollups of the custom metric points, per series, so
-- long ranges stay answerable after the raw points expire (the hourly ones
-- follow the execution retention, the daily ones the daily retention).
-- `sum`, `min`, `max` and `last` are over the points' values (a histogram
-- point's value is its sum).
CREATE TABLE metric_rollup_hourly (
    bucket     INTEGER NOT NULL,
    series_id  INTEGER NOT NULL,
    points     INTEGER NOT NULL,
    sum        REAL    NOT NULL,
    min        REAL    NOT NULL,
    max        REAL    NOT NULL,
    last       REAL    NOT NULL,
    last_ts    INTEGER NOT NULL,
    PRIMARY KEY (bucket, series_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE metric_rollup_daily (
    bucket     INTEGER NOT NULL,
    series_id  INTEGER NOT NULL,
    points     INTEGER NOT NULL,
    sum        REAL    NOT NULL,
    min        REAL    NOT NULL,
    max        REAL    NOT NULL,
    last       REAL    NOT NULL,
    last_ts    INTEGER NOT NULL,
    PRIMARY KEY (bucket, series_id)
) STRICT, WITHOUT ROWID;
