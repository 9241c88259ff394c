//! Dashboard sessions and login throttling. A session is a random token in
//! an HttpOnly cookie; the master key itself never leaves the login request.
//! Sessions live in memory: a restart logs everyone out.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Name of the session cookie.
pub const COOKIE: &str = "tally_session";
/// Wrong keys allowed per client within [`WINDOW`] before it is blocked.
const FREE_ATTEMPTS: u32 = 5;
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// First block; doubles with every further wrong key, up to [`MAX_BLOCK`].
const FIRST_BLOCK: Duration = Duration::from_secs(30);
const MAX_BLOCK: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct Sessions {
    ttl: Duration,
    tokens: Mutex<HashMap<String, Instant>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    since: Instant,
    blocked_until: Option<Instant>,
}

/// Why a login attempt may not even be checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
}

impl Sessions {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            ..Self::default()
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Refuses a client that failed too often recently.
    pub fn check_throttle(&self, client: Option<IpAddr>) -> Result<(), Throttled> {
        let Some(client) = client else { return Ok(()) };
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match failures.get(&client).and_then(|f| f.blocked_until) {
            Some(until) if until > Instant::now() => Err(Throttled {
                retry_after: until - Instant::now(),
            }),
            _ => Ok(()),
        }
    }

    /// Records a wrong key; returns the block now in force, if any.
    pub fn record_failure(&self, client: Option<IpAddr>) -> Option<Throttled> {
        let client = client?;
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.retain(|_, f| {
            now.duration_since(f.since) < WINDOW || f.blocked_until.is_some_and(|u| u > now)
        });
        let entry = failures.entry(client).or_insert(Failures {
            count: 0,
            since: now,
            blocked_until: None,
        });
        entry.count += 1;
        if entry.count <= FREE_ATTEMPTS {
            return None;
        }
        let doublings = (entry.count - FREE_ATTEMPTS - 1).min(10);
        let block = (FIRST_BLOCK * 2u32.pow(doublings)).min(MAX_BLOCK);
        entry.blocked_until = Some(now + block);
        Some(Throttled { retry_after: block })
    }

    /// Starts a session for a client that gave the right key.
    pub fn create(&self, client: Option<IpAddr>) -> String {
        if let Some(client) = client {
            self.failures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&client);
        }
        let token = hex::encode(rand::random::<[u8; 32]>());
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        tokens.retain(|_, expires| *expires > now);
        tokens.insert(token.clone(), now + self.ttl);
        token
    }

    pub fn is_valid(&self, token: &str) -> bool {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(token)
            .is_some_and(|expires| *expires > Instant::now())
    }

    pub fn remove(&self, token: &str) {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }
}

/// The session token in a `Cookie` header, if any.
pub fn token_from_cookies(header: Option<&str>) -> Option<&str> {
    header?
        .split(';')
        .map(str::trim)
        .find_map(|pair| pair.strip_prefix(COOKIE)?.strip_prefix('='))
        .filter(|token| !token.is_empty())
}

/// `Set-Cookie` value for a new session (or, with `None`, one that clears it).
pub fn set_cookie(token: Option<&str>, max_age: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(token) => format!(
            "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
            max_age.as_secs()
        ),
        None => format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_can_be_removed() {
        let sessions = Sessions::new(Duration::from_millis(50));
        let token = sessions.create(None);
        assert!(sessions.is_valid(&token));
        assert!(!sessions.is_valid("forged"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!sessions.is_valid(&token));
        let token = Sessions::new(Duration::from_secs(60)).create(None);
        let sessions = Sessions::new(Duration::from_secs(60));
        assert!(!sessions.is_valid(&token), "tokens are per store");
        let mine = sessions.create(None);
        sessions.remove(&mine);
        assert!(!sessions.is_valid(&mine));
    }

    #[test]
    fn repeated_failures_block_the_client_with_growing_waits() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let client = Some("127.0.0.9".parse().unwrap());
        for _ in 0..FREE_ATTEMPTS {
            assert_eq!(sessions.record_failure(client), None);
            assert!(sessions.check_throttle(client).is_ok());
        }
        let first = sessions.record_failure(client).unwrap();
        assert!(sessions.check_throttle(client).is_err());
        let second = sessions.record_failure(client).unwrap();
        assert!(second.retry_after > first.retry_after);
        // Another client is not affected; a success clears the record.
        assert!(
            sessions
                .check_throttle(Some("127.0.0.10".parse().unwrap()))
                .is_ok()
        );
        sessions.create(client);
        assert!(sessions.check_throttle(client).is_ok());
    }

    #[test]
    fn cookies_are_parsed_and_flagged() {
        assert_eq!(
            token_from_cookies(Some("a=1; tally_session=abc; b=2")),
            Some("abc")
        );
        assert_eq!(token_from_cookies(Some("tally_session=")), None);
        assert_eq!(token_from_cookies(Some("tally_sessionx=abc")), None);
        let cookie = set_cookie(Some("t"), Duration::from_secs(60), true);
        assert_eq!(
            cookie,
            "tally_session=t; HttpOnly; SameSite=Strict; Path=/; Max-Age=60; Secure"
        );
        assert!(set_cookie(None, Duration::ZERO, false).contains("Max-Age=0"));
    }
}
