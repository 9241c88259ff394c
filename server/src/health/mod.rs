//! The health score: 0–100 from four 25-point factors over the last five
//! minutes (API response time, error rate, CPU, memory), a status level, and
//! rule-based recommendations.

mod check;

pub use check::HealthCheck;
use serde::Serialize;

/// What the score is computed from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HealthInputs {
    /// Average API response time, seconds (`None`: no requests).
    pub avg_response_seconds: Option<f64>,
    /// Percent of API requests answered 5xx.
    pub error_rate_percent: f64,
    pub cpu_percent: Option<f64>,
    pub memory_percent: Option<f64>,
    /// Percent of executions served from the pool (`None`: no executions).
    pub pool_hit_rate_percent: Option<f64>,
    /// The slowest endpoint's p95, if any: (endpoint, seconds).
    pub slowest_endpoint: Option<(String, f64)>,
    /// The counter store is unreachable (Redis down).
    pub counters_down: bool,
}

/// Where recommendations start.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Thresholds {
    pub slow_seconds: f64,
    pub error_rate_percent: f64,
    pub cpu_percent: f64,
    pub memory_percent: f64,
    pub pool_hit_rate_percent: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            slow_seconds: 1.0,
            error_rate_percent: 5.0,
            cpu_percent: 80.0,
            memory_percent: 85.0,
            pool_hit_rate_percent: 30.0,
        }
    }
}

pub use app::types::HealthFactors as Factors;

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub overall_score: u32,
    /// `excellent` ≥ 90, `good` ≥ 75, `fair` ≥ 60, `poor` ≥ 40, `critical` below.
    pub status: &'static str,
    pub factors: Factors,
    pub recommendations: Vec<String>,
    pub inputs: HealthInputs,
}

/// 25 points for a fast API, fewer as it slows; full marks without traffic.
fn response_points(seconds: Option<f64>) -> u32 {
    match seconds {
        None => 25,
        Some(s) if s < 0.1 => 25,
        Some(s) if s < 0.5 => 20,
        Some(s) if s < 1.0 => 15,
        Some(s) if s < 2.0 => 10,
        Some(_) => 5,
    }
}

fn error_points(percent: f64) -> u32 {
    match percent {
        p if p < 1.0 => 25,
        p if p < 5.0 => 20,
        p if p < 10.0 => 10,
        _ => 0,
    }
}

/// CPU and memory alike: 25 below half, falling as the machine fills.
fn usage_points(percent: Option<f64>) -> u32 {
    match percent {
        None => 25,
        Some(p) if p < 50.0 => 25,
        Some(p) if p < 70.0 => 20,
        Some(p) if p < 85.0 => 15,
        Some(p) if p < 95.0 => 10,
        Some(_) => 5,
    }
}

impl Health {
    /// What the dashboard shows.
    pub fn report(&self) -> app::types::HealthReport {
        app::types::HealthReport {
            overall_score: self.overall_score,
            status: self.status.to_owned(),
            factors: self.factors.clone(),
            recommendations: self.recommendations.clone(),
        }
    }
}

pub fn status_of(score: u32) -> &'static str {
    match score {
        90.. => "excellent",
        75..=89 => "good",
        60..=74 => "fair",
        40..=59 => "poor",
        _ => "critical",
    }
}

pub fn score(inputs: HealthInputs, thresholds: &Thresholds) -> Health {
    let factors = Factors {
        response_time: response_points(inputs.avg_response_seconds),
        error_rate: error_points(inputs.error_rate_percent),
        cpu_usage: usage_points(inputs.cpu_percent),
        memory_usage: usage_points(inputs.memory_percent),
    };
    let overall =
        factors.response_time + factors.error_rate + factors.cpu_usage + factors.memory_usage;
    let mut recommendations = Vec::new();
    if inputs
        .avg_response_seconds
        .is_some_and(|s| s > thresholds.slow_seconds)
    {
        recommendations.push(
            "Slow API responses: consider caching or optimising the slowest endpoints".to_owned(),
        );
    }
    if let Some((endpoint, seconds)) = &inputs.slowest_endpoint
        && *seconds > thresholds.slow_seconds
    {
        recommendations.push(format!(
            "Endpoint {endpoint} is slow (p95 {seconds:.2} s): look at it first"
        ));
    }
    if inputs.error_rate_percent > thresholds.error_rate_percent {
        recommendations.push("High error rate detected: investigate the error sources".to_owned());
    }
    if inputs
        .cpu_percent
        .is_some_and(|c| c > thresholds.cpu_percent)
    {
        recommendations.push("High CPU usage: consider scaling or optimisation".to_owned());
    }
    if inputs
        .memory_percent
        .is_some_and(|m| m > thresholds.memory_percent)
    {
        recommendations.push("High memory usage: consider memory optimisation".to_owned());
    }
    if inputs
        .pool_hit_rate_percent
        .is_some_and(|h| h < thresholds.pool_hit_rate_percent)
    {
        recommendations.push(
            "Low container-pool hit rate: grow the warm pool to avoid cold starts".to_owned(),
        );
    }
    if inputs.counters_down {
        recommendations.push(
            "The counter store (Redis) is unreachable: live counters are stale until it returns"
                .to_owned(),
        );
    }
    if recommendations.is_empty() {
        recommendations.push("System performance is optimal".to_owned());
    }
    Health {
        overall_score: overall,
        status: status_of(overall),
        factors,
        recommendations,
        inputs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(response: f64, errors: f64, cpu: f64, memory: f64) -> HealthInputs {
        HealthInputs {
            avg_response_seconds: Some(response),
            error_rate_percent: errors,
            cpu_percent: Some(cpu),
            memory_percent: Some(memory),
            ..HealthInputs::default()
        }
    }

    #[test]
    fn every_status_level_at_its_boundary() {
        let t = Thresholds::default();
        // 25 + 25 + 25 + 15 = 90: excellent; 25+25+25+10 = 85: good.
        assert_eq!(score(inputs(0.05, 0.0, 10.0, 70.0), &t).status, "excellent");
        assert_eq!(score(inputs(0.05, 0.0, 10.0, 70.0), &t).overall_score, 90);
        assert_eq!(score(inputs(0.05, 0.0, 10.0, 85.0), &t).status, "good");
        // 20 + 20 + 20 + 15 = 75: good; one step less: fair.
        assert_eq!(score(inputs(0.2, 1.0, 50.0, 70.0), &t).overall_score, 75);
        assert_eq!(score(inputs(0.2, 1.0, 50.0, 70.0), &t).status, "good");
        assert_eq!(score(inputs(0.2, 1.0, 50.0, 85.0), &t).overall_score, 70);
        assert_eq!(score(inputs(0.2, 1.0, 50.0, 85.0), &t).status, "fair");
        // 15 + 10 + 15 + 20 = 60: fair; 59 is poor.
        assert_eq!(score(inputs(0.5, 5.0, 70.0, 50.0), &t).overall_score, 60);
        assert_eq!(score(inputs(0.5, 5.0, 70.0, 50.0), &t).status, "fair");
        assert_eq!(status_of(59), "poor");
        // 10 + 10 + 10 + 10 = 40: poor; 5 + 0 + 5 + 5 = 15: critical.
        assert_eq!(score(inputs(1.0, 5.0, 85.0, 85.0), &t).overall_score, 40);
        assert_eq!(score(inputs(1.0, 5.0, 85.0, 85.0), &t).status, "poor");
        assert_eq!(score(inputs(3.0, 20.0, 99.0, 99.0), &t).status, "critical");
    }

    #[test]
    fn recommendations_follow_the_thresholds() {
        let t = Thresholds::default();
        let healthy = score(inputs(0.05, 0.0, 10.0, 10.0), &t);
        assert_eq!(
            healthy.recommendations,
            vec!["System performance is optimal".to_owned()]
        );
        let mut sick = inputs(1.5, 12.0, 90.0, 90.0);
        sick.pool_hit_rate_percent = Some(10.0);
        sick.counters_down = true;
        sick.slowest_endpoint = Some(("POST /api/v1/exec".into(), 3.0));
        let advice = score(sick, &t).recommendations.join(" | ");
        for word in [
            "Slow API",
            "POST /api/v1/exec",
            "error rate",
            "CPU",
            "memory",
            "pool hit rate",
            "Redis",
        ] {
            assert!(advice.contains(word), "{word}: {advice}");
        }
    }
}
