//! The dashboard's filter state. It lives in the URL query string, so a
//! reload, back/forward or a pasted link shows the same view.

use crate::types::MetricsQuery;

/// Period presets of the filter bar: (URL value, label).
pub const PERIODS: [(&str, &str); 6] = [
    ("hour", "1 h"),
    ("day", "24 h"),
    ("week", "7 d"),
    ("month", "30 d"),
    ("quarter", "90 d"),
    ("year", "1 y"),
];

/// The board's tabs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum View {
    #[default]
    Overview,
    Custom,
    System,
    Alerts,
}

impl View {
    /// Every tab, in the order shown.
    pub const ALL: [Self; 4] = [Self::Overview, Self::Custom, Self::System, Self::Alerts];

    /// The `view` URL parameter: the overview is the page without one.
    pub fn param(self) -> &'static str {
        match self {
            Self::Overview => "",
            Self::Custom => "custom",
            Self::System => "system",
            Self::Alerts => "alerts",
        }
    }

    /// The view a `view` URL parameter names; the overview for any other.
    pub fn from_param(param: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|view| view.param() == param)
            .unwrap_or_default()
    }

    /// The tab's `data-view` attribute.
    pub fn id(self) -> &'static str {
        match self {
            Self::Overview => "overview",
            other => other.param(),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Overview => "Overview",
            Self::Custom => "Custom metrics",
            Self::System => "System",
            Self::Alerts => "Alerts",
        }
    }

    /// Whether the view reads the period, key, tenant and language filters
    /// (the overview and custom metrics; not System or Alerts).
    pub fn uses_usage_filters(self) -> bool {
        matches!(self, Self::Overview | Self::Custom)
    }
}

/// Ranges of the System view.
pub const SYSTEM_RANGES: [&str; 4] = ["1h", "6h", "24h", "7d"];

/// Auto-refresh choices in seconds (0: off).
pub const REFRESH: [(u32, &str); 4] = [(0, "off"), (10, "10 s"), (30, "30 s"), (60, "1 min")];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub period: String,
    /// Custom range (`YYYY-MM-DD`), both set or both empty.
    pub start: String,
    pub end: String,
    /// 16-hex key prefixes.
    pub keys: Vec<String>,
    /// Tenant identifier; empty: every tenant.
    pub tenant: String,
    pub language: String,
    /// IANA zone; empty means the browser's.
    pub tz: String,
    pub compare: bool,
    pub refresh: u32,
    pub view: View,
    /// System view: `1h`, `6h`, `24h` or `7d`; empty means `1h`.
    pub range: String,
    /// Custom metrics: the chosen metric.
    pub metric: String,
    /// Custom metrics: `key:value` attribute filters, comma-separated.
    pub attr: String,
}

impl Filters {
    /// Reads the filters from URL parameters (`get` looks one up).
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let text = |name: &str| get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
        let period = text("period");
        Self {
            period: if PERIODS.iter().any(|(p, _)| *p == period) {
                period
            } else {
                "day".to_owned()
            },
            start: text("start_date"),
            end: text("end_date"),
            keys: text("api_key_hash")
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect(),
            tenant: text("tenant"),
            language: text("language"),
            tz: text("tz"),
            compare: text("compare") == "previous",
            refresh: text("refresh")
                .parse()
                .ok()
                .filter(|r| REFRESH.iter().any(|(s, _)| s == r))
                .unwrap_or(0),
            view: View::from_param(&text("view")),
            range: Some(text("range"))
                .filter(|r| SYSTEM_RANGES.contains(&r.as_str()))
                .unwrap_or_default(),
            metric: text("metric"),
            attr: text("attr"),
        }
    }

    /// The System view's range (`1h` unless chosen).
    pub fn system_range(&self) -> &str {
        if self.range.is_empty() {
            SYSTEM_RANGES[0]
        } else {
            &self.range
        }
    }

    /// The attribute filters as `key:value` items.
    pub fn attributes(&self) -> Vec<String> {
        self.attr
            .split(',')
            .map(str::trim)
            .filter(|a| a.contains(':'))
            .map(str::to_owned)
            .collect()
    }

    pub fn is_custom(&self) -> bool {
        !self.start.is_empty() && !self.end.is_empty()
    }

    /// The URL query string (without `?`) for these filters.
    pub fn to_query_string(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if self.is_custom() {
            pairs.push(("start_date", self.start.clone()));
            pairs.push(("end_date", self.end.clone()));
        } else {
            pairs.push(("period", self.period.clone()));
        }
        if !self.keys.is_empty() {
            pairs.push(("api_key_hash", self.keys.join(",")));
        }
        if !self.tenant.is_empty() {
            pairs.push(("tenant", self.tenant.clone()));
        }
        if !self.language.is_empty() {
            pairs.push(("language", self.language.clone()));
        }
        if !self.tz.is_empty() {
            pairs.push(("tz", self.tz.clone()));
        }
        if self.compare {
            pairs.push(("compare", "previous".to_owned()));
        }
        if self.refresh > 0 {
            pairs.push(("refresh", self.refresh.to_string()));
        }
        if self.view != View::Overview {
            pairs.push(("view", self.view.param().to_owned()));
        }
        if self.view == View::System && !self.range.is_empty() {
            pairs.push(("range", self.range.clone()));
        }
        if !self.metric.is_empty() {
            pairs.push(("metric", self.metric.clone()));
        }
        if !self.attr.is_empty() {
            pairs.push(("attr", self.attr.clone()));
        }
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={}", encode(&v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The query the server functions take. `tz` falls back to `browser_tz`.
    pub fn to_query(&self, browser_tz: &str) -> MetricsQuery {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        MetricsQuery {
            period: (!self.is_custom()).then(|| self.period.clone()),
            start_date: self.is_custom().then(|| self.start.clone()),
            end_date: self.is_custom().then(|| self.end.clone()),
            api_key_hash: (!self.keys.is_empty()).then(|| self.keys.join(",")),
            tenant: some(&self.tenant),
            language: some(&self.language),
            tz: some(&self.tz).or_else(|| some(browser_tz)),
            compare: self.compare.then(|| "previous".to_owned()),
            ..MetricsQuery::default()
        }
    }
}

/// The page that shows a set of filters: the board, or the page of one API
/// key (`/monitoring/keys/{hash16}`), which takes the board's filters with
/// its key in place of any key filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Page {
    Board,
    Key(String),
}

impl Page {
    /// The page of the `key` path parameter: `None` without one, an error
    /// naming it when it is not a key's 16 hex digits.
    pub fn from_key_param(key: Option<String>) -> Result<Self, String> {
        match key {
            None => Ok(Self::Board),
            Some(k) if k.len() == 16 && k.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Self::Key(k.to_ascii_lowercase()))
            }
            Some(k) => Err(format!(
                "`{k}` is not an API key: keys are shown by the first 16 hex digits of their hash"
            )),
        }
    }

    /// The filters this page shows: a key's page shows its key only, in
    /// the overview.
    pub fn scope(&self, mut filters: Filters) -> Filters {
        if let Self::Key(key) = self {
            filters.keys = vec![key.clone()];
            filters.view = View::Overview;
        }
        filters
    }

    /// The URL of this page with `filters` (a key's page leaves its key out
    /// of the query: it is in the path).
    pub fn url(&self, filters: &Filters) -> String {
        match self {
            Self::Board => format!("/monitoring?{}", filters.to_query_string()),
            Self::Key(key) => {
                let mut rest = filters.clone();
                rest.keys.clear();
                rest.view = View::Overview;
                format!("/monitoring/keys/{key}?{}", rest.to_query_string())
            }
        }
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~,:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(query: &str) -> Filters {
        let map: HashMap<String, String> = query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.replace("%2F", "/")))
            .collect();
        Filters::from_params(|k| map.get(k).cloned())
    }

    #[test]
    fn filters_round_trip_through_the_url() {
        let filters = Filters {
            period: "week".into(),
            keys: vec!["0123456789abcdef".into(), "fedcba9876543210".into()],
            language: "python".into(),
            tz: "Europe/Berlin".into(),
            compare: true,
            refresh: 30,
            ..Default::default()
        };
        let query = filters.to_query_string();
        assert_eq!(
            query,
            "period=week&api_key_hash=0123456789abcdef,fedcba9876543210&language=python&tz=Europe%2FBerlin&compare=previous&refresh=30"
        );
        assert_eq!(parse(&query), filters);
    }

    #[test]
    fn views_round_trip_through_the_url() {
        for view in View::ALL {
            let filters = Filters {
                period: "day".into(),
                view,
                // Only the System view keeps its range in the URL.
                range: if view == View::System { "6h" } else { "" }.into(),
                ..Default::default()
            };
            assert_eq!(parse(&filters.to_query_string()), filters);
        }
        assert_eq!(parse("view=nonsense").view, View::Overview);
        assert_eq!(View::Overview.id(), "overview");
        assert_eq!(View::Alerts.id(), "alerts");
    }

    #[test]
    fn a_key_page_keeps_the_filters_and_puts_its_key_in_the_path() {
        let board = parse("period=week&api_key_hash=0123456789abcdef&language=go&view=system");
        let page = Page::from_key_param(Some("FEDCBA9876543210".into())).unwrap();
        assert_eq!(page, Page::Key("fedcba9876543210".into()));
        assert_eq!(
            page.url(&board),
            "/monitoring/keys/fedcba9876543210?period=week&language=go"
        );
        let shown = page.scope(board.clone());
        assert_eq!(shown.keys, ["fedcba9876543210"]);
        assert_eq!(shown.view, View::Overview);
        assert_eq!(shown.language, "go");
        // Back to the board: the filters without the page's key.
        let mut back = shown;
        back.keys.clear();
        assert_eq!(
            Page::Board.url(&back),
            "/monitoring?period=week&language=go"
        );
        assert_eq!(Page::Board.scope(board.clone()), board);
        assert_eq!(Page::from_key_param(None), Ok(Page::Board));
        let error = Page::from_key_param(Some("nothex".into())).unwrap_err();
        assert!(error.contains("`nothex` is not an API key"), "{error}");
    }

    #[test]
    fn unknown_values_fall_back_to_defaults() {
        let filters = parse("period=forever&refresh=7");
        assert_eq!(filters.period, "day");
        assert_eq!(filters.refresh, 0);
        let custom = parse("start_date=2026-11-01&end_date=2026-11-07&period=week");
        assert!(custom.is_custom());
        let query = custom.to_query("UTC");
        assert_eq!(query.period, None);
        assert_eq!(query.start_date.as_deref(), Some("2026-11-01"));
        assert_eq!(query.tz.as_deref(), Some("UTC"));
    }
}
