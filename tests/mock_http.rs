//! The embedded mock SCR service driven over real HTTP on 127.0.0.1 (never through its internals): every
//! endpoint and rule family of `reference/scr-api.md` §3, §4 and §6, with exact statuses, media types and
//! OperationOutcome texts.
//!
//! Expected texts are written out literally from the reference rather than taken from `scr::texts`, so these
//! tests are an independent oracle for the mock. Each test starts its own mock and uses its own NHS numbers
//! (stems `999_2TT_xxx`, `TT` distinct per test), so the tests run in parallel safely.

use std::collections::BTreeSet;

use reqwest::header::{HeaderMap, ALLOW, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use scr_assure::mock::{self, MockConfig, Profile, RunningMock};
use scr_assure::scr::{payloads, NhsNumber};

const FHIR_JSON: &str = "application/fhir+json";
const URID: &str = "555254240100";
const SEED_NHS: &str = "9995000180";
const SEED_SCR_ID: &str = "FA60BE64-1F34-11EB-A2A8-000C29A364EB";
const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

/// Reference §4.1: PSIS 420 + 30418, with the double space in "control  which".
const NO_CONSENT: &str = "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource";
/// Reference §4.4: Spine's answer to `$setPermission` for an NHS number it does not know.
const ACS_INVALID_NHS: &str = "Code: 400, Display: Invalid Request;Code: 35160, Display: [PSIS-35160] - Invalid input message. Mandatory field NHS Number is missing or incorrect";
/// Reference §4.3: Spine's NACK of an upload for an NHS number it does not know.
const UPLOAD_NACK_INVALID_NHS: &str = "Spine processing finished with errors:\n- 400: Invalid Request\n- 35160: [PSIS-35160] - Invalid input message. Mandatory field NHS Number is missing or incorrect";

/// Request headers of one case.
type Headers<'a> = Vec<(&'a str, &'a str)>;

fn invalid_uuid_text(header: &str) -> String {
    format!(
        "Invalid {header}. Should be a UUIDv4 matching \"^[0-9a-fA-F]{{8}}+-[0-9a-fA-F]{{4}}+-[0-9a-fA-F]{{4}}+-[0-9a-fA-F]{{4}}+-[0-9a-fA-F]{{12}}+$\""
    )
}

fn missing_header_text(name: &str) -> String {
    format!("Required request header '{name}' for method parameter type String is not present")
}

/// `n` valid NHS numbers from consecutive stems starting at `first_stem` (stems without a check digit skipped).
fn nhs_numbers(first_stem: u64, n: usize) -> Vec<String> {
    (first_stem..).filter_map(NhsNumber::from_stem).take(n).map(|n| n.to_string()).collect()
}

fn nhs_number(first_stem: u64) -> String {
    nhs_numbers(first_stem, 1).pop().expect("a stem near this one has a check digit")
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// One HTTP answer, read completely.
struct Reply {
    what: String,
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn content_type(&self) -> Option<&str> {
        self.header(CONTENT_TYPE.as_str())
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!("{}: body is not JSON ({e}); status {}, body {:?}", self.what, self.status, self.body)
        })
    }

    #[track_caller]
    fn assert_status(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "{}: unexpected status; body: {}", self.what, self.body);
    }

    /// A FHIR JSON answer with this status; returns the parsed body.
    #[track_caller]
    fn fhir(&self, status: u16) -> Value {
        self.assert_status(status);
        let ct = self.content_type().unwrap_or("");
        assert!(
            ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case(FHIR_JSON)),
            "{}: Content-Type {ct:?} is not {FHIR_JSON}",
            self.what
        );
        self.json()
    }

    /// Exactly the backend's one-issue OperationOutcome (reference §3.4).
    #[track_caller]
    fn assert_outcome(&self, status: u16, code: &str, text: &str) {
        let body = self.fhir(status);
        let expected = json!({
            "resourceType": "OperationOutcome",
            "issue": [{ "severity": "error", "code": code, "details": { "text": text } }]
        });
        assert!(
            body == expected,
            "{}: OperationOutcome differs\n--- expected\n{}\n--- actual\n{}",
            self.what,
            pretty(&expected),
            pretty(&body)
        );
    }

    /// 400 `value` with this text.
    #[track_caller]
    fn assert_bad_request(&self, text: &str) {
        self.assert_outcome(400, "value", text);
    }

    /// 403 `forbidden` with the PSIS-420 text.
    #[track_caller]
    fn assert_no_consent(&self) {
        self.assert_outcome(403, "forbidden", NO_CONSENT);
    }

    /// 201 with an empty body (reference §4.3–§4.5).
    #[track_caller]
    fn assert_created(&self) {
        self.assert_status(201);
        assert!(self.body.is_empty(), "{}: 201 body should be empty: {:?}", self.what, self.body);
    }

    /// `{"resourceType":"Bundle","id":…,"type":"searchset","total":0}` and nothing else (reference §4.1).
    #[track_caller]
    fn assert_empty_searchset(&self) {
        let body = self.fhir(200);
        let keys: BTreeSet<&str> = body.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        assert_eq!(
            keys,
            BTreeSet::from(["id", "resourceType", "total", "type"]),
            "{}: empty searchset members: {}",
            self.what,
            pretty(&body)
        );
        assert_eq!(
            (&body["resourceType"], &body["type"], &body["total"]),
            (&json!("Bundle"), &json!("searchset"), &json!(0)),
            "{}",
            self.what
        );
        let id = body["id"].as_str().unwrap_or("");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{}: Bundle.id {id:?} is not a UUID", self.what);
    }
}

/// A running mock and a client that talks to it over loopback HTTP only.
struct Mock {
    running: RunningMock,
    http: reqwest::Client,
}

impl Mock {
    async fn start(profile: Profile) -> Self {
        let running = mock::start(MockConfig::loopback(profile)).await.expect("the mock starts on 127.0.0.1");
        let http = reqwest::Client::builder().no_proxy().build().expect("an HTTP client builds");
        Self { running, http }
    }

    fn base(&self) -> String {
        self.running.base_url()
    }

    fn origin(&self) -> String {
        self.running.origin()
    }

    async fn send(&self, method: Method, url: &str, headers: &[(&str, &str)], body: Option<String>) -> Reply {
        send(&self.http, method, url, headers, body).await
    }

    /// GET `<base><path>` with no extra headers.
    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, &format!("{}{path}", self.base()), &[], None).await
    }

    /// POST `<base><path>` with the headers every POST needs.
    async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, &format!("{}{path}", self.base()), &post_headers(), Some(body.to_string())).await
    }

    async fn doc_ref(&self, nhs: &str) -> Reply {
        self.get(&format!("/DocumentReference?patient={NHS_SYSTEM}|{nhs}")).await
    }

    async fn read_scr(&self, id: &str, nhs: &str) -> Reply {
        self.get(&format!(
            "/Bundle?composition.identifier={id}&composition.subject:Patient.identifier={NHS_SYSTEM}|{nhs}"
        ))
        .await
    }

    async fn upload(&self, nhs: &str, id: &str, replaces: Option<&str>) -> Reply {
        self.post("/Bundle", &payloads::upload_bundle(nhs, id, replaces)).await
    }

    async fn set_permission(&self, nhs: &str, code: &str) -> Reply {
        self.post("/$setPermission", &payloads::set_permission(nhs, code)).await
    }

    async fn admin(&self, method: Method, path: &str, body: Option<&str>) -> Reply {
        self.send(method, &format!("{}/_admin{path}", self.origin()), &[], body.map(str::to_owned)).await
    }

    async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

fn post_headers() -> [(&'static str, &'static str); 3] {
    [("Content-Type", FHIR_JSON), ("NHSD-Session-URID", URID), ("Authorization", "Bearer test")]
}

async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Reply {
    let what = format!("{method} {url}");
    let mut request = http.request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{what}: request failed: {e}"));
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_else(|e| panic!("{what}: body unreadable: {e}"));
    Reply { what, status, headers, body }
}

/// The single DocumentReference of a `GET /DocumentReference` answer with an SCR, checked for the NHS
/// shape (reference §4.1); returns `(masterIdentifier.value, securityLabel code)`.
#[track_caller]
fn document_reference_summary(reply: &Reply, base: &str, nhs: &str) -> (String, String) {
    let body = reply.fhir(200);
    let what = &reply.what;
    assert_eq!(body["resourceType"], "Bundle", "{what}");
    assert_eq!(body["type"], "searchset", "{what}");
    assert_eq!(body["total"], 1, "{what}: {}", pretty(&body));
    let entries = body["entry"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2, "{what}: {}", pretty(&body));
    let doc = &entries[0]["resource"];
    let patient = &entries[1]["resource"];
    assert_eq!(doc["resourceType"], "DocumentReference", "{what}");
    assert_eq!(patient["resourceType"], "Patient", "{what}");
    let doc_id = doc["id"].as_str().unwrap_or("");
    let patient_id = patient["id"].as_str().unwrap_or("");
    assert!(!doc_id.is_empty() && !patient_id.is_empty(), "{what}");
    assert_eq!(entries[0]["fullUrl"], json!(format!("{base}/DocumentReference/{doc_id}")), "{what}");
    assert_eq!(entries[0]["search"], json!({ "mode": "match" }), "{what}");
    // The Patient's fullUrl is its bare id, not a URL (reference §4.1 quirk).
    assert_eq!(entries[1]["fullUrl"], json!(patient_id), "{what}");
    assert_eq!(patient["identifier"], json!([{ "system": NHS_SYSTEM, "value": nhs }]), "{what}");
    assert_eq!(doc["subject"]["reference"], json!(format!("Patient/{patient_id}")), "{what}");
    assert_eq!(doc["masterIdentifier"]["system"], "https://fhir.nhs.uk/Id/nhsSCRUUID", "{what}");
    assert_eq!(doc["status"], "current", "{what}");
    let gp_summary = json!({ "coding": [{
        "system": "http://snomed.info/sct", "code": "196981000000101", "display": " General Practice Summary"
    }]});
    assert_eq!(doc["type"], gp_summary, "{what}: leading-space display");
    assert_eq!(doc["context"]["event"], json!([gp_summary]), "{what}");
    let scr_id = doc["masterIdentifier"]["value"].as_str().unwrap_or("").to_owned();
    assert_eq!(
        doc["content"],
        json!([{ "attachment": { "url": format!(
            "{base}/Bundle?composition.identifier={scr_id}&composition.subject:Patient.identifier={NHS_SYSTEM}|{nhs}"
        ) } }]),
        "{what}"
    );
    let labels = doc["securityLabel"].as_array().cloned().unwrap_or_default();
    assert_eq!(labels.len(), 1, "{what}");
    assert_eq!(labels[0]["coding"][0]["system"], "https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission", "{what}");
    let permission = labels[0]["coding"][0]["code"].as_str().unwrap_or("").to_owned();
    (scr_id, permission)
}

/// A `GET /Bundle` answer holding a document (reference §4.2): a searchset whose `total` counts its entries,
/// Composition first with `scr_id`, Patient last with `nhs`, every `fullUrl` `<base>/<Type>/<id>`.
#[track_caller]
fn assert_scr_document(reply: &Reply, base: &str, scr_id: &str, nhs: &str) -> Value {
    let body = reply.fhir(200);
    let what = &reply.what;
    assert_eq!(body["resourceType"], "Bundle", "{what}");
    assert_eq!(body["type"], "searchset", "{what}");
    let entries = body["entry"].as_array().cloned().unwrap_or_default();
    assert!(entries.len() >= 2, "{what}: {}", pretty(&body));
    assert_eq!(body["total"], json!(entries.len()), "{what}");
    let first = &entries[0]["resource"];
    assert_eq!(first["resourceType"], "Composition", "{what}");
    assert_eq!(first["identifier"]["value"], json!(scr_id), "{what}: Composition.identifier");
    let last = &entries[entries.len() - 1]["resource"];
    assert_eq!(last["resourceType"], "Patient", "{what}");
    assert_eq!(last["identifier"][0]["value"], json!(nhs), "{what}: Patient NHS number");
    for entry in &entries {
        let kind = entry["resource"]["resourceType"].as_str().unwrap_or("");
        let id = entry["resource"]["id"].as_str().unwrap_or("");
        assert!(!kind.is_empty() && !id.is_empty(), "{what}: {entry}");
        assert_eq!(entry["fullUrl"], json!(format!("{base}/{kind}/{id}")), "{what}: fullUrl of {kind}/{id}");
    }
    body
}

// ---------------------------------------------------------------------------------------------------------
// Housekeeping and transport (reference §3, §4.6)
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn ping_and_healthcheck_answer_without_auth() {
    let mock = Mock::start(Profile::Stateful).await;
    let ping = mock.get("/_ping").await;
    ping.assert_status(200);
    assert!(ping.content_type().is_some_and(|ct| ct.starts_with("application/json")), "{:?}", ping.content_type());
    let body = ping.json();
    assert!(body["version"].as_str().is_some_and(|v| !v.is_empty()), "_ping has a version: {body}");
    mock.get("/healthcheck").await.assert_status(200);
    mock.shutdown().await;
}

#[tokio::test]
async fn invalid_tracing_ids_are_rejected_before_anything_else_without_echo() {
    let mock = Mock::start(Profile::Stateful).await;
    let doc_ref = format!("{}/DocumentReference?patient={NHS_SYSTEM}|{SEED_NHS}", mock.base());
    let valid = "6a2ee5e0-5d4b-4b8e-9d3c-5b0d0a7d8f11";
    let cases: [(&str, Headers, String); 5] = [
        ("invalid X-Correlation-ID", vec![("X-Correlation-ID", "not-a-uuid")], invalid_uuid_text("X-Correlation-ID")),
        ("invalid X-Request-ID", vec![("X-Request-ID", "12345")], invalid_uuid_text("X-Request-ID")),
        (
            "both invalid: X-Correlation-ID is checked first",
            vec![("X-Request-ID", "bad-request-id"), ("X-Correlation-ID", "bad-correlation-id")],
            invalid_uuid_text("X-Correlation-ID"),
        ),
        (
            "valid X-Correlation-ID, invalid X-Request-ID",
            vec![("X-Correlation-ID", valid), ("X-Request-ID", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz")],
            invalid_uuid_text("X-Request-ID"),
        ),
        (
            "UUID with braces",
            vec![("X-Correlation-ID", "{6a2ee5e0-5d4b-4b8e-9d3c-5b0d0a7d8f11}")],
            invalid_uuid_text("X-Correlation-ID"),
        ),
    ];
    for (case, headers, text) in &cases {
        let reply = mock.send(Method::GET, &doc_ref, headers, None).await;
        reply.assert_bad_request(text);
        assert_eq!(reply.header("X-Request-ID"), None, "{case}: no echo");
        assert_eq!(reply.header("X-Correlation-ID"), None, "{case}: no echo");
    }
    // The filter runs before routing: an unknown path, a wrong method and a wrong media type all give the
    // id error, not 404/405/415.
    let not_found = format!("{}/NotFound", mock.base());
    let reply = mock.send(Method::GET, &not_found, &[("X-Correlation-ID", "nope")], None).await;
    reply.assert_bad_request(&invalid_uuid_text("X-Correlation-ID"));
    assert_eq!(reply.header("X-Correlation-ID"), None);
    let bundle = format!("{}/Bundle", mock.base());
    mock.send(Method::PUT, &bundle, &[("X-Request-ID", "nope")], None)
        .await
        .assert_bad_request(&invalid_uuid_text("X-Request-ID"));
    mock.send(Method::POST, &bundle, &[("X-Request-ID", "nope"), ("Content-Type", "text/plain")], Some("x".into()))
        .await
        .assert_bad_request(&invalid_uuid_text("X-Request-ID"));
    mock.shutdown().await;
}

#[tokio::test]
async fn valid_tracing_ids_are_echoed_exactly_and_absent_ones_generated_upper_case() {
    let mock = Mock::start(Profile::Stateful).await;
    let doc_ref = format!("{}/DocumentReference?patient={NHS_SYSTEM}|{SEED_NHS}", mock.base());
    let pairs = [
        // lower-case v4
        ("0b8f7e3e-2d5c-4c1e-9a77-3f1b9a7c5d20", "c4f3a1d2-8e7b-4a6c-b5d4-e3f2a1b0c9d8"),
        // upper-case v4
        ("0B8F7E3E-2D5C-4C1E-9A77-3F1B9A7C5D20", "C4F3A1D2-8E7B-4A6C-B5D4-E3F2A1B0C9D8"),
        // not v4 (a v1 time-based id) and mixed case: any UUID version passes, despite the message
        (SEED_SCR_ID, "fa60be64-1F34-11eb-A2A8-000c29a364eb"),
    ];
    for (correlation, request) in pairs {
        let reply = mock
            .send(Method::GET, &doc_ref, &[("X-Correlation-ID", correlation), ("X-Request-ID", request)], None)
            .await;
        reply.assert_status(200);
        assert_eq!(reply.header("X-Correlation-ID"), Some(correlation));
        assert_eq!(reply.header("X-Request-ID"), Some(request));
    }
    // Echoed on an error that passed the filter too.
    let reply =
        mock.send(Method::GET, &format!("{}/NotFound", mock.base()), &[("X-Correlation-ID", pairs[0].0)], None).await;
    reply.assert_status(404);
    assert_eq!(reply.header("X-Correlation-ID"), Some(pairs[0].0));
    // Absent: generated, upper-case UUIDs.
    for reply in [mock.send(Method::GET, &doc_ref, &[], None).await, mock.get("/NotFound").await] {
        for name in ["X-Correlation-ID", "X-Request-ID"] {
            let value = reply.header(name).unwrap_or_else(|| panic!("{}: {name} generated when absent", reply.what));
            assert!(
                uuid::Uuid::parse_str(value).is_ok() && value == value.to_uppercase(),
                "{}: generated {name} {value:?} is an upper-case UUID",
                reply.what
            );
        }
    }
    mock.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_are_404_with_the_path() {
    let mock = Mock::start(Profile::Stateful).await;
    mock.get("/NotFound").await.assert_outcome(404, "not-found", "/NotFound not found");
    mock.get("/Patient?identifier=9995000180").await.assert_outcome(404, "not-found", "/Patient not found");
    mock.shutdown().await;
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow_before_any_media_type_check() {
    let mock = Mock::start(Profile::Stateful).await;
    let base = mock.base();
    let cases = [
        (Method::PUT, "/Bundle", "GET,POST"),
        (Method::DELETE, "/Bundle", "GET,POST"),
        (Method::DELETE, "/DocumentReference", "GET"),
        (Method::POST, "/DocumentReference", "GET"),
        (Method::GET, "/$setPermission", "POST"),
        (Method::GET, "/%24setPermission", "POST"),
        (Method::PUT, "/$setPermission", "POST"),
        (Method::GET, "/AuditEvent", "POST"),
        (Method::PATCH, "/AuditEvent", "POST"),
    ];
    for (method, path, allow) in cases {
        let text = format!("Request method '{method}' not supported");
        // Without a body and with a body of an unsupported media type: 405 is decided first.
        for (headers, body) in [(vec![], None), (vec![("Content-Type", "text/plain")], Some("hello".to_owned()))] {
            let reply = mock.send(method.clone(), &format!("{base}{path}"), &headers, body).await;
            reply.assert_outcome(405, "not-supported", &text);
            assert_eq!(reply.headers.get(ALLOW).and_then(|v| v.to_str().ok()), Some(allow), "{}: Allow", reply.what);
        }
    }
    mock.shutdown().await;
}

#[tokio::test]
async fn posts_need_fhir_json_and_accept_a_charset_parameter() {
    let mock = Mock::start(Profile::Stateful).await;
    let base = mock.base();
    let nhs = nhs_number(999_205_000);
    let bodies = [
        ("/Bundle", payloads::upload_bundle(&nhs, &new_id(), None).to_string()),
        ("/$setPermission", payloads::set_permission(&nhs, "Ask").to_string()),
        ("/%24setPermission", payloads::set_permission(&nhs, "Yes").to_string()),
        ("/AuditEvent", payloads::privacy_alert(&nhs, "2", "5", SEED_SCR_ID).to_string()),
    ];
    for (path, body) in &bodies {
        let url = format!("{base}{path}");
        let others = [("NHSD-Session-URID", URID), ("Authorization", "Bearer test")];
        let with = |ct: &'static str| {
            let mut h = others.to_vec();
            h.push(("Content-Type", ct));
            h
        };
        mock.send(Method::POST, &url, &with("text/plain"), Some(body.clone())).await.assert_outcome(
            415,
            "not-supported",
            "Content type 'text/plain' not supported",
        );
        mock.send(Method::POST, &url, &others, Some(body.clone())).await.assert_outcome(
            415,
            "not-supported",
            "Content type '' not supported",
        );
        mock.send(Method::POST, &url, &with("application/json"), Some(body.clone())).await.assert_outcome(
            415,
            "not-supported",
            "Content type 'application/json' not supported",
        );
    }
    // `application/fhir+json;charset=UTF-8` is accepted; the Bundle upload must be fresh, so rebuild it.
    let accepted = [
        ("/Bundle", payloads::upload_bundle(&nhs, &new_id(), None).to_string()),
        ("/$setPermission", payloads::set_permission(&nhs, "Ask").to_string()),
        ("/%24setPermission", payloads::set_permission(&nhs, "Yes").to_string()),
        ("/AuditEvent", payloads::privacy_alert(&nhs, "2", "5", SEED_SCR_ID).to_string()),
    ];
    for (path, body) in accepted {
        mock.send(
            Method::POST,
            &format!("{base}{path}"),
            &[
                ("Content-Type", "application/fhir+json;charset=UTF-8"),
                ("NHSD-Session-URID", URID),
                ("Authorization", "Bearer test"),
            ],
            Some(body),
        )
        .await
        .assert_created();
    }
    // The encoded `$setPermission` really routed to $setPermission: the last code sent was Yes.
    let (_, permission) = document_reference_summary(&mock.doc_ref(&nhs).await, &base, &nhs);
    assert_eq!(permission, "Yes");
    mock.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// GET /DocumentReference and GET /Bundle parameters (reference §4.1, §4.2)
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn document_reference_accepts_raw_and_encoded_pipes_and_rejects_bad_parameters() {
    let mock = Mock::start(Profile::Stateful).await;
    let base = mock.base();
    for query in [
        format!("patient={NHS_SYSTEM}|{SEED_NHS}"),
        format!("patient={NHS_SYSTEM}%7C{SEED_NHS}"),
        format!("patient=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7c{SEED_NHS}"),
        format!(
            "patient={NHS_SYSTEM}|{SEED_NHS}&_sort=date&type=http://snomed.info/sct|196981000000101&_count=1"
        ),
        format!(
            "patient={NHS_SYSTEM}%7C{SEED_NHS}&_sort=date&type=http%3A%2F%2Fsnomed.info%2Fsct%7C196981000000101&_count=1"
        ),
    ] {
        let reply = mock.get(&format!("/DocumentReference?{query}")).await;
        let (scr_id, permission) = document_reference_summary(&reply, &base, SEED_NHS);
        assert_eq!(
            (scr_id.as_str(), permission.as_str()),
            (SEED_SCR_ID, "Yes"),
            "{query}"
        );
    }
    let patient = format!("patient={NHS_SYSTEM}|{SEED_NHS}");
    let missing_patient = "Required request parameter 'patient' for method parameter type String is not present";
    let bad: Vec<(String, String)> = vec![
        (String::new(), missing_patient.into()),
        ("_count=1".into(), missing_patient.into()),
        ("patient=INVALID%20NHS%20NUMBER".into(), "Invalid value - INVALID NHS NUMBER in field 'patient'".into()),
        (format!("patient={SEED_NHS}"), format!("Invalid value - {SEED_NHS} in field 'patient'")),
        (format!("patient={NHS_SYSTEM}|"), format!("Invalid value - {NHS_SYSTEM}| in field 'patient'")),
        (
            format!("patient=https://fhir.nhs.uk/Id/nhs-numbers|{SEED_NHS}"),
            format!("Invalid value - https://fhir.nhs.uk/Id/nhs-numbers|{SEED_NHS} in field 'patient'"),
        ),
        (
            format!("{patient}&type=http://snomed.info/sct|123"),
            "Invalid value - http://snomed.info/sct|123 in field 'type'".into(),
        ),
        (format!("{patient}&_sort=-date"), "Invalid value - -date in field '_sort'".into()),
        (format!("{patient}&_count=abc"), "Invalid value - abc in field '_count'".into()),
        (format!("{patient}&_count=2"), "Invalid value - 2 in field '_count'".into()),
        // Spring's order: _count's Integer conversion first; then every validator's violation in one text.
        (format!("_count=x&_sort=y&type=z&{patient}"), "Invalid value - x in field '_count'".into()),
        (
            format!("_sort=y&type=z&{patient}"),
            "Invalid value - z in field 'type', getScrId.sort: Invalid value - y in field '_sort'".into(),
        ),
    ];
    for (query, text) in &bad {
        let reply = mock.get(&format!("/DocumentReference?{query}")).await;
        reply.assert_bad_request(text);
        assert!(reply.header("X-Request-ID").is_some(), "{}: 400 after the filter still carries the ids", reply.what);
    }
    let bundle_bad: Vec<(String, String)> = vec![
        (
            String::new(),
            "Required request parameter 'composition.identifier' for method parameter type String is not present".into(),
        ),
        (
            format!("composition.subject:Patient.identifier={NHS_SYSTEM}|{SEED_NHS}"),
            "Required request parameter 'composition.identifier' for method parameter type String is not present".into(),
        ),
        (
            format!("composition.identifier={SEED_SCR_ID}"),
            "Required request parameter 'composition.subject:Patient.identifier' for method parameter type String is not present".into(),
        ),
        (
            "composition.identifier=INVALID%20ID&composition.subject:Patient.identifier=INVALID%20NHS%20NUMBER".into(),
            // The field is named 'patient' even for this parameter (reference §4.2).
            "Invalid value - INVALID NHS NUMBER in field 'patient'".into(),
        ),
    ];
    for (query, text) in &bundle_bad {
        mock.get(&format!("/Bundle?{query}")).await.assert_bad_request(text);
    }
    mock.shutdown().await;
}

#[tokio::test]
async fn document_reference_for_unknown_and_seed_patients() {
    let mock = Mock::start(Profile::Stateful).await;
    let base = mock.base();
    let unknown = nhs_number(999_207_000);
    mock.doc_ref(&unknown).await.assert_empty_searchset();
    // The adaptor does not checksum the NHS number on reads: an invalid one is just unknown.
    mock.doc_ref("1234567890").await.assert_empty_searchset();
    mock.read_scr(SEED_SCR_ID, &unknown).await.assert_empty_searchset();

    let reply = mock.doc_ref(SEED_NHS).await;
    let (scr_id, permission) = document_reference_summary(&reply, &base, SEED_NHS);
    assert_eq!(scr_id, SEED_SCR_ID);
    assert_eq!(permission, "Yes");
    let body = reply.json();
    let url = body["entry"][0]["resource"]["content"][0]["attachment"]["url"].as_str().unwrap_or("");
    assert!(url.contains("/summary-care-record/FHIR/R4/Bundle?composition.identifier="), "{url}");
    let bundle_id = body["id"].as_str().unwrap_or("");
    assert!(uuid::Uuid::parse_str(bundle_id).is_ok(), "{bundle_id}");
    // Two reads: fresh Bundle, DocumentReference and Patient ids each time, same SCR.
    let again = mock.doc_ref(SEED_NHS).await.json();
    assert_ne!(again["id"], body["id"]);
    assert_eq!(again["entry"][0]["resource"]["masterIdentifier"], body["entry"][0]["resource"]["masterIdentifier"]);
    // The seed document can be read with its id.
    assert_scr_document(&mock.read_scr(SEED_SCR_ID, SEED_NHS).await, &base, SEED_SCR_ID, SEED_NHS);
    mock.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// Stateful lifecycle (reference §4.1–§4.4, §7)
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn stateful_lifecycle_upload_read_replace_dissent_and_restore() {
    let mock = Mock::start(Profile::Stateful).await;
    let base = mock.base();
    let nhs = nhs_number(999_209_000);
    mock.doc_ref(&nhs).await.assert_empty_searchset();

    // Upload with a lower-case Composition identifier: stored upper-cased.
    let first_lower = uuid::Uuid::new_v4().to_string();
    let first = first_lower.to_uppercase();
    let reply = mock.upload(&nhs, &first_lower, None).await;
    reply.assert_created();

    // No ACS record: Ask.
    let (scr_id, permission) = document_reference_summary(&mock.doc_ref(&nhs).await, &base, &nhs);
    assert_eq!((scr_id.as_str(), permission.as_str()), (first.as_str(), "Ask"));

    // The document, by its (upper-case) id; the lower-case id is not the latest id: empty.
    assert_scr_document(&mock.read_scr(&first, &nhs).await, &base, &first, &nhs);
    mock.read_scr(&first_lower, &nhs).await.assert_empty_searchset();
    // Another patient's read of this id is empty too.
    mock.read_scr(&first, &nhs_number(999_209_500)).await.assert_empty_searchset();

    // Replacement: the old id is out of date.
    let second = new_id();
    mock.upload(&nhs, &second, Some(&first)).await.assert_created();
    let (scr_id, permission) = document_reference_summary(&mock.doc_ref(&nhs).await, &base, &nhs);
    assert_eq!((scr_id.as_str(), permission.as_str()), (second.as_str(), "Ask"));
    mock.read_scr(&first, &nhs).await.assert_empty_searchset();
    assert_scr_document(&mock.read_scr(&second, &nhs).await, &base, &second, &nhs);

    // Dissent: every read and a new upload are forbidden.
    mock.set_permission(&nhs, "No").await.assert_created();
    mock.doc_ref(&nhs).await.assert_no_consent();
    mock.read_scr(&second, &nhs).await.assert_no_consent();
    mock.read_scr(&first, &nhs).await.assert_no_consent();
    let third = new_id();
    mock.upload(&nhs, &third, Some(&second)).await.assert_no_consent();

    // Yes again: reads work, show Yes, and the refused upload did not happen.
    mock.set_permission(&nhs, "Yes").await.assert_created();
    let (scr_id, permission) = document_reference_summary(&mock.doc_ref(&nhs).await, &base, &nhs);
    assert_eq!((scr_id.as_str(), permission.as_str()), (second.as_str(), "Yes"));
    assert_scr_document(&mock.read_scr(&second, &nhs).await, &base, &second, &nhs);
    mock.read_scr(&third, &nhs).await.assert_empty_searchset();

    // Ask (case-insensitive code): reported as Ask.
    mock.set_permission(&nhs, "ask").await.assert_created();
    let (_, permission) = document_reference_summary(&mock.doc_ref(&nhs).await, &base, &nhs);
    assert_eq!(permission, "Ask");
    mock.shutdown().await;
}

#[tokio::test]
async fn spine_nacks_duplicate_event_ids_and_unknown_nhs_numbers() {
    let mock = Mock::start(Profile::Stateful).await;
    let base = mock.base();
    let nhs = nhs_number(999_210_000);
    let id = new_id();
    mock.upload(&nhs, &id, None).await.assert_created();
    for again in [id.clone(), id.to_lowercase()] {
        let reply = mock.upload(&nhs, &again, None).await;
        let body = reply.fhir(400);
        assert_eq!(body["issue"][0]["code"], "value", "{}", reply.what);
        let text = body["issue"][0]["details"]["text"].as_str().unwrap_or("");
        assert!(
            text.starts_with("Spine processing finished with errors:") && text.contains("PSIS-30134"),
            "duplicate {again}: {text:?}"
        );
    }
    // The duplicate changed nothing.
    let (scr_id, _) = document_reference_summary(&mock.doc_ref(&nhs).await, &base, &nhs);
    assert_eq!(scr_id, id);

    // 9000000008 fails Modulus 11: Spine does not know it.
    assert!(NhsNumber::parse("9000000008").is_err());
    mock.upload("9000000008", &new_id(), None).await.assert_bad_request(UPLOAD_NACK_INVALID_NHS);
    mock.doc_ref("9000000008").await.assert_empty_searchset();
    mock.shutdown().await;
}

#[tokio::test]
async fn post_headers_job_role_and_acs_nhs_number_rules() {
    let mock = Mock::start(Profile::Stateful).await;
    let base = mock.base();
    let nhs = nhs_number(999_211_000);
    let posts = [
        ("/Bundle", payloads::upload_bundle(&nhs, &new_id(), None).to_string()),
        ("/$setPermission", payloads::set_permission(&nhs, "No").to_string()),
        ("/AuditEvent", payloads::privacy_alert(&nhs, "1", "1", SEED_SCR_ID).to_string()),
    ];
    for (path, body) in &posts {
        mock.send(
            Method::POST,
            &format!("{base}{path}"),
            &[("Content-Type", FHIR_JSON), ("Authorization", "Bearer test")],
            Some(body.clone()),
        )
        .await
        .assert_bad_request(&missing_header_text("NHSD-Session-URID"));
    }
    // None of the refused POSTs had an effect.
    mock.doc_ref(&nhs).await.assert_empty_searchset();
    let alerts = mock.admin(Method::GET, &format!("/alerts?nhs={nhs}"), None).await;
    alerts.assert_status(200);
    assert_eq!(alerts.json(), json!([]));

    let set_no = payloads::set_permission(&nhs, "No").to_string();
    let url = format!("{base}/$setPermission");
    mock.send(Method::POST, &url, &[("Content-Type", FHIR_JSON), ("NHSD-Session-URID", URID)], Some(set_no.clone()))
        .await
        .assert_bad_request(&missing_header_text("Authorization"));
    mock.send(
        Method::POST,
        &url,
        &[("Content-Type", FHIR_JSON), ("NHSD-Session-URID", "123456789012"), ("Authorization", "Bearer test")],
        Some(set_no.clone()),
    )
    .await
    .assert_bad_request("Unable to determine Job Role Code for the given RoleID via the SDS Service: 123456789012");
    // Still no dissent recorded: reads are not forbidden.
    mock.doc_ref(&nhs).await.assert_empty_searchset();

    // The other two canned roles resolve.
    for urid in ["555254242102", "555254241101"] {
        mock.send(
            Method::POST,
            &url,
            &[("Content-Type", FHIR_JSON), ("NHSD-Session-URID", urid), ("Authorization", "Bearer test")],
            Some(payloads::set_permission(&nhs, "Ask").to_string()),
        )
        .await
        .assert_created();
    }

    // An NHS number failing Modulus 11 is unknown to Spine ACS.
    mock.set_permission("9000000008", "No").await.assert_bad_request(ACS_INVALID_NHS);
    mock.set_permission("9995000181", "Yes").await.assert_bad_request(ACS_INVALID_NHS);
    mock.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// POST /AuditEvent (reference §4.5) and the admin alert log
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn audit_events_are_recorded_and_rejected_ones_are_not() {
    let mock = Mock::start(Profile::Stateful).await;
    let nhs = nhs_number(999_212_000);
    let other = nhs_number(999_212_500);
    let what = new_id();
    mock.post("/AuditEvent", &payloads::privacy_alert(&nhs, "2", "5", &what)).await.assert_created();

    // Rejected: a combination that is not permitted, for the same patient and for another.
    for patient in [&nhs, &other] {
        mock.post("/AuditEvent", &payloads::privacy_alert(patient, "2", "4", &what))
            .await
            .assert_bad_request("Invalid combination of alert type '2' and alert subtype '4'.");
    }
    // Rejected: a wrong resource type is refused by the parser.
    let reply = mock.post("/AuditEvent", &payloads::set_permission(&other, "Yes")).await;
    assert_eq!(reply.fhir(400)["issue"][0]["code"], "value");

    let reply = mock.admin(Method::GET, &format!("/alerts?nhs={nhs}"), None).await;
    reply.assert_status(200);
    assert!(reply.content_type().is_some_and(|ct| ct.starts_with("application/json")), "{:?}", reply.content_type());
    let alerts = reply.json();
    let list = alerts.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 1, "{}", pretty(&alerts));
    let recorded = &list[0];
    let alert = &recorded["alert"];
    assert_eq!(alert["nhs_number"], json!(nhs));
    assert_eq!(alert["alert_type"], "2");
    assert_eq!(alert["alert_subtype"], "5");
    assert_eq!(alert["sds_user_id"], "T10101");
    assert_eq!(alert["ods_code"], "T10101");
    assert_eq!(alert["what"], json!(what));
    assert_eq!(alert["notification"], json!(format!("Alert: Permission to view override {what}")));
    assert_eq!(recorded["session_urid"], URID);

    let none = mock.admin(Method::GET, &format!("/alerts?nhs={other}"), None).await;
    none.assert_status(200);
    assert_eq!(none.json(), json!([]));
    let all = mock.admin(Method::GET, "/alerts", None).await.json();
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{}", pretty(&all));
    mock.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// Concurrency (the store's single lock)
// ---------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_uploads_for_forty_patients_all_land() {
    let mock = Mock::start(Profile::Stateful).await;
    let base = mock.base();
    let patients: Vec<(String, String)> = nhs_numbers(999_213_000, 40).into_iter().map(|nhs| (nhs, new_id())).collect();
    let tasks: Vec<_> = patients
        .iter()
        .map(|(nhs, id)| {
            let http = mock.http.clone();
            let url = format!("{base}/Bundle");
            let body = payloads::upload_bundle(nhs, id, None).to_string();
            tokio::spawn(async move { send(&http, Method::POST, &url, &post_headers(), Some(body)).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("upload task completes").assert_created();
    }
    for (nhs, id) in &patients {
        let (scr_id, permission) = document_reference_summary(&mock.doc_ref(nhs).await, &base, nhs);
        assert_eq!((scr_id.as_str(), permission.as_str()), (id.as_str(), "Ask"));
    }
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_uploads_of_one_identifier_exactly_one_wins() {
    let mock = Mock::start(Profile::Stateful).await;
    let base = mock.base();
    let nhs = nhs_number(999_214_000);
    let id = new_id();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let http = mock.http.clone();
            let url = format!("{base}/Bundle");
            let body = payloads::upload_bundle(&nhs, &id, None).to_string();
            tokio::spawn(async move { send(&http, Method::POST, &url, &post_headers(), Some(body)).await })
        })
        .collect();
    let mut created = 0;
    let mut rejected = 0;
    for task in tasks {
        let reply = task.await.expect("upload task completes");
        match reply.status.as_u16() {
            201 => created += 1,
            400 => {
                let text = reply.fhir(400)["issue"][0]["details"]["text"].as_str().unwrap_or("").to_owned();
                assert!(text.contains("PSIS-30134"), "{text:?}");
                rejected += 1;
            }
            other => panic!("unexpected status {other}: {}", reply.body),
        }
    }
    assert_eq!((created, rejected), (1, 9));
    let patient = mock.admin(Method::GET, &format!("/patients/{nhs}"), None).await.json();
    assert_eq!(patient["scrIds"], json!([id]), "{}", pretty(&patient));
    mock.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// Sandbox profile (reference §6)
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn sandbox_profile_gives_the_canned_answers() {
    let mock = Mock::start(Profile::Sandbox).await;
    let base = mock.base();
    let (scr_id, permission) = document_reference_summary(&mock.doc_ref("9000000009").await, &base, "9000000009");
    assert_eq!((scr_id.as_str(), permission.as_str()), (SEED_SCR_ID, "Yes"));
    mock.doc_ref("9000000033").await.assert_no_consent();
    mock.get("/DocumentReference?patient=INVALID%20NHS%20NUMBER")
        .await
        .assert_bad_request("Invalid value - INVALID NHS NUMBER in field 'patient'");

    let reply = mock.read_scr(SEED_SCR_ID, "9000000009").await;
    let body = reply.fhir(200);
    assert_eq!(
        body["identifier"],
        json!({ "system": "https://tools.ietf.org/html/rfc4122", "value": "D2A87C77-6A9E-11EB-A8AC-F40343488B15" })
    );
    assert_eq!(body["timestamp"], "2021-02-09T06:19:54+00:00");
    assert_eq!(body["type"], "searchset");
    let entries = body["entry"].as_array().cloned().unwrap_or_default();
    assert_eq!(body["total"], json!(entries.len()));
    assert_eq!(entries[0]["resource"]["resourceType"], "Composition");
    assert_eq!(entries[entries.len() - 1]["resource"]["resourceType"], "Patient");
    mock.read_scr(&SEED_SCR_ID.to_lowercase(), "9000000009").await.assert_empty_searchset();
    mock.read_scr(SEED_SCR_ID, "9000000033").await.assert_no_consent();

    mock.upload("9000000009", &new_id(), None).await.assert_created();
    mock.upload("9111231130", &new_id(), None).await.assert_no_consent();
    // Stateless: the upload did not change the canned SCR id.
    let (scr_id, _) = document_reference_summary(&mock.doc_ref("9000000009").await, &base, "9000000009");
    assert_eq!(scr_id, SEED_SCR_ID);

    mock.set_permission("9000000009", "No").await.assert_created();
    mock.set_permission("9111231130", "Yes").await.assert_bad_request(ACS_INVALID_NHS);
    let (_, permission) = document_reference_summary(&mock.doc_ref("9000000009").await, &base, "9000000009");
    assert_eq!(permission, "Yes", "the sandbox's ACS never changes");
    mock.post("/AuditEvent", &payloads::privacy_alert("9000000009", "2", "5", SEED_SCR_ID)).await.assert_created();

    for (method, path, body) in [
        (Method::GET, "/alerts", None),
        (Method::GET, "/patients/9000000009", None),
        (Method::PUT, "/patients/9000000009/permission", Some(r#"{"permission":"No"}"#)),
        (Method::POST, "/reset", None),
    ] {
        let reply = mock.admin(method, path, body).await;
        reply.assert_status(404);
        assert!(reply.json()["error"].is_string(), "{}: {}", reply.what, reply.body);
    }
    mock.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------
// Admin routes (src/mock/admin.rs)
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn admin_routes_arrange_and_inspect_state() {
    let mock = Mock::start(Profile::Stateful).await;
    let base = mock.base();

    let reply =
        mock.admin(Method::PUT, &format!("/patients/{SEED_NHS}/permission"), Some(r#"{"permission":"No"}"#)).await;
    assert!(reply.status.is_success(), "{}: {}", reply.what, reply.status);
    mock.doc_ref(SEED_NHS).await.assert_no_consent();
    let patient = mock.admin(Method::GET, &format!("/patients/{SEED_NHS}"), None).await;
    patient.assert_status(200);
    assert_eq!(patient.json(), json!({ "nhsNumber": SEED_NHS, "permission": "No", "scrIds": [SEED_SCR_ID] }));

    for bad in ["not json", "{}", r#"{"permission":"Maybe"}"#, r#"{"permission":1}"#] {
        let reply = mock.admin(Method::PUT, &format!("/patients/{SEED_NHS}/permission"), Some(bad)).await;
        reply.assert_status(400);
        assert!(
            reply.content_type().is_some_and(|ct| ct.starts_with("application/json")),
            "{bad}: {:?}",
            reply.content_type()
        );
        assert!(reply.json()["error"].as_str().is_some_and(|e| !e.is_empty()), "{bad}: {}", reply.body);
    }
    // A refused change left the state alone.
    mock.doc_ref(SEED_NHS).await.assert_no_consent();

    // null: no ACS record, reported as Ask.
    mock.admin(Method::PUT, &format!("/patients/{SEED_NHS}/permission"), Some(r#"{"permission":null}"#)).await;
    let (scr_id, permission) = document_reference_summary(&mock.doc_ref(SEED_NHS).await, &base, SEED_NHS);
    assert_eq!((scr_id.as_str(), permission.as_str()), (SEED_SCR_ID, "Ask"));

    // A patient with no SCR set to No is forbidden too.
    let fresh = nhs_number(999_216_000);
    mock.admin(Method::PUT, &format!("/patients/{fresh}/permission"), Some(r#"{"permission":"No"}"#)).await;
    mock.doc_ref(&fresh).await.assert_no_consent();

    mock.admin(Method::DELETE, "/reset", None).await.assert_status(405);
    mock.admin(Method::GET, "/nothing-here", None).await.assert_status(404);

    let reply = mock.admin(Method::POST, "/reset", None).await;
    assert!(reply.status.is_success(), "{}: {}", reply.what, reply.status);
    mock.doc_ref(SEED_NHS).await.assert_empty_searchset();
    mock.doc_ref(&fresh).await.assert_empty_searchset();
    mock.read_scr(SEED_SCR_ID, SEED_NHS).await.assert_empty_searchset();
    assert_eq!(
        mock.admin(Method::GET, &format!("/patients/{SEED_NHS}"), None).await.json(),
        json!({ "nhsNumber": SEED_NHS, "permission": null, "scrIds": [] })
    );
    mock.shutdown().await;
}
