//! HTTP plumbing in the order the NHS deployment applies it (reference §3). First the proxy's own flows, which
//! never reach the target: the CORS preflight (200, no token), `_ping` and `_status` (with its `apikey`). Then the
//! gateway ([`super::gateway`], auth on) and, in the backend, the X-Correlation-ID then X-Request-ID filter (before
//! anything else, its errors carry no echo headers; an empty id is absent), 404 with the path, 405 with `Allow`
//! (`/healthcheck` included), 415 for a POST that is not `application/fhir+json`, Spring's `Accept` check (a 500
//! in this adaptor), then the adaptor ([`super::backend`]). Every answer that passes the filter echoes (or
//! generates, upper-case) both ids. Behind the live proxy a backend status outside its `success.codes` becomes
//! the catch-all UNKNOWN_ERROR; the sandbox proxy adds its CORS headers to every answer of the target.

use std::sync::{Arc, LazyLock};

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use percent_encoding::percent_decode_str;
use regex::Regex;
use serde_json::Value;

use super::audit::{self, AccessDraft};
use super::backend::{self, Answer};
use super::connection::ConnectionHandle;
use super::gateway::{self, CallerIdentity};
use super::identity::IdentityService;
use super::operation::Operation;
use super::traffic::PendingEntry;
use super::{admin, AppState, Profile};
use super::{faults, rate_limit, resend};
use crate::clock;
use crate::scr::codes::{BASE_PATH, FHIR_JSON};
use crate::scr::{texts, IssueCode, ScrError};

pub const X_CORRELATION_ID: &str = "X-Correlation-ID";
pub const X_REQUEST_ID: &str = "X-Request-ID";

/// Largest request body the mock reads (the NHS limit is unpublished; reference §3.5 lists 413).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// The backend's UUID check: any version, any case (reference §3.1).
static UUID_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
        .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});

/// The SCR operations, by path below the base path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    DocumentReference,
    Bundle,
    SetPermission,
    AuditEvent,
}

impl Endpoint {
    fn from_path(path: &str) -> Option<Self> {
        match path.trim_end_matches('/') {
            "/DocumentReference" => Some(Self::DocumentReference),
            "/Bundle" => Some(Self::Bundle),
            "/$setPermission" => Some(Self::SetPermission),
            "/AuditEvent" => Some(Self::AuditEvent),
            _ => None,
        }
    }

    /// Methods the controller maps, in the `Allow` header's order.
    pub fn allowed(self) -> &'static [Method] {
        match self {
            Self::DocumentReference => &[Method::GET],
            Self::Bundle => &[Method::GET, Method::POST],
            Self::SetPermission | Self::AuditEvent => &[Method::POST],
        }
    }

    fn allow_header(self) -> String {
        self.allowed().iter().map(Method::as_str).collect::<Vec<_>>().join(",")
    }
}

/// The mock's router: everything goes through [`dispatch`], which owns the NHS ordering of checks.
pub fn router(app: Arc<AppState>) -> Router {
    Router::new().fallback(dispatch).with_state(app)
}

async fn dispatch(State(app): State<Arc<AppState>>, request: Request) -> Response {
    let started = clock::wall_time();
    let arrived = app.clock.now();
    let (parts, body) = request.into_parts();
    // Read the whole body before any answer, early ones included: a connection whose request body was left
    // unread cannot be reused, and a client that has already pooled it would fail its next request.
    let body = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => Ok(bytes),
        Err(e) if is_length_limit(&e) => {
            Err(ScrError::new(413, IssueCode::Invalid, "Request body exceeds the host imposed limitation"))
        }
        // Malformed chunked encoding, or fewer bytes than Content-Length: not "too large" (found by fuzzing).
        Err(_) => Err(ScrError::bad_request(texts::UNREADABLE_BODY)),
    };
    let raw_path = parts.uri.path().to_owned();
    let path = percent_decode_str(&raw_path).decode_utf8_lossy().into_owned();
    if path.starts_with("/_admin") {
        return serve(app, parts, body, path).await;
    }
    // The journal's record of the request, and who it is attributable to (which also scopes faults by app).
    let identity = app.identity.clone();
    let mut pending = PendingEntry::new(identity.as_deref(), arrived, started, &parts, &path, body.as_deref().ok());
    // Injected faults play the Apigee layer: before the identity service, the gateway and the backend.
    let operation = match path.strip_prefix(BASE_PATH) {
        Some(suffix) => Operation::recognise(&parts.method, suffix),
        None => Operation::recognise(&parts.method, &path).filter(|op| *op == Operation::Token),
    };
    let fault = operation.and_then(|op| {
        let bytes = body.as_deref().unwrap_or_default();
        app.faults.take(op, pending.app(), || faults::request_text(&path, parts.uri.query(), bytes))
    });
    let journal = app.traffic.clone();
    let response = match (fault, operation) {
        (Some(kind), Some(operation)) => {
            pending.set_fault(kind.name());
            let connection = parts.extensions.get::<ConnectInfo<ConnectionHandle>>().map(|c| c.0.clone());
            let headers = parts.headers.clone();
            let edge_answer = kind.answers_at_the_edge();
            let app_for_audit = app.clone();
            let response = faults::answer(kind, &headers, connection, serve(app, parts, body, path)).await;
            // The edge's own answer is an access too (no caller verified); a request that went on to the service
            // was recorded there, and a reset has no answer to record.
            if edge_answer.is_some_and(|status| status.is_none_or(|s| s == response.status().as_u16())) {
                let draft = AccessDraft::from_headers(operation, audit::UNVERIFIED, &headers);
                app_for_audit.audit.record(draft, response.status().as_u16());
            }
            response
        }
        _ => serve(app, parts, body, path).await,
    };
    pending.finish(&journal, identity.as_deref(), response).await
}

/// A request as the NHS deployment serves it: identity service, gateway, rate limits, ids, then [`route`].
async fn serve(app: Arc<AppState>, parts: Parts, body: Result<Bytes, ScrError>, path: String) -> Response {
    if let (Some(identity), true) = (&app.identity, IdentityService::serves(&path)) {
        let body = body.unwrap_or_default();
        // The token endpoint is audited by app name (never the client id itself: it is the API key).
        let token_call = (Operation::recognise(&parts.method, &path) == Some(Operation::Token)).then(|| {
            AccessDraft::from_headers(Operation::Token, audit::token_client(&identity.apps(), &body), &parts.headers)
        });
        let response = identity.handle(&parts.method, &path, parts.uri.query(), &parts.headers, body).await;
        if let Some(draft) = token_call {
            app.audit.record(draft, response.status().as_u16());
        }
        return response;
    }
    if let Some(rest) = path.strip_prefix("/_admin") {
        let body = body.unwrap_or_default();
        return admin::handle(&app, &parts.method, rest, parts.uri.query(), &body);
    }
    let suffix = path.strip_prefix(BASE_PATH).map(str::to_owned);
    // The proxy's own flows (`proxies/*/apiproxy/proxies/default.xml`): no route to the target, no token.
    if let Some(response) = suffix.as_deref().and_then(|s| proxy_endpoint(&app, &parts, s)) {
        return response;
    }
    let sandbox_cors = app.profile == Profile::Sandbox && suffix.is_some();
    let origin = parts.headers.get(header::ORIGIN).cloned();
    let mut response = serve_target(app, parts, body, path, suffix).await;
    // The sandbox proxy's target adds `AssignMessage.AddCors` to every answer, errors included
    // (`proxies/sandbox/apiproxy/targets/sandbox.xml`: PreFlow response and DefaultFaultRule).
    if sandbox_cors {
        add_cors(&mut response, SANDBOX_CORS_HEADERS, SANDBOX_CORS_METHODS, origin.as_ref());
    }
    response
}

/// What the proxy's target endpoint and the backend make of a request to the SCR base path (or elsewhere).
async fn serve_target(
    app: Arc<AppState>,
    parts: Parts,
    body: Result<Bytes, ScrError>,
    path: String,
    suffix: Option<String>,
) -> Response {
    // The audit trail's record of this request, if it is an SCR operation.
    let operation = suffix.as_deref().and_then(|s| Operation::recognise(&parts.method, s));
    let draft = |who: &str, headers: &HeaderMap| operation.map(|op| AccessDraft::from_headers(op, who, headers));
    // The gateway (auth on) answers before anything of the backend, on every path under the base path.
    // The UserRoleService validates the role but does not write it into NHSD-Session-URID: nothing in
    // `scr-target.xml` sets that header, so a POST without it reaches the adaptor, which requires it.
    let headers = parts.headers.clone();
    let caller = match (&app.identity, app.auth, suffix.as_deref()) {
        (Some(identity), true, Some(suffix)) => {
            match gateway::check(identity, &app.clock, &parts.method, suffix, &parts.headers) {
                Ok(caller) => Some(caller),
                Err(refusal) => {
                    if let Some(draft) = draft(audit::UNVERIFIED, &parts.headers) {
                        app.audit.record(draft, refusal.status().as_u16());
                    }
                    return *refusal;
                }
            }
        }
        _ => None,
    };
    // The proxy's Quota and SpikeArrest, per app, after the token check (`scr-target.xml`'s PreFlow).
    if suffix.is_some() {
        let app_name = caller.as_ref().map_or(rate_limit::OPEN_ACCESS_APP, |c| c.app.as_str());
        if let Err(refusal) = app.rate_limit.admit(app_name, app.clock.now()) {
            let response = faults::rate_limited(refusal.retry_after_secs);
            let who = caller.as_ref().map_or(audit::OPEN_ACCESS, CallerIdentity::audit_name);
            if let Some(draft) = draft(who, &headers) {
                app.audit.record(draft, response.status().as_u16());
            }
            return response;
        }
    }
    let who = caller.as_ref().map_or(audit::OPEN_ACCESS, CallerIdentity::audit_name);
    let mut access = draft(who, &headers);
    // The trail names the role the UserRoleService resolved (header, selected_roleid or the only role), which the
    // proxy does not forward; without a gateway, the role the request's header names.
    if let (Some(draft), Some(role)) = (access.as_mut(), caller.as_ref().and_then(|c| c.role.as_ref())) {
        draft.role = Some(role.person_roleid.clone());
    }
    let ids = match CallIds::check(&parts.headers) {
        Ok(ids) => ids,
        Err(e) => {
            let response = outcome_response(&e);
            if let Some(draft) = access {
                app.audit.record(draft, response.status().as_u16());
            }
            return response;
        }
    };
    if let Some(draft) = access.as_mut() {
        draft.request_id = Some(ids.request_id.clone());
    }
    let mut response = match (suffix, body) {
        (_, Err(too_large)) => {
            let response = outcome_response(&too_large);
            if let Some(draft) = access {
                app.audit.record(draft, response.status().as_u16());
            }
            response
        }
        (Some(suffix), Ok(bytes)) => {
            let mut recording = app.audit.recording(access);
            let response = route(
                &app,
                &parts.method,
                &suffix,
                parts.uri.query(),
                &headers,
                bytes,
                caller.as_ref(),
                &mut recording,
            );
            recording.finish(response.status().as_u16());
            // The live proxy passes only `success.codes` (1xx–4xx, 503, 504) unchanged: any other status of the
            // backend's falls to the target's DefaultFaultRule, the catch-all UNKNOWN_ERROR with the same status
            // (`proxies/live/apiproxy/targets/scr-target.xml`).
            if app.auth && !live_proxy_passes(response.status()) {
                faults::unknown_error(response.status())
            } else {
                response
            }
        }
        (None, Ok(_)) => outcome_response(&ScrError::new(404, IssueCode::NotFound, texts::not_found(&path))),
    };
    if parts.method == Method::HEAD {
        *response.body_mut() = Body::empty();
    }
    ids.stamp(response)
}

/// 404 → 405 → 415 → the adaptor.
#[allow(clippy::too_many_arguments)]
fn route(
    app: &AppState,
    method: &Method,
    suffix: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
    caller: Option<&CallerIdentity>,
    rec: &mut audit::Recording<'_>,
) -> Response {
    if suffix.trim_end_matches('/') == "/healthcheck" {
        return healthcheck(method);
    }
    let Some(endpoint) = Endpoint::from_path(suffix) else {
        return outcome_response(&ScrError::new(404, IssueCode::NotFound, texts::not_found(suffix)));
    };
    if method == Method::OPTIONS {
        return (StatusCode::OK, [(header::ALLOW, endpoint.allow_header())]).into_response();
    }
    let effective = if method == Method::HEAD { &Method::GET } else { method };
    if !endpoint.allowed().contains(effective) {
        let e = ScrError::new(405, IssueCode::NotSupported, texts::method_not_supported(method.as_str()));
        let mut response = outcome_response(&e);
        if let Ok(allow) = HeaderValue::from_str(&endpoint.allow_header()) {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        return response;
    }
    if effective == Method::POST {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").trim();
        if !is_fhir_json(content_type) {
            return outcome_response(&ScrError::new(
                415,
                IssueCode::NotSupported,
                texts::unsupported_media_type(content_type),
            ));
        }
    }
    // Spring's `produces = application/fhir+json` (every SCR controller), checked after 405 and 415
    // (`RequestMappingInfoHandlerMapping.handleNoMatch`). The adaptor does not handle Spring's 406: its
    // `handleExceptionInternal` sends every such exception to `handleAllExceptions`, a 500 `exception`.
    if !accepts_fhir_json(headers) {
        return outcome_response(&ScrError::new(500, IssueCode::Exception, texts::NOT_ACCEPTABLE));
    }
    let params = parse_query(query);
    let answer = match (endpoint, effective) {
        (Endpoint::DocumentReference, _) => backend::get_document_reference(app, &params, rec),
        (Endpoint::Bundle, &Method::GET) => backend::get_bundle(app, &params, rec),
        (Endpoint::Bundle, _) => resend::upload_once(app, headers, &body, rec),
        (Endpoint::SetPermission, _) => backend::set_permission(app, headers, &body, caller, rec),
        (Endpoint::AuditEvent, _) => backend::post_audit_event(app, headers, &body, caller, rec),
    };
    match answer {
        Ok(Answer::Ok(value)) => fhir_response(StatusCode::OK, &value),
        Ok(Answer::Created) => StatusCode::CREATED.into_response(),
        Err(e) => outcome_response(&e),
    }
}

/// Whether reading a body failed because it exceeded [`MAX_BODY_BYTES`] (rather than being malformed).
fn is_length_limit(error: &axum::Error) -> bool {
    std::error::Error::source(error).is_some_and(|e| e.is::<http_body_util::LengthLimitError>())
}

/// `application/fhir+json`, with any parameters (e.g. `;charset=UTF-8`), case-insensitive.
pub fn is_fhir_json(content_type: &str) -> bool {
    content_type.split(';').next().is_some_and(|media| media.trim().eq_ignore_ascii_case(FHIR_JSON))
}

/// Query parameters decoded as a servlet container does (`+` is a space, `%7C` and a raw `|` both work), by
/// `form_urlencoded`.
pub fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect()
}

/// The two tracing ids of a call: validated, then echoed or generated.
struct CallIds {
    correlation_id: String,
    request_id: String,
}

impl CallIds {
    /// X-Correlation-ID is checked before X-Request-ID (reference §3.1).
    fn check(headers: &HeaderMap) -> Result<Self, ScrError> {
        let take = |name: &str| -> Result<String, ScrError> {
            // `StringUtils.isEmpty`: an empty header is treated as absent (`UuidValidationFilter`,
            // `ConversationIdFilter`, `RequestIdFilter`); HTTP has already stripped surrounding blanks.
            match headers.get(name).filter(|v| !v.is_empty()) {
                None => Ok(uuid::Uuid::new_v4().to_string().to_uppercase()),
                Some(v) => match v.to_str() {
                    Ok(s) if UUID_RE.is_match(s) => Ok(s.to_owned()),
                    _ => Err(ScrError::bad_request(texts::invalid_uuid_header(name))),
                },
            }
        };
        let correlation_id = take(X_CORRELATION_ID)?;
        let request_id = take(X_REQUEST_ID)?;
        Ok(Self { correlation_id, request_id })
    }

    fn stamp(&self, mut response: Response) -> Response {
        for (name, value) in [(X_REQUEST_ID, &self.request_id), (X_CORRELATION_ID, &self.correlation_id)] {
            if let Ok(v) = HeaderValue::from_str(value) {
                response.headers_mut().insert(name, v);
            }
        }
        response
    }
}

/// A FHIR JSON body, compact as the backend writes it.
pub fn fhir_response(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, FHIR_JSON)], body.to_string()).into_response()
}

/// The backend's OperationOutcome for an error.
pub fn outcome_response(error: &ScrError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    fhir_response(status, &error.to_operation_outcome())
}

/// `GET|HEAD {base}/_ping` (reference §4.6): answered by the proxy (`AssignMessage.AddPayloadToPing`), no auth.
fn ping() -> Response {
    let body = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "scr-assure-mock",
        "releaseId": "scr-assure-mock",
        "commitId": "scr-assure-mock"
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// `{base}/healthcheck` (reference §4.6): the backend's actuator health (`application.yml`
/// `path-mapping.health: healthcheck`), GET only. Another method is Spring's 405, which the adaptor's
/// `OperationOutcomeExceptionHandler` answers with its `ALLOWED_METHODS` entry `"/healthcheck", List.of(GET)`;
/// OPTIONS is Spring's default answer (**derived**).
fn healthcheck(method: &Method) -> Response {
    match *method {
        Method::GET | Method::HEAD => healthcheck_up(),
        Method::OPTIONS => (StatusCode::OK, [(header::ALLOW, "GET,HEAD,OPTIONS")]).into_response(),
        _ => {
            let e = ScrError::new(405, IssueCode::NotSupported, texts::method_not_supported(method.as_str()));
            let mut response = outcome_response(&e);
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET"));
            response
        }
    }
}

fn healthcheck_up() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], HEALTH_UP).into_response()
}

/// The actuator's health body.
const HEALTH_UP: &str = r#"{"status":"UP"}"#;

/// The live proxy's `success.codes` (`1xx,2xx,3xx,4xx,503,504`, `scr-target.xml`).
pub fn live_proxy_passes(status: StatusCode) -> bool {
    status.as_u16() < 500 || status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::GATEWAY_TIMEOUT
}

/// `Access-Control-Allow-Headers` of the live proxy's `AssignMessage.AddCors`
/// (`proxies/live/apiproxy/policies/AssignMessage.AddCors.xml`).
pub const LIVE_CORS_HEADERS: &str = "origin, x-requested-with, accept, content-type, nhsd-session-urid";
/// `Access-Control-Allow-Methods` of the live proxy's `AssignMessage.AddCors`.
pub const LIVE_CORS_METHODS: &str = "GET, PUT, POST, DELETE";
/// `Access-Control-Allow-Headers` of the sandbox proxy's `AssignMessage.AddCors`
/// (`proxies/sandbox/apiproxy/policies/AssignMessage.AddCors.xml`).
pub const SANDBOX_CORS_HEADERS: &str =
    "origin, x-requested-with, accept, content-type, nhsd-session-urid, authorization, x-correlation-id, x-request-id";
/// `Access-Control-Allow-Methods` of the sandbox proxy's `AssignMessage.AddCors`.
pub const SANDBOX_CORS_METHODS: &str = "GET, PUT, POST, PATCH, DELETE";
/// `Access-Control-Max-Age` of both proxies' `AssignMessage.AddCors`.
pub const CORS_MAX_AGE: &str = "3628800";

/// The status endpoint's API key of the mock's platform (`private.apigee.status-endpoint-api-key` in the NHS
/// KVM, a platform secret there). A published test value: only a mock-only scenario sends it.
pub const MOCK_STATUS_API_KEY: &str = "scr-assure-mock-status-key";

/// `AssignMessage.AddCors`: `{request.header.origin}` (left out when the request has no Origin: whether
/// Apigee then sends an empty header is **unconfirmed**), the header list, max age and methods.
fn add_cors(response: &mut Response, allow_headers: &'static str, methods: &'static str, origin: Option<&HeaderValue>) {
    let headers = response.headers_mut();
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(allow_headers));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(CORS_MAX_AGE));
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(methods));
}

/// The flows of the proxy's ProxyEndpoint that never reach the target (`proxies/*/apiproxy/proxies/default.xml`):
/// the CORS preflight (`OptionsPreFlight` + `NoRoute`: 200, empty, no token checked), `_ping` and `_status`
/// (GET or HEAD). Anything else (`POST /_ping` too) goes on to the target.
fn proxy_endpoint(app: &AppState, parts: &Parts, suffix: &str) -> Option<Response> {
    let (method, headers) = (&parts.method, &parts.headers);
    let get_or_head = *method == Method::GET || *method == Method::HEAD;
    let mut response = if method == Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let (allow_headers, methods) = match app.profile {
            Profile::Sandbox => (SANDBOX_CORS_HEADERS, SANDBOX_CORS_METHODS),
            Profile::Stateful => (LIVE_CORS_HEADERS, LIVE_CORS_METHODS),
        };
        let mut response = StatusCode::OK.into_response();
        add_cors(&mut response, allow_headers, methods, headers.get(header::ORIGIN));
        response
    } else if suffix == "/_ping" && get_or_head {
        ping()
    } else if suffix == "/_status" && get_or_head {
        status(app, headers)
    } else {
        return None;
    };
    if *method == Method::HEAD {
        *response.body_mut() = Body::empty();
    }
    Some(response)
}

/// `GET {base}/_status` (reference §4.6): `RaiseFault.401Unauthorized` (401, empty `text/plain`) unless the
/// `apikey` header is the platform's status key; else `ServiceCallout.CallHealthcheckEndpoint` to the backend's
/// `/healthcheck` and `javascript.SetStatusResponse` (its script is not in the reference: the body's shape is the
/// NHS API template's `SetStatusResponse.js`, **derived**; NHS's prod test asserts `status` "pass" and
/// `commitId`, `tests/prod/api_tests.py`).
fn status(app: &AppState, headers: &HeaderMap) -> Response {
    let key = headers.get("apikey").map(HeaderValue::as_bytes);
    if key != Some(MOCK_STATUS_API_KEY.as_bytes()) {
        return (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "text/plain")]).into_response();
    }
    let body = serde_json::json!({
        "status": "pass",
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "scr-assure-mock",
        "releaseId": "scr-assure-mock",
        "commitId": "scr-assure-mock",
        "checks": { "healthcheckService:status": [{
            "status": "pass",
            "timeout": "false",
            "responseCode": 200,
            "outcome": HEALTH_UP,
            "links": { "self": format!("{}/healthcheck", app.base_url()) }
        }]}
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// Whether Spring would match `produces = application/fhir+json` against the request's `Accept` headers
/// (`ProducesRequestCondition`, Spring 5.3; **derived**): no Accept (or only empty ones) means `*/*`; a value that
/// does not parse as media types makes the condition fail; otherwise one range must be compatible
/// (`*/*`, `application/*`, `application/*+json`, `application/fhir+json`, any case, any parameters).
pub fn accepts_fhir_json(headers: &HeaderMap) -> bool {
    let mut ranges = vec![];
    for value in headers.get_all(header::ACCEPT) {
        let Ok(text) = value.to_str() else { return false };
        for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match parse_media_range(token) {
                Some(range) => ranges.push(range),
                None => return false,
            }
        }
    }
    ranges.is_empty()
        || ranges
            .iter()
            .any(|(t, s)| t == "*" || (t == "application" && (s == "*" || s == "fhir+json" || s == "*+json")))
}

/// `MimeTypeUtils.parseMimeType` + `MediaType`'s checks, enough to tell a valid range from an invalid one:
/// `type/subtype` tokens (`*` alone is `*/*`; a wildcard type needs a wildcard subtype), `name=value`
/// parameters (value a token or quoted; `q` a number in 0..1). Lower-cased type and subtype.
fn parse_media_range(text: &str) -> Option<(String, String)> {
    let is_token =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    let mut pieces = text.split(';');
    let full = pieces.next()?.trim();
    let (kind, sub) = if full == "*" { ("*", "*") } else { full.split_once('/')? };
    if !is_token(kind) || !is_token(sub) || (kind == "*" && sub != "*") {
        return None;
    }
    for parameter in pieces.map(str::trim).filter(|p| !p.is_empty()) {
        // Spring ignores a parameter without '='.
        let Some((name, value)) = parameter.split_once('=') else { continue };
        let (name, value) = (name.trim(), value.trim());
        let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
        if !is_token(name) || !(quoted || is_token(value)) {
            return None;
        }
        if name.eq_ignore_ascii_case("q") && !value.parse::<f64>().is_ok_and(|q| (0.0..=1.0).contains(&q)) {
            return None;
        }
    }
    Some((kind.to_ascii_lowercase(), sub.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding_accepts_raw_and_encoded_pipes() {
        let raw = parse_query(Some("patient=https://fhir.nhs.uk/Id/nhs-number|9000000009&_count=1"));
        let enc = parse_query(Some("patient=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9000000009&_count=1"));
        assert_eq!(raw, enc);
        assert_eq!(raw[0].1, "https://fhir.nhs.uk/Id/nhs-number|9000000009");
    }

    #[test]
    fn fhir_json_accepts_parameters_only() {
        assert!(is_fhir_json("application/fhir+json; charset=UTF-8"));
        assert!(is_fhir_json("Application/FHIR+JSON"));
        assert!(!is_fhir_json("application/json"));
        assert!(!is_fhir_json(""));
    }

    #[tokio::test]
    async fn only_a_body_over_the_limit_counts_as_too_large() {
        let over = to_bytes(Body::from(vec![b' '; 11]), 10).await.err();
        assert!(over.as_ref().is_some_and(is_length_limit), "{over:?}");
        let chunks = [Ok(Bytes::from_static(b"{")), Err(std::io::Error::other("connection reset"))];
        let broken = to_bytes(Body::from_stream(futures::stream::iter(chunks)), 10).await.err();
        assert!(broken.as_ref().is_some_and(|e| !is_length_limit(e)), "{broken:?}");
    }

    #[test]
    fn allow_headers_match_the_controllers() {
        assert_eq!(Endpoint::Bundle.allow_header(), "GET,POST");
        assert_eq!(Endpoint::DocumentReference.allow_header(), "GET");
        assert_eq!(Endpoint::SetPermission.allow_header(), "POST");
    }
}
