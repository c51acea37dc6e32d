//! Exploration: which portable scenarios pass against a dummy.
use std::path::PathBuf;

use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use scr_assure::runner::recorder::Status;
use scr_assure::runner::{self, RunOptions, TargetKind};
use scr_assure::secret::Secret;

async fn dummy(method: Method) -> axum::response::Response {
    match method {
        Method::GET => (
            StatusCode::OK,
            [("content-type", "application/fhir+json")],
            r#"{"resourceType":"Bundle","type":"searchset","total":0}"#,
        )
            .into_response(),
        Method::POST => StatusCode::CREATED.into_response(),
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().fallback(dummy);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let reports = tempfile::tempdir().expect("temp dir");
    let mut opts = RunOptions::new(PathBuf::from("features"), reports.path().to_owned());
    opts.quiet = true;
    opts.target = TargetKind::Int;
    opts.base_url = Some(format!("http://{addr}/summary-care-record/FHIR/R4"));
    opts.access_token = Some(Secret::new("dummy"));
    let outcome = runner::run(opts).await.expect("the run starts");
    let passed: Vec<String> = outcome
        .records
        .iter()
        .filter(|r| r.status == Status::Passed)
        .map(|r| format!("{}:{} {}", r.file.display(), r.line, r.name))
        .collect();
    println!("{} of {} passed", passed.len(), outcome.records.len());
    for p in &passed {
        println!("PASS {p}");
    }
}
