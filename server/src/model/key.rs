//! API keys (as SHA-256 digests, never raw) and the tenants they belong to.

use sha2::{Digest, Sha256};

use super::fields::FieldError;

/// SHA-256 of an API key, as 64 lowercase hex characters. Raw keys never go
/// further than [`KeyHash::of_raw_key`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHash(String);

impl KeyHash {
    pub fn of_raw_key(raw: &str) -> Self {
        Self(hex::encode(Sha256::digest(raw.as_bytes())))
    }

    /// Accepts a 64-hex digest in either case.
    pub fn parse(hex_digest: &str) -> Result<Self, String> {
        if hex_digest.len() == 64 && hex_digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(hex_digest.to_ascii_lowercase()))
        } else {
            Err("must be 64 hexadecimal characters (a SHA-256 digest)".to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 16 hex characters: how keys are shown and filtered.
    pub fn prefix(&self) -> &str {
        &self.0[..16]
    }
}

/// Longest tenant identifier.
pub const MAX_TENANT: usize = 64;

/// Checks a tenant identifier: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
pub fn tenant(value: &str) -> Result<String, String> {
    let valid = (1..=MAX_TENANT).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "must be 1 to {MAX_TENANT} ASCII letters, digits, `.`, `_` or `-`"
        ))
    }
}

/// The tenant an event names for its key; it needs a key to belong to.
pub(crate) fn event_tenant(
    value: Option<String>,
    key: Option<&KeyHash>,
) -> Result<Option<String>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if key.is_none() {
        return Err(FieldError::new(
            "tenant_id",
            "needs `api_key` or `api_key_hash`: a tenant groups API keys",
        ));
    }
    tenant(&value)
        .map(Some)
        .map_err(|message| FieldError::new("tenant_id", message))
}

pub(crate) fn key_hash(
    api_key: Option<String>,
    api_key_hash: Option<String>,
) -> Result<Option<KeyHash>, FieldError> {
    match (api_key, api_key_hash) {
        (Some(_), Some(_)) => Err(FieldError::new(
            "api_key",
            "give either `api_key` or `api_key_hash`, not both",
        )),
        (Some(raw), None) => {
            if raw.is_empty() || raw.len() > 512 {
                return Err(FieldError::new("api_key", "must be 1 to 512 bytes long"));
            }
            Ok(Some(KeyHash::of_raw_key(&raw)))
        }
        (None, Some(hash)) => KeyHash::parse(&hash)
            .map(Some)
            .map_err(|message| FieldError::new("api_key_hash", message)),
        (None, None) => Ok(None),
    }
}
