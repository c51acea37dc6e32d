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
//! | `POST /_admin/spine` `{"operation","nhsNumber","issues":[{"code","display","error"?}]}` or `{"operation":"send-alert","nhsNumber","status","display"}`, `GET`, `DELETE [?nhs=N]` | arranges Spine's answer to the next request of that operation about that patient ([`super::spine::ArrangedAnswer`]): 201; lists; forgets (200 `{"cleared":N}`) |
//! | `POST /_admin/faults`, `GET`, `DELETE [?match=TEXT]` | arms, lists, disarms faults ([`super::faults`]) |
//! | `PUT /_admin/rate-limit` `{"perSecond":5,"perMinute":300}`, `GET`, `DELETE` | the rate limits ([`super::rate_limit`]) |
//! | `GET /_admin/traffic[?since=N][&app=NAME][&session=FP][&patient=NHS]` | the traffic journal ([`super::traffic`]), oldest first, entries with `seq > N`; both profiles |
//! | `POST /_admin/apps` `{"name","apiKey","kid"?,"jwks"?\|"jwksUrl"?,"clientSecret"?,"asid"?,"products"?,"redirectUris"?}` | registers an app at run time: 201 `{"name"}`; 409 name or API key taken; 400 naming the bad member |
//! | `PUT /_admin/apps/{name}/jwks` `{"keys":[…]}` | replaces the app's public keys (and forgets a cached copy): 200 `{"name","kids"}`; 404 unknown app |
//! | `DELETE /_admin/apps/{name}/jwks` | gives a run-time app back the keys it was registered with: 200 `{"name","kids"}` |
//! | `POST /_admin/apps/{name}/expire-tokens` `[{"session":FP,"refreshTokens":true}]` | every access token issued to the app so far (only those of that CIS2 session when given) is expired from now on, and with `refreshTokens` its refresh tokens are revoked: 200 `{"expired":N}` |
//! | `PUT /_admin/identity/clock` `{"offsetSeconds":-10}`, `GET`, `DELETE` | the identity service's clock offset from the mock's: 200 `{"offsetSeconds":N}` |
//!
//! Answers are `application/json`; errors are `{"error": "..."}` with 400/404/405/409.

use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{json, Map, Value};

use super::audit;
use super::identity::IdentityService;
use super::traffic::TrafficFilter;
use super::transport::parse_query;
use super::{AppState, Profile};
use crate::identity::apps::{App, JwksSource};
use crate::scr::PermissionToView;
use crate::secret::Secret;

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
    if rest.trim_matches('/') == "traffic" {
        return traffic_route(app, method, query);
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
        (&Method::POST, ["spine"]) => match super::spine::ArrangedAnswer::from_admin_json(body) {
            Ok(answer) => {
                let echo = json!(answer);
                app.store.arrange_spine_answer(answer);
                json_response(StatusCode::CREATED, &echo)
            }
            Err(message) => error(StatusCode::BAD_REQUEST, &message),
        },
        (&Method::GET, ["spine"]) => json_response(StatusCode::OK, &json!(app.store.spine_answers())),
        (&Method::DELETE, ["spine"]) => {
            let params = parse_query(query);
            let nhs = params.iter().find(|(k, _)| k == "nhs").map(|(_, v)| v.as_str());
            json_response(StatusCode::OK, &json!({ "cleared": app.store.clear_spine_answers(nhs) }))
        }
        (_, ["apps", ..] | ["identity", "clock"]) => match app.identity.as_deref() {
            Some(identity) => identity_route(identity, method, &segments, body),
            None => error(StatusCode::NOT_FOUND, "this mock has no identity service"),
        },
        (_, ["rate-limit"]) => super::rate_limit::admin(app, method, body),
        (_, ["alerts"] | ["patients", _] | ["patients", _, "permission"] | ["reset"] | ["spine"]) => {
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

/// `GET /_admin/traffic`, served by both profiles.
fn traffic_route(app: &AppState, method: &Method, query: Option<&str>) -> Response {
    if method != Method::GET {
        return error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on /_admin/traffic: GET");
    }
    let params = parse_query(query);
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let since = match param("since").map(|v| v.parse::<u64>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "since must be a sequence number (0 or more)"),
    };
    let filter = TrafficFilter { since, app: param("app"), session: param("session"), patient: param("patient") };
    json_response(StatusCode::OK, &json!(app.traffic.entries(&filter)))
}

/// `/_admin/apps…` and `/_admin/identity/clock`.
fn identity_route(identity: &IdentityService, method: &Method, segments: &[&str], body: &[u8]) -> Response {
    match (method, segments) {
        (&Method::POST, ["apps"]) => match new_app(identity, body) {
            Ok(new) => {
                let name = new.name.clone();
                match identity.register_app(new) {
                    Ok(()) => json_response(StatusCode::CREATED, &json!({ "name": name })),
                    Err(_) => {
                        let taken = identity.apps().by_name(&name).is_some();
                        let what =
                            if taken { format!("an app named '{name}'") } else { "an app with that apiKey".into() };
                        error(StatusCode::CONFLICT, &format!("{what} is already registered"))
                    }
                }
            }
            Err(message) => error(StatusCode::BAD_REQUEST, &message),
        },
        (&Method::PUT, ["apps", name, "jwks"]) => {
            let jwks = match serde_json::from_slice::<Value>(body)
                .map_err(|e| e.to_string())
                .and_then(|v| jwk_set(&v, "the body"))
            {
                Ok(jwks) => jwks,
                Err(message) => return error(StatusCode::BAD_REQUEST, &message),
            };
            match identity.replace_jwks(name, jwks) {
                Some(kids) => json_response(StatusCode::OK, &json!({ "name": name, "kids": kids })),
                None => error(StatusCode::NOT_FOUND, &format!("no app named '{name}'")),
            }
        }
        (&Method::DELETE, ["apps", name, "jwks"]) => match identity.restore_jwks(name) {
            Some(kids) => json_response(StatusCode::OK, &json!({ "name": name, "kids": kids })),
            None => error(StatusCode::NOT_FOUND, &format!("no app named '{name}' registered at run time")),
        },
        (&Method::POST, ["apps", name, "expire-tokens"]) => {
            let scope = match token_scope(body) {
                Ok(scope) => scope,
                Err(message) => return error(StatusCode::BAD_REQUEST, &message),
            };
            match identity.expire_tokens(name, &scope) {
                Some(n) => json_response(StatusCode::OK, &json!({ "expired": n })),
                None => error(StatusCode::NOT_FOUND, &format!("no app named '{name}'")),
            }
        }
        (&Method::PUT, ["identity", "clock"]) => {
            let parsed: Option<Value> = serde_json::from_slice(body).ok();
            let offset = parsed.as_ref().and_then(|v| v.get("offsetSeconds")).and_then(Value::as_i64);
            match offset.filter(|o| o.abs() <= MAX_CLOCK_OFFSET_SECONDS) {
                Some(o) => {
                    identity.set_clock_offset(o);
                    json_response(StatusCode::OK, &json!({ "offsetSeconds": o }))
                }
                None => error(
                    StatusCode::BAD_REQUEST,
                    "body must be {\"offsetSeconds\": N}, N a whole number of seconds within a year either way",
                ),
            }
        }
        (&Method::DELETE, ["identity", "clock"]) => {
            identity.set_clock_offset(0);
            json_response(StatusCode::OK, &json!({ "offsetSeconds": 0 }))
        }
        (&Method::GET, ["identity", "clock"]) => {
            json_response(StatusCode::OK, &json!({ "offsetSeconds": identity.clock_offset() }))
        }
        (_, ["apps"] | ["apps", _, "jwks" | "expire-tokens"] | ["identity", "clock"]) => {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this admin route")
        }
        _ => error(StatusCode::NOT_FOUND, "no such admin route; see the README's 'Mock admin routes'"),
    }
}

/// The largest identity clock offset accepted, either way (a year).
pub const MAX_CLOCK_OFFSET_SECONDS: i64 = 366 * 24 * 3600;

/// The members of `POST /_admin/apps`.
const APP_MEMBERS: [&str; 9] =
    ["name", "apiKey", "kid", "jwks", "jwksUrl", "clientSecret", "asid", "products", "redirectUris"];
/// The ASID a registered app gets when it names none (the fixture app's).
pub const DEFAULT_ASID: &str = "200000001162";

/// A JWK Set with at least one key.
fn jwk_set(value: &Value, what: &str) -> Result<JwkSet, String> {
    let set: JwkSet = serde_json::from_value(value.clone())
        .map_err(|e| format!("{what} must be a JWK Set ({{\"keys\":[…]}} of public keys): {e}"))?;
    if set.keys.is_empty() {
        return Err(format!("{what} must hold at least one key"));
    }
    Ok(set)
}

/// A `POST /_admin/apps` body as an app, or what is wrong with it.
fn new_app(identity: &IdentityService, body: &[u8]) -> Result<App, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("the body must be a JSON object: {e}"))?;
    let obj: &Map<String, Value> = value.as_object().ok_or("the body must be a JSON object")?;
    if let Some(member) = obj.keys().find(|k| !APP_MEMBERS.contains(&k.as_str())) {
        return Err(format!("'{member}' is not a member of an app registration (members: {})", APP_MEMBERS.join(", ")));
    }
    let text = |member: &str| -> Result<Option<String>, String> {
        match obj.get(member) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(format!("'{member}' must be a non-empty string")),
        }
    };
    let texts = |member: &str| -> Result<Option<Vec<String>>, String> {
        match obj.get(member) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| format!("'{member}' must be an array of non-empty strings")),
            Some(_) => Err(format!("'{member}' must be an array of non-empty strings")),
        }
    };
    let name = text("name")?.ok_or("'name' is required")?;
    if name.len() > 100 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err("'name' must be 1 to 100 letters, digits, '-', '_' or '.'".into());
    }
    let api_key = text("apiKey")?.ok_or("'apiKey' is required")?;
    let kid = text("kid")?;
    let jwks = match (obj.get("jwks").filter(|v| !v.is_null()), text("jwksUrl")?) {
        (Some(_), Some(_)) | (None, None) => return Err("give exactly one of 'jwks' or 'jwksUrl'".into()),
        (Some(set), None) => {
            let set = jwk_set(set, "'jwks'")?;
            if let Some(kid) = &kid {
                if set.find(kid).is_none() {
                    return Err(format!("'kid' names no key of 'jwks' (\"{kid}\")"));
                }
            }
            JwksSource::Inline(set)
        }
        (None, Some(url)) => {
            if !(url.starts_with("http://") || url.starts_with("https://") || url.starts_with("{origin}/")) {
                return Err("'jwksUrl' must be an http:// or https:// URL".into());
            }
            JwksSource::Url(url)
        }
    };
    let products = match texts("products")? {
        Some(p) => p,
        None => identity.apps().by_name(crate::identity::DEFAULT_APP).map(|a| a.products.clone()).unwrap_or_default(),
    };
    Ok(App {
        name,
        api_key: Secret::new(api_key),
        client_secret: text("clientSecret")?.map(Secret::new),
        jwks,
        products,
        asid: Some(text("asid")?.unwrap_or_else(|| DEFAULT_ASID.to_owned())),
        redirect_uris: texts("redirectUris")?.unwrap_or_default(),
        approved: true,
        kid,
        private_key_file: None,
    })
}

/// The optional body of `expire-tokens`: `{"session": "<fingerprint>", "refreshTokens": true}`, both optional.
fn token_scope(body: &[u8]) -> Result<super::identity::store::TokenScope, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(super::identity::store::TokenScope::default());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let obj = value.as_object().ok_or("the body must be a JSON object")?;
    if let Some(k) = obj.keys().find(|k| !["session", "refreshTokens"].contains(&k.as_str())) {
        return Err(format!("unknown member '{k}' (allowed: session, refreshTokens)"));
    }
    let session = match obj.get("session") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("'session' must be a string (a token fingerprint)".into()),
    };
    let refresh_tokens = match obj.get("refreshTokens") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("'refreshTokens' must be true or false".into()),
    };
    Ok(super::identity::store::TokenScope { session, refresh_tokens })
}
