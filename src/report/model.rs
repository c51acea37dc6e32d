//! What the evidence of a run says, as plain data: the summary, the requirement matrix, every scenario with
//! its steps and exchanges. Built once from the run's records ([`crate::report::evidence`]); each renderer
//! (HTML, traceability CSV, manifest) reads it and knows nothing of the others. Holds no secrets: exchanges
//! are referred to by file, and their recorded headers and bodies are redacted at the source.

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
    /// The step that sent it, e.g. `When I request the SCR id for patient "A"`.
    pub step: Option<String>,
    pub method: String,
    pub url: String,
    pub status: u16,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
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
    /// Failures of earlier attempts (retries), oldest first.
    pub earlier_failures: Vec<(String, String)>,
    pub steps: Vec<StepView>,
    pub exchanges: Vec<ExchangeRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequirementRow {
    pub id: String,
    pub title: String,
    pub behaviour: String,
    pub source: String,
    pub scal: Option<String>,
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
}
