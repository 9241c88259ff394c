-- Tenants: an API key may belong to one tenant (set by an admin or sent
-- with events as `tenant_id`); admin views filter by tenant through it.
ALTER TABLE api_keys ADD COLUMN tenant TEXT
    CHECK (tenant IS NULL OR length(tenant) BETWEEN 1 AND 64);

CREATE INDEX api_keys_by_tenant ON api_keys (tenant) WHERE tenant IS NOT NULL;
