//! `time-series`: executions, errors, success rate, average and p95 time
//! per minute, hour or local day.

use app::types::TimeSeries;
use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::{
    model::time::HOUR_MS,
    query::{
        Context, QueryError,
        aggregate::{Ask, aggregate},
        count,
        params::{Filter, Granularity, format_in, local_midnight_ms},
        percent,
        plan::floor_to,
        ratio, round3,
    },
    storage::facts::{Executions, Fact, executions::*},
};

pub async fn time_series(ctx: &Context, filter: &Filter) -> Result<TimeSeries, QueryError> {
    let mut series = time_series_of(ctx, filter).await?;
    if filter.compare {
        series.previous = Some(Box::new(time_series_of(ctx, &filter.previous()).await?));
    }
    Ok(series)
}

/// Bucket boundaries (Unix ms) of a series: minutes and hours from the
/// epoch, days from local midnight in the filter's zone (DST included).
pub(super) fn boundaries(filter: &Filter) -> Vec<i64> {
    let (from, to) = (filter.range.from_ms, filter.range.to_ms);
    match filter.granularity {
        Granularity::Day => {
            let first = local_date(from, filter.tz);
            let last = local_date(to - 1, filter.tz);
            first
                .iter_days()
                .take_while(|d| *d <= last.succ_opt().unwrap_or(*d))
                .map(|d| local_midnight_ms(d, filter.tz))
                .collect()
        }
        other => {
            let step = other.millis().unwrap_or(HOUR_MS);
            let first = floor_to(from, step);
            (0..)
                .map(|i| first + i * step)
                .take_while(|b| *b < to + step)
                .collect()
        }
    }
}

fn local_date(ms: i64, tz: Tz) -> NaiveDate {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map_or_else(NaiveDate::default, |t| t.with_timezone(&tz).date_naive())
}

async fn time_series_of(ctx: &Context, filter: &Filter) -> Result<TimeSeries, QueryError> {
    let bounds = boundaries(filter);
    let filters = ctx.dim_filters(filter, Executions::DECL.dims).await?;
    let groups = aggregate::<Executions>(
        ctx,
        &Ask {
            bounds: &bounds,
            group_by: &[],
            filters: &filters,
            measures: Some(&[EXECUTIONS, COMPLETED, SUM_TIME_MS, MAX_TIME_MS]),
            hist: true,
        },
    )
    .await?;
    let buckets = bounds.len().saturating_sub(1);
    let mut rows = vec![None; buckets];
    for g in groups {
        if let Some(slot) = rows.get_mut(g.interval) {
            *slot = Some(g);
        }
    }
    let get = |i: usize, m| rows[i].as_ref().map_or(0.0, |g| g.get(m));
    Ok(TimeSeries {
        timestamps: bounds[..buckets]
            .iter()
            .map(|&ms| format_in(ms, filter.tz))
            .collect(),
        executions: (0..buckets).map(|i| count(get(i, EXECUTIONS))).collect(),
        success_rate: (0..buckets)
            .map(|i| percent(get(i, COMPLETED), get(i, EXECUTIONS)))
            .collect(),
        avg_duration: (0..buckets)
            .map(|i| round3(ratio(get(i, SUM_TIME_MS), get(i, EXECUTIONS))))
            .collect(),
        granularity: filter.granularity.as_str().to_owned(),
        errors: (0..buckets)
            .map(|i| count(get(i, EXECUTIONS) - get(i, COMPLETED)))
            .collect(),
        p95_duration: rows
            .iter()
            .map(|g| {
                g.as_ref()
                    .and_then(|g| g.quantile(0.95, MAX_TIME_MS))
                    .map(round3)
            })
            .collect(),
        period: filter.range.period.clone(),
        start_date: format_in(filter.range.from_ms, filter.tz),
        end_date: format_in(filter.range.to_ms, filter.tz),
        timezone: filter.tz.name().to_owned(),
        previous: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::params::{self, Bounds};
    use app::types::MetricsQuery;

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
        let bounds = boundaries(&filter);
        let stamps: Vec<String> = bounds.iter().map(|&ms| format_in(ms, filter.tz)).collect();
        assert_eq!(
            stamps,
            [
                "2026-10-24T00:00:00+02:00",
                "2026-10-25T00:00:00+02:00",
                "2026-10-26T00:00:00+01:00",
                "2026-10-27T00:00:00+01:00"
            ]
        );
        assert_eq!(bounds[3] - bounds[0], (24 + 25 + 24) * HOUR_MS);
    }
}
