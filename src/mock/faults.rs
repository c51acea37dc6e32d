//! Fault injection (mock-only): the mock can be told to answer the next N requests of an operation (or of
//! any operation) with a failure a real client must survive — the answers of the Apigee layer and the
//! infrastructure around the SCR service (reference §3.5), and broken transport.
//!
//! **Where a fault sits.** Faults play the Apigee layer: they are taken right after the request body is read,
//! before the identity service, the gateway, the rate limits and the backend, so a faulted request changes no
//! state — except `gateway-timeout` with `processed: true`, which first runs the whole request (gateway,
//! backend, Spine) and then answers 504, and the faults that alter the real answer (`slow-body`,
//! `wrong-content-type`), which run it too. Armed faults are taken first-armed first; each answers the next
//! `count` matching requests, then disarms. `match` (optional) limits a fault to requests whose path, query
//! or body contains that text — a scenario's NHS number — so concurrent scenarios never take each other's.
//!
//! | fault | answer | source |
//! |---|---|---|
//! | `rate-limited` {retryAfter=1} | 429, the proxy's catch-all `UNKNOWN_ERROR` OperationOutcome, `application/json`, `Retry-After` | body: a SpikeArrest/Quota violation falls to the proxy's DefaultFaultRule (**derived**); `Retry-After` **derived** |
//! | `server-error` | 500, the same catch-all body | §3.5 "backend returned 500/502" |
//! | `unavailable` | 503, `application/fhir+json` OperationOutcome `transient` `Code: 503, Display: Service Not Available` | spec 503 example |
//! | `unavailable-html` | 503, `text/html` page containing `503 Service Temporarily Unavailable` | spec 503 text; the page itself (nginx's) **derived** |
//! | `gateway-timeout` {delayMs=200, processed=false} | after the delay, 504 `transient` `Request processing timed out. Spine POST + polling GET has timed out` | §3.4, spec 504 |
//! | `slow-body` {chunkDelayMs=50, chunks=5} | the real answer, its body sent in `chunks` parts each after `chunkDelayMs` | **derived** |
//! | `connection-reset` | no HTTP answer: the connection is closed with a TCP RST | **derived** |
//! | `malformed-json` | 200 `application/fhir+json`, a truncated searchset Bundle | **derived** |
//! | `wrong-content-type` {contentType="text/plain"} | the real answer with that Content-Type | **derived** |
//! | `oversized` {bytes=64 MiB} | 200 `application/fhir+json` of exactly `bytes` bytes (an empty searchset Bundle padded with JSON whitespace), streamed | §3.5 lists no response limit; **derived** |
//! | `unauthorized` | 401, the gateway's answer to an unknown token (`ACCESS_DENIED` / `Invalid Access Token` OperationOutcome, `application/json`) | §3.5, §10.6 (the gateway's own function) |
//!
//! **Scoped by app.** `"app": NAME` (a registered app) limits a fault to requests attributable to that app —
//! by their bearer token's grant, or for a token request its `client_id` / client assertion `iss` — the same
//! attribution as the traffic journal ([`super::traffic`]); combinable with `match`.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::body::{to_bytes, Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::connection::ConnectionHandle;
use super::operation::Operation;
use crate::scr::codes::FHIR_JSON;
use crate::scr::outcome::operation_outcome;
use crate::scr::texts;

/// One kind of fault, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    RateLimited { retry_after_secs: u64 },
    ServerError,
    Unavailable,
    UnavailableHtml,
    GatewayTimeout { delay_ms: u64, processed: bool },
    SlowBody { chunk_delay_ms: u64, chunks: u64 },
    ConnectionReset,
    MalformedJson,
    WrongContentType { content_type: String },
    Oversized { bytes: u64 },
    Unauthorized,
}

impl FaultKind {
    /// Whether the fault's answer comes from the edge rather than the service: `None` when the service answers
    /// (`slow-body`, `wrong-content-type` only alter its answer) or nothing does (a reset); `Some(None)` when the
    /// edge always answers; `Some(Some(504))` for a `processed` timeout, whose 504 is the edge's only when the
    /// service accepted the request (a refusal stands as the service's own answer).
    pub fn answers_at_the_edge(&self) -> Option<Option<u16>> {
        match self {
            Self::SlowBody { .. } | Self::WrongContentType { .. } | Self::ConnectionReset => None,
            Self::GatewayTimeout { processed: true, .. } => Some(Some(504)),
            _ => Some(None),
        }
    }
}

/// The fault names the admin route accepts, in the README's order.
pub const FAULT_NAMES: [&str; 11] = [
    "rate-limited",
    "server-error",
    "unavailable",
    "unavailable-html",
    "gateway-timeout",
    "slow-body",
    "connection-reset",
    "malformed-json",
    "wrong-content-type",
    "oversized",
    "unauthorized",
];

/// Default size of an `oversized` answer.
pub const DEFAULT_OVERSIZED_BYTES: u64 = 64 * 1024 * 1024;
/// The truncated body of `malformed-json`.
pub const MALFORMED_JSON_BODY: &str =
    r#"{"resourceType":"Bundle","type":"searchset","total":1,"entry":[{"fullUrl":"urn:uuid:"#;
/// The JSON an `oversized` body starts with; JSON whitespace pads it to the size asked for.
const OVERSIZED_HEAD: &str = r#"{"resourceType":"Bundle","type":"searchset","total":0}"#;
const OVERSIZED_CHUNK: usize = 64 * 1024;

impl FaultKind {
    pub fn name(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate-limited",
            Self::ServerError => "server-error",
            Self::Unavailable => "unavailable",
            Self::UnavailableHtml => "unavailable-html",
            Self::GatewayTimeout { .. } => "gateway-timeout",
            Self::SlowBody { .. } => "slow-body",
            Self::ConnectionReset => "connection-reset",
            Self::MalformedJson => "malformed-json",
            Self::WrongContentType { .. } => "wrong-content-type",
            Self::Oversized { .. } => "oversized",
            Self::Unauthorized => "unauthorized",
        }
    }

    /// The parameters as the admin route names them.
    fn parameters(&self) -> Map<String, Value> {
        let value = match self {
            Self::RateLimited { retry_after_secs } => json!({ "retryAfter": retry_after_secs }),
            Self::GatewayTimeout { delay_ms, processed } => json!({ "delayMs": delay_ms, "processed": processed }),
            Self::SlowBody { chunk_delay_ms, chunks } => json!({ "chunkDelayMs": chunk_delay_ms, "chunks": chunks }),
            Self::WrongContentType { content_type } => json!({ "contentType": content_type }),
            Self::Oversized { bytes } => json!({ "bytes": bytes }),
            _ => json!({}),
        };
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// The members a kind accepts besides `operation`, `fault`, `count` and `match`.
    fn allowed_parameters(name: &str) -> &'static [&'static str] {
        match name {
            "rate-limited" => &["retryAfter"],
            "gateway-timeout" => &["delayMs", "processed"],
            "slow-body" => &["chunkDelayMs", "chunks"],
            "wrong-content-type" => &["contentType"],
            "oversized" => &["bytes"],
            _ => &[],
        }
    }
}

/// Which requests a fault is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Any,
    Only(Operation),
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::Only(op) => op.as_str(),
        }
    }
}

/// A fault waiting for its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmedFault {
    pub scope: Scope,
    pub kind: FaultKind,
    /// Requests it will still answer.
    pub remaining: u64,
    /// Text a request's path, query or body must contain.
    pub matching: Option<String>,
    /// The registered app a request must be attributable to (its bearer token's, or a token request's
    /// `client_id` / assertion `iss`), by name.
    pub app: Option<String>,
}

/// What was wrong with a `POST /_admin/faults` body.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FaultSpecError {
    #[error("the body must be a JSON object like {{\"operation\":\"get-scr-id\",\"fault\":\"server-error\",\"count\":1}}: {0}")]
    NotAnObject(String),
    #[error("'{0}' is required")]
    Missing(&'static str),
    #[error(
        "unknown operation '{0}': expected any, get-scr-id, get-scr, upload-scr, set-permission, send-alert or token"
    )]
    UnknownOperation(String),
    #[error("unknown fault '{0}': expected one of {names}", names = FAULT_NAMES.join(", "))]
    UnknownFault(String),
    #[error("'{member}' is not a parameter of '{fault}' (its parameters: {allowed})")]
    UnknownMember { member: String, fault: String, allowed: String },
    #[error("'{member}' must be {expected}")]
    BadValue { member: &'static str, expected: &'static str },
}

fn integer(
    obj: &Map<String, Value>,
    member: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
    expected: &'static str,
) -> Result<u64, FaultSpecError> {
    match obj.get(member) {
        None => Ok(default),
        Some(v) => v.as_u64().filter(|n| range.contains(n)).ok_or(FaultSpecError::BadValue { member, expected }),
    }
}

fn text<'a>(obj: &'a Map<String, Value>, member: &'static str) -> Result<Option<&'a str>, FaultSpecError> {
    match obj.get(member) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(_) => Err(FaultSpecError::BadValue { member, expected: "a non-empty string" }),
    }
}

impl ArmedFault {
    /// Parses a `POST /_admin/faults` body, refusing anything it does not understand.
    pub fn from_admin_json(body: &[u8]) -> Result<Self, FaultSpecError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| FaultSpecError::NotAnObject(e.to_string()))?;
        let obj = value.as_object().ok_or_else(|| FaultSpecError::NotAnObject(format!("got {value}")))?;
        let operation = text(obj, "operation")?.ok_or(FaultSpecError::Missing("operation"))?;
        let scope = match operation {
            "any" => Scope::Any,
            name => Scope::Only(name.parse().map_err(|_| FaultSpecError::UnknownOperation(name.to_owned()))?),
        };
        let name = text(obj, "fault")?.ok_or(FaultSpecError::Missing("fault"))?;
        if !FAULT_NAMES.contains(&name) {
            return Err(FaultSpecError::UnknownFault(name.to_owned()));
        }
        let allowed = FaultKind::allowed_parameters(name);
        if let Some(member) = obj.keys().find(|k| {
            !["operation", "fault", "count", "match", "app"].contains(&k.as_str()) && !allowed.contains(&k.as_str())
        }) {
            let allowed = if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") };
            return Err(FaultSpecError::UnknownMember { member: member.clone(), fault: name.to_owned(), allowed });
        }
        let count = integer(obj, "count", 1, 1..=10_000, "an integer from 1 to 10000")?;
        let matching = text(obj, "match")?.map(str::to_owned);
        let kind = match name {
            "rate-limited" => FaultKind::RateLimited {
                retry_after_secs: integer(obj, "retryAfter", 1, 1..=86_400, "a number of seconds from 1 to 86400")?,
            },
            "server-error" => FaultKind::ServerError,
            "unavailable" => FaultKind::Unavailable,
            "unavailable-html" => FaultKind::UnavailableHtml,
            "gateway-timeout" => FaultKind::GatewayTimeout {
                delay_ms: integer(obj, "delayMs", 200, 0..=120_000, "milliseconds from 0 to 120000")?,
                processed: match obj.get("processed") {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(FaultSpecError::BadValue { member: "processed", expected: "true or false" }),
                },
            },
            "slow-body" => FaultKind::SlowBody {
                chunk_delay_ms: integer(obj, "chunkDelayMs", 50, 0..=10_000, "milliseconds from 0 to 10000")?,
                chunks: integer(obj, "chunks", 5, 1..=1_000, "an integer from 1 to 1000")?,
            },
            "connection-reset" => FaultKind::ConnectionReset,
            "malformed-json" => FaultKind::MalformedJson,
            "unauthorized" => FaultKind::Unauthorized,
            "wrong-content-type" => {
                let content_type = text(obj, "contentType")?.unwrap_or("text/plain");
                if HeaderValue::from_str(content_type).is_err() {
                    return Err(FaultSpecError::BadValue { member: "contentType", expected: "a valid header value" });
                }
                FaultKind::WrongContentType { content_type: content_type.to_owned() }
            }
            _ => FaultKind::Oversized {
                bytes: integer(
                    obj,
                    "bytes",
                    DEFAULT_OVERSIZED_BYTES,
                    1024..=(8 << 30),
                    "a number of bytes from 1024 to 8589934592",
                )?,
            },
        };
        let app = text(obj, "app")?.map(str::to_owned);
        Ok(Self { scope, kind, remaining: count, matching, app })
    }

    /// As the admin route shows it.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("operation".into(), json!(self.scope.as_str()));
        obj.insert("fault".into(), json!(self.kind.name()));
        obj.insert("remaining".into(), json!(self.remaining));
        obj.insert("match".into(), json!(self.matching));
        if let Some(app) = &self.app {
            obj.insert("app".into(), json!(app));
        }
        obj.extend(self.kind.parameters());
        Value::Object(obj)
    }

    fn applies(&self, operation: Operation, app: Option<&str>, request_text: &mut dyn FnMut() -> String) -> bool {
        let scoped = match self.scope {
            Scope::Any => true,
            Scope::Only(op) => op == operation,
        };
        scoped
            && self.app.as_deref().is_none_or(|a| app == Some(a))
            && self.matching.as_deref().is_none_or(|m| request_text().contains(m))
    }
}

/// The faults armed on one mock.
#[derive(Debug, Default)]
pub struct FaultBook {
    armed: Mutex<Vec<ArmedFault>>,
}

impl FaultBook {
    pub fn arm(&self, fault: ArmedFault) {
        self.armed.lock().unwrap_or_else(PoisonError::into_inner).push(fault);
    }

    /// The fault that answers this request, if one is armed for it; counts it down (and disarms it at 0).
    /// `request_text` (path, query and body) is only built if a fault has a `match`.
    pub fn take(
        &self,
        operation: Operation,
        app: Option<&str>,
        request_text: impl FnOnce() -> String,
    ) -> Option<FaultKind> {
        let mut armed = self.armed.lock().unwrap_or_else(PoisonError::into_inner);
        if armed.is_empty() {
            return None;
        }
        let mut build = Some(request_text);
        let mut cached: Option<String> = None;
        let mut text = || -> String {
            if cached.is_none() {
                cached = Some(build.take().map(|f| f()).unwrap_or_default());
            }
            cached.clone().unwrap_or_default()
        };
        let index = armed.iter().position(|f| f.applies(operation, app, &mut text))?;
        let fault = &mut armed[index];
        fault.remaining = fault.remaining.saturating_sub(1);
        let kind = fault.kind.clone();
        if fault.remaining == 0 {
            armed.remove(index);
        }
        Some(kind)
    }

    /// The armed faults with their remaining counts.
    pub fn list(&self) -> Vec<Value> {
        self.armed.lock().unwrap_or_else(PoisonError::into_inner).iter().map(ArmedFault::to_json).collect()
    }

    /// Disarms every fault, or only those armed with exactly this `match`; returns how many.
    pub fn clear(&self, matching: Option<&str>) -> usize {
        let mut armed = self.armed.lock().unwrap_or_else(PoisonError::into_inner);
        let before = armed.len();
        armed.retain(|f| matching.is_some_and(|m| f.matching.as_deref() != Some(m)));
        before - armed.len()
    }
}

/// `/_admin/faults`: `POST` arms a fault (201 with it), `GET` lists the armed ones, `DELETE [?match=TEXT]`
/// disarms all (or those armed with that `match`).
pub fn admin(app: &super::AppState, method: &axum::http::Method, query: Option<&str>, body: &[u8]) -> Response {
    use super::admin::{error, json_response};
    use axum::http::Method;
    match *method {
        Method::POST => match ArmedFault::from_admin_json(body) {
            Ok(fault) if fault.app.as_deref().is_some_and(|name| !is_registered(app, name)) => {
                let name = fault.app.unwrap_or_default();
                error(StatusCode::BAD_REQUEST, &format!("'app' names no registered app ('{name}')"))
            }
            Ok(fault) => {
                let shown = fault.to_json();
                app.faults.arm(fault);
                json_response(StatusCode::CREATED, &shown)
            }
            Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
        },
        Method::GET => json_response(StatusCode::OK, &json!({ "faults": app.faults.list() })),
        Method::DELETE => {
            let params = super::transport::parse_query(query);
            let matching = params.iter().find(|(k, _)| k == "match").map(|(_, v)| v.as_str());
            json_response(StatusCode::OK, &json!({ "cleared": app.faults.clear(matching) }))
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on /_admin/faults: POST, GET or DELETE"),
    }
}

/// Whether the mock's identity service knows an app by that name.
fn is_registered(app: &super::AppState, name: &str) -> bool {
    app.identity.as_ref().is_some_and(|i| i.apps().by_name(name).is_some())
}

/// The text a fault's `match` is looked for in: the decoded path, the raw query and the body.
pub fn request_text(path: &str, query: Option<&str>, body: &[u8]) -> String {
    format!("{path}?{} {}", query.unwrap_or(""), String::from_utf8_lossy(body))
}

/// Apigee's `{messageid}` (format as the spec's example `rrt-4161241190348351641-b-geu2-4210-928960-20`;
/// the parts after `rrt-<number>` are **derived**).
fn message_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let random = uuid::Uuid::new_v4().as_u128() % 10_000_000_000_000_000_000;
    format!("rrt-{random:019}-b-mock-{}-1", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The proxy's catch-all answer (`AssignMessage.Errors.Default` + `AssignMessage.CatchallErrorMessage`).
pub(crate) fn unknown_error(status: StatusCode) -> Response {
    super::gateway::catch_all(
        status,
        "unknown",
        "UNKNOWN_ERROR",
        "Unknown Error",
        &texts::apigee_unknown_error_diagnostics(&message_id()),
    )
}

/// 429 as the live proxy answers a SpikeArrest or Quota violation, plus `Retry-After` (**derived**: the
/// reference does not say the proxy sends one; a client needs it to back off).
pub fn rate_limited(retry_after_secs: u64) -> Response {
    let mut response = unknown_error(StatusCode::TOO_MANY_REQUESTS);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

fn fhir_json(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, FHIR_JSON)], body.to_string()).into_response()
}

/// nginx's 503 page (**derived**; the spec only says it contains the term).
fn unavailable_html() -> Response {
    let title = texts::SERVICE_TEMPORARILY_UNAVAILABLE;
    let page = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "text/html")], page).into_response()
}

/// The backend's 504, echoing the tracing ids it was given (it is the backend's answer, not the proxy's).
fn gateway_timeout(ids_from: &HeaderMap) -> Response {
    let mut response =
        fhir_json(StatusCode::GATEWAY_TIMEOUT, &operation_outcome("error", "transient", texts::SPINE_TIMEOUT));
    for name in [super::transport::X_REQUEST_ID, super::transport::X_CORRELATION_ID] {
        if let Some(v) = ids_from.get(name) {
            response.headers_mut().insert(name, v.clone());
        }
    }
    response
}

/// `bytes` bytes of valid JSON, produced chunk by chunk (never held at once).
fn oversized(bytes: u64) -> Response {
    let head = Bytes::from_static(OVERSIZED_HEAD.as_bytes());
    let padding = Bytes::from(vec![b' '; OVERSIZED_CHUNK]);
    let rest = bytes.saturating_sub(head.len() as u64);
    let chunk = OVERSIZED_CHUNK as u64;
    let pads = (0..rest.div_ceil(chunk)).map(move |k| {
        let len = usize::try_from(chunk.min(rest - k * chunk)).unwrap_or(OVERSIZED_CHUNK);
        Ok::<Bytes, std::io::Error>(padding.slice(..len))
    });
    let stream = futures::stream::iter(std::iter::once(Ok(head)).chain(pads));
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.max(OVERSIZED_HEAD.len() as u64)));
    response
}

/// The real answer, its body dribbled out in `chunks` parts, each after `delay`.
async fn slow(real: Response, chunks: u64, delay: Duration) -> Response {
    let (mut parts, body) = real.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let count = usize::try_from(chunks).unwrap_or(1).clamp(1, bytes.len().max(1));
    let size = bytes.len().div_ceil(count).max(1);
    let pieces: Vec<Bytes> =
        (0..bytes.len()).step_by(size).map(|i| bytes.slice(i..(i + size).min(bytes.len()))).collect();
    let stream = futures::stream::unfold(pieces.into_iter(), move |mut rest| async move {
        let piece = rest.next()?;
        tokio::time::sleep(delay).await;
        Some((Ok::<Bytes, std::io::Error>(piece), rest))
    });
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from_stream(stream))
}

/// Answers a request with a fault. `real` is the request served normally; it runs only for the faults that
/// need the real answer. `connection` is the request's connection (for `connection-reset`).
pub async fn answer(
    kind: FaultKind,
    request_headers: &HeaderMap,
    connection: Option<ConnectionHandle>,
    real: impl Future<Output = Response>,
) -> Response {
    match kind {
        FaultKind::RateLimited { retry_after_secs } => rate_limited(retry_after_secs),
        FaultKind::ServerError => unknown_error(StatusCode::INTERNAL_SERVER_ERROR),
        FaultKind::Unavailable => fhir_json(
            StatusCode::SERVICE_UNAVAILABLE,
            &operation_outcome("error", "transient", texts::SERVICE_NOT_AVAILABLE),
        ),
        FaultKind::UnavailableHtml => unavailable_html(),
        FaultKind::GatewayTimeout { delay_ms, processed } => {
            let ids_from = if processed {
                let response = real.await;
                // A request refused before Spine cannot time out waiting for Spine: its own answer stands.
                if !response.status().is_success() {
                    return response;
                }
                response.headers().clone()
            } else {
                request_headers.clone()
            };
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            gateway_timeout(&ids_from)
        }
        FaultKind::SlowBody { chunk_delay_ms, chunks } => {
            slow(real.await, chunks, Duration::from_millis(chunk_delay_ms)).await
        }
        FaultKind::ConnectionReset => match connection {
            Some(handle) => {
                handle.reset();
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
            None => unknown_error(StatusCode::INTERNAL_SERVER_ERROR),
        },
        FaultKind::MalformedJson => {
            (StatusCode::OK, [(header::CONTENT_TYPE, FHIR_JSON)], MALFORMED_JSON_BODY).into_response()
        }
        FaultKind::WrongContentType { content_type } => {
            let mut response = real.await;
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            response
        }
        FaultKind::Oversized { bytes } => oversized(bytes),
        FaultKind::Unauthorized => super::gateway::unknown_token(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(body: Value) -> Result<ArmedFault, FaultSpecError> {
        ArmedFault::from_admin_json(body.to_string().as_bytes())
    }

    #[test]
    fn admin_bodies_are_parsed_with_defaults() {
        let f = arm(json!({"operation":"get-scr-id","fault":"unavailable-html","count":2}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (f.scope, f.kind.clone(), f.remaining),
            (Scope::Only(Operation::GetScrId), FaultKind::UnavailableHtml, 2)
        );
        let f = arm(json!({"operation":"any","fault":"gateway-timeout"})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.kind, FaultKind::GatewayTimeout { delay_ms: 200, processed: false });
        assert_eq!(f.remaining, 1);
        let f = arm(json!({"operation":"upload-scr","fault":"oversized"})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.kind, FaultKind::Oversized { bytes: 64 * 1024 * 1024 });
        let f = arm(json!({"operation":"token","fault":"wrong-content-type","match":"x"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.kind, FaultKind::WrongContentType { content_type: "text/plain".into() });
        assert_eq!(f.to_json()["contentType"], "text/plain");
        assert_eq!(f.to_json()["match"], "x");
    }

    #[test]
    fn bad_admin_bodies_say_what_is_wrong() {
        let err = |v: Value| arm(v).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(json!([])).contains("JSON object"));
        assert_eq!(err(json!({"fault":"server-error"})), "'operation' is required");
        assert!(err(json!({"operation":"read","fault":"server-error"})).starts_with("unknown operation 'read'"));
        assert!(err(json!({"operation":"any","fault":"explode"}))
            .contains("unknown fault 'explode': expected one of rate-limited"));
        assert_eq!(
            err(json!({"operation":"any","fault":"server-error","delayMs":5})),
            "'delayMs' is not a parameter of 'server-error' (its parameters: none)"
        );
        assert_eq!(
            err(json!({"operation":"any","fault":"server-error","count":0})),
            "'count' must be an integer from 1 to 10000"
        );
        assert_eq!(
            err(json!({"operation":"any","fault":"gateway-timeout","processed":"yes"})),
            "'processed' must be true or false"
        );
        assert!(err(json!({"operation":"any","fault":"oversized","bytes":10})).starts_with("'bytes' must be"));
        assert!(
            err(json!({"operation":"any","fault":"wrong-content-type","contentType":"a\nb"})).contains("header value")
        );
    }

    #[test]
    fn faults_answer_their_count_of_matching_requests_first_armed_first() {
        let book = FaultBook::default();
        let spec = |v: Value| arm(v).unwrap_or_else(|e| panic!("{e}"));
        book.arm(spec(json!({"operation":"get-scr-id","fault":"server-error","count":2,"match":"9990000018"})));
        book.arm(spec(json!({"operation":"any","fault":"unavailable"})));
        let text = |t: &'static str| move || t.to_owned();
        assert_eq!(book.take(Operation::GetScrId, None, text("patient=...|9990000026")), Some(FaultKind::Unavailable));
        assert_eq!(book.take(Operation::GetScrId, None, text("patient=...|9990000026")), None);
        assert_eq!(book.take(Operation::GetScr, None, text("|9990000018")), None, "scoped to get-scr-id");
        assert_eq!(book.take(Operation::GetScrId, None, text("|9990000018")), Some(FaultKind::ServerError));
        assert_eq!(book.list()[0]["remaining"], 1);
        assert_eq!(book.take(Operation::GetScrId, None, text("|9990000018")), Some(FaultKind::ServerError));
        assert!(book.list().is_empty());
        assert_eq!(book.take(Operation::GetScrId, None, text("|9990000018")), None);
    }

    #[test]
    fn an_app_scoped_fault_takes_only_that_apps_requests() {
        let book = FaultBook::default();
        let spec = arm(json!({"operation":"any","fault":"unauthorized","app":"sut","match":"9990000018"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.to_json()["app"], "sut");
        book.arm(spec);
        let text = |t: &'static str| move || t.to_owned();
        assert_eq!(book.take(Operation::GetScr, None, text("|9990000018")), None, "not attributable");
        assert_eq!(book.take(Operation::GetScr, Some("other"), text("|9990000018")), None, "another app");
        assert_eq!(book.take(Operation::GetScr, Some("sut"), text("|9990000026")), None, "another patient");
        assert_eq!(book.take(Operation::GetScr, Some("sut"), text("|9990000018")), Some(FaultKind::Unauthorized));
        assert!(book.list().is_empty());
        assert!(arm(json!({"operation":"any","fault":"unauthorized","app":""})).is_err());
    }

    #[test]
    fn clearing_by_match_leaves_other_faults_armed() {
        let book = FaultBook::default();
        let spec = |v: Value| arm(v).unwrap_or_else(|e| panic!("{e}"));
        book.arm(spec(json!({"operation":"any","fault":"server-error","match":"A"})));
        book.arm(spec(json!({"operation":"any","fault":"server-error","match":"B"})));
        book.arm(spec(json!({"operation":"any","fault":"server-error"})));
        assert_eq!(book.clear(Some("A")), 1);
        assert_eq!(book.list().len(), 2);
        assert_eq!(book.clear(None), 2);
        assert!(book.list().is_empty());
    }

    #[test]
    fn message_ids_look_like_apigee_ones_and_differ() {
        let (a, b) = (message_id(), message_id());
        assert_ne!(a, b);
        assert!(a.starts_with("rrt-") && a[4..23].chars().all(|c| c.is_ascii_digit()), "{a}");
    }

    #[tokio::test]
    async fn oversized_bodies_have_exactly_the_size_asked_for_and_are_json() {
        let response = oversized(200_000);
        assert_eq!(response.headers()[header::CONTENT_LENGTH], "200000");
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bytes.len(), 200_000);
        let value: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(value["total"], 0);
    }

    #[tokio::test]
    async fn slow_bodies_keep_the_real_answer() {
        let real = fhir_json(StatusCode::OK, &json!({"resourceType":"Bundle","total":0}));
        let response = slow(real, 3, Duration::ZERO).await;
        assert!(response.headers().get(header::CONTENT_LENGTH).is_none());
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bytes, r#"{"resourceType":"Bundle","total":0}"#);
    }

    #[test]
    fn malformed_json_is_not_json() {
        assert!(serde_json::from_str::<Value>(MALFORMED_JSON_BODY).is_err());
    }
}
