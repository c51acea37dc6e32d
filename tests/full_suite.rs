//! The whole suite against the embedded mock, through the library: every scenario passes, and the JUnit
//! and Cucumber JSON reports count exactly the scenarios the run selected.

use std::collections::BTreeSet;
use std::path::PathBuf;

use quick_xml::events::Event;
use quick_xml::Reader;
use scr_assure::mock::audit;
use scr_assure::mock::operation::Operation;
use scr_assure::requirements::is_requirement_tag;
use scr_assure::runner::recorder::Status;
use scr_assure::runner::{self, RunOptions};

/// What a JUnit reader other than ours sees: (testcase location property, requirements property, failed?).
fn read_junit(xml: &str) -> (usize, usize, Vec<(String, String, bool)>) {
    let mut reader = Reader::from_str(xml);
    let (mut tests_attr, mut failures_attr) = (0, 0);
    let mut cases = Vec::new();
    let mut current: Option<(String, String, bool)> = None;
    loop {
        match reader.read_event().expect("junit.xml is well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |name: &[u8]| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == name)
                        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                };
                match e.name().as_ref() {
                    b"testsuites" => {
                        tests_attr = attr(b"tests").and_then(|v| v.parse().ok()).expect("tests attribute");
                        failures_attr = attr(b"failures").and_then(|v| v.parse().ok()).expect("failures attribute");
                    }
                    b"testcase" => {
                        assert!(attr(b"classname").is_some(), "every testcase has a classname");
                        current = Some((String::new(), String::new(), false));
                    }
                    b"property" => {
                        if let Some(case) = current.as_mut() {
                            match attr(b"name").as_deref() {
                                Some("location") => case.0 = attr(b"value").unwrap_or_default(),
                                Some("requirements") => case.1 = attr(b"value").unwrap_or_default(),
                                _ => {}
                            }
                        }
                    }
                    b"failure" => {
                        if let Some(case) = current.as_mut() {
                            case.2 = true;
                        }
                    }
                    _ => {}
                }
            }
            Event::End(e) if e.name().as_ref() == b"testcase" => cases.extend(current.take()),
            Event::Eof => break,
            _ => {}
        }
    }
    (tests_attr, failures_attr, cases)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_suite_passes_and_the_reports_count_right() {
    let reports = tempfile::tempdir().expect("temp dir");
    let mut opts = RunOptions::new(PathBuf::from("features"), reports.path().to_owned());
    opts.quiet = true;
    let selected = runner::selected_scenarios(&opts).expect("features parse");
    assert!(selected.len() > 200, "the suite has its scenarios: {}", selected.len());

    let outcome = runner::run(opts).await.expect("the run starts");
    let failures: Vec<String> = outcome
        .records
        .iter()
        .filter(|r| r.status != Status::Passed)
        .map(|r| format!("{}:{} {} — {:?}", r.file.display(), r.line, r.name, r.failure))
        .collect();
    assert!(failures.is_empty(), "failing scenarios:\n{}", failures.join("\n"));
    assert_eq!(outcome.exit_code(), 0);
    assert_eq!(outcome.records.len(), selected.len(), "one record per selected scenario");

    let xml = std::fs::read_to_string(reports.path().join("junit.xml")).expect("junit.xml written");
    let (tests, failed, cases) = read_junit(&xml);
    assert_eq!(tests, selected.len(), "testsuites/@tests counts every scenario and Examples row");
    assert_eq!(failed, 0);
    assert_eq!(cases.len(), selected.len(), "one testcase per scenario");
    let expected: BTreeSet<String> = selected.iter().map(|s| format!("{}:{}", s.file.display(), s.line)).collect();
    let got: BTreeSet<String> = cases.iter().map(|c| c.0.clone()).collect();
    assert_eq!(got, expected, "testcases are exactly the selected scenarios");
    for (location, requirements, _) in &cases {
        let scenario = selected.iter().find(|s| format!("{}:{}", s.file.display(), s.line) == *location);
        let tags: Vec<&str> = scenario.map(|s| s.requirement_ids()).unwrap_or_default();
        assert!(!requirements.is_empty() && requirements.split(',').all(is_requirement_tag), "{location}");
        assert_eq!(requirements.split(',').collect::<Vec<_>>(), tags, "{location} carries its requirement ids");
    }

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.path().join("cucumber.json")).expect("cucumber.json written"))
            .expect("cucumber.json is JSON");
    let scenarios_in_json: usize = json
        .as_array()
        .expect("an array of features")
        .iter()
        .map(|f| f["elements"].as_array().map_or(0, |e| e.iter().filter(|el| el["type"] == "scenario").count()))
        .sum();
    assert_eq!(scenarios_in_json, selected.len(), "cucumber.json has one element per scenario");

    // The bundle holds each embedded mock's audit trail, listed with its sha256, and each chain verifies.
    let bundle = reports.path().join("latest");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).expect("manifest.json written"))
            .expect("manifest.json is JSON");
    assert_eq!(manifest["audit"]["recorded"], serde_json::json!(true));
    for (i, lane) in ["main", "open-access", "sandbox"].into_iter().enumerate() {
        let rel = format!("audit/{lane}.jsonl");
        let bytes = std::fs::read(bundle.join(&rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let sha = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&bytes));
        assert_eq!(manifest["files"][&rel].as_str(), Some(sha.as_str()), "{rel} is listed with its sha256");
        let entries = audit::from_json_lines(&String::from_utf8_lossy(&bytes)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(!entries.is_empty(), "{rel} is not empty");
        assert_eq!(audit::verify(&entries), Ok(()), "{rel} verifies");
        let verdict = &manifest["audit"]["lanes"][i];
        assert_eq!((verdict["lane"].as_str(), verdict["valid"].as_bool()), (Some(lane), Some(true)), "{verdict}");
        assert_eq!(verdict["entries"].as_u64(), Some(entries.len() as u64));
        if lane == "main" {
            assert!(entries.iter().any(|e| e.operation == Operation::Token), "the run's token grants are audited");
            assert!(entries.iter().any(|e| e.status == 401 && e.who == audit::UNVERIFIED), "gateway refusals too");
        }
    }
    assert!(manifest["files"]["audit/verification.json"].is_string());
    // The evidence says what it proves: a mock run proves the harness, and the reference client proves the grader.
    let scope = manifest["scope"].as_str().unwrap_or_default();
    assert!(scope.contains("embedded mock") && scope.contains("prove the grader"), "{scope}");
    let junit_text = std::fs::read_to_string(bundle.join("junit.xml")).expect("the bundle's junit.xml");
    assert!(junit_text.contains("name=\"scope\""), "JUnit carries the scope property");
    assert!(junit_text.contains("<property name=\"filtered\" value=\"no\"/>"), "the whole suite is not filtered");
    let cases: Vec<&str> = junit_text.split("<testcase ").skip(1).map(|c| c.split('>').next().unwrap_or("")).collect();
    assert!(!cases.is_empty() && cases.iter().all(|c| c.contains(" timestamp=\"")), "every testcase has its timestamp");
    assert!(
        cases.iter().all(|c| c.contains(" file=\"features/") && c.contains(" line=\"")),
        "file and line per testcase"
    );
    assert!(
        junit_text.contains(" hostname=\"") && junit_text.contains("<testsuites skipped=\"0\""),
        "host, nothing skipped"
    );
    assert_eq!(manifest["counts"]["not_run"], 0, "the whole suite ran");
    let html = std::fs::read_to_string(bundle.join("report.html")).unwrap_or_default();
    assert!(html.contains("data-not-run=\"0\"") && html.contains("id=\"citations\""));
    assert!(html.matches("<div class=\"validation\" data-conformant=\"true\">").count() > 100, "verdicts per exchange");
    assert_eq!(manifest["filtered"], serde_json::Value::Null);
    assert_eq!(manifest["features_shipped"], serde_json::json!(true), "the suite as shipped in this build");
    // Evidence is dated by the wall clock: no exchange or audit entry after the run ended, even though the
    // scenarios moved the virtual clock forward (`When <n> seconds pass`).
    let finished = manifest["finished_at"].as_str().unwrap_or_default().to_owned();
    assert!(!finished.is_empty(), "the manifest says when the run finished");
    for entry in std::fs::read_dir(bundle.join("exchanges")).expect("exchanges/").flatten() {
        let x: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.path()).unwrap_or_default()).unwrap_or_default();
        let wall = x["exchange"]["wall_at"].as_str().unwrap_or_default();
        assert!(
            !wall.is_empty() && wall <= finished.as_str(),
            "{}: sent {wall}, run finished {finished}",
            entry.path().display()
        );
    }
    let main_trail = std::fs::read_to_string(bundle.join("audit/main.jsonl")).unwrap_or_default();
    for e in audit::from_json_lines(&main_trail).unwrap_or_default() {
        let wall = e.wall.unwrap_or_default();
        assert!(!wall.is_empty() && wall <= finished, "audit entry {} at {wall}, run finished {finished}", e.seq);
    }
    let inputs = manifest["settings"]["inputs"].as_object().map(|m| m.len()).unwrap_or_default();
    assert!(inputs > 20, "every feature file and the catalogue hashed: {inputs}");
    assert!(std::fs::read_to_string(bundle.join("report.html")).unwrap_or_default().contains("id=\"scope\""));
    // The client scenarios graded the bundled reference client on the client lane, and say so.
    assert_eq!(manifest["sut"]["reference_client"], serde_json::json!(true), "{}", manifest["sut"]);
    let client_scenarios = selected.iter().filter(|s| s.tags.iter().any(|t| t == "client")).count();
    assert!(client_scenarios >= 30, "the client scenarios are part of the default run: {client_scenarios}");
    let sut_files = std::fs::read_dir(bundle.join("sut")).map(|d| d.count()).unwrap_or_default();
    assert_eq!(sut_files, client_scenarios, "one sut/ file per client scenario");
    assert_eq!(manifest["audit"]["lanes"][3]["lane"].as_str(), Some("client"));

    // Nothing lost: every SCR request of the run (with a well-formed X-Request-ID) is in a trail with the
    // status its exchange recorded.
    let mut audited: std::collections::HashMap<String, Vec<u16>> = std::collections::HashMap::new();
    // The client lane too: the harness arranges the client scenarios' patients there.
    for lane in ["main", "open-access", "sandbox", "client"] {
        let text = std::fs::read_to_string(bundle.join(format!("audit/{lane}.jsonl"))).unwrap_or_default();
        for e in audit::from_json_lines(&text).unwrap_or_default() {
            if let Some(id) = e.request_id {
                audited.entry(id.to_lowercase()).or_default().push(e.status);
            }
        }
    }
    let mut checked = 0;
    for file in std::fs::read_dir(bundle.join("exchanges")).expect("exchanges/").flatten() {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file.path()).unwrap_or_default()).expect("an exchange is JSON");
        let (request, status) = (&doc["exchange"]["request"], doc["exchange"]["response"]["status"].as_u64());
        let url = request["url"].as_str().unwrap_or_default();
        let Some((_, below)) = url.split_once("/summary-care-record/FHIR/R4") else { continue };
        let path =
            percent_encoding::percent_decode_str(below.split('?').next().unwrap_or_default()).decode_utf8_lossy();
        let method = axum::http::Method::from_bytes(request["method"].as_str().unwrap_or_default().as_bytes());
        let Some(_) = method.ok().and_then(|m| Operation::recognise(&m, &path)) else { continue };
        let Some(id) = doc["x_request_id"].as_str().filter(|id| id.len() == 36 && uuid::Uuid::try_parse(id).is_ok())
        else {
            continue;
        };
        let statuses = audited.get(&id.to_lowercase()).cloned().unwrap_or_default();
        let status = status.and_then(|s| u16::try_from(s).ok()).unwrap_or_default();
        assert!(statuses.contains(&status), "{}: {url} ({status}) is not in the audit trail", file.path().display());
        checked += 1;
    }
    assert!(checked > 300, "the run's SCR requests were checked against the trails: {checked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_still_leaves_a_readable_junit_report() {
    let reports = tempfile::tempdir().expect("temp dir");
    let mut opts = RunOptions::new(PathBuf::from("features"), reports.path().to_owned());
    opts.quiet = true;
    // Stop as soon as the run has started: some scenarios at most can have finished.
    let outcome = runner::run_until(opts, async {}).await.expect("the run starts");
    assert!(outcome.interrupted);
    assert_eq!(outcome.exit_code(), 130);
    let xml = std::fs::read_to_string(reports.path().join("junit.xml")).expect("junit.xml written");
    let (tests, _, cases) = read_junit(&xml);
    // The scenarios that finished, and the ones the interruption left unreached as skipped testcases.
    assert!(outcome.not_run.iter().all(|n| n.reason.starts_with("not finished: interrupted")), "{:?}", outcome.not_run);
    assert_eq!(
        outcome.records.len() + outcome.not_run.len(),
        runner::selected_scenarios(&RunOptions::new(PathBuf::from("features"), reports.path().to_owned()))
            .map(|s| s.len())
            .unwrap_or(0)
    );
    assert_eq!(tests, outcome.records.len() + outcome.not_run.len(), "every selected scenario, run or not");
    assert_eq!(cases.len(), tests);
    assert_eq!(xml.matches("<skipped ").count(), outcome.not_run.len(), "each unreached one skipped, with its reason");
    assert!(!reports.path().join("cucumber.json").exists(), "no half-written cucumber.json");
}
