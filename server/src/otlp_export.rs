//! Exports Tally's own metrics ([`crate::self_metrics`]) over OTLP/HTTP
//! (protobuf) every interval, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set and
//! `ENABLE_TRACING` is not false; otherwise nothing runs (the no-op case).

use std::{sync::Arc, time::Duration};

use opentelemetry_proto::tonic::{
    collector::metrics::v1::ExportMetricsServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value},
    metrics::v1::{
        AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
        ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
    },
    resource::v1::Resource,
};
use prost::Message;
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    clock,
    ingest::writer::Writer,
    self_metrics::{Reading, SelfMetrics},
};

/// Where and how to export.
#[derive(Clone, Debug)]
pub struct ExportTarget {
    /// The full URL of the metrics endpoint.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub service_name: String,
    pub interval: Duration,
}

impl ExportTarget {
    /// From the standard OTel settings: a base endpoint gets `/v1/metrics`
    /// appended; headers are `key=value` pairs separated by commas.
    pub fn new(
        endpoint: &str,
        headers: Option<&str>,
        service_name: &str,
        interval: Duration,
    ) -> Self {
        let base = endpoint.trim_end_matches('/');
        let url = if base.ends_with("/v1/metrics") {
            base.to_owned()
        } else {
            format!("{base}/v1/metrics")
        };
        let headers = headers
            .unwrap_or("")
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .filter(|(k, _)| !k.is_empty())
            .collect();
        Self {
            url,
            headers,
            service_name: service_name.to_owned(),
            interval,
        }
    }
}

/// Starts the export loop; it stops when `stop` turns true.
pub fn start(
    target: ExportTarget,
    metrics: Arc<SelfMetrics>,
    writer: Writer,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        let started_ns = now_ns();
        let mut ticks = crate::jobs::every(target.interval, stop);
        let mut failing = false;
        while ticks.tick().await {
            let body = request(
                &target.service_name,
                &metrics.readings(writer.buffered()),
                started_ns,
                now_ns(),
            )
            .encode_to_vec();
            let mut post = client
                .post(&target.url)
                .header("content-type", "application/x-protobuf")
                .body(body);
            for (k, v) in &target.headers {
                post = post.header(k.as_str(), v.as_str());
            }
            match post
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
            {
                Ok(_) if failing => {
                    tracing::info!(url = %target.url, "OTLP export works again.");
                    failing = false;
                }
                Ok(_) => {}
                Err(error) if !failing => {
                    tracing::warn!(%error, url = %target.url, "OTLP export failed; retrying every interval.");
                    failing = true;
                }
                Err(_) => {}
            }
        }
    })
}

fn now_ns() -> u64 {
    u64::try_from(clock::now_ms()).unwrap_or(0) * 1_000_000
}

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

/// The OTLP request for one set of readings (cumulative since `start_ns`).
pub fn request(
    service_name: &str,
    readings: &[Reading],
    start_ns: u64,
    now_ns: u64,
) -> ExportMetricsServiceRequest {
    let cumulative = AggregationTemporality::Cumulative as i32;
    let mut metrics: Vec<Metric> = Vec::new();
    for reading in readings {
        let (name, unit, data) = match reading {
            Reading::Counter {
                name,
                labels,
                value,
            } => {
                let point = NumberDataPoint {
                    attributes: labels.iter().map(|(k, v)| string(k, v)).collect(),
                    start_time_unix_nano: start_ns,
                    time_unix_nano: now_ns,
                    value: Some(number_data_point::Value::AsDouble(*value)),
                    ..Default::default()
                };
                // One metric per name: later points join it.
                if let Some(Metric {
                    data: Some(Data::Sum(sum)),
                    ..
                }) = metrics.iter_mut().find(|m| m.name == *name)
                {
                    sum.data_points.push(point);
                    continue;
                }
                (
                    *name,
                    "1",
                    Data::Sum(Sum {
                        data_points: vec![point],
                        aggregation_temporality: cumulative,
                        is_monotonic: true,
                    }),
                )
            }
            Reading::Gauge { name, value } => (
                *name,
                "1",
                Data::Gauge(Gauge {
                    data_points: vec![NumberDataPoint {
                        time_unix_nano: now_ns,
                        value: Some(number_data_point::Value::AsDouble(*value)),
                        ..Default::default()
                    }],
                }),
            ),
            Reading::Histogram {
                name,
                unit,
                snapshot,
            } => (
                *name,
                *unit,
                Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        start_time_unix_nano: start_ns,
                        time_unix_nano: now_ns,
                        count: snapshot.count,
                        sum: Some(snapshot.sum),
                        bucket_counts: snapshot.buckets.clone(),
                        explicit_bounds: snapshot.bounds.clone(),
                        ..Default::default()
                    }],
                    aggregation_temporality: cumulative,
                }),
            ),
        };
        metrics.push(Metric {
            name: name.to_owned(),
            unit: unit.to_owned(),
            data: Some(data),
            ..Default::default()
        });
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![string("service.name", service_name)],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_headers_follow_the_otel_settings() {
        let t = ExportTarget::new(
            "http://collector:4318/",
            Some("x-api-key=abc, other = 1"),
            "tally",
            Duration::from_secs(10),
        );
        assert_eq!(t.url, "http://collector:4318/v1/metrics");
        assert_eq!(
            t.headers,
            vec![
                ("x-api-key".to_owned(), "abc".to_owned()),
                ("other".to_owned(), "1".to_owned())
            ]
        );
        let t = ExportTarget::new("http://h/v1/metrics", None, "tally", Duration::from_secs(1));
        assert_eq!(t.url, "http://h/v1/metrics");
    }

    #[test]
    fn counters_with_labels_share_one_metric() {
        let readings = vec![
            Reading::Counter {
                name: "ingest.events.total",
                labels: vec![("kind", "executions".into())],
                value: 3.0,
            },
            Reading::Counter {
                name: "ingest.events.total",
                labels: vec![("kind", "pool".into())],
                value: 1.0,
            },
            Reading::Gauge {
                name: "ingest.buffer.depth",
                value: 0.0,
            },
        ];
        let request = request("tally", &readings, 1, 2);
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(metrics.len(), 2);
        match &metrics[0].data {
            Some(Data::Sum(sum)) => assert_eq!(sum.data_points.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
