//! One batch of one kind to Tally, until it is stored, refused, or the
//! shutdown deadline passes. Every attempt sends the same events (same ids,
//! same times), so Tally counts a batch once however often it arrives.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::{
    StatusCode,
    header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER},
};
use serde::Deserialize;
use tokio::sync::watch;

use crate::{stats::Counters, wire::Kind};

/// The longest `Retry-After` obeyed: a longer one is taken as this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Exponential backoff with full jitter: the wait before retry `n` (from 0)
/// is uniform in `[0, min(max, initial · 2ⁿ)]`, so clients that failed
/// together do not come back together.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
}

impl Backoff {
    /// The wait before retry `attempt`. A `Retry-After` from Tally is a
    /// floor: never sooner than asked, spread by the jitter beyond it.
    pub(crate) fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let cap = self
            .initial
            .saturating_mul(2u32.saturating_pow(attempt.min(31)))
            .min(self.max);
        let jitter = cap.mul_f64(rand::random::<f64>());
        retry_after.map_or(jitter, |after| after.min(MAX_RETRY_AFTER) + jitter)
    }
}

/// The time the sender must stop at: none until shutdown sets one.
#[derive(Clone, Debug)]
pub(crate) struct Deadline(pub(crate) watch::Receiver<Option<Instant>>);

impl Deadline {
    /// Resolves when the deadline has passed (never, if none is ever set).
    pub(crate) async fn passed(&mut self) {
        loop {
            let at = *self.0.borrow_and_update();
            if let Some(at) = at {
                tokio::time::sleep_until(at.into()).await;
                return;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    pub(crate) fn has_passed(&self) -> bool {
        self.0.borrow().is_some_and(|at| Instant::now() >= at)
    }
}

/// Tally's answer to one ingest request, as the sender acts on it.
#[derive(Debug, PartialEq)]
enum Answer {
    /// 2xx: durably stored.
    Stored { events: usize, duplicates: usize },
    /// 413: more than the body, batch or buffer limit; sent again in halves.
    TooLarge,
    /// 400: one event is wrong (`index`), and nothing was stored.
    BadEvent { index: Option<usize>, error: String },
    /// Another 4xx: sending it again would change nothing.
    Refused { status: StatusCode, error: String },
    /// A connection error, a timeout, 5xx, 408, 425 or 429: try again.
    Retry {
        after: Option<Duration>,
        why: String,
    },
}

#[derive(Deserialize)]
struct Stored {
    accepted: usize,
    duplicates: usize,
}

#[derive(Deserialize)]
struct Refusal {
    error: Option<String>,
    index: Option<usize>,
}

/// Sends batches to one Tally.
#[derive(Debug)]
pub(crate) struct Deliverer {
    pub(crate) http: reqwest::Client,
    /// `{url}/api/v1/events/` without the kind.
    pub(crate) events_url: String,
    pub(crate) key: HeaderValue,
    pub(crate) backoff: Backoff,
    pub(crate) counters: Arc<Counters>,
}

impl Deliverer {
    /// Sends `events` (JSON objects of one kind) until each is stored or
    /// refused, or `deadline` passes (then the rest count as dropped).
    pub(crate) async fn deliver(&self, kind: Kind, events: Vec<Vec<u8>>, deadline: &mut Deadline) {
        let mut chunks = vec![events];
        let mut attempt = 0u32;
        while let Some(mut chunk) = chunks.pop() {
            while !chunk.is_empty() {
                let answer = tokio::select! {
                    answer = self.post(kind, &chunk) => answer,
                    () = deadline.passed() => {
                        return self.give_up(kind, chunk.len() + chunks.iter().map(Vec::len).sum::<usize>());
                    }
                };
                match answer {
                    Answer::Stored { events, duplicates } => {
                        Counters::add(&self.counters.sent, events);
                        Counters::add(&self.counters.duplicates, duplicates);
                        attempt = 0;
                        break;
                    }
                    Answer::TooLarge if chunk.len() > 1 => {
                        let back = chunk.split_off(chunk.len() / 2);
                        chunks.push(back);
                        chunks.push(chunk);
                        break;
                    }
                    Answer::TooLarge => {
                        self.refuse(kind, 1, StatusCode::PAYLOAD_TOO_LARGE, "event too large");
                        break;
                    }
                    Answer::BadEvent {
                        index: Some(index),
                        error,
                    } if index < chunk.len() => {
                        // Only that event is wrong: the rest go again without it.
                        chunk.remove(index);
                        self.refuse(kind, 1, StatusCode::BAD_REQUEST, &error);
                    }
                    Answer::BadEvent { error, .. } => {
                        self.refuse(kind, chunk.len(), StatusCode::BAD_REQUEST, &error);
                        break;
                    }
                    Answer::Refused { status, error } => {
                        self.refuse(kind, chunk.len(), status, &error);
                        break;
                    }
                    Answer::Retry { after, why } => {
                        Counters::add(&self.counters.retries, 1);
                        let wait = self.backoff.wait(attempt, after);
                        attempt = attempt.saturating_add(1);
                        tracing::debug!(
                            kind = kind.path(),
                            events = chunk.len(),
                            %why,
                            wait_ms = wait.as_millis() as u64,
                            "Tally did not take the batch; retrying."
                        );
                        tokio::select! {
                            () = tokio::time::sleep(wait) => {}
                            () = deadline.passed() => {
                                return self.give_up(kind, chunk.len() + chunks.iter().map(Vec::len).sum::<usize>());
                            }
                        }
                    }
                }
            }
        }
    }

    fn give_up(&self, kind: Kind, events: usize) {
        Counters::add(&self.counters.dropped, events);
        tracing::warn!(
            kind = kind.path(),
            events,
            "Shutdown deadline passed; events not sent."
        );
    }

    fn refuse(&self, kind: Kind, events: usize, status: StatusCode, error: &str) {
        Counters::add(&self.counters.rejected, events);
        tracing::warn!(
            kind = kind.path(),
            events,
            status = status.as_u16(),
            %error,
            "Tally refused events; they are not sent again."
        );
    }

    async fn post(&self, kind: Kind, chunk: &[Vec<u8>]) -> Answer {
        let mut body = Vec::with_capacity(chunk.iter().map(|e| e.len() + 1).sum::<usize>() + 1);
        body.push(b'[');
        for (i, event) in chunk.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(event);
        }
        body.push(b']');
        let sent = self
            .http
            .post(format!("{}{}", self.events_url, kind.path()))
            .header("x-api-key", self.key.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                return Answer::Retry {
                    after: None,
                    why: error.to_string(),
                };
            }
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        match response.bytes().await {
            Ok(body) => classify(status, retry_after, &body, chunk.len()),
            // The answer was lost on the way: as if it never came.
            Err(error) => Answer::Retry {
                after: retry_after,
                why: error.to_string(),
            },
        }
    }
}

fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    events: usize,
) -> Answer {
    if status.is_success() {
        return match serde_json::from_slice::<Stored>(body) {
            Ok(s) => Answer::Stored {
                events: s.accepted + s.duplicates,
                duplicates: s.duplicates,
            },
            Err(_) => Answer::Stored {
                events,
                duplicates: 0,
            },
        };
    }
    let refusal = serde_json::from_slice::<Refusal>(body).ok();
    let error = refusal
        .as_ref()
        .and_then(|r| r.error.clone())
        .unwrap_or_else(|| status.to_string());
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => Answer::TooLarge,
        StatusCode::BAD_REQUEST => Answer::BadEvent {
            index: refusal.and_then(|r| r.index),
            error,
        },
        // 425 Too Early: the server asks for the same request again later.
        s if matches!(s.as_u16(), 408 | 425 | 429) => Answer::Retry {
            after: retry_after,
            why: error,
        },
        s if s.is_server_error() => Answer::Retry {
            after: retry_after,
            why: error,
        },
        status => Answer::Refused { status, error },
    }
}

/// `Retry-After` in seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let ms = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_respects_retry_after() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for _ in 0..200 {
            assert!(backoff.wait(0, None) <= Duration::from_millis(100));
            assert!(backoff.wait(3, None) <= Duration::from_millis(800));
            assert!(backoff.wait(40, None) <= Duration::from_secs(2));
            let after = backoff.wait(0, Some(Duration::from_secs(1)));
            assert!(after >= Duration::from_secs(1) && after <= Duration::from_millis(1100));
            let huge = backoff.wait(0, Some(Duration::from_secs(86_400)));
            assert!(huge <= MAX_RETRY_AFTER + Duration::from_millis(100));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(1)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a past date");
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn answers_are_classified_as_the_api_documents_them() {
        let ok = classify(StatusCode::OK, None, br#"{"accepted":3,"duplicates":2}"#, 5);
        assert_eq!(
            ok,
            Answer::Stored {
                events: 5,
                duplicates: 2
            }
        );
        let bad = classify(
            StatusCode::BAD_REQUEST,
            None,
            br#"{"error":"event 3: field `ts`: too old","index":3,"field":"ts"}"#,
            5,
        );
        assert_eq!(
            bad,
            Answer::BadEvent {
                index: Some(3),
                error: "event 3: field `ts`: too old".to_owned()
            }
        );
        let full = classify(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(Duration::from_secs(1)),
            br#"{"error":"the ingest buffer is full"}"#,
            5,
        );
        assert!(
            matches!(full, Answer::Retry { after: Some(d), .. } if d == Duration::from_secs(1))
        );
        for retried in [408, 425, 429, 500, 502] {
            let status = StatusCode::from_u16(retried).unwrap();
            assert!(matches!(
                classify(status, None, b"", 1),
                Answer::Retry { .. }
            ));
        }
        assert_eq!(
            classify(StatusCode::PAYLOAD_TOO_LARGE, None, b"", 1),
            Answer::TooLarge
        );
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, None, br#"{"error":"no key"}"#, 1),
            Answer::Refused {
                status: StatusCode::UNAUTHORIZED,
                ..
            }
        ));
    }
}
