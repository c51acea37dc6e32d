//! JUnit XML: one testsuite per feature, one testcase per scenario (each Examples row its own), with the
//! requirement ids, official SCAL ids, tags, target and attempts as properties.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use super::ReportError;
use crate::requirements::{is_requirement_tag, Catalogue};
use crate::runner::recorder::{ScenarioRecord, Status};

/// The step-by-step transcript of a scenario, with its exchanges (already redacted).
pub fn transcript(r: &ScenarioRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Scenario: {} ({}:{})", r.name, r.file.display(), r.line);
    for s in &r.steps {
        let mark = match s.status {
            Status::Passed => "✔",
            Status::Failed => "✘",
            Status::Skipped => "?",
        };
        let _ = writeln!(out, "  {mark} {} {}", s.keyword, s.text);
        if let Some(e) = &s.error {
            for line in e.lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    if !r.exchanges.is_empty() {
        let _ = writeln!(out, "Exchanges:");
        for x in &r.exchanges {
            let _ = writeln!(
                out,
                "  {} {} -> {} ({} ms, X-Request-ID {})",
                x.request.method,
                x.request.url,
                x.response.status,
                x.duration_ms,
                x.sent_header("X-Request-ID").unwrap_or("-")
            );
            if let Some(c) = &x.conformance {
                let side =
                    |checked: bool, kind: &Option<crate::fhir::ScrPayload>, findings: &[crate::fhir::Finding]| {
                        if !checked {
                            return "no FHIR body".to_owned();
                        }
                        let kind = kind.map(|k| format!("{k:?}")).unwrap_or_else(|| "FHIR".into());
                        if findings.is_empty() {
                            format!("{kind} conformant")
                        } else {
                            format!("{kind}: {} finding(s)", findings.len())
                        }
                    };
                let deliberate = if c.request_deliberate { " (deliberately)" } else { "" };
                let _ = writeln!(
                    out,
                    "      conformance: request {}{deliberate}; response {}{}",
                    side(c.request_checked, &c.request_kind, &c.request),
                    side(c.response_checked, &c.response_kind, &c.response),
                    if c.tolerated.is_empty() {
                        String::new()
                    } else {
                        format!("; {} known NHS deviation(s) tolerated", c.tolerated.len())
                    }
                );
            }
        }
    }
    out
}

/// Renders the JUnit report of a run.
pub fn render(records: &[ScenarioRecord], catalogue: &Catalogue, target: &str) -> Result<String, ReportError> {
    let mut report = Report::new("scr-assure");
    let mut suites: BTreeMap<(String, String), Vec<&ScenarioRecord>> = BTreeMap::new();
    for r in records {
        suites.entry((r.file.display().to_string(), r.feature.clone())).or_default().push(r);
    }
    let mut total = std::time::Duration::ZERO;
    for ((file, feature), mut scenarios) in suites {
        scenarios.sort_by_key(|r| r.line);
        let mut suite = TestSuite::new(feature.clone());
        suite.add_property(Property::new("file", file));
        let mut suite_time = std::time::Duration::ZERO;
        for r in &scenarios {
            let duplicate_name = scenarios.iter().filter(|o| o.name == r.name).count() > 1;
            let name = if duplicate_name { format!("{} (line {})", r.name, r.line) } else { r.name.clone() };
            let status = match (&r.status, &r.failure) {
                (Status::Passed, _) => TestCaseStatus::success(),
                (Status::Skipped, _) => TestCaseStatus::skipped(),
                (Status::Failed, failure) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let (step, reason) = failure.clone().unwrap_or_else(|| ("-".into(), "failed".into()));
                    s.set_type("step failed");
                    s.set_message(format!("{step}: {}", reason.lines().next().unwrap_or("")));
                    s.set_description(format!("{step}\n{reason}"));
                    s
                }
            };
            let mut status = status;
            // Earlier attempts (--retry) are recorded, never hidden: flakyFailure on a pass, rerunFailure on a fail.
            for (step, reason) in &r.earlier_failures {
                let mut rerun = TestRerun::new(NonSuccessKind::Failure);
                rerun.set_type("step failed");
                rerun.set_message(format!("{step}: {}", reason.lines().next().unwrap_or("")));
                rerun.set_description(format!("{step}\n{reason}"));
                status.add_rerun(rerun);
            }
            let mut case = TestCase::new(name, status);
            case.set_classname(feature.clone());
            case.set_time(r.duration);
            let requirements: Vec<&str> = r.tags.iter().map(String::as_str).filter(|t| is_requirement_tag(t)).collect();
            let scal: Vec<&str> = requirements.iter().filter_map(|id| catalogue.get(id)?.scal.as_deref()).collect();
            case.add_property(Property::new("requirements", requirements.join(",")));
            if !scal.is_empty() {
                case.add_property(Property::new("scal", scal.join(",")));
            }
            case.add_property(Property::new(
                "tags",
                r.tags.iter().map(|t| format!("@{t}")).collect::<Vec<_>>().join(" "),
            ));
            case.add_property(Property::new("target", target));
            case.add_property(Property::new("attempts", r.attempts.to_string()));
            case.add_property(Property::new("location", format!("{}:{}", r.file.display(), r.line)));
            case.set_system_out(transcript(r));
            suite_time += r.duration;
            suite.add_test_case(case);
        }
        suite.set_time(suite_time);
        total += suite_time;
        report.add_test_suite(suite);
    }
    report.set_time(total);
    report.to_string().map_err(|e| ReportError::Render { what: "JUnit XML", message: e.to_string() })
}
