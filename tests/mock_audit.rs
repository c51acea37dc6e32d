//! The mock's audit trail over HTTP: who each access is recorded as behind the gateway (the CIS2 user, the
//! app by name, `unverified` for a refusal before a token was verified), refusals of every layer with their
//! status, token calls by app name, no secret anywhere in the trail, `?since=` and the verify route, and the
//! sandbox profile's trail.

use reqwest::StatusCode;
use serde_json::Value;

use scr_assure::clock::Clock;
use scr_assure::mock::audit::{self, AuditEntry};
use scr_assure::mock::operation::Operation;
use scr_assure::mock::{self, MockConfig, Profile, RunningMock};
use scr_assure::runner::auth::{self, DefaultFlow};
use scr_assure::scr::{payloads, NhsNumber};
use scr_assure::secret::Secret;

const FHIR_JSON: &str = "application/fhir+json";
const URID: &str = "555254242102";
const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap_or_else(|e| panic!("an HTTP client builds: {e}"))
}

async fn start(profile: Profile, gateway: bool) -> RunningMock {
    let config = MockConfig { seed: false, auth: gateway, clock: Clock::frozen_now(), ..MockConfig::loopback(profile) };
    mock::start(config).await.unwrap_or_else(|e| panic!("the mock starts: {e}"))
}

async fn get_json(http: &reqwest::Client, url: &str) -> (StatusCode, Value) {
    let response = http.get(url).send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status();
    (status, response.json().await.unwrap_or_else(|e| panic!("{url}: not JSON: {e}")))
}

async fn trail(http: &reqwest::Client, origin: &str, since: u64) -> (String, Vec<AuditEntry>) {
    let url = format!("{origin}/_admin/audit?since={since}");
    let response = http.get(&url).send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let text = response.text().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let entries = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not a list of entries: {e}"));
    (text, entries)
}

/// Sends one request and returns its status and the X-Request-ID it carried.
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&Secret>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, String) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut request = http.request(method, url).header("X-Request-ID", &request_id);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {}", token.expose()));
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    (response.status().as_u16(), request_id)
}

fn entry_for<'a>(entries: &'a [AuditEntry], request_id: &str) -> &'a AuditEntry {
    let found: Vec<&AuditEntry> = entries.iter().filter(|e| e.request_id.as_deref() == Some(request_id)).collect();
    match found.as_slice() {
        [one] => one,
        other => panic!("request {request_id} is in the trail {} times: {entries:#?}", other.len()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_the_gateway_the_trail_names_user_app_or_refusal_and_holds_no_secret() {
    let mock = start(Profile::Stateful, true).await;
    let (base, origin, http) = (mock.base_url(), mock.origin(), http());
    let nhs = NhsNumber::from_stem(999_410_001).or_else(|| NhsNumber::from_stem(999_410_002)).map(|n| n.to_string());
    let nhs = nhs.unwrap_or_else(|| panic!("a stem near 999410001 has a check digit"));
    let doc_ref = format!("{base}/DocumentReference?patient={NHS_SYSTEM}|{nhs}");

    let mock_auth =
        auth::mock_auth(&origin, &scr_assure::client::ClientOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let now = Clock::system().now();
    let app_token = mock_auth
        .obtain(&DefaultFlow::Application, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .granted()
        .map(|t| t.access_token.clone())
        .unwrap_or_else(|| panic!("client credentials granted"));
    let user_token = mock_auth
        .obtain(&DefaultFlow::Combined { persona: auth::DEFAULT_PERSONA.into() }, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .granted()
        .map(|t| t.access_token.clone())
        .unwrap_or_else(|| panic!("combined authentication granted"));
    let user_id = mock
        .identity()
        .and_then(|i| i.personas().get(auth::DEFAULT_PERSONA))
        .map(|p| p.user_id.clone())
        .unwrap_or_else(|| panic!("the default persona exists"));

    let post = |urid: &'static str| vec![("Content-Type", FHIR_JSON), ("NHSD-Session-URID", urid)];
    let get = reqwest::Method::GET;
    let (no_token, no_token_id) = call(&http, get.clone(), &doc_ref, None, &[], None).await;
    let (app_read, app_read_id) = call(&http, get.clone(), &doc_ref, Some(&app_token), &[], None).await;
    let (consent, consent_id) = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/$setPermission"),
        Some(&user_token),
        &post(URID),
        Some(payloads::set_permission(&nhs, "Yes")),
    )
    .await;
    let (wrong_media, wrong_media_id) = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/AuditEvent"),
        Some(&user_token),
        &[("Content-Type", "application/json"), ("NHSD-Session-URID", URID)],
        Some(payloads::privacy_alert(&nhs, "1", "3", "X")),
    )
    .await;
    let (alert, alert_id) = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/AuditEvent"),
        Some(&user_token),
        &post(URID),
        Some(payloads::privacy_alert(&nhs, "2", "5", &uuid::Uuid::new_v4().to_string())),
    )
    .await;
    assert_eq!((no_token, app_read, consent, wrong_media, alert), (401, 200, 201, 415, 201));
    let bad_id = http
        .get(&doc_ref)
        .header("Authorization", format!("Bearer {}", user_token.expose()))
        .header("X-Request-ID", "not-a-uuid")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bad_id.status(), StatusCode::BAD_REQUEST);

    let (text, entries) = trail(&http, &origin, 0).await;
    let e = entry_for(&entries, &no_token_id);
    assert_eq!(
        (e.operation, e.status, e.who.as_str(), e.patient.as_deref()),
        (Operation::GetScrId, 401, audit::UNVERIFIED, None)
    );
    let e = entry_for(&entries, &app_read_id);
    assert_eq!((e.status, e.who.as_str(), e.patient.as_deref()), (200, "scr-assure-test", Some(nhs.as_str())));
    let e = entry_for(&entries, &consent_id);
    assert_eq!(
        (e.operation, e.who.as_str(), e.role.as_deref(), e.permission.as_deref()),
        (Operation::SetPermission, user_id.as_str(), Some(URID), Some("Yes"))
    );
    assert_eq!(entry_for(&entries, &wrong_media_id).status, 415, "a refusal of the transport layer is recorded");
    let e = entry_for(&entries, &alert_id);
    assert_eq!(
        e.alert.as_ref().map(|a| (a.alert_type.as_str(), a.subtype.as_str())),
        Some(("2", "5")),
        "the alert raised"
    );
    let last = entries.last().unwrap_or_else(|| panic!("the trail is not empty"));
    assert_eq!((last.status, last.request_id.as_deref()), (400, None), "the malformed X-Request-ID is not recorded");
    let tokens: Vec<&AuditEntry> = entries.iter().filter(|e| e.operation == Operation::Token).collect();
    assert!(tokens.len() >= 2, "both token grants are recorded: {tokens:#?}");
    assert!(tokens.iter().all(|e| e.who == "scr-assure-test" && e.status == 200), "{tokens:#?}");

    for secret in [app_token.expose(), user_token.expose(), "scr-assure-test-app-key"] {
        assert!(!text.contains(secret), "the trail holds a secret");
    }
    let client_secret = std::fs::read_to_string("fixtures/identity/test-app-client-secret.txt").unwrap_or_default();
    let client_secret = client_secret.lines().find(|l| !l.starts_with('#') && !l.trim().is_empty()).unwrap_or("");
    assert!(client_secret.len() > 8 && !text.contains(client_secret.trim()), "the trail holds the client secret");

    let (_, tail) = trail(&http, &origin, 3).await;
    assert_eq!(tail, entries[3..].to_vec(), "?since=3 answers the entries after seq 3");
    let (status, verdict) = get_json(&http, &format!("{origin}/_admin/audit/verify")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verdict["valid"], Value::Bool(true));
    assert_eq!(verdict["entries"].as_u64(), Some(entries.len() as u64));
    assert_eq!(verdict["head"].as_str(), entries.last().map(|e| e.hash.as_str()));
    let (status, _) = get_json(&http, &format!("{origin}/_admin/audit?since=x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_profile_keeps_a_trail_too() {
    let mock = start(Profile::Sandbox, false).await;
    let (base, origin, http) = (mock.base_url(), mock.origin(), http());
    let url = format!("{base}/DocumentReference?patient={NHS_SYSTEM}|9000000009");
    let (status, id) = call(&http, reqwest::Method::GET, &url, None, &[], None).await;
    assert_eq!(status, 200);
    let (_, entries) = trail(&http, &origin, 0).await;
    let e = entry_for(&entries, &id);
    assert_eq!(
        (e.who.as_str(), e.permission.as_deref(), e.patient.as_deref()),
        (audit::OPEN_ACCESS, Some("Yes"), Some("9000000009"))
    );
    assert_eq!(mock.audit_entries(), entries, "the running mock hands out the same trail");
    let (status, _) = get_json(&http, &format!("{origin}/_admin/patients/9000000009")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the other admin routes stay stateful-only");
    mock.shutdown().await;
}

#[tokio::test]
async fn entries_are_dated_by_the_wall_clock_with_the_virtual_clock_beside_it() {
    // A mock whose virtual clock a scenario moved a day ahead: `at` follows it, `wall` stays real time.
    let virtual_clock = Clock::fixed(Clock::system().now() + chrono::Duration::days(1));
    let config = MockConfig {
        seed: false,
        auth: false,
        clock: virtual_clock.clone(),
        ..MockConfig::loopback(Profile::Stateful)
    };
    let m = mock::start(config).await.unwrap_or_else(|e| panic!("the mock starts: {e}"));
    let before = scr_assure::clock::wall_timestamp();
    let url = format!("{}/summary-care-record/FHIR/R4/DocumentReference?patient={NHS_SYSTEM}|9000000009", m.origin());
    let (status, _) = call(&http(), reqwest::Method::GET, &url, None, &[("NHSD-Session-URID", URID)], None).await;
    let after = scr_assure::clock::wall_timestamp();
    let (text, entries) = trail(&http(), &m.origin(), 0).await;
    let entry = entries.last().unwrap_or_else(|| panic!("one entry: {text}"));
    assert_eq!(entry.status, status);
    assert_eq!(entry.at, virtual_clock.timestamp(), "`at` is the mock's (virtual) clock");
    let wall = entry.wall.clone().unwrap_or_default();
    assert!(before <= wall && wall <= after, "`wall` is the wall clock: {before} <= {wall} <= {after}");
    assert!(text.contains("\"wall\":"), "served over HTTP: {text}");
    assert_eq!(audit::verify(&entries), Ok(()), "the wall time is in the hashed content and the chain holds");
    m.shutdown().await;
}
