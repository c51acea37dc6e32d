//! JUnit XML: one testsuite per feature, one testcase per scenario (each Examples row its own), with the
//! requirement ids, official SCAL ids, tags, target and attempts as properties; client scenarios (`@client`)
//! also name the system under test (`sut.name`, `sut.version`, `sut.driver`) and tell, after the transcript,
//! what it was asked, reported and sent.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use super::evidence::{below_base, is_client};
use super::model::SutFacts;
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
                "  {} {} {} -> {} ({} ms, clock {}, X-Request-ID {})",
                x.wall_at,
                x.request.method,
                x.request.url,
                x.response.status,
                x.duration_ms,
                x.clock_at,
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

/// Writes `text` line by line, indented, under `label` (nothing when `text` is blank).
fn excerpt(out: &mut String, label: &str, text: &str) {
    if text.trim().is_empty() {
        return;
    }
    let _ = writeln!(out, "     {label}:");
    for line in text.trim_end().lines() {
        let _ = writeln!(out, "       | {line}");
    }
}

/// The "System under test" part of a client scenario's `system-out`: each action with its outcome (or the
/// driver's failure) and the excerpts of what the SUT printed, then one line per request the SUT sent.
/// `None` for a scenario in which the SUT was asked nothing. Everything in it was redacted at the source.
pub fn sut_transcript(r: &ScenarioRecord, sut: Option<&SutFacts>) -> Option<String> {
    let evidence = r.sut.as_ref()?;
    let mut out = String::new();
    match sut {
        Some(f) => {
            let _ = writeln!(out, "System under test: {} {} ({} driver)", f.name, f.version, f.driver);
        }
        None => out.push_str("System under test:\n"),
    }
    let _ = writeln!(out, "Actions ({}):", evidence.actions.len());
    for (i, a) in evidence.actions.iter().enumerate() {
        let params: Vec<String> = a.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "  {}. {} {}", i + 1, a.action, params.join(" "));
        if !a.command.is_empty() {
            let _ = writeln!(out, "     command: {}", a.command.join(" "));
        }
        let exit = a.exit_code.map(|c| format!("exit {c}, ")).unwrap_or_default();
        match a.result() {
            Ok(o) => {
                let _ = writeln!(out, "     outcome: {} ({exit}{} ms)", o.raw, a.duration_ms);
            }
            Err(why) => {
                let _ = writeln!(out, "     failure: {why} ({exit}{} ms)", a.duration_ms);
            }
        }
        if let Some(at) = &a.attended {
            let _ = writeln!(out, "     instruction: {}", at.instruction);
            match &at.confirmation {
                Some(c) => {
                    let _ = writeln!(
                        out,
                        "     confirmed{}: {c:?}",
                        at.confirmed_at.as_deref().map(|t| format!(" at {t}")).unwrap_or_default()
                    );
                }
                None => out.push_str("     not confirmed\n"),
            }
        }
        excerpt(&mut out, "stdout", &a.stdout_excerpt);
        excerpt(&mut out, "stderr", &a.stderr_excerpt);
    }
    let mut traffic: Vec<_> = evidence.traffic.iter().collect();
    traffic.sort_by_key(|e| e.seq);
    traffic.dedup_by_key(|e| e.seq);
    let _ = writeln!(out, "SUT requests ({}):", traffic.len());
    for e in traffic {
        let query = e.query.as_deref().filter(|q| !q.is_empty()).map(|q| format!("?{q}")).unwrap_or_default();
        let fault = e.fault.as_deref().map(|f| format!(", fault {f}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  #{} {} {}{query} → {} ({}, X-Request-ID {}{fault})",
            e.seq,
            e.method,
            below_base(&e.path),
            e.status,
            e.operation,
            e.header("x-request-id").unwrap_or("-")
        );
    }
    Some(out)
}

/// Renders the JUnit report of a run; `sut` names the system under test of its client scenarios.
pub fn render(
    records: &[ScenarioRecord],
    catalogue: &Catalogue,
    target: &str,
    sut: Option<&SutFacts>,
) -> Result<String, ReportError> {
    render_filtered(records, catalogue, target, sut, None, None)
}

/// [`render`], each testsuite also saying how the run was filtered (`filtered` property: the reason, or `no`).
pub fn render_filtered(
    records: &[ScenarioRecord],
    catalogue: &Catalogue,
    target: &str,
    sut: Option<&SutFacts>,
    filtered: Option<String>,
    settings: Option<&super::model::RunSettings>,
) -> Result<String, ReportError> {
    let mut report = Report::new("scr-assure");
    let mut suites: BTreeMap<(String, String), Vec<&ScenarioRecord>> = BTreeMap::new();
    for r in records {
        suites.entry((r.file.display().to_string(), r.feature.clone())).or_default().push(r);
    }
    let mut total = std::time::Duration::ZERO;
    let scope = super::model::scope_statement(target, sut);
    for ((file, feature), mut scenarios) in suites {
        scenarios.sort_by_key(|r| r.line);
        let mut suite = TestSuite::new(feature.clone());
        suite.add_property(Property::new("file", file));
        suite.add_property(Property::new("scope", scope.as_str()));
        suite.add_property(Property::new("filtered", filtered.as_deref().unwrap_or("no")));
        if let Some(st) = settings {
            // Whether the features and catalogue are byte for byte those shipped in this build, and which differ.
            suite.add_property(Property::new("features_shipped", if st.features_shipped { "true" } else { "false" }));
            if !st.features_drift.is_empty() {
                suite.add_property(Property::new("features_drift", st.features_drift.to_string()));
            }
        }
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
            // When the scenario started, by the machine's clock (a measurement, never the run's virtual clock).
            if let Some(started) = r.started {
                case.set_timestamp(chrono::DateTime::<chrono::Utc>::from(started).fixed_offset());
            }
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
            let client = is_client(r);
            if let (true, Some(f)) = (client, sut) {
                case.add_property(Property::new("sut.name", f.name.as_str()));
                case.add_property(Property::new("sut.version", f.version.as_str()));
                case.add_property(Property::new("sut.driver", f.driver.as_str()));
            }
            let mut out = transcript(r);
            if let Some(part) = sut_transcript(r, sut) {
                out.push('\n');
                out.push_str(&part);
            }
            case.set_system_out(out);
            suite_time += r.duration;
            suite.add_test_case(case);
        }
        suite.set_time(suite_time);
        if let Some(first) = scenarios.iter().filter_map(|r| r.started).min() {
            suite.set_timestamp(chrono::DateTime::<chrono::Utc>::from(first).fixed_offset());
        }
        total += suite_time;
        report.add_test_suite(suite);
    }
    report.set_time(total);
    if let Some(first) = records.iter().filter_map(|r| r.started).min() {
        report.set_timestamp(chrono::DateTime::<chrono::Utc>::from(first).fixed_offset());
    }
    report.to_string().map_err(|e| ReportError::Render { what: "JUnit XML", message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::evidence::client_record;

    fn catalogue() -> Catalogue {
        Catalogue::parse(
            std::path::Path::new("requirements.toml"),
            "[[requirement]]\nid = \"SCRC-WFL-001\"\ntitle = \"t\"\nbehaviour = \"b\"\nsource = \"s\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn facts() -> SutFacts {
        SutFacts {
            name: "Example GP System".into(),
            version: "4.2.0".into(),
            driver: "command".into(),
            file: Some("sut.toml".into()),
            reference_client: false,
        }
    }

    /// The XML of the testcase named `name`.
    fn testcase<'a>(xml: &'a str, name: &str) -> &'a str {
        let start = xml.find(&format!("<testcase name=\"{name}\"")).unwrap_or_else(|| panic!("no {name}: {xml}"));
        let end = xml[start..].find("</testcase>").map_or(xml.len(), |e| start + e);
        &xml[start..end]
    }

    #[test]
    fn client_testcases_name_the_sut_and_tell_what_it_did() {
        let plain = ScenarioRecord::new("Client workflow", "features/client/workflow.feature", "plain", 3, vec![]);
        let xml =
            render(&[plain, client_record()], &catalogue(), "mock", Some(&facts())).unwrap_or_else(|e| panic!("{e}"));
        let case = testcase(&xml, "the SUT reads a permitted SCR");
        assert!(case.contains(r#"<property name="sut.name" value="Example GP System"/>"#), "{case}");
        assert!(case.contains(r#"<property name="sut.version" value="4.2.0"/>"#), "{case}");
        assert!(case.contains(r#"<property name="sut.driver" value="command"/>"#), "{case}");
        let out = &case[case.find("<system-out>").unwrap_or_else(|| panic!("system-out: {case}"))..];
        let transcript_at = out.find("Scenario: the SUT reads a permitted SCR").unwrap_or(usize::MAX);
        let sut_at = out.find("System under test: Example GP System 4.2.0 (command driver)").unwrap_or(0);
        assert!(transcript_at < sut_at, "the SUT part follows the transcript: {out}");
        for line in [
            "  1. retrieve nhs_number=9991000019",
            "     command: python3 my_client.py retrieve 9991000019",
            "     stderr:\n       | fetching token\n       | reading SCR",
            "  2. upload bundle_file=/tmp/s/bundle.json nhs_number=9991000019",
            "     failure: the tester did not confirm `upload` within 3 s (3000 ms)",
            "     instruction: In Example GP System, upload the GP Summary of 9991000019",
            "     not confirmed",
            "SUT requests (3):",
            "  #2 POST /oauth2/token → 200 (token, X-Request-ID -)",
            "  #3 GET /DocumentReference?patient=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9991000019 → 200 \
             (get-scr-id, X-Request-ID 60E0B220-8136-4CA5-AE46-1D97EF59D068)",
            "  #4 POST /Bundle → 503 (upload-scr, X-Request-ID -, fault unavailable)",
        ] {
            assert!(out.contains(line), "system-out has {line:?}: {out}");
        }
        // The outcome the SUT reported, its hostile message escaped by the XML writer.
        assert!(out.contains("     outcome: {"), "{out}");
        assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !out.contains("<script"), "{out}");
        assert!(out.contains("(exit 0, 120 ms)"), "{out}");

        let other = testcase(&xml, "plain");
        assert!(!other.contains("sut.name") && !other.contains("System under test"), "{other}");
    }

    #[test]
    fn a_client_scenario_without_actions_still_names_the_sut() {
        let mut r = client_record();
        r.sut = None;
        let xml = render(&[r], &catalogue(), "mock", Some(&facts())).unwrap_or_else(|e| panic!("{e}"));
        assert!(xml.contains(r#"<property name="sut.name" value="Example GP System"/>"#), "tagged @client");
        assert!(!xml.contains("System under test"), "no actions, no SUT part");
        let without = render(&[client_record()], &catalogue(), "mock", None).unwrap_or_else(|e| panic!("{e}"));
        assert!(!without.contains("sut.name") && without.contains("System under test:\n"), "{without}");
    }
}
