//! What the evidence of a run says, as plain data: the summary, the requirement matrix, every scenario with
//! its steps and exchanges. Built once from the run's records ([`crate::report::evidence`]); each renderer
//! (HTML, traceability CSV, manifest) reads it and knows nothing of the others. Holds no secrets: exchanges
//! are referred to by file, and their recorded headers and bodies are redacted at the source; so are the
//! headers, bodies and printed excerpts of the system under test (the mock's traffic journal, the SUT driver).

use serde::Serialize;

/// Outcome of a scenario, a requirement, or the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Failed,
    /// A requirement no scenario of this run proved (filtered out, or not covered).
    Unproved,
}

/// What the run itself says about the run, before any scenario: identity, target, site, times.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunFacts {
    pub run_id: String,
    pub target: String,
    pub base_url: String,
    /// ODS code and ASID of the site, when a site file was used.
    pub ods_code: Option<String>,
    pub asid: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub interrupted: bool,
    /// Why the evidence is incomplete (interrupted by SIGTERM, a report that could not be written …); `None`
    /// when the run finished and everything was written.
    pub incomplete: Option<String>,
    /// The system under test the client scenarios graded, when any ran.
    pub sut: Option<SutFacts>,
    /// How the run was made: every setting that changes what ran, and the sha256 of its inputs.
    pub settings: RunSettings,
    /// The scenarios of the features that did not run, each with the reason (file order).
    pub not_run: Vec<NotRun>,
}

/// Why a scenario of the features did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotRunKind {
    /// Left out by the user's selection: `--tags`, `--name`, `--rerun-failed`.
    Filtered,
    /// Not for this target (`@mock-only` on the sandbox, `@sandbox` on INT, `@client` without the client lane…).
    NotApplicable,
    /// Selected, but the run stopped before it (`--fail-fast`, an interruption).
    NotReached,
}

impl NotRunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Filtered => "filtered",
            Self::NotApplicable => "not-applicable",
            Self::NotReached => "not-reached",
        }
    }
}

/// A scenario (one Examples row of an Outline is one) that did not run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotRun {
    pub feature: String,
    pub name: String,
    /// Feature file as the run found it (relative to the working directory where possible).
    pub file: String,
    pub line: usize,
    /// Feature, scenario and Examples tags, without `@`.
    pub tags: Vec<String>,
    pub kind: NotRunKind,
    /// The reason in words, e.g. `filtered out: --tags @SCRA-RET-001 does not select it`.
    pub reason: String,
}

impl NotRun {
    /// `file:line`
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// The requirement ids among its tags.
    pub fn requirements(&self) -> Vec<String> {
        self.tags.iter().filter(|t| crate::requirements::is_requirement_tag(t)).cloned().collect()
    }
}

/// The settings of a run a reviewer needs to judge its evidence.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSettings {
    pub tags: Option<String>,
    pub name: Option<String>,
    pub profile: Option<String>,
    /// Only the scenarios that failed in an earlier run (`--rerun-failed`).
    pub rerun_failed: bool,
    pub snapshots: String,
    pub retries: usize,
    pub fail_fast: bool,
    pub concurrency: usize,
    /// The `sut.toml` graded, if any.
    pub sut_file: Option<String>,
    /// Deliberate defects switched on in the bundled reference client.
    pub reference_defects: Vec<String>,
    pub features: String,
    pub requirements: String,
    /// sha256 of every feature file and of the catalogue, by path.
    pub inputs: std::collections::BTreeMap<String, String>,
    /// Whether the feature files and the catalogue are byte for byte those shipped in this build
    /// (`report::shipped`): a run on edited, added or missing features is marked like a filtered one.
    pub features_shipped: bool,
    /// How they differ from the shipped ones (empty when `features_shipped`).
    pub features_drift: FeatureDrift,
}

/// How a run's feature files and catalogue differ from those shipped in this build, by path below `features/`
/// (the catalogue as `requirements.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeatureDrift {
    /// Shipped, but with other content.
    pub changed: Vec<String>,
    /// Not shipped.
    pub added: Vec<String>,
    /// Shipped, but not in this run's features.
    pub missing: Vec<String>,
}

impl FeatureDrift {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty() && self.missing.is_empty()
    }
}

impl std::fmt::Display for FeatureDrift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (what, files) in [("changed", &self.changed), ("added", &self.added), ("missing", &self.missing)] {
            if !files.is_empty() {
                parts.push(format!("{what} {}", files.join(", ")));
            }
        }
        f.write_str(&parts.join("; "))
    }
}

impl RunSettings {
    /// Why this run is not the whole suite as shipped (`None`: nothing filtered or switched).
    pub fn filtered(&self) -> Option<String> {
        let mut why = Vec::new();
        if let Some(t) = &self.tags {
            why.push(format!("--tags {t}"));
        }
        if let Some(n) = &self.name {
            why.push(format!("--name {n}"));
        }
        if let Some(p) = &self.profile {
            why.push(format!("--profile {p}"));
        }
        if self.rerun_failed {
            why.push("--rerun-failed".to_owned());
        }
        if self.sut_file.is_some() {
            why.push("--sut (only the client scenarios)".to_owned());
        }
        if !self.reference_defects.is_empty() {
            why.push(format!("--reference-defect {}", self.reference_defects.join(", ")));
        }
        if !self.features_drift.is_empty() {
            why.push(format!("features not as shipped in this build ({})", self.features_drift));
        }
        if self.snapshots != "check" && !self.snapshots.is_empty() {
            why.push(format!("--snapshots {}", self.snapshots));
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
}

/// What a run's evidence proves, in one plain statement for the reader (report.html's banner, the manifest's
/// `scope`, the JUnit `scope` property): a run on the embedded mock proves the harness and its scenarios; only a
/// run against an NHS environment says anything about that environment; client scenarios grade the system
/// under test named.
pub fn scope_statement(target: &str, sut: Option<&SutFacts>) -> String {
    let service = match target {
        "mock" => "This run used scr-assure's embedded mock of the NHS services (SCR, its gateway and the \
                   identity service): it proves the harness and its scenarios, not the NHS service."
            .to_owned(),
        "sandbox" => "This run used the public NHS sandbox (canned answers, no authentication): it shows the \
                      sandbox answers as the scenarios expect, not how INT or live behave."
            .to_owned(),
        "int" => "This run used the NHS integration environment (INT) with real authentication.".to_owned(),
        other => format!("This run used the target {other}."),
    };
    match sut {
        Some(s) if s.reference_client => format!(
            "{service} Its client scenarios grade scr-assure's bundled reference client: they prove the grader, \
             not a supplier's product."
        ),
        Some(s) => format!(
            "{service} Its client scenarios grade {} {} (a supplier's system) against that mock.",
            s.name, s.version
        ),
        None => service,
    }
}

/// The system under test of a run's client scenarios.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SutFacts {
    pub name: String,
    pub version: String,
    /// `command`, `http` or `attended`.
    pub driver: String,
    /// The `sut.toml` it was described by; `None` for the bundled reference client.
    pub file: Option<String>,
    /// Whether it is the bundled reference client (whose verdicts prove the grader, not a supplier's product).
    pub reference_client: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    #[serde(flatten)]
    pub run: RunFacts,
    /// What this evidence proves ([`scope_statement`]).
    pub scope: String,
    pub tool_version: String,
    pub git_commit: Option<String>,
    pub verdict: Verdict,
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    /// Scenarios that failed at first and passed on a retry.
    pub flaky: usize,
}

/// One HTTP exchange, by reference to its file under `exchanges/`.
#[derive(Debug, Clone, Serialize)]
pub struct ExchangeRef {
    /// Path relative to the bundle, e.g. `exchanges/0001-features_retrieve_scr_id.feature-9-1.json`.
    pub file: String,
    /// Wall-clock time it was sent (RFC 3339 UTC, milliseconds): what a reader should date it by.
    pub wall_at: String,
    /// The run's clock when it was sent: on a mock run the virtual clock (`When <n> seconds pass` moves it).
    pub clock_at: String,
    /// The step that sent it, e.g. `When I request the SCR id for patient "A"`.
    pub step: Option<String>,
    pub method: String,
    pub url: String,
    pub status: u16,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    /// What report.html shows inline (collapsed): headers, bodies pretty-printed, the validation verdict.
    pub detail: Option<ExchangeDetail>,
}

/// The recorded exchange as report.html shows it (redacted at the source, like the exchange file).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExchangeDetail {
    pub duration_ms: u64,
    pub request_headers: Vec<(String, String)>,
    /// Pretty-printed when JSON.
    pub request_body: Option<String>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Option<String>,
    /// The FHIR/SCR validation of both bodies (`fhir::conformance`), when the runner checked them.
    pub validation: Option<ValidationView>,
}

/// The validation verdict of one exchange's bodies.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ValidationView {
    /// `conformant`, `not conformant` (findings), `deliberately non-conformant` or `no FHIR body`, with the
    /// payload kind, e.g. `UploadRequest conformant`.
    pub request: String,
    pub response: String,
    /// Whether every checked body is conformant (tolerated NHS deviations aside).
    pub conformant: bool,
    /// `request /path: message` and `response /path: message`.
    pub findings: Vec<String>,
    /// Findings in the response that are known NHS behaviour, kept but not failing.
    pub tolerated: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    pub keyword: String,
    pub text: String,
    /// passed, failed or skipped.
    pub status: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioView {
    pub feature: String,
    pub name: String,
    /// `file:line`
    pub location: String,
    pub verdict: Verdict,
    pub duration_ms: u64,
    pub attempts: usize,
    pub requirements: Vec<String>,
    pub tags: Vec<String>,
    /// The failing step and why (last attempt).
    pub failure: Option<(String, String)>,
    /// Whose the failure is: `product` (an expectation not met), `transport` (no HTTP answer came) or
    /// `harness` (an undefined step, a broken hook): only a product failure says anything of the product.
    pub failure_kind: Option<String>,
    /// Failures of earlier attempts (retries), oldest first.
    pub earlier_failures: Vec<(String, String)>,
    pub steps: Vec<StepView>,
    pub exchanges: Vec<ExchangeRef>,
    /// Client scenarios (`@client`) in which the system under test was asked to act: what it was asked, what
    /// it reported and what it sent.
    pub sut: Option<SutView>,
}

/// What the system under test did in one client scenario.
#[derive(Debug, Clone, Serialize)]
pub struct SutView {
    /// Path relative to the bundle of the file with the whole record (actions and traffic), e.g.
    /// `sut/0001-features_client_workflow.feature-12.json`.
    pub file: String,
    /// The actions the SUT was asked to run, in order.
    pub actions: Vec<SutActionView>,
    /// The requests the SUT sent to the embedded mock, in arrival order.
    pub requests: Vec<SutRequestRef>,
}

/// One action the SUT was asked to run and what came of it.
#[derive(Debug, Clone, Serialize)]
pub struct SutActionView {
    /// `retrieve`, `retrieve_with_answer`, `emergency_access`, `upload` or `rotate_key`.
    pub action: String,
    /// Its parameters, by name.
    pub params: Vec<(String, String)>,
    /// The argv run (command driver), `POST <url>` (http), or `attended`; redacted at the source.
    pub command: Vec<String>,
    /// Wall-clock start (RFC 3339).
    pub started: String,
    pub duration_ms: u64,
    pub exit_code: Option<i32>,
    /// The JSON object the SUT reported (`{"outcome": …}`), when it reported one.
    pub outcome: Option<serde_json::Value>,
    /// Why the action produced no outcome (the driver's failure).
    pub failure: Option<String>,
    /// Redacted excerpts of what the SUT printed.
    pub stdout_excerpt: String,
    pub stderr_excerpt: String,
    /// Attended driver: what the tester was told to do and what they confirmed.
    pub attended: Option<AttendedView>,
}

/// An attended action's instruction and the tester's confirmation.
#[derive(Debug, Clone, Serialize)]
pub struct AttendedView {
    pub instruction: String,
    /// What the tester typed (empty for a bare Enter); `None` when no confirmation came.
    pub confirmation: Option<String>,
    pub confirmed_at: Option<String>,
}

/// One request the SUT sent, by reference to the scenario's SUT file (headers and bodies redacted at the
/// source: the mock's traffic journal).
#[derive(Debug, Clone, Serialize)]
pub struct SutRequestRef {
    /// The traffic journal's sequence number.
    pub seq: u64,
    pub method: String,
    /// The path below the SCR base path (`/DocumentReference`); outside it, as received (`/oauth2/token`).
    pub path: String,
    /// The query string, secret-looking values redacted at the source.
    pub query: Option<String>,
    /// `get-scr-id`, `get-scr`, `upload-scr`, `set-permission`, `send-alert`, `token`, … (`docs/CLIENT.md` §3).
    pub operation: String,
    pub status: u16,
    pub request_id: Option<String>,
    /// The armed fault that answered, by name.
    pub fault: Option<String>,
    /// The SUT file of the scenario (the same as [`SutView::file`]).
    pub file: String,
    /// Request headers as recorded (lower-case names, secret ones redacted).
    pub headers: Vec<(String, String)>,
    /// The request and response bodies, pretty-printed when they are JSON.
    pub request_body: Option<String>,
    pub request_body_truncated: bool,
    pub response_body: Option<String>,
}

impl SutRequestRef {
    /// `path?query`, as the request line named it (below the base).
    pub fn target(&self) -> String {
        match self.query.as_deref().filter(|q| !q.is_empty()) {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RequirementRow {
    pub id: String,
    pub title: String,
    pub behaviour: String,
    pub source: String,
    pub scal: Option<String>,
    /// Every scenario proving it needs the embedded mock (`requirements::needs_the_mock`): the evidence proves
    /// the harness and the mock's reproduction of the rule, not the NHS service.
    pub mock_only: bool,
    pub verdict: Verdict,
    /// (location, scenario name, verdict)
    pub scenarios: Vec<(String, String, Verdict)>,
}

/// A row of a supplier's own SCAL spreadsheet (`--scal-map`), with the harness requirements mapped to it.
#[derive(Debug, Clone, Serialize)]
pub struct ScalRow {
    pub row: String,
    pub title: String,
    pub requirements: Vec<String>,
    pub verdict: Verdict,
}

/// Everything the evidence says.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub summary: RunSummary,
    pub requirements: Vec<RequirementRow>,
    /// Failed scenarios first, then the rest, each group in file order.
    pub scenarios: Vec<ScenarioView>,
    /// Present when a SCAL map was given.
    pub scal_rows: Option<Vec<ScalRow>>,
    /// Exchanges the run made outside any scenario (the default access token's, on the main lane and the client
    /// lane), numbered after the scenarios' exchanges; their files say `"location": "run"`.
    pub run_exchanges: Vec<ExchangeRef>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filtered_run_says_how() {
        assert_eq!(RunSettings { snapshots: "check".into(), ..RunSettings::default() }.filtered(), None);
        let s = RunSettings {
            tags: Some("@client".into()),
            reference_defects: vec!["no-alert".into()],
            snapshots: "off".into(),
            ..RunSettings::default()
        };
        assert_eq!(s.filtered().as_deref(), Some("--tags @client; --reference-defect no-alert; --snapshots off"));
        let edited = RunSettings {
            snapshots: "check".into(),
            features_drift: FeatureDrift {
                changed: vec!["retrieve/a.feature".into()],
                added: vec!["x.feature".into()],
                missing: vec![],
            },
            ..RunSettings::default()
        };
        assert_eq!(
            edited.filtered().as_deref(),
            Some("features not as shipped in this build (changed retrieve/a.feature; added x.feature)")
        );
    }

    #[test]
    fn the_scope_says_what_the_run_proves() {
        let mock = scope_statement("mock", None);
        assert!(mock.contains("embedded mock") && mock.contains("not the NHS service"), "{mock}");
        let sandbox = scope_statement("sandbox", None);
        assert!(sandbox.contains("public NHS sandbox") && !sandbox.contains("embedded mock"), "{sandbox}");
        let reference = SutFacts { name: "r".into(), reference_client: true, ..SutFacts::default() };
        assert!(scope_statement("mock", Some(&reference)).contains("prove the grader, not a supplier's product"));
        let supplier = SutFacts { name: "Example GP".into(), version: "4.2".into(), ..SutFacts::default() };
        assert!(scope_statement("mock", Some(&supplier)).contains("grade Example GP 4.2 (a supplier's system)"));
    }
}
