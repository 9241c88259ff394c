-- API keys known to Tally. Raw keys are never stored: only the SHA-256 hex
-- digest. Events and rollups refer to a key by `id` to keep rows small.
CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    key_hash    TEXT    NOT NULL UNIQUE CHECK (length(key_hash) = 64),
    name        TEXT,
    created_at  INTEGER NOT NULL  -- unix seconds
) STRICT;
