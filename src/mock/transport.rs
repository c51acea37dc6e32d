//! HTTP plumbing in the order the NHS backend applies it (reference §3): the X-Correlation-ID then
//! X-Request-ID filter (before anything else, and its errors carry no echo headers), 404 with the path,
//! 405 with `Allow`, 415 for a POST that is not `application/fhir+json`, then the adaptor ([`super::backend`]).
//! Every answer that passes the filter echoes (or generates, upper-case) both ids.

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
use super::{admin, AppState};
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
    if suffix.as_deref() == Some("/_ping") && parts.method == Method::GET {
        return ping();
    }
    // The audit trail's record of this request, if it is an SCR operation.
    let operation = suffix.as_deref().and_then(|s| Operation::recognise(&parts.method, s));
    let draft = |who: &str, headers: &HeaderMap| operation.map(|op| AccessDraft::from_headers(op, who, headers));
    // The gateway (auth on) answers before anything of the backend, on every path under the base path.
    let mut headers = parts.headers.clone();
    let caller = match (&app.identity, app.auth, suffix.as_deref()) {
        (Some(identity), true, Some(suffix)) => {
            match gateway::check(identity, &app.clock, &parts.method, suffix, &parts.headers) {
                Ok(caller) => {
                    // The resolved role travels on as NHSD-Session-URID when the client sent none.
                    if let (Some(role), false) = (&caller.role, headers.contains_key(backend::SESSION_URID)) {
                        if let Ok(v) = HeaderValue::from_str(&role.person_roleid) {
                            headers.insert(backend::SESSION_URID, v);
                        }
                    }
                    Some(caller)
                }
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
    if suffix.as_deref() == Some("/healthcheck") && parts.method == Method::GET {
        return healthcheck();
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
            response
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
            match headers.get(name) {
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

/// `GET {base}/_ping` (reference §4.6): answered by the proxy, no auth.
fn ping() -> Response {
    let body = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "scr-assure-mock",
        "releaseId": "scr-assure-mock",
        "commitId": "scr-assure-mock"
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// `GET {base}/healthcheck` (reference §4.6): the backend's actuator health, open in the sandbox.
fn healthcheck() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], r#"{"status":"UP"}"#).into_response()
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
