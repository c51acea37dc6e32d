//! The portable scenarios against a service that ignores its input (issue 11 §2). The dummy answers every GET
//! with 200 and an empty searchset Bundle, every POST with 201 and an empty body, anything else with 405, and
//! echoes `X-Request-ID` and `X-Correlation-ID` (its `/_ping` is an ordinary GET, so the run starts). It is
//! run as the `int` target with a literal access token (the scenarios that would run against INT) and as the
//! `sandbox` target (the `@sandbox` scenarios): together, every scenario that is not `@mock-only`, `@client` or
//! `@open-access`.
//!
//! A scenario such a service passes proves nothing about the service unless a status is all a client can
//! observe; those are tagged `@status-only` and their requirement's `status_only` says why. This test holds the
//! suite to exactly that set: a newly weak scenario, or a declaration that is no longer true, fails it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use scr_assure::requirements::STATUS_ONLY_TAG;
use scr_assure::runner::recorder::Status;
use scr_assure::runner::{self, RunOptions, TargetKind};
use scr_assure::secret::Secret;

async fn dummy(method: Method, headers: HeaderMap) -> Response {
    let mut response = match method {
        Method::GET => (
            StatusCode::OK,
            [("content-type", "application/fhir+json;charset=UTF-8")],
            r#"{"resourceType":"Bundle","type":"searchset","total":0}"#,
        )
            .into_response(),
        Method::POST => StatusCode::CREATED.into_response(),
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    };
    for name in ["x-request-id", "x-correlation-id"] {
        if let Some(value) = headers.get(name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

/// A copy of the snapshot files, so that a snapshot step failing against the dummy leaves its `.snap.new` there.
fn snapshots_copy(into: &Path) -> PathBuf {
    let dir = into.join("snapshots");
    std::fs::create_dir_all(&dir).expect("snapshot dir");
    for entry in std::fs::read_dir("snapshots").expect("snapshots/ is readable") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "snap") {
            std::fs::copy(&path, dir.join(path.file_name().expect("a file name"))).expect("copy a snapshot");
        }
    }
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_declared_status_only_scenarios_pass_against_a_service_that_ignores_its_input() {
    against_the_dummy(TargetKind::Int, 200).await;
}

/// The `@sandbox` scenarios, run as the `sandbox` target: the sandbox's canned answers are as checkable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_declared_status_only_sandbox_scenarios_pass_against_a_service_that_ignores_its_input() {
    against_the_dummy(TargetKind::Sandbox, 20).await;
}

async fn against_the_dummy(target: TargetKind, at_least: usize) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("its address");
    let server = tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(dummy)).await });

    let work = tempfile::tempdir().expect("temp dir");
    let mut opts = RunOptions::new(PathBuf::from("features"), work.path().join("reports"));
    opts.quiet = true;
    opts.target = target;
    opts.base_url = Some(format!("http://{addr}/summary-care-record/FHIR/R4"));
    opts.access_token = Some(Secret::new("dummy-service-token"));
    opts.snapshots_dir = snapshots_copy(work.path());

    let selected = runner::selected_scenarios(&opts).expect("the features parse");
    assert!(selected.len() > at_least, "the portable scenarios are selected: {}", selected.len());
    assert!(selected.iter().all(|s| !s.has_tag("mock-only") && !s.has_tag("client")));
    let declared: BTreeSet<String> = selected
        .iter()
        .filter(|s| s.has_tag(STATUS_ONLY_TAG))
        .map(|s| format!("{}:{}", s.file.display(), s.line))
        .collect();

    let outcome = runner::run(opts).await.expect("the run starts against the dummy");
    server.abort();
    assert_eq!(outcome.records.len(), selected.len(), "every portable scenario ran");
    let passed: BTreeSet<String> = outcome
        .records
        .iter()
        .filter(|r| r.status == Status::Passed)
        .map(|r| format!("{}:{}", r.file.display(), r.line))
        .collect();
    let weak: Vec<&String> = passed.difference(&declared).collect();
    let stale: Vec<&String> = declared.difference(&passed).collect();
    assert!(
        weak.is_empty(),
        "these scenarios pass against a service that ignores its input: strengthen them (read back, a control \
         read, the body's contents) or tag them @{STATUS_ONLY_TAG} with a `status_only` reason on their \
         requirement:\n{}",
        weak.iter().map(|s| format!("  {s}")).collect::<Vec<_>>().join("\n")
    );
    assert!(
        stale.is_empty(),
        "these scenarios are tagged @{STATUS_ONLY_TAG} but a service that ignores its input fails them: drop the \
         tag:\n{}",
        stale.iter().map(|s| format!("  {s}")).collect::<Vec<_>>().join("\n")
    );
}
