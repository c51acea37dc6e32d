//! Every OAuth error of reference §10, with its exact status, `error` and `error_description`
//! (confirmed against the identity service's Apigee `RaiseFault.*` / `AssignMessage.*` policies).

use serde_json::{json, Value};

/// One error answer of the NHS identity service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {error}: {description}")]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

const INVALID_REQUEST: &str = "invalid_request";
const PUBLIC_KEY_ERROR: &str = "public_key error";

/// The text of rows 21 (§10.1) and the last row of §10.2.
pub const UNAUTHORIZED_CLIENT_TEXT: &str =
    "you have tried to request authorization but your application is not configured to use this authorization grant type";

/// The §10.3 userinfo text.
pub const USERINFO_WRONG_AUTH_TEXT: &str = "The Userinfo endpoint is only supported for Combined Auth integrations. Currently this is only for NHS CIS2 authentications - for more guidance see https://digital.nhs.uk/developer/guides-and-documentation/security-and-authorisation/user-restricted-restful-apis-nhs-cis2-combined-authentication-and-authorisation";

impl OAuthError {
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into() }
    }

    fn bad(description: &str) -> Self {
        Self::new(400, INVALID_REQUEST, description)
    }

    /// `{"error","error_description","message_id"}` as the identity service answers.
    pub fn to_json(&self, message_id: &str) -> Value {
        json!({ "error": self.error, "error_description": self.description, "message_id": message_id })
    }

    // ---- §10 transport ----
    pub fn content_type_not_form() -> Self {
        Self::new(415, INVALID_REQUEST, "Content-Type header must be application/x-www-form-urlencoded")
    }
    pub fn missing_grant_type() -> Self {
        Self::bad("grant_type is missing")
    }
    pub fn unsupported_grant_type() -> Self {
        Self::new(400, "unsupported_grant_type", "grant_type is invalid")
    }
    pub fn not_found() -> Self {
        Self::new(404, INVALID_REQUEST, "Not Found")
    }

    // ---- §10.1 rows 1-21 ----
    /// Row 1.
    pub fn invalid_client_assertion_type() -> Self {
        Self::bad("Missing or invalid client_assertion_type - must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'")
    }
    /// Row 2.
    pub fn missing_client_assertion() -> Self {
        Self::bad("Missing client_assertion")
    }
    /// Row 3.
    pub fn malformed_client_assertion() -> Self {
        Self::bad("Malformed JWT in client_assertion")
    }
    /// Row 4.
    pub fn invalid_alg() -> Self {
        Self::bad("Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512'")
    }
    /// Row 5.
    pub fn assertion_expired() -> Self {
        Self::bad("Invalid 'exp' claim in client_assertion JWT - JWT has expired")
    }
    /// Row 6.
    pub fn missing_kid() -> Self {
        Self::bad("Missing 'kid' header in client_assertion JWT")
    }
    /// Row 7.
    pub fn invalid_typ() -> Self {
        Self::bad("Invalid 'typ' header in client_assertion JWT - must be 'JWT'")
    }
    /// Row 8.
    pub fn missing_exp() -> Self {
        Self::bad("Missing 'exp' claim in client_assertion JWT")
    }
    /// Row 9.
    pub fn exp_not_integer() -> Self {
        Self::bad("Invalid 'exp' claim in client_assertion JWT - must be an integer")
    }
    /// Row 10.
    pub fn iss_sub_mismatch() -> Self {
        Self::bad("Missing or non-matching 'iss'/'sub' claims in client_assertion JWT")
    }
    /// Row 11.
    pub fn missing_jti() -> Self {
        Self::bad("Missing 'jti' claim in client_assertion JWT")
    }
    /// Row 12.
    pub fn jti_not_string() -> Self {
        Self::bad("Invalid 'jti' claim in client_assertion JWT - must be a unique string value such as a GUID")
    }
    /// Row 13.
    pub fn jti_reused() -> Self {
        Self::bad("Non-unique 'jti' claim in client_assertion JWT")
    }
    /// Row 14.
    pub fn exp_too_far() -> Self {
        Self::bad("Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future")
    }
    /// Row 15.
    pub fn unknown_iss_sub() -> Self {
        Self::new(401, INVALID_REQUEST, "Invalid 'iss'/'sub' claims in client_assertion JWT")
    }
    /// Row 16.
    pub fn no_public_key() -> Self {
        Self::new(
            403,
            PUBLIC_KEY_ERROR,
            "You need to register a public key to use this authentication method - please contact support to configure",
        )
    }
    /// Row 17.
    pub fn jwks_unreachable() -> Self {
        Self::new(403, PUBLIC_KEY_ERROR, "The JWKS endpoint, for your client_assertion can't be reached")
    }
    /// Row 18.
    pub fn invalid_aud() -> Self {
        Self::new(401, INVALID_REQUEST, "Missing or invalid 'aud' claim in client_assertion JWT")
    }
    /// Row 19.
    pub fn no_matching_kid() -> Self {
        Self::new(401, INVALID_REQUEST, "Invalid 'kid' header in client_assertion JWT - no matching public key")
    }
    /// Row 20 (and the subject-token signature row of §10.2).
    pub fn signature_failed() -> Self {
        Self::new(401, PUBLIC_KEY_ERROR, "JWT signature verification failed")
    }
    /// Row 21 (and the scope row of §10.2).
    pub fn unauthorized_client() -> Self {
        Self::new(401, "unauthorized_client", UNAUTHORIZED_CLIENT_TEXT)
    }

    // ---- §10.2 token exchange ----
    pub fn invalid_subject_token_type() -> Self {
        Self::bad("missing or invalid subject_token_type - must be 'urn:ietf:params:oauth:token-type:id_token'")
    }
    /// `grant_type` missing/wrong while `subject_token_type` is id_token.
    pub fn invalid_grant_type() -> Self {
        Self::bad("grant_type is invalid")
    }
    pub fn missing_subject_token() -> Self {
        Self::bad("Missing subject_token")
    }
    pub fn malformed_subject_token() -> Self {
        Self::bad("Malformed JWT in subject_token")
    }
    pub fn subject_missing_kid() -> Self {
        Self::bad("Missing 'kid' header in subject_token JWT")
    }
    pub fn subject_invalid_typ() -> Self {
        Self::bad("Invalid 'typ' header in subject_token JWT - must be 'JWT'")
    }
    pub fn subject_missing_alg() -> Self {
        Self::bad("Missing 'alg' header in subject_token JWT")
    }
    pub fn subject_missing_exp() -> Self {
        Self::bad("Missing 'exp' claim in subject_token JWT")
    }
    pub fn subject_exp_not_integer() -> Self {
        Self::bad("Invalid 'exp' claim in subject_token JWT - must be an integer")
    }
    pub fn subject_expired() -> Self {
        Self::bad("Invalid 'exp' claim in subject_token JWT - JWT has expired")
    }
    pub fn subject_missing_iss() -> Self {
        Self::bad("Missing 'iss' claim in subject_token JWT")
    }
    pub fn subject_missing_aud() -> Self {
        Self::new(401, INVALID_REQUEST, "Missing 'aud' claim in subject_token JWT")
    }
    /// The `error` value is not in the reference table; `invalid_request` as every other 400 of the flow.
    pub fn subject_invalid_iss() -> Self {
        Self::bad("Missing or non-matching 'iss' claim in subject_token JWT")
    }
    pub fn subject_no_matching_kid() -> Self {
        Self::new(401, INVALID_REQUEST, "Invalid 'kid' header in subject_token JWT - no matching public key")
    }

    // ---- §10.3 authorization code ----
    pub fn client_id_missing() -> Self {
        Self::new(401, INVALID_REQUEST, "client_id is missing")
    }
    /// `/authorize` with an unknown `client_id`.
    pub fn client_id_invalid() -> Self {
        Self::new(401, INVALID_REQUEST, "client_id is invalid")
    }
    pub fn redirect_uri_missing() -> Self {
        Self::bad("redirect_uri is missing")
    }
    pub fn redirect_uri_invalid() -> Self {
        Self::bad("redirect_uri is invalid")
    }
    pub fn app_not_approved() -> Self {
        Self::new(401, "access_denied", "The developer app associated with the API key is not approved or revoked")
    }
    pub fn no_access_to_resource() -> Self {
        Self::new(
            401,
            "access_denied",
            "API Key supplied does not have access to this resource. Please check the API Key you are using belongs to an app which has sufficient access to access this resource.",
        )
    }
    pub fn invalid_state() -> Self {
        Self::bad("Invalid state parameter.")
    }
    pub fn client_secret_missing() -> Self {
        Self::new(401, INVALID_REQUEST, "client_secret is missing")
    }
    /// `/token` with a wrong `client_id` or `client_secret`.
    pub fn invalid_client() -> Self {
        Self::new(401, "invalid_client", "client_id or client_secret is invalid")
    }
    pub fn authorization_code_missing() -> Self {
        Self::bad("authorization_code is missing")
    }
    pub fn authorization_code_invalid() -> Self {
        Self::new(400, "invalid_grant", "authorization_code is invalid")
    }
    pub fn userinfo_wrong_auth() -> Self {
        Self::bad(USERINFO_WRONG_AUTH_TEXT)
    }

    // ---- §10.4 refresh ----
    pub fn refresh_token_missing() -> Self {
        Self::bad("refresh_token is missing")
    }
    pub fn refresh_token_invalid() -> Self {
        Self::new(401, "invalid_grant", "refresh_token is invalid")
    }
    pub fn refresh_period_expired() -> Self {
        Self::new(401, "invalid_grant", "refresh token refresh period has expired")
    }

    /// The catch-all of the identity proxy.
    pub fn unknown_error() -> Self {
        Self::new(
            500,
            "unknown_error",
            "An unknown error occurred processing this request. Contact us for assistance diagnosing this issue: https://digital.nhs.uk/developer/help-and-support quoting Message ID",
        )
    }

    /// `GET /oauth2/userinfo` with no, an unknown or an expired bearer token: `OAuthV2.VerifyAccessToken` faults,
    /// no named FaultRule of `proxies/live/apiproxy/proxies/default.xml` matches its faults, and the
    /// `DefaultFaultRule` sets the body of `AssignMessage.CatchallErrorMessage`; the status stays the fault's 401
    /// (the policy sets none: **derived**). The plain Apigee faults of reference §10.6 are those of an API proxy
    /// without such a rule (the NHS tests call the Canary API for them).
    pub fn userinfo_token_refused() -> Self {
        Self { status: 401, ..Self::unknown_error() }
    }

    /// The §10.1 row `n` (1–21), for tables and documentation.
    pub fn client_assertion_row(n: u8) -> Option<Self> {
        let e = match n {
            1 => Self::invalid_client_assertion_type(),
            2 => Self::missing_client_assertion(),
            3 => Self::malformed_client_assertion(),
            4 => Self::invalid_alg(),
            5 => Self::assertion_expired(),
            6 => Self::missing_kid(),
            7 => Self::invalid_typ(),
            8 => Self::missing_exp(),
            9 => Self::exp_not_integer(),
            10 => Self::iss_sub_mismatch(),
            11 => Self::missing_jti(),
            12 => Self::jti_not_string(),
            13 => Self::jti_reused(),
            14 => Self::exp_too_far(),
            15 => Self::unknown_iss_sub(),
            16 => Self::no_public_key(),
            17 => Self::jwks_unreachable(),
            18 => Self::invalid_aud(),
            19 => Self::no_matching_kid(),
            20 => Self::signature_failed(),
            21 => Self::unauthorized_client(),
            _ => return None,
        };
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_has_the_three_fields() {
        let v = OAuthError::missing_client_assertion().to_json("abc");
        assert_eq!(v["error"], "invalid_request");
        assert_eq!(v["error_description"], "Missing client_assertion");
        assert_eq!(v["message_id"], "abc");
        assert_eq!(v.as_object().map(|o| o.len()), Some(3));
    }

    #[test]
    fn rows_have_the_reference_statuses() {
        let statuses: Vec<u16> = (1..=21).filter_map(OAuthError::client_assertion_row).map(|e| e.status).collect();
        assert_eq!(
            statuses,
            vec![
                400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 401, 403, 403, 401, 401, 401, 401
            ]
        );
        assert!(OAuthError::client_assertion_row(0).is_none() && OAuthError::client_assertion_row(22).is_none());
    }
}
