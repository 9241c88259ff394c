//! API keys: names and tenants set by an admin, tenants sent with events,
//! and the lookups the query layer filters by.

use std::collections::HashMap;

use sqlx::{FromRow, Sqlite, Transaction};

use super::Storage;
use crate::model::KeyHash;

/// What an admin can set on a key.
#[derive(Clone, Copy, Debug)]
pub enum KeyField<'a> {
    /// A human name; `None` clears it.
    Name(Option<&'a str>),
    /// The tenant the key belongs to; `None` removes it from its tenant.
    Tenant(Option<&'a str>),
}

impl<'a> KeyField<'a> {
    fn column(self) -> &'static str {
        match self {
            Self::Name(_) => "name",
            Self::Tenant(_) => "tenant",
        }
    }

    fn value(self) -> Option<&'a str> {
        match self {
            Self::Name(v) | Self::Tenant(v) => v,
        }
    }
}

/// Result of changing a key given by its 16-hex prefix.
#[derive(Debug, PartialEq, Eq)]
pub enum PrefixOutcome {
    Updated,
    UnknownPrefix,
    AmbiguousPrefix,
}

/// One known key.
#[derive(Clone, Debug, FromRow)]
pub struct KeyRow {
    pub id: i64,
    /// First 16 hex characters of the hash.
    pub prefix: String,
    pub name: Option<String>,
    pub tenant: Option<String>,
}

/// A tenant and its keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantKeys {
    pub tenant: String,
    /// 16-hex prefixes, in key order.
    pub keys: Vec<String>,
}

impl Storage {
    /// Sets (or clears) a field of a key given by its full hash; the key is
    /// recorded if Tally has not seen it yet.
    pub async fn set_key_field(
        &self,
        key: &KeyHash,
        field: KeyField<'_>,
        now_ms: i64,
    ) -> Result<(), sqlx::Error> {
        let column = field.column();
        let sql = format!(
            "INSERT INTO api_keys (key_hash, {column}, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key_hash) DO UPDATE SET {column} = excluded.{column}"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key.as_str())
            .bind(field.value())
            .bind(now_ms / 1000)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets (or clears) a field of the one known key starting with `prefix`
    /// (16 lowercase hex characters).
    pub async fn set_key_field_by_prefix(
        &self,
        prefix: &str,
        field: KeyField<'_>,
    ) -> Result<PrefixOutcome, sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let matches: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE substr(key_hash, 1, 16) = ?")
                .bind(prefix)
                .fetch_one(&mut *tx)
                .await?;
        let outcome = match matches {
            0 => PrefixOutcome::UnknownPrefix,
            1 => {
                let sql = format!(
                    "UPDATE api_keys SET {} = ? WHERE substr(key_hash, 1, 16) = ?",
                    field.column()
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(field.value())
                    .bind(prefix)
                    .execute(&mut *tx)
                    .await?;
                PrefixOutcome::Updated
            }
            _ => PrefixOutcome::AmbiguousPrefix,
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// `api_keys.id` of every key whose hash starts with one of `prefixes`.
    pub async fn key_ids_for_prefixes(&self, prefixes: &[String]) -> Result<Vec<i64>, sqlx::Error> {
        let mut ids = Vec::new();
        for prefix in prefixes {
            let found: Vec<i64> =
                sqlx::query_scalar("SELECT id FROM api_keys WHERE substr(key_hash, 1, 16) = ?")
                    .bind(prefix)
                    .fetch_all(&self.pool)
                    .await?;
            ids.extend(found);
        }
        Ok(ids)
    }

    /// `api_keys.id` of every key of the given tenants.
    pub async fn key_ids_for_tenants(&self, tenants: &[String]) -> Result<Vec<i64>, sqlx::Error> {
        let mut ids = Vec::new();
        for tenant in tenants {
            let found: Vec<i64> = sqlx::query_scalar("SELECT id FROM api_keys WHERE tenant = ?")
                .bind(tenant)
                .fetch_all(&self.pool)
                .await?;
            ids.extend(found);
        }
        Ok(ids)
    }

    /// Every known key, in id order.
    pub async fn api_keys(&self) -> Result<Vec<KeyRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, substr(key_hash, 1, 16) AS prefix, name, tenant FROM api_keys ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Every tenant with its keys, by tenant name.
    pub async fn tenants(&self) -> Result<Vec<TenantKeys>, sqlx::Error> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT tenant, substr(key_hash, 1, 16) FROM api_keys
             WHERE tenant IS NOT NULL ORDER BY tenant, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut tenants: Vec<TenantKeys> = Vec::new();
        for (tenant, prefix) in rows {
            match tenants.last_mut() {
                Some(last) if last.tenant == tenant => last.keys.push(prefix),
                _ => tenants.push(TenantKeys {
                    tenant,
                    keys: vec![prefix],
                }),
            }
        }
        Ok(tenants)
    }

    /// Every language by id.
    pub async fn language_names(&self) -> Result<HashMap<i64, String>, sqlx::Error> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, name FROM languages")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Every endpoint (route template) by id.
    pub async fn endpoint_paths(&self) -> Result<HashMap<i64, String>, sqlx::Error> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, path FROM endpoints")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Number of stored executions (used by demo mode to skip a backfill).
    pub async fn execution_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM executions_raw")
            .fetch_one(&self.pool)
            .await
    }
}

/// Puts keys into the tenant their events name (the latest event wins), in
/// the ingest transaction. `pairs` holds distinct `(key id, tenant)`.
pub(super) async fn assign_tenants(
    tx: &mut Transaction<'_, Sqlite>,
    pairs: &[(i64, &str)],
) -> Result<(), sqlx::Error> {
    for (id, tenant) in pairs {
        sqlx::query("UPDATE api_keys SET tenant = ?1 WHERE id = ?2 AND tenant IS NOT ?1")
            .bind(*tenant)
            .bind(*id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
