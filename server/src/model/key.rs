//! API keys (as SHA-256 digests, never raw) and the tenants they belong to.

use sha2::{Digest, Sha256};

use super::fields::FieldError;

/// SHA-256 of an API key, as 64 lowercase hex characters, held inline (an
/// event carries one; no allocation). Raw keys never go further than
/// [`KeyHash::of_raw_key`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHash([u8; 64]);

impl KeyHash {
    pub fn of_raw_key(raw: &str) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = Sha256::digest(raw.as_bytes());
        let mut hex = [0; 64];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(digest) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0xf)];
        }
        Self(hex)
    }

    /// Accepts a 64-hex digest in either case.
    pub fn parse(hex_digest: &str) -> Result<Self, String> {
        match <[u8; 64]>::try_from(hex_digest.as_bytes()) {
            Ok(mut hex) if hex.iter().all(u8::is_ascii_hexdigit) => {
                hex.make_ascii_lowercase();
                Ok(Self(hex))
            }
            _ => Err("must be 64 hexadecimal characters (a SHA-256 digest)".to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored (both constructors above).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The first 16 hex characters: how keys are shown and filtered.
    pub fn prefix(&self) -> &str {
        &self.as_str()[..16]
    }
}

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("KeyHash").field(&self.as_str()).finish()
    }
}

/// The digests of the raw keys one request has named: a batch names few
/// keys, so each is hashed once. Lives as long as the request, so raw keys
/// are not kept beyond it.
#[derive(Default)]
pub struct KeyMemo {
    seen: Vec<(String, KeyHash)>,
}

/// Distinct raw keys a memo remembers; past this, keys are hashed anew.
const MEMO_KEYS: usize = 32;

impl KeyMemo {
    pub fn of_raw_key(&mut self, raw: &str) -> KeyHash {
        if let Some((_, hash)) = self.seen.iter().find(|(k, _)| k == raw) {
            return *hash;
        }
        let hash = KeyHash::of_raw_key(raw);
        if self.seen.len() < MEMO_KEYS {
            self.seen.push((raw.to_owned(), hash));
        }
        hash
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
    memo: &mut KeyMemo,
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
            Ok(Some(memo.of_raw_key(&raw)))
        }
        (None, Some(hash)) => KeyHash::parse(&hash)
            .map(Some)
            .map_err(|message| FieldError::new("api_key_hash", message)),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn a_raw_key_becomes_its_sha256_in_lowercase_hex() {
        let hash = KeyHash::of_raw_key("abc");
        assert_eq!(hash.as_str(), ABC);
        assert_eq!(hash.prefix(), &ABC[..16]);
        assert_eq!(KeyMemo::default().of_raw_key("abc"), hash);
    }

    #[test]
    fn digests_are_accepted_in_either_case_and_nothing_else() {
        assert_eq!(
            KeyHash::parse(&ABC.to_ascii_uppercase()).unwrap(),
            KeyHash::of_raw_key("abc")
        );
        for bad in [&ABC[..63], &format!("{ABC}0"), &ABC.replace('a', "g"), ""] {
            assert!(KeyHash::parse(bad).is_err(), "{bad}");
        }
        // A multi-byte character makes 64 bytes that are not 64 digits.
        assert!(KeyHash::parse(&format!("é{}", &ABC[..62])).is_err());
    }

    #[test]
    fn a_memo_hashes_each_key_once_and_answers_the_same() {
        let mut memo = KeyMemo::default();
        let keys: Vec<String> = (0..40).map(|i| format!("sk-{i}")).collect();
        for _ in 0..2 {
            for key in &keys {
                assert_eq!(memo.of_raw_key(key), KeyHash::of_raw_key(key));
            }
        }
        assert_eq!(memo.seen.len(), MEMO_KEYS);
    }
}
