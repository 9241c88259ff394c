//! CSV (RFC 4180) of every admin view: a header row, then one row per
//! record; fields with commas, quotes or line breaks are quoted.

use app::types::{
    ApiKeyUsage, Heatmap, LanguageStats, Languages, PoolStats, RequestStats, Summary, TimeSeries,
    TopLanguages,
};

/// A view that can be written as a table.
pub trait CsvTable {
    fn header(&self) -> Vec<String>;
    fn rows(&self) -> Vec<Vec<String>>;

    fn to_csv(&self) -> String {
        let mut out = String::new();
        write_row(&mut out, &self.header());
        for row in self.rows() {
            write_row(&mut out, &row);
        }
        out
    }
}

fn write_row(out: &mut String, fields: &[String]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

fn strings<const N: usize>(names: [&str; N]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn opt(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Any serializable record as `field,value` rows (nested values as JSON).
fn key_values<T: serde::Serialize>(value: &T, skip: &[&str]) -> Vec<Vec<String>> {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(value) else {
        return Vec::new();
    };
    map.into_iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            vec![k, v]
        })
        .collect()
}

impl CsvTable for Summary {
    fn header(&self) -> Vec<String> {
        strings(["field", "value", "previous"])
    }
    fn rows(&self) -> Vec<Vec<String>> {
        let previous: Vec<Vec<String>> = self
            .previous
            .as_deref()
            .map(|p| key_values(p, &["previous"]))
            .unwrap_or_default();
        key_values(self, &["previous"])
            .into_iter()
            .map(|mut row| {
                let before = previous
                    .iter()
                    .find(|p| p[0] == row[0])
                    .map(|p| p[1].clone())
                    .unwrap_or_default();
                row.push(before);
                row
            })
            .collect()
    }
}

impl CsvTable for Languages {
    fn header(&self) -> Vec<String> {
        let mut header = strings(["language", "executions"]);
        if let Some(keys) = &self.by_api_key {
            header.extend(keys.keys().cloned());
        }
        if self.previous.is_some() {
            header.push("previous".to_owned());
        }
        header
    }
    fn rows(&self) -> Vec<Vec<String>> {
        self.by_language
            .iter()
            .map(|(language, n)| {
                let mut row = vec![language.clone(), n.to_string()];
                if let (Some(keys), Some(matrix)) = (&self.by_api_key, &self.matrix) {
                    let cells = matrix.get(language);
                    row.extend(keys.keys().map(|k| {
                        cells
                            .and_then(|c| c.get(k))
                            .copied()
                            .unwrap_or(0)
                            .to_string()
                    }));
                }
                if let Some(previous) = &self.previous {
                    row.push(previous.get(language).copied().unwrap_or(0).to_string());
                }
                row
            })
            .collect()
    }
}

impl CsvTable for TimeSeries {
    fn header(&self) -> Vec<String> {
        strings([
            "timestamp",
            "executions",
            "errors",
            "success_rate",
            "avg_duration",
            "p95_duration",
        ])
    }
    fn rows(&self) -> Vec<Vec<String>> {
        (0..self.timestamps.len())
            .map(|i| {
                vec![
                    self.timestamps[i].clone(),
                    self.executions[i].to_string(),
                    self.errors[i].to_string(),
                    self.success_rate[i].to_string(),
                    self.avg_duration[i].to_string(),
                    opt(self.p95_duration[i]),
                ]
            })
            .collect()
    }
}

impl CsvTable for Heatmap {
    fn header(&self) -> Vec<String> {
        let mut header = vec!["day".to_owned()];
        header.extend(self.hours.iter().map(|h| format!("{h:02}")));
        header
    }
    fn rows(&self) -> Vec<Vec<String>> {
        self.days
            .iter()
            .zip(&self.matrix)
            .map(|(day, cells)| {
                let mut row = vec![day.clone()];
                row.extend(cells.iter().map(u64::to_string));
                row
            })
            .collect()
    }
}

impl CsvTable for Vec<ApiKeyUsage> {
    fn header(&self) -> Vec<String> {
        strings([
            "key_hash",
            "name",
            "usage_count",
            "success_count",
            "error_count",
            "cpu_time_ms",
            "memory_mb_seconds",
            "execution_time_ms",
            "files_uploaded",
            "files_generated",
            "output_bytes",
            "api_requests",
        ])
    }
    fn rows(&self) -> Vec<Vec<String>> {
        self.iter()
            .map(|k| {
                vec![
                    k.key_hash.clone(),
                    k.name.clone().unwrap_or_default(),
                    k.usage_count.to_string(),
                    k.success_count.to_string(),
                    k.error_count.to_string(),
                    k.cpu_time_ms.to_string(),
                    k.memory_mb_seconds.to_string(),
                    k.execution_time_ms.to_string(),
                    k.files_uploaded.to_string(),
                    k.files_generated.to_string(),
                    k.output_bytes.to_string(),
                    k.api_requests.to_string(),
                ]
            })
            .collect()
    }
}

impl CsvTable for TopLanguages {
    fn header(&self) -> Vec<String> {
        strings(["rank", "language", "count"])
    }
    fn rows(&self) -> Vec<Vec<String>> {
        self.languages
            .iter()
            .enumerate()
            .map(|(i, l)| vec![(i + 1).to_string(), l.language.clone(), l.count.to_string()])
            .collect()
    }
}

impl CsvTable for RequestStats {
    fn header(&self) -> Vec<String> {
        strings([
            "endpoint",
            "method",
            "requests",
            "requests_per_second",
            "error_rate",
            "errors_5xx",
            "errors_4xx",
            "avg_ms",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "max_ms",
        ])
    }
    fn rows(&self) -> Vec<Vec<String>> {
        self.endpoints
            .iter()
            .map(|e| {
                vec![
                    e.endpoint.clone(),
                    e.method.clone(),
                    e.requests.to_string(),
                    e.requests_per_second.to_string(),
                    e.error_rate.to_string(),
                    e.errors_5xx.to_string(),
                    e.errors_4xx.to_string(),
                    e.avg_ms.to_string(),
                    opt(e.p50_ms),
                    opt(e.p95_ms),
                    opt(e.p99_ms),
                    e.max_ms.to_string(),
                ]
            })
            .collect()
    }
}

impl CsvTable for PoolStats {
    fn header(&self) -> Vec<String> {
        strings([
            "language",
            "pool_hit_executions",
            "pool_miss_executions",
            "avg_ms_pool_hit",
            "avg_ms_pool_miss",
            "cold_start_penalty_ms",
        ])
    }
    fn rows(&self) -> Vec<Vec<String>> {
        self.cold_start_cost
            .iter()
            .map(|c| {
                vec![
                    c.language.clone(),
                    c.pool_hit_executions.to_string(),
                    c.pool_miss_executions.to_string(),
                    c.avg_ms_pool_hit.to_string(),
                    c.avg_ms_pool_miss.to_string(),
                    c.cold_start_penalty_ms.to_string(),
                ]
            })
            .collect()
    }
}

impl CsvTable for Vec<LanguageStats> {
    fn header(&self) -> Vec<String> {
        strings([
            "language",
            "executions",
            "success_count",
            "failure_count",
            "timeout_count",
            "error_rate",
            "avg_execution_time_ms",
            "p95_execution_time_ms",
            "avg_memory_peak_mb",
        ])
    }
    fn rows(&self) -> Vec<Vec<String>> {
        self.iter()
            .map(|l| {
                vec![
                    l.language.clone(),
                    l.executions.to_string(),
                    l.success_count.to_string(),
                    l.failure_count.to_string(),
                    l.timeout_count.to_string(),
                    l.error_rate.to_string(),
                    l.avg_execution_time_ms.to_string(),
                    opt(l.p95_execution_time_ms),
                    l.avg_memory_peak_mb.to_string(),
                ]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_needed() {
        let keys = vec![ApiKeyUsage {
            key_hash: "0123456789abcdef".to_owned(),
            name: Some("Acme, \"prod\"\nteam".to_owned()),
            ..Default::default()
        }];
        let csv = keys.to_csv();
        let second = csv.split("\r\n").nth(1).unwrap();
        assert!(
            second.starts_with("0123456789abcdef,\"Acme, \"\"prod\"\"\nteam\",0,"),
            "{csv}"
        );
    }

    #[test]
    fn heatmap_is_seven_rows_of_24() {
        let heatmap = Heatmap {
            matrix: vec![vec![1; 24]; 7],
            days: (0..7).map(|d| format!("d{d}")).collect(),
            hours: (0..24).collect(),
            ..Default::default()
        };
        let csv = heatmap.to_csv();
        let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
        assert_eq!(lines.len(), 8);
        assert!(lines.iter().all(|l| l.split(',').count() == 25));
    }
}
