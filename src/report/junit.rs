//! JUnit XML: one testsuite per feature, one testcase per scenario (each Examples row its own), with the
//! requirement ids, official SCAL ids, tags, target and attempts as properties; client scenarios (`@client`)
//! also name the system under test (`sut.name`, `sut.version`, `sut.driver`) and tell, after the transcript,
//! what it was asked, reported and sent.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use super::evidence::{below_base, is_client};
use super::model::{NotRun, SutFacts};
use super::ReportError;
use crate::requirements::{is_requirement_tag, Catalogue};
use crate::runner::recorder::{FailureKind, ScenarioRecord, Status};

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
    render_filtered(records, catalogue, target, sut, None)
}

/// [`render`], each testsuite also saying how the run was filtered (`filtered` property: the reason, or `no`).
pub fn render_filtered(
    records: &[ScenarioRecord],
    catalogue: &Catalogue,
    target: &str,
    sut: Option<&SutFacts>,
    filtered: Option<String>,
) -> Result<String, ReportError> {
    render_run(&JunitRun {
        records,
        not_run: &[],
        catalogue,
        target,
        sut,
        filtered,
        wall_time: None,
        hostname: None,
        settings: None,
    })
}

/// Everything the JUnit report of a run says.
pub struct JunitRun<'a> {
    pub records: &'a [ScenarioRecord],
    /// The scenarios that did not run: `<skipped message="why"/>` testcases.
    pub not_run: &'a [NotRun],
    pub catalogue: &'a Catalogue,
    pub target: &'a str,
    pub sut: Option<&'a SutFacts>,
    /// How the run was filtered (`filtered` property: the reason, or `no`).
    pub filtered: Option<String>,
    /// The wall time of the whole run (`testsuites time`); without it, the sum of the suites' times.
    pub wall_time: Option<Duration>,
    /// The machine the run was made on (`hostname` of each testsuite).
    pub hostname: Option<String>,
    /// How the run was made: whether its features and catalogue are those shipped (`features_shipped`, and
    /// `features_drift` naming the files that differ).
    pub settings: Option<&'a super::model::RunSettings>,
}

/// The name of this machine, as the kernel knows it (`None` when it cannot be read).
pub fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// One testsuite's scenarios: those that ran and those that did not.
#[derive(Default)]
struct Suite<'a> {
    ran: Vec<&'a ScenarioRecord>,
    not_run: Vec<&'a NotRun>,
}

/// The status of a scenario that ran: success, `<failure>` (the product's), or `<error>` (the transport's or
/// the harness's), with its earlier attempts as reruns.
fn status_of(r: &ScenarioRecord) -> TestCaseStatus {
    let mut status = match (&r.status, &r.failure) {
        (Status::Passed, _) => TestCaseStatus::success(),
        (Status::Skipped, _) => TestCaseStatus::skipped(),
        (Status::Failed, failure) => {
            let kind = r.failure_kind.unwrap_or(FailureKind::Product);
            let (nonsuccess, ty) = match kind {
                FailureKind::Product => (NonSuccessKind::Failure, "step failed"),
                FailureKind::Transport => (NonSuccessKind::Error, "transport fault"),
                FailureKind::Harness => (NonSuccessKind::Error, "harness error"),
            };
            let mut s = TestCaseStatus::non_success(nonsuccess);
            let (step, reason) = failure.clone().unwrap_or_else(|| ("-".into(), "failed".into()));
            s.set_type(ty);
            s.set_message(format!("{step}: {}", reason.lines().next().unwrap_or("")));
            s.set_description(format!("{step}\n{reason}"));
            s
        }
    };
    // Earlier attempts (--retry) are recorded, never hidden: flakyFailure on a pass, rerunFailure on a fail.
    for (step, reason) in &r.earlier_failures {
        let kind =
            if FailureKind::of_reason(reason).is_error() { NonSuccessKind::Error } else { NonSuccessKind::Failure };
        let mut rerun = TestRerun::new(kind);
        rerun.set_type("step failed");
        rerun.set_message(format!("{step}: {}", reason.lines().next().unwrap_or("")));
        rerun.set_description(format!("{step}\n{reason}"));
        status.add_rerun(rerun);
    }
    status
}

fn common_properties(case: &mut TestCase, tags: &[String], catalogue: &Catalogue, target: &str, location: String) {
    let requirements: Vec<&str> = tags.iter().map(String::as_str).filter(|t| is_requirement_tag(t)).collect();
    let scal: Vec<&str> = requirements.iter().filter_map(|id| catalogue.get(id)?.scal.as_deref()).collect();
    case.add_property(Property::new("requirements", requirements.join(",")));
    if !scal.is_empty() {
        case.add_property(Property::new("scal", scal.join(",")));
    }
    case.add_property(Property::new("tags", tags.iter().map(|t| format!("@{t}")).collect::<Vec<_>>().join(" ")));
    case.add_property(Property::new("target", target));
    case.add_property(Property::new("location", location));
}

fn utc(t: SystemTime) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::<chrono::Utc>::from(t).fixed_offset()
}

/// Renders the JUnit report: one testsuite per feature, a testcase per scenario that ran and a skipped one per
/// scenario that did not; `tests` = passed + failures + errors + skipped on every level.
pub fn render_run(run: &JunitRun<'_>) -> Result<String, ReportError> {
    let JunitRun { records, not_run, catalogue, target, sut, .. } = *run;
    let mut report = Report::new("scr-assure");
    let mut suites: BTreeMap<(String, String), Suite<'_>> = BTreeMap::new();
    for r in records {
        suites.entry((r.file.display().to_string(), r.feature.clone())).or_default().ran.push(r);
    }
    for n in not_run {
        suites.entry((n.file.clone(), n.feature.clone())).or_default().not_run.push(n);
    }
    let mut total = Duration::ZERO;
    let mut skipped_total = 0usize;
    let scope = super::model::scope_statement(target, sut);
    for ((file, feature), mut suite_of) in suites {
        suite_of.ran.sort_by_key(|r| r.line);
        let scenarios = &suite_of.ran;
        let mut suite = TestSuite::new(feature.clone());
        suite.add_property(Property::new("file", file.as_str()));
        suite.add_property(Property::new("scope", scope.as_str()));
        suite.add_property(Property::new("filtered", run.filtered.as_deref().unwrap_or("no")));
        if let Some(st) = run.settings {
            // Whether the features and catalogue are byte for byte those shipped in this build, and which differ.
            suite.add_property(Property::new("features_shipped", if st.features_shipped { "true" } else { "false" }));
            if !st.features_drift.is_empty() {
                suite.add_property(Property::new("features_drift", st.features_drift.to_string()));
            }
        }
        if let Some(host) = &run.hostname {
            suite.extra.insert("hostname".into(), host.as_str().into());
        }
        let mut cases: Vec<(usize, TestCase)> = Vec::new();
        let names: Vec<&str> =
            scenarios.iter().map(|r| r.name.as_str()).chain(suite_of.not_run.iter().map(|n| n.name.as_str())).collect();
        let unique = |name: &str, line: usize| {
            if names.iter().filter(|n| **n == name).count() > 1 {
                format!("{name} (line {line})")
            } else {
                name.to_owned()
            }
        };
        for r in scenarios {
            let mut case = TestCase::new(unique(&r.name, r.line), status_of(r));
            case.set_classname(feature.clone());
            case.set_time(r.duration);
            // When the scenario started, by the machine's clock (a measurement, never the run's virtual clock).
            if let Some(started) = r.started {
                case.set_timestamp(utc(started));
            }
            case.extra.insert("file".into(), r.file.display().to_string().into());
            case.extra.insert("line".into(), r.line.to_string().into());
            common_properties(&mut case, &r.tags, catalogue, target, r.location());
            case.add_property(Property::new("attempts", r.attempts.to_string()));
            if let Some(kind) = r.failure_kind.filter(|_| r.status == Status::Failed) {
                case.add_property(Property::new("failure.kind", format!("{kind:?}").to_lowercase()));
            }
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
            cases.push((r.line, case));
        }
        for n in &suite_of.not_run {
            let mut status = TestCaseStatus::skipped();
            status.set_type(n.kind.as_str());
            status.set_message(n.reason.as_str());
            let mut case = TestCase::new(unique(&n.name, n.line), status);
            case.set_classname(feature.clone());
            case.extra.insert("file".into(), n.file.as_str().into());
            case.extra.insert("line".into(), n.line.to_string().into());
            common_properties(&mut case, &n.tags, catalogue, target, n.location());
            case.add_property(Property::new("not-run", n.kind.as_str()));
            cases.push((n.line, case));
        }
        cases.sort_by_key(|(line, _)| *line);
        let skipped = suite_of.not_run.len() + scenarios.iter().filter(|r| r.status == Status::Skipped).count();
        skipped_total += skipped;
        suite.extra.insert("skipped".into(), skipped.to_string().into());
        suite.add_test_cases(cases.into_iter().map(|(_, c)| c));
        // The suite's wall time: from its first scenario's start to its last one's end (they run concurrently).
        let first = scenarios.iter().filter_map(|r| r.started).min();
        let last = scenarios.iter().filter_map(|r| r.started.map(|s| s + r.duration)).max();
        let suite_time = match (first, last) {
            (Some(first), Some(last)) => last.duration_since(first).unwrap_or_default(),
            _ => scenarios.iter().map(|r| r.duration).sum(),
        };
        suite.set_time(suite_time);
        if let Some(first) = first {
            suite.set_timestamp(utc(first));
        }
        total += suite_time;
        report.add_test_suite(suite);
    }
    report.set_time(run.wall_time.unwrap_or(total));
    if let Some(first) = records.iter().filter_map(|r| r.started).min() {
        report.set_timestamp(utc(first));
    }
    let xml = report.to_string().map_err(|e| ReportError::Render { what: "JUnit XML", message: e.to_string() })?;
    // quick-junit writes no `skipped` (nor `hostname`) on <testsuites>: added to its start tag.
    let mut extra = format!(" skipped=\"{skipped_total}\"");
    if let Some(host) = &run.hostname {
        extra.push_str(&format!(" hostname=\"{}\"", super::html::escape(host)));
    }
    Ok(match xml.find("<testsuites ") {
        Some(at) => {
            let at = at + "<testsuites".len();
            format!("{}{extra}{}", &xml[..at], &xml[at..])
        }
        None => xml,
    })
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
    #[test]
    fn not_run_scenarios_are_skipped_errors_are_errors_and_the_counts_add_up() {
        use crate::report::model::NotRunKind;
        let passed = ScenarioRecord::new("F", "features/a.feature", "passes", 3, vec!["SCRC-WFL-001".into()]);
        let mut failed = ScenarioRecord::new("F", "features/a.feature", "fails", 9, vec![]);
        failed.status = Status::Failed;
        failed.failure = Some(("Then the status is 200".into(), "expected 200, got 500".into()));
        failed.failure_kind = Some(FailureKind::Product);
        let mut transport = ScenarioRecord::new("F", "features/a.feature", "no answer", 15, vec![]);
        transport.status = Status::Failed;
        transport.failure =
            Some(("When I ask".into(), format!("{}the connection was reset", crate::runner::recorder::TRANSPORT_MARK)));
        transport.failure_kind = Some(FailureKind::Transport);
        let not_run = [
            NotRun {
                feature: "F".into(),
                name: "filtered <one>".into(),
                file: "features/a.feature".into(),
                line: 21,
                tags: vec!["SCRC-WFL-001".into()],
                kind: NotRunKind::Filtered,
                reason: "filtered out: --tags '@x' does not select it".into(),
            },
            NotRun {
                feature: "G".into(),
                name: "elsewhere".into(),
                file: "features/b.feature".into(),
                line: 4,
                tags: vec![],
                kind: NotRunKind::NotReached,
                reason: "not reached: the run stopped at the first failure (--fail-fast)".into(),
            },
        ];
        let xml = render_run(&JunitRun {
            records: &[passed, failed, transport],
            not_run: &not_run,
            catalogue: &catalogue(),
            target: "mock",
            sut: None,
            filtered: None,
            wall_time: Some(Duration::from_millis(2500)),
            hostname: Some("ci-host".into()),
            settings: None,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let head = &xml[xml.find("<testsuites ").unwrap_or(0)..];
        let head = &head[..head.find('>').unwrap_or(0)];
        for attr in [
            r#"tests="5""#,
            r#"failures="1""#,
            r#"errors="1""#,
            r#"skipped="2""#,
            r#"time="2.500""#,
            r#"hostname="ci-host""#,
        ] {
            assert!(head.contains(attr), "{attr} in {head}");
        }
        assert!(xml.contains(r#"<testsuite name="F" tests="4" disabled="1" errors="1" failures="1""#), "{xml}");
        assert!(xml.contains(r#"hostname="ci-host" skipped="1""#), "{xml}");
        let skipped = testcase(&xml, "filtered &lt;one&gt;");
        assert!(skipped.contains(r#"file="features/a.feature" line="21""#), "{skipped}");
        assert!(
            skipped.contains(
                r#"<skipped message="filtered out: --tags &apos;@x&apos; does not select it" type="filtered"/>"#
            ) || skipped.contains(
                r#"<skipped type="filtered" message="filtered out: --tags &apos;@x&apos; does not select it"/>"#
            ),
            "{skipped}"
        );
        assert!(skipped.contains(r#"<property name="requirements" value="SCRC-WFL-001"/>"#), "{skipped}");
        assert!(testcase(&xml, "elsewhere").contains("not reached"), "{xml}");
        let error = testcase(&xml, "no answer");
        assert!(
            error.contains("<error ") && !error.contains("<failure") && error.contains(r#"type="transport fault""#),
            "{error}"
        );
        let failure = testcase(&xml, "fails");
        assert!(
            failure.contains("<failure ") && failure.contains(r#"file="features/a.feature" line="9""#),
            "{failure}"
        );
        assert!(testcase(&xml, "passes").contains(r#"line="3""#));
    }
}
