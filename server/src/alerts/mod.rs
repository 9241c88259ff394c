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
};

use rules::Rules;

/// The rules in force and the file they come from.
#[derive(Clone)]
pub struct AlertRules {
    path: Arc<PathBuf>,
    current: Arc<RwLock<Loaded>>,
}

#[derive(Clone)]
struct Loaded {
    text: String,
    rules: Arc<Rules>,
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
            })),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn rules(&self) -> Arc<Rules> {
        Arc::clone(&self.read().rules)
    }

    /// The file's text as last loaded or saved.
    pub fn text(&self) -> String {
        self.read().text.clone()
    }

    /// Checks `text`, writes it to the file (atomically: a temporary file
    /// renamed over it) and puts it in force. A text that does not parse
    /// changes nothing and returns the reason.
    pub fn save(&self, text: &str) -> Result<Arc<Rules>, SaveError> {
        let rules = Arc::new(Rules::parse(text).map_err(SaveError::Invalid)?);
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        write_atomically(&self.path, text).map_err(|e| {
            tracing::error!(path = %self.path.display(), error = %e, "Cannot write the alert rules.");
            SaveError::Io(e)
        })?;
        *current = Loaded {
            text: text.to_owned(),
            rules: Arc::clone(&rules),
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
    #[error("cannot write the rules file: {0}")]
    Io(std::io::Error),
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}
