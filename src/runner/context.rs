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

/// What the system under test did in one scenario: the actions run and its traffic, for the reports.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SutEvidence {
    pub actions: Vec<crate::sut::ActionReport>,
    pub traffic: Vec<crate::mock::traffic::TrafficEntry>,
}

/// Where SUT evidence of finished scenarios waits for the reporters, keyed like [`ExchangeLog`].
#[derive(Debug, Default)]
pub struct SutLog {
    by_scenario: Mutex<HashMap<(PathBuf, usize), SutEvidence>>,
}

impl SutLog {
    pub fn put(&self, key: (PathBuf, usize), evidence: SutEvidence) {
        let mut map = self.by_scenario.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = map.entry(key).or_default();
        slot.actions.extend(evidence.actions);
        slot.traffic.extend(evidence.traffic);
    }

    pub fn take(&self, key: &(PathBuf, usize)) -> Option<SutEvidence> {
        self.by_scenario.lock().unwrap_or_else(PoisonError::into_inner).remove(key)
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
    /// `@client`: the client lane, where the system under test talks to its own embedded mock
    /// (`docs/CLIENT.md`); the harness arranges state there and grades what the SUT sent.
    Client,
}

impl Lane {
    pub fn of<'a>(tags: impl IntoIterator<Item = &'a String>) -> Self {
        let mut lane = Self::Main;
        for t in tags {
            match t.as_str() {
                "sandbox" => return Self::Sandbox,
                "client" => return Self::Client,
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

/// The client lane: the embedded mock the system under test talks to, the harness's own way in (to arrange
/// state as "another system"), and the SUT.
#[derive(Debug)]
pub struct ClientLane {
    pub endpoint: Endpoint,
    /// The harness's own authentication on this mock (the fixture app), for arranging state.
    pub auth: super::auth::Auth,
    /// Real time: the SUT's clock is real, so the lane's must be too.
    pub clock: Clock,
    pub sut: crate::sut::SutConfig,
    /// The name the SUT's app is registered under.
    pub app_name: String,
    /// `http://127.0.0.1:<port>`
    pub origin: String,
    /// The CIS2 persona the SUT's clinician signs in as, and their roles.
    pub persona: String,
    pub user_id: String,
    pub roles: Vec<String>,
    /// The role the SUT is told to use (`SCR_ASSURE_URID`).
    pub urid: String,
    /// Where each scenario's session directory is made (removed when the run ends).
    pub sessions: tempfile::TempDir,
}

impl ClientLane {
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.origin)
    }
}

/// Everything a scenario needs from the run.
#[derive(Debug)]
pub struct RunContext {
    pub target: TargetKind,
    pub main: Endpoint,
    pub open_access: Endpoint,
    pub sandbox: Endpoint,
    /// The client lane, when client scenarios run.
    pub client: Option<ClientLane>,
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
    /// What the SUT did, per scenario (client scenarios).
    pub sut_log: SutLog,
    pub snapshots: crate::snapshot::SnapshotStore,
    /// One client per mock admin origin, built on first use (building a client is not free).
    pub admin_clients: Mutex<HashMap<String, ScrClient>>,
    /// Scenarios (by location) that have met `Given this scenario fails on its first attempt` in this run.
    pub first_attempts: Mutex<std::collections::HashSet<String>>,
}

impl RunContext {
    /// The client for a mock's admin routes at `origin`.
    pub fn admin_client(&self, origin: &str) -> Result<ScrClient, crate::client::ClientError> {
        let mut clients = self.admin_clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = clients.get(origin) {
            return Ok(c.clone());
        }
        let client = ScrClient::new(origin, self.clock.clone(), crate::client::ClientOptions::default())?;
        clients.insert(origin.to_owned(), client.clone());
        Ok(client)
    }

    pub fn endpoint(&self, lane: Lane) -> &Endpoint {
        match lane {
            Lane::Main => &self.main,
            Lane::OpenAccess => &self.open_access,
            Lane::Sandbox => &self.sandbox,
            Lane::Client => self.client.as_ref().map_or(&self.main, |c| &c.endpoint),
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
