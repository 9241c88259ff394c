//! Configuration from the environment, with a command-line flag for each
//! variable (`tally --help` lists them).

use std::{net::SocketAddr, path::PathBuf};

use clap::Parser;
use secrecy::{ExposeSecret, SecretString};

use crate::telemetry::LogFormat;

#[derive(Clone, Debug, Parser)]
#[command(
    name = "tally",
    version,
    about = "Usage metrics and admin dashboard for API platforms"
)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[arg(long, env = "TALLY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Key that unlocks the admin API and the dashboard. When unset, a random
    /// key is generated at start-up and printed once.
    #[arg(long, env = "MASTER_API_KEY", hide_env_values = true, value_parser = parse_secret)]
    pub master_api_key: Option<SecretString>,

    /// Path of the SQLite database (created if missing).
    #[arg(
        long,
        env = "SQLITE_METRICS_DB_PATH",
        default_value = "data/metrics.db"
    )]
    pub sqlite_metrics_db_path: PathBuf,

    /// Directory with the built dashboard (`trunk build --release` output).
    #[arg(long, env = "TALLY_ASSETS_DIR", default_value = "dist")]
    pub assets_dir: PathBuf,

    /// Log output: `text` or `json`.
    #[arg(long, env = "TALLY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

fn parse_secret(value: &str) -> Result<SecretString, String> {
    if value.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(SecretString::from(value.to_owned()))
}

impl Config {
    /// Returns the configured master key, or generates a random one, which
    /// the caller must show to the operator (it is the only way in).
    pub fn master_key_or_generate(&self) -> (SecretString, bool) {
        match &self.master_api_key {
            Some(key) => (key.clone(), false),
            None => {
                let bytes: [u8; 24] = rand::random();
                (SecretString::from(hex::encode(bytes)), true)
            }
        }
    }
}

/// Compares a presented key with the master key in constant time.
pub fn key_matches(presented: &str, master: &SecretString) -> bool {
    use subtle::ConstantTimeEq;
    let master = master.expose_secret().as_bytes();
    let presented = presented.as_bytes();
    // `ct_eq` on slices of different lengths returns false without a data-dependent branch.
    bool::from(presented.ct_eq(master))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_comparison_accepts_only_the_exact_key() {
        let master = SecretString::from("s3cret-key".to_owned());
        assert!(key_matches("s3cret-key", &master));
        assert!(!key_matches("s3cret-kez", &master));
        assert!(!key_matches("s3cret", &master));
        assert!(!key_matches("", &master));
    }

    #[test]
    fn generated_keys_are_random_and_long() {
        let config = Config::parse_from(["tally"]);
        let (a, generated) = config.master_key_or_generate();
        let (b, _) = config.master_key_or_generate();
        assert!(generated);
        assert_eq!(a.expose_secret().len(), 48);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn empty_master_key_is_rejected() {
        let error = Config::try_parse_from(["tally", "--master-api-key", " "]).unwrap_err();
        assert!(error.to_string().contains("must not be empty"), "{error}");
    }

    #[test]
    fn debug_output_hides_the_master_key() {
        let config = Config::parse_from(["tally", "--master-api-key", "do-not-print-me"]);
        assert!(!format!("{config:?}").contains("do-not-print-me"));
    }
}
