//! The one HTTP client of the harness: the same code talks to the embedded mock, the NHS sandbox and INT.
//! Every call returns an [`Exchange`]: the request as sent (secret headers redacted) and the response.
//!
//! Every HTTP call of the harness — SCR requests, the identity service's token flows, the site readiness
//! check — goes through [`http_client`] and [`fetch`], so all are bounded the same way ([`ClientOptions`]):
//! a connect timeout, a read timeout (no byte for that long, waiting for the headers or within the body), a
//! per-request deadline (a slowly dribbling body cannot hang a run), and a cap on the response body.
//! Redirects are **never followed** (the SCR API and the token endpoint never redirect): a redirect is
//! recorded as it came (status and `Location`), and one that points at another origin is refused with
//! [`ClientError::RedirectRefused`]. Each fault is a [`ClientError`] that says what happened and what had
//! been received, and names its [`TransportFault`] for steps to match on.

use std::fmt;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use regex::Regex;
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use crate::clock::Clock;
use crate::secret::{recorded_header_value, redact_body, Secret, REDACTED};

/// How every HTTP call of the harness is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// Establishing the TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// The longest wait for the next bytes: for the response headers after the request is sent, then between
    /// reads of the body.
    pub read_timeout: Duration,
    /// The whole request, from sending to the last byte of the body.
    pub deadline: Duration,
    /// The largest response body read; beyond it the request fails with what was received.
    pub max_response_bytes: u64,
}

impl ClientOptions {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);
    pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            read_timeout: Self::DEFAULT_READ_TIMEOUT,
            deadline: Self::DEFAULT_DEADLINE,
            max_response_bytes: Self::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// The longest timeout or deadline a setting may have (a day).
const MAX_SECONDS: f64 = 86_400.0;

/// A timeout setting in seconds (`--connect-timeout`, `[http] timeout`, …): positive, at most a day;
/// fractions allowed. The error names the setting.
pub fn seconds_setting(name: &str, value: f64) -> Result<Duration, String> {
    if value.is_finite() && value > 0.0 && value <= MAX_SECONDS {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!("{name} must be a number of seconds above 0 and at most {MAX_SECONDS}, got {value}"))
    }
}

/// The body limit setting (`--max-response-bytes`, `[http] max_response_bytes`): at least 1 byte.
pub fn bytes_setting(name: &str, value: i128) -> Result<u64, String> {
    u64::try_from(value)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("{name} must be a whole number of bytes above 0, got {value}"))
}

/// A duration as people read it: `300 ms`, `30 s`, `1.5 s`.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The stable name of a transport fault, for steps and reports to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportFault {
    ConnectTimeout,
    ReadTimeout,
    Unreachable,
    ConnectionReset,
    Tls,
    BodyTooLarge,
    RedirectRefused,
    Transport,
}

impl TransportFault {
    pub const ALL: [TransportFault; 8] = [
        Self::ConnectTimeout,
        Self::ReadTimeout,
        Self::Unreachable,
        Self::ConnectionReset,
        Self::Tls,
        Self::BodyTooLarge,
        Self::RedirectRefused,
        Self::Transport,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::ConnectTimeout => "connect-timeout",
            Self::ReadTimeout => "read-timeout",
            Self::Unreachable => "unreachable",
            Self::ConnectionReset => "connection-reset",
            Self::Tls => "tls",
            Self::BodyTooLarge => "body-too-large",
            Self::RedirectRefused => "redirect-refused",
            Self::Transport => "transport",
        }
    }

    /// The fault of a stable name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for TransportFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What had been received when a request failed part-way: the status and headers (secret ones redacted) and
/// the first bytes of the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Received {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Body bytes read before the failure.
    pub bytes: u64,
    /// At most [`EXCERPT_CHARS`] characters of them, secrets redacted.
    pub excerpt: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(ct) = self.header("content-type") {
            write!(f, ", Content-Type {ct}")?;
        }
        if let Some(len) = self.header("content-length") {
            write!(f, ", Content-Length {len}")?;
        }
        write!(f, ", {} body bytes", self.bytes)?;
        if !self.excerpt.is_empty() {
            write!(f, ": {:?}", self.excerpt)?;
        }
        Ok(())
    }
}

/// How many characters of a body a failure message shows.
pub const EXCERPT_CHARS: usize = 200;

static SECRET_MEMBER: LazyLock<Regex> = LazyLock::new(|| {
    let names = crate::secret::SECRET_FIELDS.join("|");
    Regex::new(&format!(r#"(?i)("(?:{names})"\s*:\s*)"[^"]*("?)"#))
        .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});
static JWT_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?")
        .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});

/// The start of a body for a failure message: secrets redacted (JSON members and form fields by name — also in
/// a truncated body that no longer parses — and anything shaped like a JWT), whitespace runs collapsed, at most
/// [`EXCERPT_CHARS`] characters, with `…` when cut.
pub fn excerpt(body: &str) -> String {
    let redacted = redact_body(body);
    let redacted = SECRET_MEMBER.replace_all(&redacted, format!("$1\"{REDACTED}$2"));
    let redacted = JWT_LIKE.replace_all(&redacted, REDACTED);
    let collapsed = redacted.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = collapsed.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// The origin (`scheme://host:port`) of a URL, as a browser would compare it.
pub fn origin(url: &reqwest::Url) -> String {
    url.origin().ascii_serialization()
}

fn or_nothing(received: &Option<Box<Received>>) -> String {
    match received {
        Some(r) => format!("received {r}"),
        None => "nothing was received".into(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url}: could not connect within {} (connect timeout); nothing was received", human(*.timeout))]
    ConnectTimeout { url: String, timeout: Duration },
    #[error("{url}: the response headers never came (read timeout {} after sending); nothing was received", human(*.timeout))]
    HeadersTimeout { url: String, timeout: Duration },
    #[error("{url}: the body stalled after {} bytes of an HTTP {} response (read timeout {}); received {received}", .received.bytes, .received.status, human(*.timeout))]
    BodyStalled { url: String, timeout: Duration, received: Box<Received> },
    #[error("{url}: no complete response within the per-request deadline of {}; {}", human(*.deadline), or_nothing(.received))]
    Deadline { url: String, deadline: Duration, received: Option<Box<Received>> },
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url}: the connection was reset or closed before the response came ({reason}); nothing was received")]
    ResetBeforeResponse { url: String, reason: String },
    #[error("{url}: the connection was reset or closed during the body after {} bytes ({reason}); received {received}", .received.bytes)]
    ResetDuringBody { url: String, reason: String, received: Box<Received> },
    #[error("{url}: TLS failure: {reason}")]
    Tls { url: String, reason: String },
    #[error("{url}: the response body is larger than the limit of {limit} bytes; stopped after {} bytes; received {received}", .received.bytes)]
    BodyTooLarge { url: String, limit: u64, received: Box<Received> },
    #[error("{url}: HTTP {} redirect to {location}: the target redirected to {target_origin}; scr-assure never follows a redirect to another host", .exchange.response.status)]
    RedirectRefused { url: String, location: String, target_origin: String, exchange: Box<Exchange> },
    #[error("request to {url} failed: {reason}")]
    Transport { url: String, reason: String },
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl ClientError {
    /// The stable name of what went wrong.
    pub fn fault(&self) -> TransportFault {
        match self {
            Self::ConnectTimeout { .. } => TransportFault::ConnectTimeout,
            Self::HeadersTimeout { .. } | Self::BodyStalled { .. } | Self::Deadline { .. } => {
                TransportFault::ReadTimeout
            }
            Self::Unreachable { .. } => TransportFault::Unreachable,
            Self::ResetBeforeResponse { .. } | Self::ResetDuringBody { .. } => TransportFault::ConnectionReset,
            Self::Tls { .. } => TransportFault::Tls,
            Self::BodyTooLarge { .. } => TransportFault::BodyTooLarge,
            Self::RedirectRefused { .. } => TransportFault::RedirectRefused,
            Self::Transport { .. } | Self::Invalid(_) => TransportFault::Transport,
        }
    }

    /// What had been received before the fault, if anything.
    pub fn received(&self) -> Option<&Received> {
        match self {
            Self::BodyStalled { received, .. }
            | Self::ResetDuringBody { received, .. }
            | Self::BodyTooLarge { received, .. } => Some(received),
            Self::Deadline { received, .. } => received.as_deref(),
            _ => None,
        }
    }

    /// The exchange recorded before the fault (a refused redirect), to keep with the scenario's exchanges.
    pub fn exchange(&self) -> Option<&Exchange> {
        match self {
            Self::RedirectRefused { exchange, .. } => Some(exchange),
            _ => None,
        }
    }
}

/// The `reqwest::Client` every HTTP call of the harness uses: connect and read timeouts, the deadline as a
/// backstop (its exact enforcement, with what was received, is [`fetch`]'s), and no redirect following.
pub fn http_client(options: &ClientOptions) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .read_timeout(options.read_timeout)
        .timeout(options.deadline.saturating_add(Duration::from_secs(1)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ClientError::Invalid(format!("cannot build the HTTP client: {}", error_chain(&e))))
}

/// A whole response, read within the bounds.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The URL that answered (redirects are never followed, so the URL requested).
    pub url: reqwest::Url,
    pub status: u16,
    /// Header values as received (not redacted: callers record them through [`recorded_header_value`]).
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of a header, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Headers as they may be recorded: secret ones redacted.
    pub fn recorded_headers(&self) -> Vec<(String, String)> {
        recorded_headers(&self.headers)
    }

    /// A redirect's `Location`, resolved against the URL requested.
    pub fn redirect_location(&self) -> Option<reqwest::Url> {
        if !(300..400).contains(&self.status) {
            return None;
        }
        self.header("location").and_then(|l| self.url.join(l).ok())
    }
}

fn recorded_headers(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            let value = recorded_header_value(n.as_str(), &String::from_utf8_lossy(v.as_bytes()));
            // A redirect's query may carry an authorization code or the app's API key (`client_id`).
            let value = if n == reqwest::header::LOCATION { redact_query(&value) } else { value };
            (n.as_str().to_owned(), value)
        })
        .collect()
}

fn received(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Box<Received> {
    Box::new(Received {
        status,
        headers: recorded_headers(headers),
        bytes: body.len() as u64,
        excerpt: excerpt(&String::from_utf8_lossy(body)),
    })
}

/// Sends `request` and reads the whole response within `options`' bounds. `shown_url` is the URL as errors
/// name it (without a query that could carry a secret, where the caller knows of one).
pub async fn fetch(
    request: reqwest::RequestBuilder,
    options: &ClientOptions,
    shown_url: &str,
) -> Result<RawResponse, ClientError> {
    let now = tokio::time::Instant::now();
    // A deadline too far to represent is thirty years: never in practice, and no overflow.
    let deadline = now.checked_add(options.deadline).unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400));
    let url = shown_url.to_owned();
    let mut response = match tokio::time::timeout_at(deadline, request.send()).await {
        Err(_) => return Err(ClientError::Deadline { url, deadline: options.deadline, received: None }),
        Ok(Err(e)) => return Err(classify_send(&url, &e, options)),
        Ok(Ok(r)) => r,
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let answered_url = response.url().clone();
    let mut body: Vec<u8> = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_) => {
                let received = Some(received(status, &headers, &body));
                return Err(ClientError::Deadline { url, deadline: options.deadline, received });
            }
            Ok(Err(e)) => return Err(classify_body(&url, &e, options, received(status, &headers, &body))),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                body.extend_from_slice(&chunk);
                if body.len() as u64 > options.max_response_bytes {
                    let received = received(status, &headers, &body);
                    return Err(ClientError::BodyTooLarge { url, limit: options.max_response_bytes, received });
                }
            }
        }
    }
    Ok(RawResponse { url: answered_url, status, headers, body })
}

/// The error's text with its causes, the full URL (whose query may hold a secret) replaced by `shown_url`.
fn reason_of(e: &reqwest::Error, shown_url: &str) -> String {
    // "error sending request for url (…)" only repeats the URL the message names already: start at its cause.
    let mut text = match std::error::Error::source(e) {
        Some(cause) if e.to_string().starts_with("error sending request") => error_chain(cause),
        _ => error_chain(e),
    };
    if let Some(full) = e.url() {
        text = text.replace(full.as_str(), shown_url);
    }
    text
}

fn io_kinds(e: &(dyn std::error::Error + 'static)) -> Vec<std::io::ErrorKind> {
    let mut kinds = Vec::new();
    let mut source = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            kinds.push(io.kind());
        }
        source = s.source();
    }
    kinds
}

/// Whether an error means the peer reset or closed the connection.
fn is_reset(e: &reqwest::Error, reason: &str) -> bool {
    use std::io::ErrorKind as K;
    let closed_texts = [
        "connection closed",
        "connection reset",
        "end of file before message length reached",
        "incomplete message",
        "broken pipe",
        "unexpected eof",
    ];
    io_kinds(e)
        .iter()
        .any(|k| matches!(k, K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof))
        || closed_texts.iter().any(|t| reason.to_ascii_lowercase().contains(t))
}

fn is_tls(e: &reqwest::Error, reason: &str) -> bool {
    let https = e.url().is_some_and(|u| u.scheme() == "https");
    let lower = reason.to_ascii_lowercase();
    let tls_texts = ["tls", "certificate", "handshake", "corrupt message", "invalidcontenttype", "alert"];
    https
        && e.is_connect()
        && (io_kinds(e).contains(&std::io::ErrorKind::InvalidData) || tls_texts.iter().any(|t| lower.contains(t)))
}

/// A failure before the response headers came.
fn classify_send(url: &str, e: &reqwest::Error, options: &ClientOptions) -> ClientError {
    let reason = reason_of(e, url);
    let url = url.to_owned();
    if e.is_timeout() {
        return if e.is_connect() {
            ClientError::ConnectTimeout { url, timeout: options.connect_timeout }
        } else {
            ClientError::HeadersTimeout { url, timeout: options.read_timeout }
        };
    }
    let refused = io_kinds(e).contains(&std::io::ErrorKind::ConnectionRefused);
    if e.is_dns() || refused {
        return ClientError::Unreachable { url, reason };
    }
    if is_tls(e, &reason) {
        let hint =
            if reason.contains("InvalidContentType") { " (the server does not speak TLS on this port)" } else { "" };
        return ClientError::Tls { url, reason: format!("{reason}{hint}") };
    }
    if is_reset(e, &reason) {
        return ClientError::ResetBeforeResponse { url, reason };
    }
    if e.is_connect() {
        return ClientError::Unreachable { url, reason };
    }
    if e.is_builder() {
        return ClientError::Invalid(reason);
    }
    ClientError::Transport { url, reason }
}

/// A failure while reading the body.
fn classify_body(url: &str, e: &reqwest::Error, options: &ClientOptions, received: Box<Received>) -> ClientError {
    let reason = reason_of(e, url);
    let url = url.to_owned();
    if e.is_timeout() {
        ClientError::BodyStalled { url, timeout: options.read_timeout, received }
    } else if is_reset(e, &reason) {
        ClientError::ResetDuringBody { url, reason, received }
    } else {
        ClientError::Transport { url, reason: format!("{reason}; received {received}") }
    }
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

/// One request and its response, as recorded on the wire.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// Wall-clock time it was sent (RFC 3339 UTC, milliseconds): when it really happened.
    pub wall_at: String,
    /// The run's clock when it was sent (`+00:00`): on a mock run the frozen virtual clock that
    /// `When <n> seconds pass` moves, so it may lie after the run's end; shown beside `wall_at`, never instead.
    pub clock_at: String,
    /// Wall time from sending the request to the end of the response body.
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

/// When an exchange was sent, on both clocks, and how long it took: started just before [`fetch`].
#[derive(Debug, Clone)]
pub struct Timing {
    wall: std::time::SystemTime,
    clock_at: String,
    start: Instant,
}

impl Timing {
    /// Now, on the wall clock and on `clock` (the run's, virtual on a mock run).
    pub fn start(clock: &Clock) -> Self {
        Self { wall: crate::clock::wall_time(), clock_at: clock.timestamp(), start: Instant::now() }
    }

    /// The exchange of `request` (already redacted) and `response` as received (its secret headers and
    /// secret body members redacted here).
    pub fn exchange(self, request: RecordedRequest, response: &RawResponse) -> Exchange {
        Exchange {
            wall_at: crate::clock::wall_stamp(self.wall),
            clock_at: self.clock_at,
            duration_ms: u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX),
            request,
            response: RecordedResponse {
                status: response.status,
                headers: response.recorded_headers(),
                body: redact_body(&String::from_utf8_lossy(&response.body)),
            },
            conformance: None,
            sent_at: Some(self.wall),
        }
    }
}

/// A request as it may be recorded: secret headers redacted (keeping an auth scheme), a body's secret members
/// or form fields redacted, and the query's secret parameters (`client_id`, `code`, …) redacted.
pub fn recorded_request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> RecordedRequest {
    RecordedRequest {
        method: method.to_owned(),
        url: redact_query(url),
        headers: headers.iter().map(|(n, v)| ((*n).to_owned(), recorded_header_value(n, v))).collect(),
        body: body.map(|b| redact_body(&String::from_utf8_lossy(b))),
    }
}

/// A URL with the secret parameters of its query redacted (the query is read as a form).
pub fn redact_query(url: &str) -> String {
    match url.split_once('?') {
        Some((base, query)) => format!("{base}?{}", redact_body(query)),
        None => url.to_owned(),
    }
}

/// An HTTP client bound to one base URL.
#[derive(Debug, Clone)]
pub struct ScrClient {
    http: reqwest::Client,
    base_url: String,
    clock: Clock,
    options: ClientOptions,
}

impl ScrClient {
    pub fn new(base_url: impl Into<String>, clock: Clock, options: ClientOptions) -> Result<Self, ClientError> {
        let http = http_client(&options)?;
        Ok(Self { http, base_url: base_url.into().trim_end_matches('/').to_owned(), clock, options })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// The absolute URL of a path below the base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// Sends a request and records the exchange. Any HTTP status is a successful exchange — a redirect to the
    /// same origin too, recorded with its `Location` and not followed; a transport failure, a body over the
    /// limit or a redirect to another origin is an error.
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
                HeaderValue::Secret(_) => REDACTED.to_owned(),
            };
            recorded_headers.push((name.clone(), recorded));
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let timing = Timing::start(&self.clock);
        let response = fetch(builder, &self.options, &url).await?;
        let location = response.redirect_location();
        let sent = RecordedRequest {
            method: request.method.to_string(),
            url: url.clone(),
            headers: recorded_headers,
            body: request.body.map(|b| redact_body(&String::from_utf8_lossy(&b))),
        };
        let exchange = timing.exchange(sent, &response);
        if let Some(location) = location {
            let target_origin = origin(&location);
            if target_origin != origin(&response.url) {
                return Err(ClientError::RedirectRefused {
                    url,
                    location: location.to_string(),
                    target_origin,
                    exchange: Box::new(exchange),
                });
            }
        }
        Ok(exchange)
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
        let next = s.to_string();
        // hyper and reqwest often repeat their cause in their own text.
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_names_are_stable_and_round_trip() {
        let names: Vec<&str> = TransportFault::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            [
                "connect-timeout",
                "read-timeout",
                "unreachable",
                "connection-reset",
                "tls",
                "body-too-large",
                "redirect-refused",
                "transport"
            ]
        );
        for f in TransportFault::ALL {
            assert_eq!(TransportFault::from_name(f.name()), Some(f));
            assert_eq!(serde_json::to_value(f).ok(), Some(Value::from(f.name())));
        }
        assert_eq!(TransportFault::from_name("timeout"), None);
    }

    #[test]
    fn excerpts_are_bounded_collapsed_and_redacted() {
        assert_eq!(excerpt("  {\n  \"a\": 1\n}  "), "{ \"a\": 1 }");
        let long = "é".repeat(300);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
        let token = r#"{"access_token":"abc","expires_in":"599","refresh_token":"def"}"#;
        assert_eq!(excerpt(token), r#"{"access_token":"[REDACTED]","expires_in":"599","refresh_token":"[REDACTED]"}"#);
        let truncated = r#"{"expires_in":"599","id_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"#;
        let e = excerpt(truncated);
        assert!(!e.contains("eyJ") && e.contains(r#""id_token":"[REDACTED]"#), "{e}");
        let jwt_in_text = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln was refused";
        assert_eq!(excerpt(jwt_in_text), "Bearer [REDACTED] was refused");
        assert_eq!(excerpt("grant_type=x&client_secret=s3cr3t"), "grant_type=x&client_secret=[REDACTED]");
    }

    #[test]
    fn settings_are_checked_and_durations_read_well() {
        assert_eq!(seconds_setting("--timeout", 0.25), Ok(Duration::from_millis(250)));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 86_401.0] {
            let e = seconds_setting("--timeout", bad).err().unwrap_or_default();
            assert!(e.starts_with("--timeout must be a number of seconds above 0"), "{bad}: {e}");
        }
        assert_eq!(bytes_setting("max", 10), Ok(10));
        assert!(bytes_setting("max", 0).is_err() && bytes_setting("max", -5).is_err());
        assert_eq!(human(Duration::from_millis(300)), "300 ms");
        assert_eq!(human(Duration::from_secs(30)), "30 s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn received_says_status_type_size_and_excerpt() {
        let r = Received {
            status: 200,
            headers: vec![("content-type".into(), "text/html".into()), ("content-length".into(), "99".into())],
            bytes: 12,
            excerpt: "<html><body>".into(),
        };
        assert_eq!(
            r.to_string(),
            r#"HTTP 200, Content-Type text/html, Content-Length 99, 12 body bytes: "<html><body>""#
        );
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let parse = |u: &str| reqwest::Url::parse(u).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(origin(&parse("http://127.0.0.1:8080/a?b")), "http://127.0.0.1:8080");
        assert_ne!(origin(&parse("http://127.0.0.1:8080/")), origin(&parse("http://127.0.0.1:8081/")));
        assert_ne!(origin(&parse("http://h/")), origin(&parse("https://h/")));
        assert_eq!(origin(&parse("https://h:443/x")), origin(&parse("https://h/y")));
    }
}
