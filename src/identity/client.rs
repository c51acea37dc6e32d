//! The harness's token flows over HTTP (reference §10.1–§10.4): client credentials, token exchange,
//! the authorization code flow through the mock CIS2 sign-in (no browser), and refresh. Answers come back
//! parsed, or as the service's error JSON; secrets stay in [`Secret`]s and out of `raw`.

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use super::assertion::{ClientAssertion, CLIENT_ASSERTION_TYPE};
use super::id_token::{IdToken, ID_TOKEN_TYPE};
use super::rules::Form;
use std::sync::{Arc, Mutex, PoisonError};

use crate::client::{fetch, http_client, recorded_request, ClientOptions, Exchange, RawResponse, Timing};
use crate::clock::Clock;
use crate::secret::{Secret, REDACTED};

/// `urn:ietf:params:oauth:grant-type:token-exchange`
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Fields of a token response that are secrets.
const SECRET_FIELDS: &[&str] = &["access_token", "refresh_token", "id_token"];

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url}: request failed: {reason}")]
    Transport { url: String, reason: String },
    /// A transport fault (timeout, reset, TLS, body over the limit …), bounded like every harness request.
    #[error(transparent)]
    Http(#[from] crate::client::ClientError),
    #[error("{url}: HTTP {status} with a body that is not JSON: {excerpt:?}")]
    NotJson { url: String, status: u16, excerpt: String },
    #[error("{url}: HTTP {status}: expected {expected}")]
    Unexpected { url: String, status: u16, expected: String },
}

/// A granted token (200).
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub access_token: Secret,
    /// As sent; the NHS service sends a string (`"599"`); a JSON number becomes its text here (see `raw`).
    pub expires_in: String,
    pub refresh_token: Option<Secret>,
    pub refresh_token_expires_in: Option<String>,
    pub refresh_count: Option<String>,
    pub token_type: String,
    pub issued_at: Option<String>,
    pub issued_token_type: Option<String>,
    /// The whole body with `access_token`/`refresh_token`/`id_token` redacted.
    pub raw: Value,
}

/// An error answer of the identity service.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenError {
    /// HTTP status; 302 for an error returned in an `/authorize` redirect.
    pub status: u16,
    pub error: String,
    pub error_description: String,
    pub message_id: Option<String>,
    /// The body (or the redirect's query as an object).
    pub raw: Value,
}

/// What a token request came back with.
#[derive(Debug, Clone)]
pub enum TokenOutcome {
    Granted(TokenResponse),
    Rejected(TokenError),
}

impl TokenOutcome {
    pub fn granted(&self) -> Option<&TokenResponse> {
        match self {
            Self::Granted(t) => Some(t),
            Self::Rejected(_) => None,
        }
    }

    pub fn rejected(&self) -> Option<&TokenError> {
        match self {
            Self::Granted(_) => None,
            Self::Rejected(e) => Some(e),
        }
    }
}

/// The app-side configuration of the secret-based flows (authorization code, refresh).
#[derive(Debug, Clone)]
pub struct ClientApp {
    pub api_key: Secret,
    pub client_secret: Secret,
    pub redirect_uri: String,
}

/// Talks to one identity service: `<oauth_base>/token`, `/authorize`, `/userinfo`. A copy made by
/// [`TokenClient::recording`] keeps every HTTP exchange it makes, as sent and received (status, headers,
/// timing; secrets redacted), for the evidence: token exchanges are recorded, never rebuilt.
#[derive(Debug, Clone)]
pub struct TokenClient {
    http: reqwest::Client,
    options: ClientOptions,
    /// The run's clock, for each exchange's `clock_at` beside its wall time.
    clock: Clock,
    log: Option<Arc<Mutex<Vec<Exchange>>>>,
    pub token_url: String,
    pub authorize_url: String,
    pub userinfo_url: String,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// `raw` with the secret fields replaced by `[REDACTED]`.
pub fn redact(body: &Value) -> Value {
    let mut raw = body.clone();
    if let Some(obj) = raw.as_object_mut() {
        for f in SECRET_FIELDS {
            if let Some(v) = obj.get_mut(*f) {
                *v = Value::String(REDACTED.into());
            }
        }
    }
    raw
}

/// Parses a token endpoint answer.
pub fn parse_token_answer(url: &str, status: u16, body: &[u8]) -> Result<TokenOutcome, ClientError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| ClientError::NotJson {
        url: url.to_owned(),
        status,
        excerpt: crate::client::excerpt(&String::from_utf8_lossy(body)),
    })?;
    let field = |name: &str| value.get(name).and_then(text);
    if status == 200 {
        if let Some(access) = value.get("access_token").and_then(Value::as_str) {
            return Ok(TokenOutcome::Granted(TokenResponse {
                access_token: Secret::new(access),
                expires_in: field("expires_in").unwrap_or_default(),
                refresh_token: value.get("refresh_token").and_then(Value::as_str).map(Secret::new),
                refresh_token_expires_in: field("refresh_token_expires_in"),
                refresh_count: field("refresh_count"),
                token_type: field("token_type").unwrap_or_default(),
                issued_at: field("issued_at"),
                issued_token_type: field("issued_token_type"),
                raw: redact(&value),
            }));
        }
    }
    match (field("error"), field("error_description")) {
        (Some(error), description) => Ok(TokenOutcome::Rejected(TokenError {
            status,
            error,
            error_description: description.unwrap_or_default(),
            message_id: field("message_id"),
            raw: redact(&value),
        })),
        _ => {
            Err(ClientError::Unexpected { url: url.to_owned(), status, expected: "an access_token or an error".into() })
        }
    }
}

fn query_pairs(url: &reqwest::Url) -> Vec<(String, String)> {
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

impl TokenClient {
    /// `oauth_base` e.g. `http://127.0.0.1:8080/oauth2` or `https://int.api.service.nhs.uk/oauth2-mock`, with the
    /// default bounds.
    pub fn new(oauth_base: &str) -> Result<Self, ClientError> {
        Self::with_options(oauth_base, &ClientOptions::default())
    }

    /// The same, bounded by `options` (the run's `--connect-timeout`, `--timeout`, … or the site's `[http]`).
    pub fn with_options(oauth_base: &str, options: &ClientOptions) -> Result<Self, ClientError> {
        let base = oauth_base.trim_end_matches('/');
        let http = http_client(options)?;
        Ok(Self {
            http,
            options: *options,
            clock: Clock::system(),
            log: None,
            token_url: format!("{base}/token"),
            authorize_url: format!("{base}/authorize"),
            userinfo_url: format!("{base}/userinfo"),
        })
    }

    /// A copy of this client that records its own HTTP exchanges from now on (a fresh log, e.g. one per
    /// step), dated by `clock` beside the wall clock; [`TokenClient::take_exchanges`] hands them over.
    pub fn recording(&self, clock: &Clock) -> Self {
        Self { clock: clock.clone(), log: Some(Arc::default()), ..self.clone() }
    }

    /// The exchanges recorded since the last call, oldest first (none unless made by [`TokenClient::recording`]).
    pub fn take_exchanges(&self) -> Vec<Exchange> {
        self.log
            .as_ref()
            .map(|log| std::mem::take(&mut *log.lock().unwrap_or_else(PoisonError::into_inner)))
            .unwrap_or_default()
    }

    /// Sends and reads within the bounds, recording the exchange when this client records; errors name
    /// `shown` (never a query, which may carry the API key). `headers` are recorded redacted.
    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        shown: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse, ClientError> {
        let mut request = self.http.request(method.clone(), url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(b) = &body {
            request = request.body(b.clone());
        }
        let timing = Timing::start(&self.clock);
        let response = fetch(request, &self.options, shown).await?;
        if let Some(log) = &self.log {
            let sent = recorded_request(method.as_str(), url, headers, body.as_deref());
            log.lock().unwrap_or_else(PoisonError::into_inner).push(timing.exchange(sent, &response));
        }
        Ok(response)
    }

    /// POSTs a form to the token URL as-is (the form-change steps build their own).
    pub async fn post_form(&self, form: &Form) -> Result<TokenOutcome, ClientError> {
        let url = &self.token_url;
        let content_type = [(CONTENT_TYPE.as_str(), "application/x-www-form-urlencoded")];
        let body = form.encode().into_bytes();
        let response = self.send(reqwest::Method::POST, url, url, &content_type, Some(body)).await?;
        parse_token_answer(url, response.status, &response.body)
    }

    /// The client-credentials form (§10.1) for `assertion`, plus `extra` fields.
    pub fn client_credentials_form(assertion: &ClientAssertion, extra: &[(&str, &str)]) -> Form {
        let mut form = Form::from_pairs([
            ("grant_type", "client_credentials"),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", assertion.0.expose()),
        ]);
        for (k, v) in extra {
            form.set(k, v);
        }
        form
    }

    /// The token-exchange form (§10.2), plus `extra` fields.
    pub fn token_exchange_form(assertion: &ClientAssertion, id_token: &IdToken, extra: &[(&str, &str)]) -> Form {
        let mut form = Form::from_pairs([
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("subject_token_type", ID_TOKEN_TYPE),
            ("subject_token", id_token.0.expose()),
            ("client_assertion_type", CLIENT_ASSERTION_TYPE),
            ("client_assertion", assertion.0.expose()),
        ]);
        for (k, v) in extra {
            form.set(k, v);
        }
        form
    }

    /// Client credentials (§10.1).
    pub async fn client_credentials(
        &self,
        assertion: &ClientAssertion,
        extra: &[(&str, &str)],
    ) -> Result<TokenOutcome, ClientError> {
        self.post_form(&Self::client_credentials_form(assertion, extra)).await
    }

    /// Token exchange (§10.2).
    pub async fn token_exchange(
        &self,
        assertion: &ClientAssertion,
        id_token: &IdToken,
        extra: &[(&str, &str)],
    ) -> Result<TokenOutcome, ClientError> {
        self.post_form(&Self::token_exchange_form(assertion, id_token, extra)).await
    }

    async fn get(&self, url: &reqwest::Url, shown: &str) -> Result<RawResponse, ClientError> {
        self.send(reqwest::Method::GET, url.as_str(), shown, &[], None).await
    }

    fn error_of(url: &str, response: &RawResponse) -> Result<TokenOutcome, ClientError> {
        let status = response.status;
        match parse_token_answer(url, status, &response.body)? {
            TokenOutcome::Granted(_) => {
                Err(ClientError::Unexpected { url: url.to_owned(), status, expected: "a redirect".into() })
            }
            rejected => Ok(rejected),
        }
    }

    fn location(url: &str, response: &RawResponse) -> Result<reqwest::Url, ClientError> {
        let status = response.status;
        response.redirect_location().ok_or_else(|| ClientError::Unexpected {
            url: url.to_owned(),
            status,
            expected: "a Location header".into(),
        })
    }

    /// The authorization code flow (§10.3) through the mock CIS2 sign-in as `persona`: `/authorize`, the
    /// mock CIS2 login with `persona=<id>`, the `code` from the redirect to `redirect_uri` (not followed),
    /// then the code grant. `extra` goes into the token request.
    pub async fn authorization_code(
        &self,
        app: &ClientApp,
        persona: &str,
        extra: &[(&str, &str)],
    ) -> Result<TokenOutcome, ClientError> {
        let code = match self.sign_in(persona, &Self::authorize_query(app)).await? {
            Ok(code) => code,
            Err(rejected) => return Ok(rejected),
        };
        let mut form = Self::code_form(app, &code);
        for (k, v) in extra {
            form.set(k, v);
        }
        self.post_form(&form).await
    }

    /// The `/authorize` query of a well-formed request: `response_type`, `client_id`, `redirect_uri`, `state`.
    pub fn authorize_query(app: &ClientApp) -> Vec<(String, String)> {
        vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), app.api_key.expose().to_owned()),
            ("redirect_uri".into(), app.redirect_uri.clone()),
            ("state".into(), uuid::Uuid::new_v4().to_string()),
        ]
    }

    /// The token request of the code grant.
    pub fn code_form(app: &ClientApp, code: &str) -> Form {
        Form::from_pairs([
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("client_id", app.api_key.expose()),
            ("client_secret", app.client_secret.expose()),
        ])
    }

    /// `/authorize` with `query`, then the mock CIS2 sign-in as `persona`: the authorization code, or the
    /// identity service's refusal (a JSON error, or an error carried by a redirect as status 302).
    pub async fn sign_in(
        &self,
        persona: &str,
        query: &[(String, String)],
    ) -> Result<Result<String, TokenOutcome>, ClientError> {
        let state = query.iter().find(|(k, _)| k == "state").map(|(_, v)| v.clone());
        let mut url = reqwest::Url::parse(&self.authorize_url)
            .map_err(|e| ClientError::Transport { url: self.authorize_url.clone(), reason: e.to_string() })?;
        url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let shown = self.authorize_url.clone();
        let response = self.get(&url, &shown).await?;
        if response.status != 302 {
            return Self::error_of(&shown, &response).map(Err);
        }
        let mut login = Self::location(&shown, &response)?;
        if let Some(outcome) = Self::redirect_error(&login) {
            return Ok(Err(outcome));
        }
        login.query_pairs_mut().append_pair("persona", persona);
        let login_shown = format!("{}{}", login.origin().ascii_serialization(), login.path());
        let response = self.get(&login, &login_shown).await?;
        if response.status != 302 {
            return Self::error_of(&login_shown, &response).map(Err);
        }
        let callback = Self::location(&login_shown, &response)?;
        if let Some(outcome) = Self::redirect_error(&callback) {
            return Ok(Err(outcome));
        }
        let pairs = query_pairs(&callback);
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if get("state") != state {
            return Err(ClientError::Unexpected {
                url: login_shown,
                status: 302,
                expected: "the redirect to carry the state sent to /authorize".into(),
            });
        }
        get("code").map(Ok).ok_or_else(|| ClientError::Unexpected {
            url: login_shown.clone(),
            status: 302,
            expected: "a code in the redirect".into(),
        })
    }

    /// An `error` in a redirect's query, as a rejection with status 302.
    fn redirect_error(url: &reqwest::Url) -> Option<TokenOutcome> {
        let pairs = query_pairs(url);
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let error = get("error")?;
        let raw = Value::Object(pairs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect());
        Some(TokenOutcome::Rejected(TokenError {
            status: 302,
            error,
            error_description: get("error_description").unwrap_or_default(),
            message_id: None,
            raw,
        }))
    }

    /// Refresh (§10.4).
    pub async fn refresh(
        &self,
        app: &ClientApp,
        refresh_token: &Secret,
        extra: &[(&str, &str)],
    ) -> Result<TokenOutcome, ClientError> {
        let mut form = Form::from_pairs([
            ("grant_type", "refresh_token"),
            ("client_id", app.api_key.expose()),
            ("client_secret", app.client_secret.expose()),
            ("refresh_token", refresh_token.expose()),
        ]);
        for (k, v) in extra {
            form.set(k, v);
        }
        self.post_form(&form).await
    }

    /// `GET /userinfo` with a bearer token: `(status, body)`.
    pub async fn userinfo(&self, access_token: &Secret) -> Result<(u16, Value), ClientError> {
        let url = &self.userinfo_url;
        let bearer = format!("Bearer {}", access_token.expose());
        let headers = [(reqwest::header::AUTHORIZATION.as_str(), bearer.as_str())];
        let response = self.send(reqwest::Method::GET, url, url, &headers, None).await?;
        let status = response.status;
        let value = serde_json::from_slice(&response.body).map_err(|_| ClientError::NotJson {
            url: url.clone(),
            status,
            excerpt: crate::client::excerpt(&String::from_utf8_lossy(&response.body)),
        })?;
        Ok((status, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grants_and_errors_and_redacts() {
        let body = br#"{"access_token":"tok","expires_in":"599","token_type":"Bearer","refresh_token":"r","refresh_count":"0"}"#;
        let TokenOutcome::Granted(t) = parse_token_answer("u", 200, body).expect("parse") else { panic!("granted") };
        assert_eq!((t.access_token.expose(), t.expires_in.as_str()), ("tok", "599"));
        assert_eq!(t.raw["access_token"], REDACTED);
        assert_eq!(t.raw["refresh_token"], REDACTED);
        assert_eq!(t.refresh_count.as_deref(), Some("0"));
        assert!(!format!("{t:?}").contains("tok\""));
        let body = br#"{"error":"invalid_request","error_description":"Missing client_assertion","message_id":"m"}"#;
        let TokenOutcome::Rejected(e) = parse_token_answer("u", 400, body).expect("parse") else { panic!("error") };
        assert_eq!((e.status, e.error.as_str(), e.message_id.as_deref()), (400, "invalid_request", Some("m")));
        assert!(matches!(parse_token_answer("u", 500, b"<html>"), Err(ClientError::NotJson { status: 500, .. })));
    }
}
