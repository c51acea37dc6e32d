//! The traffic journal: every request the mock received outside `/_admin`, in arrival order, with what it
//! answered — the evidence the client-conformance grader reads (`GET /_admin/traffic`, `docs/CLIENT.md` §3).
//!
//! Unlike the audit trail (who accessed which record, hash-chained), the journal keeps the *wire*: headers,
//! bodies, the decoded client assertion, and which token and which CIS2 session each request belongs to —
//! secrets only ever as [`crate::secret::fingerprint`]s or `[REDACTED]`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request and its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficEntry {
    /// 1, 2, 3, … in the order the answers completed.
    pub seq: u64,
    /// The mock's clock when the request arrived (RFC 3339).
    pub at: String,
    /// The machine's wall clock when the request arrived (RFC 3339 with milliseconds).
    pub wall: String,
    pub method: String,
    /// The path as received (percent-encoded as sent).
    pub path: String,
    /// The query string as received, secret-looking parameters' values replaced by `[REDACTED]`.
    pub query: Option<String>,
    /// `get-scr-id`, `get-scr`, `upload-scr`, `set-permission`, `send-alert`, `token`, `authorize`, `userinfo`,
    /// `cis2`, `jwks`, `ping` or `other`.
    pub operation: String,
    /// Lower-case names in the order received; secret headers redacted.
    pub headers: Vec<(String, String)>,
    /// The request body (UTF-8, lossy), secrets redacted; `None` when empty.
    pub body: Option<String>,
    #[serde(default)]
    pub body_truncated: bool,
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
    /// The response body (UTF-8, lossy), secrets redacted, capped; `None` when empty.
    pub response_body: Option<String>,
    /// The registered app's name the request is attributable to.
    pub app: Option<String>,
    /// The CIS2 user id of a user-restricted token.
    pub user: Option<String>,
    /// Fingerprint of the bearer token presented.
    pub token: Option<String>,
    /// Fingerprint of the CIS2 id_token the presented (or issued) token descends from.
    pub session: Option<String>,
    /// Valid NHS numbers in the path, query or body.
    #[serde(default)]
    pub patients: Vec<String>,
    /// Names of secret-looking query parameters the request carried.
    #[serde(default)]
    pub secret_in_query: Vec<String>,
    pub token_request: Option<TokenRequestRecord>,
    /// The armed fault that answered, by name.
    pub fault: Option<String>,
    pub duration_ms: u64,
}

impl TrafficEntry {
    /// The value of a request header (case-insensitive name), as recorded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a request header, as recorded.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    /// The value of a response header (case-insensitive name).
    pub fn response_header(&self, name: &str) -> Option<&str> {
        self.response_headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What a `POST /oauth2/token` carried and got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRequestRecord {
    pub grant_type: Option<String>,
    /// The `client_id` form field, when sent (an API key is not a secret of the app's user, but it is typed as
    /// one in the harness: recorded only as the app's name in [`TrafficEntry::app`]). Always `None` here.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The client assertion decoded without its signature.
    pub assertion: Option<DecodedJwt>,
    /// Fingerprint of the `subject_token` (token exchange).
    pub subject_token: Option<String>,
    /// Fingerprint of the `refresh_token` presented.
    pub refresh_token: Option<String>,
    /// What was issued, on success.
    pub issued: Option<IssuedTokens>,
    /// The OAuth `error` answered, on failure.
    pub error: Option<String>,
}

/// A JWT's header and claims (no signature).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodedJwt {
    pub header: Value,
    pub claims: Value,
}

/// Tokens issued by a successful token request, as fingerprints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<String>,
}
