//! Fault injection, rate limits and safe re-sends of the embedded mock, over real sockets on 127.0.0.1
//! (reqwest): every fault kind with its status, media type and body; the connection reset seen by a client as
//! a transport error while the mock keeps serving; the oversized body read as a stream; the SpikeArrest's
//! smoothing and the Quota's calendar minute on a fixed clock; the 504 re-send with the same X-Request-ID;
//! bad admin input. Expected NHS texts are written out from the reference, independently of `scr::texts`.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Client, Method, Response};
use serde_json::{json, Value};

use scr_assure::client::{fetch, http_client, ClientOptions, TransportFault};
use scr_assure::clock::Clock;
use scr_assure::mock::rate_limit::RateLimit;
use scr_assure::mock::{self, MockConfig, Profile, RunningMock};
use scr_assure::scr::{payloads, NhsNumber};

const FHIR_JSON: &str = "application/fhir+json";
const URID: &str = "555254240100";
const SPINE_TIMEOUT: &str = "Request processing timed out. Spine POST + polling GET has timed out";
const DIAGNOSTICS_START: &str = "An unknown error occurred processing this request. Contact us for assistance diagnosing this issue: https://digital.nhs.uk/developer/help-and-support. (Message ID: rrt-";

fn nhs_number(stem: u64) -> String {
    (stem..)
        .find_map(NhsNumber::from_stem)
        .map(|n| n.to_string())
        .unwrap_or_else(|| panic!("no NHS number near {stem}"))
}

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_else(|e| panic!("client: {e}"))
}

async fn open_mock(clock: Clock, rate_limit: Option<RateLimit>) -> RunningMock {
    let config = MockConfig { clock, rate_limit, ..MockConfig::loopback(Profile::Stateful) };
    mock::start(config).await.unwrap_or_else(|e| panic!("mock starts: {e}"))
}

async fn send(http: &Client, method: Method, url: &str, body: Option<Value>) -> Response {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.header(CONTENT_TYPE, "application/json").body(body.to_string());
    }
    request.send().await.unwrap_or_else(|e| panic!("{url}: {e}"))
}

async fn arm(mock: &RunningMock, spec: Value) {
    let response = send(&client(), Method::POST, &format!("{}/_admin/faults", mock.origin()), Some(spec.clone())).await;
    assert_eq!(response.status().as_u16(), 201, "arming {spec}: {:?}", response.text().await);
}

fn scr_id_url(mock: &RunningMock, nhs: &str) -> String {
    format!("{}/DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number|{nhs}", mock.base_url())
}

async fn get_scr_id(http: &Client, mock: &RunningMock, nhs: &str) -> Result<Response, reqwest::Error> {
    http.get(scr_id_url(mock, nhs)).header("Accept", FHIR_JSON).send().await
}

async fn upload(http: &Client, mock: &RunningMock, body: &[u8], request_id: &str) -> Response {
    http.post(format!("{}/Bundle", mock.base_url()))
        .header(CONTENT_TYPE, FHIR_JSON)
        .header("NHSD-Session-URID", URID)
        .header("X-Request-ID", request_id)
        .body(body.to_vec())
        .send()
        .await
        .unwrap_or_else(|e| panic!("upload: {e}"))
}

async fn scr_ids(mock: &RunningMock, nhs: &str) -> Vec<Value> {
    let response = send(&client(), Method::GET, &format!("{}/_admin/patients/{nhs}", mock.origin()), None).await;
    let body: Value = response.json().await.unwrap_or_else(|e| panic!("admin patient: {e}"));
    body["scrIds"].as_array().cloned().unwrap_or_default()
}

fn media_type(response: &Response) -> String {
    let ct = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    ct.split(';').next().unwrap_or("").trim().to_owned()
}

async fn json_of(response: Response) -> Value {
    let text = response.text().await.unwrap_or_else(|e| panic!("body: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The proxy's catch-all UNKNOWN_ERROR OperationOutcome (reference §3.5), with a fresh Message ID.
fn assert_unknown_error(body: &Value) {
    let issue = &body["issue"][0];
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(body["issue"].as_array().map(Vec::len), Some(1));
    assert_eq!(issue["severity"], "error");
    assert_eq!(issue["code"], "unknown");
    assert_eq!(
        issue["details"]["coding"][0],
        json!({"system":"https://fhir.nhs.uk/CodeSystem/Spine-ErrorOrWarningCode","version":"1","code":"UNKNOWN_ERROR","display":"Unknown Error"})
    );
    let diagnostics = issue["diagnostics"].as_str().unwrap_or("");
    assert!(diagnostics.starts_with(DIAGNOSTICS_START) && diagnostics.ends_with(')'), "{diagnostics}");
}

#[tokio::test]
async fn error_faults_answer_with_the_reference_bodies_then_disarm() {
    let mock = open_mock(Clock::system(), None).await;
    let http = client();
    let nhs = nhs_number(999_301_000);
    arm(&mock, json!({"operation":"get-scr-id","fault":"rate-limited","retryAfter":7})).await;
    let r = get_scr_id(&http, &mock, &nhs).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(media_type(&r), "application/json");
    assert_eq!(r.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("7"));
    assert_unknown_error(&json_of(r).await);

    arm(&mock, json!({"operation":"get-scr-id","fault":"server-error"})).await;
    let r = get_scr_id(&http, &mock, &nhs).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.status().as_u16(), media_type(&r)), (500, "application/json".to_owned()));
    let first = json_of(r).await;
    assert_unknown_error(&first);

    arm(&mock, json!({"operation":"any","fault":"unavailable"})).await;
    let r = get_scr_id(&http, &mock, &nhs).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.status().as_u16(), media_type(&r)), (503, FHIR_JSON.to_owned()));
    assert_eq!(
        json_of(r).await,
        json!({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient","details":{"text":"Code: 503, Display: Service Not Available"}}]})
    );

    arm(&mock, json!({"operation":"get-scr-id","fault":"unavailable-html","count":2})).await;
    for _ in 0..2 {
        let r = get_scr_id(&http, &mock, &nhs).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.status().as_u16(), media_type(&r)), (503, "text/html".to_owned()));
        let page = r.text().await.unwrap_or_default();
        assert!(page.contains("503 Service Temporarily Unavailable"), "{page}");
    }

    arm(&mock, json!({"operation":"get-scr-id","fault":"malformed-json"})).await;
    let r = get_scr_id(&http, &mock, &nhs).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.status().as_u16(), media_type(&r)), (200, FHIR_JSON.to_owned()));
    let text = r.text().await.unwrap_or_default();
    assert!(text.starts_with("{\"resourceType\":\"Bundle\"") && serde_json::from_str::<Value>(&text).is_err());

    arm(&mock, json!({"operation":"get-scr-id","fault":"wrong-content-type","contentType":"text/xml"})).await;
    let r = get_scr_id(&http, &mock, &nhs).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.status().as_u16(), media_type(&r)), (200, "text/xml".to_owned()));
    assert_eq!(json_of(r).await["total"], 0, "the real answer under the wrong Content-Type");

    // Every fault has been used up: the real answer again.
    let r = get_scr_id(&http, &mock, &nhs).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.status().as_u16(), media_type(&r)), (200, FHIR_JSON.to_owned()));
    assert_eq!(json_of(r).await["total"], 0);
    mock.shutdown().await;
}

#[tokio::test]
async fn faults_are_scoped_by_operation_and_match() {
    let mock = open_mock(Clock::system(), None).await;
    let http = client();
    let (mine, other) = (nhs_number(999_302_000), nhs_number(999_302_100));
    arm(&mock, json!({"operation":"get-scr-id","fault":"server-error","match":mine})).await;
    let r = get_scr_id(&http, &mock, &other).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 200, "another patient's request is not taken");
    let url = format!("{}/Bundle?composition.identifier=X&composition.subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|{mine}", mock.base_url());
    assert_eq!(send(&http, Method::GET, &url, None).await.status().as_u16(), 200, "another operation is not taken");
    let listed = json_of(send(&http, Method::GET, &format!("{}/_admin/faults", mock.origin()), None).await).await;
    assert_eq!(listed["faults"][0]["remaining"], 1);
    assert_eq!(listed["faults"][0]["match"], json!(mine));
    let r = get_scr_id(&http, &mock, &mine).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 500);
    mock.shutdown().await;
}

#[tokio::test]
async fn a_connection_reset_is_a_transport_error_and_the_mock_keeps_serving() {
    let mock = open_mock(Clock::system(), None).await;
    let http = client();
    let nhs = nhs_number(999_303_000);
    // A pooled connection first, so the reset also hits a reused one.
    assert_eq!(get_scr_id(&http, &mock, &nhs).await.map(|r| r.status().as_u16()).ok(), Some(200));
    arm(&mock, json!({"operation":"get-scr-id","fault":"connection-reset","count":2})).await;
    // Once through plain reqwest (no HTTP answer at all), once through the harness's own bounded client, which
    // names the fault.
    let error = match get_scr_id(&http, &mock, &nhs).await {
        Ok(r) => panic!("expected no HTTP answer, got {}", r.status()),
        Err(e) => e,
    };
    assert!(!error.is_timeout() && !error.is_status(), "{error:?}");
    let options = ClientOptions::default();
    let harness = http_client(&options).unwrap_or_else(|e| panic!("{e}"));
    let url = scr_id_url(&mock, &nhs);
    match fetch(harness.get(&url).header("Accept", FHIR_JSON), &options, &url).await {
        Ok(r) => panic!("expected no HTTP answer, got {}", r.status),
        Err(e) => assert_eq!(e.fault(), TransportFault::ConnectionReset, "{e}"),
    }
    let r = get_scr_id(&http, &mock, &nhs).await.unwrap_or_else(|e| panic!("the mock still serves: {e}"));
    assert_eq!(r.status().as_u16(), 200);
    mock.shutdown().await;
}

#[tokio::test]
async fn slow_bodies_and_gateway_timeouts_take_their_time() {
    let mock = open_mock(Clock::system(), None).await;
    let http = client();
    let nhs = nhs_number(999_304_000);
    arm(&mock, json!({"operation":"get-scr-id","fault":"slow-body","chunkDelayMs":40,"chunks":4})).await;
    let start = Instant::now();
    let r = get_scr_id(&http, &mock, &nhs).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.status().as_u16(), media_type(&r)), (200, FHIR_JSON.to_owned()));
    assert!(r.headers().get(CONTENT_LENGTH).is_none(), "dribbled out, not announced");
    assert_eq!(json_of(r).await["total"], 0);
    assert!(start.elapsed() >= Duration::from_millis(160), "4 chunks 40 ms apart took {:?}", start.elapsed());

    arm(&mock, json!({"operation":"get-scr-id","fault":"gateway-timeout","delayMs":150})).await;
    let start = Instant::now();
    let r = http
        .get(scr_id_url(&mock, &nhs))
        .header("X-Request-ID", "6c3e8d39-b9d6-4f5a-8b39-1c0e3a4b5d6e")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert_eq!((r.status().as_u16(), media_type(&r)), (504, FHIR_JSON.to_owned()));
    assert_eq!(
        r.headers().get("x-request-id").and_then(|v| v.to_str().ok()),
        Some("6c3e8d39-b9d6-4f5a-8b39-1c0e3a4b5d6e")
    );
    assert_eq!(
        json_of(r).await,
        json!({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient","details":{"text":SPINE_TIMEOUT}}]})
    );
    mock.shutdown().await;
}

#[tokio::test]
async fn an_oversized_body_is_streamed_to_its_full_size() {
    let mock = open_mock(Clock::system(), None).await;
    let http = client();
    arm(&mock, json!({"operation":"get-scr-id","fault":"oversized"})).await;
    let mut r = get_scr_id(&http, &mock, &nhs_number(999_305_000)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.status().as_u16(), media_type(&r)), (200, FHIR_JSON.to_owned()));
    let size: u64 = 64 * 1024 * 1024;
    assert_eq!(r.content_length(), Some(size));
    let (mut total, mut largest_chunk) = (0u64, 0usize);
    while let Some(chunk) = r.chunk().await.unwrap_or_else(|e| panic!("reading the body: {e}")) {
        total += chunk.len() as u64;
        largest_chunk = largest_chunk.max(chunk.len());
    }
    assert_eq!(total, size);
    assert!(largest_chunk <= 1024 * 1024, "streamed in pieces, largest {largest_chunk} bytes");
    mock.shutdown().await;
}

#[tokio::test]
async fn an_upload_re_sent_after_a_504_with_the_same_request_id_is_stored_once() {
    let mock = open_mock(Clock::system(), None).await;
    let http = client();
    let request_id = uuid::Uuid::new_v4().to_string();

    // Processed: Spine stored it before the timeout.
    let nhs = nhs_number(999_306_000);
    let id = uuid::Uuid::new_v4().to_string().to_uppercase();
    let body = payloads::upload_bundle(&nhs, &id, None).to_string().into_bytes();
    arm(&mock, json!({"operation":"upload-scr","fault":"gateway-timeout","delayMs":10,"processed":true})).await;
    let r = upload(&http, &mock, &body, &request_id).await;
    assert_eq!(r.status().as_u16(), 504);
    assert_eq!(scr_ids(&mock, &nhs).await, vec![json!(id)], "stored before the timeout");
    let r = upload(&http, &mock, &body, &request_id.to_uppercase()).await;
    assert_eq!(r.status().as_u16(), 201, "the re-send is answered as the upload would have been");
    assert_eq!(r.text().await.unwrap_or_default(), "");
    assert_eq!(scr_ids(&mock, &nhs).await, vec![json!(id)], "and stores nothing new");
    let r = get_scr_id(&http, &mock, &nhs).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json_of(r).await["entry"][0]["resource"]["masterIdentifier"]["value"], json!(id));

    // The same body under a new X-Request-ID is a new upload of a held id: Spine's duplicate-event NACK.
    let r = upload(&http, &mock, &body, &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(r.status().as_u16(), 400);
    let text = json_of(r).await["issue"][0]["details"]["text"].as_str().unwrap_or("").to_owned();
    assert!(text.contains(&format!("[PSIS-30134] - Duplicate event with eventId {id} and nhsNumber {nhs}.")), "{text}");

    // The same X-Request-ID with another body is a new request.
    let id2 = uuid::Uuid::new_v4().to_string().to_uppercase();
    let body2 = payloads::upload_bundle(&nhs, &id2, Some(&id)).to_string().into_bytes();
    assert_eq!(upload(&http, &mock, &body2, &request_id).await.status().as_u16(), 201);
    assert_eq!(scr_ids(&mock, &nhs).await, vec![json!(id), json!(id2)]);

    // Not processed: nothing stored; the re-send stores it once.
    let nhs = nhs_number(999_306_100);
    let id = uuid::Uuid::new_v4().to_string().to_uppercase();
    let body = payloads::upload_bundle(&nhs, &id, None).to_string().into_bytes();
    let request_id = uuid::Uuid::new_v4().to_string();
    arm(&mock, json!({"operation":"upload-scr","fault":"gateway-timeout","delayMs":10})).await;
    assert_eq!(upload(&http, &mock, &body, &request_id).await.status().as_u16(), 504);
    assert!(scr_ids(&mock, &nhs).await.is_empty());
    assert_eq!(upload(&http, &mock, &body, &request_id).await.status().as_u16(), 201);
    assert_eq!(upload(&http, &mock, &body, &request_id).await.status().as_u16(), 201, "any number of re-sends");
    assert_eq!(scr_ids(&mock, &nhs).await, vec![json!(id)]);

    // A processed timeout of an upload the backend refuses answers the refusal, not 504.
    let bad = payloads::upload_bundle("9990000000", &uuid::Uuid::new_v4().to_string(), None).to_string();
    arm(&mock, json!({"operation":"upload-scr","fault":"gateway-timeout","delayMs":0,"processed":true})).await;
    assert_eq!(upload(&http, &mock, bad.as_bytes(), &uuid::Uuid::new_v4().to_string()).await.status().as_u16(), 400);
    mock.shutdown().await;
}

/// 12:00:00.000 UTC on a minute boundary.
fn minute_start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).single().unwrap_or_else(|| panic!("a valid date"))
}

#[tokio::test]
async fn the_spike_arrest_smooths_to_one_request_per_interval_on_the_mock_clock() {
    let clock = Clock::fixed(minute_start());
    let mock = open_mock(clock.clone(), Some(RateLimit::default())).await;
    let http = client();
    let nhs = nhs_number(999_307_000);
    for k in 0..5 {
        let r = get_scr_id(&http, &mock, &nhs).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status().as_u16(), 200, "request {k}");
        if k < 4 {
            clock.advance(chrono::Duration::milliseconds(200));
        }
    }
    let r = get_scr_id(&http, &mock, &nhs).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 429, "the 6th within the 5th's 200 ms slot");
    assert_eq!(media_type(&r), "application/json");
    assert_eq!(r.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("1"));
    assert_unknown_error(&json_of(r).await);
    clock.advance(chrono::Duration::milliseconds(199));
    assert_eq!(get_scr_id(&http, &mock, &nhs).await.map(|r| r.status().as_u16()).ok(), Some(429));
    clock.advance(chrono::Duration::milliseconds(1));
    assert_eq!(get_scr_id(&http, &mock, &nhs).await.map(|r| r.status().as_u16()).ok(), Some(200));
    // _ping is answered by the proxy before its rate limits.
    let ping = send(&http, Method::GET, &format!("{}/_ping", mock.base_url()), None).await;
    assert_eq!(ping.status().as_u16(), 200);
    mock.shutdown().await;
}

#[tokio::test]
async fn the_quota_counts_a_calendar_minute_and_admin_turns_limits_on_and_off() {
    let clock = Clock::fixed(minute_start() + chrono::Duration::seconds(30));
    let mock = open_mock(clock.clone(), None).await;
    let http = client();
    let nhs = nhs_number(999_308_000);
    let admin = format!("{}/_admin/rate-limit", mock.origin());
    assert_eq!(json_of(send(&http, Method::GET, &admin, None).await).await, json!({"enabled": false}));
    let on = send(&http, Method::PUT, &admin, Some(json!({"perSecond": 1000, "perMinute": 3}))).await;
    assert_eq!(on.status().as_u16(), 200);
    assert_eq!(json_of(on).await, json!({"enabled": true, "perSecond": 1000, "perMinute": 3}));
    for _ in 0..3 {
        clock.advance(chrono::Duration::milliseconds(10));
        assert_eq!(get_scr_id(&http, &mock, &nhs).await.map(|r| r.status().as_u16()).ok(), Some(200));
    }
    clock.advance(chrono::Duration::milliseconds(10));
    let r = get_scr_id(&http, &mock, &nhs).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 429);
    // 12:00:30.040 → the next calendar minute starts in 29.96 s.
    assert_eq!(r.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("30"));
    clock.advance(chrono::Duration::seconds(30));
    assert_eq!(get_scr_id(&http, &mock, &nhs).await.map(|r| r.status().as_u16()).ok(), Some(200));

    let off = send(&http, Method::DELETE, &admin, None).await;
    assert_eq!(json_of(off).await, json!({"enabled": false}));
    for _ in 0..10 {
        assert_eq!(get_scr_id(&http, &mock, &nhs).await.map(|r| r.status().as_u16()).ok(), Some(200));
    }
    mock.shutdown().await;
}

#[tokio::test]
async fn bad_admin_input_is_refused_saying_what_was_wrong() {
    let mock = open_mock(Clock::system(), None).await;
    let http = client();
    let faults = format!("{}/_admin/faults", mock.origin());
    let cases = [
        (json!({"fault":"server-error"}), "'operation' is required"),
        (json!({"operation":"read","fault":"server-error"}), "unknown operation 'read'"),
        (json!({"operation":"any","fault":"boom"}), "unknown fault 'boom'"),
        (json!({"operation":"any","fault":"server-error","count":-1}), "'count' must be an integer from 1 to 10000"),
        (json!({"operation":"any","fault":"slow-body","bytes":5}), "'bytes' is not a parameter of 'slow-body'"),
    ];
    for (spec, expected) in cases {
        let r = send(&http, Method::POST, &faults, Some(spec.clone())).await;
        assert_eq!((r.status().as_u16(), media_type(&r)), (400, "application/json".to_owned()), "{spec}");
        let error = json_of(r).await["error"].as_str().unwrap_or("").to_owned();
        assert!(error.contains(expected), "{spec}: {error}");
    }
    let r = http.post(&faults).body("not json").send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 400);
    let r = send(&http, Method::PUT, &faults, None).await;
    assert_eq!(r.status().as_u16(), 405);
    let r =
        send(&http, Method::PUT, &format!("{}/_admin/rate-limit", mock.origin()), Some(json!({"perSecond":0}))).await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(json_of(r).await["error"].as_str().unwrap_or("").contains("perSecond must be between 1 and"));
    let r = send(&http, Method::PUT, &format!("{}/_admin/rate-limit", mock.origin()), Some(json!({"perHour":1}))).await;
    assert_eq!(r.status().as_u16(), 400);

    // Listing and clearing.
    arm(&mock, json!({"operation":"any","fault":"server-error","count":3,"match":"A"})).await;
    arm(&mock, json!({"operation":"token","fault":"unavailable"})).await;
    let listed = json_of(send(&http, Method::GET, &faults, None).await).await;
    assert_eq!(listed["faults"][0], json!({"operation":"any","fault":"server-error","remaining":3,"match":"A"}));
    assert_eq!(listed["faults"][1]["operation"], "token");
    let cleared = json_of(send(&http, Method::DELETE, &format!("{faults}?match=A"), None).await).await;
    assert_eq!(cleared, json!({"cleared": 1}));
    let cleared = json_of(send(&http, Method::DELETE, &faults, None).await).await;
    assert_eq!(cleared, json!({"cleared": 1}));
    mock.shutdown().await;
}

#[tokio::test]
async fn the_token_endpoint_can_be_faulted_and_the_sandbox_has_no_fault_routes() {
    let config = MockConfig { auth: true, ..MockConfig::loopback(Profile::Stateful) };
    let mock = mock::start(config).await.unwrap_or_else(|e| panic!("mock starts: {e}"));
    let http = client();
    arm(&mock, json!({"operation":"token","fault":"unavailable"})).await;
    let token_url = format!("{}/oauth2/token", mock.origin());
    let r = http
        .post(&token_url)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await;
    assert_eq!(r.map(|r| r.status().as_u16()).ok(), Some(503));
    let r = http
        .post(&token_url)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await;
    assert_eq!(r.map(|r| r.status().as_u16()).ok(), Some(400), "the identity service's own answer again");
    mock.shutdown().await;

    let sandbox = mock::start(MockConfig::loopback(Profile::Sandbox)).await.unwrap_or_else(|e| panic!("{e}"));
    let r = send(&http, Method::POST, &format!("{}/_admin/faults", sandbox.origin()), Some(json!({}))).await;
    assert_eq!(r.status().as_u16(), 404);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn behind_the_gateway_the_rate_limit_counts_the_tokens_app_after_the_token_check() {
    use scr_assure::identity::apps::AppRegistry;
    use scr_assure::identity::assertion::{self, AssertionSpec};
    use scr_assure::identity::client::TokenClient;
    use scr_assure::identity::keys::SigningKey;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/identity");
    let clock = Clock::fixed(minute_start());
    let config = MockConfig {
        auth: true,
        clock: clock.clone(),
        rate_limit: Some(RateLimit::default()),
        ..MockConfig::loopback(Profile::Stateful)
    };
    let mock = mock::start(config).await.unwrap_or_else(|e| panic!("mock starts: {e}"));
    let http = client();
    let apps = AppRegistry::load(format!("{FIXTURES}/apps.toml")).unwrap_or_else(|e| panic!("apps: {e}"));
    let api_key = apps.by_name("scr-assure-test").map(|a| a.api_key.clone()).unwrap_or_else(|| panic!("test app"));
    let key = SigningKey::from_pem_file(format!("{FIXTURES}/test-app-private-key.pem"), "scr-assure-test-1")
        .unwrap_or_else(|e| panic!("key: {e}"));
    let token_url = format!("{}/oauth2/token", mock.origin());
    let spec = AssertionSpec::new(api_key, "scr-assure-test-1", token_url.clone(), clock.now());
    let minted = assertion::mint(&spec, &key).unwrap_or_else(|e| panic!("assertion: {e}"));
    let form = TokenClient::client_credentials_form(&minted, &[]).encode();
    let r = http
        .post(&token_url)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("token: {e}"));
    assert_eq!(r.status().as_u16(), 200, "the token endpoint is not rate limited");
    let token = json_of(r).await["access_token"].as_str().unwrap_or_else(|| panic!("no access_token")).to_owned();
    let nhs = nhs_number(999_309_000);
    let get = |bearer: Option<String>| {
        let request = http.get(scr_id_url(&mock, &nhs));
        let request = match bearer {
            Some(t) => request.header("Authorization", format!("Bearer {t}")),
            None => request,
        };
        async move { request.send().await.map(|r| r.status().as_u16()).unwrap_or_else(|e| panic!("{e}")) }
    };
    assert_eq!(get(None).await, 401, "refused by the token check");
    assert_eq!(get(Some(token.clone())).await, 200, "the token's app has its own count");
    assert_eq!(
        get(None).await,
        401,
        "the token check answers before the rate limit (else a second request at this instant would be 429)"
    );
    assert_eq!(get(Some(token.clone())).await, 429, "the app's second request in the same 200 ms");
    clock.advance(chrono::Duration::milliseconds(200));
    assert_eq!(get(Some(token)).await, 200);
    mock.shutdown().await;
}
