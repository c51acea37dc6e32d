//! The reference client's connection to the NHS side: its tokens (CIS2 token exchange with a signed client
//! assertion, refresh with rotation, reuse while more than 60 s remain — reference §10.1, §10.2, §10.4,
//! §10.5) and its SCR requests (the headers of §3.1, one renewal and one retry on a 401).

use chrono::Duration;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::{json, Value};

use super::defects::{Defect, Defects};
use super::session::{KeyChoice, Session};
use super::transport::{form, Answer, Http, TransportError};
use crate::clock::Clock;
use crate::identity::keys::SigningKey;
use crate::secret::Secret;

const FHIR_JSON: &str = "application/fhir+json";
const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long a held access token must still be valid to be reused.
const REUSE_MARGIN_SECONDS: i64 = 60;

/// Why an action could not complete; its `Display` is the `error` outcome's message (never a secret).
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("the identity service refused the {grant}: HTTP {status}: {detail}")]
    TokenRefused { grant: &'static str, status: u16, detail: String },
    #[error("the identity service's answer to the {grant} is not a token: {detail}")]
    TokenAnswer { grant: &'static str, detail: String },
    #[error("{what}: HTTP 401 after {attempts} attempt(s) ({detail})")]
    Unauthorized { what: String, attempts: usize, detail: String },
    #[error("{what}: unexpected HTTP {status}: {detail}")]
    Unexpected { what: String, status: u16, detail: String },
    #[error("{what}: {reason}")]
    BadAnswer { what: String, reason: String },
    #[error("{0}")]
    Local(String),
}

/// What the client needs to know about the NHS side and its own identity.
#[derive(Debug, Clone)]
pub struct Connection {
    pub base_url: String,
    pub token_url: String,
    pub id_token: Secret,
    pub urid: String,
    pub api_key: Secret,
    pub client_secret: Option<Secret>,
    /// `--key` with `--kid`.
    pub initial_key: SigningKey,
    pub initial_kid: String,
    /// `--next-key` (its kid comes from the session).
    pub next_key: Option<SigningKey>,
    /// The organisation's ODS code (privacy alerts).
    pub ods_code: String,
}

/// An SCR request, relative to the base URL.
#[derive(Debug, Clone)]
pub struct ScrRequest {
    pub method: Method,
    /// Path and query after the base URL, e.g. `/DocumentReference?patient=…`.
    pub target: String,
    pub body: Option<Vec<u8>>,
    /// An upload: re-sent with the same X-Request-ID (unless `new-request-id-on-resend`).
    pub upload: bool,
    /// How the request is named in messages, e.g. `GET /DocumentReference`.
    pub what: String,
}

/// A granted token.
struct Granted {
    access_token: Secret,
    expires_in: i64,
    refresh_token: Option<Secret>,
}

/// The client during one action.
pub struct Client {
    pub http: Http,
    pub clock: Clock,
    pub defects: Defects,
    pub conn: Connection,
    pub session: Session,
    /// `X-Correlation-ID` of every SCR request of the action.
    pub correlation_id: String,
    /// The one `X-Request-ID` of the `reused-request-id` defect.
    action_request_id: String,
}

fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Client {
    pub fn new(http: Http, clock: Clock, defects: Defects, conn: Connection, session: Session) -> Self {
        Self { http, clock, defects, conn, session, correlation_id: new_uuid(), action_request_id: new_uuid() }
    }

    pub fn has(&self, defect: Defect) -> bool {
        self.defects.has(defect)
    }

    /// The key that signs assertions now, and its kid.
    fn signing_key(&self) -> Result<(&SigningKey, String), FlowError> {
        match (self.session.key, &self.session.kid) {
            (KeyChoice::Next, Some(kid)) => match &self.conn.next_key {
                Some(key) => Ok((key, kid.clone())),
                None => {
                    Err(FlowError::Local("the session signs with the rotation key but no --next-key was given".into()))
                }
            },
            _ => Ok((&self.conn.initial_key, self.conn.initial_kid.clone())),
        }
    }

    /// A client assertion (reference §10.1): RS512, `kid`, `typ: JWT`; `iss` = `sub` = API key, `aud` = the
    /// token URL, a fresh `jti`, `exp` = now + 240 s.
    fn assertion(&self, jti: &str) -> Result<Secret, String> {
        let (key, kid) = self.signing_key().map_err(|e| e.to_string())?;
        let exp_in = if self.has(Defect::AssertionExpTooFar) {
            305
        } else if self.has(Defect::AssertionShortExp) {
            // Short enough to be expired on an identity clock 10 s ahead (SCRC-IDN-005), with as much room as
            // that allows for a loaded machine between signing and the service reading it.
            9
        } else {
            240
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS512);
        header.kid = Some(kid);
        header.typ = Some("JWT".into());
        let claims = json!({
            "iss": self.conn.api_key.expose(),
            "sub": self.conn.api_key.expose(),
            "aud": self.conn.token_url,
            "jti": jti,
            "exp": self.clock.now().timestamp() + exp_in,
        });
        jsonwebtoken::encode(&header, &claims, key.encoding_key())
            .map(Secret::new)
            .map_err(|e| format!("cannot sign the client assertion: {e}"))
    }

    /// The `jti` of the next assertion: fresh, or the session's one with `reused-jti`.
    fn next_jti(&mut self) -> String {
        if self.has(Defect::ReusedJti) {
            return self.session.jti.get_or_insert_with(new_uuid).clone();
        }
        new_uuid()
    }

    /// An access token: the held one while more than 60 s of it remain, else a renewed one.
    pub async fn access_token(&mut self) -> Result<Secret, FlowError> {
        if let Some(token) = &self.session.access_token {
            if self.has(Defect::TokenNeverRenewed) {
                return Ok(token.clone());
            }
            let fresh = self
                .session
                .access_expires_at
                .is_some_and(|at| at - self.clock.now() > Duration::seconds(REUSE_MARGIN_SECONDS));
            if fresh {
                return Ok(token.clone());
            }
        }
        self.renew().await
    }

    /// A new access token: the refresh grant when a refresh token is held (falling back to token exchange
    /// when it fails), else token exchange.
    pub async fn renew(&mut self) -> Result<Secret, FlowError> {
        let presented = if self.has(Defect::RefreshTokenReused) {
            self.session.first_refresh_token.clone().or_else(|| self.session.refresh_token.clone())
        } else {
            self.session.refresh_token.clone()
        };
        if let (Some(refresh_token), Some(_)) = (presented, &self.conn.client_secret) {
            match self.refresh(&refresh_token).await {
                Ok(token) => return Ok(token),
                Err(e) => eprintln!("reference-client: {e}; falling back to token exchange"),
            }
        }
        self.exchange().await
    }

    /// CIS2 token exchange (reference §10.2).
    pub async fn exchange(&mut self) -> Result<Secret, FlowError> {
        // With `reused-jti` every attempt carries the session's jti; else each attempt mints its own.
        let fixed_jti = self.has(Defect::ReusedJti).then(|| self.next_jti());
        let url = self.conn.token_url.clone();
        let answer = {
            let this = &*self;
            this.http
                .send("POST /oauth2/token (token exchange)", |_| {
                    let jti = fixed_jti.clone().unwrap_or_else(new_uuid);
                    let assertion = this.assertion(&jti)?;
                    let body = form(&[
                        ("grant_type", TOKEN_EXCHANGE_GRANT),
                        ("subject_token_type", ID_TOKEN_TYPE),
                        ("subject_token", this.conn.id_token.expose()),
                        ("client_assertion_type", JWT_BEARER),
                        ("client_assertion", assertion.expose()),
                    ]);
                    Ok(this
                        .http
                        .client()
                        .post(&url)
                        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(body))
                })
                .await?
        };
        let granted = parse_token("token exchange", &answer)?;
        Ok(self.keep(granted))
    }

    /// The refresh grant (reference §10.4); the rotated refresh token it returns is kept.
    async fn refresh(&mut self, refresh_token: &Secret) -> Result<Secret, FlowError> {
        let Some(client_secret) = self.conn.client_secret.clone() else {
            return Err(FlowError::Local("no client secret for the refresh grant".into()));
        };
        let body = form(&[
            ("grant_type", "refresh_token"),
            ("client_id", self.conn.api_key.expose()),
            ("client_secret", client_secret.expose()),
            ("refresh_token", refresh_token.expose()),
        ]);
        let url = self.conn.token_url.clone();
        let answer = self
            .http
            .send("POST /oauth2/token (refresh)", |_| {
                Ok(self
                    .http
                    .client()
                    .post(&url)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body.clone()))
            })
            .await?;
        let granted = parse_token("refresh grant", &answer)?;
        Ok(self.keep(granted))
    }

    /// Stores a granted token in the session.
    fn keep(&mut self, granted: Granted) -> Secret {
        self.session.access_token = Some(granted.access_token.clone());
        self.session.access_expires_at = Some(self.clock.now() + Duration::seconds(granted.expires_in));
        if let Some(refresh) = granted.refresh_token {
            if self.session.first_refresh_token.is_none() {
                self.session.first_refresh_token = Some(refresh.clone());
            }
            self.session.refresh_token = Some(refresh);
        }
        granted.access_token
    }

    /// Sends an SCR request with a token, renewing once and retrying once on a 401.
    pub async fn scr(&mut self, request: &ScrRequest) -> Result<Answer, FlowError> {
        let request_id = if self.has(Defect::ReusedRequestId) { self.action_request_id.clone() } else { new_uuid() };
        let mut token = self.access_token().await?;
        let bound = if self.has(Defect::AuthLoop) { 10 } else { 2 };
        let mut attempts = 1;
        loop {
            let answer = self.send_scr(request, &request_id, &token).await?;
            if answer.status != 401 {
                return Ok(answer);
            }
            if self.has(Defect::TokenNeverRenewed) || attempts >= bound {
                return Err(FlowError::Unauthorized {
                    what: request.what.clone(),
                    attempts,
                    detail: super::bodies::describe_error(&answer.body),
                });
            }
            eprintln!("reference-client: {}: HTTP 401; renewing the access token", request.what);
            attempts += 1;
            token = self.renew().await?;
        }
    }

    async fn send_scr(&self, request: &ScrRequest, request_id: &str, token: &Secret) -> Result<Answer, FlowError> {
        let url = format!("{}{}", self.conn.base_url.trim_end_matches('/'), request.target);
        let fresh_on_resend = request.upload && self.has(Defect::NewRequestIdOnResend);
        let accept = if self.has(Defect::WrongAccept) { "application/json" } else { FHIR_JSON };
        let answer = self
            .http
            .send(&request.what, |attempt| {
                let id = if fresh_on_resend && attempt > 1 { new_uuid() } else { request_id.to_owned() };
                let mut builder = self
                    .http
                    .client()
                    .request(request.method.clone(), &url)
                    .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
                    .header("X-Request-ID", id)
                    .header("X-Correlation-ID", &self.correlation_id)
                    .header(ACCEPT, accept);
                if !self.has(Defect::MissingUrid) {
                    builder = builder.header("NHSD-Session-URID", &self.conn.urid);
                }
                if let Some(body) = &request.body {
                    builder = builder.header(CONTENT_TYPE, FHIR_JSON).body(body.clone());
                }
                Ok(builder)
            })
            .await?;
        Ok(answer)
    }

    /// The CIS2 user id (`sub`) of the id_token the client was given, read without verifying it (it is the
    /// client's own login).
    pub fn user_id(&self) -> Result<String, FlowError> {
        use base64::Engine as _;
        let not_readable = || FlowError::Local("the id_token's claims cannot be read (no `sub`)".into());
        let payload = self.conn.id_token.expose().split('.').nth(1).ok_or_else(not_readable)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| not_readable())?;
        let claims: Value = serde_json::from_slice(&bytes).map_err(|_| not_readable())?;
        claims.get("sub").and_then(Value::as_str).map(str::to_owned).ok_or_else(not_readable)
    }
}

/// Reads a token endpoint answer.
fn parse_token(grant: &'static str, answer: &Answer) -> Result<Granted, FlowError> {
    if answer.status != 200 {
        return Err(FlowError::TokenRefused {
            grant,
            status: answer.status,
            detail: super::bodies::describe_error(&answer.body),
        });
    }
    let value: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| FlowError::TokenAnswer { grant, detail: format!("not JSON ({e})") })?;
    let access_token = value
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or(FlowError::TokenAnswer { grant, detail: "no access_token".into() })?;
    // The NHS service sends `"599"` (a string); a number is read too. Absent: the platform's 599 s.
    let expires_in = match value.get("expires_in") {
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    }
    .unwrap_or(599);
    Ok(Granted {
        access_token: Secret::new(access_token),
        expires_in,
        refresh_token: value.get("refresh_token").and_then(Value::as_str).filter(|t| !t.is_empty()).map(Secret::new),
    })
}
