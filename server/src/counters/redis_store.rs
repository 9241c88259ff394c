//! Counters in Redis: one hash per window (`{prefix}:m:{minute}`,
//! `{prefix}:h:{hour}`, `{prefix}:d:{day}`) updated with pipelined HINCRBY
//! and given a TTL. Every call is bounded by a timeout so a slow or absent
//! Redis delays nothing but the counters.

use std::{collections::HashMap, time::Duration};

use redis::{AsyncCommands, aio::ConnectionManager};
use tokio::sync::OnceCell;

use super::{CounterError, CounterRow, CounterStore, Fields, Window, WindowCounts};

pub struct RedisStore {
    client: redis::Client,
    /// Connected on first use, so Tally starts while Redis is down.
    connection: OnceCell<ConnectionManager>,
    prefix: String,
    timeout: Duration,
}

impl RedisStore {
    /// Checks the URL; does not connect yet.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, CounterError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            connection: OnceCell::new(),
            prefix: prefix.to_owned(),
            timeout,
        })
    }

    fn key(&self, window: Window) -> String {
        format!("{}:{}", self.prefix, window.key_suffix())
    }

    async fn connection(&self) -> Result<ConnectionManager, CounterError> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        self.connection
            .get_or_try_init(|| ConnectionManager::new_with_config(self.client.clone(), config))
            .await
            .cloned()
            .map_err(CounterError::from)
    }

    /// Runs `f` against the connection within the timeout.
    async fn bounded<T, F>(&self, f: impl FnOnce(ConnectionManager) -> F) -> Result<T, CounterError>
    where
        F: Future<Output = Result<T, redis::RedisError>>,
    {
        let work = async {
            let connection = self.connection().await?;
            f(connection).await.map_err(CounterError::from)
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| CounterError::Timeout(self.timeout))?
    }

    /// One HINCRBY per (window, field), one EXPIRE per window.
    fn add_to_pipeline(&self, pipe: &mut redis::Pipeline, fields: &Fields) {
        let mut windows: Vec<Window> = Vec::new();
        for (window, field, value) in fields.iter() {
            pipe.hincr(self.key(window), field, value).ignore();
            if !windows.contains(&window) {
                windows.push(window);
            }
        }
        for window in windows {
            pipe.expire(self.key(window), window.ttl_secs()).ignore();
        }
    }
}

#[async_trait::async_trait]
impl CounterStore for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn apply(&self, rows: &[CounterRow]) -> Result<(), CounterError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut fields = Fields::default();
        rows.iter().for_each(|row| fields.add_row(row));
        let mut pipe = redis::pipe();
        self.add_to_pipeline(&mut pipe, &fields);
        self.bounded(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await
    }

    async fn replace(&self, clear: &[Window], fields: &Fields) -> Result<(), CounterError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        let keys: Vec<String> = clear.iter().map(|w| self.key(*w)).collect();
        if !keys.is_empty() {
            pipe.del(keys).ignore();
        }
        self.add_to_pipeline(&mut pipe, fields);
        self.bounded(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await
    }

    async fn read(&self, window: Window) -> Result<WindowCounts, CounterError> {
        let key = self.key(window);
        let fields: HashMap<String, i64> = self
            .bounded(|mut c| async move { c.hgetall(key).await })
            .await?;
        Ok(super::decode_fields(fields))
    }
}
