//! Runs the Gherkin scenarios against a target and writes the reports.
//!
//! One run: check the features against the requirement catalogue (refuse to start on any problem), start
//! the embedded mocks if the target is `mock`, check the target answers, run cucumber with our
//! [`recorder::Recorder`] and cucumber's JSON writer, then write `junit.xml` and `cucumber.json`.

pub mod audit;
pub mod auth;
pub mod checks;
pub mod client_lane;
pub mod context;
pub mod recorder;
pub mod vocabulary;
pub mod world;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use cucumber::{World as _, WriterExt as _};
use serde::Serialize;

use crate::client::{ClientError, ClientOptions, ScrClient, TransportFault};
use crate::clock::Clock;
use crate::mock::{self, MockConfig, Profile, RunningMock};
use crate::report::model::{NotRun, NotRunKind};
use crate::report::{self, ReportError};
use crate::requirements::{self, Catalogue, Problem, RequirementsError, ScenarioInfo};
use crate::secret::Secret;
use context::{Endpoint, ExchangeLog, Lane, PatientAllocator, RunContext};
use recorder::{Recorder, Records, ScenarioRecord, Status};
use world::ScrWorld;

/// NHS sandbox base URL (reference §1).
pub const SANDBOX_BASE_URL: &str = "https://sandbox.api.service.nhs.uk/summary-care-record/FHIR/R4";
/// NHS integration (INT) base URL (reference §1).
pub const INT_BASE_URL: &str = "https://int.api.service.nhs.uk/summary-care-record/FHIR/R4";
/// The role (`NHSD-Session-URID`) requests carry by default: one of the sandbox user's roles (reference §6, §9).
pub const DEFAULT_SESSION_URID: &str = "555254242102";
/// Where scenario NHS numbers start: the 999 test range.
pub const FIRST_PATIENT_STEM: u64 = 999_100_000;

/// Which environment a run talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The embedded mock on 127.0.0.1 (default).
    Mock,
    /// The public NHS sandbox (open access, canned answers): runs the `@sandbox` scenarios.
    Sandbox,
    /// The NHS integration environment (needs an access token).
    Int,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mock => "mock",
            Self::Sandbox => "sandbox",
            Self::Int => "int",
        }
    }
}

/// Everything `scr-assure run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub features: PathBuf,
    pub requirements: PathBuf,
    pub target: TargetKind,
    /// For the mock target: only one profile (`stateful` skips `@sandbox`, `sandbox` runs only `@sandbox`).
    pub profile: Option<Profile>,
    pub base_url: Option<String>,
    /// A cucumber tag expression, e.g. `@SCRA-RET-001 and not @mock-only`.
    pub tags: Option<String>,
    pub reports: PathBuf,
    pub concurrency: usize,
    pub session_urid: String,
    pub access_token: Option<Secret>,
    /// The site of a real environment (`--site`): endpoints, identity and secrets.
    pub site: Option<crate::config::site::Site>,
    /// How every HTTP call is bounded: connect and read timeouts, the per-request deadline, the body cap.
    pub http: ClientOptions,
    /// Console output (progress and summary).
    pub quiet: bool,
    /// What to do with `Then the response matches the snapshot` steps.
    pub snapshots: crate::snapshot::SnapshotMode,
    /// Where snapshot files live.
    pub snapshots_dir: PathBuf,
    /// A supplier's SCAL mapping (CSV: row, title, requirements) to group the evidence by.
    pub scal_map: Option<PathBuf>,
    /// Retries of a failed scenario (each recorded, never hidden).
    pub retries: usize,
    /// Stop at the first failure.
    pub fail_fast: bool,
    /// Only scenarios whose name matches this regular expression.
    pub name: Option<String>,
    /// Only the scenarios at these `file:line` locations (`--rerun-failed`).
    pub only: Option<std::collections::BTreeSet<String>>,
    /// Lift the production guard (`--allow-production`): see [`crate::config::guard`].
    pub allow_production: bool,
    /// The system the `@client` scenarios grade: the bundled reference client (default), or a supplier's
    /// `sut.toml` (`--sut`), in which case only the client scenarios run.
    pub sut: client_lane::SutChoice,
}

impl RunOptions {
    pub fn new(features: PathBuf, reports: PathBuf) -> Self {
        Self {
            requirements: features.join("requirements.toml"),
            features,
            target: TargetKind::Mock,
            profile: None,
            base_url: None,
            tags: None,
            reports,
            concurrency: 64,
            session_urid: DEFAULT_SESSION_URID.into(),
            access_token: None,
            site: None,
            http: ClientOptions::default(),
            quiet: false,
            snapshots: crate::snapshot::SnapshotMode::Check,
            snapshots_dir: PathBuf::from("snapshots"),
            scal_map: None,
            retries: 0,
            fail_fast: false,
            name: None,
            only: None,
            allow_production: false,
            sut: client_lane::SutChoice::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the features do not match the requirement catalogue:\n{}", list(.0))]
    Features(Vec<Problem>),
    #[error(
        "the features use steps that no step definition matches (the harness's features are broken, not the \
         product):\n{}",
        list(.0)
    )]
    UndefinedSteps(Vec<Problem>),
    #[error(transparent)]
    Requirements(#[from] RequirementsError),
    #[error("invalid --tags expression '{expression}': {message}")]
    TagExpression { expression: String, message: String },
    #[error("{0}")]
    Config(String),
    #[error("the target could not be reached: {0}")]
    Unreachable(String),
    #[error(
        "the TLS handshake with the target failed (is it really HTTPS, with a certificate this machine trusts?): {0}"
    )]
    Tls(String),
    #[error(transparent)]
    Guard(#[from] crate::config::guard::GuardError),
    #[error("{0} before any scenario ran: no reports were written")]
    Interrupted(Interruption),
    #[error("the embedded mock could not start: {0}")]
    Mock(#[from] mock::MockError),
    #[error(transparent)]
    Report(#[from] ReportError),
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

impl RunError {
    /// 2: usage, configuration or feature error; 3: the target could not be reached (or TLS failed);
    /// 130/143: interrupted by SIGINT/SIGTERM before any scenario ran.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Unreachable(_) | Self::Tls(_) | Self::Mock(_) => 3,
            Self::Interrupted(why) => why.exit_code(),
            _ => 2,
        }
    }
}

/// Why a run stopped before every scenario finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Interruption {
    /// Ctrl-C (SIGINT), or a caller's cancellation.
    CtrlC,
    /// SIGTERM (a CI job cancelled, a container stopped).
    Sigterm,
    /// The harness itself failed midway (a panic outside any step); the message says how.
    HarnessError(String),
}

impl Interruption {
    /// 130 = 128 + SIGINT, 143 = 128 + SIGTERM, 2 for a harness error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::CtrlC => 130,
            Self::Sigterm => 143,
            Self::HarnessError(_) => 2,
        }
    }
}

impl std::fmt::Display for Interruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CtrlC => f.write_str("interrupted by Ctrl-C (SIGINT)"),
            Self::Sigterm => f.write_str("interrupted by SIGTERM"),
            Self::HarnessError(why) => write!(f, "stopped by a harness error: {why}"),
        }
    }
}

/// A caller's cancellation that says nothing more is a Ctrl-C.
impl From<()> for Interruption {
    fn from((): ()) -> Self {
        Self::CtrlC
    }
}

/// The result of a run that got to the end.
#[derive(Debug, Serialize)]
pub struct RunOutcome {
    pub target: TargetKind,
    pub base_url: String,
    pub started_at: String,
    pub finished_at: String,
    pub records: Vec<ScenarioRecord>,
    pub reports: Vec<PathBuf>,
    /// The run was stopped (Ctrl-C, SIGTERM, a harness error) before every scenario finished; the reports hold
    /// those that did.
    pub interrupted: bool,
    /// Why it stopped early, when it did.
    pub interruption: Option<Interruption>,
    /// Reports that could not be written (the run went on to write the others); exit 2 when any.
    pub report_errors: Vec<String>,
    /// The scenarios of the features that did not run, with the reason (filtered, not applicable, not reached).
    pub not_run: Vec<NotRun>,
}

impl RunOutcome {
    pub fn count(&self, status: Status) -> usize {
        self.records.iter().filter(|r| r.status == status).count()
    }

    /// Exit code: 0 when every scenario passed (and at least one ran), 1 otherwise; 130 (Ctrl-C) or 143
    /// (SIGTERM) when interrupted; 2 when the harness failed midway or a report could not be written.
    pub fn exit_code(&self) -> u8 {
        if let Some(why) = &self.interruption {
            why.exit_code()
        } else if self.interrupted {
            130
        } else if !self.report_errors.is_empty() {
            2
        } else if self.count(Status::Passed) == self.records.len() && !self.records.is_empty() {
            0
        } else {
            1
        }
    }
}

/// Where this run's patients start: the same stem on a fresh embedded mock (deterministic runs); a random one
/// on a long-lived target, so that runs do not meet each other's patients.
fn first_patient_stem(target: TargetKind) -> u64 {
    match target {
        TargetKind::Mock => FIRST_PATIENT_STEM,
        _ => {
            let random = u64::from(uuid::Uuid::new_v4().as_u128() as u32);
            999_000_000 + random % 990_000
        }
    }
}

/// Whether a scenario runs against this target (before the user's `--tags`). `only_client`: a supplier's
/// system is graded (`--sut`), so only the `@client` scenarios run; they need the embedded mock's client
/// lane, so they never run against the sandbox or INT.
pub fn runs_on(target: TargetKind, profile: Option<Profile>, only_client: bool, tags: &[String]) -> bool {
    let has = |t: &str| tags.iter().any(|x| x == t);
    if has("client") {
        return target == TargetKind::Mock && profile != Some(Profile::Sandbox);
    }
    if only_client {
        return false;
    }
    match (target, profile) {
        (TargetKind::Mock, None) => true,
        (TargetKind::Mock, Some(Profile::Stateful)) => !has("sandbox"),
        (TargetKind::Mock, Some(Profile::Sandbox)) => has("sandbox"),
        (TargetKind::Sandbox, _) => has("sandbox") && !has("mock-only"),
        (TargetKind::Int, _) => !has("sandbox") && !has("mock-only") && !has("open-access"),
    }
}

/// The scenarios that failed in the bundle at `reports/latest` (for `--rerun-failed`), as `file:line`.
pub fn failed_in_latest(reports: &std::path::Path) -> Result<std::collections::BTreeSet<String>, RunError> {
    let path = reports.join("latest").join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| RunError::Config(format!("--rerun-failed needs a previous run's {}: {e}", path.display())))?;
    let manifest: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| RunError::Config(format!("{} is not JSON: {e}", path.display())))?;
    Ok(manifest["scenarios"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|s| s["result"] == "failed")
                .filter_map(|s| s["location"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// The scenarios a run with these options would execute, in file order.
pub fn selected_scenarios(opts: &RunOptions) -> Result<Vec<ScenarioInfo>, RunError> {
    Ok(plan(opts)?.0)
}

/// The scenarios a run with these options executes (file order), and every other scenario of the features with
/// the reason it does not run: not applicable to the target, or filtered out by `--tags`, `--name` or
/// `--rerun-failed` (checked in that order, the first reason given). The one decision: cucumber runs exactly
/// the scenarios selected here ([`planned_filter`]).
pub fn plan(opts: &RunOptions) -> Result<(Vec<ScenarioInfo>, Vec<NotRun>), RunError> {
    let expr = parse_tags(opts.tags.as_deref())?;
    let scenarios = requirements::scan_features(&opts.features)?;
    let name = opts
        .name
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| RunError::Config(format!("invalid --name regular expression: {e}")))?;
    let only_client = opts.sut.only_client();
    let (mut selected, mut not_run) = (Vec::new(), Vec::new());
    for sc in scenarios {
        // As the run's records and their manifest name it: the canonical file, relative to the working directory
        // when inside it.
        let (canonical, line) = scenario_key(&sc.file, sc.line);
        let location = format!("{}:{line}", recorder::relative_path(&canonical).display());
        let why = if !runs_on(opts.target, opts.profile, only_client, &sc.tags) {
            Some((NotRunKind::NotApplicable, not_applicable(opts.target, opts.profile, only_client, &sc.tags)))
        } else if name.as_ref().is_some_and(|re| !re.is_match(&sc.name)) {
            Some((
                NotRunKind::Filtered,
                format!("filtered out: --name '{}' does not match its name", opts.name.as_deref().unwrap_or("")),
            ))
        } else if opts.only.as_ref().is_some_and(|set| !set.contains(&location)) {
            Some((NotRunKind::Filtered, "filtered out: --rerun-failed (it did not fail in the previous run)".into()))
        } else if expr.as_ref().is_some_and(|e| !cucumber::tag::Ext::eval(e, sc.tags.iter())) {
            Some((
                NotRunKind::Filtered,
                format!("filtered out: --tags '{}' does not select it", opts.tags.as_deref().unwrap_or("")),
            ))
        } else {
            None
        };
        match why {
            None => selected.push(sc),
            Some((kind, reason)) => not_run.push(not_run_of(&sc, kind, reason)),
        }
    }
    Ok((selected, not_run))
}

/// A scenario as the plan and cucumber both know it: its feature file, however its path was spelt
/// (`./features/…`, absolute, relative; cucumber's are canonical), and its line (an Examples row's own line).
type ScenarioKey = (PathBuf, usize);

fn scenario_key(file: &std::path::Path, line: usize) -> ScenarioKey {
    (std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned()), line)
}

/// Cucumber's filter for a run: a scenario runs when, and only when, [`plan`] selected it (by feature file and
/// line), so the plan, the progress, `not_run` and what cucumber runs cannot disagree.
pub fn planned_filter(
    selected: &[ScenarioInfo],
) -> impl Fn(&cucumber::gherkin::Feature, Option<&cucumber::gherkin::Rule>, &cucumber::gherkin::Scenario) -> bool + 'static
{
    let planned: std::collections::HashSet<ScenarioKey> =
        selected.iter().map(|sc| scenario_key(&sc.file, sc.line)).collect();
    move |feature, _rule, scenario| {
        feature.path.as_deref().is_some_and(|path| planned.contains(&scenario_key(path, scenario.position.line)))
    }
}

fn not_run_of(sc: &ScenarioInfo, kind: NotRunKind, reason: String) -> NotRun {
    NotRun {
        feature: sc.feature.clone(),
        name: sc.name.clone(),
        file: recorder::relative_path(&sc.file).display().to_string(),
        line: sc.line,
        tags: sc.tags.clone(),
        kind,
        reason,
    }
}

/// Why [`runs_on`] leaves a scenario out on this target, in words.
pub fn not_applicable(target: TargetKind, profile: Option<Profile>, only_client: bool, tags: &[String]) -> String {
    let has = |t: &str| tags.iter().any(|x| x == t);
    let why = if has("client") {
        "@client: the client scenarios need the embedded mock's client lane (--target mock, not --profile sandbox)"
    } else if only_client {
        "--sut grades a system under test: only the @client scenarios run"
    } else {
        match (target, profile) {
            (TargetKind::Mock, Some(Profile::Stateful)) => {
                "@sandbox: --profile stateful leaves out the sandbox profile"
            }
            (TargetKind::Mock, Some(Profile::Sandbox)) => {
                "not @sandbox: --profile sandbox runs only the @sandbox scenarios"
            }
            (TargetKind::Sandbox, _) if !has("sandbox") => {
                "not @sandbox: the sandbox target runs only the @sandbox scenarios"
            }
            (TargetKind::Sandbox, _) => "@mock-only: it arranges state through the embedded mock's /_admin routes",
            (TargetKind::Int, _) if has("sandbox") => "@sandbox: it expects the sandbox's canned answers",
            (TargetKind::Int, _) if has("mock-only") => {
                "@mock-only: it arranges state through the embedded mock's /_admin routes"
            }
            (TargetKind::Int, _) if has("open-access") => "@open-access: it needs a target without authentication",
            _ => "not for this target",
        }
    };
    format!("not applicable to the {} target: {why}", target.as_str())
}

/// The selected scenarios that have no record once the run is over: not reached, because `--fail-fast` stopped
/// the run or it was interrupted.
fn not_reached(selected: &[ScenarioInfo], records: &[ScenarioRecord], why: &str) -> Vec<NotRun> {
    if records.len() >= selected.len() {
        return Vec::new();
    }
    // Compared by the file itself, however its path was spelt (`./features/…`, absolute, relative).
    let ran: std::collections::HashSet<ScenarioKey> = records.iter().map(|r| scenario_key(&r.file, r.line)).collect();
    selected
        .iter()
        .filter(|sc| !ran.contains(&scenario_key(&sc.file, sc.line)))
        .map(|sc| not_run_of(sc, NotRunKind::NotReached, why.to_owned()))
        .collect()
}

fn parse_tags(tags: Option<&str>) -> Result<Option<cucumber::gherkin::tagexpr::TagOperation>, RunError> {
    tags.map(|t| {
        t.parse::<cucumber::gherkin::tagexpr::TagOperation>()
            .map_err(|e| RunError::TagExpression { expression: t.to_owned(), message: e.to_string() })
    })
    .transpose()
}

/// A `Write` into a shared buffer, so cucumber's JSON writer output can be written atomically afterwards.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The environment a run talks to: one endpoint per lane, and the embedded mocks it started (if any).
struct Target {
    main: Endpoint,
    open_access: Endpoint,
    sandbox: Endpoint,
    /// The main lane's authentication.
    auth: Option<auth::Auth>,
    mocks: Vec<RunningMock>,
    /// The embedded mocks by lane name and origin, for their audit trails.
    audit_lanes: Vec<(String, String)>,
    /// The client lane, when client scenarios run.
    client: Option<context::ClientLane>,
}

async fn connect(opts: &RunOptions, clock: &Clock) -> Result<Target, RunError> {
    let client = |url: &str| ScrClient::new(url, clock.clone(), opts.http).map_err(|e| RunError::Config(e.to_string()));
    match opts.target {
        TargetKind::Mock => {
            if opts.base_url.is_some() {
                return Err(RunError::Config(
                    "--base-url is for the sandbox and int targets; the mock target starts its own server".into(),
                ));
            }
            let mut mocks = Vec::new();
            let config = MockConfig { clock: clock.clone(), ..MockConfig::loopback(Profile::Stateful) };
            let mut endpoints = Vec::new();
            let mut main_origin = None;
            let mut audit_lanes = Vec::new();
            // The stateful mock behind its gateway, the same without one (for @open-access), the sandbox profile.
            let wanted = [
                (opts.profile != Some(Profile::Sandbox)).then(|| MockConfig { auth: true, ..config.clone() }),
                (opts.profile != Some(Profile::Sandbox)).then(|| MockConfig { auth: false, ..config.clone() }),
                (opts.profile != Some(Profile::Stateful))
                    .then(|| MockConfig { profile: Profile::Sandbox, ..config.clone() }),
            ];
            for (config, lane) in wanted.into_iter().zip(["main", "open-access", "sandbox"]) {
                let Some(config) = config else {
                    endpoints.push(None);
                    continue;
                };
                let stateful = config.profile == Profile::Stateful;
                let gateway = config.auth;
                let m = mock::start(config).await?;
                if gateway {
                    main_origin = Some(m.origin());
                }
                endpoints.push(Some(Endpoint {
                    client: client(&m.base_url())?,
                    admin_origin: stateful.then(|| m.origin()),
                }));
                audit_lanes.push((lane.to_owned(), m.origin()));
                mocks.push(m);
            }
            let mut endpoints = endpoints.into_iter();
            let (main, open, sandbox) =
                (endpoints.next().flatten(), endpoints.next().flatten(), endpoints.next().flatten());
            let fallback = main.clone().or(sandbox.clone()).ok_or_else(|| RunError::Config("no mock to run".into()))?;
            let auth =
                main_origin.map(|origin| auth::mock_auth(&origin, &opts.http)).transpose().map_err(RunError::Config)?;
            Ok(Target {
                main: main.unwrap_or_else(|| fallback.clone()),
                open_access: open.unwrap_or_else(|| fallback.clone()),
                sandbox: sandbox.unwrap_or(fallback),
                auth,
                mocks,
                audit_lanes,
                client: None,
            })
        }
        TargetKind::Sandbox | TargetKind::Int => {
            let default = if opts.target == TargetKind::Sandbox { SANDBOX_BASE_URL } else { INT_BASE_URL };
            let site = opts.site.as_ref().filter(|_| opts.target == TargetKind::Int);
            let url = opts
                .base_url
                .clone()
                .or_else(|| site.map(|s| s.scr_base_url.clone()))
                .unwrap_or_else(|| default.to_owned());
            // The run's bounds (`opts.http`: flags over the site's [http]) govern its token requests too.
            let site = site.map(|s| crate::config::site::Site { http: opts.http, ..s.clone() });
            let auth = site.as_ref().map(auth::site_auth).transpose().map_err(|e| RunError::Config(e.to_string()))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(RunError::Config(format!("--base-url '{url}' must start with http:// or https://")));
            }
            let endpoint = Endpoint { client: client(&url)?, admin_origin: None };
            Ok(Target {
                main: endpoint.clone(),
                open_access: endpoint.clone(),
                sandbox: endpoint,
                auth,
                mocks: Vec::new(),
                audit_lanes: Vec::new(),
                client: None,
            })
        }
    }
}

/// SIGINT and SIGTERM, listened for from the moment a run starts (so a signal during setup is not lost), and
/// which came first. The listener stops when this is dropped.
struct StopSignals {
    rx: tokio::sync::watch::Receiver<Option<Interruption>>,
    task: tokio::task::JoinHandle<()>,
}

impl StopSignals {
    fn listen() -> Result<Self, RunError> {
        let (tx, rx) = tokio::sync::watch::channel(None);
        #[cfg(unix)]
        let task = {
            use tokio::signal::unix::{signal, SignalKind};
            let err = |e: std::io::Error| RunError::Config(format!("cannot listen for SIGINT/SIGTERM: {e}"));
            let mut interrupt = signal(SignalKind::interrupt()).map_err(err)?;
            let mut terminate = signal(SignalKind::terminate()).map_err(err)?;
            tokio::spawn(async move {
                let why = tokio::select! {
                    _ = interrupt.recv() => Interruption::CtrlC,
                    _ = terminate.recv() => Interruption::Sigterm,
                };
                tx.send_replace(Some(why));
            })
        };
        #[cfg(not(unix))]
        let task = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tx.send_replace(Some(Interruption::CtrlC));
            }
        });
        Ok(Self { rx, task })
    }

    /// Completes with the first signal.
    fn stopped(&self) -> impl std::future::Future<Output = Interruption> + use<> {
        let mut rx = self.rx.clone();
        async move {
            match rx.wait_for(Option::is_some).await {
                Ok(why) => why.clone().unwrap_or(Interruption::CtrlC),
                Err(_) => std::future::pending().await,
            }
        }
    }
}

impl Drop for StopSignals {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs the scenarios and writes the reports. Ctrl-C (SIGINT) or SIGTERM stops the run: during setup with
/// nothing written ([`RunError::Interrupted`]); once scenarios run, the reports of those that finished are still
/// written, the evidence bundle marked incomplete with the reason. `Err` means the run could not happen
/// (exit 2, 3, or 130/143).
pub async fn run(opts: RunOptions) -> Result<RunOutcome, RunError> {
    let signals = StopSignals::listen()?;
    run_with(opts, signals.stopped(), signals.stopped()).await
}

/// [`run`], stopped early when `cancel` completes (`()` counts as a Ctrl-C); `cancel` is only watched once the
/// scenarios run.
pub async fn run_until<I: Into<Interruption>>(
    opts: RunOptions,
    cancel: impl std::future::Future<Output = I>,
) -> Result<RunOutcome, RunError> {
    run_with(opts, std::future::pending(), async { cancel.await.into() }).await
}

/// Every configured URL the run would send requests to passes the production guard.
fn guard_urls(opts: &RunOptions) -> Result<(), RunError> {
    use crate::config::guard;
    if let Some(url) = &opts.base_url {
        guard::check_url("--base-url", url, opts.allow_production)?;
    }
    if let Some(site) = opts.site.as_ref().filter(|_| opts.target == TargetKind::Int) {
        guard::check_site(site, opts.allow_production)?;
    }
    Ok(())
}

async fn run_with(
    opts: RunOptions,
    setup_cancel: impl std::future::Future<Output = Interruption>,
    cancel: impl std::future::Future<Output = Interruption>,
) -> Result<RunOutcome, RunError> {
    guard_urls(&opts)?;
    let mut catalogue = Catalogue::load(&opts.requirements)?;
    let all = requirements::scan_features(&opts.features)?;
    catalogue.mark_mock_only(&all);
    let problems = requirements::check(&catalogue, &all);
    if !problems.is_empty() {
        return Err(RunError::Features(problems));
    }
    let undefined = vocabulary::unmatched_steps(&opts.features)?;
    if !undefined.is_empty() {
        return Err(RunError::UndefinedSteps(undefined));
    }
    // A bad --tags expression is refused before connecting to anything.
    parse_tags(opts.tags.as_deref())?;
    let scal_map = opts.scal_map.as_deref().map(|p| report::evidence::ScalMap::load(p, &catalogue)).transpose()?;
    let access_token = match (opts.target, &opts.access_token) {
        (TargetKind::Int, None) if opts.site.is_none() => {
            return Err(RunError::Config(
                "the int target needs --site site.toml (or an access token in SCR_ASSURE_ACCESS_TOKEN)".into(),
            ))
        }
        (_, Some(t)) => t.clone(),
        (_, None) => Secret::new("scr-assure-open-access"),
    };

    // A run that could not write its evidence would be wasted: refuse it now.
    report::ensure_writable(&opts.reports)?;

    // Against the embedded mock, harness and mock share a virtual clock that moves only when a scenario says
    // time passes; against real targets, real time.
    let clock = if opts.target == TargetKind::Mock { Clock::frozen_now() } else { Clock::system() };
    let mut setup_cancel = std::pin::pin!(setup_cancel);
    let mut target = tokio::select! {
        target = connect(&opts, &clock) => target?,
        why = &mut setup_cancel => return Err(RunError::Interrupted(why)),
    };
    // The scenarios this run selects, read once: whether it needs the client lane, the progress bar's length,
    // and how many --fail-fast left unrun.
    let (selected, not_run) = plan(&opts)?;
    if needs_client_lane(&opts, &selected)? {
        let started = tokio::select! {
            started = client_lane::start(&opts.sut, &opts.http) => started,
            why = &mut setup_cancel => Err(RunError::Interrupted(why)),
        };
        match started {
            Ok((lane, mock)) => {
                target.audit_lanes.push(("client".to_owned(), mock.origin()));
                target.mocks.push(mock);
                target.client = Some(lane);
            }
            Err(e) => {
                for m in target.mocks {
                    m.shutdown().await;
                }
                return Err(e);
            }
        }
    }
    let reached = tokio::select! {
        reached = reach(&target) => reached,
        why = &mut setup_cancel => Err(RunError::Interrupted(why)),
    };
    let result = match reached {
        Ok(()) => {
            let prepared = Prepared { catalogue, access_token, scal_map, selected, not_run };
            run_against(&opts, prepared, &clock, &mut target, cancel).await
        }
        Err(e) => Err(e),
    };
    for m in target.mocks {
        m.shutdown().await;
    }
    result
}

/// Whether the run selects any `@client` scenario (and so needs the client lane); a `--sut` file is only for
/// the embedded mock target.
fn needs_client_lane(opts: &RunOptions, selected: &[ScenarioInfo]) -> Result<bool, RunError> {
    if opts.sut.only_client() && opts.target != TargetKind::Mock {
        return Err(RunError::Config(
            "--sut grades your system against the embedded mock's client lane: it needs --target mock".into(),
        ));
    }
    Ok(selected.iter().any(|s| s.tags.iter().any(|t| t == "client")))
}

/// Checks every lane's target answers (`GET {base}/_ping`, any status).
async fn reach(target: &Target) -> Result<(), RunError> {
    for c in [&target.main.client, &target.open_access.client, &target.sandbox.client] {
        let status = c.ping().await.map_err(unreachable)?;
        check_ping(c.base_url(), status)?;
    }
    Ok(())
}

/// A `/_ping` that answers 404 means the base URL's path is wrong (every SCR deployment serves it): a
/// configuration error, not hundreds of product failures. Any other status is a service that answers.
fn check_ping(base_url: &str, status: u16) -> Result<(), RunError> {
    if status == 404 {
        return Err(RunError::Config(format!(
            "GET {base_url}/_ping answered 404: the base URL's path is probably wrong (the SCR FHIR API's base ends \
             in /summary-care-record/FHIR/R4)"
        )));
    }
    Ok(())
}

/// A failed ping as a run error: TLS failures (as the client classifies them) told apart from an unreachable host.
fn unreachable(e: ClientError) -> RunError {
    if e.fault() == TransportFault::Tls {
        RunError::Tls(e.to_string())
    } else {
        RunError::Unreachable(e.to_string())
    }
}

/// What `run` prepared before connecting: the checked catalogue, the token placeholder, the plan and
/// the SCAL map.
struct Prepared {
    catalogue: Catalogue,
    access_token: Secret,
    scal_map: Option<report::evidence::ScalMap>,
    /// The scenarios the run selects, and those it leaves out with the reason.
    selected: Vec<ScenarioInfo>,
    not_run: Vec<NotRun>,
}

async fn run_against(
    opts: &RunOptions,
    prepared: Prepared,
    clock: &Clock,
    target: &mut Target,
    cancel: impl std::future::Future<Output = Interruption>,
) -> Result<RunOutcome, RunError> {
    let Prepared { catalogue, access_token, scal_map, selected: selected_list, mut not_run } = prepared;
    let selected = selected_list.len();
    let (catalogue, scal_map) = (&catalogue, scal_map.as_ref());
    let ctx = Arc::new(RunContext {
        target: opts.target,
        main: target.main.clone(),
        open_access: target.open_access.clone(),
        sandbox: target.sandbox.clone(),
        // The default tokens' exchanges (the first and each renewal) go into the evidence, as the run's own.
        client: target.client.take().map(|mut lane| {
            lane.auth.record_default_token(&lane.clock);
            lane
        }),
        auth: target.auth.take().map(|mut auth| {
            auth.record_default_token(clock);
            auth
        }),
        clock: clock.clone(),
        patients: PatientAllocator::new(first_patient_stem(opts.target)),
        session_urid: opts
            .site
            .as_ref()
            .filter(|_| opts.target == TargetKind::Int)
            .map(|s| s.session_urid.clone())
            .unwrap_or_else(|| opts.session_urid.clone()),
        access_token,
        exchanges: ExchangeLog::default(),
        sut_log: context::SutLog::default(),
        admin_clients: Mutex::default(),
        snapshots: crate::snapshot::SnapshotStore::new(opts.snapshots_dir.clone(), opts.snapshots),
        first_attempts: Mutex::default(),
    });
    // Start and end are real UTC times (measurements), even when the run's clock is virtual.
    let wall = || chrono::DateTime::<chrono::Utc>::from(crate::clock::wall_time());
    let run_started = wall();
    let started_at = run_started.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let records: Records = Arc::default();
    let json = SharedBuffer::default();
    let out: Box<dyn Write> = if opts.quiet { Box::new(std::io::sink()) } else { Box::new(std::io::stdout()) };
    let mut recorder = Recorder::new(records.clone(), ctx.clone(), out);
    if !opts.quiet && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        recorder = recorder.with_progress_bar(selected);
    }
    let writer = recorder.tee::<ScrWorld, _>(cucumber::writer::Json::for_tee(json.clone())).normalized();

    let active = context::activate(ctx.clone()).await;
    // A tester at the keyboard (the attended driver) can follow one scenario at a time.
    let attended = ctx.client.as_ref().is_some_and(|c| c.sut.driver == crate::sut::DriverKind::Attended);
    let concurrency = if attended { 1 } else { opts.concurrency.max(1) };
    let mut base = ScrWorld::cucumber().max_concurrent_scenarios(concurrency).retries(opts.retries);
    if opts.fail_fast {
        base = base.fail_fast();
    }
    let cucumber = base
        .before(|feature, rule, scenario, world| {
            let lane = Lane::of(feature.tags.iter().chain(rule.iter().flat_map(|r| &r.tags)).chain(&scenario.tags));
            let file = feature.path.as_deref().map(recorder::relative_path).unwrap_or_default();
            let location = format!("{}:{}", file.display(), scenario.position.line);
            Box::pin(async move {
                world.lane = lane;
                world.location = location;
            })
        })
        .after(|feature, _rule, scenario, _finished, world| {
            let key = (feature.path.clone().unwrap_or_default(), scenario.position.line);
            Box::pin(async move {
                if let Some(world) = world {
                    world.clean_up().await;
                    let exchanges = std::mem::take(&mut world.exchanges);
                    if let Some(evidence) = world.take_sut_evidence() {
                        world.ctx().sut_log.put(key.clone(), evidence);
                    }
                    world.ctx().exchanges.put(key, exchanges);
                }
            })
        })
        .with_writer(writer)
        .with_cli(cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty>::default())
        // Exactly the scenarios `plan` selected: one decision for the plan, `not_run` and what cucumber runs.
        .filter_run(opts.features.clone(), planned_filter(&selected_list));
    let interruption = until_stopped(cucumber, cancel).await;
    let interrupted = interruption.is_some();
    drop(active);

    let mut records = std::mem::take(&mut *records.lock().unwrap_or_else(PoisonError::into_inner));
    records.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    let mut outcome = RunOutcome {
        target: opts.target,
        base_url: target.main.client.base_url().to_owned(),
        started_at,
        finished_at: wall().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        records,
        reports: Vec::new(),
        interrupted,
        interruption,
        report_errors: Vec::new(),
        not_run: Vec::new(),
    };
    // What did not run, and why: left out before the run (not applicable, filtered), or selected and never reached.
    let stopped_by = match &outcome.interruption {
        Some(why) => why.to_string(),
        None if opts.fail_fast => "the run stopped at the first failure (--fail-fast)".to_owned(),
        None => "the run ended before it".to_owned(),
    };
    // An interruption may have caught a scenario midway: "not finished"; --fail-fast leaves them "not reached".
    let prefix = if outcome.interruption.is_some() { "not finished" } else { "not reached" };
    not_run.extend(not_reached(&selected_list, &outcome.records, &format!("{prefix}: {stopped_by}")));
    not_run.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    outcome.not_run = not_run;
    let wall_time = (wall() - run_started).to_std().unwrap_or_default();
    // Each report is written on its own: one that cannot be written does not cost the others, and the bundle
    // says what is missing.
    let sut = ctx
        .client
        .as_ref()
        .filter(|_| outcome.records.iter().any(|r| r.sut.is_some() || r.tags.iter().any(|t| t == "client")))
        .map(|lane| report::model::SutFacts {
            name: lane.sut.name.clone(),
            version: lane.sut.version.clone(),
            driver: lane.sut.driver.as_str().to_owned(),
            file: lane.sut.file.as_ref().map(|f| f.display().to_string()),
            reference_client: matches!(opts.sut, client_lane::SutChoice::Reference { .. }),
        });
    // How the run was made (its settings and the sha256 of its inputs), computed once for every report.
    let settings = run_settings(opts);
    let junit = report::junit::render_run(&report::junit::JunitRun {
        records: &outcome.records,
        not_run: &outcome.not_run,
        catalogue,
        target: opts.target.as_str(),
        sut: sut.as_ref(),
        filtered: settings.filtered(),
        wall_time: Some(wall_time),
        hostname: report::junit::hostname(),
        settings: Some(&settings),
    })?;
    let write = |path: PathBuf, bytes: &[u8], outcome: &mut RunOutcome| match report::write_atomic(&path, bytes) {
        Ok(()) => outcome.reports.push(path),
        Err(e) => outcome.report_errors.push(e.to_string()),
    };
    write(opts.reports.join("junit.xml"), junit.as_bytes(), &mut outcome);
    // cucumber's JSON writer only writes when the run finishes; an interrupted run has no cucumber.json.
    let json_bytes = json.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
    // Completed: the scenarios that did not run and the steps after a failing one as skipped, a unique id per
    // Examples row. Left as cucumber wrote it if it cannot be read (the reason goes to the report errors).
    let json_bytes = if json_bytes.is_empty() {
        json_bytes
    } else {
        match report::cucumber_json::complete(&json_bytes, &outcome.records, &outcome.not_run) {
            Ok(done) => done,
            Err(e) => {
                outcome.report_errors.push(e.to_string());
                json_bytes
            }
        }
    };
    if !interrupted && !json_bytes.is_empty() {
        write(opts.reports.join("cucumber.json"), &json_bytes, &mut outcome);
    }
    // The evidence bundle: reports/<run-id>/ and reports/latest.
    let site = opts.site.as_ref().filter(|_| opts.target == TargetKind::Int);
    // Scenarios that --fail-fast never reached leave the evidence incomplete, as an interruption does.
    let not_reached = selected.saturating_sub(outcome.records.len());
    let incomplete = match (&outcome.interruption, outcome.report_errors.as_slice()) {
        (Some(why), _) => Some(why.to_string()),
        (None, []) if opts.fail_fast && not_reached > 0 => Some(format!(
            "stopped at the first failure (--fail-fast): {not_reached} of {selected} selected scenarios were not run"
        )),
        (None, []) => None,
        (None, errors) => Some(format!("reports could not be written: {}", errors.join("; "))),
    };
    let facts = report::model::RunFacts {
        run_id: format!("{}-{}", run_started.format("%Y%m%dT%H%M%SZ"), &uuid::Uuid::new_v4().simple().to_string()[..6]),
        target: opts.target.as_str().to_owned(),
        base_url: outcome.base_url.clone(),
        ods_code: site.map(|s| s.ods_code.clone()),
        asid: site.map(|s| s.asid.clone()),
        started_at: outcome.started_at.clone(),
        finished_at: outcome.finished_at.clone(),
        interrupted,
        incomplete,
        sut,
        settings,
        not_run: outcome.not_run.clone(),
    };
    let run_exchanges = run_exchanges(&ctx);
    let evidence =
        report::evidence::build(&outcome.records, catalogue, scal_map, &facts).with_run_exchanges(&run_exchanges);
    let html = report::html::render(&evidence);
    let audit = audit::collect(opts.target, &target.audit_lanes, &opts.http).await;
    let files = report::evidence::BundleFiles {
        junit_xml: junit.as_bytes(),
        cucumber_json: (!interrupted && !json_bytes.is_empty()).then_some(json_bytes.as_slice()),
        report_html: html.as_bytes(),
        audit: &audit,
        run_exchanges: &run_exchanges,
    };
    let bundle = report::evidence::write_bundle(&opts.reports, &evidence, &outcome.records, &files)?;
    outcome.reports.push(bundle);
    Ok(outcome)
}

/// The exchanges the run made outside any scenario: the default access token's on the main lane and on the
/// client lane (the first and each renewal), in the order they were sent.
fn run_exchanges(ctx: &RunContext) -> Vec<report::evidence::RunExchange> {
    let main = ctx.auth.as_ref().map(|auth| (auth.default_token_step(), auth.take_default_exchanges()));
    let client = ctx
        .client
        .as_ref()
        .map(|lane| (format!("client lane: {}", lane.auth.default_token_step()), lane.auth.take_default_exchanges()));
    let mut all: Vec<report::evidence::RunExchange> = main
        .into_iter()
        .chain(client)
        .flat_map(|(step, exchanges)| {
            exchanges.into_iter().map(move |exchange| report::evidence::RunExchange { step: step.clone(), exchange })
        })
        .collect();
    all.sort_by(|a, b| a.exchange.wall_at.cmp(&b.exchange.wall_at));
    all
}

/// How this run was made, for the evidence: its settings and the sha256 of its feature files and catalogue.
fn run_settings(opts: &RunOptions) -> report::model::RunSettings {
    use sha2::Digest as _;
    let mut inputs = std::collections::BTreeMap::new();
    let mut stack = vec![opts.features.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "feature") {
                if let Ok(bytes) = std::fs::read(&path) {
                    inputs.insert(path.display().to_string(), format!("{:x}", sha2::Sha256::digest(&bytes)));
                }
            }
        }
    }
    if let Ok(bytes) = std::fs::read(&opts.requirements) {
        inputs.insert(opts.requirements.display().to_string(), format!("{:x}", sha2::Sha256::digest(&bytes)));
    }
    let (sut_file, reference_defects) = match &opts.sut {
        client_lane::SutChoice::File(sut) => (sut.file.as_ref().map(|f| f.display().to_string()), Vec::new()),
        client_lane::SutChoice::Reference { defects, .. } => (None, defects.clone()),
    };
    let features_drift = report::shipped::drift(&opts.features, &opts.requirements, &inputs, report::shipped::SHIPPED);
    report::model::RunSettings {
        features_shipped: features_drift.is_empty(),
        features_drift,
        tags: opts.tags.clone(),
        name: opts.name.clone(),
        profile: opts.profile.map(|p| p.as_str().to_owned()),
        rerun_failed: opts.only.is_some(),
        snapshots: format!("{:?}", opts.snapshots).to_lowercase(),
        retries: opts.retries,
        fail_fast: opts.fail_fast,
        concurrency: opts.concurrency,
        sut_file,
        reference_defects,
        features: opts.features.display().to_string(),
        requirements: opts.requirements.display().to_string(),
        inputs,
    }
}

/// Runs the scenarios until they finish (`None`) or something stops them: `cancel` (a signal), or a panic
/// outside any step (cucumber turns a step's own panic into that step's failure), which stops the run like a
/// signal so that the scenarios that finished are still reported.
async fn until_stopped<T>(
    scenarios: impl std::future::Future<Output = T>,
    cancel: impl std::future::Future<Output = Interruption>,
) -> Option<Interruption> {
    let scenarios = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(scenarios));
    tokio::select! {
        finished = scenarios => finished.err().map(|panic| Interruption::HarnessError(panic_message(panic.as_ref()))),
        why = cancel => Some(why),
    }
}

/// The message of a panic's payload (a `&str` or a `String`; anything else is only "a panic").
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn targets_select_the_right_scenarios() {
        let plain = tags(&["SCRA-RET-001"]);
        let sandbox = tags(&["SCRA-SBX-001", "sandbox"]);
        let mock_only = tags(&["SCRA-ALR-001", "mock-only"]);
        let client = tags(&["SCRC-WFL-001", "client"]);
        assert!(runs_on(TargetKind::Mock, None, false, &plain) && runs_on(TargetKind::Mock, None, false, &sandbox));
        assert!(!runs_on(TargetKind::Mock, Some(Profile::Stateful), false, &sandbox));
        assert!(!runs_on(TargetKind::Mock, Some(Profile::Sandbox), false, &plain));
        assert!(
            runs_on(TargetKind::Sandbox, None, false, &sandbox) && !runs_on(TargetKind::Sandbox, None, false, &plain)
        );
        assert!(runs_on(TargetKind::Int, None, false, &plain));
        assert!(!runs_on(TargetKind::Int, None, false, &mock_only) && !runs_on(TargetKind::Int, None, false, &sandbox));
        // Client scenarios: on the mock (both its default and stateful profile), never elsewhere; with --sut alone.
        assert!(runs_on(TargetKind::Mock, None, false, &client) && runs_on(TargetKind::Mock, None, true, &client));
        assert!(runs_on(TargetKind::Mock, Some(Profile::Stateful), false, &client));
        assert!(!runs_on(TargetKind::Mock, Some(Profile::Sandbox), false, &client));
        assert!(!runs_on(TargetKind::Int, None, false, &client) && !runs_on(TargetKind::Sandbox, None, false, &client));
        assert!(!runs_on(TargetKind::Mock, None, true, &plain), "--sut runs only the client scenarios");
    }

    #[test]
    fn scenarios_left_out_say_why() {
        let sandbox = tags(&["SCRA-SBX-001", "sandbox"]);
        let mock_only = tags(&["SCRA-ALR-001", "mock-only"]);
        let why = not_applicable(TargetKind::Int, None, false, &mock_only);
        assert_eq!(why, "not applicable to the int target: @mock-only: it arranges state through the embedded mock's /_admin routes");
        assert!(
            not_applicable(TargetKind::Mock, Some(Profile::Stateful), false, &sandbox).contains("--profile stateful")
        );
        assert!(not_applicable(TargetKind::Sandbox, None, false, &tags(&["SCRA-RET-001"])).contains("not @sandbox"));
        assert!(not_applicable(TargetKind::Sandbox, None, false, &tags(&["client"])).contains("@client"));

        let mut opts = RunOptions::new("features".into(), "reports".into());
        let (all, none) = plan(&opts).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.is_empty() && all.len() > 200, "the whole suite runs on the mock");
        opts.tags = Some("@SCRA-RET-001".into());
        opts.target = TargetKind::Sandbox;
        let (selected, not_run) = plan(&opts).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(selected.len() + not_run.len(), all.len(), "every scenario is either selected or not run");
        assert!(not_run.iter().any(|n| n.kind == NotRunKind::NotApplicable));
        assert!(not_run
            .iter()
            .filter(|n| n.kind == NotRunKind::Filtered)
            .all(|n| n.reason == "filtered out: --tags '@SCRA-RET-001' does not select it"));
        let done: Vec<ScenarioRecord> = Vec::new();
        let reached = not_reached(&selected, &done, "not reached: the run stopped at the first failure (--fail-fast)");
        assert_eq!(reached.len(), selected.len());
        assert!(reached.iter().all(|n| n.kind == NotRunKind::NotReached && n.reason.starts_with("not reached: ")));
    }

    #[test]
    fn interruptions_have_their_exit_codes_and_reasons() {
        assert_eq!((Interruption::CtrlC.exit_code(), Interruption::Sigterm.exit_code()), (130, 143));
        assert_eq!(Interruption::HarnessError("x".into()).exit_code(), 2);
        assert_eq!(Interruption::Sigterm.to_string(), "interrupted by SIGTERM");
        assert_eq!(Interruption::from(()), Interruption::CtrlC);
        assert_eq!(RunError::Interrupted(Interruption::Sigterm).exit_code(), 143);
        let boxed: Box<dyn std::any::Any + Send> = Box::new(String::from("the recorder broke"));
        assert_eq!(panic_message(boxed.as_ref()), "the recorder broke");
    }

    #[tokio::test]
    async fn scenarios_end_by_finishing_by_a_signal_or_by_a_harness_panic() {
        let never = std::future::pending::<Interruption>;
        assert_eq!(until_stopped(async {}, never()).await, None);
        let stuck = std::future::pending::<()>();
        assert_eq!(until_stopped(stuck, async { Interruption::Sigterm }).await, Some(Interruption::Sigterm));
        let broken = async { panic!("the recorder lost its lock") };
        let why = until_stopped(broken, never()).await;
        assert_eq!(why, Some(Interruption::HarnessError("the recorder lost its lock".into())));
        assert_eq!(why.map(|w| w.exit_code()), Some(2));
    }

    #[test]
    fn tls_failures_are_told_from_unreachable_hosts() {
        let tls = ClientError::Tls {
            url: "https://127.0.0.1:9/_ping".into(),
            reason: "received corrupt message of type InvalidContentType".into(),
        };
        assert!(matches!(unreachable(tls), RunError::Tls(m) if m.contains("InvalidContentType")));
        let refused = ClientError::Unreachable {
            url: "https://tls.example/_ping".into(),
            reason: "tcp connect error: Connection refused".into(),
        };
        assert!(matches!(unreachable(refused), RunError::Unreachable(_)), "a host named tls is not a TLS failure");
        assert_eq!(RunError::Tls(String::new()).exit_code(), 3);
    }

    #[test]
    fn production_urls_are_refused_before_anything_runs() {
        let mut opts = RunOptions::new("features".into(), "reports".into());
        opts.target = TargetKind::Sandbox;
        opts.base_url = Some("https://api.service.nhs.uk/summary-care-record/FHIR/R4".into());
        let e = guard_urls(&opts).err();
        assert!(matches!(e, Some(RunError::Guard(_))), "{e:?}");
        assert_eq!(e.map(|e| e.exit_code()), Some(2));
        opts.allow_production = true;
        assert!(guard_urls(&opts).is_ok());
    }

    #[test]
    fn a_ping_answered_404_is_a_wrong_base_url() {
        let e = check_ping("http://127.0.0.1:1/wrong", 404).err();
        assert!(matches!(&e, Some(RunError::Config(m)) if m.contains("/wrong/_ping answered 404")), "{e:?}");
        assert_eq!(e.map(|e| e.exit_code()), Some(2));
        assert!(check_ping("http://127.0.0.1:1/ok", 200).is_ok() && check_ping("http://127.0.0.1:1/ok", 401).is_ok());
    }

    /// A feature with what could make the plan and cucumber disagree: Examples rows (one block tagged), a tagged
    /// Rule, a scenario of another target.
    const DIVERGENCE_FEATURE: &str = r#"@feature-tag
Feature: F
  @plain
  Scenario: plain one
    Given a patient "A" with no SCR

  @outline
  Scenario Outline: outline <n>
    Given a patient "<n>" with no SCR

    Examples:
      | n |
      | A |
      | B |

    @tagged-examples
    Examples:
      | n |
      | C |

  @sandbox
  Scenario: sandbox one
    Given a patient "A" with no SCR

  @rule-tag
  Rule: R
    Scenario: in the rule
      Given a patient "A" with no SCR
"#;

    /// What cucumber, with [`planned_filter`], runs of the features at `dir`: every scenario its own parser
    /// hands to the filter (Examples expanded), as (canonical file, line, whether the filter lets it run).
    async fn cucumber_view(dir: &std::path::Path, selected: &[ScenarioInfo]) -> Vec<(ScenarioKey, bool)> {
        use cucumber::Parser as _;
        use futures::StreamExt as _;
        let filter = planned_filter(selected);
        let features: Vec<_> =
            cucumber::parser::Basic::new().parse(dir, cucumber::parser::basic::Cli::default()).collect().await;
        let mut seen = Vec::new();
        for feature in features {
            let feature = feature.unwrap_or_else(|e| panic!("cucumber parses the feature: {e}"));
            let path = feature.path.clone().unwrap_or_default();
            for (rule, sc) in crate::requirements::scenarios_in_order(&feature) {
                seen.push((scenario_key(&path, sc.position.line), filter(&feature, rule, sc)));
            }
        }
        seen
    }

    #[tokio::test]
    async fn cucumber_runs_exactly_the_scenarios_the_plan_selects() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("f.feature"), DIVERGENCE_FEATURE).unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("f.feature");
        let located = |line: usize| format!("{}:{line}", recorder::relative_path(&file).display());
        // (how the run is filtered, the lines that must run)
        type Case<'a> = (&'static str, Box<dyn Fn(&mut RunOptions) + 'a>, Vec<usize>);
        let cases: Vec<Case<'_>> = vec![
            ("everything", Box::new(|_| {}), vec![4, 13, 14, 19, 22, 27]),
            ("stateful profile", Box::new(|o| o.profile = Some(Profile::Stateful)), vec![4, 13, 14, 19, 27]),
            ("sandbox target", Box::new(|o| o.target = TargetKind::Sandbox), vec![22]),
            ("--tags on a Rule", Box::new(|o| o.tags = Some("@rule-tag".into())), vec![27]),
            ("--tags on Examples", Box::new(|o| o.tags = Some("@tagged-examples".into())), vec![19]),
            (
                "--tags on the feature",
                Box::new(|o| o.tags = Some("@feature-tag and not @outline".into())),
                vec![4, 22, 27],
            ),
            ("--name", Box::new(|o| o.name = Some("^outline".into())), vec![13, 14, 19]),
            (
                "--rerun-failed",
                Box::new(move |o| o.only = Some([located(14), located(27)].into_iter().collect())),
                vec![14, 27],
            ),
        ];
        // The features directory spelt two ways: as given, and through a `.` segment.
        for features in [dir.path().to_owned(), dir.path().join(".")] {
            for (what, set, lines) in &cases {
                let mut opts = RunOptions::new(features.clone(), dir.path().join("reports"));
                set(&mut opts);
                let (selected, not_run) = plan(&opts).unwrap_or_else(|e| panic!("{what}: {e}"));
                let planned: std::collections::BTreeSet<ScenarioKey> =
                    selected.iter().map(|sc| scenario_key(&sc.file, sc.line)).collect();
                let expected: std::collections::BTreeSet<ScenarioKey> =
                    lines.iter().map(|&l| scenario_key(&file, l)).collect();
                assert_eq!(planned, expected, "{what}: the plan");
                let seen = cucumber_view(&features, &selected).await;
                let ran: std::collections::BTreeSet<ScenarioKey> =
                    seen.iter().filter(|(_, runs)| *runs).map(|(k, _)| k.clone()).collect();
                assert_eq!(ran, planned, "{what}: cucumber runs what the plan selected, nothing else");
                assert_eq!(seen.len(), selected.len() + not_run.len(), "{what}: one universe of scenarios");
                let not_run_keys: std::collections::BTreeSet<ScenarioKey> =
                    not_run.iter().map(|n| scenario_key(&dir.path().join(&n.file), n.line)).collect();
                for (key, runs) in &seen {
                    assert!(*runs || not_run_keys.contains(key), "{what}: {key:?} neither runs nor has a reason");
                }
            }
        }
    }

    #[test]
    fn a_bad_tag_expression_is_a_usage_error() {
        let e = parse_tags(Some("@a and (")).err();
        assert!(matches!(e, Some(RunError::TagExpression { .. })));
        assert_eq!(e.map(|e| e.exit_code()), Some(2));
    }
}
