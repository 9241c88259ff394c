//! Naming API keys and putting them into tenants: a key is given as its
//! full 64-hex hash (recorded if Tally has not seen it yet) or as the 16-hex
//! prefix of exactly one known key.

use app::error::AppError;

use crate::{
    model::KeyHash,
    state::AppState,
    storage::keys::{KeyField, PrefixOutcome, TenantKeys},
};

/// Longest key name accepted.
pub const MAX_NAME: usize = 64;

impl AppState {
    /// Every tenant with the prefixes of its keys.
    pub async fn tenants(&self) -> Result<Vec<TenantKeys>, AppError> {
        self.storage.tenants().await.map_err(super::storage)
    }

    /// Names the key (`None` clears its name); returns its prefix.
    pub async fn set_key_name(&self, key: &str, name: Option<&str>) -> Result<String, AppError> {
        let name = name.map(str::trim);
        if let Some(name) = name
            && (name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control))
        {
            return Err(AppError::field(
                "name",
                format!("must be 1 to {MAX_NAME} printable characters, or null to clear it"),
            ));
        }
        self.update_key(key, KeyField::Name(name)).await
    }

    /// Puts the key into `tenant` (`None`: out of its tenant); returns its prefix.
    pub async fn put_key_in_tenant(
        &self,
        key: &str,
        tenant: Option<&str>,
    ) -> Result<String, AppError> {
        let tenant = tenant
            .map(crate::model::tenant)
            .transpose()
            .map_err(|m| AppError::field("tenant", m))?;
        self.update_key(key, KeyField::Tenant(tenant.as_deref()))
            .await
    }

    /// Applies `field` to a key; returns the key's prefix.
    async fn update_key(&self, key: &str, field: KeyField<'_>) -> Result<String, AppError> {
        let key = key.trim().to_ascii_lowercase();
        if key.len() == 64 {
            let hash = KeyHash::parse(&key).map_err(|m| AppError::field("key", m))?;
            self.storage
                .set_key_field(&hash, field, crate::clock::now_ms())
                .await
                .map_err(super::storage)?;
            return Ok(hash.prefix().to_owned());
        }
        if key.len() != 16 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AppError::bad_request(
                "the key must be a 64-hex SHA-256 hash or its 16-hex prefix",
            ));
        }
        match self
            .storage
            .set_key_field_by_prefix(&key, field)
            .await
            .map_err(super::storage)?
        {
            PrefixOutcome::Updated => Ok(key),
            PrefixOutcome::UnknownPrefix => {
                Err(AppError::NotFound(format!("no API key starts with {key}")))
            }
            PrefixOutcome::AmbiguousPrefix => Err(AppError::bad_request(format!(
                "several API keys start with {key}: give the full 64-hex hash"
            ))),
        }
    }
}
