//! The `scr-assure` binary: exit codes, refusal to start on feature problems, the requirement matrix and
//! the standalone mock — each through a real process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_scr-assure");

const CATALOGUE: &str = r#"
[[requirement]]
id = "SCRA-TST-001"
title = "Test requirement"
behaviour = "The SCR id of a patient without an SCR is an empty Bundle."
source = "scr-api.md §4.1"
"#;

fn suite(feature: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("requirements.toml"), CATALOGUE).expect("write catalogue");
    std::fs::write(dir.path().join("t.feature"), feature).expect("write feature");
    dir
}

fn run(features: &Path, extra: &[&str]) -> Output {
    let reports = features.join("reports");
    Command::new(BIN)
        .args(["run", "--features"])
        .arg(features)
        .arg("--reports")
        .arg(&reports)
        .args(extra)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const PASSING: &str = r#"Feature: T
  @SCRA-TST-001
  Scenario: empty
    Given a patient "A" with no SCR
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response is an empty searchset Bundle
"#;

#[test]
fn a_passing_suite_exits_0_and_writes_reports() {
    let dir = suite(PASSING);
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("1 scenarios: 1 passed, 0 failed"));
    assert!(dir.path().join("reports/junit.xml").is_file());
    assert!(dir.path().join("reports/cucumber.json").is_file());
}

#[test]
fn a_failing_scenario_exits_1_and_the_junit_says_why() {
    let dir = suite(&PASSING.replace("status is 200", "status is 404"));
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    let junit = std::fs::read_to_string(dir.path().join("reports/junit.xml")).expect("junit written");
    assert!(junit.contains("failures=\"1\""), "{junit}");
    assert!(junit.contains("expected HTTP 404, got 200"), "{junit}");
}

#[test]
fn an_untagged_scenario_refuses_the_run_with_its_place() {
    let dir = suite(&PASSING.replace("  @SCRA-TST-001\n", ""));
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("t.feature:2:") && err.contains("no requirement tag"), "{err}");
    assert!(!dir.path().join("reports/junit.xml").exists(), "nothing ran");
}

#[test]
fn an_unknown_requirement_id_refuses_the_run_with_its_place() {
    let dir = suite(&PASSING.replace("@SCRA-TST-001", "@SCRA-TST-001 @SCRA-TST-999"));
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("t.feature:3:") && err.contains("@SCRA-TST-999"), "{err}");
}

#[test]
fn a_malformed_catalogue_or_tag_expression_is_a_usage_error() {
    let dir = suite(PASSING);
    let out = run(dir.path(), &["--tags", "@a and ("]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid --tags expression"));
    std::fs::write(dir.path().join("requirements.toml"), "[[requirement]]\nid = 5\n").expect("write");
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("requirements.toml"), "{}", text(&out.stderr));
}

#[test]
fn an_unreachable_target_exits_3() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let dir = suite(&PASSING.replace("@SCRA-TST-001", "@SCRA-TST-001 @sandbox"));
    let url = format!("http://127.0.0.1:{port}/summary-care-record/FHIR/R4");
    let out = run(dir.path(), &["--target", "sandbox", "--base-url", &url]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("could not be reached"));
}

#[test]
fn the_requirements_command_prints_the_matrix() {
    let out = Command::new(BIN).arg("requirements").output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("[SCAL MSCA-SCR-103]") && stdout.contains("[SCAL MSCA-SCR-104]"), "{stdout}");
    assert!(stdout.contains("features/alerts/"), "{stdout}");
    let dir = suite(&PASSING.replace("@SCRA-TST-001", "@SCRA-TST-002"));
    let out = Command::new(BIN).args(["requirements", "--features"]).arg(dir.path()).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("proved by no scenario"));
}

#[test]
fn the_standalone_mock_prints_its_url_serves_and_stops_on_ctrl_c() {
    let mut child = Command::new(BIN)
        .args(["mock", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mock starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("prints its URL");
    let base = line.trim().to_owned();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/summary-care-record/FHIR/R4"), "{base}");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let status = rt
        .block_on(async { reqwest::get(format!("{base}/_ping")).await.map(|r| r.status().as_u16()) })
        .expect("ping answers");
    assert_eq!(status, 200);
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs");
    assert!(killed.success());
    assert_eq!(child.wait().expect("mock exits").code(), Some(0), "Ctrl-C stops the mock cleanly");
}

#[test]
fn sigterm_stops_the_standalone_mock_cleanly() {
    let mut child = Command::new(BIN)
        .args(["mock", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mock starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("prints its URL");
    assert!(line.starts_with("http://127.0.0.1:"), "{line}");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(killed.success());
    assert_eq!(child.wait().expect("mock exits").code(), Some(0), "SIGTERM stops the mock cleanly");
}

#[test]
fn a_retried_scenario_appears_once_with_its_earlier_failure_recorded() {
    let flaky = r#"Feature: T
  @SCRA-TST-001
  Scenario: flaky
    Given this scenario fails on its first attempt
    And a patient "A" with no SCR
    When I request the SCR id for patient "A"
    Then the response status is 200

  @SCRA-TST-001
  Scenario: steady
    Given a patient "A" with no SCR
    When I request the SCR id for patient "A"
    Then the response status is 200
"#;
    // Without retries the first attempt's failure stands.
    let dir = suite(flaky);
    let out = run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    // cucumber.json lists the steps after the failing one as skipped.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("reports/cucumber.json")).expect("json"))
            .expect("cucumber.json is JSON");
    let flaky_steps: Vec<String> = json[0]["elements"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == "scenario" && e["name"] == "flaky")
        .flat_map(|e| e["steps"].as_array().cloned().unwrap_or_default())
        .map(|s| s["result"]["status"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(flaky_steps, ["failed", "skipped", "skipped", "skipped"], "{json}");
    assert!(json[0]["uri"].as_str().is_some_and(|u| u.starts_with('/')), "absolute uri: {json}");
    // With one retry the scenario passes, appears once, and keeps its earlier failure as a flakyFailure.
    let dir = suite(flaky);
    let out = run(dir.path(), &["--retry", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let junit = std::fs::read_to_string(dir.path().join("reports/junit.xml")).expect("junit");
    assert!(junit.contains("tests=\"2\"") && junit.contains("failures=\"0\""), "{junit}");
    assert_eq!(junit.matches("<testcase ").count(), 2, "{junit}");
    assert_eq!(junit.matches("<flakyFailure").count(), 1, "{junit}");
    assert!(junit.contains("failing on purpose: this is the scenario&apos;s first attempt"), "{junit}");
    assert!(junit.contains("<property name=\"attempts\" value=\"2\"/>"), "{junit}");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("reports/latest/manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["counts"]["flaky"], 1);
    assert_eq!(manifest["counts"]["total"], 2);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("(1 flaky: passed on a retry)"), "the console counts the flaky one");
    // Each attempt is labelled on its line.
    assert!(stdout.contains("flaky  (attempt 1/2, retrying)") && stdout.contains("flaky  (attempt 2/2)"), "{stdout}");
    assert!(stdout.contains("steady  (attempt 1/2)"), "{stdout}");
}

#[test]
fn rerun_failed_runs_only_the_scenarios_that_failed_last_time() {
    let two = r#"Feature: T
  @SCRA-TST-001
  Scenario: fails
    Given a patient "A" with no SCR
    When I request the SCR id for patient "A"
    Then the response status is 404

  @SCRA-TST-001
  Scenario: passes
    Given a patient "A" with no SCR
    When I request the SCR id for patient "A"
    Then the response status is 200
"#;
    let dir = suite(two);
    assert_eq!(run(dir.path(), &[]).status.code(), Some(1));
    let out = run(dir.path(), &["--rerun-failed"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 scenarios: 0 passed, 1 failed"), "{stdout}");
    assert!(stdout.contains("t.feature:3") && !stdout.contains("t.feature:9"), "{stdout}");
}

#[test]
fn repro_writes_one_archive_with_the_feature_exchanges_and_correlation_ids() {
    let dir = suite(PASSING);
    assert_eq!(run(dir.path(), &[]).status.code(), Some(0));
    let archive = dir.path().join("repro.zip");
    let out = Command::new(BIN)
        .args(["repro", "empty", "--reports"])
        .arg(dir.path().join("reports"))
        .arg("--output")
        .arg(&archive)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&archive).expect("archive written")).expect("a zip");
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    assert!(names.contains(&"README.txt".to_owned()) && names.contains(&"scenario.feature".to_owned()), "{names:?}");
    assert_eq!(names.iter().filter(|n| n.starts_with("exchanges/")).count(), 1, "{names:?}");
    let mut readme = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("README.txt").expect("readme"), &mut readme).expect("text");
    assert!(readme.contains("Scenario: empty") && readme.contains("X-Correlation-ID "), "{readme}");
    let out = Command::new(BIN)
        .args(["repro", "no such scenario", "--reports"])
        .arg(dir.path().join("reports"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_scal_map_groups_the_traceability_and_lists_uncovered_rows() {
    let dir = suite(PASSING);
    let map = dir.path().join("scal.csv");
    std::fs::write(
        &map,
        "row,title,requirements\nSCAL-1,Reads the SCR id,SCRA-TST-001\nSCAL-2,Something not covered,\n",
    )
    .expect("write");
    let out = run(dir.path(), &["--scal-map", map.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(dir.path().join("reports/latest/traceability.csv")).expect("traceability");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("scal_row,scal_title,scal_verdict,requirement"), "{csv}");
    assert!(lines.iter().any(|l| l.starts_with("SCAL-1,Reads the SCR id,passed,SCRA-TST-001")), "{csv}");
    assert!(lines.iter().any(|l| l.starts_with("SCAL-2,Something not covered,unproved,")), "{csv}");
    let html = std::fs::read_to_string(dir.path().join("reports/latest/report.html")).expect("report");
    assert!(html.contains("SCAL-2") && html.contains("Something not covered"), "the uncovered row is listed");

    std::fs::write(&map, "row,title,requirements\nSCAL-1,Bad,SCRA-NOPE-001\n").expect("write");
    let out = run(dir.path(), &["--scal-map", map.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("scal.csv:2") && err.contains("SCRA-NOPE-001"), "{err}");
}

#[test]
fn fail_fast_stops_at_the_first_failure() {
    let failing = |name: &str| {
        format!(
            "  @SCRA-TST-001\n  Scenario: {name}\n    Given a patient \"A\" with no SCR\n    When I request the SCR id for patient \"A\"\n    Then the response status is 404\n\n"
        )
    };
    let feature = format!("Feature: T\n{}{}{}", failing("one"), failing("two"), failing("three"));
    let dir = suite(&feature);
    let out = run(dir.path(), &["--fail-fast", "--concurrency", "1", "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 scenarios: 0 passed, 1 failed"), "{stdout}");
    // The failures recap, with --quiet too: where, which step, why.
    assert!(stdout.contains("Failures (1):") && stdout.contains("Then the response status is 404"), "{stdout}");
    assert!(stdout.contains("expected HTTP 404"), "{stdout}");
    // The scenarios fail-fast never reached leave the evidence incomplete, saying how many.
    let manifest = std::fs::read_to_string(dir.path().join("reports/latest/manifest.json")).expect("manifest");
    let manifest: serde_json::Value = serde_json::from_str(&manifest).expect("manifest is JSON");
    assert_eq!(manifest["complete"], serde_json::json!(false), "{manifest}");
    let why = manifest["incomplete_reason"].as_str().unwrap_or_default();
    assert!(why.contains("--fail-fast") && why.contains("2 of 3 selected scenarios were not run"), "{why}");
    // … and appear as not run: skipped in JUnit, cucumber.json and the manifest, with the reason.
    assert!(stdout.contains("; 2 not run"), "{stdout}");
    assert_eq!(manifest["counts"]["not_run_by_reason"]["not-reached"], 2, "{manifest}");
    let reason = manifest["not_run"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("not reached: ") && reason.contains("--fail-fast"), "{reason}");
    let junit = std::fs::read_to_string(dir.path().join("reports/junit.xml")).expect("junit");
    assert!(junit.contains(r#"tests="3""#) && junit.contains(r#"skipped="2""#), "{junit}");
    assert_eq!(junit.matches("<skipped ").count(), 2, "{junit}");
    assert!(junit.contains(r#"file="t.feature""#) || junit.contains("t.feature\" line="), "{junit}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("reports/cucumber.json")).expect("json"))
            .expect("cucumber.json is JSON");
    let elements = json[0]["elements"].as_array().cloned().unwrap_or_default();
    assert_eq!(elements.iter().filter(|e| e["type"] == "scenario").count(), 3, "{json}");
    let out = run(dir.path(), &["--concurrency", "1"]);
    assert!(text(&out.stdout).contains("3 scenarios: 0 passed, 3 failed"));
}

#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    // `scr-assure requirements | head -0`: the reader is gone before anything is printed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_scr-assure"))
        .args(["requirements"])
        .stdout(Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("it ends");
    let err = text(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}
