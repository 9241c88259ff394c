//! `heatmap`: executions by local day of week (Monday first) × hour.

use app::types::Heatmap;
use chrono::{Datelike, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::{
    model::time::{HOUR_MS, MINUTE_MS},
    query::{
        Context, QueryError,
        aggregate::{Ask, aggregate},
        count,
        params::{Filter, format_in},
        plan::{ceil_to, floor_to},
    },
    storage::facts::{Executions, Fact, executions::EXECUTIONS},
};

pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

const QUARTER_MS: i64 = 15 * MINUTE_MS;

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

/// The local (weekday, hour) of an instant.
fn cell(ms: i64, tz: Tz) -> Option<(usize, usize)> {
    let local = Utc.timestamp_millis_opt(ms).single()?.with_timezone(&tz);
    Some((
        local.weekday().num_days_from_monday() as usize,
        local.hour() as usize,
    ))
}

/// The instants in `[from, to)` where the local hour changes, with `from`
/// and `to`: every zone's hours start on a quarter hour.
fn local_hours(from: i64, to: i64, tz: Tz) -> Vec<i64> {
    let mut bounds = vec![from];
    let mut current = cell(from, tz);
    let mut t = floor_to(from, QUARTER_MS) + QUARTER_MS;
    while t < to {
        let here = cell(t, tz);
        if here != current {
            bounds.push(t);
            current = here;
        }
        t += QUARTER_MS;
    }
    bounds.push(to);
    bounds
}

async fn heatmap_of(ctx: &Context, filter: &Filter) -> Result<Vec<Vec<u64>>, QueryError> {
    let mut matrix = vec![vec![0u64; 24]; 7];
    // Only data with hours is placed by hour: older days are left out.
    let from = filter
        .range
        .from_ms
        .max(ceil_to(ctx.detail_oldest_ms, HOUR_MS));
    if from >= filter.range.to_ms {
        return Ok(matrix);
    }
    let bounds = local_hours(from, filter.range.to_ms, filter.tz);
    let filters = ctx.dim_filters(filter, Executions::DECL.dims).await?;
    let groups = aggregate::<Executions>(
        ctx,
        &Ask {
            bounds: &bounds,
            group_by: &[],
            filters: &filters,
            measures: Some(&[EXECUTIONS]),
            hist: false,
        },
    )
    .await?;
    for g in groups {
        if let Some((day, hour)) = cell(bounds[g.interval], filter.tz) {
            matrix[day][hour] += count(g.get(EXECUTIONS));
        }
    }
    Ok(matrix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hours_start_on_the_zones_half_and_quarter_hours() {
        let day = 1_795_132_800_000; // 2026-11-21T00:00Z
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let b = local_hours(day, day + 3 * HOUR_MS, kolkata);
        assert_eq!(b[1] - day, 30 * 60_000);
        let kathmandu: Tz = "Asia/Kathmandu".parse().unwrap();
        let b = local_hours(day, day + 3 * HOUR_MS, kathmandu);
        assert_eq!(b[1] - day, 15 * 60_000);
        assert!(b.windows(2).skip(1).all(|w| w[1] - w[0] <= HOUR_MS));
    }
}
