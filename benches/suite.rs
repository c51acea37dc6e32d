//! Benchmarks (criterion): the whole Gherkin suite against the embedded mock, and the mock's latency per
//! request for each SCR operation over real loopback HTTP. Results and the machine they ran on are
//! recorded in `benches/RESULTS.md`. Run with `cargo bench --bench suite`.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use scr_assure::mock::{self, MockConfig, Profile};
use scr_assure::runner::recorder::Status;
use scr_assure::runner::{self, RunOptions};
use scr_assure::scr::{payloads, NhsNumber};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime")
}

fn full_suite(c: &mut Criterion) {
    let rt = runtime();
    let reports = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("suite");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("full suite against the embedded mock", |b| {
        b.to_async(&rt).iter(|| async {
            let mut opts = RunOptions::new(PathBuf::from("features"), reports.path().to_owned());
            opts.quiet = true;
            let outcome = runner::run(opts).await.expect("the run starts");
            let failed: Vec<String> = outcome
                .records
                .iter()
                .filter(|r| r.status != Status::Passed)
                .map(|r| format!("{}:{} {:?}", r.file.display(), r.line, r.failure))
                .collect();
            assert!(failed.is_empty(), "the suite passes while benchmarked: {failed:#?}");
        })
    });
    group.finish();
}

fn mock_latency(c: &mut Criterion) {
    let rt = runtime();
    let mock = rt.block_on(mock::start(MockConfig::loopback(Profile::Stateful))).expect("mock starts");
    let base = mock.base_url();
    let http = reqwest::Client::new();
    let post = |path: &str, body: String| {
        http.post(format!("{base}{path}"))
            .header("Content-Type", "application/fhir+json")
            .header("NHSD-Session-URID", "555254242102")
            .header("Authorization", "Bearer bench")
            .body(body)
    };
    let seed_get = format!("{base}/DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number|9995000180");
    let seed_read = format!(
        "{base}/Bundle?composition.identifier=FA60BE64-1F34-11EB-A2A8-000C29A364EB&composition.subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9995000180"
    );
    let nhs = NhsNumber::from_stem(999_900_001).map(|n| n.to_string()).expect("valid stem");
    let mut group = c.benchmark_group("mock latency");
    group.bench_function("GET /_ping", |b| {
        b.to_async(&rt).iter(|| async { http.get(format!("{base}/_ping")).send().await.expect("ping") })
    });
    group.bench_function("GET /DocumentReference", |b| {
        b.to_async(&rt).iter(|| async { http.get(&seed_get).send().await.expect("get id") })
    });
    group.bench_function("GET /Bundle (48-entry document)", |b| {
        b.to_async(&rt).iter(|| async { http.get(&seed_read).send().await.expect("read").bytes().await.expect("body") })
    });
    group.bench_function("POST /Bundle (56 kB upload)", |b| {
        b.to_async(&rt).iter(|| async {
            let id = uuid::Uuid::new_v4().to_string().to_uppercase();
            let body = payloads::upload_bundle(&nhs, &id, None).to_string();
            let r = post("/Bundle", body).send().await.expect("upload");
            assert_eq!(r.status().as_u16(), 201);
        })
    });
    group.bench_function("POST /$setPermission", |b| {
        b.to_async(&rt).iter(|| async {
            let r =
                post("/$setPermission", payloads::set_permission(&nhs, "Ask").to_string()).send().await.expect("set");
            assert_eq!(r.status().as_u16(), 201);
        })
    });
    group.bench_function("POST /AuditEvent", |b| {
        b.to_async(&rt).iter(|| async {
            let r = post("/AuditEvent", payloads::privacy_alert(&nhs, "2", "5", "X").to_string())
                .send()
                .await
                .expect("alert");
            assert_eq!(r.status().as_u16(), 201);
        })
    });
    group.finish();
    rt.block_on(mock.shutdown());
}

criterion_group!(benches, full_suite, mock_latency);
criterion_main!(benches);
