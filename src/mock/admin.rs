//! Mock-only routes under `/_admin` (outside the SCR base path; no NHS environment has them). Scenarios that
//! use them are tagged `@mock-only`.
//!
//! | route | does |
//! |---|---|
//! | `GET /_admin/alerts[?nhs=N]` | the privacy alerts received (all, or about one patient), as JSON |
//! | `GET /_admin/patients/{nhs}` | that patient's permission and SCR ids, as JSON |
//! | `PUT /_admin/patients/{nhs}/permission` with `{"permission":"Yes"\|"No"\|"Ask"\|null}` | sets ACS state directly |
//! | `POST /_admin/reset` | forgets every patient and alert (and the uploads remembered for re-sends) |
//! | `GET /_admin/audit[?since=N]` | the audit trail (entries after `seq` N), as a JSON array; both profiles |
//! | `GET /_admin/audit/verify` | `{"valid":true,"entries":N,"head":…}` or the first tampered entry |
//! | `POST /_admin/faults`, `GET`, `DELETE [?match=TEXT]` | arms, lists, disarms faults ([`super::faults`]) |
//! | `PUT /_admin/rate-limit` `{"perSecond":5,"perMinute":300}`, `GET`, `DELETE` | the rate limits ([`super::rate_limit`]) |
//!
//! Answers are `application/json`; errors are `{"error": "..."}` with 400/404/405.

use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::audit;
use super::transport::parse_query;
use super::{AppState, Profile};
use crate::scr::PermissionToView;

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "error": message }))
}

/// Handles `/_admin{rest}`.
pub fn handle(app: &AppState, method: &Method, rest: &str, query: Option<&str>, body: &[u8]) -> Response {
    if let Some(response) = audit_route(app, method, rest, query) {
        return response;
    }
    if app.profile == Profile::Sandbox {
        return error(StatusCode::NOT_FOUND, "the sandbox profile is stateless and has no admin routes");
    }
    let segments: Vec<&str> = rest.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["alerts"]) => {
            let params = parse_query(query);
            let nhs = params.iter().find(|(k, _)| k == "nhs").map(|(_, v)| v.as_str());
            json_response(StatusCode::OK, &json!(app.store.alerts(nhs)))
        }
        (&Method::GET, ["patients", nhs]) => {
            let patient = app.store.patient(nhs);
            json_response(
                StatusCode::OK,
                &json!({
                    "nhsNumber": nhs,
                    "permission": patient.consent.map(PermissionToView::as_str),
                    "scrIds": patient.documents.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
                }),
            )
        }
        (&Method::PUT, ["patients", nhs, "permission"]) => {
            let parsed: Result<Value, _> = serde_json::from_slice(body);
            let permission = match parsed.as_ref().ok().and_then(|v| v.get("permission")) {
                Some(Value::Null) => None,
                Some(Value::String(s)) => match s.parse::<PermissionToView>() {
                    Ok(p) => Some(p),
                    Err(_) => return error(StatusCode::BAD_REQUEST, "permission must be Yes, No, Ask or null"),
                },
                _ => {
                    return error(StatusCode::BAD_REQUEST, "body must be {\"permission\": \"Yes\"|\"No\"|\"Ask\"|null}")
                }
            };
            app.store.set_consent(nhs, permission);
            StatusCode::NO_CONTENT.into_response()
        }
        (&Method::POST, ["reset"]) => {
            app.store.reset();
            app.uploads.clear();
            StatusCode::NO_CONTENT.into_response()
        }
        (_, ["faults"]) => super::faults::admin(app, method, query, body),
        (_, ["rate-limit"]) => super::rate_limit::admin(app, method, body),
        (_, ["alerts"] | ["patients", _] | ["patients", _, "permission"] | ["reset"]) => {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this admin route")
        }
        _ => error(StatusCode::NOT_FOUND, "no such admin route; see the README's 'Mock admin routes'"),
    }
}

/// `/_admin/audit` and `/_admin/audit/verify`, served by both profiles (the sandbox's accesses are audited too).
fn audit_route(app: &AppState, method: &Method, rest: &str, query: Option<&str>) -> Option<Response> {
    let path = rest.trim_matches('/');
    if path != "audit" && path != "audit/verify" {
        return None;
    }
    if method != Method::GET {
        return Some(error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this admin route"));
    }
    if path == "audit/verify" {
        let entries = app.audit.entries(0);
        let count = entries.len();
        let head = entries.last().map_or(audit::GENESIS, |e| e.hash.as_str());
        let body = match audit::verify(&entries) {
            Ok(()) => json!({ "valid": true, "entries": count, "head": head }),
            Err(t) => json!({ "valid": false, "entries": count, "seq": t.seq, "reason": t.reason }),
        };
        return Some(json_response(StatusCode::OK, &body));
    }
    let since = match parse_query(query).iter().find(|(k, _)| k == "since").map(|(_, v)| v.parse::<u64>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Some(error(StatusCode::BAD_REQUEST, "since must be a sequence number (0 or more)")),
    };
    Some(json_response(StatusCode::OK, &json!(app.audit.entries(since))))
}
