//! The one HTTP client of the harness: the same code talks to the embedded mock, the NHS sandbox and INT.
//! Every call returns an [`Exchange`]: the request as sent (secret headers redacted) and the response.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::clock::Clock;
use crate::secret::{recorded_header_value, redact_body, Secret};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("request to {url} timed out after {seconds} s")]
    Timeout { url: String, seconds: u64 },
    #[error("request to {url} failed: {reason}")]
    Transport { url: String, reason: String },
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// A header value: plain, or a secret that is sent but never recorded.
#[derive(Debug, Clone)]
pub enum HeaderValue {
    Plain(String),
    Secret(Secret),
}

/// A request to an SCR target, relative to its base URL.
#[derive(Debug, Clone)]
pub struct ScrRequest {
    pub method: Method,
    /// Path and query below the base URL, e.g. `/DocumentReference?patient=…`.
    pub path: String,
    pub headers: Vec<(String, HeaderValue)>,
    pub body: Option<Vec<u8>>,
}

/// A request as recorded: secret headers redacted.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// A response as received.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RecordedResponse {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// One request and its response.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub started_at: String,
    pub duration_ms: u64,
    pub request: RecordedRequest,
    pub response: RecordedResponse,
    /// FHIR and SCR conformance of both bodies, when the runner checked them.
    pub conformance: Option<crate::fhir::conformance::Conformance>,
    /// Wall time it was sent (a measurement, to place the exchange in its step).
    #[serde(skip)]
    pub sent_at: Option<std::time::SystemTime>,
}

impl Exchange {
    /// The value this exchange *sent* for a header (redacted if secret).
    pub fn sent_header(&self, name: &str) -> Option<&str> {
        self.request.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// An HTTP client bound to one base URL.
#[derive(Debug, Clone)]
pub struct ScrClient {
    http: reqwest::Client,
    base_url: String,
    clock: Clock,
    timeout: Duration,
}

impl ScrClient {
    pub fn new(base_url: impl Into<String>, clock: Clock, timeout: Duration) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ClientError::Invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { http, base_url: base_url.into().trim_end_matches('/').to_owned(), clock, timeout })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The absolute URL of a path below the base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// Sends a request and records the exchange. Any HTTP status is a successful exchange; only a
    /// transport failure is an error.
    pub async fn send(&self, request: ScrRequest) -> Result<Exchange, ClientError> {
        let url = self.url(&request.path);
        let mut builder = self.http.request(request.method.clone(), &url);
        let mut recorded_headers = Vec::with_capacity(request.headers.len());
        for (name, value) in &request.headers {
            let raw = match value {
                HeaderValue::Plain(v) => v.as_str(),
                HeaderValue::Secret(s) => s.expose(),
            };
            builder = builder.header(name.as_str(), raw);
            let recorded = match value {
                HeaderValue::Plain(v) => recorded_header_value(name, v),
                // Keeps only the scheme of a secret header ("Bearer [REDACTED]"); any other secret is all redacted.
                HeaderValue::Secret(s) if crate::secret::is_secret_header(name) => {
                    recorded_header_value(name, s.expose())
                }
                HeaderValue::Secret(_) => crate::secret::REDACTED.to_owned(),
            };
            recorded_headers.push((name.clone(), recorded));
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let started_at = self.clock.timestamp();
        let sent_at = crate::clock::wall_time();
        let start = Instant::now();
        let response = builder.send().await.map_err(|e| self.classify(&url, &e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (n.as_str().to_owned(), recorded_header_value(n.as_str(), &String::from_utf8_lossy(v.as_bytes())))
            })
            .collect();
        let bytes = response.bytes().await.map_err(|e| self.classify(&url, &e))?;
        let duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(Exchange {
            started_at,
            duration_ms,
            request: RecordedRequest {
                method: request.method.to_string(),
                url,
                headers: recorded_headers,
                body: request.body.map(|b| redact_body(&String::from_utf8_lossy(&b))),
            },
            response: RecordedResponse { status, headers, body: redact_body(&String::from_utf8_lossy(&bytes)) },
            conformance: None,
            sent_at: Some(sent_at),
        })
    }

    fn classify(&self, url: &str, e: &reqwest::Error) -> ClientError {
        if e.is_timeout() {
            ClientError::Timeout { url: url.to_owned(), seconds: self.timeout.as_secs() }
        } else if e.is_connect() {
            ClientError::Unreachable { url: url.to_owned(), reason: error_chain(e) }
        } else {
            ClientError::Transport { url: url.to_owned(), reason: error_chain(e) }
        }
    }

    /// Checks that the target answers at all (any HTTP status counts): `GET {base}/_ping`.
    pub async fn ping(&self) -> Result<u16, ClientError> {
        let request = ScrRequest { method: Method::GET, path: "/_ping".into(), headers: vec![], body: None };
        Ok(self.send(request).await?.response.status)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
