//! The harness under bad input, through the real binary: every case gives its documented exit code and a
//! message naming what was wrong and where, and the reports written so far stay readable.
//!
//! - production URLs refused without `--allow-production` (exit 2);
//! - malformed feature files and undefined steps refused before anything runs (exit 2, `file:line`);
//! - bad site files and missing, unreadable or malformed key files (exit 2, the file, key or path);
//! - an unreachable target and a TLS failure (exit 3); a `/_ping` answered 404, a wrong base path (exit 2);
//! - a target that answers `/_ping` and then closes every connection unanswered: exit 1, each such scenario a
//!   JUnit `<error>` (a transport fault), never a `<failure>` (the product's);
//! - SIGTERM (143) and SIGINT (130) mid-run, and a report that cannot be written (2): junit.xml and an evidence
//!   bundle marked incomplete are still written.
//!
//! Everything listens on 127.0.0.1; nothing here touches the internet.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_scr-assure");

const CATALOGUE: &str = r#"
[[requirement]]
id = "SCRA-TST-001"
title = "Test requirement"
behaviour = "The SCR id of a patient without an SCR is an empty Bundle."
source = "scr-api.md §4.1"
"#;

const PASSING: &str = r#"Feature: T
  @SCRA-TST-001
  Scenario: empty
    Given a patient "A" with no SCR
    When I request the SCR id for patient "A"
    Then the response status is 200
"#;

fn suite(feature: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    write(&dir.path().join("requirements.toml"), CATALOGUE);
    write(&dir.path().join("t.feature"), feature);
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn scr_assure(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap_or_else(|e| panic!("the binary runs: {e}"))
}

/// `scr-assure run --features DIR --reports DIR/reports …`
fn run(dir: &Path, extra: &[&str]) -> Output {
    let features = dir.to_str().unwrap_or_else(|| panic!("utf-8 temp path"));
    let reports = format!("{features}/reports");
    let mut args = vec!["run", "-q", "--features", features, "--reports", &reports];
    args.extend(extra);
    scr_assure(&args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the exit code and that stderr holds every part; returns stderr.
fn refused(out: &Output, code: i32, parts: &[&str]) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stdout: {}\nstderr: {err}", text(&out.stdout));
    for part in parts {
        assert!(err.contains(part), "'{part}' missing from stderr:\n{err}");
    }
    err
}

// ── The production guard ────────────────────────────────────────────────────────────────────────────────────

const PRODUCTION: &str = "https://api.service.nhs.uk/summary-care-record/FHIR/R4";

#[test]
fn a_production_base_url_is_refused_saying_which_why_and_how_to_override() {
    let dir = suite(&PASSING.replace("@SCRA-TST-001", "@SCRA-TST-001 @sandbox"));
    for url in [
        PRODUCTION,
        "https://API.Service.NHS.UK./summary-care-record/FHIR/R4",
        "https://api.service.nhs.uk:443/summary-care-record/FHIR/R4",
        "https://int.api.service.nhs.uk@api.service.nhs.uk/summary-care-record/FHIR/R4",
    ] {
        let out = run(dir.path(), &["--target", "sandbox", "--base-url", url]);
        refused(&out, 2, &["--base-url", url, "production NHS API", "consent", "--allow-production"]);
        assert!(!dir.path().join("reports").exists(), "nothing ran, nothing written");
    }
    // With the override the guard steps aside: the mock target's own rule about --base-url speaks instead
    // (a way to see the switch work without sending anything anywhere).
    let out = run(dir.path(), &["--base-url", PRODUCTION, "--allow-production"]);
    let err = refused(&out, 2, &["--base-url is for the sandbox and int targets"]);
    assert!(!err.contains("production NHS API"), "{err}");
    let out = run(dir.path(), &["--base-url", PRODUCTION]);
    refused(&out, 2, &["production NHS API"]);
}

const SITE: &str = r#"ods_code = "A12345"
asid = "200000001162"
session_urid = "555254242102"

[endpoints]
token_url = "https://int.api.service.nhs.uk/oauth2/token"
scr_base_url = "https://int.api.service.nhs.uk/summary-care-record/FHIR/R4"

[app]
api_key_file = "api-key.txt"
kid = "k1"
private_key_file = "private-key.pem"
"#;

/// A site file (and its API key file) in `dir`; returns its path.
fn site(dir: &Path, text: &str) -> String {
    write(&dir.join("api-key.txt"), "# test-only\nnot-a-real-key\n");
    let path = dir.join("site.toml");
    write(&path, text);
    path.to_str().unwrap_or_else(|| panic!("utf-8 temp path")).to_owned()
}

#[test]
fn a_site_on_the_production_host_is_refused_by_run_site_check_and_token_get() {
    let dir = suite(PASSING);
    let prod_token = SITE.replace("https://int.api.service.nhs.uk/oauth2", "https://api.service.nhs.uk/oauth2");
    let path = site(dir.path(), &prod_token);
    let why = ["site.toml [endpoints] token_url", "'https://api.service.nhs.uk/oauth2/token'", "--allow-production"];
    refused(&run(dir.path(), &["--target", "int", "--site", &path]), 2, &why);
    refused(&scr_assure(&["site", "check", "--site", &path]), 2, &why);
    refused(&scr_assure(&["token", "get", "--target", "int", "--site", &path]), 2, &why);
    // Overridden, token get goes on to the site's key (missing here) before it would send anything.
    let out = scr_assure(&["token", "get", "--target", "int", "--site", &path, "--allow-production"]);
    refused(&out, 2, &["private_key_file", "private-key.pem", "No such file or directory"]);

    let prod_base = SITE.replace("https://int.api.service.nhs.uk/summary", "https://api.service.nhs.uk/summary");
    let path = site(dir.path(), &prod_base);
    refused(&run(dir.path(), &["--target", "int", "--site", &path]), 2, &["[endpoints] scr_base_url"]);
    let jwks = SITE.replace("kid = \"k1\"", "kid = \"k1\"\njwks_url = \"https://api.service.nhs.uk/jwks.json\"");
    let path = site(dir.path(), &jwks);
    refused(&scr_assure(&["site", "check", "--site", &path]), 2, &["[app] jwks_url"]);
    let out = scr_assure(&["token", "inspect", "a.b.c", "--jwks", "https://api.service.nhs.uk/jwks.json"]);
    refused(&out, 2, &["--jwks", "production NHS API"]);
}

// ── Features ────────────────────────────────────────────────────────────────────────────────────────────────

#[test]
fn a_malformed_feature_file_is_refused_naming_the_line_and_the_parser_complaint() {
    let table = "    And the request has the headers\n      | name | value |\n      | X-Thing |\n";
    let dir = suite(&format!("{PASSING}{table}"));
    let out = run(dir.path(), &[]);
    refused(&out, 2, &["t.feature:9:", "not valid Gherkin", "different number of cells"]);
    assert!(!dir.path().join("reports").exists(), "nothing half-written in reports/");

    let dir = suite(&PASSING.replace("  Scenario: empty", "  Scenari: empty"));
    refused(&run(dir.path(), &[]), 2, &["t.feature:3:", "unknown keyword", "in `Scenari: empty`"]);
    let dir = suite(&format!("{PASSING}    \"\"\"\n    never closed\n"));
    refused(&run(dir.path(), &[]), 2, &["t.feature:7:", "doc string", "never closed"]);
    assert!(!dir.path().join("reports").exists());
}

#[test]
fn undefined_steps_are_refused_before_running_listing_each_place_and_text() {
    let broken = PASSING.replace("status is 200", "statuss is 200")
        + "\n  @SCRA-TST-001\n  Scenario Outline: rows\n    Given <what> happens\n\n    Examples:\n      | what |\n      | this |\n      | that |\n";
    let dir = suite(&broken);
    let out = run(dir.path(), &[]);
    let err = refused(
        &out,
        2,
        &[
            "no step definition matches",
            "the harness's features are broken, not the product",
            "t.feature:6: Then the response statuss is 200",
            "t.feature:10: Given this happens (Examples row at line 14)",
            "t.feature:10: Given that happens (Examples row at line 15)",
        ],
    );
    assert!(!err.contains("t.feature:4:"), "defined steps are not listed: {err}");
    assert!(!dir.path().join("reports").exists(), "refused before running: nothing written");
}

// ── Site files and keys ─────────────────────────────────────────────────────────────────────────────────────

#[test]
fn a_bad_site_file_is_refused_naming_the_file_the_key_and_the_line() {
    let dir = suite(PASSING);
    let cases: [(String, &[&str]); 4] = [
        (SITE.replace("asid = \"200000001162\"", "asid = \"2000"), &["site.toml", "line 2", "invalid basic string"]),
        (
            SITE.replace("kid = \"k1\"", "kid = \"k1\"\ncolour = \"red\""),
            &["site.toml", "line 12", "unknown field `colour`"],
        ),
        (SITE.replace("session_urid = \"555254242102\"\n", ""), &["site.toml", "missing field `session_urid`"]),
        (SITE.replace("kid = \"k1\"", "kid = 7"), &["site.toml", "line 11", "invalid type: integer `7`"]),
    ];
    for (text, parts) in cases {
        let path = site(dir.path(), &text);
        refused(&run(dir.path(), &["--target", "int", "--site", &path]), 2, parts);
        refused(&scr_assure(&["site", "check", "--site", &path]), 2, parts);
    }
    let missing = dir.path().join("no-such-site.toml");
    let out = scr_assure(&["site", "check", "--site", &missing.to_string_lossy()]);
    refused(&out, 2, &["no-such-site.toml", "No such file or directory"]);
}

#[test]
fn a_missing_unreadable_or_malformed_key_file_is_refused_naming_the_path_and_never_printing_the_key() {
    let dir = suite(PASSING);
    let path = site(dir.path(), SITE);
    let key = dir.path().join("private-key.pem");
    let run_int = || run(dir.path(), &["--target", "int", "--site", &path]);
    refused(&run_int(), 2, &["site.toml", "private_key_file", "private-key.pem", "No such file or directory"]);
    std::fs::create_dir(&key).unwrap_or_else(|e| panic!("{e}"));
    refused(&run_int(), 2, &["private_key_file", "private-key.pem", "Is a directory"]);
    std::fs::remove_dir(&key).unwrap_or_else(|e| panic!("{e}"));
    let material = "-----BEGIN PRIVATE KEY-----\nS3CR3TK3YM4T3R14L\n-----END PRIVATE KEY-----\n";
    write(&key, material);
    let err = refused(&run_int(), 2, &["private-key.pem", "is not an RSA key in PEM form"]);
    assert!(!err.contains("S3CR3TK3YM4T3R14L"), "key material printed: {err}");

    let key_arg = key.to_string_lossy().into_owned();
    let token =
        |key: &str| scr_assure(&["token", "assertion", "--token-url", "http://127.0.0.1:9/oauth2/token", "--key", key]);
    let out = token(&key_arg);
    let err = refused(&out, 2, &["private-key.pem", "is not an RSA key in PEM form"]);
    assert!(!err.contains("S3CR3TK3YM4T3R14L") && !text(&out.stdout).contains("S3CR3TK3YM4T3R14L"));
    let missing = dir.path().join("gone.pem").to_string_lossy().into_owned();
    let err = refused(&token(&missing), 2, &["gone.pem", "No such file or directory (os error 2)"]);
    assert_eq!(err.matches("No such file or directory").count(), 1, "said once: {err}");
}

// ── Targets ─────────────────────────────────────────────────────────────────────────────────────────────────

#[test]
fn an_unreachable_target_exits_3_naming_the_url_and_the_cause() {
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap_or_else(|e| panic!("{e}")).port();
    let dir = suite(&PASSING.replace("@SCRA-TST-001", "@SCRA-TST-001 @sandbox"));
    let url = format!("http://127.0.0.1:{port}/summary-care-record/FHIR/R4");
    let out = run(dir.path(), &["--target", "sandbox", "--base-url", &url]);
    refused(&out, 3, &["could not be reached", &format!("{url}/_ping"), "Connection refused"]);
}

#[test]
fn a_ping_answered_404_is_a_wrong_base_url_not_product_failures() {
    // A server that answers every request 404, like a real host under a wrong base path.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().unwrap_or_else(|e| panic!("{e}")).port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let dir = suite(&PASSING.replace("@SCRA-TST-001", "@SCRA-TST-001 @sandbox"));
    let url = format!("http://127.0.0.1:{port}/wrong/FHIR/R4");
    let out = run(dir.path(), &["--target", "sandbox", "--base-url", &url]);
    refused(&out, 2, &[&format!("{url}/_ping answered 404"), "base URL's path is probably wrong"]);
    assert!(!dir.path().join("reports/junit.xml").exists(), "no scenario ran");
}

#[test]
fn a_tls_failure_exits_3_and_says_it_was_tls() {
    // A plain HTTP server where the harness expects HTTPS: it answers the ClientHello with HTTP.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().unwrap_or_else(|e| panic!("{e}")).port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let dir = suite(&PASSING.replace("@SCRA-TST-001", "@SCRA-TST-001 @sandbox"));
    let url = format!("https://127.0.0.1:{port}/summary-care-record/FHIR/R4");
    let out = run(dir.path(), &["--target", "sandbox", "--base-url", &url, "--timeout", "10"]);
    refused(&out, 3, &["TLS handshake with the target failed", &format!("{url}/_ping")]);
}

/// Reads a request's head from `stream` (up to the blank line, or the peer closing) and returns its request line.
fn read_request_line(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_owned()
}

/// A target that answers `GET …/_ping` with 200 and closes every other connection once it has read the
/// request head, without a byte of answer.
fn answerless_target() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().unwrap_or_else(|e| panic!("{e}")).port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let request_line = read_request_line(&mut stream);
            if request_line.starts_with("GET ") && request_line.contains("/_ping") {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
            // Anything else: dropped here, closed without an answer.
        }
    });
    port
}

/// The value of attribute `name` on the first `<element` start tag of `xml`.
fn first_attribute(xml: &str, element: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{element} "))?;
    let tag = &xml[start..start + xml[start..].find('>')?];
    let key = format!(" {name}=\"");
    let value = &tag[tag.find(&key)? + key.len()..];
    Some(value[..value.find('"')?].to_owned())
}

const ONE_SANDBOX_REQUEST: &str = r#"Feature: T
  @SCRA-TST-001 @sandbox
  Scenario: hangs
    Given the sandbox patient "A" is "9000000009"
    When I request the SCR id for patient "A"
    Then the response status is 200
"#;

#[test]
fn a_target_that_never_answers_is_a_junit_error_not_a_failure() {
    let port = answerless_target();
    let dir = suite(ONE_SANDBOX_REQUEST);
    let url = format!("http://127.0.0.1:{port}/summary-care-record/FHIR/R4");
    let out = run(dir.path(), &["--target", "sandbox", "--base-url", &url, "--tags", "@sandbox"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "stdout: {stdout}\nstderr: {}", text(&out.stderr));
    let junit = read(&dir.path().join("reports/junit.xml"));
    let errors: usize = first_attribute(&junit, "testsuite", "errors")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no errors count on the testsuite: {junit}"));
    assert!(errors >= 1, "errors=\"{errors}\": {junit}");
    assert_eq!(first_attribute(&junit, "testsuite", "failures").as_deref(), Some("0"), "{junit}");
    let case_start = junit.find("<testcase ").unwrap_or_else(|| panic!("no testcase: {junit}"));
    let case = &junit[case_start..case_start + junit[case_start..].find("</testcase>").unwrap_or(0)];
    assert!(case.contains("name=\"hangs\""), "the scenario: {case}");
    assert!(case.contains("<error"), "a transport fault is an <error>: {case}");
    assert!(case.contains("transport fault"), "with the transport text: {case}");
    assert!(case.contains("/DocumentReference"), "naming the request that got no answer: {case}");
    assert!(!junit.contains("<failure"), "never a <failure>: {junit}");
}

// ── Interrupted runs ────────────────────────────────────────────────────────────────────────────────────────

/// A target that answers `/_ping` and never answers anything else; says when the first other request arrives.
fn silent_target() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().unwrap_or_else(|e| panic!("{e}")).port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let request_line = read_request_line(&mut stream);
            if request_line.contains("/_ping") {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            } else {
                let _ = tx.send(request_line);
                held.push(stream);
            }
        }
    });
    (port, rx)
}

const TWO_SANDBOX: &str = r#"Feature: T
  @SCRA-TST-001 @sandbox
  Scenario: finishes
    Given the sandbox patient "A" is "9000000009"

  @SCRA-TST-001 @sandbox
  Scenario: hangs
    Given the sandbox patient "A" is "9000000009"
    When I request the SCR id for patient "A"
    Then the response status is 200
"#;

/// Counts the testcases of a JUnit file with quick-xml (not our writer), and the testsuites' `tests`.
fn junit_counts(xml: &str) -> (usize, String) {
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut cases, mut tests) = (0, String::new());
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => match e.name().as_ref() {
                b"testcase" => cases += 1,
                b"testsuites" => {
                    for a in e.attributes().flatten() {
                        if a.key.as_ref() == b"tests" {
                            tests = String::from_utf8_lossy(&a.value).into_owned();
                        }
                    }
                }
                _ => {}
            },
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("junit.xml is not well-formed XML: {e}\n{xml}"),
        }
    }
    (cases, tests)
}

fn manifest(reports: &Path) -> serde_json::Value {
    serde_json::from_str(&read(&reports.join("latest/manifest.json")))
        .unwrap_or_else(|e| panic!("manifest.json is JSON: {e}"))
}

fn interrupt_mid_run(signal: &str, code: i32, reason: &str) {
    let (port, first_request) = silent_target();
    let dir = suite(TWO_SANDBOX);
    let reports = dir.path().join("reports");
    let url = format!("http://127.0.0.1:{port}/summary-care-record/FHIR/R4");
    let child = Command::new(BIN)
        .args(["run", "-q", "--concurrency", "1", "--target", "sandbox", "--base-url", &url, "--features"])
        .arg(dir.path())
        .arg("--reports")
        .arg(&reports)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("the run starts: {e}"));
    // The second scenario's request reaching the target means the first scenario has finished.
    let line = first_request.recv_timeout(Duration::from_secs(120));
    let line = line.unwrap_or_else(|e| panic!("no scenario request reached the target: {e}"));
    assert!(line.contains("/DocumentReference"), "{line}");
    let killed = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -{signal}");
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("the run exits: {e}"));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(code), "stdout: {stdout}\nstderr: {}", text(&out.stderr));
    assert!(stdout.contains(reason) && stdout.contains("marked incomplete"), "{stdout}");

    // The scenario that finished, and the one the signal caught, skipped with the reason.
    let junit = read(&reports.join("junit.xml"));
    let (cases, tests) = junit_counts(&junit);
    assert_eq!((cases, tests.as_str()), (2, "2"), "junit.xml holds the scenario that finished and the one cut short");
    assert_eq!(junit.matches("<skipped ").count(), 1, "{junit}");
    assert!(junit.contains(&format!("message=\"not finished: {reason}\"")), "{junit}");
    assert!(!reports.join("cucumber.json").exists(), "no half-written cucumber.json");
    let m = manifest(&reports);
    assert_eq!(m["complete"], false, "{m}");
    assert_eq!(m["incomplete_reason"], reason, "{m}");
    assert_eq!(m["counts"]["total"], 1, "{m}");
    assert_eq!(m["scenarios"][0]["name"], "finishes", "{m}");
    let run_id = m["run_id"].as_str().unwrap_or_default();
    assert!(reports.join(run_id).join("manifest.json").is_file(), "latest points at this run's bundle {run_id}");
    let (bundle_cases, _) = junit_counts(&read(&reports.join("latest/junit.xml")));
    assert_eq!(bundle_cases, 2);
    assert_eq!(m["counts"]["not_run"], 1, "{m}");
    let html = read(&reports.join("latest/report.html"));
    assert!(html.contains("INTERRUPTED") && html.contains(&format!("Incomplete evidence: {reason}")), "{html}");
    let leftovers: Vec<_> = std::fs::read_dir(&reports)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(leftovers.iter().all(|n| !n.starts_with(".tmp")), "no temporary files left: {leftovers:?}");
}

#[test]
fn sigterm_mid_run_exits_143_and_leaves_readable_reports_marked_incomplete() {
    interrupt_mid_run("TERM", 143, "interrupted by SIGTERM");
}

#[test]
fn ctrl_c_mid_run_exits_130_and_leaves_readable_reports_marked_incomplete() {
    interrupt_mid_run("INT", 130, "interrupted by Ctrl-C (SIGINT)");
}

#[test]
fn an_unwritable_reports_directory_is_refused_before_anything_runs() {
    let dir = suite(PASSING);
    let blocker = dir.path().join("not-a-dir");
    write(&blocker, "a file where the reports directory should be");
    let reports = blocker.join("reports");
    let features = dir.path().to_string_lossy().into_owned();
    let out = scr_assure(&["run", "-q", "--features", &features, "--reports", &reports.to_string_lossy()]);
    refused(&out, 2, &["cannot write", "not-a-dir/reports", "Not a directory"]);
    assert!(!text(&out.stdout).contains("scenarios:"), "no scenario ran: {}", text(&out.stdout));
}

#[test]
fn a_report_that_cannot_be_written_costs_no_other_and_marks_the_bundle_incomplete() {
    let dir = suite(PASSING);
    let reports = dir.path().join("reports");
    std::fs::create_dir_all(reports.join("junit.xml")).unwrap_or_else(|e| panic!("{e}"));
    let out = run(dir.path(), &[]);
    refused(&out, 2, &["cannot write", "junit.xml"]);
    assert!(reports.join("cucumber.json").is_file(), "the other reports are written");
    let m = manifest(&reports);
    assert_eq!(m["complete"], false, "{m}");
    let reason = m["incomplete_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("junit.xml") && reason.contains("Is a directory"), "{reason}");
    assert_eq!(m["counts"]["passed"], 1, "the scenario's own result stands");
    assert_eq!(m["verdict"], "failed", "incomplete evidence never passes");
    let (cases, _) = junit_counts(&read(&reports.join("latest/junit.xml")));
    assert_eq!(cases, 1, "the bundle has its own junit.xml");
    assert!(read(&reports.join("latest/report.html")).contains("Incomplete evidence: reports could not be written"));
}
