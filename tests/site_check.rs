//! `scr-assure site check` and `token get --site` against the embedded mock: a well-configured site passes
//! every item; each misconfiguration fails its own item with the reason and a non-zero exit; a site file that
//! holds a secret inline is refused.

use std::path::Path;
use std::process::{Command, Output};

use scr_assure::mock::{self, MockConfig, Profile, RunningMock};

const BIN: &str = env!("CARGO_BIN_EXE_scr-assure");

fn fixture(name: &str) -> String {
    format!("{}/fixtures/identity/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn site_file(dir: &Path, m: &RunningMock, tweak: impl Fn(String) -> String) -> std::path::PathBuf {
    std::fs::write(dir.join("api-key.txt"), "scr-assure-test-app-key\n").expect("write api key");
    std::fs::write(dir.join("wrong-secret.txt"), "# not the app's secret\nnot-the-secret\n").expect("write secret");
    let origin = m.origin();
    let text = format!(
        r#"name = "Test Surgery"
ods_code = "A12345"
asid = "200000001162"
session_urid = "555254242102"
test_patient = "9995000180"

[endpoints]
token_url = "{origin}/oauth2/token"
scr_base_url = "{base}"

[app]
api_key_file = "api-key.txt"
kid = "scr-assure-test-1"
private_key_file = "{key}"
jwks_url = "{origin}/mock-apps/scr-assure-test/jwks.json"
client_secret_file = "{secret}"
redirect_uri = "http://127.0.0.1/callback"

[cis2]
flow = "combined"
persona = "default-clinician"
"#,
        base = m.base_url(),
        key = fixture("test-app-private-key.pem"),
        secret = fixture("test-app-client-secret.txt"),
    );
    let path = dir.join("site.toml");
    std::fs::write(&path, tweak(text)).expect("write site");
    path
}

async fn check(path: &Path) -> Output {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        Command::new(BIN).args(["site", "check", "--site"]).arg(&path).output().expect("binary runs")
    })
    .await
    .expect("joins")
}

fn lines(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn mock() -> RunningMock {
    mock::start(MockConfig { auth: true, ..MockConfig::loopback(Profile::Stateful) }).await.expect("mock starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_well_configured_site_passes_every_item() {
    let m = mock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = check(&site_file(dir.path(), &m, |t| t)).await;
    let text = lines(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for item in [
        "ods-code",
        "asid",
        "session-urid",
        "api-key",
        "private-key",
        "token-endpoint",
        "scr-endpoint",
        "access-token",
        "permission-to-view",
    ] {
        assert!(text.lines().any(|l| l.starts_with("PASS") && l.contains(item)), "{item} passes:\n{text}");
    }
    assert!(text.contains("read for 9995000180 succeeded: permission to view Yes"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_misconfiguration_fails_its_own_item() {
    let m = mock().await;
    type Tweak = Box<dyn Fn(String) -> String>;
    let cases: Vec<(&str, Tweak, &str)> = vec![
        ("ods-code", Box::new(|t: String| t.replace("\"A12345\"", "\"a1\"")), "is not an ODS code"),
        ("asid", Box::new(|t: String| t.replace("asid = \"200000001162\"", "asid = \"12345\"")), "is not an ASID"),
        (
            "private-key",
            Box::new(|t: String| t.replace("scr-assure-test-1", "another-kid")),
            "has no key with kid 'another-kid'",
        ),
        (
            "private-key",
            Box::new(|t: String| t.replace("test-app-private-key.pem", "unregistered-private-key.pem")),
            "is not the public part of this private key",
        ),
        ("token-endpoint", Box::new(|t: String| t.replace("http://127.0.0.1", "http://example.invalid")), "is not TLS"),
        (
            "access-token",
            Box::new(|t: String| t.replace(&fixture("test-app-client-secret.txt"), "wrong-secret.txt")),
            "refused: 401 invalid_client: client_id or client_secret is invalid",
        ),
        (
            "access-token",
            Box::new(|t: String| t.replace("persona = \"default-clinician\"", "persona = \"nobody\"")),
            "failed",
        ),
        ("permission-to-view", Box::new(|t: String| t.replace("9995000180", "9990000000")), "no SCR held"),
    ];
    for (item, tweak, reason) in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = check(&site_file(dir.path(), &m, tweak)).await;
        let text = lines(&out);
        if item == "permission-to-view" {
            // A patient without an SCR is a successful read, not a failure.
            assert!(text.contains(reason), "{text}");
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{item}: {text}");
        assert!(
            text.lines().any(|l| l.starts_with("FAIL") && l.contains(item) && l.contains(reason)),
            "{item} fails with '{reason}':\n{text}"
        );
    }
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_secret_is_refused_and_token_get_hides_the_token() {
    let m = mock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = site_file(dir.path(), &m, |t| {
        t.replace("api_key_file = \"api-key.txt\"", "api_key = \"scr-assure-test-app-key\"")
    });
    let out = check(&path).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`app.api_key` holds a secret inline") && !err.contains("scr-assure-test-app-key\""), "{err}");

    let path = site_file(dir.path(), &m, |t| t);
    let run = |show: bool| {
        let path = path.clone();
        move || {
            let mut c = Command::new(BIN);
            c.args(["token", "get", "--target", "int", "--site"]).arg(&path);
            if show {
                c.arg("--show");
            }
            c.output().expect("runs")
        }
    };
    let hidden = tokio::task::spawn_blocking(run(false)).await.expect("joins");
    let text = lines(&hidden);
    assert_eq!(hidden.status.code(), Some(0), "{text}");
    assert!(text.contains("expires_in: 599 s") && text.contains("access_token: [REDACTED]"), "{text}");
    let shown = tokio::task::spawn_blocking(run(true)).await.expect("joins");
    let text = lines(&shown);
    let token = text.lines().find_map(|l| l.strip_prefix("access_token: ")).unwrap_or_default();
    assert!(token.len() > 20 && !token.contains("REDACTED"), "{text}");
    assert!(m.identity().and_then(|i| i.introspect(token)).is_some(), "the shown token is the mock's own");
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_int_target_runs_the_shared_scenarios_through_the_site_flow() {
    // A long-lived mock stands in for INT: the run obtains its token by the site's flow, sends the site's
    // session role id, and skips @mock-only, @open-access and @sandbox scenarios.
    let m = mock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let site = site_file(dir.path(), &m, |t| t);
    let reports = dir.path().join("reports");
    let mut opts = scr_assure::runner::RunOptions::new("features".into(), reports.clone());
    opts.target = scr_assure::runner::TargetKind::Int;
    let expected = scr_assure::runner::selected_scenarios(&opts).expect("features parse");
    assert!(expected.len() > 100);
    assert!(expected.iter().all(|s| !s.has_tag("mock-only") && !s.has_tag("sandbox") && !s.has_tag("open-access")));
    let run = {
        let (site, reports) = (site.clone(), reports.clone());
        move |_: ()| {
            Command::new(BIN)
                .args(["run", "--target", "int", "-q", "--site"])
                .arg(&site)
                .arg("--reports")
                .arg(&reports)
                .output()
                .expect("runs")
        }
    };
    let first = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(())
    })
    .await
    .expect("joins");
    assert_eq!(first.status.code(), Some(0), "{}", lines(&first));
    let junit = std::fs::read_to_string(reports.join("junit.xml")).expect("junit");
    // One testcase per scenario of the features: the selected ones ran, the others are skipped with the reason.
    let all = scr_assure::requirements::scan_features(std::path::Path::new("features")).expect("features parse");
    assert!(junit.contains(&format!("tests=\"{}\"", all.len())), "one testcase per scenario");
    assert!(junit.contains(&format!("skipped=\"{}\"", all.len() - expected.len())), "the others are skipped");
    assert!(junit.contains("<property name=\"target\" value=\"int\"/>"));
    // A second run against the same long-lived target uses other patients, so it passes too.
    let second = tokio::task::spawn_blocking(move || run(())).await.expect("joins");
    assert_eq!(second.status.code(), Some(0), "{}", lines(&second));
    m.shutdown().await;
}
