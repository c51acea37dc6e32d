//! The live proxy's rate limits (reference §3.5; `proxies/live/apiproxy/policies/Quota.xml`, `SpikeArrest.xml`,
//! run in that order in `scr-target.xml`'s PreFlow after the token check and the UserRoleService):
//!
//! - **Quota**: at most `perMinute` requests per app per calendar minute (default 300).
//! - **SpikeArrest**: `perSecond` per app (default 5), smoothed as Apigee does — one request per
//!   `1000 / perSecond` ms after the last one admitted, never a burst of `perSecond` at once.
//!
//! A request the Quota counts and the SpikeArrest then refuses stays counted, as the proxy's order implies
//! (**derived**). Both count on the mock's [`crate::clock::Clock`], so a frozen virtual clock makes them
//! exact. Off unless configured (`MockConfig::rate_limit`, `PUT /_admin/rate-limit`).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// The app key of requests that pass no gateway (open access).
pub const OPEN_ACCESS_APP: &str = "open-access";

fn default_per_second() -> u32 {
    5
}

fn default_per_minute() -> u32 {
    300
}

/// The two limits, per app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    /// SpikeArrest rate (default 5, the proxy's `5ps`).
    #[serde(default = "default_per_second")]
    pub per_second: u32,
    /// Quota per calendar minute (default 300).
    #[serde(default = "default_per_minute")]
    pub per_minute: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self { per_second: default_per_second(), per_minute: default_per_minute() }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RateLimitError {
    #[error("perSecond must be between 1 and 1000000, got {0}")]
    PerSecond(u32),
    #[error("perMinute must be between 1 and 100000000, got {0}")]
    PerMinute(u32),
}

impl RateLimit {
    pub fn validate(self) -> Result<Self, RateLimitError> {
        if !(1..=1_000_000).contains(&self.per_second) {
            return Err(RateLimitError::PerSecond(self.per_second));
        }
        if !(1..=100_000_000).contains(&self.per_minute) {
            return Err(RateLimitError::PerMinute(self.per_minute));
        }
        Ok(self)
    }

    /// The SpikeArrest's smoothing interval: `1000 / perSecond` ms.
    pub fn interval(self) -> Duration {
        Duration::microseconds(1_000_000 / i64::from(self.per_second.max(1)))
    }
}

/// Which policy refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Quota,
    SpikeArrest,
}

/// A refused request: which policy, and how long until the app's next request can pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub policy: Policy,
    /// Whole seconds, rounded up, at least 1 (what `Retry-After` carries).
    pub retry_after_secs: u64,
}

#[derive(Debug, Default)]
struct AppCounters {
    last_admitted: Option<DateTime<Utc>>,
    /// The calendar minute (seconds since the epoch / 60) `quota_used` counts.
    quota_minute: i64,
    quota_used: u32,
}

#[derive(Debug, Default)]
struct Limiter {
    limit: Option<RateLimit>,
    apps: HashMap<String, AppCounters>,
}

/// The rate limits of one mock, shared by all its connections.
#[derive(Debug, Default)]
pub struct RateLimiter {
    inner: Mutex<Limiter>,
}

/// Whole seconds from `now` until `then`, rounded up, at least 1.
fn seconds_until(now: DateTime<Utc>, then: DateTime<Utc>) -> u64 {
    let ms = (then - now).num_milliseconds().max(0);
    u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1)
}

impl RateLimiter {
    pub fn new(limit: Option<RateLimit>) -> Self {
        Self { inner: Mutex::new(Limiter { limit, apps: HashMap::new() }) }
    }

    /// Turns the limits on (forgetting every count) or, with `None`, off.
    pub fn configure(&self, limit: Option<RateLimit>) {
        *self.inner.lock().unwrap_or_else(PoisonError::into_inner) = Limiter { limit, apps: HashMap::new() };
    }

    pub fn limit(&self) -> Option<RateLimit> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).limit
    }

    /// Counts a request of `app` at `now`: Quota first, then SpikeArrest.
    pub fn admit(&self, app: &str, now: DateTime<Utc>) -> Result<(), Refusal> {
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(limit) = guard.limit else { return Ok(()) };
        let counters = guard.apps.entry(app.to_owned()).or_default();
        let minute = now.timestamp().div_euclid(60);
        if counters.quota_minute != minute {
            counters.quota_minute = minute;
            counters.quota_used = 0;
        }
        if counters.quota_used >= limit.per_minute {
            let next_minute = Utc.timestamp_opt((minute + 1) * 60, 0).single().unwrap_or(now);
            return Err(Refusal { policy: Policy::Quota, retry_after_secs: seconds_until(now, next_minute) });
        }
        counters.quota_used += 1;
        if let Some(last) = counters.last_admitted {
            let next = last + limit.interval();
            if now < next {
                return Err(Refusal { policy: Policy::SpikeArrest, retry_after_secs: seconds_until(now, next) });
            }
        }
        counters.last_admitted = Some(now);
        Ok(())
    }
}

fn shown(limit: Option<RateLimit>) -> serde_json::Value {
    match limit {
        Some(l) => serde_json::json!({ "enabled": true, "perSecond": l.per_second, "perMinute": l.per_minute }),
        None => serde_json::json!({ "enabled": false }),
    }
}

/// `/_admin/rate-limit`: `PUT {"perSecond":5,"perMinute":300}` (both optional) turns the limits on and resets
/// the counts, `GET` shows them, `DELETE` turns them off.
pub fn admin(app: &super::AppState, method: &axum::http::Method, body: &[u8]) -> axum::response::Response {
    use super::admin::{error, json_response};
    use axum::http::{Method, StatusCode};
    match *method {
        Method::PUT => {
            let parsed = serde_json::from_slice::<RateLimit>(if body.is_empty() { b"{}" } else { body });
            match parsed.map_err(|e| e.to_string()).and_then(|l| l.validate().map_err(|e| e.to_string())) {
                Ok(limit) => {
                    app.rate_limit.configure(Some(limit));
                    json_response(StatusCode::OK, &shown(Some(limit)))
                }
                Err(e) => error(
                    StatusCode::BAD_REQUEST,
                    &format!("body must be {{\"perSecond\": N, \"perMinute\": M}} (both optional): {e}"),
                ),
            }
        }
        Method::GET => json_response(StatusCode::OK, &shown(app.rate_limit.limit())),
        Method::DELETE => {
            app.rate_limit.configure(None);
            json_response(StatusCode::OK, &shown(None))
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on /_admin/rate-limit: PUT, GET or DELETE"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        // 12:00:00.000 on a minute boundary.
        Utc.timestamp_opt(1_767_268_800, 0).single().unwrap_or_default() + Duration::milliseconds(ms)
    }

    #[test]
    fn spike_arrest_admits_one_request_per_interval_per_app() {
        let limiter = RateLimiter::new(Some(RateLimit::default()));
        assert_eq!(limiter.admit("a", at(0)), Ok(()));
        let refused = limiter.admit("a", at(0));
        assert_eq!(refused, Err(Refusal { policy: Policy::SpikeArrest, retry_after_secs: 1 }));
        assert!(limiter.admit("a", at(199)).is_err());
        assert_eq!(limiter.admit("b", at(199)), Ok(()), "apps are counted apart");
        assert_eq!(limiter.admit("a", at(200)), Ok(()));
        for k in 2..5 {
            assert_eq!(limiter.admit("a", at(k * 200)), Ok(()), "request at {} ms", k * 200);
        }
        assert!(limiter.admit("a", at(800)).is_err(), "the 6th within the same 200 ms slot");
        assert_eq!(limiter.admit("a", at(1800)), Ok(()));
    }

    #[test]
    fn quota_counts_a_calendar_minute_and_says_when_it_resets() {
        let limiter = RateLimiter::new(Some(RateLimit { per_second: 1000, per_minute: 3 }));
        for k in 0..3 {
            assert_eq!(limiter.admit("a", at(k * 10)), Ok(()));
        }
        assert_eq!(limiter.admit("a", at(20_500)), Err(Refusal { policy: Policy::Quota, retry_after_secs: 40 }));
        assert_eq!(limiter.admit("a", at(59_999)), Err(Refusal { policy: Policy::Quota, retry_after_secs: 1 }));
        assert_eq!(limiter.admit("a", at(60_000)), Ok(()), "a new calendar minute");
    }

    #[test]
    fn spike_arrest_refusals_still_count_towards_the_quota() {
        let limiter = RateLimiter::new(Some(RateLimit { per_second: 1, per_minute: 2 }));
        assert_eq!(limiter.admit("a", at(0)), Ok(()));
        assert_eq!(limiter.admit("a", at(10)).map_err(|r| r.policy), Err(Policy::SpikeArrest));
        assert_eq!(limiter.admit("a", at(5000)).map_err(|r| r.policy), Err(Policy::Quota));
    }

    #[test]
    fn off_admits_everything_and_reconfiguring_forgets_counts() {
        let limiter = RateLimiter::default();
        for _ in 0..100 {
            assert_eq!(limiter.admit("a", at(0)), Ok(()));
        }
        limiter.configure(Some(RateLimit::default()));
        assert_eq!(limiter.admit("a", at(0)), Ok(()));
        assert!(limiter.admit("a", at(0)).is_err());
        limiter.configure(Some(RateLimit::default()));
        assert_eq!(limiter.admit("a", at(0)), Ok(()));
        limiter.configure(None);
        assert_eq!(limiter.limit(), None);
        assert_eq!(limiter.admit("a", at(0)), Ok(()));
    }

    #[test]
    fn limits_are_validated() {
        assert_eq!(RateLimit { per_second: 0, per_minute: 1 }.validate(), Err(RateLimitError::PerSecond(0)));
        assert_eq!(RateLimit { per_second: 1, per_minute: 0 }.validate(), Err(RateLimitError::PerMinute(0)));
        assert_eq!(RateLimit::default().interval(), Duration::milliseconds(200));
    }
}
