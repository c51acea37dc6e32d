//! Mock-only routes under `/_admin` (outside the SCR base path; no NHS environment has them). Scenarios that
//! use them are tagged `@mock-only`.
//!
//! | route | does |
//! |---|---|
//! | `GET /_admin/alerts[?nhs=N]` | the privacy alerts received (all, or about one patient), as JSON |
//! | `GET /_admin/patients/{nhs}` | that patient's permission and SCR ids, as JSON |
//! | `PUT /_admin/patients/{nhs}/permission` with `{"permission":"Yes"\|"No"\|"Ask"\|null}` | sets ACS state directly |
//! | `POST /_admin/reset` | forgets every patient and alert (and the uploads remembered for re-sends) |
//! | `POST /_admin/faults`, `GET`, `DELETE [?match=TEXT]` | arms, lists, disarms faults ([`super::faults`]) |
//! | `PUT /_admin/rate-limit` `{"perSecond":5,"perMinute":300}`, `GET`, `DELETE` | the rate limits ([`super::rate_limit`]) |
//!
//! Answers are `application/json`; errors are `{"error": "..."}` with 400/404/405.

use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

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
