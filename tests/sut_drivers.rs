//! The SUT drivers over real processes, a real loopback HTTP hook and an injected terminal, and `scr-assure sut
//! check` through the binary. No test waits on time: a timeout is provoked by a child or a hook that never
//! answers, and the tests poll states (a file written, a process gone), never durations.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use serde_json::{json, Value};

use scr_assure::secret::Secret;
use scr_assure::sut::{
    run_action, Action, ActionEnv, ActionFailure, ActionReport, ActionRequest, Attended, DriverKind, PublicKeys,
    SutApp, SutConfig,
};

/// The id_token handed to the SUT: not JWT-shaped, so only the exact-value redaction can catch it.
const ID_TOKEN: &str = "idtoken-canary-3f9a1c77b2";

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn config(driver: DriverKind) -> SutConfig {
    SutConfig {
        name: "Test SUT".into(),
        version: "1".into(),
        driver,
        action_timeout: Duration::from_secs(30),
        app: SutApp {
            api_key: Secret::new("k"),
            kid: None,
            keys: PublicKeys::JwksUrl("http://127.0.0.1:1/jwks".into()),
            client_secret: None,
            rotation: None,
        },
        actions: BTreeMap::new(),
        http_url: None,
        file: None,
        attended_io: None,
    }
}

fn request(action: Action, params: &[(&str, &str)], session_dir: &Path) -> ActionRequest {
    ActionRequest {
        action,
        params: params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        env: ActionEnv {
            base_url: "http://127.0.0.1:9/summary-care-record/FHIR/R4".into(),
            token_url: "http://127.0.0.1:9/oauth2/token".into(),
            authorize_url: "http://127.0.0.1:9/oauth2/authorize".into(),
            userinfo_url: "http://127.0.0.1:9/oauth2/userinfo".into(),
            id_token: Secret::new(ID_TOKEN),
            urid: "555254240100".into(),
            session_dir: session_dir.to_owned(),
            scenario: "a scenario".into(),
        },
        instruction: "Open the SCR of 9991000019".into(),
    }
}

/// An executable shell script in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    ok(std::fs::write(&path, format!("#!/bin/sh\n{body}\n")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        ok(std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)));
    }
    path
}

/// A command SUT whose `retrieve` runs `script_body`.
async fn run_script(script_body: &str) -> (ActionReport, tempfile::TempDir) {
    let dir = ok(tempfile::tempdir());
    let program = script(dir.path(), "sut.sh", script_body);
    let mut sut = config(DriverKind::Command);
    sut.actions.insert(Action::Retrieve, vec![program.display().to_string(), "{nhs_number}".into()]);
    let report = run_action(&sut, &request(Action::Retrieve, &[("nhs_number", "9991000019")], dir.path())).await;
    (report, dir)
}

/// Every field of a report, as it would be recorded.
fn recorded(report: &ActionReport) -> String {
    let mut all = ok(serde_json::to_string(report));
    if let Some(f) = &report.failure {
        all.push_str(&f.to_string());
    }
    all
}

fn failure(report: &ActionReport) -> ActionFailure {
    match (&report.failure, &report.outcome) {
        (Some(f), None) => f.clone(),
        _ => panic!("expected a failure: {report:?}"),
    }
}

// ------------------------------------------------------------------------------------------------- command

#[tokio::test]
async fn a_good_command_gets_its_environment_params_as_single_elements_and_its_outcome_is_the_last_json_line() {
    let dir = ok(tempfile::tempdir());
    let sut_dir = dir.path().join("sut");
    ok(std::fs::create_dir(&sut_dir));
    script(
        &sut_dir,
        "client.sh",
        r#"env | grep '^SCR_ASSURE_' | sort > "$SCR_ASSURE_SESSION_DIR/env.txt"
for a in "$@"; do printf '%s\n' "$a"; done > "$SCR_ASSURE_SESSION_DIR/args.txt"
pwd > "$SCR_ASSURE_SESSION_DIR/pwd.txt"
echo "starting up"
echo '{"outcome": "consent-required"}'
echo "some log line"
echo '{"outcome": "displayed", "scr_id": "8a2f-1", "extra": [1, 2]}'
echo "diagnostics" >&2"#,
    );
    let mut sut = config(DriverKind::Command);
    sut.file = Some(sut_dir.join("sut.toml"));
    sut.actions.insert(
        Action::RetrieveWithAnswer,
        vec!["./client.sh".into(), "ask".into(), "--nhs={nhs_number}".into(), "{answer}".into()],
    );
    let hostile = "yes; touch pwned $(id) `id` 'quoted' \"double\"";
    let session = dir.path().join("session");
    ok(std::fs::create_dir(&session));
    let req = request(Action::RetrieveWithAnswer, &[("nhs_number", "999 100 0019"), ("answer", hostile)], &session);
    let report = run_action(&sut, &req).await;

    let outcome = report.outcome.clone().unwrap_or_else(|| panic!("an outcome: {report:?}"));
    assert_eq!(outcome.outcome, "displayed");
    assert_eq!(outcome.scr_id.as_deref(), Some("8a2f-1"));
    assert_eq!(outcome.raw["extra"], json!([1, 2]));
    assert_eq!(report.failure, None);
    assert_eq!(report.exit_code, Some(0));
    assert_eq!(report.command, ["./client.sh", "ask", "--nhs=999 100 0019", hostile]);
    assert!(report.stdout_excerpt.contains("some log line"), "{}", report.stdout_excerpt);
    assert_eq!(report.stderr_excerpt.trim(), "diagnostics");
    assert!(chrono::DateTime::parse_from_rfc3339(&report.started).is_ok(), "{}", report.started);
    assert!(report.started.contains('.'), "milliseconds: {}", report.started);

    let args = ok(std::fs::read_to_string(session.join("args.txt")));
    assert_eq!(args.lines().collect::<Vec<_>>(), ["ask", "--nhs=999 100 0019", hostile], "one element each");
    assert!(!sut_dir.join("pwned").exists() && !session.join("pwned").exists(), "no shell ran the value");
    let pwd = ok(std::fs::read_to_string(session.join("pwd.txt")));
    assert_eq!(ok(std::fs::canonicalize(pwd.trim())), ok(std::fs::canonicalize(&sut_dir)), "runs beside sut.toml");
    let env = ok(std::fs::read_to_string(session.join("env.txt")));
    for expected in [
        "SCR_ASSURE_ACTION=retrieve_with_answer".to_owned(),
        "SCR_ASSURE_BASE_URL=http://127.0.0.1:9/summary-care-record/FHIR/R4".to_owned(),
        "SCR_ASSURE_TOKEN_URL=http://127.0.0.1:9/oauth2/token".to_owned(),
        "SCR_ASSURE_AUTHORIZE_URL=http://127.0.0.1:9/oauth2/authorize".to_owned(),
        "SCR_ASSURE_USERINFO_URL=http://127.0.0.1:9/oauth2/userinfo".to_owned(),
        format!("SCR_ASSURE_ID_TOKEN={ID_TOKEN}"),
        "SCR_ASSURE_URID=555254240100".to_owned(),
        format!("SCR_ASSURE_SESSION_DIR={}", session.display()),
        "SCR_ASSURE_SCENARIO=a scenario".to_owned(),
    ] {
        assert!(env.lines().any(|l| l == expected), "{expected} missing from:\n{env}");
    }
    assert!(!recorded(&report).contains(ID_TOKEN));
}

#[tokio::test]
async fn a_pretty_printed_object_after_logs_is_the_outcome_and_a_huge_stdout_neither_blocks_nor_hides_it() {
    let (report, _dir) = run_script("echo 'log'\nprintf '{\\n  \"outcome\": \"no-scr\"\\n}\\n'").await;
    assert_eq!(report.outcome.map(|o| o.outcome).as_deref(), Some("no-scr"));
    // 3 MiB of output (more than a pipe holds and than is kept), then the outcome.
    let (report, _dir) = run_script(
        "head -c 3145728 /dev/zero | tr '\\0' 'x'\necho\necho '{\"outcome\": \"uploaded\", \"scr_id\": \"u1\"}'",
    )
    .await;
    assert_eq!(report.outcome.as_ref().and_then(|o| o.scr_id.as_deref()), Some("u1"), "{:?}", report.failure);
    assert!(
        report.stdout_excerpt.chars().count() == 2000 && report.stdout_excerpt.ends_with('…'),
        "excerpt capped: {}",
        report.stdout_excerpt.len()
    );
}

#[tokio::test]
async fn a_nonzero_exit_with_an_outcome_is_the_outcome_and_without_one_a_failure() {
    let (report, _dir) = run_script("echo '{\"outcome\": \"error\", \"message\": \"SCR down\"}'\nexit 3").await;
    assert_eq!(report.exit_code, Some(3));
    let outcome = report.outcome.unwrap_or_else(|| panic!("the outcome stands"));
    assert_eq!((outcome.outcome.as_str(), outcome.message.as_deref()), ("error", Some("SCR down")));

    let (report, _dir) = run_script("echo 'Traceback: boom' >&2\nexit 4").await;
    assert_eq!(report.exit_code, Some(4));
    match failure(&report) {
        ActionFailure::Failed { status, stderr, .. } => {
            assert_eq!(status, "4");
            assert!(stderr.contains("Traceback: boom"), "{stderr}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn output_without_a_usable_outcome_says_which_problem() {
    let (report, _dir) = run_script("echo 'all good, patient displayed'").await;
    assert!(matches!(failure(&report), ActionFailure::NoJson { ref status, .. } if status == "0"), "{report:?}");
    let (report, _dir) = run_script("true").await;
    assert!(matches!(failure(&report), ActionFailure::NoJson { .. }), "{report:?}");
    let (report, _dir) = run_script("echo '{\"outcome\": \"displayed\",'").await;
    assert!(matches!(failure(&report), ActionFailure::MalformedJson { .. }), "{report:?}");
    let (report, _dir) = run_script("echo '[\"displayed\"]'").await;
    assert!(matches!(failure(&report), ActionFailure::MalformedJson { ref reason, .. } if reason.contains("array")));
    let (report, _dir) = run_script("echo '{\"result\": \"displayed\"}'").await;
    assert!(matches!(failure(&report), ActionFailure::NoOutcome { .. }), "{report:?}");
    let (report, _dir) = run_script("echo '{\"outcome\": 3}'").await;
    assert!(matches!(failure(&report), ActionFailure::NoOutcome { .. }), "{report:?}");
}

#[tokio::test]
async fn programs_that_cannot_start_and_actions_not_configured() {
    let dir = ok(tempfile::tempdir());
    let mut sut = config(DriverKind::Command);
    let req = request(Action::Retrieve, &[("nhs_number", "9991000019")], dir.path());
    sut.actions.insert(Action::Retrieve, vec![dir.path().join("absent").display().to_string()]);
    match failure(&run_action(&sut, &req).await) {
        ActionFailure::NotExecutable { program, reason, .. } => {
            assert!(program.ends_with("absent") && reason.contains("No such file"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let plain = dir.path().join("plain.sh");
    ok(std::fs::write(&plain, "#!/bin/sh\necho '{\"outcome\":\"done\"}'\n"));
    sut.actions.insert(Action::Retrieve, vec![plain.display().to_string()]);
    match failure(&run_action(&sut, &req).await) {
        ActionFailure::NotExecutable { reason, .. } => assert!(reason.contains("ermission denied"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let upload = request(Action::Upload, &[("nhs_number", "9991000019"), ("bundle_file", "b.json")], dir.path());
    let f = failure(&run_action(&sut, &upload).await);
    assert!(matches!(f, ActionFailure::NotConfigured { ref action, .. } if action == "upload"), "{f:?}");
    assert!(f.to_string().contains("[actions].upload"), "{f}");
    // A placeholder the harness gave no value for.
    sut.actions.insert(Action::Retrieve, vec!["true".into(), "{nhs_number}".into()]);
    let f = failure(&run_action(&sut, &request(Action::Retrieve, &[], dir.path())).await);
    assert!(matches!(f, ActionFailure::MissingParameter { ref parameter, .. } if parameter == "nhs_number"));
}

/// Whether a process is still there (running or a zombie not reaped).
fn alive(pid: &str) -> bool {
    Path::new("/proc").join(pid).exists()
}

#[tokio::test]
async fn a_slow_command_is_stopped_at_the_timeout_and_reaped() {
    let dir = ok(tempfile::tempdir());
    // `exec`: the pid written is the sleeping process itself.
    let program =
        script(dir.path(), "slow.sh", "echo $$ > \"$SCR_ASSURE_SESSION_DIR/pid\"\necho 'working'\nexec sleep 10");
    let mut sut = config(DriverKind::Command);
    sut.actions.insert(Action::Retrieve, vec![program.display().to_string(), "{nhs_number}".into()]);
    let req = request(Action::Retrieve, &[("nhs_number", "9991000019")], dir.path());
    // A loaded machine may not even reach the first line within a short timeout: lengthen it until the child
    // has said who it is (a state, not a duration, decides).
    let mut timeout = Duration::from_millis(300);
    loop {
        let _ = std::fs::remove_file(dir.path().join("pid"));
        sut.action_timeout = timeout;
        let report = run_action(&sut, &req).await;
        assert!(
            matches!(failure(&report), ActionFailure::TimedOut { ref action, .. } if action == "retrieve"),
            "{report:?}"
        );
        assert_eq!(report.exit_code, None);
        if let Ok(pid) = std::fs::read_to_string(dir.path().join("pid")) {
            let pid = pid.trim().to_owned();
            assert!(!pid.is_empty());
            assert!(!alive(&pid), "the child {pid} must be gone once the report is back");
            break;
        }
        assert!(timeout < Duration::from_secs(5), "the script never started");
        timeout *= 2;
    }
}

#[tokio::test]
async fn the_id_token_never_reaches_the_report_even_when_the_sut_echoes_it() {
    for body in [
        // Echoed in the outcome, a log line and stderr.
        "echo \"using $SCR_ASSURE_ID_TOKEN\"\necho \"token=$SCR_ASSURE_ID_TOKEN\" >&2\necho \"{\\\"outcome\\\": \\\"displayed\\\", \\\"message\\\": \\\"t $SCR_ASSURE_ID_TOKEN\\\", \\\"id_token\\\": \\\"$SCR_ASSURE_ID_TOKEN\\\", \\\"scr_id\\\": \\\"$SCR_ASSURE_ID_TOKEN\\\"}\"",
        // In a failure's message (no JSON), and a non-zero exit's stderr.
        "echo \"no json but $SCR_ASSURE_ID_TOKEN\"",
        "echo \"{\\\"outcome\\\": \\\"$SCR_ASSURE_ID_TOKEN\"",
        "echo \"crash $SCR_ASSURE_ID_TOKEN\" >&2\nexit 1",
        "echo \"{\\\"nothing\\\": \\\"$SCR_ASSURE_ID_TOKEN\\\"}\"",
    ] {
        let (report, _dir) = run_script(body).await;
        let all = recorded(&report);
        assert!(!all.contains(ID_TOKEN), "{body}: {all}");
        assert!(all.contains("[REDACTED]"), "{body}: the echo is shown as redacted: {all}");
    }
}

// ---------------------------------------------------------------------------------------------------- http

#[derive(Clone, Default)]
struct Hook {
    received: Arc<Mutex<Vec<Value>>>,
}

async fn serve(app: axum::Router) -> String {
    let listener = ok(tokio::net::TcpListener::bind("127.0.0.1:0").await);
    let addr = ok(listener.local_addr());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/scr-assure-hook")
}

fn http_sut(url: &str) -> SutConfig {
    let mut sut = config(DriverKind::Http);
    sut.http_url = Some(url.to_owned());
    sut
}

#[tokio::test]
async fn the_http_hook_gets_action_params_and_env_and_answers_the_outcome() {
    let hook = Hook::default();
    let app = axum::Router::new()
        .route(
            "/scr-assure-hook",
            post(|State(hook): State<Hook>, Json(body): Json<Value>| async move {
                let token = body["env"]["SCR_ASSURE_ID_TOKEN"].as_str().unwrap_or_default().to_owned();
                hook.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(body);
                Json(json!({"outcome": "displayed", "scr_id": "h-1", "message": format!("echo {token}")}))
            }),
        )
        .with_state(hook.clone());
    let url = serve(app).await;
    let dir = ok(tempfile::tempdir());
    let req = request(Action::EmergencyAccess, &[("nhs_number", "9991000019"), ("reason", "legal")], dir.path());
    let report = run_action(&http_sut(&url), &req).await;
    let outcome = report.outcome.clone().unwrap_or_else(|| panic!("{report:?}"));
    assert_eq!((outcome.outcome.as_str(), outcome.scr_id.as_deref()), ("displayed", Some("h-1")));
    assert_eq!(report.command, ["POST".to_owned(), url.clone()]);
    assert!(!recorded(&report).contains(ID_TOKEN), "{}", recorded(&report));
    let received = hook.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["action"], "emergency_access");
    assert_eq!(received[0]["params"], json!({"nhs_number": "9991000019", "reason": "legal"}));
    assert_eq!(received[0]["env"]["SCR_ASSURE_ID_TOKEN"], ID_TOKEN, "the hook gets the token itself");
    assert_eq!(received[0]["env"]["SCR_ASSURE_ACTION"], "emergency_access");
    assert_eq!(received[0]["env"]["SCR_ASSURE_SESSION_DIR"], dir.path().display().to_string());
}

#[tokio::test]
async fn http_hook_failures_are_named() {
    let dir = ok(tempfile::tempdir());
    let req = request(Action::Retrieve, &[("nhs_number", "9991000019")], dir.path());

    // Nothing listening: a port that was just free.
    let free = ok(std::net::TcpListener::bind("127.0.0.1:0"));
    let port = ok(free.local_addr()).port();
    drop(free);
    let url = format!("http://127.0.0.1:{port}/hook");
    let f = failure(&run_action(&http_sut(&url), &req).await);
    assert!(matches!(f, ActionFailure::HookUnreachable { url: ref u, .. } if *u == url), "{f:?}");

    let app = axum::Router::new()
        .route("/scr-assure-hook", post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, format!("boom {ID_TOKEN}")) }))
        .route("/slow", post(std::future::pending::<&'static str>))
        .route("/text", post(|| async { "done!" }))
        .route("/no-outcome", post(|| async { Json(json!({"status": "ok"})) }));
    let url = serve(app).await;
    let report = run_action(&http_sut(&url), &req).await;
    match failure(&report) {
        ActionFailure::HookStatus { status, body, .. } => {
            assert_eq!(status, 500);
            assert!(body.contains("boom") && !body.contains(ID_TOKEN), "{body}");
        }
        other => panic!("{other:?}"),
    }
    let base = url.trim_end_matches("/scr-assure-hook");
    let mut slow = http_sut(&format!("{base}/slow"));
    slow.action_timeout = Duration::from_millis(300);
    let f = failure(&run_action(&slow, &req).await);
    assert!(matches!(f, ActionFailure::TimedOut { .. }), "{f:?}");
    let f = failure(&run_action(&http_sut(&format!("{base}/text")), &req).await);
    assert!(matches!(f, ActionFailure::MalformedJson { .. }), "{f:?}");
    let f = failure(&run_action(&http_sut(&format!("{base}/no-outcome")), &req).await);
    assert!(matches!(f, ActionFailure::NoOutcome { .. }), "{f:?}");
}

// ------------------------------------------------------------------------------------------------ attended

/// A terminal's output the test can read.
#[derive(Clone, Default)]
struct Screen(Arc<Mutex<Vec<u8>>>);

impl Write for Screen {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Screen {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }
}

fn attended(input: &str, screen: &Screen) -> SutConfig {
    let mut sut = config(DriverKind::Attended);
    sut.attended_io = Some(Attended::new(std::io::Cursor::new(input.as_bytes().to_vec()), screen.clone()));
    sut
}

#[tokio::test]
async fn the_attended_driver_shows_the_instruction_and_takes_the_testers_answer() {
    let dir = ok(tempfile::tempdir());
    let req = request(Action::RetrieveWithAnswer, &[("nhs_number", "9991000019"), ("answer", "no")], dir.path());
    let screen = Screen::default();
    // Three actions on one terminal: Enter, a remark, a JSON outcome.
    let sut = attended("\nopened it, looked fine\n{\"outcome\": \"no-consent\"}\n", &screen);
    let report = run_action(&sut, &req).await;
    assert_eq!(report.outcome.as_ref().map(|o| o.outcome.as_str()), Some("done"));
    let record = report.attended.clone().unwrap_or_else(|| panic!("a record"));
    assert_eq!(record.instruction, "Open the SCR of 9991000019");
    assert_eq!(record.confirmation.as_deref(), Some(""));
    assert!(record.confirmed_at.is_some());
    assert_eq!(report.command, ["attended"]);
    let shown = screen.text();
    for part in ["Open the SCR of 9991000019", "nhs_number: 9991000019", "answer: no", "retrieve_with_answer"] {
        assert!(shown.contains(part), "{part} not shown: {shown}");
    }
    let report = run_action(&sut, &req).await;
    assert_eq!(report.outcome.as_ref().map(|o| o.outcome.as_str()), Some("done"));
    assert_eq!(report.attended.and_then(|a| a.confirmation).as_deref(), Some("opened it, looked fine"));
    let report = run_action(&sut, &req).await;
    assert_eq!(report.outcome.as_ref().map(|o| o.outcome.as_str()), Some("no-consent"));
    // The input is used up: no confirmation can come.
    let report = run_action(&sut, &req).await;
    assert!(matches!(failure(&report), ActionFailure::NotConfirmed { .. }), "{report:?}");
    assert_eq!(report.attended.and_then(|a| a.confirmation), None);
}

#[tokio::test]
async fn an_attended_action_nobody_confirms_ends_at_the_timeout() {
    let dir = ok(tempfile::tempdir());
    let req = request(Action::Retrieve, &[("nhs_number", "9991000019")], dir.path());
    let (_keyboard, terminal) = tokio::io::duplex(64); // open, silent
    let mut sut = config(DriverKind::Attended);
    sut.action_timeout = Duration::from_millis(300);
    sut.attended_io = Some(Attended::new(tokio::io::BufReader::new(terminal), Screen::default()));
    let report = run_action(&sut, &req).await;
    assert!(matches!(failure(&report), ActionFailure::NotConfirmed { ref action, .. } if action == "retrieve"));
    assert_eq!(report.attended.map(|a| a.instruction).as_deref(), Some("Open the SCR of 9991000019"));
}

// --------------------------------------------------------------------------------------------- sut check

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_scr-assure")
}

fn sut_check(file: &Path) -> (i32, String, String) {
    let out = ok(std::process::Command::new(bin()).args(["sut", "check"]).arg(file).output());
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check_dir() -> tempfile::TempDir {
    let dir = ok(tempfile::tempdir());
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/identity");
    ok(std::fs::copy(fixtures.join("reference-client-public-key.pem"), dir.path().join("public.pem")));
    ok(std::fs::copy(fixtures.join("reference-client-next-public-key.pem"), dir.path().join("next.pem")));
    script(dir.path(), "client.sh", "echo '{\"outcome\": \"done\"}'");
    dir
}

const CHECKED: &str = r#"[sut]
name = "Checked SUT"
version = "2.0"
driver = "command"
[app]
api_key = "sut-key"
kid = "sut-1"
public_key_file = "public.pem"
[app.rotation]
kid = "sut-2"
public_key_file = "next.pem"
[actions]
retrieve = ["./client.sh", "retrieve", "{nhs_number}"]
retrieve_with_answer = ["./client.sh", "ask", "{nhs_number}", "{answer}"]
emergency_access = ["sh", "client.sh", "override", "{nhs_number}", "{reason}"]
upload = ["./client.sh", "upload", "{nhs_number}", "{bundle_file}"]
"#;

#[test]
fn sut_check_passes_a_ready_sut_and_fails_a_missing_program() {
    let dir = check_dir();
    let file = dir.path().join("sut.toml");
    ok(std::fs::write(&file, CHECKED));
    let (code, out, err) = sut_check(&file);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("sut check: Checked SUT 2.0 (command driver"), "{out}");
    assert!(out.contains("PASS  app keys") && out.contains("kid 'sut-1'"), "{out}");
    assert!(out.contains("PASS  rotation keys") && out.contains("kid 'sut-2'"), "{out}");
    assert!(out.contains("PASS  action retrieve ") && out.contains("PASS  action emergency_access"), "{out}");
    assert!(out.contains("NOTE  action rotate_key") && out.contains("optional"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    assert!(!out.contains("sut-key"), "the API key is never printed: {out}");

    let missing = CHECKED
        .replace("[\"./client.sh\", \"upload\"", "[\"./gone.sh\", \"upload\"")
        .replace("retrieve_with_answer = [\"./client.sh\", \"ask\", \"{nhs_number}\", \"{answer}\"]\n", "");
    ok(std::fs::write(&file, missing));
    let (code, out, err) = sut_check(&file);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FAIL  action upload") && out.contains("gone.sh: no such file"), "{out}");
    assert!(out.contains("FAIL  action retrieve_with_answer") && out.contains("required"), "{out}");
    assert!(out.contains("PASS  action retrieve "), "{out}");
}

#[test]
fn sut_check_refuses_an_unusable_file_with_exit_2() {
    let dir = check_dir();
    let file = dir.path().join("sut.toml");
    ok(std::fs::write(&file, CHECKED.replace("kid = \"sut-1\"", "kid = \"sut-1\"\nprivate_key_file = \"k.pem\"")));
    let (code, out, err) = sut_check(&file);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains(":8: [app] private_key_file: unknown key"), "{err}");
    let (code, _, err) = sut_check(&dir.path().join("absent.toml"));
    assert_eq!(code, 2);
    assert!(err.contains("cannot read the SUT file"), "{err}");
}

#[test]
fn sut_check_connects_to_an_http_hook_and_notes_an_attended_driver() {
    let dir = check_dir();
    let file = dir.path().join("sut.toml");
    let listener = ok(std::net::TcpListener::bind("127.0.0.1:0"));
    let port = ok(listener.local_addr()).port();
    let head = CHECKED.split("[actions]").next().unwrap_or_default().to_owned();
    let http = head.replace("driver = \"command\"", "driver = \"http\"")
        + &format!("[http]\nurl = \"http://127.0.0.1:{port}/hook\"\n");
    ok(std::fs::write(&file, &http));
    let (code, out, err) = sut_check(&file);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("PASS  http hook") && out.contains(&format!("127.0.0.1:{port}")), "{out}");
    drop(listener);
    let free = ok(std::net::TcpListener::bind("127.0.0.1:0"));
    let closed = ok(free.local_addr()).port();
    drop(free);
    ok(std::fs::write(&file, http.replace(&format!(":{port}/"), &format!(":{closed}/"))));
    let (code, out, _) = sut_check(&file);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  http hook"), "{out}");

    ok(std::fs::write(&file, head.replace("driver = \"command\"", "driver = \"attended\"")));
    let (code, out, err) = sut_check(&file);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("NOTE  driver attended") && out.contains("manual"), "{out}");
}
