//! What each rule reads, through the same query layer as the API, and
//! whether it fires now.

use super::rules::{Condition, HealthLevel, Rule, Source};
use crate::{
    health::HealthCheck,
    model::time::{HOUR_MS, WEEK_MS},
    query::{self, QueryError, params::Filter},
};

/// One reading of a rule for one subject.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// `""` for the whole platform; a key's 16-hex prefix for key rules.
    pub subject: String,
    pub value: f64,
    pub threshold: f64,
    /// `None`: no verdict (too few events in the window): an open incident
    /// neither keeps firing nor counts as clear.
    pub firing: Option<bool>,
    pub message: String,
}

/// Reads `rule` as of `now_ms`. Subjects not in the answer are clear.
pub async fn evaluate(
    check: &HealthCheck,
    rule: &Rule,
    now_ms: i64,
) -> Result<Vec<Reading>, QueryError> {
    let context = check.source.context();
    let last = |seconds: u64| Filter::between(now_ms - seconds as i64 * 1000, context.now_ms);
    let platform = |value: f64, threshold: f64, firing: Option<bool>, message: String| {
        vec![Reading {
            subject: String::new(),
            value,
            threshold,
            firing,
            message,
        }]
    };
    Ok(match &rule.condition {
        Condition::ErrorRate {
            source,
            above_percent,
            window_seconds,
            min_events,
        } => {
            let filter = last(*window_seconds);
            let (events, rate, what) = match source {
                Source::Executions => {
                    let s = query::summary(&context, &filter).await?;
                    (
                        s.total_executions,
                        100.0 - s.success_rate,
                        ("execution", "executions failed"),
                    )
                }
                Source::Requests => {
                    let r = query::requests(&context, &filter).await?;
                    (
                        r.total_requests,
                        r.error_rate,
                        ("request", "requests answered 5xx"),
                    )
                }
            };
            let firing = (events >= *min_events).then_some(rate > *above_percent);
            platform(
                rate,
                *above_percent,
                firing,
                if firing.is_some() {
                    format!(
                        "{rate:.1} % of {events} {} in the last {} (threshold {above_percent} %)",
                        noun(events, what),
                        span(*window_seconds)
                    )
                } else {
                    too_few(events, *min_events, *window_seconds)
                },
            )
        }
        Condition::P95Time {
            source,
            above_ms,
            window_seconds,
            min_events,
        } => {
            let filter = last(*window_seconds);
            let (events, p95, what) = match source {
                Source::Executions => {
                    let s = query::summary(&context, &filter).await?;
                    (
                        s.total_executions,
                        s.p95_execution_time_ms,
                        ("execution", "executions"),
                    )
                }
                Source::Requests => {
                    let r = query::requests(&context, &filter).await?;
                    (r.total_requests, r.p95_ms, ("request", "requests"))
                }
            };
            let p95 = p95.unwrap_or(0.0);
            let firing = (events >= *min_events).then_some(p95 > *above_ms);
            platform(
                p95,
                *above_ms,
                firing,
                if firing.is_some() {
                    format!(
                        "p95 of {events} {} is {p95:.0} ms over the last {} (threshold {above_ms} ms)",
                        noun(events, what),
                        span(*window_seconds)
                    )
                } else {
                    too_few(events, *min_events, *window_seconds)
                },
            )
        }
        Condition::PoolExhaustion {
            at_least,
            window_seconds,
        } => {
            let filter = last(*window_seconds);
            let exhausted = query::pool(&context, &filter).await?.exhausted;
            platform(
                exhausted as f64,
                *at_least as f64,
                Some(exhausted >= *at_least),
                format!(
                    "the container pool was exhausted {exhausted} {} in the last {}",
                    if exhausted == 1 { "time" } else { "times" },
                    span(*window_seconds)
                ),
            )
        }
        Condition::HealthBelow { status } => {
            let health = check.assess().await?;
            let score = f64::from(health.overall_score);
            platform(
                score,
                status.min_score(),
                Some(below(score, *status)),
                format!(
                    "health is {} ({}/100); alert below {}",
                    health.status,
                    health.overall_score,
                    status.as_str()
                ),
            )
        }
        Condition::KeySpike {
            factor,
            weeks,
            min_executions,
        } => key_spikes(&context, now_ms, *factor, *weeks, *min_executions).await?,
    })
}

/// `(one, many)`: "1 execution failed" but "2 executions failed".
fn noun(n: u64, (one, many): (&'static str, &'static str)) -> String {
    if n == 1 {
        // The singular noun, then whatever follows it in the plural phrase.
        let rest = many.split_once(' ').map_or("", |(_, rest)| rest);
        if rest.is_empty() {
            one.to_owned()
        } else {
            format!("{one} {rest}")
        }
    } else {
        many.to_owned()
    }
}

fn too_few(events: u64, min_events: u64, window_seconds: u64) -> String {
    format!(
        "no verdict: {events} events in the last {}, fewer than min_events = {min_events}",
        span(window_seconds)
    )
}

fn below(score: f64, level: HealthLevel) -> bool {
    score < level.min_score()
}

/// Executions per key in the last hour against the same hour of each of the
/// previous `weeks` weeks (those still within the daily retention).
async fn key_spikes(
    context: &query::Context,
    now_ms: i64,
    factor: f64,
    weeks: u32,
    min_executions: u64,
) -> Result<Vec<Reading>, QueryError> {
    let usage = |from: i64, to: i64| async move {
        query::api_keys(context, &Filter::between(from, to)).await
    };
    let current = usage(now_ms - HOUR_MS, now_ms).await?;
    let mut past: Vec<Vec<(String, u64)>> = Vec::new();
    for week in 1..=i64::from(weeks) {
        let to = now_ms - week * WEEK_MS;
        // Hour windows read raw rows and hourly rollups: only within their retention.
        if to - HOUR_MS < context.detail_oldest_ms {
            break;
        }
        let rows = usage(to - HOUR_MS, to).await?;
        past.push(
            rows.into_iter()
                .map(|k| (k.key_hash, k.usage_count))
                .collect(),
        );
    }
    Ok(current
        .into_iter()
        .filter(|k| k.usage_count > 0)
        .map(|key| {
            let baseline = spike_baseline(&past, &key.key_hash);
            let threshold = factor * baseline;
            let now = key.usage_count;
            Reading {
                firing: Some(is_spike(now, baseline, factor, min_executions)),
                value: now as f64,
                threshold,
                message: if baseline > 0.0 {
                    format!(
                        "key {} ran {now} executions in the last hour, {:.1} × its average of {baseline:.1} for this hour over the past {} weeks",
                        key.key_prefix,
                        now as f64 / baseline,
                        past.len()
                    )
                } else {
                    format!(
                        "key {} ran {now} executions in the last hour, with none in this hour over the past {} weeks",
                        key.key_prefix,
                        past.len()
                    )
                },
                subject: key.key_hash,
            }
        })
        .collect())
}

/// Average executions of `key` over the past weeks' same hour (0 without history).
fn spike_baseline(past: &[Vec<(String, u64)>], key: &str) -> f64 {
    if past.is_empty() {
        return 0.0;
    }
    let total: u64 = past
        .iter()
        .map(|week| week.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n))
        .sum();
    total as f64 / past.len() as f64
}

/// A spike: enough executions to matter, and more than `factor` times the
/// usual (a key with no history spikes once it reaches `min_executions`).
fn is_spike(now: u64, baseline: f64, factor: f64, min_executions: u64) -> bool {
    now >= min_executions && now as f64 > factor * baseline
}

/// "5 min", "1 h", "90 s".
fn span(seconds: u64) -> String {
    match seconds {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spikes_need_volume_and_a_multiple_of_the_usual() {
        let past = vec![
            vec![("a".to_owned(), 100), ("b".to_owned(), 10)],
            vec![("a".to_owned(), 50)],
        ];
        assert_eq!(spike_baseline(&past, "a"), 75.0);
        assert_eq!(spike_baseline(&past, "b"), 5.0);
        assert_eq!(spike_baseline(&past, "c"), 0.0);
        assert_eq!(spike_baseline(&[], "a"), 0.0);
        // 3 × 75 = 225: above fires, at does not.
        assert!(is_spike(226, 75.0, 3.0, 100));
        assert!(!is_spike(225, 75.0, 3.0, 100));
        // Too little to matter, however far above the usual.
        assert!(!is_spike(99, 5.0, 3.0, 100));
        // No history: the volume alone decides.
        assert!(is_spike(100, 0.0, 3.0, 100));
    }

    #[test]
    fn health_levels_fire_strictly_below_their_floor() {
        assert!(below(74.0, HealthLevel::Good));
        assert!(!below(75.0, HealthLevel::Good));
        assert!(below(59.0, HealthLevel::Fair));
        assert!(!below(60.0, HealthLevel::Fair));
        assert!(below(39.0, HealthLevel::Poor));
        assert!(!below(90.0, HealthLevel::Excellent));
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(
            noun(1, ("execution", "executions failed")),
            "execution failed"
        );
        assert_eq!(
            noun(2, ("execution", "executions failed")),
            "executions failed"
        );
        assert_eq!(noun(1, ("request", "requests")), "request");
        assert_eq!(noun(0, ("request", "requests")), "requests");
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(300), "5 min");
        assert_eq!(span(3600), "1 h");
        assert_eq!(span(90), "90 s");
    }
}
