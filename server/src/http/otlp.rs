//! OTLP/HTTP metrics receiver, `POST /v1/metrics`: the official OTLP
//! messages (the `opentelemetry-proto` crate) in protobuf or JSON encoding,
//! optionally gzip'd. Data points become custom metric series (name and
//! attributes) with their points; sums, gauges, histograms and summaries are
//! kept, with cardinality limits that answer 400 naming what overflowed.

use std::{collections::BTreeMap, io::Read};

use axum::{
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    handler::Handler,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use opentelemetry_proto::tonic::{
    collector::metrics::v1::ExportMetricsServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value},
    metrics::v1::{metric::Data, number_data_point},
};
use prost::Message;

use crate::{
    clock,
    http::{
        error::ApiError,
        openapi::Doc,
        routes::{Access, Routes},
    },
    state::AppState,
    storage::custom_metrics::{MetricPoint, PointValue},
};

/// Largest decompressed body accepted.
const MAX_DECODED_BYTES: usize = 32 * 1024 * 1024;
/// Attributes per data point (resource attributes included).
pub const MAX_ATTRIBUTES: usize = 32;
const MAX_NAME: usize = 255;
const MAX_ATTRIBUTE_KEY: usize = 128;
const MAX_ATTRIBUTE_VALUE: usize = 256;
/// `AGGREGATION_TEMPORALITY_CUMULATIVE`.
const CUMULATIVE: i32 = 2;

pub fn routes(routes: Routes, max_body_bytes: usize) -> Routes {
    routes
        .post(
            "/v1/metrics",
            Access::Ingest,
            receive.layer(axum::extract::DefaultBodyLimit::max(max_body_bytes)),
        )
        .doc(
            Doc::new("OTLP/HTTP metrics export (protobuf or JSON)")
                .raw_body(&["application/x-protobuf", "application/json"])
                .or_text("application/x-protobuf")
                .error(413, "the body is larger than MAX_BODY_BYTES")
                .error(415, "the content type is not protobuf or JSON")
                .error(503, "the database cannot commit; retry"),
        )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body =
        body.map_err(|e| ApiError::PayloadTooLarge(format!("could not read the body: {e}")))?;
    let encoding = match headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .as_deref()
    {
        Some("application/x-protobuf" | "application/protobuf") => Encoding::Protobuf,
        Some("application/json") => Encoding::Json,
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Content-Type `{}` is not OTLP: send application/x-protobuf or application/json",
                other.unwrap_or("")
            )));
        }
    };
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let now_ms = clock::now_ms();
    let points = tokio::task::spawn_blocking(move || decode(&body, encoding, gzip, now_ms))
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;
    let increases = state
        .storage
        .store_metric_points(&points, now_ms, state.config.max_metric_series)
        .await
        .map_err(|e| match e {
            crate::storage::custom_metrics::StoreError::Cardinality(message) => {
                ApiError::BadRequest(message)
            }
            crate::storage::custom_metrics::StoreError::Database(e) => ApiError::from(e),
        })?;
    let mapped = crate::otlp_mapping::executions(&points, &increases);
    if !mapped.is_empty() {
        state.writer.add_mapped(mapped).await?;
    }
    // An empty ExportMetricsServiceResponse: full success.
    let (body, content_type) = match encoding {
        Encoding::Protobuf => (Vec::new(), "application/x-protobuf"),
        Encoding::Json => (b"{}".to_vec(), "application/json"),
    };
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

fn decode(
    body: &[u8],
    encoding: Encoding,
    gzip: bool,
    now_ms: i64,
) -> Result<Vec<MetricPoint>, ApiError> {
    let inflated;
    let bytes: &[u8] = if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .take(MAX_DECODED_BYTES as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| ApiError::BadRequest(format!("the gzip body is corrupt: {e}")))?;
        if out.len() > MAX_DECODED_BYTES {
            return Err(ApiError::PayloadTooLarge(format!(
                "the decompressed body exceeds {MAX_DECODED_BYTES} bytes"
            )));
        }
        inflated = out;
        &inflated
    } else {
        body
    };
    let request = match encoding {
        Encoding::Protobuf => ExportMetricsServiceRequest::decode(bytes).map_err(|e| {
            ApiError::BadRequest(format!("not an OTLP ExportMetricsServiceRequest: {e}"))
        })?,
        Encoding::Json => serde_json::from_slice(bytes).map_err(|e| {
            ApiError::BadRequest(format!("not an OTLP JSON ExportMetricsServiceRequest: {e}"))
        })?,
    };
    points(request, now_ms)
}

fn attribute_value(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attributes(
    resource: &BTreeMap<String, String>,
    own: &[KeyValue],
    metric: &str,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut all = resource.clone();
    for kv in own {
        all.insert(kv.key.clone(), attribute_value(&kv.value));
    }
    if all.len() > MAX_ATTRIBUTES {
        return Err(ApiError::BadRequest(format!(
            "metric `{metric}`: a data point has {} attributes; the limit is {MAX_ATTRIBUTES}",
            all.len()
        )));
    }
    for (k, v) in &all {
        if k.len() > MAX_ATTRIBUTE_KEY || v.len() > MAX_ATTRIBUTE_VALUE {
            return Err(ApiError::BadRequest(format!(
                "metric `{metric}`: attribute `{}` is too long (keys ≤ {MAX_ATTRIBUTE_KEY}, values ≤ {MAX_ATTRIBUTE_VALUE} bytes)",
                k.chars().take(40).collect::<String>()
            )));
        }
    }
    Ok(all)
}

fn time_ms(unix_nano: u64, now_ms: i64) -> i64 {
    if unix_nano == 0 {
        now_ms
    } else {
        i64::try_from(unix_nano / 1_000_000).unwrap_or(now_ms)
    }
}

/// Flattens a request into data points.
fn points(request: ExportMetricsServiceRequest, now_ms: i64) -> Result<Vec<MetricPoint>, ApiError> {
    let mut out = Vec::new();
    for resource_metrics in request.resource_metrics {
        let resource: BTreeMap<String, String> = resource_metrics
            .resource
            .map(|r| {
                r.attributes
                    .iter()
                    .map(|kv| (kv.key.clone(), attribute_value(&kv.value)))
                    .collect()
            })
            .unwrap_or_default();
        for scope in resource_metrics.scope_metrics {
            for metric in scope.metrics {
                let name = metric.name.clone();
                if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
                    return Err(ApiError::BadRequest(format!(
                        "a metric name must be 1 to {MAX_NAME} printable characters"
                    )));
                }
                let cumulative = match &metric.data {
                    Some(Data::Sum(s)) => s.aggregation_temporality == CUMULATIVE,
                    Some(Data::Histogram(h)) => h.aggregation_temporality == CUMULATIVE,
                    Some(Data::ExponentialHistogram(h)) => h.aggregation_temporality == CUMULATIVE,
                    // Summaries are cumulative by definition.
                    Some(Data::Summary(_)) => true,
                    _ => false,
                };
                let point = |attrs: &[KeyValue],
                             ts: u64,
                             value: PointValue,
                             kind: &'static str,
                             monotonic: bool| {
                    Ok::<_, ApiError>(MetricPoint {
                        name: name.clone(),
                        unit: metric.unit.clone(),
                        kind,
                        monotonic,
                        cumulative,
                        attributes: attributes(&resource, attrs, &name)?,
                        ts_ms: time_ms(ts, now_ms),
                        value,
                    })
                };
                match &metric.data {
                    Some(Data::Gauge(gauge)) => {
                        for p in &gauge.data_points {
                            out.push(point(
                                &p.attributes,
                                p.time_unix_nano,
                                number(&p.value),
                                "gauge",
                                false,
                            )?);
                        }
                    }
                    Some(Data::Sum(sum)) => {
                        for p in &sum.data_points {
                            out.push(point(
                                &p.attributes,
                                p.time_unix_nano,
                                number(&p.value),
                                "sum",
                                sum.is_monotonic,
                            )?);
                        }
                    }
                    Some(Data::Histogram(histogram)) => {
                        for p in &histogram.data_points {
                            let value = PointValue::Histogram {
                                count: p.count,
                                sum: p.sum.unwrap_or(0.0),
                                bounds: p.explicit_bounds.clone(),
                                buckets: p.bucket_counts.clone(),
                            };
                            out.push(point(
                                &p.attributes,
                                p.time_unix_nano,
                                value,
                                "histogram",
                                false,
                            )?);
                        }
                    }
                    Some(Data::ExponentialHistogram(histogram)) => {
                        for p in &histogram.data_points {
                            let value = PointValue::Histogram {
                                count: p.count,
                                sum: p.sum.unwrap_or(0.0),
                                bounds: Vec::new(),
                                buckets: Vec::new(),
                            };
                            out.push(point(
                                &p.attributes,
                                p.time_unix_nano,
                                value,
                                "histogram",
                                false,
                            )?);
                        }
                    }
                    Some(Data::Summary(summary)) => {
                        for p in &summary.data_points {
                            let value = PointValue::Histogram {
                                count: p.count,
                                sum: p.sum,
                                bounds: Vec::new(),
                                buckets: Vec::new(),
                            };
                            out.push(point(
                                &p.attributes,
                                p.time_unix_nano,
                                value,
                                "summary",
                                false,
                            )?);
                        }
                    }
                    None => {}
                }
            }
        }
    }
    Ok(out)
}

fn number(value: &Option<number_data_point::Value>) -> PointValue {
    PointValue::Number(match value {
        Some(number_data_point::Value::AsDouble(d)) => *d,
        Some(number_data_point::Value::AsInt(i)) => *i as f64,
        None => 0.0,
    })
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::metrics::v1::{
        Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    };

    use super::*;

    fn request(attributes: usize) -> ExportMetricsServiceRequest {
        let attrs = (0..attributes)
            .map(|i| KeyValue {
                key: format!("k{i}"),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(format!("v{i}"))),
                }),
                ..Default::default()
            })
            .collect();
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "script.executions.total".into(),
                        data: Some(Data::Sum(Sum {
                            data_points: vec![NumberDataPoint {
                                attributes: attrs,
                                time_unix_nano: 1_795_000_000_000_000_000,
                                value: Some(number_data_point::Value::AsInt(7)),
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn protobuf_and_gzip_decode_to_points() {
        let bytes = request(2).encode_to_vec();
        let points = decode(&bytes, Encoding::Protobuf, false, 0).unwrap();
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].ts_ms, 1_795_000_000_000);
        assert_eq!(points[0].value, PointValue::Number(7.0));
        assert!(points[0].monotonic);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &bytes).unwrap();
        let points = decode(&gz.finish().unwrap(), Encoding::Protobuf, true, 0).unwrap();
        assert_eq!(points[0].attributes.len(), 2);
    }

    #[test]
    fn too_many_attributes_is_a_400_naming_the_metric() {
        let bytes = request(MAX_ATTRIBUTES + 1).encode_to_vec();
        match decode(&bytes, Encoding::Protobuf, false, 0) {
            Err(ApiError::BadRequest(m)) => assert!(
                m.contains("script.executions.total") && m.contains("limit"),
                "{m}"
            ),
            _ => panic!("accepted"),
        }
        assert!(decode(b"\xff\xff", Encoding::Protobuf, false, 0).is_err());
        assert!(decode(b"{", Encoding::Json, false, 0).is_err());
    }
}
