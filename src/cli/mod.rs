//! Command-line edge: parses arguments, calls the library, prints, and turns outcomes into exit codes
//! (0 all passed, 1 a scenario failed, 2 usage/configuration/feature error or a refused production URL,
//! 3 target unreachable or TLS failure, 130 Ctrl-C, 143 SIGTERM).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// `println!` that never panics: when stdout is closed (`scr-assure run | head`), what cannot be printed is
/// dropped and the command goes on — a run still writes its reports and exits with its own code.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod audit_cmd;
mod refclient_cmd;
mod site_cmd;
mod sut_cmd;
mod token;
mod validate;

use scr_assure::mock::{self, MockConfig, Profile};
use scr_assure::requirements::{self, Catalogue};
use scr_assure::runner::recorder::Status;
use scr_assure::runner::{self, RunOptions, TargetKind};
use scr_assure::secret::Secret;

/// Environment variable holding the access token for the int target.
const ACCESS_TOKEN_ENV: &str = "SCR_ASSURE_ACCESS_TOKEN";

#[derive(Debug, Parser)]
#[command(
    name = "scr-assure",
    version,
    about = "Conformance and assurance harness for the NHS Summary Care Record FHIR API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the scenarios against a target and write junit.xml and cucumber.json.
    Run(RunArgs),
    /// Run the embedded mock SCR service on 127.0.0.1 until Ctrl-C or SIGTERM.
    Mock(MockArgs),
    /// Print the requirement → scenario matrix; exit 2 if the features and catalogue disagree.
    Requirements(CatalogueArgs),
    /// Token tools for testers: mint assertions and id_tokens with defects, inspect a JWT, get a token.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Site tools: the readiness check.
    #[command(subcommand)]
    Site(site_cmd::SiteCommand),
    /// Write one archive for a service-desk ticket: a scenario of reports/latest with its feature text, clock
    /// and skew settings, redacted exchanges and correlation ids.
    Repro(ReproArgs),
    /// Validate JSON files against the FHIR R4 schema (and the SCR rules with --rules scr).
    Validate(validate::ValidateArgs),
    /// The mock's audit trail: export it from a running mock, verify a trail file's hash chain.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// The system under test (client conformance): check a sut.toml.
    #[command(subcommand)]
    Sut(sut_cmd::SutCommand),
    /// The bundled reference client: a well-behaved SUT (docs/CLIENT.md §4), with --defect switches.
    ReferenceClient(refclient_cmd::ReferenceClientArgs),
}

#[derive(Debug, clap::Args)]
struct CatalogueArgs {
    /// Directory of .feature files.
    #[arg(long, default_value = "features")]
    features: PathBuf,
    /// Requirement catalogue (default: <features>/requirements.toml).
    #[arg(long)]
    requirements: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    catalogue: CatalogueArgs,
    /// Where to run: the embedded mock, the NHS sandbox, or INT.
    #[arg(long, value_enum, default_value_t = TargetKind::Mock)]
    target: TargetKind,
    /// Mock target only: run just the stateful scenarios or just the @sandbox ones (default: both).
    #[arg(long, value_enum)]
    profile: Option<Profile>,
    /// Base URL of the sandbox or int target (defaults to the NHS URLs).
    #[arg(long)]
    base_url: Option<String>,
    /// Cucumber tag expression, e.g. '@SCRA-RET-001 or @SCRA-UPL-002'.
    #[arg(long, short = 't')]
    tags: Option<String>,
    /// Directory for the reports.
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
    /// How many scenarios run at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// NHSD-Session-URID sent by default.
    #[arg(long, default_value = runner::DEFAULT_SESSION_URID)]
    session_urid: String,
    /// Read timeout in seconds: the longest wait for the response headers, then between reads of the body
    /// [default: 30, or the site's [http] timeout].
    #[arg(long, value_name = "SECS", value_parser = seconds_arg)]
    timeout: Option<Duration>,
    /// Connect timeout in seconds [default: 10, or the site's [http] connect_timeout].
    #[arg(long, value_name = "SECS", value_parser = seconds_arg)]
    connect_timeout: Option<Duration>,
    /// Deadline of a whole request in seconds, body included [default: 120, or the site's [http] deadline].
    #[arg(long, value_name = "SECS", value_parser = seconds_arg)]
    deadline: Option<Duration>,
    /// The largest response body read, in bytes [default: 33554432 (32 MiB), or the site's [http] max_response_bytes].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_response_bytes: Option<u64>,
    /// Print only the summary.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Site configuration for the int target: endpoints, identity, where the secrets are.
    #[arg(long)]
    site: Option<PathBuf>,
    /// Response snapshots: compare (check), accept the current answers (update), or skip (off).
    #[arg(long, value_enum, default_value_t = scr_assure::snapshot::SnapshotMode::Check)]
    snapshots: scr_assure::snapshot::SnapshotMode,
    /// Where the snapshot files are.
    #[arg(long, default_value = "snapshots")]
    snapshots_dir: PathBuf,
    /// A supplier's SCAL mapping (CSV: row,title,requirements): the report and traceability are grouped by it.
    #[arg(long)]
    scal_map: Option<PathBuf>,
    /// Retry a failed scenario up to N times; earlier failures are recorded as flaky/rerun, never hidden.
    #[arg(long, default_value_t = 0)]
    retry: usize,
    /// Stop at the first failing scenario.
    #[arg(long)]
    fail_fast: bool,
    /// Only scenarios whose name matches this regular expression.
    #[arg(long, short = 'n')]
    name: Option<String>,
    /// Only the scenarios that failed in reports/latest.
    #[arg(long)]
    rerun_failed: bool,
    /// Allow a base URL or site endpoint on the production NHS API host (api.service.nhs.uk): refused otherwise.
    #[arg(long)]
    allow_production: bool,
    /// Grade your own clinical system: its sut.toml (docs/CLIENT.md). Only the @client scenarios run, against
    /// the embedded mock's client lane. Without it, the client scenarios grade the bundled reference client.
    #[arg(long, value_name = "SUT_TOML")]
    sut: Option<PathBuf>,
    /// Switch on a deliberate defect of the bundled reference client (repeatable; `scr-assure reference-client
    /// --list-defects` lists them), to see the grader catch it.
    #[arg(long, value_name = "NAME", conflicts_with = "sut")]
    reference_defect: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct ReproArgs {
    /// The scenario's name, or its `file:line`.
    scenario: String,
    /// The reports directory holding `latest`.
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
    /// Where to write the archive (default: reports/repro-<location>.zip).
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct MockArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Stateful (like INT) or the NHS sandbox's canned behaviour.
    #[arg(long, value_enum, default_value_t = Profile::Stateful)]
    profile: Profile,
    /// Start with no seed patients.
    #[arg(long)]
    no_seed: bool,
    /// No gateway in front of the SCR endpoints (no token checked), like the NHS sandbox.
    #[arg(long)]
    open_access: bool,
    /// When the mock stops, write its audit trail here (JSON lines).
    #[arg(long)]
    audit_out: Option<PathBuf>,
    /// Turn on the proxy's rate limits: SpikeArrest at this many requests per second per app (the live
    /// default is 5), smoothed to one request per 1000/N ms.
    #[arg(long, value_name = "PER_SECOND", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rate_limit: Option<u32>,
    /// With --rate-limit: the Quota, requests per calendar minute per app.
    #[arg(long, value_name = "PER_MINUTE", default_value_t = 300, requires = "rate_limit",
          value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    quota: u32,
}

pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SCR_ASSURE_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run(args).await,
            Command::Mock(args) => serve_mock(args).await,
            Command::Requirements(args) => print_requirements(&args),
            Command::Token(command) => token::run(command).await,
            Command::Site(command) => site_cmd::run(command).await,
            Command::Repro(args) => repro(&args),
            Command::Validate(args) => validate::run(&args),
            Command::Audit(command) => audit_cmd::run(command).await,
            Command::Sut(command) => sut_cmd::run(command).await,
            Command::ReferenceClient(args) => refclient_cmd::run(args).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn repro(args: &ReproArgs) -> anyhow::Result<u8> {
    use scr_assure::report::repro;
    let bundle = args.reports.join("latest");
    let found = match repro::find(&bundle, &args.scenario) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("error: no evidence bundle to read ({e}); run `scr-assure run` first");
            return Ok(2);
        }
    };
    let scenario = match found.as_slice() {
        [one] => one.clone(),
        [] => {
            eprintln!("error: no scenario named or located '{}' in {}", args.scenario, bundle.display());
            return Ok(2);
        }
        many => {
            eprintln!("error: '{}' names {} scenarios (Examples rows); give one location:", args.scenario, many.len());
            for f in many {
                eprintln!("  {}  ({})", f.location, f.result);
            }
            return Ok(2);
        }
    };
    let slug: String =
        scenario.location.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect();
    let output = args.output.clone().unwrap_or_else(|| args.reports.join(format!("repro-{slug}.zip")));
    let path = repro::write_archive(&bundle, &scenario, &output)?;
    say!("wrote {}", path.display());
    Ok(0)
}

/// A number of seconds (fractions allowed) for `--timeout`, `--connect-timeout`, `--deadline`.
fn seconds_arg(text: &str) -> Result<Duration, String> {
    let value: f64 = text.trim().parse().map_err(|_| format!("'{text}' is not a number of seconds"))?;
    scr_assure::client::seconds_setting("the value", value)
}

fn catalogue_path(args: &CatalogueArgs) -> PathBuf {
    args.requirements.clone().unwrap_or_else(|| args.features.join("requirements.toml"))
}

async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let mut opts = RunOptions::new(args.catalogue.features.clone(), args.reports);
    opts.requirements = catalogue_path(&args.catalogue);
    opts.target = args.target;
    opts.profile = args.profile;
    opts.base_url = args.base_url;
    opts.tags = args.tags;
    opts.concurrency = args.concurrency;
    opts.session_urid = args.session_urid;
    opts.quiet = args.quiet;
    opts.snapshots = args.snapshots;
    opts.snapshots_dir = args.snapshots_dir;
    opts.scal_map = args.scal_map;
    opts.retries = args.retry;
    opts.fail_fast = args.fail_fast;
    opts.name = args.name;
    opts.allow_production = args.allow_production;
    if args.rerun_failed {
        match runner::failed_in_latest(&opts.reports) {
            Ok(set) if set.is_empty() => {
                say!("no scenario failed in {}/latest: nothing to rerun", opts.reports.display());
                return Ok(0);
            }
            Ok(set) => opts.only = Some(set),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(e.exit_code());
            }
        }
    }
    opts.access_token = std::env::var(ACCESS_TOKEN_ENV).ok().filter(|t| !t.is_empty()).map(Secret::new);
    if let Some(path) = &args.site {
        if args.target != TargetKind::Int {
            eprintln!("error: --site applies to the int target");
            return Ok(2);
        }
        match scr_assure::config::site::Site::load(path) {
            Ok(site) => {
                opts.http = site.http;
                opts.site = Some(site);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(2);
            }
        }
    }
    // The flags override the site's [http] table, which overrides the defaults.
    opts.http.read_timeout = args.timeout.unwrap_or(opts.http.read_timeout);
    opts.http.connect_timeout = args.connect_timeout.unwrap_or(opts.http.connect_timeout);
    opts.http.deadline = args.deadline.unwrap_or(opts.http.deadline);
    opts.http.max_response_bytes = args.max_response_bytes.unwrap_or(opts.http.max_response_bytes);
    if args.profile.is_some() && args.target != TargetKind::Mock {
        eprintln!("error: --profile applies to the mock target only");
        return Ok(2);
    }
    if let Some(path) = &args.sut {
        match scr_assure::sut::SutConfig::load(path) {
            Ok(sut) => opts.sut = runner::client_lane::SutChoice::File(Box::new(sut)),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(2);
            }
        }
    } else if !args.reference_defect.is_empty() {
        opts.sut = runner::client_lane::SutChoice::Reference { program: None, defects: args.reference_defect };
    }
    let outcome = match runner::run(opts).await {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(e.exit_code());
        }
    };
    let (passed, failed) = (outcome.count(Status::Passed), outcome.count(Status::Failed));
    let flaky = outcome.records.iter().filter(|r| r.is_flaky()).count();
    // The failures recap: printed with --quiet too, so a CI log always says what failed and why.
    let failures: Vec<_> = outcome.records.iter().filter(|r| r.status != Status::Passed).collect();
    if !failures.is_empty() {
        say!();
        say!("Failures ({}):", failures.len());
        for r in failures {
            let (step, reason) = r.failure.clone().unwrap_or_else(|| ("-".into(), "failed".into()));
            let attempt = r.attempt_label().map(|a| format!("  ({a})")).unwrap_or_default();
            say!("  {}  {}{attempt}", r.location(), r.name);
            say!("      {step}");
            say!("      {}", reason.lines().next().unwrap_or(""));
        }
    }
    say!();
    say!(
        "{} scenarios: {passed} passed, {failed} failed{}{} — target {} ({})",
        outcome.records.len(),
        if flaky > 0 { format!(" ({flaky} flaky: passed on a retry)") } else { String::new() },
        if outcome.not_run.is_empty() { String::new() } else { format!("; {} not run", outcome.not_run.len()) },
        outcome.target.as_str(),
        outcome.base_url
    );
    match &outcome.interruption {
        Some(why @ runner::Interruption::HarnessError(_)) => eprintln!(
            "error: {why}: the reports hold only the scenarios that finished, and the bundle is marked incomplete"
        ),
        Some(why) => {
            say!("{why}: the reports hold only the scenarios that finished, and the bundle is marked incomplete")
        }
        None => {}
    }
    for e in &outcome.report_errors {
        eprintln!("error: {e}");
    }
    if outcome.records.is_empty() {
        say!("no scenario matched the target and --tags: nothing was proved");
    }
    for path in &outcome.reports {
        say!("wrote {}", path.display());
    }
    Ok(outcome.exit_code())
}

async fn serve_mock(args: MockArgs) -> anyhow::Result<u8> {
    let mut config = MockConfig::loopback(args.profile);
    config.addr.set_port(args.port);
    config.seed = !args.no_seed;
    config.auth = !args.open_access;
    config.rate_limit =
        args.rate_limit.map(|per_second| mock::rate_limit::RateLimit { per_second, per_minute: args.quota });
    let running = match mock::start(config).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(3);
        }
    };
    let stop = StopSignal::install().context("installing the Ctrl-C and SIGTERM handlers")?;
    say!("{}", running.base_url());
    let gateway =
        if running.auth() { "gateway on: SCR requests need a token from /oauth2/token" } else { "open access" };
    let limits = match args.rate_limit {
        Some(per_second) => format!(", rate limits {per_second}/s and {}/min per app", args.quota),
        None => String::new(),
    };
    eprintln!(
        "mock SCR service ({} profile, {gateway}{limits}) listening on {}; identity service at {}/oauth2; admin routes (and the audit trail) under {}/_admin; Ctrl-C or SIGTERM stops it",
        running.profile().as_str(),
        running.addr(),
        running.origin(),
        running.origin()
    );
    stop.wait().await.context("waiting for Ctrl-C or SIGTERM")?;
    let audit = running.audit();
    running.shutdown().await;
    eprintln!("mock stopped");
    if let Some(out) = &args.audit_out {
        // After the shutdown, so requests in flight at Ctrl-C are in it.
        let trail = audit.entries(0);
        if let Err(e) = audit_cmd::write_trail(out, &trail) {
            eprintln!("error: {e}");
            return Ok(2);
        }
        eprintln!("wrote the audit trail ({} entries) to {}", trail.len(), out.display());
    }
    Ok(0)
}

/// Ctrl-C, or SIGTERM (a container or service manager stopping the mock). Installed before the mock says it
/// is listening, so a signal sent as soon as the URL is printed is never the default (fatal) one.
struct StopSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignal {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self { interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn wait(mut self) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Ok(()),
                _ = self.terminate.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await
    }
}

fn print_requirements(args: &CatalogueArgs) -> anyhow::Result<u8> {
    let mut catalogue = match Catalogue::load(&catalogue_path(args)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
    };
    let scenarios = match requirements::scan_features(&args.features) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
    };
    catalogue.mark_mock_only(&scenarios);
    for (req, proving) in requirements::matrix(&catalogue, &scenarios) {
        let scal = req.scal.as_deref().map(|s| format!(" [SCAL {s}]")).unwrap_or_default();
        let mock_only = if req.mock_only { " [proved only on the embedded mock]" } else { "" };
        say!("{} {}{}{mock_only} — {} ({} scenarios)", req.id, req.title, scal, req.source, proving.len());
        let mut seen = std::collections::BTreeSet::new();
        for sc in proving {
            if seen.insert((sc.file.clone(), sc.name.clone())) {
                let rows = scenarios_named(&scenarios, sc);
                let suffix = if rows > 1 { format!(" ×{rows}") } else { String::new() };
                say!("    {}:{}  {}{suffix}", sc.file.display(), sc.line, sc.name);
            }
        }
    }
    let problems = requirements::check(&catalogue, &scenarios);
    for p in &problems {
        eprintln!("error: {p}");
    }
    Ok(if problems.is_empty() { 0 } else { 2 })
}

fn scenarios_named(all: &[requirements::ScenarioInfo], sc: &requirements::ScenarioInfo) -> usize {
    all.iter().filter(|o| o.file == sc.file && o.name == sc.name).count()
}
