//! `report.html` in a real browser: headless Chromium loads the page from disk, and the DOM it builds carries
//! the same counts as the evidence, one `class="scenario"` element per scenario with its verdict, one
//! requirement row per requirement, and no script element (names with `<script>` stay text).
//!
//! Two pages: one rendered from a hand-built `Evidence` (a mix of passed, failed and flaky scenarios, with
//! markup in the names, one of them a client scenario whose system under test reported a hostile message), and the `report.html` of a real small run of the binary against the embedded mock,
//! whose counts must also agree with the bundle's own `junit.xml` and whose exchange links must resolve.
//!
//! Needs Chromium at /usr/bin/chromium (Debian package `chromium`; `.ci/run` installs it). Without it each test
//! prints a visible notice on stderr and returns — unless `CI` is set, where Chromium must be there and the
//! test fails, saying so.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scr_assure::report::html;
use scr_assure::report::model::{
    Evidence, ExchangeDetail, ExchangeRef, RequirementRow, RunFacts, RunSummary, ScalRow, ScenarioView, StepView,
    SutActionView, SutFacts, SutRequestRef, SutView, ValidationView, Verdict,
};

/// Where Chromium is: `/usr/bin/chromium`, or `SCR_ASSURE_CHROMIUM` (e.g. to see the skip notice).
fn chromium() -> PathBuf {
    std::env::var_os("SCR_ASSURE_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

fn scenario(n: usize, name: &str, verdict: Verdict, attempts: usize) -> ScenarioView {
    let location = format!("features/retrieve_scr_id.feature:{}", 10 * n + 3);
    let failed = verdict == Verdict::Failed;
    let requirement = if n.is_multiple_of(2) { "SCRA-RET-001" } else { "SCRA-RET-002" };
    ScenarioView {
        feature: "Retrieve the SCR id | \"quoted\" <feature>".into(),
        name: name.into(),
        location: location.clone(),
        verdict,
        duration_ms: 17 * n as u64,
        attempts,
        requirements: vec![requirement.into()],
        tags: vec![requirement.into()],
        failure: failed.then(|| {
            (
                "Then the response status is 200".to_string(),
                "expected status 200, got 422\n<OperationOutcome> code \"INVALID_VALUE\" | 'nhs-number' & more"
                    .to_string(),
            )
        }),
        failure_kind: failed.then(|| "product".to_owned()),
        earlier_failures: if attempts > 1 {
            vec![("When I request the SCR id for patient \"A\"".into(), "connection reset".into())]
        } else {
            vec![]
        },
        steps: vec![
            StepView {
                keyword: "When".into(),
                text: "I request the SCR id for patient \"A\"".into(),
                status: "passed".into(),
                error: None,
            },
            StepView {
                keyword: "Then".into(),
                text: "the response status is 200".into(),
                status: if failed { "failed" } else { "passed" }.into(),
                error: failed.then(|| "expected status 200, got 422".to_string()),
            },
        ],
        exchanges: vec![ExchangeRef {
            file: format!("exchanges/{n:04}-features_retrieve_scr_id.feature-{}-1.json", 10 * n + 3),
            wall_at: "2025-01-01T12:00:01.250Z".into(),
            clock_at: "2025-01-01T12:00:00+00:00".into(),
            step: Some("When I request the SCR id for patient \"A\"".into()),
            method: "GET".into(),
            url: "http://127.0.0.1:9/DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number|9990000018&x=<y>"
                .into(),
            status: if failed { 422 } else { 200 },
            request_id: Some(format!("60E0B220-8136-4CA5-AE46-1D97EF59D{n:03}")),
            correlation_id: Some(format!("corr-{n}")),
            // The first scenario's exchange carries its recorded detail: a hostile body and a verdict.
            detail: (n == 1).then(|| ExchangeDetail {
                duration_ms: 9,
                request_headers: vec![("x-request-id".into(), "60E0B220".into())],
                request_body: None,
                response_headers: vec![("content-type".into(), "text/html".into())],
                response_body: Some("</pre><script>document.title='body'</script><img src=x onerror=alert(3)>".into()),
                validation: Some(ValidationView {
                    request: "no FHIR body".into(),
                    response: "not conformant (1 finding(s))".into(),
                    conformant: false,
                    findings: vec!["response (root): <b>not JSON</b>".into()],
                    tolerated: vec![],
                }),
            }),
        }],
        sut: None,
    }
}

/// What a system under test did in a client scenario: one action whose reported message is hostile markup,
/// and two requests (one answered by an armed fault).
fn sut_view(n: usize) -> SutView {
    let file = format!("sut/0001-features_retrieve_scr_id.feature_{}.json", 10 * n + 3);
    let request = |seq: u64, method: &str, path: &str, status: u16, fault: Option<&str>| SutRequestRef {
        seq,
        method: method.into(),
        path: path.into(),
        query: None,
        operation: if path == "/oauth2/token" { "token" } else { "get-scr-id" }.into(),
        status,
        request_id: Some(format!("req-{seq}")),
        fault: fault.map(str::to_owned),
        file: file.clone(),
        headers: vec![("authorization".into(), "Bearer [REDACTED]".into())],
        request_body: None,
        request_body_truncated: false,
        response_body: Some("{\n  \"resourceType\": \"<Bundle>\"\n}".into()),
    };
    SutView {
        actions: vec![SutActionView {
            action: "retrieve".into(),
            params: vec![("nhs_number".into(), "9991000019".into())],
            command: vec!["python3".into(), "my_client.py".into(), "retrieve".into(), "9991000019".into()],
            started: "2025-01-01T12:00:01.000Z".into(),
            duration_ms: 120,
            exit_code: Some(0),
            outcome: Some(serde_json::json!({
                "outcome": "error",
                "message": "<script>document.title='owned'</script><img src=x onerror=alert(1)>"
            })),
            failure: None,
            stdout_excerpt: "<script>alert(2)</script>".into(),
            stderr_excerpt: String::new(),
            attended: None,
        }],
        requests: vec![
            request(1, "POST", "/oauth2/token", 200, None),
            request(2, "GET", "/DocumentReference", 503, Some("unavailable")),
        ],
        file,
    }
}

fn evidence() -> Evidence {
    let mut scenarios = vec![
        scenario(1, "a name with <script>document.title='owned'</script> in it", Verdict::Failed, 1),
        scenario(2, "retried & still failing", Verdict::Failed, 2),
        scenario(3, "plain pass", Verdict::Passed, 1),
        scenario(4, "flaky: passed on the second attempt", Verdict::Passed, 2),
        scenario(5, "another pass with 'quotes' and \"double quotes\"", Verdict::Passed, 1),
        scenario(6, "<img src=x onerror=alert(1)>", Verdict::Passed, 1),
        scenario(7, "last pass", Verdict::Passed, 1),
    ];
    // The plain pass is a client scenario: the SUT's evidence travels with it.
    scenarios[2].tags.push("client".into());
    scenarios[2].sut = Some(sut_view(3));
    // Failed first, as the evidence builder orders them.
    scenarios.sort_by_key(|s| s.verdict != Verdict::Failed);
    let count = |v: Verdict| scenarios.iter().filter(|s| s.verdict == v).count();
    let flaky = scenarios.iter().filter(|s| s.verdict == Verdict::Passed && s.attempts > 1).count();
    let proving = |id: &str| -> Vec<(String, String, Verdict)> {
        scenarios
            .iter()
            .filter(|s| s.requirements.iter().any(|r| r == id))
            .map(|s| (s.location.clone(), s.name.clone(), s.verdict))
            .collect()
    };
    let requirements = vec![
        RequirementRow {
            mock_only: false,
            id: "SCRA-RET-001".into(),
            title: "The SCR id of a patient is retrievable".into(),
            behaviour: "GET DocumentReference returns a Bundle".into(),
            source: "scr-api.md §4.1".into(),
            scal: Some("SCAL-SCR-01".into()),
            verdict: Verdict::Failed,
            scenarios: proving("SCRA-RET-001"),
        },
        RequirementRow {
            mock_only: false,
            id: "SCRA-RET-002".into(),
            title: "Errors are <OperationOutcome>s".into(),
            behaviour: String::new(),
            source: "scr-api.md §4.2".into(),
            scal: None,
            verdict: Verdict::Failed,
            scenarios: proving("SCRA-RET-002"),
        },
        RequirementRow {
            mock_only: false,
            id: "SCRA-RET-003".into(),
            title: "Not in this run".into(),
            behaviour: String::new(),
            source: "scr-api.md §4.3".into(),
            scal: None,
            verdict: Verdict::Unproved,
            scenarios: vec![],
        },
    ];
    Evidence {
        summary: RunSummary {
            scope: "This run used the NHS integration environment (INT) with real authentication.".into(),
            run: RunFacts {
                run_id: "20250101T120000Z-test".into(),
                target: "int".into(),
                base_url: "https://int.api.service.nhs.uk/summary-care-record/FHIR/R4".into(),
                ods_code: Some("A12345".into()),
                asid: Some("200000000001".into()),
                started_at: "2025-01-01T12:00:00Z".into(),
                finished_at: "2025-01-01T12:00:04Z".into(),
                interrupted: false,
                incomplete: None,
                settings: Default::default(),
                not_run: Vec::new(),
                sut: Some(SutFacts {
                    name: "Example <GP> System".into(),
                    version: "4.2.0".into(),
                    driver: "command".into(),
                    file: Some("sut.toml".into()),
                    reference_client: false,
                }),
            },
            tool_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: Some("0123456789abcdef".into()),
            verdict: Verdict::Failed,
            total: scenarios.len(),
            passed: count(Verdict::Passed),
            failed: count(Verdict::Failed),
            flaky,
        },
        requirements,
        scenarios,
        scal_rows: Some(vec![
            ScalRow {
                row: "4.1".into(),
                title: "Retrieve".into(),
                requirements: vec!["SCRA-RET-001".into()],
                verdict: Verdict::Failed,
            },
            ScalRow { row: "4.9".into(), title: "Unmapped".into(), requirements: vec![], verdict: Verdict::Unproved },
        ]),
        run_exchanges: Vec::new(),
    }
}

/// Whether the browser tests can run here: Chromium present, or (without it) `false` after a visible notice.
/// Under CI (`CI` set) a missing Chromium is a failure.
fn chromium_available() -> bool {
    let chromium = chromium();
    if chromium.exists() {
        return true;
    }
    let why = format!(
        "{} is missing: install the Debian package `chromium` (apt-get install -y chromium) to run the \
         report's browser test",
        chromium.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{why} (CI is set, so the test must run)");
    // Straight to the process's stderr: the test harness captures `eprintln!` of passing tests.
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("NOTICE: skipping the browser test of report.html: {why}\n").as_bytes(),
    );
    false
}

/// Loads `page` in headless Chromium and returns the DOM it built.
fn dump_dom(page: &Path, profile: &Path) -> String {
    let url = format!("file://{}", page.display());
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium().display()));
    // Read both pipes on their own threads so a chatty browser never blocks on a full pipe.
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s loading {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = out.join().expect("stdout reader");
    let log = err.join().expect("stderr reader");
    assert!(status.success() && dom.contains("<main"), "chromium failed ({status}) loading {url}:\n{log}\n{dom}");
    dom
}

/// The opening tags (from `<` to the next `>`) that contain `needle`.
fn tags_with<'a>(dom: &'a str, needle: &str) -> Vec<&'a str> {
    dom.match_indices(needle)
        .filter_map(|(i, _)| {
            let start = dom[..i].rfind('<')?;
            let end = i + dom[i..].find('>')?;
            Some(&dom[start..=end])
        })
        .collect()
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    Some(tag[start..].split('"').next()?.to_string())
}

fn main_count(main: &str, name: &str) -> usize {
    attribute(main, name)
        .unwrap_or_else(|| panic!("<main id=\"evidence\"> has no {name}: {main}"))
        .parse()
        .unwrap_or_else(|e| panic!("{name} is not a count: {e}"))
}

#[test]
fn chromium_sees_the_counts_of_the_evidence() {
    if !chromium_available() {
        return;
    }
    let evidence = evidence();
    let dir = tempfile::tempdir().expect("temp dir");
    let page: PathBuf = dir.path().join("report.html");
    std::fs::write(&page, html::render(&evidence)).expect("write report.html");
    let dom = dump_dom(&page, &dir.path().join("chromium-profile"));

    let mains = tags_with(&dom, "id=\"evidence\"");
    assert_eq!(mains.len(), 1, "one <main id=\"evidence\">");
    let main = mains[0];
    let s = &evidence.summary;
    assert_eq!(main_count(main, "data-total"), s.total);
    assert_eq!(main_count(main, "data-passed"), s.passed);
    assert_eq!(main_count(main, "data-failed"), s.failed);
    assert_eq!(main_count(main, "data-flaky"), s.flaky);
    assert_eq!(attribute(main, "data-verdict").as_deref(), Some("failed"));
    assert_eq!((s.total, s.passed, s.failed, s.flaky), (7, 5, 2, 1), "the sample is a mix");

    let scenarios = tags_with(&dom, "class=\"scenario\"");
    let verdicts: Vec<String> = scenarios
        .iter()
        .map(|t| attribute(t, "data-verdict").unwrap_or_else(|| panic!("a scenario without data-verdict: {t}")))
        .collect();
    assert_eq!(scenarios.len(), s.total, "one class=\"scenario\" element per scenario");
    assert_eq!(verdicts.iter().filter(|v| *v == "passed").count(), s.passed);
    assert_eq!(verdicts.iter().filter(|v| *v == "failed").count(), s.failed);
    assert_eq!(verdicts.iter().position(|v| v == "passed"), Some(s.failed), "failed scenarios are listed first");
    let ids: std::collections::HashSet<String> = scenarios.iter().filter_map(|t| attribute(t, "id")).collect();
    assert_eq!(ids.len(), s.total, "every scenario has its own id");
    assert!(ids.contains("scenario-features-retrieve_scr_id-feature-13"), "{ids:?}");

    let requirements = tags_with(&dom, "class=\"requirement\"");
    assert_eq!(requirements.len(), evidence.requirements.len());
    for (tag, r) in requirements.iter().zip(&evidence.requirements) {
        assert_eq!(attribute(tag, "data-id").as_deref(), Some(r.id.as_str()));
        let expected = match r.verdict {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Unproved => "unproved",
        };
        assert_eq!(attribute(tag, "data-verdict").as_deref(), Some(expected));
    }
    assert_eq!(tags_with(&dom, "class=\"scal-row\"").len(), 2);
    assert_eq!(tags_with(&dom, "class=\"failure\"").len(), s.failed);

    // The system under test: named, what its verdicts prove, its request rows with their statuses.
    assert_eq!(tags_with(&dom, "id=\"sut\"").len(), 1, "one System under test section");
    assert!(dom.contains("These verdicts grade Example &lt;GP&gt; System 4.2.0 against the embedded mock"));
    let sut_requests = tags_with(&dom, "class=\"sut-request");
    let statuses: Vec<String> = sut_requests.iter().filter_map(|t| attribute(t, "data-status")).collect();
    assert_eq!(statuses, ["200", "503"], "each SUT request once, with its status");
    assert_eq!(tags_with(&dom, "class=\"sut-scenario\"").len(), 1);

    // Names (and the SUT's reported message) with markup stayed text: the browser built no script or image.
    assert!(!dom.contains("<script"), "no script element in the DOM");
    assert_eq!(
        tags_with(&dom, "class=\"validation\"").len(),
        1,
        "the failed exchange's validation verdict, once: with the failure (the list links to it)"
    );
    let detail_links = tags_with(&dom, "class=\"detail-link\"");
    assert_eq!(detail_links.len(), 1, "the list of every scenario links to the failed exchange's detail");
    let target = attribute(detail_links[0], "href").unwrap_or_default();
    assert!(target.starts_with("#ex-"), "{target}");
    assert_eq!(tags_with(&dom, &format!("id=\"{}\"", &target[1..])).len(), 1, "its target exists: {target}");
    assert!(dom.contains("&lt;script&gt;document.title='body'&lt;/script&gt;"), "a hostile body stays text");
    assert!(!dom.contains("<b>not JSON"), "a finding stays text");
    assert!(!dom.contains("<img"), "no image element in the DOM");
    assert!(dom.contains("&lt;script&gt;document.title='owned'&lt;/script&gt;"));
    assert!(dom.contains("<title>SCR FHIR API conformance evidence"), "the title is intact");
    assert!(dom.contains("&lt;script&gt;alert(2)&lt;/script&gt;"), "what the SUT printed, as text");

    // Links: in-page fragments and the bundle's relative exchange and SUT files only.
    for (i, _) in dom.match_indices("href=\"") {
        let target = &dom[i + 6..];
        assert!(
            target.starts_with('#') || target.starts_with("exchanges/") || target.starts_with("sut/"),
            "unexpected link: {}",
            &target[..target.len().min(100)]
        );
    }
    assert!(!dom.contains(" src=\""), "nothing loads a resource");
}

const BIN: &str = env!("CARGO_BIN_EXE_scr-assure");

const CATALOGUE: &str = r#"
[[requirement]]
id = "SCRA-TST-001"
title = "The SCR id of a patient without an SCR is an empty Bundle"
behaviour = "GET DocumentReference answers 200 with an empty searchset Bundle."
source = "scr-api.md §4.1"

[[requirement]]
id = "SCRA-TST-002"
title = "A <deliberately> failing requirement"
behaviour = "This scenario expects the wrong status, so it fails."
source = "scr-api.md §4.1"
"#;

const FEATURE: &str = r#"Feature: Report "page" <check>
  @SCRA-TST-001
  Scenario: empty
    Given a patient "A" with no SCR
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response is an empty searchset Bundle

  @SCRA-TST-001
  Scenario: empty again, with 'quotes' & a | pipe
    Given a patient "B" with no SCR
    When I request the SCR id for patient "B"
    Then the response status is 200

  @SCRA-TST-002
  Scenario: a <script>document.title='owned'</script> name
    Given a patient "A" with no SCR
    When I request the SCR id for patient "A"
    Then the response status is 404
"#;

/// The bundle directory of the run: the one directory under `reports` holding a `report.html`.
fn bundle_of(reports: &Path) -> PathBuf {
    let entries = std::fs::read_dir(reports).unwrap_or_else(|e| panic!("cannot list {}: {e}", reports.display()));
    let bundles: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| std::fs::symlink_metadata(p).map(|m| m.is_dir()).unwrap_or(false))
        .filter(|p| p.join("report.html").is_file())
        .collect();
    assert_eq!(bundles.len(), 1, "one bundle with a report.html under {}: {bundles:?}", reports.display());
    bundles[0].clone()
}

#[test]
fn chromium_sees_the_counts_of_a_real_run() {
    if !chromium_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("requirements.toml"), CATALOGUE).expect("write catalogue");
    std::fs::write(dir.path().join("report.feature"), FEATURE).expect("write feature");
    let reports = dir.path().join("reports");
    let out = Command::new(BIN)
        .args(["run", "--quiet", "--features"])
        .arg(dir.path())
        .arg("--requirements")
        .arg(dir.path().join("requirements.toml"))
        .arg("--reports")
        .arg(&reports)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "one scenario fails on purpose\nstdout: {stdout}\nstderr: {stderr}");

    let bundle = bundle_of(&reports);
    let profile = tempfile::tempdir().expect("profile dir");
    let dom = dump_dom(&bundle.join("report.html"), profile.path());
    let mains = tags_with(&dom, "id=\"evidence\"");
    assert_eq!(mains.len(), 1, "one <main id=\"evidence\">");
    let main = mains[0];
    let (total, passed, failed) =
        (main_count(main, "data-total"), main_count(main, "data-passed"), main_count(main, "data-failed"));
    assert_eq!((total, passed, failed), (3, 2, 1), "the run's own counts");
    assert_eq!(main_count(main, "data-flaky"), 0);
    assert_eq!(attribute(main, "data-verdict").as_deref(), Some("failed"));

    let verdicts: Vec<String> =
        tags_with(&dom, "class=\"scenario\"").iter().filter_map(|t| attribute(t, "data-verdict")).collect();
    assert_eq!(verdicts.len(), total, "one class=\"scenario\" element with a verdict per scenario");
    assert_eq!(verdicts.iter().filter(|v| *v == "passed").count(), passed);
    assert_eq!(verdicts.iter().filter(|v| *v == "failed").count(), failed);
    assert_eq!(verdicts.first().map(String::as_str), Some("failed"), "the failure leads");

    // The bundle's JUnit says the same.
    let junit = std::fs::read_to_string(bundle.join("junit.xml")).expect("the bundle has a junit.xml");
    assert_eq!(junit.matches("<testcase ").count(), total, "{junit}");
    assert_eq!(junit.matches("<failure").count(), failed, "{junit}");

    let requirements = tags_with(&dom, "class=\"requirement\"");
    let verdict_of = |id: &str| {
        requirements
            .iter()
            .find(|t| attribute(t, "data-id").as_deref() == Some(id))
            .and_then(|t| attribute(t, "data-verdict"))
    };
    assert_eq!(verdict_of("SCRA-TST-001").as_deref(), Some("passed"));
    assert_eq!(verdict_of("SCRA-TST-002").as_deref(), Some("failed"));

    assert!(!dom.contains("<script"), "the scenario name stayed text");
    let mut exchange_links = 0;
    for (i, _) in dom.match_indices("href=\"") {
        let target = dom[i + 6..].split('"').next().unwrap_or_default();
        if target.starts_with('#') {
            continue;
        }
        assert!(target.starts_with("exchanges/"), "unexpected link: {target}");
        assert!(bundle.join(target).is_file(), "the link {target} resolves to a file of the bundle");
        exchange_links += 1;
    }
    assert!(exchange_links >= total, "every scenario links its exchanges ({exchange_links} links)");
}
