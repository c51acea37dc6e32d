//! What every scenario of one run shares: the target's clients, the patient allocator, the clock and the
//! exchange log the reporters read. Scenarios never share patients.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::client::{Exchange, ScrClient};
use crate::clock::Clock;
use crate::scr::NhsNumber;
use crate::secret::Secret;

use super::TargetKind;

/// Hands out NHS numbers no other scenario of the run has: valid Modulus 11 numbers from the 999 test range.
#[derive(Debug)]
pub struct PatientAllocator {
    next_stem: AtomicU64,
}

impl PatientAllocator {
    /// Starts at `first_stem` (nine digits).
    pub fn new(first_stem: u64) -> Self {
        Self { next_stem: AtomicU64::new(first_stem) }
    }

    /// The next unused NHS number; `None` when the range is exhausted.
    pub fn next(&self) -> Option<NhsNumber> {
        loop {
            let stem = self.next_stem.fetch_add(1, Ordering::Relaxed);
            if stem > 999_999_999 {
                return None;
            }
            if let Some(n) = NhsNumber::from_stem(stem) {
                return Some(n);
            }
        }
    }
}

/// Where exchanges of finished scenarios wait for the reporters: keyed by feature file and line.
#[derive(Debug, Default)]
pub struct ExchangeLog {
    by_scenario: Mutex<HashMap<(PathBuf, usize), Vec<Exchange>>>,
}

impl ExchangeLog {
    pub fn put(&self, key: (PathBuf, usize), exchanges: Vec<Exchange>) {
        self.by_scenario.lock().unwrap_or_else(PoisonError::into_inner).entry(key).or_default().extend(exchanges);
    }

    pub fn take(&self, key: &(PathBuf, usize)) -> Vec<Exchange> {
        self.by_scenario.lock().unwrap_or_else(PoisonError::into_inner).remove(key).unwrap_or_default()
    }
}

/// Which server a scenario talks to, from its tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Ordinary scenarios: the stateful mock behind its gateway, or the real target.
    Main,
    /// `@open-access`: the backend's own answers, without a gateway in front (a second, open stateful mock).
    OpenAccess,
    /// `@sandbox`: the sandbox-profile mock, or the real sandbox.
    Sandbox,
}

impl Lane {
    pub fn of<'a>(tags: impl IntoIterator<Item = &'a String>) -> Self {
        let mut lane = Self::Main;
        for t in tags {
            match t.as_str() {
                "sandbox" => return Self::Sandbox,
                "open-access" => lane = Self::OpenAccess,
                _ => {}
            }
        }
        lane
    }
}

/// A server of the run: its client and, for an embedded mock, the origin of its `/_admin` routes.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub client: ScrClient,
    pub admin_origin: Option<String>,
}

/// Everything a scenario needs from the run.
#[derive(Debug)]
pub struct RunContext {
    pub target: TargetKind,
    pub main: Endpoint,
    pub open_access: Endpoint,
    pub sandbox: Endpoint,
    pub clock: Clock,
    pub patients: PatientAllocator,
    /// Default `NHSD-Session-URID`.
    pub session_urid: String,
    /// The main lane's authentication (the identity service, the app, the default token); `None` where no
    /// token is checked.
    pub auth: Option<super::auth::Auth>,
    /// Sent as `Authorization: Bearer …` where no token is checked (an inert placeholder), or the token
    /// given in `SCR_ASSURE_ACCESS_TOKEN`.
    pub access_token: Secret,
    pub exchanges: ExchangeLog,
    pub snapshots: crate::snapshot::SnapshotStore,
    /// Scenarios (by location) that have met `Given this scenario fails on its first attempt` in this run.
    pub first_attempts: Mutex<std::collections::HashSet<String>>,
}

impl RunContext {
    pub fn endpoint(&self, lane: Lane) -> &Endpoint {
        match lane {
            Lane::Main => &self.main,
            Lane::OpenAccess => &self.open_access,
            Lane::Sandbox => &self.sandbox,
        }
    }
}

static CURRENT: RwLock<Option<Arc<RunContext>>> = RwLock::new(None);
/// One run at a time per process: the World's constructor reads the current context.
static RUN_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Holds the process-wide run slot; dropping it clears the context.
pub struct ActiveRun {
    _guard: tokio::sync::MutexGuard<'static, ()>,
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        *CURRENT.write().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// Makes `ctx` the context of new Worlds until the returned guard drops; waits for any other run.
pub async fn activate(ctx: Arc<RunContext>) -> ActiveRun {
    let guard = RUN_LOCK.lock().await;
    *CURRENT.write().unwrap_or_else(PoisonError::into_inner) = Some(ctx);
    ActiveRun { _guard: guard }
}

/// The context of the run in progress.
pub fn current() -> Option<Arc<RunContext>> {
    CURRENT.read().unwrap_or_else(PoisonError::into_inner).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocator_gives_distinct_valid_numbers() {
        let a = PatientAllocator::new(999_000_000);
        let numbers: Vec<NhsNumber> = (0..50).filter_map(|_| a.next()).collect();
        assert_eq!(numbers.len(), 50);
        let mut sorted = numbers.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), 50);
        assert!(numbers.iter().all(|n| n.as_str().starts_with("999") && NhsNumber::parse(n.as_str()).is_ok()));
    }

    #[test]
    fn allocator_stops_at_the_end_of_the_range() {
        let a = PatientAllocator::new(999_999_999);
        let _ = a.next();
        assert!(a.next().is_none());
    }
}
