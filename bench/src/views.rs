//! The view matrix: every admin view and the dashboard's `get_summary`
//! server function, by period, time zone and key filter, each combination
//! timed `runs` times after one warm-up call that is dropped, on one or
//! more servers at once.

use std::time::Instant;

use tally_tests::MASTER_KEY;

use crate::{datasets::KeyFilter, report::Combination, report::percentile};

pub const PERIODS: [&str; 4] = ["day", "week", "month", "quarter"];
pub const ZONES: [&str; 3] = ["UTC", "America/New_York", "Asia/Kolkata"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `GET /api/v1/admin/metrics/{path}` with extra parameters.
    Admin {
        path: &'static str,
        extra: &'static [(&'static str, &'static str)],
    },
    /// The dashboard's summary server function.
    GetSummary,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub name: &'static str,
    pub kind: Kind,
}

const fn admin(path: &'static str) -> View {
    View {
        name: path,
        kind: Kind::Admin { path, extra: &[] },
    }
}

pub const VIEWS: [View; 10] = [
    admin("summary"),
    View {
        name: "languages (stacked by key)",
        kind: Kind::Admin {
            path: "languages",
            extra: &[("stack_by_api_key", "true")],
        },
    },
    admin("time-series"),
    admin("heatmap"),
    admin("api-keys"),
    admin("top-languages"),
    admin("requests"),
    admin("pool"),
    admin("by-language"),
    View {
        name: "server fn get_summary",
        kind: Kind::GetSummary,
    },
];

impl View {
    /// The server function is measured as the dashboard's default calls it.
    pub fn periods(self) -> &'static [&'static str] {
        match self.kind {
            Kind::Admin { .. } => &PERIODS,
            Kind::GetSummary => &["quarter"],
        }
    }

    pub fn zones(self) -> &'static [&'static str] {
        match self.kind {
            Kind::Admin { .. } => &ZONES,
            Kind::GetSummary => &["UTC"],
        }
    }
}

/// One call's parameters.
#[derive(Clone, Copy, Debug)]
pub struct Case<'a> {
    pub period: &'static str,
    pub tz: &'static str,
    pub filter: &'a KeyFilter,
}

/// Calls views on one server.
pub struct Caller {
    client: reqwest::Client,
    base_url: String,
    get_summary_path: String,
}

impl Caller {
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        let get_summary_path = leptos::server_fn::axum::server_fn_paths()
            .map(|(p, _)| p)
            .find(|p| p.contains("/get_summary"))
            .ok_or_else(|| anyhow::anyhow!("get_summary is not registered"))?
            .to_owned();
        Ok(Self {
            client: reqwest::Client::new(),
            base_url: base_url.to_owned(),
            get_summary_path,
        })
    }

    /// Waits until the server has loaded its hot counters from SQLite
    /// (`/readyz` says `counters_fresh`): work it does once after a start,
    /// which would otherwise fall on the first views measured.
    pub async fn settled(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let ready: serde_json::Value = self
                .client
                .get(format!("{}/readyz", self.base_url))
                .send()
                .await?
                .json()
                .await
                .unwrap_or_default();
            if ready["counters_fresh"] == true {
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed().as_secs() < 120,
                "{}: the hot counters were not loaded within two minutes",
                self.base_url
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Milliseconds from sending the request to the last byte of the answer.
    pub async fn time(&self, view: View, case: Case<'_>) -> anyhow::Result<f64> {
        let prefix = case.filter.prefix.as_deref();
        let request = match view.kind {
            Kind::Admin { path, extra } => {
                let mut params = vec![("period", case.period), ("tz", case.tz)];
                params.extend(prefix.map(|p| ("api_key_hash", p)));
                params.extend_from_slice(extra);
                self.client
                    .get(format!("{}/api/v1/admin/metrics/{path}", self.base_url))
                    .query(&params)
            }
            Kind::GetSummary => {
                let mut form = vec![("query[period]", case.period), ("query[tz]", case.tz)];
                form.extend(prefix.map(|p| ("query[api_key_hash]", p)));
                self.client
                    .post(format!("{}{}", self.base_url, self.get_summary_path))
                    .form(&form)
            }
        };
        let started = Instant::now();
        let response = request.header("x-api-key", MASTER_KEY).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        anyhow::ensure!(
            status.is_success(),
            "{} ({case:?}): {status}: {}",
            view.name,
            String::from_utf8_lossy(&body)
        );
        Ok(ms)
    }
}

/// Combinations per pass of the matrix with `filters` key filters.
pub fn combinations(filters: usize) -> usize {
    VIEWS
        .iter()
        .map(|v| v.periods().len() * v.zones().len() * filters)
        .sum()
}

/// One pass over every view, period, zone and filter on each of `servers`
/// (a caller and its dataset's label: one dataset at two sizes, say), all
/// running at once. Each combination is timed on one server after the
/// other, so that the machine's drift over the pass (on these VMs its
/// speed moves by half within minutes) moves every server's figures alike,
/// while each server's calls still run back to back, warm in the CPU's
/// caches (calls alternating between two servers measured the switching).
/// Returns each server's combinations, in the order given.
pub async fn matrix(
    servers: &[(&Caller, &str)],
    filters: &[KeyFilter],
    runs: usize,
) -> anyhow::Result<Vec<Vec<Combination>>> {
    let mut out = vec![Vec::new(); servers.len()];
    for view in VIEWS {
        for &period in view.periods() {
            for &tz in view.zones() {
                for filter in filters {
                    let case = Case { period, tz, filter };
                    for ((caller, dataset), out) in servers.iter().zip(&mut out) {
                        // The first call warms caches; it is not counted.
                        caller.time(view, case).await?;
                        let mut times = Vec::with_capacity(runs);
                        for _ in 0..runs {
                            times.push(caller.time(view, case).await?);
                        }
                        out.push(Combination {
                            dataset: (*dataset).to_owned(),
                            view: view.name,
                            period,
                            tz,
                            filter: filter.label,
                            key_prefix: filter.prefix.clone(),
                            runs,
                            p50_ms: percentile(&mut times, 0.5),
                            p95_ms: percentile(&mut times, 0.95),
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The combination with the highest p95 among those `keep` selects.
pub fn worst(combos: &[Combination], keep: impl Fn(&Combination) -> bool) -> Option<&Combination> {
    combos
        .iter()
        .filter(|c| keep(c))
        .max_by(|a, b| a.p95_ms.total_cmp(&b.p95_ms))
}

/// `Asia/Kolkata, busiest key`.
pub fn describe(c: &Combination) -> String {
    format!("{}, {}", c.tz, c.filter)
}
