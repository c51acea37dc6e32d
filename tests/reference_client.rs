//! The bundled reference client (`scr-assure reference-client`) run as a real process against the embedded
//! mock behind its gateway (identity service on, real time), as the client lane drives a SUT: every action
//! and branch of docs/CLIENT.md §4 judged by the outcome printed and by the mock's state (`/_admin`), the
//! session kept across actions, a 401 renewed through the refresh grant, the fault policy, a few defects whose
//! effect shows in the mock's state, and the usage errors. No output may hold a secret.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use reqwest::Method;
use serde_json::{json, Value};

use scr_assure::clock::Clock;
use scr_assure::identity::id_token::{self, IdTokenSpec};
use scr_assure::identity::keys::SigningKey;
use scr_assure::identity::personas::Personas;
use scr_assure::mock::{self, MockConfig, Profile, RunningMock};
use scr_assure::scr::{payloads, NhsNumber};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/identity");
const URID: &str = "555254242102";
const USER_ID: &str = "910000000001";

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn nhs_number(stem: u64) -> String {
    (stem..)
        .find_map(NhsNumber::from_stem)
        .map(|n| n.to_string())
        .unwrap_or_else(|| panic!("no NHS number near {stem}"))
}

/// The test app's client secret, to prove it never reaches an output.
fn client_secret() -> String {
    let text = std::fs::read_to_string(fixture("test-app-client-secret.txt")).unwrap_or_else(|e| panic!("secret: {e}"));
    text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or_default().to_owned()
}

/// One process run of the client.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The one JSON object on stdout (asserting there is exactly one and nothing else).
    fn outcome(&self) -> Value {
        assert_eq!(self.code, Some(0), "exit status; stdout {:?} stderr {:?}", self.stdout, self.stderr);
        let lines: Vec<&str> = self.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "exactly one line on stdout: {:?}", self.stdout);
        let value: Value =
            serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {lines:?}"));
        assert!(value.is_object() && value["outcome"].is_string(), "{value}");
        value
    }

    fn outcome_name(&self) -> String {
        self.outcome()["outcome"].as_str().unwrap_or_default().to_owned()
    }
}

/// A mock behind its gateway, a CIS2 id_token for the default clinician, and a session directory.
struct Lane {
    mock: RunningMock,
    http: reqwest::Client,
    id_token: String,
    session: tempfile::TempDir,
}

impl Lane {
    async fn start() -> Self {
        let config = MockConfig { auth: true, clock: Clock::system(), ..MockConfig::loopback(Profile::Stateful) };
        let mock = mock::start(config).await.unwrap_or_else(|e| panic!("mock starts: {e}"));
        let personas = Personas::load(fixture("personas.toml")).unwrap_or_else(|e| panic!("personas: {e}"));
        let persona = personas.get("default-clinician").unwrap_or_else(|| panic!("persona default-clinician"));
        let cis2 = SigningKey::from_pem_file(fixture("mock-cis2-private-key.pem"), mock::identity::CIS2_KID)
            .unwrap_or_else(|e| panic!("cis2 key: {e}"));
        let spec = IdTokenSpec::new(
            persona,
            format!("{}/mock-cis2", mock.origin()),
            mock::identity::CIS2_CLIENT_ID,
            mock::identity::CIS2_KID,
            Clock::system().now(),
        );
        let id_token = id_token::mint(&spec, &cis2).unwrap_or_else(|e| panic!("id_token: {e}")).0.expose().to_owned();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        let session = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        Self { mock, http, id_token, session }
    }

    fn env(&self, session: &Path) -> Vec<(&'static str, String)> {
        vec![
            ("SCR_ASSURE_BASE_URL", self.mock.base_url()),
            ("SCR_ASSURE_TOKEN_URL", format!("{}/oauth2/token", self.mock.origin())),
            ("SCR_ASSURE_AUTHORIZE_URL", format!("{}/oauth2/authorize", self.mock.origin())),
            ("SCR_ASSURE_USERINFO_URL", format!("{}/oauth2/userinfo", self.mock.origin())),
            ("SCR_ASSURE_ID_TOKEN", self.id_token.clone()),
            ("SCR_ASSURE_URID", URID.into()),
            ("SCR_ASSURE_SESSION_DIR", session.display().to_string()),
            ("SCR_ASSURE_ACTION", "test".into()),
            ("SCR_ASSURE_SCENARIO", "reference client test".into()),
        ]
    }

    /// Runs `reference-client [defects] ACTION PARAMS` in the lane's session.
    async fn client(&self, defects: &[&str], action: &[&str]) -> Run {
        self.client_in(self.session.path(), defects, action, None).await
    }

    async fn client_in(&self, session: &Path, defects: &[&str], action: &[&str], without: Option<&str>) -> Run {
        self.client_full(session, "reference-client-next-private-key.pem", defects, action, without).await
    }

    async fn client_full(
        &self,
        session: &Path,
        next_key: &str,
        defects: &[&str],
        action: &[&str],
        without: Option<&str>,
    ) -> Run {
        let mut args: Vec<String> = vec!["reference-client".into()];
        for d in defects {
            args.extend(["--defect".into(), (*d).into()]);
        }
        for (flag, value) in [
            ("--api-key", "scr-assure-test-app-key".to_owned()),
            ("--kid", "scr-assure-test-1".to_owned()),
            ("--key", fixture("test-app-private-key.pem")),
            ("--next-key", fixture(next_key)),
            ("--client-secret-file", fixture("test-app-client-secret.txt")),
        ] {
            args.extend([flag.to_owned(), value]);
        }
        args.extend(action.iter().map(|a| (*a).to_owned()));
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_scr-assure"));
        command.args(&args).stdin(Stdio::null()).kill_on_drop(true);
        for (name, value) in self.env(session) {
            if Some(name) != without {
                command.env(name, value);
            }
        }
        if let Some(name) = without {
            command.env_remove(name);
        }
        let output = command.output().await.unwrap_or_else(|e| panic!("run the binary: {e}"));
        let run = Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        for (what, secret) in [("the id_token", self.id_token.clone()), ("the client secret", client_secret())] {
            assert!(
                !run.stdout.contains(&secret) && !run.stderr.contains(&secret),
                "{what} printed: {:?} {:?}",
                run.stdout,
                run.stderr
            );
        }
        if let Some(token) = self.session_value("access_token").as_str() {
            assert!(!run.stdout.contains(token) && !run.stderr.contains(token), "the access token printed");
        }
        run
    }

    /// A member of the session file (`Null` when absent).
    fn session_value(&self, member: &str) -> Value {
        std::fs::read_to_string(self.session.path().join("session.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .map(|v| v[member].clone())
            .unwrap_or(Value::Null)
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}/_admin{path}", self.mock.origin()));
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_string());
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("admin {path}: {e}"));
        let status = response.status().as_u16();
        let value = response.json::<Value>().await.unwrap_or(Value::Null);
        assert!(status < 300, "admin {path}: {status} {value}");
        value
    }

    async fn patient(&self, nhs: &str) -> Value {
        self.admin(Method::GET, &format!("/patients/{nhs}"), None).await
    }

    async fn scr_ids(&self, nhs: &str) -> Vec<String> {
        let patient = self.patient(nhs).await;
        patient["scrIds"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
    }

    async fn set_permission(&self, nhs: &str, permission: Value) {
        self.admin(Method::PUT, &format!("/patients/{nhs}/permission"), Some(json!({ "permission": permission })))
            .await;
    }

    async fn alerts(&self, nhs: &str) -> Vec<Value> {
        self.admin(Method::GET, &format!("/alerts?nhs={nhs}"), None).await.as_array().cloned().unwrap_or_default()
    }

    async fn arm(&self, fault: Value) {
        self.admin(Method::POST, "/faults", Some(fault)).await;
    }

    /// Writes a valid upload Bundle for `nhs` (the harness's example, as the runner gives a SUT).
    fn bundle_file(&self, nhs: &str) -> PathBuf {
        let path = self.session.path().join(format!("bundle-{nhs}.json"));
        let bundle = payloads::upload_bundle(nhs, "11111111-2222-3333-4444-555555555555", None);
        std::fs::write(&path, bundle.to_string()).unwrap_or_else(|e| panic!("write bundle: {e}"));
        path
    }

    /// Uploads through the client and returns the new SCR id.
    async fn upload(&self, nhs: &str) -> String {
        let file = self.bundle_file(nhs);
        let run = self.client(&[], &["upload", nhs, &file.display().to_string()]).await;
        let outcome = run.outcome();
        assert_eq!(outcome["outcome"], "uploaded", "{outcome} {}", run.stderr);
        outcome["scr_id"].as_str().unwrap_or_default().to_owned()
    }

    /// The Composition of the SCR `scr_id`, read with the session's own access token.
    async fn composition(&self, nhs: &str, scr_id: &str) -> Value {
        let token = self.session_value("access_token").as_str().unwrap_or_default().to_owned();
        let url = format!(
            "{}/Bundle?composition.identifier={scr_id}&composition.subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}",
            self.mock.base_url()
        );
        let response = self
            .http
            .get(url)
            .bearer_auth(token)
            .header("NHSD-Session-URID", URID)
            .send()
            .await
            .unwrap_or_else(|e| panic!("read: {e}"));
        let bundle: Value = response.json().await.unwrap_or(Value::Null);
        bundle["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["resource"].clone())
            .find(|r| r["resourceType"] == "Composition")
            .unwrap_or(Value::Null)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrieve_reports_each_branch_and_the_session_reuses_its_token() {
    let lane = Lane::start().await;
    let nhs = nhs_number(990_100_001);
    assert_eq!(lane.client(&[], &["retrieve", &nhs]).await.outcome(), json!({"outcome": "no-scr"}));
    let token = lane.session_value("access_token");
    let expires = lane.session_value("access_expires_at");
    assert!(token.is_string() && expires.is_string(), "the session holds the token and its expiry");
    assert!(lane.session_value("refresh_token").is_string());

    let first = lane.upload(&nhs).await;
    assert_eq!(lane.scr_ids(&nhs).await, vec![first.clone()]);
    assert_eq!(lane.session_value("access_token"), token, "a second action reuses the held token");
    assert_eq!(lane.session_value("access_expires_at"), expires);

    // No permission recorded: the clinician must ask.
    assert_eq!(lane.client(&[], &["retrieve", &nhs]).await.outcome(), json!({"outcome": "consent-required"}));
    lane.set_permission(&nhs, json!("Ask")).await;
    assert_eq!(lane.client(&[], &["retrieve", &nhs]).await.outcome(), json!({"outcome": "consent-required"}));
    // The legacy Yes is treated as Ask (spec PartPermissionCode.yaml): asked again; read on the patient's yes.
    lane.set_permission(&nhs, json!("Yes")).await;
    assert_eq!(lane.client(&[], &["retrieve", &nhs]).await.outcome(), json!({"outcome": "consent-required"}));
    assert_eq!(
        lane.client(&[], &["retrieve_with_answer", &nhs, "yes"]).await.outcome(),
        json!({"outcome": "displayed", "scr_id": first})
    );
    lane.set_permission(&nhs, json!("No")).await;
    assert_eq!(lane.client(&[], &["retrieve", &nhs]).await.outcome(), json!({"outcome": "no-consent"}));
    assert_eq!(lane.session_value("access_token"), token, "every action of the session used one token");
    assert_eq!(lane.session_value("scr_ids")[&nhs], json!(first), "the session remembers the id it saw");
    assert!(lane.alerts(&nhs).await.is_empty(), "no alert on a normal retrieve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_patients_answer_is_recorded_and_only_yes_is_read() {
    let lane = Lane::start().await;
    let (yes, no) = (nhs_number(990_100_101), nhs_number(990_100_201));
    let yes_id = lane.upload(&yes).await;
    lane.upload(&no).await;

    let run = lane.client(&[], &["retrieve_with_answer", &yes, "yes"]).await;
    assert_eq!(run.outcome(), json!({"outcome": "displayed", "scr_id": yes_id}));
    assert_eq!(lane.patient(&yes).await["permission"], "Yes");

    let run = lane.client(&[], &["retrieve_with_answer", &no, "no"]).await;
    assert_eq!(run.outcome(), json!({"outcome": "no-consent"}));
    assert_eq!(lane.patient(&no).await["permission"], "No");

    // Permission already Yes (legacy, treated as Ask): asked again, and a no now is recorded and not read.
    assert_eq!(lane.client(&[], &["retrieve_with_answer", &yes, "no"]).await.outcome_name(), "no-consent");
    assert_eq!(lane.patient(&yes).await["permission"], "No");

    // skips-set-permission: reads on yes without recording it.
    let skipped = nhs_number(990_100_301);
    lane.upload(&skipped).await;
    let run = lane.client(&["skips-set-permission"], &["retrieve_with_answer", &skipped, "yes"]).await;
    assert_eq!(run.outcome_name(), "displayed");
    assert_eq!(lane.patient(&skipped).await["permission"], Value::Null, "no $setPermission was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_override_raises_one_alert_with_the_reasons_codes_then_reads() {
    let lane = Lane::start().await;
    for (stem, reason, alert_type, subtype) in [
        (990_200_001, "emergency", "2", "5"),
        (990_200_101, "legal", "2", "2"),
        (990_200_201, "self-claimed", "1", "4"),
    ] {
        let nhs = nhs_number(stem);
        let id = lane.upload(&nhs).await;
        lane.set_permission(&nhs, json!("Ask")).await;
        let run = lane.client(&[], &["emergency_access", &nhs, reason]).await;
        assert_eq!(run.outcome(), json!({"outcome": "displayed", "scr_id": id}), "{reason}");
        let alerts = lane.alerts(&nhs).await;
        assert_eq!(alerts.len(), 1, "{reason}: {alerts:?}");
        let alert = &alerts[0];
        assert_eq!(alert["alert"]["alert_type"], alert_type, "{reason}");
        assert_eq!(alert["alert"]["alert_subtype"], subtype, "{reason}");
        assert_eq!(alert["alert"]["nhs_number"], nhs.as_str());
        assert_eq!(alert["alert"]["what"], id.as_str());
        assert_eq!(alert["alert"]["sds_user_id"], USER_ID);
        assert_eq!(alert["alert"]["role"], URID);
        assert_eq!(alert["session_urid"], URID);
    }

    // The patient's yes: read without an alert. (A legacy Yes is treated as Ask, so an override then alerts.)
    let permitted = nhs_number(990_200_301);
    lane.upload(&permitted).await;
    lane.set_permission(&permitted, json!("Yes")).await;
    assert_eq!(lane.client(&[], &["retrieve_with_answer", &permitted, "yes"]).await.outcome_name(), "displayed");
    assert!(lane.alerts(&permitted).await.is_empty());
    assert_eq!(lane.client(&[], &["emergency_access", &permitted, "emergency"]).await.outcome_name(), "displayed");
    assert_eq!(lane.alerts(&permitted).await.len(), 1, "an override of a legacy Yes raises its alert");

    // Dissent is not overridden; no SCR is no SCR.
    lane.set_permission(&permitted, json!("No")).await;
    assert_eq!(lane.client(&[], &["emergency_access", &permitted, "legal"]).await.outcome_name(), "no-consent");
    assert_eq!(lane.alerts(&permitted).await.len(), 1, "no further alert: a dissent is not overridden");
    let empty = nhs_number(990_200_401);
    assert_eq!(lane.client(&[], &["emergency_access", &empty, "emergency"]).await.outcome_name(), "no-scr");

    // no-alert: reads without the AuditEvent.
    let silent = nhs_number(990_200_501);
    lane.upload(&silent).await;
    let run = lane.client(&["no-alert"], &["emergency_access", &silent, "emergency"]).await;
    assert_eq!(run.outcome_name(), "displayed");
    assert!(lane.alerts(&silent).await.is_empty(), "no-alert sent no AuditEvent");

    // wrong-subtype: the emergency alert carries the legal subtype.
    let wrong = nhs_number(990_200_601);
    lane.upload(&wrong).await;
    assert_eq!(
        lane.client(&["wrong-subtype"], &["emergency_access", &wrong, "emergency"]).await.outcome_name(),
        "displayed"
    );
    let alerts = lane.alerts(&wrong).await;
    assert_eq!((alerts.len(), &alerts[0]["alert"]["alert_subtype"]), (1, &json!("2")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_get_fresh_ids_and_chain_their_relates_to() {
    let lane = Lane::start().await;
    let nhs = nhs_number(990_300_001);
    let first = lane.upload(&nhs).await;
    assert_ne!(first, "11111111-2222-3333-4444-555555555555", "a fresh Composition identifier");
    assert_eq!(first, first.to_uppercase(), "the id as the service knows it");
    assert!(lane.composition(&nhs, &first).await.get("relatesTo").is_none(), "nothing to replace");
    let second = lane.upload(&nhs).await;
    assert_ne!(first, second);
    assert_eq!(lane.scr_ids(&nhs).await, vec![first.clone(), second.clone()], "the latest id is the uploaded one");
    let composition = lane.composition(&nhs, &second).await;
    assert_eq!(composition["identifier"]["value"], second.as_str());
    assert_eq!(composition["relatesTo"], json!([{"code": "replaces", "targetIdentifier": {"value": first}}]));

    // invalid-bundle: the service refuses it; nothing is stored.
    let file = lane.bundle_file(&nhs);
    let run = lane.client(&["invalid-bundle"], &["upload", &nhs, &file.display().to_string()]).await;
    let outcome = run.outcome();
    assert_eq!(outcome["outcome"], "error");
    assert!(outcome["message"].as_str().is_some_and(|m| m.contains("status")), "{outcome}");
    assert_eq!(lane.scr_ids(&nhs).await, vec![first, second.clone()]);

    // Dissent: no upload.
    lane.set_permission(&nhs, json!("No")).await;
    let run = lane.client(&[], &["upload", &nhs, &file.display().to_string()]).await;
    assert_eq!(run.outcome(), json!({"outcome": "no-consent"}));
    assert_eq!(lane.scr_ids(&nhs).await.last(), Some(&second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_renews_through_the_rotated_refresh_token_once() {
    let lane = Lane::start().await;
    let nhs = nhs_number(990_400_001);
    let id = lane.upload(&nhs).await;
    lane.set_permission(&nhs, json!("Yes")).await;
    let session_file = lane.session.path().join("session.json");
    let refresh = lane.session_value("refresh_token");
    // The held token becomes unknown to the gateway (as an expired or revoked one would): 401, then renew.
    let mut session: Value =
        serde_json::from_str(&std::fs::read_to_string(&session_file).unwrap_or_default()).unwrap_or(Value::Null);
    session["access_token"] = json!("not-a-token-the-gateway-knows");
    std::fs::write(&session_file, session.to_string()).unwrap_or_else(|e| panic!("write session: {e}"));
    let run = lane.client(&[], &["retrieve_with_answer", &nhs, "yes"]).await;
    assert_eq!(run.outcome(), json!({"outcome": "displayed", "scr_id": id}), "{}", run.stderr);
    assert!(run.stderr.contains("401"), "{}", run.stderr);
    let renewed = lane.session_value("access_token");
    assert!(renewed.is_string() && renewed != json!("not-a-token-the-gateway-knows"));
    assert!(lane.session_value("refresh_token").is_string());
    assert_ne!(lane.session_value("refresh_token"), refresh, "the rotated refresh token is kept");

    // token-never-renewed: the 401 is reported.
    session["access_token"] = json!("not-a-token-the-gateway-knows");
    std::fs::write(&session_file, session.to_string()).unwrap_or_else(|e| panic!("write session: {e}"));
    let outcome = lane.client(&["token-never-renewed"], &["retrieve_with_answer", &nhs, "yes"]).await.outcome();
    assert_eq!(outcome["outcome"], "error");
    assert!(outcome["message"].as_str().is_some_and(|m| m.contains("401")), "{outcome}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_retried_and_bad_answers_are_errors() {
    let lane = Lane::start().await;
    let nhs = nhs_number(990_500_001);
    let id = lane.upload(&nhs).await;
    lane.set_permission(&nhs, json!("Yes")).await;

    // Two 503s, then the answer: within three attempts.
    lane.arm(json!({"operation": "get-scr-id", "fault": "unavailable", "count": 2, "match": nhs})).await;
    assert_eq!(
        lane.client(&[], &["retrieve_with_answer", &nhs, "yes"]).await.outcome(),
        json!({"outcome": "displayed", "scr_id": id})
    );
    assert_eq!(lane.admin(Method::GET, "/faults", None).await["faults"], json!([]), "both faults were taken");

    // Three 503 HTML pages: an error, never displayed.
    lane.arm(json!({"operation": "get-scr-id", "fault": "unavailable-html", "count": 3, "match": nhs})).await;
    let outcome = lane.client(&[], &["retrieve_with_answer", &nhs, "yes"]).await.outcome();
    assert_eq!(outcome["outcome"], "error", "{outcome}");

    // A malformed read is an error; shows-partial-data reports it displayed.
    lane.arm(json!({"operation": "get-scr", "fault": "malformed-json", "match": nhs})).await;
    assert_eq!(lane.client(&[], &["retrieve_with_answer", &nhs, "yes"]).await.outcome_name(), "error");
    lane.arm(json!({"operation": "get-scr", "fault": "malformed-json", "match": nhs})).await;
    assert_eq!(
        lane.client(&["shows-partial-data"], &["retrieve_with_answer", &nhs, "yes"]).await.outcome_name(),
        "displayed"
    );

    // An upload that timed out at the gateway after it was stored is re-sent with the same X-Request-ID:
    // the service answers 201 and stores nothing new.
    lane.arm(
        json!({"operation": "upload-scr", "fault": "gateway-timeout", "delayMs": 10, "processed": true, "match": nhs}),
    )
    .await;
    let file = lane.bundle_file(&nhs);
    let outcome = lane.client(&[], &["upload", &nhs, &file.display().to_string()]).await.outcome();
    assert_eq!(outcome["outcome"], "uploaded", "{outcome}");
    let ids = lane.scr_ids(&nhs).await;
    assert_eq!((ids.len(), ids.last()), (2, outcome["scr_id"].as_str().map(str::to_owned).as_ref()));

    // new-request-id-on-resend: the re-sent upload looks like a new one; the service refuses the duplicate.
    lane.arm(
        json!({"operation": "upload-scr", "fault": "gateway-timeout", "delayMs": 10, "processed": true, "match": nhs}),
    )
    .await;
    let outcome =
        lane.client(&["new-request-id-on-resend"], &["upload", &nhs, &file.display().to_string()]).await.outcome();
    assert_eq!(outcome["outcome"], "error", "{outcome}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_needs_a_registered_key() {
    let lane = Lane::start().await;
    // The rotation key is not registered with the fixture app: refused, the old key stays.
    let run = lane.client(&[], &["rotate_key", "scr-assure-reference-2"]).await;
    let outcome = run.outcome();
    assert_eq!(outcome["outcome"], "error");
    assert!(outcome["message"].as_str().is_some_and(|m| m.contains("kid")), "{outcome}");
    assert_eq!(lane.session_value("key"), "initial");
    // no-key-rotation answers done and keeps the old key.
    assert_eq!(
        lane.client(&["no-key-rotation"], &["rotate_key", "scr-assure-reference-2"]).await.outcome_name(),
        "done"
    );
    assert_eq!(lane.session_value("key"), "initial");
    let nhs = nhs_number(990_600_001);
    assert_eq!(lane.client(&[], &["retrieve", &nhs]).await.outcome_name(), "no-scr", "the session still works");

    // A next key the app has registered (here the fixture app's own key under its kid): done, and the session
    // signs with it from now on — the next token exchange too.
    let next = "test-app-private-key.pem";
    let run = lane.client_full(lane.session.path(), next, &[], &["rotate_key", "scr-assure-test-1"], None).await;
    assert_eq!(run.outcome(), json!({"outcome": "done"}));
    assert_eq!((lane.session_value("key"), lane.session_value("kid")), (json!("next"), json!("scr-assure-test-1")));
    let token = lane.session_value("access_token");
    let session_file = lane.session.path().join("session.json");
    let mut session: Value =
        serde_json::from_str(&std::fs::read_to_string(&session_file).unwrap_or_default()).unwrap_or(Value::Null);
    if let Some(members) = session.as_object_mut() {
        members.retain(|k, _| k == "key" || k == "kid");
    }
    std::fs::write(&session_file, session.to_string()).unwrap_or_else(|e| panic!("write session: {e}"));
    let run = lane.client_full(lane.session.path(), next, &[], &["retrieve", &nhs], None).await;
    assert_eq!(run.outcome_name(), "no-scr", "{}", run.stderr);
    assert_ne!(lane.session_value("access_token"), token, "a new token exchange, signed with the next key");
    // Without --next-key a rotated session cannot sign: a usage error.
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_scr-assure"));
    command.args([
        "reference-client",
        "--api-key",
        "scr-assure-test-app-key",
        "--kid",
        "scr-assure-test-1",
        "--key",
        &fixture("test-app-private-key.pem"),
        "retrieve",
        &nhs,
    ]);
    for (name, value) in lane.env(lane.session.path()) {
        command.env(name, value);
    }
    let output = command.output().await.unwrap_or_else(|e| panic!("run: {e}"));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--next-key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2_saying_what() {
    let lane = Lane::start().await;
    let nhs = nhs_number(990_700_001);
    let run = lane.client(&["frobnicate"], &["retrieve", &nhs]).await;
    assert_eq!(run.code, Some(2));
    assert!(run.stdout.is_empty(), "{:?}", run.stdout);
    assert!(
        run.stderr.contains("frobnicate") && run.stderr.contains("no-alert") && run.stderr.contains("no-key-rotation"),
        "{}",
        run.stderr
    );

    let run = lane.client_in(lane.session.path(), &[], &["retrieve", &nhs], Some("SCR_ASSURE_ID_TOKEN")).await;
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("SCR_ASSURE_ID_TOKEN"), "{}", run.stderr);

    let run = lane.client(&[], &["teleport", &nhs]).await;
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("teleport"), "{}", run.stderr);

    let run = lane.client(&[], &["retrieve_with_answer", &nhs, "perhaps"]).await;
    assert_eq!(run.code, Some(2));

    let listed = tokio::process::Command::new(env!("CARGO_BIN_EXE_scr-assure"))
        .args(["reference-client", "--list-defects"])
        .output()
        .await
        .unwrap_or_else(|e| panic!("run: {e}"));
    let text = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(listed.status.code(), Some(0));
    assert_eq!(text.lines().count(), scr_assure::refclient::Defect::ALL.len());
    assert!(text.lines().all(|l| l.split_whitespace().count() > 2), "{text}");
    assert!(!lane.session.path().join("session.json").exists(), "no usage error touched the session");
}
