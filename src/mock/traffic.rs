//! The traffic journal: every request the mock received outside `/_admin`, in arrival order, with what it
//! answered — the evidence the client-conformance grader reads (`GET /_admin/traffic`, `docs/CLIENT.md` §3).
//!
//! Unlike the audit trail (who accessed which record, hash-chained), the journal keeps the *wire*: headers,
//! bodies, the decoded client assertion, and which token and which CIS2 session each request belongs to —
//! secrets only ever as [`crate::secret::fingerprint`]s or `[REDACTED]`.
//!
//! **Recording.** `transport::dispatch` builds a [`PendingEntry`] once the request body is read (before any
//! fault is taken: the same attribution scopes faults by app) and [`PendingEntry::finish`]es it with the
//! answer, faults included, just before the answer goes out; `seq` is given then. Request bodies are recorded
//! up to [`MAX_RECORDED_BODY`], answers up to [`MAX_RECORDED_RESPONSE`], both after redaction (form fields and
//! JSON members named in [`SECRET_PARAMETERS`] / [`crate::secret::SECRET_FIELDS`] become `[REDACTED]`).
//! **Streamed answers** (the `slow-body` and `oversized` faults: any body whose length is not known up front)
//! are never buffered — the client receives them exactly as without the journal — so their entry has
//! `response_body: None` and is appended when the answer's head is ready, with `duration_ms` up to then. A
//! `connection-reset` has no HTTP answer: its entry has `status: 0`.
//!
//! **Bounded memory.** The journal keeps at most [`MAX_ENTRIES`] entries and about [`MAX_TEXT_BYTES`] of their
//! text (bodies, headers, query); beyond either, the oldest entries are dropped (their `seq` numbers are not
//! reused, so a reader polling with `since` sees a gap, never a repeat).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use axum::body::{to_bytes, Body, HttpBody as _};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::identity::IdentityService;
use super::operation::Operation;
use crate::identity::jwt;
use crate::identity::rules::Form;
use crate::scr::codes::BASE_PATH;
use crate::scr::NhsNumber;
use crate::secret::{self, REDACTED};

/// At most this many entries are kept (the oldest are dropped first).
pub const MAX_ENTRIES: usize = 100_000;
/// At most about this much recorded text (bodies, headers, queries) is kept (the oldest entries are dropped).
pub const MAX_TEXT_BYTES: usize = 64 * 1024 * 1024;
/// Request bodies are recorded up to this many bytes (`body_truncated` says when cut).
pub const MAX_RECORDED_BODY: usize = 1024 * 1024;
/// Answers are recorded up to this many bytes (`response_body_truncated` says when cut).
pub const MAX_RECORDED_RESPONSE: usize = 64 * 1024;

/// Query parameters and form fields whose values are secrets: replaced by `[REDACTED]`, their names listed in
/// `secret_in_query`. `client_id` is one: on the NHS platform it is the app's API key.
pub const SECRET_PARAMETERS: &[&str] = &[
    "access_token",
    "token",
    "apikey",
    "api_key",
    "client_secret",
    "client_assertion",
    "refresh_token",
    "subject_token",
    "code",
    "id_token",
    "client_id",
    "password",
];

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
    /// The response body (UTF-8, lossy), secrets redacted, capped; `None` when empty or streamed.
    pub response_body: Option<String>,
    #[serde(default)]
    pub response_body_truncated: bool,
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
    /// From the request's arrival to its answer being ready (wall time).
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
    /// The client assertion decoded without its signature; its `iss` and `sub` (the app's API key) as
    /// [`crate::secret::fingerprint`]s.
    pub assertion: Option<DecodedJwt>,
    /// Fingerprint of the `subject_token` (token exchange). Serialised as `subject_token_fp`: a member named
    /// like the secret itself would be redacted by every recorder on the way.
    #[serde(rename = "subject_token_fp")]
    pub subject_token: Option<String>,
    /// Fingerprint of the `refresh_token` presented (`refresh_token_fp`).
    #[serde(rename = "refresh_token_fp")]
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
    /// Fingerprints, serialised as `access_token_fp` / `refresh_token_fp` (see [`TokenRequestRecord`]).
    #[serde(rename = "access_token_fp")]
    pub access_token: String,
    #[serde(rename = "refresh_token_fp")]
    pub refresh_token: Option<String>,
    pub expires_in: Option<String>,
}

/// Which entries `GET /_admin/traffic` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficFilter {
    /// Only entries with `seq > since`.
    pub since: u64,
    pub app: Option<String>,
    pub session: Option<String>,
    /// An NHS number the entry's `patients` holds.
    pub patient: Option<String>,
}

impl TrafficFilter {
    pub fn matches(&self, entry: &TrafficEntry) -> bool {
        entry.seq > self.since
            && self.app.as_ref().is_none_or(|a| entry.app.as_ref() == Some(a))
            && self.session.as_ref().is_none_or(|s| entry.session.as_ref() == Some(s))
            && self.patient.as_ref().is_none_or(|p| entry.patients.contains(p))
    }
}

/// The journal of one mock (see the module comment for its bounds).
#[derive(Debug, Default)]
pub struct TrafficJournal {
    inner: Mutex<Journal>,
}

#[derive(Debug, Default)]
struct Journal {
    entries: VecDeque<(usize, TrafficEntry)>,
    last_seq: u64,
    text_bytes: usize,
}

/// About how much memory an entry's text takes.
fn text_size(e: &TrafficEntry) -> usize {
    let pairs = |h: &[(String, String)]| h.iter().map(|(n, v)| n.len() + v.len() + 16).sum::<usize>();
    512 + e.path.len()
        + e.query.as_ref().map_or(0, String::len)
        + e.body.as_ref().map_or(0, String::len)
        + e.response_body.as_ref().map_or(0, String::len)
        + pairs(&e.headers)
        + pairs(&e.response_headers)
        + e.token_request.as_ref().and_then(|t| serde_json::to_string(t).ok()).map_or(0, |t| t.len())
}

impl TrafficJournal {
    /// Appends an entry, giving it the next `seq` (which it returns); drops the oldest beyond the bounds.
    pub fn append(&self, mut entry: TrafficEntry) -> u64 {
        let mut journal = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        journal.last_seq += 1;
        entry.seq = journal.last_seq;
        let size = text_size(&entry);
        journal.text_bytes += size;
        journal.entries.push_back((size, entry));
        while journal.entries.len() > MAX_ENTRIES || (journal.text_bytes > MAX_TEXT_BYTES && journal.entries.len() > 1)
        {
            match journal.entries.pop_front() {
                Some((dropped, _)) => journal.text_bytes -= dropped,
                None => break,
            }
        }
        journal.last_seq
    }

    /// The entries the filter lets through, oldest first.
    pub fn entries(&self, filter: &TrafficFilter) -> Vec<TrafficEntry> {
        let journal = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        journal.entries.iter().map(|(_, e)| e).filter(|e| filter.matches(e)).cloned().collect()
    }

    /// How many entries are kept.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn decode_component(s: &str) -> String {
    percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// Whether a (decoded) parameter name is one of [`SECRET_PARAMETERS`] or [`secret::SECRET_FIELDS`].
pub fn is_secret_parameter(name: &str) -> bool {
    SECRET_PARAMETERS.iter().chain(secret::SECRET_FIELDS).any(|p| p.eq_ignore_ascii_case(name.trim()))
}

/// `a=1&b=2` text (a query, or a form body) with the values of secret parameters replaced by `[REDACTED]`,
/// everything else byte for byte as received; and the (decoded) names of the secret parameters, once each.
pub fn redact_pairs(text: &str) -> (String, Vec<String>) {
    let mut names: Vec<String> = vec![];
    let redacted = text
        .split('&')
        .map(|pair| {
            let (raw_name, has_value) = match pair.split_once('=') {
                Some((n, _)) => (n, true),
                None => (pair, false),
            };
            let name = decode_component(raw_name);
            if !is_secret_parameter(&name) {
                return pair.to_owned();
            }
            if !names.contains(&name) {
                names.push(name);
            }
            if has_value {
                format!("{raw_name}={REDACTED}")
            } else {
                pair.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("&");
    (redacted, names)
}

/// A URL with its query's secret parameters redacted (a `Location` header).
fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, query)) => format!("{base}?{}", redact_pairs(query).0),
        None => url.to_owned(),
    }
}

/// Every valid (Modulus 11) NHS number in the texts: runs of exactly ten ASCII digits, first seen first.
pub fn nhs_numbers(texts: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = vec![];
    for text in texts {
        for run in text.split(|c: char| !c.is_ascii_digit()).filter(|r| r.len() == 10) {
            if NhsNumber::parse(run).is_ok() && !found.iter().any(|f| f == run) {
                found.push(run.to_owned());
            }
        }
    }
    found
}

/// The journal's name for a request (`docs/CLIENT.md` §3): an [`Operation`]'s, or `authorize`, `userinfo`,
/// `cis2`, `jwks`, `ping`, `other`. `path` is percent-decoded.
pub fn operation_name(method: &Method, path: &str) -> &'static str {
    if let Some(suffix) = path.strip_prefix(BASE_PATH) {
        return match Operation::recognise(method, suffix) {
            Some(op) => op.as_str(),
            None if suffix.trim_end_matches('/') == "/_ping" => "ping",
            None => "other",
        };
    }
    if let Some(op) = Operation::recognise(method, path) {
        return op.as_str();
    }
    match path {
        "/oauth2/authorize" => "authorize",
        "/oauth2/userinfo" => "userinfo",
        p if p.ends_with("/jwks.json") && (p.starts_with("/mock-apps/") || p.starts_with("/mock-cis2/")) => "jwks",
        p if p.starts_with("/mock-cis2/") => "cis2",
        _ => "other",
    }
}

/// A JWT's header and claims, without its signature (`None` when it does not decode).
pub fn decode_jwt(token: &str) -> Option<DecodedJwt> {
    jwt::decode_unverified(token).ok().map(|raw| DecodedJwt { header: raw.header, claims: raw.claims })
}

/// A client assertion's `iss` and `sub` are the app's API key: recorded as its fingerprint.
fn hide_api_key(assertion: &mut DecodedJwt) {
    for claim in ["iss", "sub"] {
        if let Some(v) = assertion.claims.get_mut(claim) {
            if let Some(key) = v.as_str() {
                *v = Value::String(secret::fingerprint(key));
            }
        }
    }
}

/// UTF-8 (lossy) text of at most `cap` bytes (cut at a character boundary), and whether it was cut.
fn capped(text: String, cap: usize) -> (String, bool) {
    if text.len() <= cap {
        return (text, false);
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), true)
}

/// The bearer token of a request, if it has a non-empty one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// Recorded headers: lower-case names in order, secret values redacted (and a `Location`'s secret parameters).
fn recorded_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str().to_ascii_lowercase();
            let value = String::from_utf8_lossy(value.as_bytes());
            let value =
                if name == "location" { redact_url(&value) } else { secret::recorded_header_value(&name, &value) };
            (name, value)
        })
        .collect()
}

/// Who a request is attributable to (`docs/CLIENT.md` §3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    /// The registered app's name.
    pub app: Option<String>,
    /// The CIS2 user id of a user-restricted token.
    pub user: Option<String>,
    /// Fingerprint of the bearer token presented.
    pub token: Option<String>,
    /// The CIS2 session the token descends from.
    pub session: Option<String>,
}

/// A request on its way through the mock, to become a [`TrafficEntry`] when answered.
#[derive(Debug)]
pub struct PendingEntry {
    entry: TrafficEntry,
    started: SystemTime,
    /// The fault that answered: `connection-reset` means no HTTP answer.
    no_answer: bool,
}

impl PendingEntry {
    /// Everything known once the body is read: the request as recorded and who it is attributable to.
    /// `path` is the percent-decoded path; `body` is `None` when it could not be read (413, broken body).
    pub fn new(
        identity: Option<&IdentityService>,
        at: DateTime<Utc>,
        started: SystemTime,
        parts: &Parts,
        path: &str,
        body: Option<&[u8]>,
    ) -> Self {
        let (query, secret_in_query) = match parts.uri.query() {
            Some(q) => {
                let (redacted, names) = redact_pairs(q);
                (Some(redacted), names)
            }
            None => (None, vec![]),
        };
        let body_text = body.filter(|b| !b.is_empty()).map(|b| {
            let text = String::from_utf8_lossy(b);
            if is_form(&parts.headers) {
                redact_pairs(&text).0
            } else {
                secret::redact_body(&text)
            }
        });
        let decoded_query = query.as_deref().map(decode_component).unwrap_or_default();
        let patients = nhs_numbers(&[path, &decoded_query, body_text.as_deref().unwrap_or("")]);
        let (body_text, body_truncated) = match body_text {
            Some(text) => {
                let (text, cut) = capped(text, MAX_RECORDED_BODY);
                (Some(text), cut)
            }
            None => (None, body.is_none()),
        };
        let operation = operation_name(&parts.method, path);
        let mut attribution = Attribution::default();
        let mut token_request = None;
        if let Some(token) = bearer(&parts.headers) {
            attribution.token = Some(secret::fingerprint(token));
            if let Some(grant) = identity.and_then(|i| i.introspect(token)) {
                attribution.app = Some(grant.app);
                attribution.user = grant.user.map(|u| u.persona.user_id);
                attribution.session = grant.session;
            }
        }
        if operation == Operation::Token.as_str() {
            let form = Form::parse(body.unwrap_or_default());
            let mut assertion = form.get("client_assertion").and_then(decode_jwt);
            let api_key = form
                .get("client_id")
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .or_else(|| assertion.as_ref().and_then(|a| a.claims.get("iss")?.as_str().map(str::to_owned)));
            if let Some(a) = assertion.as_mut() {
                hide_api_key(a);
            }
            if let (Some(identity), Some(key)) = (identity, api_key) {
                attribution.app = identity.apps().by_api_key(&key).map(|a| a.name.clone());
            }
            let subject_token = form.get("subject_token").filter(|t| !t.is_empty());
            let refresh_token = form.get("refresh_token").filter(|t| !t.is_empty());
            attribution.session = subject_token.map(secret::fingerprint);
            if let (Some(identity), Some(refresh), None) = (identity, refresh_token, subject_token) {
                if let Some(grant) = identity.peek_refresh(refresh) {
                    attribution.user = Some(grant.user.persona.user_id);
                    attribution.session = grant.session;
                }
            }
            token_request = Some(TokenRequestRecord {
                grant_type: form.get("grant_type").map(str::to_owned),
                client_id: None,
                assertion,
                subject_token: subject_token.map(secret::fingerprint),
                refresh_token: refresh_token.map(secret::fingerprint),
                issued: None,
                error: None,
            });
        } else if operation == "authorize" {
            let client_id = Form::parse(parts.uri.query().unwrap_or("").as_bytes()).get("client_id").map(str::to_owned);
            if let (Some(identity), Some(key)) = (identity, client_id) {
                attribution.app = identity.apps().by_api_key(&key).map(|a| a.name.clone());
            }
        }
        let wall: DateTime<Utc> = started.into();
        let entry = TrafficEntry {
            seq: 0,
            at: at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
            wall: wall.to_rfc3339_opts(SecondsFormat::Millis, true),
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query,
            operation: operation.to_owned(),
            headers: recorded_headers(&parts.headers),
            body: body_text,
            body_truncated,
            status: 0,
            response_headers: vec![],
            response_body: None,
            response_body_truncated: false,
            app: attribution.app,
            user: attribution.user,
            token: attribution.token,
            session: attribution.session,
            patients,
            secret_in_query,
            token_request,
            fault: None,
            duration_ms: 0,
        };
        Self { entry, started, no_answer: false }
    }

    /// The registered app the request is attributable to (what a fault's `app` scope is matched against).
    pub fn app(&self) -> Option<&str> {
        self.entry.app.as_deref()
    }

    /// The armed fault that answers this request.
    pub fn set_fault(&mut self, name: &str) {
        self.entry.fault = Some(name.to_owned());
        self.no_answer = name == "connection-reset";
    }

    /// Records the answer and appends the entry; returns the answer unchanged (a body of known length is
    /// buffered and handed on as the same bytes; a streamed one is handed on untouched and not recorded).
    pub async fn finish(
        mut self,
        journal: &TrafficJournal,
        identity: Option<&IdentityService>,
        response: Response,
    ) -> Response {
        let (parts, body) = response.into_parts();
        let (bytes, body) = if body.size_hint().exact().is_some() {
            match to_bytes(body, usize::MAX).await {
                Ok(bytes) => (Some(bytes.clone()), Body::from(bytes)),
                Err(_) => (None, Body::empty()),
            }
        } else {
            (None, body)
        };
        let e = &mut self.entry;
        e.status = if self.no_answer { 0 } else { parts.status.as_u16() };
        e.response_headers = if self.no_answer { vec![] } else { recorded_headers(&parts.headers) };
        if let (Some(record), Some(bytes)) = (e.token_request.as_mut(), &bytes) {
            let answer: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
            let text = |name: &str| answer.get(name).and_then(Value::as_str);
            match text("access_token").filter(|_| parts.status.is_success()) {
                Some(access) => {
                    record.issued = Some(IssuedTokens {
                        access_token: secret::fingerprint(access),
                        refresh_token: text("refresh_token").map(secret::fingerprint),
                        expires_in: answer.get("expires_in").map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        }),
                    });
                    if let Some(grant) = identity.and_then(|i| i.introspect(access)) {
                        e.app = Some(grant.app);
                        e.user = grant.user.map(|u| u.persona.user_id);
                        e.session = grant.session;
                    }
                }
                None => record.error = text("error").map(str::to_owned),
            }
        }
        if let Some(bytes) = bytes.filter(|b| !b.is_empty() && !self.no_answer) {
            let text = secret::redact_body(&String::from_utf8_lossy(&bytes));
            let (text, cut) = capped(text, MAX_RECORDED_RESPONSE);
            e.response_body = Some(text);
            e.response_body_truncated = cut;
        }
        let elapsed = crate::clock::wall_time().duration_since(self.started).unwrap_or_default();
        e.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        journal.append(self.entry);
        Response::from_parts(parts, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_lose_secret_values_and_keep_everything_else() {
        let (q, names) = redact_pairs("patient=x%7C9&access_token=abc&Code=zz&a&token&client%5Fid=key&code=again");
        assert_eq!(
            q,
            "patient=x%7C9&access_token=[REDACTED]&Code=[REDACTED]&a&token&client%5Fid=[REDACTED]&code=[REDACTED]"
        );
        assert_eq!(names, vec!["access_token", "Code", "token", "client_id", "code"]);
        let (q, names) = redact_pairs("_count=1");
        assert_eq!((q.as_str(), names.len()), ("_count=1", 0));
        assert_eq!(redact_url("http://h/cb?code=abc&state=s"), "http://h/cb?code=[REDACTED]&state=s");
        assert_eq!(redact_url("http://h/cb"), "http://h/cb");
    }

    #[test]
    fn nhs_numbers_are_ten_digit_runs_that_pass_modulus_11() {
        // 9990000018 is valid; 9990000017 fails the check digit; 12-digit user ids and timestamps never count.
        let found = nhs_numbers(&[
            "/x/9990000018",
            "patient=https://fhir.nhs.uk/Id/nhs-number|9000000009 9990000017 555254240100",
            r#"{"value":"9990000018","t":"1733324400000","n":"09000000009"}"#,
        ]);
        assert_eq!(found, vec!["9990000018", "9000000009"]);
        assert!(nhs_numbers(&[""]).is_empty());
    }

    #[test]
    fn operations_are_named_as_the_contract_says() {
        let scr = |s: &str| format!("{BASE_PATH}{s}");
        assert_eq!(operation_name(&Method::GET, &scr("/DocumentReference")), "get-scr-id");
        assert_eq!(operation_name(&Method::POST, &scr("/Bundle")), "upload-scr");
        assert_eq!(operation_name(&Method::GET, &scr("/_ping")), "ping");
        assert_eq!(operation_name(&Method::PUT, &scr("/Bundle")), "other");
        assert_eq!(operation_name(&Method::POST, "/oauth2/token"), "token");
        assert_eq!(operation_name(&Method::GET, "/oauth2/authorize"), "authorize");
        assert_eq!(operation_name(&Method::GET, "/oauth2/userinfo"), "userinfo");
        assert_eq!(operation_name(&Method::GET, "/mock-cis2/login"), "cis2");
        assert_eq!(operation_name(&Method::GET, "/mock-cis2/.well-known/jwks.json"), "jwks");
        assert_eq!(operation_name(&Method::GET, "/mock-apps/sut/jwks.json"), "jwks");
        assert_eq!(operation_name(&Method::GET, "/favicon.ico"), "other");
    }

    fn entry(app: Option<&str>, patients: &[&str]) -> TrafficEntry {
        TrafficEntry {
            seq: 0,
            at: String::new(),
            wall: String::new(),
            method: "GET".into(),
            path: "/".into(),
            query: None,
            operation: "other".into(),
            headers: vec![],
            body: None,
            body_truncated: false,
            status: 200,
            response_headers: vec![],
            response_body: None,
            response_body_truncated: false,
            app: app.map(str::to_owned),
            user: None,
            token: None,
            session: None,
            patients: patients.iter().map(|p| (*p).to_owned()).collect(),
            secret_in_query: vec![],
            token_request: None,
            fault: None,
            duration_ms: 0,
        }
    }

    #[test]
    fn the_journal_numbers_filters_and_stays_bounded() {
        let journal = TrafficJournal::default();
        assert_eq!(journal.append(entry(Some("a"), &["9990000018"])), 1);
        assert_eq!(journal.append(entry(Some("b"), &[])), 2);
        assert_eq!(journal.append(entry(None, &["9990000018"])), 3);
        let seqs = |f: TrafficFilter| journal.entries(&f).iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!(seqs(TrafficFilter::default()), vec![1, 2, 3]);
        assert_eq!(seqs(TrafficFilter { since: 1, ..TrafficFilter::default() }), vec![2, 3]);
        assert_eq!(seqs(TrafficFilter { app: Some("a".into()), ..TrafficFilter::default() }), vec![1]);
        assert_eq!(seqs(TrafficFilter { patient: Some("9990000018".into()), ..TrafficFilter::default() }), vec![1, 3]);
        assert_eq!(seqs(TrafficFilter { session: Some("s".into()), ..TrafficFilter::default() }), Vec::<u64>::new());
        for _ in 0..MAX_ENTRIES {
            journal.append(entry(None, &[]));
        }
        assert_eq!(journal.len(), MAX_ENTRIES);
        let first = journal.entries(&TrafficFilter::default()).first().map(|e| e.seq);
        assert_eq!(first, Some(4), "the oldest three were dropped");
        let big = TrafficJournal::default();
        for _ in 0..200 {
            big.append(TrafficEntry { body: Some("x".repeat(MAX_RECORDED_BODY)), ..entry(None, &[]) });
        }
        let kept = big.len();
        let most = MAX_TEXT_BYTES / MAX_RECORDED_BODY;
        assert!((most / 2..=most).contains(&kept), "{kept}");
        assert_eq!(big.entries(&TrafficFilter::default()).last().map(|e| e.seq), Some(200));
    }

    #[test]
    fn capping_cuts_at_a_character_boundary() {
        assert_eq!(capped("abc".into(), 3), ("abc".to_owned(), false));
        assert_eq!(capped("aé".into(), 2), ("a".to_owned(), true));
    }
}
