//! The embedded mock SCR service: a real HTTP server on loopback that answers like the NHS SCR FHIR API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), scr_assure::mock::MockError> {
//! use scr_assure::mock::{MockConfig, Profile};
//! let mock = scr_assure::mock::start(MockConfig::loopback(Profile::Stateful)).await?;
//! println!("SCR FHIR API at {}", mock.base_url());   // http://127.0.0.1:<port>/summary-care-record/FHIR/R4
//! mock.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Layers, as in the NHS deployment (reference §2): [`transport`] plays the servlet filters and Spring's
//! dispatch (X-Correlation-ID/X-Request-ID, 404/405/415); [`backend`] plays the Java adaptor (parameter and
//! body validation in the adaptor's order); a [`spine::Spine`] answers what Spine would — [`spine::StatefulSpine`]
//! over a [`state::ScrStore`] by default, or [`sandbox::SandboxSpine`] with the NHS sandbox's canned answers.
//! [`admin`] holds the mock-only routes under `/_admin` that arrange and inspect state.
//! The mock never calls into the harness; the harness reaches it only over HTTP.

pub mod admin;
pub mod audit;
pub mod backend;
pub mod connection;
pub mod faults;
pub mod gateway;
pub mod identity;
pub mod operation;
pub mod rate_limit;
pub mod resend;
pub mod responses;
pub mod sandbox;
pub mod seed;
pub mod spine;
pub mod state;
pub mod traffic;
pub mod transport;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::scr::codes::BASE_PATH;

/// Which behaviour the mock reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// Like INT: each patient has consent and SCR history that uploads and `$setPermission` change.
    Stateful,
    /// Exactly the NHS sandbox's canned behaviour (reference §6): one magic patient, fixed SCR id.
    Sandbox,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stateful => "stateful",
            Self::Sandbox => "sandbox",
        }
    }
}

/// How to start a mock.
#[derive(Debug, Clone)]
pub struct MockConfig {
    pub profile: Profile,
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    pub clock: Clock,
    /// Whether the stateful profile starts with the seed patients of [`seed`].
    pub seed: bool,
    /// Whether SCR requests pass the gateway (token, access mode, role). Off: open access, like the sandbox.
    pub auth: bool,
    /// The proxy's SpikeArrest and Quota per app ([`rate_limit`]); `None`: off.
    pub rate_limit: Option<rate_limit::RateLimit>,
}

impl MockConfig {
    /// 127.0.0.1 on a free port, real time, seeded.
    pub fn loopback(profile: Profile) -> Self {
        Self {
            profile,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            clock: Clock::system(),
            seed: true,
            auth: false,
            rate_limit: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MockError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("seed data is invalid: {0}")]
    Seed(String),
}

/// Shared by every request of one mock.
pub struct AppState {
    pub profile: Profile,
    pub clock: Clock,
    /// `http://127.0.0.1:<port>`: what the mock puts in absolute URLs it returns.
    pub origin: String,
    pub spine: Box<dyn spine::Spine>,
    /// The stateful store (empty and unused in the sandbox profile; admin routes read it).
    pub store: Arc<state::ScrStore>,
    /// The mock identity service (stateful profile only: the NHS sandbox has none).
    pub identity: Option<Arc<identity::IdentityService>>,
    /// Whether SCR requests pass the gateway.
    pub auth: bool,
    /// Every access to an SCR operation and the token endpoint, hash-chained.
    pub audit: Arc<audit::AuditTrail>,
    /// Armed faults ([`faults`]), the rate limits, and the uploads completed by X-Request-ID ([`resend`]).
    pub faults: faults::FaultBook,
    pub rate_limit: rate_limit::RateLimiter,
    pub uploads: resend::CompletedUploads,
    /// Every request outside `/_admin` and its answer ([`traffic`], `GET /_admin/traffic`).
    pub traffic: Arc<traffic::TrafficJournal>,
}

impl AppState {
    /// The service base URL, e.g. `http://127.0.0.1:8080/summary-care-record/FHIR/R4`.
    pub fn base_url(&self) -> String {
        format!("{}{}", self.origin, BASE_PATH)
    }
}

/// A mock that is serving. Dropping it without [`RunningMock::shutdown`] stops it when the runtime ends.
pub struct RunningMock {
    addr: SocketAddr,
    profile: Profile,
    identity: Option<Arc<identity::IdentityService>>,
    auth: bool,
    audit: Arc<audit::AuditTrail>,
    traffic: Arc<traffic::TrafficJournal>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningMock {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Whether SCR requests pass the gateway.
    pub fn auth(&self) -> bool {
        self.auth
    }

    /// The mock identity service (stateful profile), e.g. to introspect a token it issued.
    pub fn identity(&self) -> Option<&identity::IdentityService> {
        self.identity.as_deref()
    }

    /// The audit trail so far (what `GET /_admin/audit` answers).
    pub fn audit_entries(&self) -> Vec<audit::AuditEntry> {
        self.audit.entries(0)
    }

    /// The audit trail itself, readable after [`RunningMock::shutdown`].
    pub fn audit(&self) -> Arc<audit::AuditTrail> {
        self.audit.clone()
    }

    /// The traffic journal so far (what `GET /_admin/traffic` answers).
    pub fn traffic_entries(&self) -> Vec<traffic::TrafficEntry> {
        self.traffic.entries(&traffic::TrafficFilter::default())
    }

    /// `http://127.0.0.1:<port>`
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:<port>/summary-care-record/FHIR/R4`
    pub fn base_url(&self) -> String {
        format!("{}{}", self.origin(), BASE_PATH)
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Starts a mock on `config.addr` and returns once it accepts connections.
pub async fn start(config: MockConfig) -> Result<RunningMock, MockError> {
    let listener =
        TcpListener::bind(config.addr).await.map_err(|source| MockError::Bind { addr: config.addr, source })?;
    let addr = listener.local_addr().map_err(|source| MockError::Bind { addr: config.addr, source })?;
    let origin = format!("http://{addr}");
    let store = Arc::new(state::ScrStore::default());
    if config.seed && config.profile == Profile::Stateful {
        seed::seed(&store, &config.clock).map_err(MockError::Seed)?;
    }
    let spine: Box<dyn spine::Spine> = match config.profile {
        Profile::Stateful => Box::new(spine::StatefulSpine::new(store.clone(), config.clock.clone())),
        Profile::Sandbox => Box::new(sandbox::SandboxSpine::new()),
    };
    let identity = match config.profile {
        Profile::Stateful => Some(Arc::new(
            identity::IdentityService::new(config.clock.clone(), origin.clone()).map_err(MockError::Seed)?,
        )),
        Profile::Sandbox => None,
    };
    let auth = config.auth && identity.is_some();
    let audit = Arc::new(audit::AuditTrail::new(config.clock.clone()));
    let traffic = Arc::new(traffic::TrafficJournal::default());
    let app = Arc::new(AppState {
        profile: config.profile,
        clock: config.clock,
        origin,
        spine,
        store,
        identity: identity.clone(),
        auth,
        audit: audit.clone(),
        faults: faults::FaultBook::default(),
        rate_limit: rate_limit::RateLimiter::new(config.rate_limit),
        uploads: resend::CompletedUploads::default(),
        traffic: traffic.clone(),
    });
    // Connections that a `connection-reset` fault can close with an RST.
    let listener = connection::ResettingListener::new(listener);
    let router = transport::router(app).into_make_service_with_connect_info::<connection::ConnectionHandle>();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, router).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = served.await {
            tracing::error!("mock server stopped: {e}");
        }
    });
    Ok(RunningMock { addr, profile: config.profile, identity, auth, audit, traffic, shutdown: Some(tx), task })
}
