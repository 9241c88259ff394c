//! `languages`, `top-languages` and `by-language`.

use std::collections::{BTreeMap, HashMap};

use app::types::{LanguageCount, LanguageStats, Languages, TopLanguages};

use super::range_bounds;
use crate::{
    query::{
        Context, NO_KEY, QueryError,
        aggregate::{Ask, aggregate},
        count,
        params::{Filter, format_in},
        percent, ratio, round3,
    },
    storage::facts::{Dim, Executions, Fact, executions::*},
};

/// Executions per language name (and per key id), for `languages` and
/// `top-languages`.
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
    let filters = ctx.dim_filters(filter, Executions::DECL.dims).await?;
    let groups = aggregate::<Executions>(
        ctx,
        &Ask {
            bounds: &range_bounds(filter),
            group_by,
            filters: &filters,
            measures: Some(&[EXECUTIONS]),
            hist: false,
        },
    )
    .await?;
    let names = ctx.storage.language_names().await?;
    Ok(groups
        .iter()
        .filter_map(|g| {
            let n = count(g.get(EXECUTIONS));
            let language = names.get(&g.dims[0])?.clone();
            (n > 0).then_some((language, g.dims[1], n))
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
        let mut totals: HashMap<String, u64> = HashMap::new();
        for (language, _, n) in language_counts(ctx, filter, false).await? {
            *totals.entry(language).or_default() += n;
        }
        let mut rows: Vec<LanguageCount> = totals
            .into_iter()
            .map(|(language, count)| LanguageCount { language, count })
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

/// `by-language`: per-language execution statistics.
pub async fn language_stats(
    ctx: &Context,
    filter: &Filter,
) -> Result<Vec<LanguageStats>, QueryError> {
    let filters = ctx.dim_filters(filter, Executions::DECL.dims).await?;
    let groups = aggregate::<Executions>(
        ctx,
        &Ask {
            bounds: &range_bounds(filter),
            group_by: &[Dim::Language],
            filters: &filters,
            measures: None,
            hist: true,
        },
    )
    .await?;
    let names = ctx.storage.language_names().await?;
    let mut stats: Vec<LanguageStats> = groups
        .iter()
        .filter(|g| g.get(EXECUTIONS) > 0.0)
        .filter_map(|g| {
            let n = g.get(EXECUTIONS);
            Some(LanguageStats {
                language: names.get(&g.dims[0])?.clone(),
                executions: count(n),
                success_count: count(g.get(COMPLETED)),
                failure_count: count(g.get(FAILED) + g.get(ERRORED)),
                timeout_count: count(g.get(TIMED_OUT)),
                error_rate: percent(n - g.get(COMPLETED), n),
                avg_execution_time_ms: round3(ratio(g.get(SUM_TIME_MS), n)),
                p95_execution_time_ms: g.quantile(0.95, MAX_TIME_MS).map(round3),
                avg_memory_peak_mb: round3(ratio(g.get(SUM_MEMORY_MB), n)),
            })
        })
        .collect();
    stats.sort_by(|a, b| {
        b.executions
            .cmp(&a.executions)
            .then_with(|| a.language.cmp(&b.language))
    });
    Ok(stats)
}
