-- Alert incidents and their webhook deliveries. An incident opens when a
-- rule starts firing for a subject (the whole platform, or one API key) and
-- resolves once its condition has stayed clear for the rule's cooldown.
CREATE TABLE alert_incidents (
    id           INTEGER PRIMARY KEY,
    rule         TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    -- '' for platform-wide rules; the key's 16-hex prefix for key rules.
    subject      TEXT    NOT NULL DEFAULT '',
    value        REAL    NOT NULL,
    threshold    REAL    NOT NULL,
    message      TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,  -- unix ms
    -- When the condition was last seen clear while open (unix ms).
    clear_since  INTEGER,
    resolved_at  INTEGER           -- unix ms; NULL while firing
) STRICT;

-- At most one open incident per rule and subject.
CREATE UNIQUE INDEX alert_incidents_open ON alert_incidents (rule, subject)
    WHERE resolved_at IS NULL;
CREATE INDEX alert_incidents_by_start ON alert_incidents (started_at);

-- The webhook outbox: one row per message and target, retried with backoff
-- until delivered or out of attempts; it survives restarts.
CREATE TABLE alert_deliveries (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER NOT NULL REFERENCES alert_incidents (id) ON DELETE CASCADE,
    event           TEXT    NOT NULL CHECK (event IN ('firing', 'resolved')),
    url             TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,  -- unix ms
    last_error      TEXT,
    delivered_at    INTEGER            -- unix ms
) STRICT;

CREATE INDEX alert_deliveries_pending ON alert_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX alert_deliveries_by_incident ON alert_deliveries (incident_id);
