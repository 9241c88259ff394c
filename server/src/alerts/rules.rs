//! The alert rules file (TOML): webhook targets and rules, checked into
//! typed [`Rules`] with errors that name the rule and the field.

use std::collections::HashSet;

use serde::Deserialize;

/// What a rule watches.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// Failed share of executions (or 5xx share of requests) above a percent.
    ErrorRate {
        source: Source,
        above_percent: f64,
        window_seconds: u64,
        min_events: u64,
    },
    /// p95 execution (or request) time above a number of milliseconds.
    P95Time {
        source: Source,
        above_ms: f64,
        window_seconds: u64,
        min_events: u64,
    },
    /// At least this many pool-exhaustion events in the window.
    PoolExhaustion { at_least: u64, window_seconds: u64 },
    /// The health status below a level.
    HealthBelow { status: HealthLevel },
    /// A key's executions in the last hour above `factor` times its average
    /// for the same hour in the previous `weeks` weeks.
    KeySpike {
        factor: f64,
        weeks: u32,
        min_executions: u64,
    },
}

impl Condition {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ErrorRate { .. } => "error_rate",
            Self::P95Time { .. } => "p95_time",
            Self::PoolExhaustion { .. } => "pool_exhaustion",
            Self::HealthBelow { .. } => "health_below",
            Self::KeySpike { .. } => "key_spike",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Executions,
    Requests,
}

/// Health status levels, worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HealthLevel {
    Critical,
    Poor,
    Fair,
    Good,
    Excellent,
}

impl HealthLevel {
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "critical" => Self::Critical,
            "poor" => Self::Poor,
            "fair" => Self::Fair,
            "good" => Self::Good,
            "excellent" => Self::Excellent,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Poor => "poor",
            Self::Fair => "fair",
            Self::Good => "good",
            Self::Excellent => "excellent",
        }
    }

    /// The level's floor on the 0–100 score.
    pub fn min_score(self) -> f64 {
        match self {
            Self::Critical => 0.0,
            Self::Poor => 40.0,
            Self::Fair => 60.0,
            Self::Good => 75.0,
            Self::Excellent => 90.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    pub enabled: bool,
    /// How long the condition must stay clear before the incident resolves;
    /// flapping within it stays one incident (one message each way).
    pub cooldown_seconds: u64,
    pub condition: Condition,
}

/// A checked rules file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rules {
    pub webhooks: Vec<String>,
    pub rules: Vec<Rule>,
}

/// The file as written: every field optional, so the checks below can say
/// exactly what is missing or misplaced.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    webhooks: Vec<String>,
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: Option<String>,
    kind: Option<String>,
    enabled: Option<bool>,
    cooldown_seconds: Option<u64>,
    source: Option<String>,
    above_percent: Option<f64>,
    above_ms: Option<f64>,
    window_seconds: Option<u64>,
    min_events: Option<u64>,
    at_least: Option<u64>,
    status: Option<String>,
    factor: Option<f64>,
    weeks: Option<u32>,
    min_executions: Option<u64>,
}

const DEFAULT_COOLDOWN_SECONDS: u64 = 600;
const DEFAULT_WINDOW_SECONDS: u64 = 300;
/// Windows reach back at most a day: alerts are about now.
const MAX_WINDOW_SECONDS: u64 = 86_400;
const MAX_RULES: usize = 100;
const MAX_WEBHOOKS: usize = 20;
const MAX_NAME: usize = 64;

/// The file Tally writes when there is none yet: every kind, commented out.
pub const TEMPLATE: &str = r#"# Tally alert rules. Edit here or in the dashboard (Alerts tab); saving
# from the dashboard rewrites this file. When a rule fires or resolves, Tally
# POSTs a JSON message to every webhook (http or https only).

# webhooks = ["https://hooks.example.com/tally"]

# [[rule]]
# name = "Executions failing"
# kind = "error_rate"            # failed share over the window, in percent
# source = "executions"          # or "requests" (5xx share)
# above_percent = 10.0
# window_seconds = 300
# min_events = 20                # fewer events in the window: no verdict
# cooldown_seconds = 600         # clear this long before it resolves

# [[rule]]
# name = "Slow executions"
# kind = "p95_time"
# source = "executions"          # or "requests"
# above_ms = 5000.0
# window_seconds = 300

# [[rule]]
# name = "Pool exhausted"
# kind = "pool_exhaustion"
# at_least = 1
# window_seconds = 300

# [[rule]]
# name = "Unhealthy"
# kind = "health_below"
# status = "fair"                # excellent, good, fair, poor

# [[rule]]
# name = "Key usage spike"
# kind = "key_spike"             # per key: last hour vs the same hour of past weeks
# factor = 3.0
# weeks = 4
# min_executions = 100
"#;

impl Rules {
    /// Parses and checks a rules file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let spec: FileSpec = toml::from_str(text).map_err(|e| e.to_string())?;
        if spec.webhooks.len() > MAX_WEBHOOKS {
            return Err(format!("`webhooks`: at most {MAX_WEBHOOKS} targets"));
        }
        if spec.rule.len() > MAX_RULES {
            return Err(format!("at most {MAX_RULES} rules"));
        }
        let mut webhooks: Vec<String> = Vec::with_capacity(spec.webhooks.len());
        for url in &spec.webhooks {
            let checked = webhook_url(url).map_err(|m| format!("`webhooks`: `{url}` {m}"))?;
            if webhooks.contains(&checked) {
                return Err(format!(
                    "`webhooks`: `{url}` is listed twice (it would get every message twice)"
                ));
            }
            webhooks.push(checked);
        }
        let mut names = HashSet::new();
        let mut rules = Vec::with_capacity(spec.rule.len());
        for (index, rule) in spec.rule.into_iter().enumerate() {
            let rule = rule.check().map_err(|m| match m {
                RuleError::Named(name, m) => format!("rule `{name}`: {m}"),
                RuleError::Unnamed(m) => format!("rule {}: {m}", index + 1),
            })?;
            if !names.insert(rule.name.clone()) {
                return Err(format!("rule `{}`: the name is used twice", rule.name));
            }
            rules.push(rule);
        }
        Ok(Self { webhooks, rules })
    }
}

/// Checks a webhook target: an absolute http(s) URL with a host.
pub fn webhook_url(url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "uses the `{}` scheme: webhooks must be http or https",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("has no host".to_owned());
    }
    Ok(parsed.to_string())
}

/// A count of at least 1, or its default.
fn positive(field: &str, value: Option<u64>, default: u64) -> Result<u64, String> {
    match value {
        None => Ok(default),
        Some(0) => Err(format!("`{field}` must be at least 1")),
        Some(n) => Ok(n),
    }
}

enum RuleError {
    Named(String, String),
    Unnamed(String),
}

impl RuleSpec {
    fn check(self) -> Result<Rule, RuleError> {
        let name = match self.name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() && n.len() <= MAX_NAME && !n.chars().any(char::is_control) => {
                n.to_owned()
            }
            Some(_) => {
                return Err(RuleError::Unnamed(format!(
                    "`name` must be 1 to {MAX_NAME} printable characters"
                )));
            }
            None => return Err(RuleError::Unnamed("`name` is required".to_owned())),
        };
        let named = |m: String| RuleError::Named(name.clone(), m);
        let condition = self.condition().map_err(named)?;
        Ok(Rule {
            enabled: self.enabled.unwrap_or(true),
            cooldown_seconds: self.cooldown_seconds.unwrap_or(DEFAULT_COOLDOWN_SECONDS),
            condition,
            name,
        })
    }

    fn condition(&self) -> Result<Condition, String> {
        let kind = self.kind.as_deref().ok_or("`kind` is required")?;
        // Fields each kind takes, to refuse ones that would be ignored.
        let (condition, fields): (Condition, &[&str]) = match kind {
            "error_rate" => (
                Condition::ErrorRate {
                    source: self.source()?,
                    above_percent: self.number("above_percent", self.above_percent, 0.0, 100.0)?,
                    window_seconds: self.window()?,
                    min_events: positive("min_events", self.min_events, 10)?,
                },
                &["source", "above_percent", "window_seconds", "min_events"],
            ),
            "p95_time" => (
                Condition::P95Time {
                    source: self.source()?,
                    above_ms: self.number("above_ms", self.above_ms, 0.0, 86_400_000.0)?,
                    window_seconds: self.window()?,
                    min_events: positive("min_events", self.min_events, 10)?,
                },
                &["source", "above_ms", "window_seconds", "min_events"],
            ),
            "pool_exhaustion" => (
                Condition::PoolExhaustion {
                    at_least: positive("at_least", self.at_least, 1)?,
                    window_seconds: self.window()?,
                },
                &["at_least", "window_seconds"],
            ),
            "health_below" => {
                let status = self.status.as_deref().ok_or("`status` is required")?;
                let level = HealthLevel::parse(status)
                    .filter(|l| *l != HealthLevel::Critical)
                    .ok_or_else(|| {
                        format!("`status` `{status}`: use excellent, good, fair or poor")
                    })?;
                (Condition::HealthBelow { status: level }, &["status"])
            }
            "key_spike" => {
                let weeks = self.weeks.unwrap_or(4);
                if !(1..=12).contains(&weeks) {
                    return Err("`weeks` must be between 1 and 12".to_owned());
                }
                (
                    Condition::KeySpike {
                        factor: self.number(
                            "factor",
                            Some(self.factor.unwrap_or(3.0)),
                            1.0,
                            1e6,
                        )?,
                        weeks,
                        min_executions: positive("min_executions", self.min_executions, 100)?,
                    },
                    &["factor", "weeks", "min_executions"],
                )
            }
            other => {
                return Err(format!(
                    "unknown `kind` `{other}`: use error_rate, p95_time, pool_exhaustion, health_below or key_spike"
                ));
            }
        };
        let set = [
            ("source", self.source.is_some()),
            ("above_percent", self.above_percent.is_some()),
            ("above_ms", self.above_ms.is_some()),
            ("window_seconds", self.window_seconds.is_some()),
            ("min_events", self.min_events.is_some()),
            ("at_least", self.at_least.is_some()),
            ("status", self.status.is_some()),
            ("factor", self.factor.is_some()),
            ("weeks", self.weeks.is_some()),
            ("min_executions", self.min_executions.is_some()),
        ];
        if let Some((field, _)) = set
            .iter()
            .find(|(field, given)| *given && !fields.contains(field))
        {
            return Err(format!("`{field}` does not apply to kind {kind}"));
        }
        Ok(condition)
    }

    fn source(&self) -> Result<Source, String> {
        match self.source.as_deref() {
            None | Some("executions") => Ok(Source::Executions),
            Some("requests") => Ok(Source::Requests),
            Some(other) => Err(format!("`source` `{other}`: use executions or requests")),
        }
    }

    fn window(&self) -> Result<u64, String> {
        let window = self.window_seconds.unwrap_or(DEFAULT_WINDOW_SECONDS);
        if (10..=MAX_WINDOW_SECONDS).contains(&window) {
            Ok(window)
        } else {
            Err(format!(
                "`window_seconds` must be between 10 and {MAX_WINDOW_SECONDS}"
            ))
        }
    }

    fn number(&self, field: &str, value: Option<f64>, min: f64, max: f64) -> Result<f64, String> {
        match value {
            None => Err(format!("`{field}` is required")),
            Some(v) if v.is_finite() && (min..=max).contains(&v) => Ok(v),
            Some(_) => Err(format!("`{field}` must be between {min} and {max}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_parses_to_no_rules() {
        assert_eq!(Rules::parse(TEMPLATE).unwrap(), Rules::default());
    }

    #[test]
    fn every_kind_parses_with_its_defaults() {
        let rules = Rules::parse(
            r#"
            webhooks = ["https://hooks.example.com/a", "http://127.0.0.1:9/x"]
            [[rule]]
            name = "errors"
            kind = "error_rate"
            above_percent = 5
            [[rule]]
            name = "slow"
            kind = "p95_time"
            source = "requests"
            above_ms = 800.0
            window_seconds = 60
            cooldown_seconds = 0
            [[rule]]
            name = "pool"
            kind = "pool_exhaustion"
            [[rule]]
            name = "health"
            kind = "health_below"
            status = "good"
            enabled = false
            [[rule]]
            name = "spike"
            kind = "key_spike"
            "#,
        )
        .unwrap();
        assert_eq!(rules.webhooks.len(), 2);
        assert_eq!(
            rules.rules[0].condition,
            Condition::ErrorRate {
                source: Source::Executions,
                above_percent: 5.0,
                window_seconds: 300,
                min_events: 10
            }
        );
        assert_eq!(rules.rules[0].cooldown_seconds, 600);
        assert_eq!(rules.rules[1].cooldown_seconds, 0);
        assert_eq!(
            rules.rules[2].condition,
            Condition::PoolExhaustion {
                at_least: 1,
                window_seconds: 300
            }
        );
        assert!(!rules.rules[3].enabled);
        assert_eq!(
            rules.rules[4].condition,
            Condition::KeySpike {
                factor: 3.0,
                weeks: 4,
                min_executions: 100
            }
        );
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (r#"webhooks = ["ftp://example.com/x"]"#, "`ftp` scheme"),
            (r#"webhooks = ["file:///etc/passwd"]"#, "`file` scheme"),
            (r#"webhooks = ["javascript:alert(1)"]"#, "scheme"),
            (r#"webhooks = ["not a url"]"#, "is not a URL"),
            (
                "[[rule]]\nkind = \"error_rate\"",
                "rule 1: `name` is required",
            ),
            ("[[rule]]\nname = \"x\"", "rule `x`: `kind` is required"),
            (
                "[[rule]]\nname = \"x\"\nkind = \"error_rate\"",
                "`above_percent` is required",
            ),
            (
                "[[rule]]\nname = \"x\"\nkind = \"error_rate\"\nabove_percent = 120",
                "between 0 and 100",
            ),
            (
                "[[rule]]\nname = \"x\"\nkind = \"nope\"",
                "unknown `kind` `nope`",
            ),
            (
                "[[rule]]\nname = \"x\"\nkind = \"pool_exhaustion\"\nfactor = 2",
                "`factor` does not apply to kind pool_exhaustion",
            ),
            (
                "[[rule]]\nname = \"x\"\nkind = \"health_below\"\nstatus = \"meh\"",
                "`status` `meh`",
            ),
            (
                "[[rule]]\nname = \"x\"\nkind = \"pool_exhaustion\"\nwindow_seconds = 1",
                "`window_seconds`",
            ),
            (
                "[[rule]]\nname = \"x\"\nkind = \"pool_exhaustion\"\n[[rule]]\nname = \"x\"\nkind = \"pool_exhaustion\"",
                "used twice",
            ),
            (
                "[[rule]]\nname = \"x\"\nkind = \"pool_exhaustion\"\ntypo = 1",
                "typo",
            ),
            ("webhooks = [", "webhooks"),
            (
                "[[rule]]\nname = \"x\"\nkind = \"error_rate\"\nabove_percent = 5\nmin_events = 0",
                "`min_events` must be at least 1",
            ),
            (
                "[[rule]]\nname = \"x\"\nkind = \"pool_exhaustion\"\nat_least = 0",
                "`at_least` must be at least 1",
            ),
            (
                r#"webhooks = ["https://a.example/x", "https://a.example/x"]"#,
                "listed twice",
            ),
            ("[[rule", "line 1"),
        ];
        for (text, expected) in cases {
            let error = Rules::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
