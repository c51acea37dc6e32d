//! Golden tests of the edges where the mock once differed from the NHS code (issue 11 §3, catalogue
//! `SCRA-EDG-*`), over real HTTP on 127.0.0.1: empty tracing ids, `Accept` negotiation and its order among
//! Spring's checks, the housekeeping endpoints, the proxies' CORS answers and `/_status`.
//!
//! Every expected text and header value is written out literally from the NHS file it comes from (cited at each
//! constant), never taken from the code that produces the answer.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use scr_assure::mock::{self, MockConfig, Profile, RunningMock};

const FHIR_JSON: &str = "application/fhir+json";
const URID: &str = "555254240100";
const SEED_NHS: &str = "9995000180";
const SANDBOX_NHS: &str = "9000000009";
const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const ORIGIN: &str = "https://gp-system.example.org";

/// `proxies/live/apiproxy/policies/AssignMessage.AddCors.xml`.
const LIVE_ALLOW_HEADERS: &str = "origin, x-requested-with, accept, content-type, nhsd-session-urid";
const LIVE_ALLOW_METHODS: &str = "GET, PUT, POST, DELETE";
/// `proxies/sandbox/apiproxy/policies/AssignMessage.AddCors.xml`.
const SANDBOX_ALLOW_HEADERS: &str =
    "origin, x-requested-with, accept, content-type, nhsd-session-urid, authorization, x-correlation-id, x-request-id";
const SANDBOX_ALLOW_METHODS: &str = "GET, PUT, POST, PATCH, DELETE";
/// Both policies' `Access-Control-Max-Age`.
const MAX_AGE: &str = "3628800";
/// Spring 5.3's `HttpMediaTypeNotAcceptableException` message (derived; see the README).
const NOT_ACCEPTABLE: &str = "Could not find acceptable representation";
/// The mock's published status key (README, "Texts that are derived").
const STATUS_KEY: &str = "scr-assure-mock-status-key";

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The backend's single issue: `(code, details.text)`.
    #[track_caller]
    fn issue(&self) -> (String, String) {
        let body = self.json();
        let text = |p: &str| body.pointer(p).and_then(Value::as_str).unwrap_or_default().to_owned();
        (text("/issue/0/code"), text("/issue/0/details/text"))
    }
}

async fn start(profile: Profile, auth: bool) -> RunningMock {
    let config = MockConfig { auth, ..MockConfig::loopback(profile) };
    mock::start(config).await.expect("mock starts on loopback")
}

async fn send(mock: &RunningMock, method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let client = reqwest::Client::new();
    let mut request = client.request(method, format!("{}{path}", mock.base_url()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.body(body.to_owned()).send().await.expect("the mock answers");
    let (status, headers) = (response.status(), response.headers().clone());
    Reply { status, headers, body: response.text().await.expect("a body") }
}

fn read_ids(nhs: &str) -> String {
    format!("/DocumentReference?patient={NHS_SYSTEM}|{nhs}")
}

fn is_generated_uuid(v: Option<&str>) -> bool {
    v.is_some_and(|v| uuid::Uuid::parse_str(v).is_ok() && v == v.to_uppercase())
}

#[tokio::test]
async fn empty_tracing_ids_are_treated_as_absent() {
    for profile in [Profile::Stateful, Profile::Sandbox] {
        let mock = start(profile, false).await;
        let nhs = if profile == Profile::Sandbox { SANDBOX_NHS } else { SEED_NHS };
        let r = send(&mock, Method::GET, &read_ids(nhs), &[("X-Request-ID", ""), ("X-Correlation-ID", "")], "").await;
        assert_eq!(r.status, StatusCode::OK, "{profile:?}: {}", r.body);
        assert!(is_generated_uuid(r.header("x-request-id")), "{profile:?}: {:?}", r.header("x-request-id"));
        assert!(is_generated_uuid(r.header("x-correlation-id")), "{profile:?}");
        mock.shutdown().await;
    }
}

#[tokio::test]
async fn accept_is_matched_as_spring_matches_produces_and_after_405_and_415() {
    let mock = start(Profile::Stateful, false).await;
    let cases = [
        ("", 200),
        ("*/*", 200),
        ("*", 200),
        ("application/*", 200),
        ("application/*+json", 200),
        ("Application/FHIR+JSON;charset=UTF-8", 200),
        ("text/html, application/fhir+json;q=0.1", 200),
        ("application/fhir+json;q=0", 200),
        ("application/json", 500),
        ("application/fhir+xml", 500),
        ("text/*", 500),
        ("json", 500),
        ("*/json", 500),
        ("application/fhir+json;q=2", 500),
        ("application/fhir+json, garbage", 500),
    ];
    for (accept, status) in cases {
        let r = send(&mock, Method::GET, &read_ids(SEED_NHS), &[("Accept", accept)], "").await;
        assert_eq!(r.status.as_u16(), status, "Accept {accept:?}: {}", r.body);
        if status == 500 {
            assert_eq!(r.header("content-type"), Some(FHIR_JSON), "Accept {accept:?}");
            assert_eq!(r.issue(), ("exception".to_owned(), NOT_ACCEPTABLE.to_owned()), "Accept {accept:?}");
            assert_eq!(r.json()["issue"][0]["severity"], "error", "handleAllExceptions sets ERROR");
            assert!(r.header("x-request-id").is_some(), "the id filters ran first");
        }
    }
    // Spring's order: 405, then 415, then 406 (the 500 here); the id filters before all.
    let bad = [("Accept", "application/json")];
    assert_eq!(send(&mock, Method::PUT, "/Bundle", &bad, "").await.status, StatusCode::METHOD_NOT_ALLOWED);
    let text_plain = [("Accept", "application/json"), ("Content-Type", "text/plain"), ("NHSD-Session-URID", URID)];
    let r = send(&mock, Method::POST, "/Bundle", &text_plain, "{}").await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.body);
    let r = send(&mock, Method::GET, &read_ids(SEED_NHS), &[("Accept", "application/json"), ("X-Request-ID", "x")], "")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // A missing header is read after the handler is chosen: the 500 comes first.
    let r =
        send(&mock, Method::POST, "/AuditEvent", &[("Accept", "application/json"), ("Content-Type", FHIR_JSON)], "{}")
            .await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    mock.shutdown().await;
}

#[tokio::test]
async fn healthcheck_is_get_only_and_passes_the_id_filters() {
    let mock = start(Profile::Stateful, false).await;
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let r = send(&mock, method.clone(), "/healthcheck", &[("Content-Type", FHIR_JSON)], "").await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method}: {}", r.body);
        assert_eq!(r.header("allow"), Some("GET"), "{method}");
        let expected = format!("Request method '{method}' not supported");
        assert_eq!(r.issue(), ("not-supported".to_owned(), expected), "{method}");
    }
    let r = send(&mock, Method::GET, "/healthcheck", &[], "").await;
    assert_eq!((r.status, r.json()["status"].as_str()), (StatusCode::OK, Some("UP")));
    assert!(is_generated_uuid(r.header("x-request-id")), "the id filters answer /healthcheck too");
    let head = send(&mock, Method::HEAD, "/healthcheck", &[], "").await;
    assert_eq!((head.status, head.body.as_str()), (StatusCode::OK, ""));
    let r = send(&mock, Method::GET, "/healthcheck", &[("X-Request-ID", "nope")], "").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    mock.shutdown().await;
}

#[tokio::test]
async fn ping_and_status_are_the_proxys_own_for_get_and_head_only() {
    let mock = start(Profile::Stateful, true).await;
    // No access token anywhere below: these flows never reach the target's VerifyAccessToken.
    let head = send(&mock, Method::HEAD, "/_ping", &[], "").await;
    assert_eq!((head.status, head.body.as_str()), (StatusCode::OK, ""));
    for key in [None, Some(""), Some("wrong")] {
        let headers: Vec<(&str, &str)> = key.map(|k| vec![("apikey", k)]).unwrap_or_default();
        let r = send(&mock, Method::GET, "/_status", &headers, "").await;
        assert_eq!((r.status, r.body.as_str()), (StatusCode::UNAUTHORIZED, ""), "apikey {key:?}");
        assert_eq!(r.header("content-type"), Some("text/plain"), "RaiseFault.401Unauthorized");
    }
    let r = send(&mock, Method::GET, "/_status", &[("apikey", STATUS_KEY)], "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = r.json();
    assert_eq!(body["status"], "pass");
    assert_eq!(body["checks"]["healthcheckService:status"][0]["status"], "pass");
    assert_eq!(body["checks"]["healthcheckService:status"][0]["responseCode"], 200);
    assert!(body["commitId"].is_string() && body["version"].is_string(), "{body}");
    // Other methods go on to the target: without a token the gateway refuses them.
    assert_eq!(send(&mock, Method::POST, "/_ping", &[], "").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&mock, Method::POST, "/_status", &[("apikey", STATUS_KEY)], "").await.status,
        StatusCode::UNAUTHORIZED
    );
    mock.shutdown().await;
    // Without a gateway the backend knows neither path.
    let open = start(Profile::Stateful, false).await;
    let r = send(&open, Method::POST, "/_ping", &[], "").await;
    assert_eq!(r.issue(), ("not-found".to_owned(), "/_ping not found".to_owned()));
    open.shutdown().await;
}

#[tokio::test]
async fn the_live_preflight_needs_no_token_and_nothing_else_carries_cors() {
    let mock = start(Profile::Stateful, true).await;
    let preflight = [("Origin", ORIGIN), ("Access-Control-Request-Method", "POST")];
    for path in ["/Bundle", "/$setPermission", "/NotFound"] {
        let r = send(&mock, Method::OPTIONS, path, &preflight, "").await;
        assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, ""), "{path}");
        assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN), "{path}");
        assert_eq!(r.header("access-control-allow-headers"), Some(LIVE_ALLOW_HEADERS), "{path}");
        assert_eq!(r.header("access-control-allow-methods"), Some(LIVE_ALLOW_METHODS), "{path}");
        assert_eq!(r.header("access-control-max-age"), Some(MAX_AGE), "{path}");
        assert_eq!(r.header("x-request-id"), None, "{path}: the backend was not reached");
    }
    // Not a preflight (no Access-Control-Request-Method): the gateway's token check, and no CORS headers.
    let r = send(&mock, Method::OPTIONS, "/Bundle", &[("Origin", ORIGIN)], "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), None);
    mock.shutdown().await;
}

#[tokio::test]
async fn the_sandbox_puts_its_cors_headers_on_every_answer() {
    let mock = start(Profile::Sandbox, false).await;
    let origin = [("Origin", ORIGIN)];
    let cases = [
        (Method::GET, read_ids(SANDBOX_NHS), 200),
        (Method::GET, read_ids("9000000033"), 403),
        (Method::GET, "/DocumentReference?patient=INVALID".to_owned(), 400),
        (Method::GET, "/NotFound".to_owned(), 404),
        (Method::POST, "/healthcheck".to_owned(), 405),
    ];
    for (method, path, status) in cases {
        let r = send(&mock, method.clone(), &path, &origin, "").await;
        assert_eq!(r.status.as_u16(), status, "{method} {path}: {}", r.body);
        assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN), "{method} {path}");
        assert_eq!(r.header("access-control-allow-headers"), Some(SANDBOX_ALLOW_HEADERS), "{method} {path}");
        assert_eq!(r.header("access-control-allow-methods"), Some(SANDBOX_ALLOW_METHODS), "{method} {path}");
        assert_eq!(r.header("access-control-max-age"), Some(MAX_AGE), "{method} {path}");
    }
    let preflight = [("Origin", ORIGIN), ("Access-Control-Request-Method", "GET")];
    let r = send(&mock, Method::OPTIONS, "/DocumentReference", &preflight, "").await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, ""));
    assert_eq!(r.header("access-control-allow-headers"), Some(SANDBOX_ALLOW_HEADERS));
    // Not the target's answers: the proxy's own _ping and _status carry none.
    let r = send(&mock, Method::GET, "/_status", &origin, "").await;
    assert_eq!((r.status, r.header("access-control-allow-origin")), (StatusCode::UNAUTHORIZED, None));
    mock.shutdown().await;
}
