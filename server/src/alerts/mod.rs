//! Alerts: rules from a TOML file (editable from the dashboard), evaluated
//! every `ALERT_EVAL_INTERVAL_SECONDS` against the query layer; incidents
//! stored in SQLite; `firing` and `resolved` messages POSTed to webhooks
//! from a durable outbox with retries and backoff.
//!
//! - [`rules`]: the file format and its checks;
//! - [`evaluate`]: what each rule reads and whether it fires;
//! - [`engine`]: incidents (open, still firing, clear, resolved);
//! - [`webhooks`]: delivery of the outbox.

pub mod engine;
pub mod evaluate;
pub mod rules;
pub mod webhooks;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::SystemTime,
};

use rules::Rules;
use sha2::{Digest, Sha256};

/// The rules in force and the file they come from. The file is the source
/// of truth: edits to it are picked up ([`Self::reload_if_changed`]), and a
/// save names the version it edits so neither side overwrites the other.
#[derive(Clone)]
pub struct AlertRules {
    path: Arc<PathBuf>,
    current: Arc<RwLock<Loaded>>,
}

#[derive(Clone)]
struct Loaded {
    text: String,
    rules: Arc<Rules>,
    /// The file's modification time and length when last read or written.
    modified: Option<(SystemTime, u64)>,
    /// The file changed on disk and does not parse.
    file_error: Option<String>,
}

/// What the dashboard and the API show of the rules.
pub struct Snapshot {
    pub text: String,
    pub version: String,
    pub rules: Arc<Rules>,
    pub file_error: Option<String>,
}

/// When the file was last modified, and its length (two edits within one
/// tick of the file system's clock rarely keep the length too).
fn modified(path: &Path) -> Option<(SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

/// A short digest naming a text.
fn version_of(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

impl AlertRules {
    /// Loads the rules file; a missing file means no rules (and the template
    /// as the text to edit). A file that does not parse stops start-up.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => rules::TEMPLATE.to_owned(),
            Err(e) => anyhow::bail!("reading the alert rules {}: {e}", path.display()),
        };
        let rules = Rules::parse(&text)
            .map_err(|m| anyhow::anyhow!("alert rules {}: {m}", path.display()))?;
        Ok(Self {
            path: Arc::new(path.to_path_buf()),
            current: Arc::new(RwLock::new(Loaded {
                text,
                rules: Arc::new(rules),
                modified: modified(path),
                file_error: None,
            })),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn rules(&self) -> Arc<Rules> {
        Arc::clone(&self.read().rules)
    }

    pub fn snapshot(&self) -> Snapshot {
        let loaded = self.read();
        Snapshot {
            version: version_of(&loaded.text),
            text: loaded.text.clone(),
            rules: Arc::clone(&loaded.rules),
            file_error: loaded.file_error.clone(),
        }
    }

    /// Puts the file in force again if it changed on disk since it was last
    /// read or written. A file that does not parse leaves the rules as they
    /// are and is reported (log, dashboard) until it is fixed.
    pub fn reload_if_changed(&self) {
        let now = modified(&self.path);
        if now.is_none() || now == self.read().modified {
            return;
        }
        let text = match std::fs::read_to_string(&*self.path) {
            Ok(text) => text,
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error, "Cannot read the changed alert rules.");
                return;
            }
        };
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        current.modified = now;
        match Rules::parse(&text) {
            Ok(rules) => {
                tracing::info!(
                    rules = rules.rules.len(),
                    "Alert rules reloaded: the file changed."
                );
                *current = Loaded {
                    text,
                    rules: Arc::new(rules),
                    modified: now,
                    file_error: None,
                };
            }
            Err(message) => {
                tracing::error!(path = %self.path.display(), %message, "The changed alert rules file does not parse; the previous rules stay in force.");
                current.file_error = Some(message);
            }
        }
    }

    /// Checks `text`, writes it to the file (atomically: a temporary file
    /// with the old file's permissions, 0600 for a new one, renamed over it)
    /// and puts it in force. With `base_version`, refuses when the rules in
    /// force are no longer the ones the caller edited.
    pub fn save(&self, text: &str, base_version: Option<&str>) -> Result<Arc<Rules>, SaveError> {
        let rules = Arc::new(Rules::parse(text).map_err(SaveError::Invalid)?);
        self.reload_if_changed();
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if let Some(base) = base_version
            && base != version_of(&current.text)
        {
            return Err(SaveError::Conflict);
        }
        write_atomically(&self.path, text).map_err(|e| {
            tracing::error!(path = %self.path.display(), error = %e, "Cannot write the alert rules.");
            SaveError::Io(e)
        })?;
        *current = Loaded {
            text: text.to_owned(),
            rules: Arc::clone(&rules),
            modified: modified(&self.path),
            file_error: None,
        };
        tracing::info!(
            rules = rules.rules.len(),
            webhooks = rules.webhooks.len(),
            "Alert rules saved."
        );
        Ok(rules)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.current.read().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("{0}")]
    Invalid(String),
    #[error(
        "the alert rules changed since they were loaded (in the file or another browser): reload them and edit again"
    )]
    Conflict,
    #[error("cannot write the rules file: {0}")]
    Io(std::io::Error),
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt, os::unix::fs::PermissionsExt};
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // Webhook URLs often carry tokens: keep the file as private as it was.
    let mode = std::fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o777);
    let tmp = path.with_extension("toml.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn saves_keep_permissions_and_refuse_stale_versions() {
        let dir = tempfile_dir();
        let path = dir.join("alerts.toml");
        let alerts = AlertRules::load(&path).unwrap();
        let first = alerts.snapshot().version;
        alerts.save("webhooks = []\n", Some(&first)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a new rules file is private");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let second = alerts.snapshot().version;
        assert_ne!(first, second);
        // Saving on top of the old version is a conflict; nothing changes.
        assert!(matches!(
            alerts.save("# mine\n", Some(&first)),
            Err(SaveError::Conflict)
        ));
        alerts.save("# mine\n", Some(&second)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "an existing file keeps its mode");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn edits_to_the_file_are_picked_up_and_bad_ones_reported() {
        let dir = tempfile_dir();
        let path = dir.join("alerts.toml");
        std::fs::write(&path, "").unwrap();
        let alerts = AlertRules::load(&path).unwrap();
        assert!(alerts.rules().rules.is_empty());
        // mtime resolution: make sure the change is visible.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(
            &path,
            "[[rule]]\nname = \"p\"\nkind = \"pool_exhaustion\"\n",
        )
        .unwrap();
        alerts.reload_if_changed();
        assert_eq!(alerts.rules().rules.len(), 1);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, "[[rule]]\nname = \"p\"\n").unwrap();
        alerts.reload_if_changed();
        assert_eq!(alerts.rules().rules.len(), 1, "the previous rules stay");
        let error = alerts.snapshot().file_error.expect("the error is reported");
        assert!(error.contains("`kind` is required"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tally-alerts-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
