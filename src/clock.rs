//! The one source of time. Everything that reads "now" — the mock's timestamps, the harness's request
//! times, later every expiry and skew decision — goes through a [`Clock`]. A run uses [`Clock::system`];
//! tests use [`Clock::fixed`] and [`Clock::advance`] so time moves without sleeping.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

/// A shareable clock: real time plus an offset, or a fixed instant that only moves when told to.
#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<Mutex<Mode>>,
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    System { offset: Duration },
    Fixed { at: DateTime<Utc> },
}

impl Clock {
    /// Real time.
    pub fn system() -> Self {
        Self::from_mode(Mode::System { offset: Duration::zero() })
    }

    /// A clock frozen at the current real time: the virtual clock of a run against the embedded mock, which
    /// moves only when a scenario says time passes, so that expiry and skew boundaries are exact.
    pub fn frozen_now() -> Self {
        Self::fixed(Utc::now())
    }

    /// A clock frozen at `at` until [`Clock::advance`] or [`Clock::set`] moves it.
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self::from_mode(Mode::Fixed { at })
    }

    fn from_mode(mode: Mode) -> Self {
        Self { inner: Arc::new(Mutex::new(mode)) }
    }

    /// The current instant of this clock.
    pub fn now(&self) -> DateTime<Utc> {
        match *self.inner.lock().unwrap_or_else(PoisonError::into_inner) {
            Mode::System { offset } => Utc::now() + offset,
            Mode::Fixed { at } => at,
        }
    }

    /// Moves the clock forward (or back, with a negative duration) without sleeping.
    pub fn advance(&self, by: Duration) {
        let mut mode = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        *mode = match *mode {
            Mode::System { offset } => Mode::System { offset: offset + by },
            Mode::Fixed { at } => Mode::Fixed { at: at + by },
        };
    }

    /// Sets a fixed clock to `at` (a system clock becomes fixed).
    pub fn set(&self, at: DateTime<Utc>) {
        *self.inner.lock().unwrap_or_else(PoisonError::into_inner) = Mode::Fixed { at };
    }

    /// A clock that reads this one plus `skew`: how a client whose clock is wrong sees the same moment.
    /// It does not share later [`Clock::set`] calls; use it for one decision at a time.
    pub fn skewed(&self, skew: Duration) -> Self {
        Self::fixed(self.now() + skew)
    }

    /// RFC 3339 with seconds and a `+00:00` offset, as the SCR backend writes timestamps.
    pub fn timestamp(&self) -> String {
        self.now().format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    }
}

/// The machine's wall time, for *measurements* only (when an exchange was sent, to place it in its step):
/// never for a domain decision, which goes through a [`Clock`].
pub fn wall_time() -> std::time::SystemTime {
    std::time::SystemTime::now()
}

/// A wall-clock instant as evidence writes it: RFC 3339 UTC with milliseconds (`2026-12-04T17:42:13.123Z`).
pub fn wall_stamp(at: std::time::SystemTime) -> String {
    DateTime::<Utc>::from(at).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The machine's wall time now, as [`wall_stamp`] writes it: when a record was made, for evidence (the run's
/// virtual clock may be shown beside it, never instead of it).
pub fn wall_timestamp() -> String {
    wall_stamp(wall_time())
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn fixed_clock_moves_only_when_advanced() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
        let clock = Clock::fixed(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(600));
        assert_eq!(clock.now(), start + Duration::seconds(600));
        assert_eq!(clock.timestamp(), "2026-01-01T00:10:00+00:00");
    }

    #[test]
    fn clones_share_the_same_time_and_skew_is_relative() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
        let clock = Clock::fixed(start);
        let shared = clock.clone();
        clock.advance(Duration::seconds(5));
        assert_eq!(shared.now(), start + Duration::seconds(5));
        assert_eq!(shared.skewed(Duration::seconds(15)).now(), start + Duration::seconds(20));
    }

    #[test]
    fn system_clock_offset_applies() {
        let clock = Clock::system();
        clock.advance(Duration::hours(1));
        let diff = clock.now() - Utc::now();
        assert!(diff > Duration::minutes(59) && diff <= Duration::hours(1));
    }
}
