//! Delivers the webhook outbox: each due message is POSTed as JSON; a 2xx
//! answer marks it delivered, anything else (or no answer) schedules a
//! retry after a doubling backoff, until the attempts run out. Rows live in
//! SQLite, so a restart resumes where it stopped.

use std::{sync::Arc, time::Duration};

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use tokio::{
    sync::{Notify, watch},
    task::{JoinHandle, JoinSet},
};

use crate::{clock, storage::Storage};

#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Attempts before a message is given up (`failed`).
    pub max_attempts: u32,
    /// Wait before the first retry; doubled each time, at most [`MAX_BACKOFF`].
    pub backoff: Duration,
}

const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// Even without a wake-up, the outbox is looked at this often (retries).
const POLL: Duration = Duration::from_millis(250);
/// Messages sent at once.
const BATCH: u32 = 32;

impl Policy {
    /// When to retry after `attempts` failed attempts, or `None` to give up.
    pub fn retry_after(&self, attempts: u32) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1));
        Some(self.backoff.saturating_mul(factor).min(MAX_BACKOFF))
    }
}

/// POSTs webhook messages: JSON, a delivery id, signed when a secret is set,
/// redirects refused, at most `timeout` per attempt.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    secret: Option<SecretString>,
}

impl Sender {
    pub fn new(timeout: Duration, secret: Option<SecretString>) -> reqwest::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tally/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, secret })
    }

    /// One attempt: the status of a 2xx answer, else what went wrong
    /// (without the URL, which may hold a token).
    pub async fn post(
        &self,
        url: &str,
        delivery_id: &str,
        payload: &str,
    ) -> Result<reqwest::StatusCode, String> {
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-tally-delivery", delivery_id);
        if let Some(secret) = &self.secret {
            request = request.header(
                "x-tally-signature",
                signature(secret.expose_secret().as_bytes(), payload.as_bytes()),
            );
        }
        let response = request
            .body(payload.to_owned())
            .send()
            .await
            .map_err(|e| without_url(&e))?;
        let status = response.status();
        if status.is_success() {
            Ok(status)
        } else {
            Err(format!("answered {status}"))
        }
    }
}

pub fn start(
    storage: Storage,
    policy: Policy,
    sender: Sender,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = deliver_due(&storage, &sender, policy).await {
                tracing::warn!(%error, "Webhook outbox unavailable; retrying.");
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => break,
            }
        }
    })
}

async fn deliver_due(
    storage: &Storage,
    sender: &Sender,
    policy: Policy,
) -> Result<(), sqlx::Error> {
    let due = storage.due_deliveries(clock::now_ms(), BATCH).await?;
    let mut sending = JoinSet::new();
    for delivery in due {
        let sender = sender.clone();
        sending.spawn(async move {
            let outcome = sender
                .post(&delivery.url, &delivery.id.to_string(), &delivery.payload)
                .await;
            (delivery, outcome)
        });
    }
    while let Some(done) = sending.join_next().await {
        let Ok((delivery, outcome)) = done else {
            continue;
        };
        let now = clock::now_ms();
        match outcome {
            Ok(_) => storage.delivery_succeeded(delivery.id, now).await?,
            Err(error) => {
                let attempts = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
                let retry = policy.retry_after(attempts);
                tracing::warn!(
                    target = %host_of(&delivery.url), attempts, %error,
                    retry_in_ms = retry.map(|d| d.as_millis() as u64),
                    "Webhook delivery failed."
                );
                let retry_at =
                    retry.map(|d| now + i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                storage
                    .delivery_failed(delivery.id, &error, retry_at)
                    .await?;
            }
        }
    }
    Ok(())
}

/// `sha256=<hex>`: the HMAC-SHA256 of `body` under `secret`, as sent in
/// `X-Tally-Signature` (receivers recompute it over the raw body).
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The host of a target URL, for logs (the full URL may hold a token).
pub fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The error without the URL (it may hold a token); the URL is logged apart.
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    kind.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_gives_up() {
        let policy = Policy {
            max_attempts: 4,
            backoff: Duration::from_secs(5),
        };
        assert_eq!(policy.retry_after(1), Some(Duration::from_secs(5)));
        assert_eq!(policy.retry_after(2), Some(Duration::from_secs(10)));
        assert_eq!(policy.retry_after(3), Some(Duration::from_secs(20)));
        assert_eq!(policy.retry_after(4), None);
        let long = Policy {
            max_attempts: 40,
            ..policy
        };
        assert_eq!(long.retry_after(30), Some(MAX_BACKOFF));
    }
}
