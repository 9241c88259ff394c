//! InfluxDB line protocol of every admin view (`format=influx`):
//! `measurement,tag=value field=1i,other=2.5 <timestamp ns>`. Text fields of
//! a record become tags, numbers fields; time series and the heatmap give
//! one line per bucket or cell.

use std::fmt::Write;

use chrono::DateTime;
use serde::Serialize;
use serde_json::{Map, Value};

use app::types::{
    ApiKeyUsage, Heatmap, LanguageStats, Languages, PoolStats, RequestStats, Summary, TimeSeries,
    TopLanguages,
};

/// A view written as line protocol, stamped `now_ns` unless it has its own times.
pub trait InfluxLines {
    fn lines(&self, now_ns: i64) -> String;
}

/// Escapes a measurement name, tag key or tag value.
fn escape_tag(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, ',' | '=' | ' ') {
            out.push('\\');
        }
        if c == '\n' {
            out.push_str("\\n");
            continue;
        }
        out.push(c);
    }
    out
}

fn escape_string_field(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// One line; nothing when there are no fields (the protocol needs one).
fn line(
    out: &mut String,
    measurement: &str,
    tags: &[(String, String)],
    fields: &[(String, Value)],
    ns: i64,
) {
    let fields: Vec<String> = fields
        .iter()
        .filter_map(|(k, v)| {
            let value = match v {
                Value::Number(n) if n.is_i64() || n.is_u64() => format!("{n}i"),
                Value::Number(n) => n.as_f64().filter(|f| f.is_finite())?.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::String(s) => format!("\"{}\"", escape_string_field(s)),
                _ => return None,
            };
            Some(format!("{}={value}", escape_tag(k)))
        })
        .collect();
    if fields.is_empty() {
        return;
    }
    out.push_str(&escape_tag(measurement));
    let mut tags: Vec<&(String, String)> = tags.iter().filter(|(_, v)| !v.is_empty()).collect();
    tags.sort();
    for (k, v) in tags {
        let _ = write!(out, ",{}={}", escape_tag(k), escape_tag(v));
    }
    let _ = writeln!(out, " {} {ns}", fields.join(","));
}

/// A serialisable record: strings become tags, numbers and booleans fields;
/// the listed keys are left out (dates, nested values).
fn record<T: Serialize>(
    out: &mut String,
    measurement: &str,
    value: &T,
    skip: &[&str],
    extra_tags: &[(String, String)],
    ns: i64,
) {
    let Ok(Value::Object(map)) = serde_json::to_value(value) else {
        return;
    };
    let (tags, fields) = split(map, skip);
    let mut all_tags = extra_tags.to_vec();
    all_tags.extend(tags);
    line(out, measurement, &all_tags, &fields, ns);
}

type Tags = Vec<(String, String)>;
type Fields = Vec<(String, Value)>;

fn split(map: Map<String, Value>, skip: &[&str]) -> (Tags, Fields) {
    let mut tags = Vec::new();
    let mut fields = Vec::new();
    for (k, v) in map {
        if skip.contains(&k.as_str()) {
            continue;
        }
        match v {
            Value::String(s) => tags.push((k, s)),
            Value::Number(_) | Value::Bool(_) => fields.push((k, v)),
            _ => {}
        }
    }
    (tags, fields)
}

const DATES: [&str; 3] = ["start_date", "end_date", "previous"];

fn ns_of(rfc3339: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(rfc3339)
        .ok()?
        .timestamp_nanos_opt()
}

impl InfluxLines for Summary {
    fn lines(&self, now_ns: i64) -> String {
        let mut out = String::new();
        record(&mut out, "tally_summary", self, &DATES, &[], now_ns);
        out
    }
}

impl InfluxLines for Languages {
    fn lines(&self, now_ns: i64) -> String {
        let mut out = String::new();
        for (language, n) in &self.by_language {
            line(
                &mut out,
                "tally_languages",
                &[
                    ("language".into(), language.clone()),
                    ("period".into(), self.period.clone()),
                ],
                &[("executions".into(), Value::from(*n))],
                now_ns,
            );
        }
        for (language, keys) in self.matrix.iter().flatten() {
            for (key, n) in keys {
                line(
                    &mut out,
                    "tally_languages_by_key",
                    &[
                        ("language".into(), language.clone()),
                        ("api_key".into(), key.clone()),
                        ("period".into(), self.period.clone()),
                    ],
                    &[("executions".into(), Value::from(*n))],
                    now_ns,
                );
            }
        }
        out
    }
}

impl InfluxLines for TimeSeries {
    fn lines(&self, _now_ns: i64) -> String {
        let mut out = String::new();
        for (i, stamp) in self.timestamps.iter().enumerate() {
            let Some(ns) = ns_of(stamp) else { continue };
            let mut fields = vec![
                ("executions".to_owned(), Value::from(self.executions[i])),
                ("errors".to_owned(), Value::from(self.errors[i])),
                ("success_rate".to_owned(), Value::from(self.success_rate[i])),
                (
                    "avg_duration_ms".to_owned(),
                    Value::from(self.avg_duration[i]),
                ),
            ];
            if let Some(p95) = self.p95_duration[i] {
                fields.push(("p95_duration_ms".to_owned(), Value::from(p95)));
            }
            line(
                &mut out,
                "tally_time_series",
                &[("granularity".into(), self.granularity.clone())],
                &fields,
                ns,
            );
        }
        out
    }
}

impl InfluxLines for Heatmap {
    fn lines(&self, now_ns: i64) -> String {
        let mut out = String::new();
        for (day, row) in self.days.iter().zip(&self.matrix) {
            for (hour, n) in self.hours.iter().zip(row) {
                line(
                    &mut out,
                    "tally_heatmap",
                    &[
                        ("day".into(), day.clone()),
                        ("hour".into(), format!("{hour:02}")),
                        ("timezone".into(), self.timezone.clone()),
                    ],
                    &[("executions".into(), Value::from(*n))],
                    now_ns,
                );
            }
        }
        out
    }
}

impl InfluxLines for Vec<ApiKeyUsage> {
    fn lines(&self, now_ns: i64) -> String {
        let mut out = String::new();
        for key in self {
            record(
                &mut out,
                "tally_api_keys",
                key,
                &["key_prefix", "source"],
                &[],
                now_ns,
            );
        }
        out
    }
}

impl InfluxLines for TopLanguages {
    fn lines(&self, now_ns: i64) -> String {
        let mut out = String::new();
        for (rank, l) in self.languages.iter().enumerate() {
            line(
                &mut out,
                "tally_top_languages",
                &[
                    ("language".into(), l.language.clone()),
                    ("period".into(), self.period.clone()),
                ],
                &[
                    ("count".into(), Value::from(l.count)),
                    ("rank".into(), Value::from(rank + 1)),
                ],
                now_ns,
            );
        }
        out
    }
}

impl InfluxLines for RequestStats {
    fn lines(&self, now_ns: i64) -> String {
        let mut out = String::new();
        record(&mut out, "tally_requests", self, &DATES, &[], now_ns);
        for endpoint in &self.endpoints {
            record(
                &mut out,
                "tally_requests_by_endpoint",
                endpoint,
                &[],
                &[],
                now_ns,
            );
        }
        out
    }
}

impl InfluxLines for PoolStats {
    fn lines(&self, now_ns: i64) -> String {
        let mut out = String::new();
        record(&mut out, "tally_pool", self, &DATES, &[], now_ns);
        for cost in &self.cold_start_cost {
            record(&mut out, "tally_cold_start_cost", cost, &[], &[], now_ns);
        }
        out
    }
}

impl InfluxLines for Vec<LanguageStats> {
    fn lines(&self, now_ns: i64) -> String {
        let mut out = String::new();
        for stats in self {
            record(&mut out, "tally_by_language", stats, &[], &[], now_ns);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_escape_tags_and_type_fields() {
        let keys = vec![ApiKeyUsage {
            key_hash: "0123456789abcdef".into(),
            name: Some("Acme, prod=1".into()),
            usage_count: 7,
            cpu_time_ms: 1.5,
            ..Default::default()
        }];
        let text = keys.lines(1_000);
        let line = text.lines().next().unwrap();
        assert!(
            line.starts_with("tally_api_keys,key_hash=0123456789abcdef,name=Acme\\,\\ prod\\=1 "),
            "{line}"
        );
        assert!(line.contains("usage_count=7i"), "{line}");
        assert!(line.contains("cpu_time_ms=1.5"), "{line}");
        assert!(line.ends_with(" 1000"), "{line}");
    }

    #[test]
    fn time_series_lines_carry_their_bucket_time() {
        let series = TimeSeries {
            timestamps: vec!["2026-11-21T10:00:00+01:00".into()],
            executions: vec![3],
            success_rate: vec![100.0],
            avg_duration: vec![12.5],
            errors: vec![0],
            p95_duration: vec![None],
            granularity: "hour".into(),
            ..Default::default()
        };
        let text = series.lines(0);
        assert_eq!(
            text,
            "tally_time_series,granularity=hour executions=3i,errors=0i,success_rate=100,avg_duration_ms=12.5 1795251600000000000\n"
        );
    }
}
