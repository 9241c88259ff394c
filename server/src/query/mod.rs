//! The query layer: every figure the REST API, the exports and the
//! dashboard's server functions show is computed here, from rollups (and
//! raw rows only for sub-hour edges), never by scanning raw rows over a long
//! period.

pub mod params;
pub mod plan;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use app::types::{
    ApiKeyUsage, ColdStartCost, EndpointStats, Heatmap, LanguageCount, LanguageStats, Languages,
    MetricsQuery, PoolStats, RequestStats, Summary, TimeSeries, TopLanguages,
};
use params::{Bounds, Filter, Granularity, ParamError, format_in, local_midnight_ms};
use plan::{HOUR_MS, ceil_to, floor_to};

use crate::{
    histogram::{self, Counts},
    storage::{
        Storage,
        queries::{
            Aggregate, Dim, EXECUTIONS, Fact, Group, POOL, Piece, REQUESTS, Source as PieceSource,
        },
    },
};

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("database: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Where queries read from: the storage and the retention that bounds it.
#[derive(Clone, Debug)]
pub struct Source {
    pub storage: Storage,
    pub execution_retention_days: u32,
    pub daily_retention_days: u32,
}

impl Source {
    /// A context as of now.
    pub fn context(&self) -> Context {
        let now_ms = crate::clock::now_ms();
        let day_ms = 86_400_000;
        Context {
            storage: self.storage.clone(),
            now_ms,
            detail_oldest_ms: now_ms - i64::from(self.execution_retention_days) * day_ms,
            daily_oldest_ms: now_ms - i64::from(self.daily_retention_days) * day_ms,
        }
    }
}

/// What a query needs besides its parameters.
#[derive(Clone)]
pub struct Context {
    pub storage: Storage,
    pub now_ms: i64,
    /// Oldest raw row and hourly rollup kept (execution retention).
    pub detail_oldest_ms: i64,
    /// Oldest daily rollup kept.
    pub daily_oldest_ms: i64,
}

impl Context {
    pub fn filter(&self, query: &MetricsQuery) -> Result<Filter, ParamError> {
        params::parse(
            query,
            Bounds {
                now_ms: self.now_ms,
                oldest_ms: self.daily_oldest_ms,
            },
        )
    }

    fn exact(&self, filter: &Filter) -> Vec<Piece> {
        plan::exact(
            filter.range.from_ms,
            filter.range.to_ms,
            self.detail_oldest_ms,
            self.now_ms,
        )
    }

    /// Key ids of the filter's keys and tenants (`None`: no key filter).
    /// Both given: the listed keys that belong to the listed tenants.
    async fn key_ids(&self, filter: &Filter) -> Result<Option<Vec<i64>>, sqlx::Error> {
        let by_key = match &filter.keys {
            None => None,
            Some(prefixes) => Some(self.storage.key_ids_for_prefixes(prefixes).await?),
        };
        let by_tenant = match &filter.tenants {
            None => None,
            Some(tenants) => Some(self.storage.key_ids_for_tenants(tenants).await?),
        };
        Ok(match (by_key, by_tenant) {
            (Some(keys), Some(of_tenants)) => Some(
                keys.into_iter()
                    .filter(|id| of_tenants.contains(id))
                    .collect(),
            ),
            (keys, of_tenants) => keys.or(of_tenants),
        })
    }

    /// Groups of `fact` over `pieces`, with the filter's keys and languages.
    async fn groups(
        &self,
        fact: &Fact,
        filter: &Filter,
        pieces: &[Piece],
        group_by: &[Dim],
        with_hist: bool,
    ) -> Result<Vec<Group>, QueryError> {
        let key_ids = self.key_ids(filter).await?;
        Ok(self
            .storage
            .aggregate(&Aggregate {
                fact,
                pieces,
                group_by,
                key_ids: key_ids.as_deref(),
                languages: filter.languages.as_deref(),
                with_hist,
                raw_minutes: false,
            })
            .await?)
    }

    /// Id → 16-hex prefix and name of every key.
    async fn key_labels(&self) -> Result<HashMap<i64, (String, Option<String>)>, sqlx::Error> {
        Ok(self
            .storage
            .api_keys()
            .await?
            .into_iter()
            .map(|k| (k.id, (k.prefix, k.name)))
            .collect())
    }
}

/// Label of executions sent without an API key.
pub const NO_KEY: &str = "none";

/// Execution totals, added up from groups.
#[derive(Clone, Debug)]
struct ExecTotals {
    executions: f64,
    completed: f64,
    failed: f64,
    timeout: f64,
    error: f64,
    sum_time_ms: f64,
    max_time_ms: f64,
    sum_cpu_ms: f64,
    sum_memory_mb: f64,
    max_memory_mb: f64,
    sum_memory_mb_s: f64,
    files_uploaded: f64,
    files_generated: f64,
    output_bytes: f64,
    sum_queue_wait_ms: f64,
    pool_hit: f64,
    pool_miss: f64,
    keys: HashSet<i64>,
    hist: Box<Counts>,
}

impl Default for ExecTotals {
    fn default() -> Self {
        Self {
            executions: 0.0,
            completed: 0.0,
            failed: 0.0,
            timeout: 0.0,
            error: 0.0,
            sum_time_ms: 0.0,
            max_time_ms: 0.0,
            sum_cpu_ms: 0.0,
            sum_memory_mb: 0.0,
            max_memory_mb: 0.0,
            sum_memory_mb_s: 0.0,
            files_uploaded: 0.0,
            files_generated: 0.0,
            output_bytes: 0.0,
            sum_queue_wait_ms: 0.0,
            pool_hit: 0.0,
            pool_miss: 0.0,
            keys: HashSet::new(),
            hist: Box::new([0; histogram::BINS]),
        }
    }
}

impl ExecTotals {
    /// Adds a group; `group_by` says where status, source and key sit.
    fn add(&mut self, group: &Group, group_by: &[Dim]) {
        let f = &EXECUTIONS;
        let n = group.get(f, "executions");
        if n == 0.0 {
            return;
        }
        self.executions += n;
        if let Some(i) = group_by.iter().position(|d| *d == Dim::Status) {
            match group.dims[i].text() {
                "completed" => self.completed += n,
                "failed" => self.failed += n,
                "timeout" => self.timeout += n,
                _ => self.error += n,
            }
        }
        if let Some(i) = group_by.iter().position(|d| *d == Dim::ContainerSource) {
            match group.dims[i].text() {
                "pool_hit" => self.pool_hit += n,
                "pool_miss" => self.pool_miss += n,
                _ => {}
            }
        }
        if let Some(i) = group_by.iter().position(|d| *d == Dim::Key) {
            let key = group.dims[i].int();
            if key != 0 {
                self.keys.insert(key);
            }
        }
        self.sum_time_ms += group.get(f, "sum_time_ms");
        self.max_time_ms = self.max_time_ms.max(group.get(f, "max_time_ms"));
        self.sum_cpu_ms += group.get(f, "sum_cpu_ms");
        self.sum_memory_mb += group.get(f, "sum_memory_mb");
        self.max_memory_mb = self.max_memory_mb.max(group.get(f, "max_memory_mb"));
        self.sum_memory_mb_s += group.get(f, "sum_memory_mb_s");
        self.files_uploaded += group.get(f, "sum_files_uploaded");
        self.files_generated += group.get(f, "sum_files_generated");
        self.output_bytes += group.get(f, "sum_output_bytes");
        self.sum_queue_wait_ms += group.get(f, "sum_queue_wait_ms");
        if let Some(hist) = &group.hist {
            for (a, b) in self.hist.iter_mut().zip(hist.iter()) {
                *a += b;
            }
        }
    }

    fn avg(&self, sum: f64) -> f64 {
        if self.executions > 0.0 {
            sum / self.executions
        } else {
            0.0
        }
    }

    fn quantile(&self, q: f64) -> Option<f64> {
        histogram::quantile(&self.hist, q).map(round3)
    }
}

fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        round3(100.0 * part / whole)
    } else {
        0.0
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn count(x: f64) -> u64 {
    x.max(0.0).round() as u64
}

// ---------------------------------------------------------------------------
// Views

/// `summary`: totals, rates, percentiles and resource use.
pub async fn summary(ctx: &Context, filter: &Filter) -> Result<Summary, QueryError> {
    let mut summary = summary_of(ctx, filter).await?;
    if filter.compare {
        summary.previous = Some(Box::new(summary_of(ctx, &filter.previous()).await?));
    }
    Ok(summary)
}

async fn summary_of(ctx: &Context, filter: &Filter) -> Result<Summary, QueryError> {
    let group_by = [Dim::Key, Dim::Status, Dim::ContainerSource];
    let groups = ctx
        .groups(&EXECUTIONS, filter, &ctx.exact(filter), &group_by, true)
        .await?;
    let mut t = ExecTotals::default();
    for group in &groups {
        t.add(group, &group_by);
    }
    Ok(Summary {
        total_executions: count(t.executions),
        success_count: count(t.completed),
        failure_count: count(t.failed + t.error),
        timeout_count: count(t.timeout),
        success_rate: percent(t.completed, t.executions),
        avg_execution_time_ms: round3(t.avg(t.sum_time_ms)),
        pool_hit_rate: percent(t.pool_hit, t.pool_hit + t.pool_miss),
        active_api_keys: t.keys.len() as u64,
        period: filter.range.period.clone(),
        start_date: format_in(filter.range.from_ms, filter.tz),
        end_date: format_in(filter.range.to_ms, filter.tz),
        failed_count: count(t.failed),
        error_count: count(t.error),
        p50_execution_time_ms: t.quantile(0.50),
        p95_execution_time_ms: t.quantile(0.95),
        p99_execution_time_ms: t.quantile(0.99),
        percentile_relative_error: round3(histogram::RELATIVE_ERROR),
        max_execution_time_ms: t.max_time_ms,
        total_cpu_time_ms: round3(t.sum_cpu_ms),
        total_memory_mb_seconds: round3(t.sum_memory_mb_s),
        avg_memory_peak_mb: round3(t.avg(t.sum_memory_mb)),
        max_memory_peak_mb: t.max_memory_mb,
        files_uploaded: count(t.files_uploaded),
        files_generated: count(t.files_generated),
        output_bytes: count(t.output_bytes),
        avg_queue_wait_ms: round3(t.avg(t.sum_queue_wait_ms)),
        timezone: filter.tz.name().to_owned(),
        previous: None,
    })
}

/// Executions per language (and per key), for `languages` and `top-languages`.
async fn language_counts(
    ctx: &Context,
    filter: &Filter,
    by_key: bool,
) -> Result<Vec<(String, i64, u64)>, QueryError> {
    let group_by: &[Dim] = if by_key {
        &[Dim::Language, Dim::Key]
    } else {
        &[Dim::Language]
    };
    let groups = ctx
        .groups(&EXECUTIONS, filter, &ctx.exact(filter), group_by, false)
        .await?;
    Ok(groups
        .iter()
        .filter_map(|g| {
            let n = count(g.get(&EXECUTIONS, "executions"));
            let key = if by_key { g.dims[1].int() } else { 0 };
            (n > 0).then(|| (g.dims[0].text().to_owned(), key, n))
        })
        .collect())
}

/// `languages`: executions by language, optionally stacked by key.
pub async fn languages(ctx: &Context, filter: &Filter) -> Result<Languages, QueryError> {
    let rows = language_counts(ctx, filter, filter.stack_by_api_key).await?;
    let mut by_language: BTreeMap<String, u64> = BTreeMap::new();
    for (language, _, n) in &rows {
        *by_language.entry(language.clone()).or_default() += n;
    }
    let (by_api_key, matrix) = if filter.stack_by_api_key {
        let labels = ctx.key_labels().await?;
        let label = |id: i64| {
            labels
                .get(&id)
                .map_or_else(|| NO_KEY.to_owned(), |(p, _)| p.clone())
        };
        let mut by_key: BTreeMap<String, u64> = BTreeMap::new();
        let mut matrix: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for (language, key, n) in &rows {
            *by_key.entry(label(*key)).or_default() += n;
            *matrix
                .entry(language.clone())
                .or_default()
                .entry(label(*key))
                .or_default() += n;
        }
        (Some(by_key), Some(matrix))
    } else {
        (None, None)
    };
    let previous = if filter.compare {
        let mut previous: BTreeMap<String, u64> = BTreeMap::new();
        for (language, _, n) in language_counts(ctx, &filter.previous(), false).await? {
            *previous.entry(language).or_default() += n;
        }
        Some(previous)
    } else {
        None
    };
    Ok(Languages {
        by_language,
        by_api_key,
        matrix,
        period: filter.range.period.clone(),
        start_date: format_in(filter.range.from_ms, filter.tz),
        end_date: format_in(filter.range.to_ms, filter.tz),
        previous,
    })
}

/// `top-languages`: the `limit` most used languages.
pub async fn top_languages(ctx: &Context, filter: &Filter) -> Result<TopLanguages, QueryError> {
    async fn top(ctx: &Context, filter: &Filter) -> Result<Vec<LanguageCount>, QueryError> {
        let mut rows: Vec<LanguageCount> = language_counts(ctx, filter, false)
            .await?
            .into_iter()
            .map(|(language, _, count)| LanguageCount { language, count })
            .collect();
        rows.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.language.cmp(&b.language))
        });
        rows.truncate(filter.limit as usize);
        Ok(rows)
    }
    Ok(TopLanguages {
        languages: top(ctx, filter).await?,
        period: filter.range.period.clone(),
        previous: if filter.compare {
            Some(top(ctx, &filter.previous()).await?)
        } else {
            None
        },
    })
}

/// The bucket starts of a time series and how to find a bucket's index.
struct Buckets {
    granularity: Granularity,
    tz: Tz,
    /// Bucket starts, Unix ms.
    starts: Vec<i64>,
    /// For day buckets: the local date of `starts[0]`.
    first_date: Option<NaiveDate>,
}

impl Buckets {
    fn new(filter: &Filter) -> Self {
        let (from, to) = (filter.range.from_ms, filter.range.to_ms);
        match filter.granularity {
            Granularity::Minute | Granularity::Hour => {
                let step = if filter.granularity == Granularity::Minute {
                    60_000
                } else {
                    HOUR_MS
                };
                let starts = (floor_to(from, step)..to).step_by(step as usize).collect();
                Self {
                    granularity: filter.granularity,
                    tz: filter.tz,
                    starts,
                    first_date: None,
                }
            }
            Granularity::Day => {
                let first = local_date(from, filter.tz);
                let last = local_date(to - 1, filter.tz);
                let starts = first
                    .iter_days()
                    .take_while(|d| *d <= last)
                    .map(|d| local_midnight_ms(d, filter.tz))
                    .collect();
                Self {
                    granularity: Granularity::Day,
                    tz: filter.tz,
                    starts,
                    first_date: Some(first),
                }
            }
        }
    }

    /// Index of the bucket holding a rollup bucket starting at `secs`.
    /// `utc_day` says the rollup is a UTC day (placed by its UTC date).
    fn index(&self, secs: i64, utc_day: bool) -> Option<usize> {
        let ms = secs * 1000;
        let index = match (self.granularity, self.first_date) {
            (Granularity::Day, Some(first)) => {
                let date = if utc_day {
                    Utc.timestamp_millis_opt(ms).single()?.date_naive()
                } else {
                    local_date(ms, self.tz)
                };
                (date - first).num_days()
            }
            (Granularity::Minute, _) => (ms - self.starts.first()?) / 60_000,
            _ => (ms - self.starts.first()?).div_euclid(HOUR_MS),
        };
        usize::try_from(index)
            .ok()
            .filter(|i| *i < self.starts.len())
    }

    fn span(&self) -> (i64, i64) {
        let first = self.starts.first().copied().unwrap_or_default();
        let end = match self.granularity {
            Granularity::Minute => self.starts.last().map_or(first, |s| s + 60_000),
            Granularity::Hour => self.starts.last().map_or(first, |s| s + HOUR_MS),
            Granularity::Day => self
                .first_date
                .and_then(|d| d.checked_add_days(chrono::Days::new(self.starts.len() as u64)))
                .map_or(first, |d| local_midnight_ms(d, self.tz)),
        };
        (first, end)
    }
}

fn local_date(ms: i64, tz: Tz) -> NaiveDate {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map_or_else(NaiveDate::default, |t| t.with_timezone(&tz).date_naive())
}

/// Whether `tz` is UTC all the way through `[from, to]`.
fn is_utc_over(tz: Tz, from_ms: i64, to_ms: i64) -> bool {
    [from_ms, to_ms].iter().all(|&ms| {
        Utc.timestamp_millis_opt(ms).single().is_some_and(|t| {
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
                == 0
        })
    })
}

/// `time-series`: executions, errors, success rate, average and p95 time per bucket.
pub async fn time_series(ctx: &Context, filter: &Filter) -> Result<TimeSeries, QueryError> {
    let mut series = time_series_of(ctx, filter).await?;
    if filter.compare {
        series.previous = Some(Box::new(time_series_of(ctx, &filter.previous()).await?));
    }
    Ok(series)
}

async fn time_series_of(ctx: &Context, filter: &Filter) -> Result<TimeSeries, QueryError> {
    let buckets = Buckets::new(filter);
    let (from, to) = buckets.span();
    let utc_days = filter.granularity == Granularity::Day && is_utc_over(filter.tz, from, to);
    let pieces = match filter.granularity {
        Granularity::Minute => vec![Piece {
            source: PieceSource::Raw,
            from_ms: from,
            to_ms: to,
        }],
        Granularity::Day if utc_days => vec![Piece {
            source: PieceSource::Daily,
            from_ms: from,
            to_ms: to,
        }],
        _ => plan::hourly(from, to, ctx.detail_oldest_ms),
    };
    let group_by = [Dim::Bucket, Dim::Status];
    let key_ids = ctx.key_ids(filter).await?;
    let groups = ctx
        .storage
        .aggregate(&Aggregate {
            fact: &EXECUTIONS,
            pieces: &pieces,
            group_by: &group_by,
            key_ids: key_ids.as_deref(),
            languages: filter.languages.as_deref(),
            with_hist: true,
            raw_minutes: filter.granularity == Granularity::Minute,
        })
        .await?;
    let mut totals: Vec<ExecTotals> = vec![ExecTotals::default(); buckets.starts.len()];
    let daily_before = pieces
        .iter()
        .filter(|p| p.source == PieceSource::Daily)
        .map(|p| p.to_ms)
        .max()
        .unwrap_or(i64::MIN);
    for group in &groups {
        let secs = group.dims[0].int();
        let from_daily = secs * 1000 < daily_before;
        if let Some(i) = buckets.index(secs, from_daily) {
            totals[i].add(group, &group_by);
        }
    }
    Ok(TimeSeries {
        timestamps: buckets
            .starts
            .iter()
            .map(|&ms| format_in(ms, filter.tz))
            .collect(),
        executions: totals.iter().map(|t| count(t.executions)).collect(),
        success_rate: totals
            .iter()
            .map(|t| percent(t.completed, t.executions))
            .collect(),
        avg_duration: totals
            .iter()
            .map(|t| round3(t.avg(t.sum_time_ms)))
            .collect(),
        granularity: filter.granularity.as_str().to_owned(),
        errors: totals
            .iter()
            .map(|t| count(t.executions - t.completed))
            .collect(),
        p95_duration: totals.iter().map(|t| t.quantile(0.95)).collect(),
        period: filter.range.period.clone(),
        start_date: format_in(from, filter.tz),
        end_date: format_in(to, filter.tz),
        timezone: filter.tz.name().to_owned(),
        previous: None,
    })
}

pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// `heatmap`: executions by local day of week (Monday first) × hour.
pub async fn heatmap(ctx: &Context, filter: &Filter) -> Result<Heatmap, QueryError> {
    let matrix = heatmap_of(ctx, filter).await?;
    let previous = if filter.compare {
        Some(heatmap_of(ctx, &filter.previous()).await?)
    } else {
        None
    };
    Ok(Heatmap {
        max_value: matrix.iter().flatten().copied().max().unwrap_or(0),
        matrix,
        days: WEEKDAYS.iter().map(|d| (*d).to_owned()).collect(),
        hours: (0..24).collect(),
        period: filter.range.period.clone(),
        start_date: format_in(filter.range.from_ms, filter.tz),
        end_date: format_in(filter.range.to_ms, filter.tz),
        timezone: filter.tz.name().to_owned(),
        previous,
    })
}

async fn heatmap_of(ctx: &Context, filter: &Filter) -> Result<Vec<Vec<u64>>, QueryError> {
    // Only hourly rollups can be placed by hour; older data is left out.
    let from = filter
        .range
        .from_ms
        .max(ceil_to(ctx.detail_oldest_ms, HOUR_MS));
    let pieces: Vec<Piece> = plan::hourly(from, filter.range.to_ms, ctx.detail_oldest_ms)
        .into_iter()
        .filter(|p| p.source == PieceSource::Hourly)
        .collect();
    let groups = ctx
        .groups(&EXECUTIONS, filter, &pieces, &[Dim::Bucket], false)
        .await?;
    let mut matrix = vec![vec![0u64; 24]; 7];
    for group in groups {
        let Some(start) = Utc.timestamp_opt(group.dims[0].int(), 0).single() else {
            continue;
        };
        let local = start.with_timezone(&filter.tz);
        let day = local.weekday().num_days_from_monday() as usize;
        let hour = local.hour() as usize;
        matrix[day][hour] += count(group.get(&EXECUTIONS, "executions"));
    }
    Ok(matrix)
}

/// `api-keys`: every known key with its usage and resource consumption.
pub async fn api_keys(ctx: &Context, filter: &Filter) -> Result<Vec<ApiKeyUsage>, QueryError> {
    let key_ids = ctx.key_ids(filter).await?;
    let pieces = ctx.exact(filter);
    let group_by = [Dim::Key, Dim::Status];
    let executions = ctx
        .groups(&EXECUTIONS, filter, &pieces, &group_by, false)
        .await?;
    let requests = ctx
        .groups(&REQUESTS, filter, &pieces, &[Dim::Key], false)
        .await?;
    let mut per_key: HashMap<i64, ExecTotals> = HashMap::new();
    for group in &executions {
        per_key
            .entry(group.dims[0].int())
            .or_default()
            .add(group, &group_by);
    }
    let requests: HashMap<i64, f64> = requests
        .iter()
        .map(|g| (g.dims[0].int(), g.get(&REQUESTS, "requests")))
        .collect();
    let wanted: Option<HashSet<i64>> = key_ids.map(|ids| ids.into_iter().collect());
    let mut rows: Vec<ApiKeyUsage> = ctx
        .storage
        .api_keys()
        .await?
        .into_iter()
        .filter(|k| wanted.as_ref().is_none_or(|w| w.contains(&k.id)))
        .map(|k| {
            let id = k.id;
            let t = per_key.remove(&id).unwrap_or_default();
            ApiKeyUsage {
                key_prefix: k.name.clone().unwrap_or_else(|| k.prefix.clone()),
                key_hash: k.prefix,
                name: k.name,
                tenant: k.tenant,
                usage_count: count(t.executions),
                source: "rollups".to_owned(),
                success_count: count(t.completed),
                error_count: count(t.executions - t.completed),
                cpu_time_ms: round3(t.sum_cpu_ms),
                memory_mb_seconds: round3(t.sum_memory_mb_s),
                execution_time_ms: round3(t.sum_time_ms),
                files_uploaded: count(t.files_uploaded),
                files_generated: count(t.files_generated),
                output_bytes: count(t.output_bytes),
                api_requests: count(requests.get(&id).copied().unwrap_or(0.0)),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.usage_count
            .cmp(&a.usage_count)
            .then_with(|| a.key_hash.cmp(&b.key_hash))
    });
    Ok(rows)
}

/// `by-language`: per-language execution statistics.
pub async fn language_stats(
    ctx: &Context,
    filter: &Filter,
) -> Result<Vec<LanguageStats>, QueryError> {
    let group_by = [Dim::Language, Dim::Status];
    let groups = ctx
        .groups(&EXECUTIONS, filter, &ctx.exact(filter), &group_by, true)
        .await?;
    let mut per_language: BTreeMap<String, ExecTotals> = BTreeMap::new();
    for group in &groups {
        per_language
            .entry(group.dims[0].text().to_owned())
            .or_default()
            .add(group, &group_by);
    }
    let mut stats: Vec<LanguageStats> = per_language
        .into_iter()
        .filter(|(_, t)| t.executions > 0.0)
        .map(|(language, t)| LanguageStats {
            language,
            executions: count(t.executions),
            success_count: count(t.completed),
            failure_count: count(t.failed + t.error),
            timeout_count: count(t.timeout),
            error_rate: percent(t.executions - t.completed, t.executions),
            avg_execution_time_ms: round3(t.avg(t.sum_time_ms)),
            p95_execution_time_ms: t.quantile(0.95),
            avg_memory_peak_mb: round3(t.avg(t.sum_memory_mb)),
        })
        .collect();
    stats.sort_by(|a, b| {
        b.executions
            .cmp(&a.executions)
            .then_with(|| a.language.cmp(&b.language))
    });
    Ok(stats)
}

/// `requests`: API requests overall and by endpoint.
pub async fn requests(ctx: &Context, filter: &Filter) -> Result<RequestStats, QueryError> {
    let group_by = [Dim::Endpoint, Dim::Method, Dim::StatusClass];
    let groups = ctx
        .groups(&REQUESTS, filter, &ctx.exact(filter), &group_by, true)
        .await?;
    #[derive(Default)]
    struct Acc {
        requests: f64,
        e5: f64,
        e4: f64,
        cache: f64,
        sum_ms: f64,
        max_ms: f64,
        hist: Option<Box<Counts>>,
    }
    impl Acc {
        fn add(&mut self, g: &Group) {
            let n = g.get(&REQUESTS, "requests");
            self.requests += n;
            match g.dims[2].int() {
                5 => self.e5 += n,
                4 => self.e4 += n,
                _ => {}
            }
            self.cache += g.get(&REQUESTS, "cache_hits");
            self.sum_ms += g.get(&REQUESTS, "sum_duration_ms");
            self.max_ms = self.max_ms.max(g.get(&REQUESTS, "max_duration_ms"));
            if let Some(h) = &g.hist {
                let mine = self
                    .hist
                    .get_or_insert_with(|| Box::new([0; histogram::BINS]));
                for (a, b) in mine.iter_mut().zip(h.iter()) {
                    *a += b;
                }
            }
        }
        fn q(&self, q: f64) -> Option<f64> {
            self.hist
                .as_ref()
                .and_then(|h| histogram::quantile(h, q))
                .map(round3)
        }
    }
    let seconds = (filter.range.len_ms() as f64 / 1000.0).max(1.0);
    let mut total = Acc::default();
    let mut classes: BTreeMap<String, u64> = BTreeMap::new();
    let mut endpoints: BTreeMap<(String, String), Acc> = BTreeMap::new();
    for g in &groups {
        total.add(g);
        *classes.entry(format!("{}xx", g.dims[2].int())).or_default() +=
            count(g.get(&REQUESTS, "requests"));
        endpoints
            .entry((g.dims[0].text().to_owned(), g.dims[1].text().to_owned()))
            .or_default()
            .add(g);
    }
    let mut endpoints: Vec<EndpointStats> = endpoints
        .into_iter()
        .filter(|(_, a)| a.requests > 0.0)
        .map(|((endpoint, method), a)| EndpointStats {
            endpoint,
            method,
            requests: count(a.requests),
            requests_per_second: round3(a.requests / seconds),
            error_rate: percent(a.e5, a.requests),
            errors_5xx: count(a.e5),
            errors_4xx: count(a.e4),
            avg_ms: round3(if a.requests > 0.0 {
                a.sum_ms / a.requests
            } else {
                0.0
            }),
            p50_ms: a.q(0.5),
            p95_ms: a.q(0.95),
            p99_ms: a.q(0.99),
            max_ms: a.max_ms,
        })
        .collect();
    endpoints.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| a.endpoint.cmp(&b.endpoint))
    });
    classes.retain(|_, n| *n > 0);
    Ok(RequestStats {
        total_requests: count(total.requests),
        requests_per_second: round3(total.requests / seconds),
        error_rate: percent(total.e5, total.requests),
        client_error_rate: percent(total.e4, total.requests),
        cache_hit_rate: percent(total.cache, total.requests),
        p50_ms: total.q(0.5),
        p95_ms: total.q(0.95),
        p99_ms: total.q(0.99),
        status_classes: classes,
        endpoints,
        period: filter.range.period.clone(),
        start_date: format_in(filter.range.from_ms, filter.tz),
        end_date: format_in(filter.range.to_ms, filter.tz),
    })
}

/// `pool`: pool hit rate, cold starts, exhaustion, and cold-start cost.
pub async fn pool(ctx: &Context, filter: &Filter) -> Result<PoolStats, QueryError> {
    let pieces = ctx.exact(filter);
    let events = ctx
        .groups(&POOL, filter, &pieces, &[Dim::PoolKind], false)
        .await?;
    let (mut hits, mut misses, mut exhausted, mut hit_ms, mut miss_ms) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for g in &events {
        let n = g.get(&POOL, "events");
        let ms = g.get(&POOL, "sum_acquire_ms");
        match g.dims[0].text() {
            "hit" => (hits, hit_ms) = (hits + n, hit_ms + ms),
            "miss" => (misses, miss_ms) = (misses + n, miss_ms + ms),
            _ => exhausted += n,
        }
    }
    let group_by = [Dim::Language, Dim::ContainerSource];
    let executions = ctx
        .groups(&EXECUTIONS, filter, &pieces, &group_by, false)
        .await?;
    let mut per_language: BTreeMap<String, (ExecTotals, ExecTotals)> = BTreeMap::new();
    for g in &executions {
        let entry = per_language.entry(g.dims[0].text().to_owned()).or_default();
        match g.dims[1].text() {
            "pool_hit" => entry.0.add(g, &group_by),
            "pool_miss" => entry.1.add(g, &group_by),
            _ => {}
        }
    }
    let cold_start_cost = per_language
        .into_iter()
        .filter(|(_, (h, m))| h.executions + m.executions > 0.0)
        .map(|(language, (h, m))| {
            let (hit_avg, miss_avg) = (h.avg(h.sum_time_ms), m.avg(m.sum_time_ms));
            ColdStartCost {
                language,
                pool_hit_executions: count(h.executions),
                pool_miss_executions: count(m.executions),
                avg_ms_pool_hit: round3(hit_avg),
                avg_ms_pool_miss: round3(miss_avg),
                cold_start_penalty_ms: if h.executions > 0.0 && m.executions > 0.0 {
                    round3(miss_avg - hit_avg)
                } else {
                    0.0
                },
            }
        })
        .collect();
    Ok(PoolStats {
        hit_rate: percent(hits, hits + misses),
        hits: count(hits),
        cold_starts: count(misses),
        exhausted: count(exhausted),
        avg_acquire_ms_hit: round3(if hits > 0.0 { hit_ms / hits } else { 0.0 }),
        avg_acquire_ms_miss: round3(if misses > 0.0 { miss_ms / misses } else { 0.0 }),
        cold_start_cost,
        period: filter.range.period.clone(),
        start_date: format_in(filter.range.from_ms, filter.tz),
        end_date: format_in(filter.range.to_ms, filter.tz),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_buckets_follow_local_days_across_dst() {
        let filter = params::parse(
            &MetricsQuery {
                start_date: Some("2026-10-24".to_owned()),
                end_date: Some("2026-10-26".to_owned()),
                tz: Some("Europe/Berlin".to_owned()),
                granularity: Some("day".to_owned()),
                ..Default::default()
            },
            Bounds {
                now_ms: 1_795_300_000_000,
                oldest_ms: 0,
            },
        )
        .unwrap();
        let buckets = Buckets::new(&filter);
        let stamps: Vec<String> = buckets
            .starts
            .iter()
            .map(|&ms| format_in(ms, filter.tz))
            .collect();
        assert_eq!(
            stamps,
            [
                "2026-10-24T00:00:00+02:00",
                "2026-10-25T00:00:00+02:00",
                "2026-10-26T00:00:00+01:00"
            ]
        );
        // 23:00 UTC on the 25th is midnight of the 26th in Berlin (CET).
        let secs = chrono::DateTime::parse_from_rfc3339("2026-10-25T23:00:00Z")
            .unwrap()
            .timestamp();
        assert_eq!(buckets.index(secs, false), Some(2));
        assert_eq!(buckets.index(secs - 3600, false), Some(1));
        let (from, to) = buckets.span();
        assert_eq!(to - from, (24 + 25 + 24) * HOUR_MS);
        assert!(!is_utc_over(filter.tz, from, to));
        assert!(is_utc_over(Tz::UTC, from, to));
    }
}
