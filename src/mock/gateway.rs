//! The API gateway in front of the mock SCR backend when auth is on: what the live Apigee proxy
//! (`scr-target.xml`) does before the Java adaptor sees a request (reference §3.5, §10.7, §10.8).
//!
//! In order: verify the access token (401 `ACCESS_DENIED`, served as `application/json`); set the access mode
//! from the token's scopes; for user-restricted tokens run the UserRoleService (v1: 400 with the shared
//! flow's text); for application-restricted tokens refuse the methods and paths they may not use. What passes
//! carries the app's ASID, the user id and the resolved role on to the backend.

use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::identity::{AccessGrant, AuthKind, IdentityService};
use crate::clock::Clock;
use crate::identity::personas::Role;

/// The scopes the SCR proxy's `VerifyAccessToken` accepts (reference §10.7).
pub const SCR_SCOPES: [&str; 3] = [
    "urn:nhsd:apim:app:level3:summary-care-record",
    "urn:nhsd:apim:user-nhs-id:aal2:summary-care-record",
    "urn:nhsd:apim:user-nhs-id:aal3:summary-care-record",
];
const USER_RESTRICTED_SCOPES: [&str; 2] = [SCR_SCOPES[1], SCR_SCOPES[2]];

const ERROR_CODE_SYSTEM: &str = "https://fhir.nhs.uk/CodeSystem/Spine-ErrorOrWarningCode";
const APP_RESTRICTED_DIAGNOSTICS: &str =
    "Your app has insufficient permissions to use this method. Please contact support.";

/// Apigee fault strings of `VerifyAccessToken` (reference §3.5, §10.6).
pub mod faults {
    pub const NO_TOKEN: &str = "Invalid access token";
    pub const UNKNOWN_TOKEN: &str = "Invalid Access Token";
    pub const EXPIRED_TOKEN: &str = "Access Token expired";
    /// Apigee's insufficient-scope fault string (reference §3.5: **unconfirmed**; Apigee's own wording).
    pub const INSUFFICIENT_SCOPE: &str = "Required scope(s) : urn:nhsd:apim:app:level3:summary-care-record urn:nhsd:apim:user-nhs-id:aal2:summary-care-record urn:nhsd:apim:user-nhs-id:aal3:summary-care-record";
}

/// UserRoleService v1 error texts (reference §10.8).
pub mod role_errors {
    pub const MULTIPLE_ROLES: &str = "multiple roles found in user info, please check nhsd-session-urid";
    pub const NO_ROLES: &str = "no userroles available, please check nhsd-session-urid is valid";
    pub const SELECTED_ROLE_INVALID: &str = "selected_roleid is misconfigured/invalid";
    pub const URID_INVALID: &str = "nhsd-session-urid is invalid";
    pub const SELECTED_ROLE_MISSING: &str = "selected_roleid is missing in your token";
    pub const NO_USER_INFO: &str = "unable to retrieve user info";
}

/// Who is calling, as the gateway passes it to the backend.
#[derive(Debug, Clone, Default)]
pub struct CallerIdentity {
    /// The app's name in `apps.toml` (never its API key).
    pub app: String,
    pub asid: Option<String>,
    /// CIS2 user id (`NHSD-Identity-UUID`), for user-restricted tokens.
    pub user_id: Option<String>,
    /// The role the UserRoleService resolved (user-restricted tokens).
    pub role: Option<Role>,
    /// All the user's roles, from userinfo (the backend's job-role lookup for `$setPermission` reads them).
    pub roles: Vec<Role>,
}

impl CallerIdentity {
    /// Who the audit trail names: the CIS2 user of a user-restricted token, else the app.
    pub fn audit_name(&self) -> &str {
        self.user_id.as_deref().unwrap_or(&self.app)
    }
}

/// A refusal, built as the proxy's templates build it.
fn access_denied(fault: &str) -> Response {
    let body = json!({
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "error",
            "code": "forbidden",
            "details": { "coding": [{ "system": ERROR_CODE_SYSTEM, "version": "1", "code": "ACCESS_DENIED", "display": fault }] }
        }]
    });
    json_response(StatusCode::UNAUTHORIZED, &body)
}

/// The 401 for a bearer token the gateway does not know (`Invalid Access Token`): also the `unauthorized`
/// fault's answer ([`super::faults`]).
pub fn unknown_token() -> Response {
    access_denied(faults::UNKNOWN_TOKEN)
}

/// `AssignMessage.CatchallErrorMessage` filled with one error's variables.
pub(crate) fn catch_all(
    status: StatusCode,
    code: &str,
    coding_code: &str,
    display: &str,
    diagnostics: &str,
) -> Response {
    let body = json!({
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "error",
            "code": code,
            "details": { "coding": [{ "system": ERROR_CODE_SYSTEM, "version": "1", "code": coding_code, "display": display }] },
            "diagnostics": diagnostics
        }]
    });
    json_response(status, &body)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// The UserRoleService's refusal: `code` is the shared flow's `validation.statusCode` (**derived**: "400").
fn role_error(text: &str) -> Response {
    catch_all(StatusCode::BAD_REQUEST, "400", "INVALID_VALUE", "Provided value is invalid", text)
}

/// The bearer token of a request, if it has a non-empty one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Runs the gateway for a request to `suffix` (the path below the SCR base path).
pub fn check(
    identity: &IdentityService,
    clock: &Clock,
    method: &Method,
    suffix: &str,
    headers: &HeaderMap,
) -> Result<CallerIdentity, Box<Response>> {
    let token = bearer(headers).ok_or_else(|| Box::new(access_denied(faults::NO_TOKEN)))?;
    let grant = identity.introspect(token).ok_or_else(|| Box::new(unknown_token()))?;
    if grant.expires_at <= clock.now() {
        return Err(Box::new(access_denied(faults::EXPIRED_TOKEN)));
    }
    if !grant.scopes.iter().any(|s| SCR_SCOPES.contains(&s.as_str())) {
        return Err(Box::new(access_denied(faults::INSUFFICIENT_SCOPE)));
    }
    let user_restricted = grant.scopes.iter().any(|s| USER_RESTRICTED_SCOPES.contains(&s.as_str()));
    let caller = if user_restricted {
        resolve_role(&grant, headers).map_err(|e| Box::new(role_error(e)))?
    } else {
        app_restricted_rules(method, suffix)?;
        CallerIdentity { app: grant.app.clone(), asid: grant.asid.clone(), ..CallerIdentity::default() }
    };
    Ok(caller)
}

/// The application-restricted flow of `scr-target.xml`.
fn app_restricted_rules(method: &Method, suffix: &str) -> Result<(), Box<Response>> {
    let path = suffix.trim_end_matches('/');
    if method != Method::GET && method != Method::POST {
        return Err(Box::new(catch_all(
            StatusCode::FORBIDDEN,
            "forbidden",
            "INVALID_METHOD",
            "Cannot update resource with Application-Restricted access token",
            APP_RESTRICTED_DIAGNOSTICS,
        )));
    }
    let allowed =
        if method == Method::GET { ["/DocumentReference", "/Bundle"].contains(&path) } else { path == "/Bundle" };
    if allowed {
        Ok(())
    } else {
        Err(Box::new(catch_all(
            StatusCode::UNAUTHORIZED,
            "unknown",
            "UNKNOWN_ERROR",
            "Unknown Error",
            APP_RESTRICTED_DIAGNOSTICS,
        )))
    }
}

/// The UserRoleService (v1): the role from `NHSD-Session-URID`, else the id_token's `selected_roleid`, else
/// the user's only role (reference §10.8).
fn resolve_role(grant: &AccessGrant, headers: &HeaderMap) -> Result<CallerIdentity, &'static str> {
    let Some(user) = grant.user.as_ref() else { return Err(role_errors::NO_USER_INFO) };
    let roles = user.persona.roles.clone();
    let urid = headers.get("NHSD-Session-URID").and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty());
    let role = match (urid, user.auth, &user.selected_roleid) {
        // A separate-auth token cannot call userinfo (reference §10.8 caveat); the mock knows the user's roles
        // all the same and accepts a header naming one of them (the backend needs the header on POSTs, so a
        // separate-auth client sends it); any other header gets the v1 `unable to retrieve user info`.
        (Some(urid), AuthKind::Separate, _) => {
            roles.iter().find(|r| r.person_roleid == urid).cloned().ok_or(role_errors::NO_USER_INFO)?
        }
        (Some(urid), AuthKind::Combined, _) => {
            roles.iter().find(|r| r.person_roleid == urid).cloned().ok_or(role_errors::URID_INVALID)?
        }
        (None, _, Some(selected)) => {
            roles.iter().find(|r| &r.person_roleid == selected).cloned().ok_or(role_errors::SELECTED_ROLE_INVALID)?
        }
        (None, AuthKind::Separate, None) => return Err(role_errors::SELECTED_ROLE_MISSING),
        (None, AuthKind::Combined, None) => match roles.as_slice() {
            [only] => only.clone(),
            [] => return Err(role_errors::NO_ROLES),
            _ => return Err(role_errors::MULTIPLE_ROLES),
        },
    };
    Ok(CallerIdentity {
        app: grant.app.clone(),
        asid: grant.asid.clone(),
        user_id: Some(user.persona.user_id.clone()),
        role: Some(role),
        roles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_needs_the_scheme_and_a_token() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap_or_else(|_| unreachable!()));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap_or_else(|_| unreachable!()));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap_or_else(|_| unreachable!()));
        assert_eq!(bearer(&h), Some("abc"));
    }

    #[test]
    fn app_restricted_tokens_reach_three_operations_only() {
        assert!(app_restricted_rules(&Method::GET, "/DocumentReference").is_ok());
        assert!(app_restricted_rules(&Method::GET, "/Bundle").is_ok());
        assert!(app_restricted_rules(&Method::POST, "/Bundle").is_ok());
        let status = |m: &Method, p: &str| app_restricted_rules(m, p).err().map(|r| r.status().as_u16());
        assert_eq!(status(&Method::POST, "/$setPermission"), Some(401));
        assert_eq!(status(&Method::POST, "/AuditEvent"), Some(401));
        assert_eq!(status(&Method::GET, "/healthcheck"), Some(401));
        assert_eq!(status(&Method::PUT, "/Bundle"), Some(403));
    }
}
