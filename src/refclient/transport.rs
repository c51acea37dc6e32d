//! HTTP for the reference client: one `reqwest` client (5 s read timeout, 10 s per request, redirects never
//! followed) and the fault policy — 429: wait `Retry-After` (default 1 s, at most 5 s); 500, 503, 504 and
//! transport failures: back off 250 ms then 500 ms; at most 3 attempts in all. The `retry-storm` and
//! `ignores-retry-after` defects change it.

use std::time::Duration;

use super::defects::{Defect, Defects};

/// The largest answer body the client reads.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Attempts of one request under the correct policy.
const MAX_ATTEMPTS: usize = 3;

/// An answer, body read.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The media type without parameters, lower-cased.
    pub media_type: Option<String>,
    pub body: Vec<u8>,
    retry_after: Option<String>,
}

impl Answer {
    /// Whether the body is served as `application/fhir+json`.
    pub fn is_fhir_json(&self) -> bool {
        self.media_type.as_deref() == Some("application/fhir+json")
    }
}

/// Why no answer came (after the retries).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what}: {reason} (after {attempts} attempt(s))")]
pub struct TransportError {
    pub what: String,
    pub reason: String,
    pub attempts: usize,
    /// Whether the last failure was a timeout.
    pub timed_out: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct BuildError(String);

/// What the fault policy decides after one attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    RateLimited,
    Server,
    Transport,
}

/// The HTTP side of the client.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    defects: Defects,
}

impl Http {
    pub fn new(defects: Defects) -> Result<Self, BuildError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| BuildError(e.to_string()))?;
        Ok(Self { client, defects })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends one request and reads its body.
    async fn once(&self, request: reqwest::RequestBuilder) -> Result<Answer, (String, bool)> {
        let describe = |e: &reqwest::Error| {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            (text, e.is_timeout())
        };
        let mut response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let header = |name: reqwest::header::HeaderName| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
        };
        let media_type = header(reqwest::header::CONTENT_TYPE)
            .map(|ct| ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
        let retry_after = header(reqwest::header::RETRY_AFTER);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err((format!("the answer's body is larger than {MAX_BODY} bytes"), false));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, media_type, body, retry_after })
    }

    /// Sends a request under the fault policy; `build(attempt)` (1-based) makes each attempt's request (an
    /// error there ends the exchange unsent).
    pub async fn send<F>(&self, what: &str, mut build: F) -> Result<Answer, TransportError>
    where
        F: FnMut(usize) -> Result<reqwest::RequestBuilder, String>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = build(attempt).map_err(|reason| TransportError {
                what: what.to_owned(),
                reason,
                attempts: attempt,
                timed_out: false,
            })?;
            let result = self.once(request).await;
            let fault = match &result {
                Ok(a) if a.status == 429 => Some(Fault::RateLimited),
                Ok(a) if self.defects.has(Defect::RetryStorm) && a.status >= 500 => Some(Fault::Server),
                Ok(a) if matches!(a.status, 500 | 503 | 504) => Some(Fault::Server),
                Ok(_) => None,
                Err(_) => Some(Fault::Transport),
            };
            match fault.map(|f| self.policy(f, attempt, result.as_ref().ok())) {
                Some((max, delay)) if attempt < max => {
                    match &result {
                        Err((reason, _)) => eprintln!("reference-client: {what}: {reason}; retrying"),
                        Ok(a) => eprintln!("reference-client: {what}: HTTP {}; retrying", a.status),
                    }
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                }
                _ => {
                    return result.map_err(|(reason, timed_out)| TransportError {
                        what: what.to_owned(),
                        reason,
                        attempts: attempt,
                        timed_out,
                    })
                }
            }
        }
    }

    /// `(attempts allowed, wait before the next)` after `attempt` ended in `fault`.
    fn policy(&self, fault: Fault, attempt: usize, answer: Option<&Answer>) -> (usize, Duration) {
        match fault {
            Fault::RateLimited if self.defects.has(Defect::IgnoresRetryAfter) => {
                (MAX_ATTEMPTS, Duration::from_millis(50))
            }
            Fault::RateLimited => {
                let seconds = answer
                    .and_then(|a| a.retry_after.as_deref())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(1)
                    .min(5);
                (MAX_ATTEMPTS, Duration::from_secs(seconds))
            }
            Fault::Server if self.defects.has(Defect::RetryStorm) => (10, Duration::ZERO),
            Fault::Server | Fault::Transport => {
                (MAX_ATTEMPTS, Duration::from_millis(if attempt <= 1 { 250 } else { 500 }))
            }
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of `fields`.
pub fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
}

/// A query-string value, percent-encoded (the `|` as `%7C`, which the backend accepts, reference §4.1).
pub fn query_value(value: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    utf8_percent_encode(value, QUERY).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_queries_are_encoded() {
        assert_eq!(form(&[("grant_type", "a:b"), ("x", "1 2&3")]), "grant_type=a%3Ab&x=1+2%263");
        assert_eq!(
            query_value("https://fhir.nhs.uk/Id/nhs-number|9990000018"),
            "https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9990000018"
        );
    }

    fn answer(status: u16, retry_after: Option<&str>) -> Answer {
        Answer { status, media_type: None, body: vec![], retry_after: retry_after.map(str::to_owned) }
    }

    #[test]
    fn the_policy_and_its_defects() {
        let http = Http::new(Defects::none()).expect("client");
        assert_eq!(http.policy(Fault::RateLimited, 1, Some(&answer(429, Some("2")))), (3, Duration::from_secs(2)));
        assert_eq!(http.policy(Fault::RateLimited, 1, Some(&answer(429, Some("60")))), (3, Duration::from_secs(5)));
        assert_eq!(http.policy(Fault::RateLimited, 1, Some(&answer(429, None))), (3, Duration::from_secs(1)));
        assert_eq!(http.policy(Fault::Server, 1, None), (3, Duration::from_millis(250)));
        assert_eq!(http.policy(Fault::Transport, 2, None), (3, Duration::from_millis(500)));
        let storm = Http::new([Defect::RetryStorm].into_iter().collect()).expect("client");
        assert_eq!(storm.policy(Fault::Server, 1, None), (10, Duration::ZERO));
        let impatient = Http::new([Defect::IgnoresRetryAfter].into_iter().collect()).expect("client");
        assert_eq!(
            impatient.policy(Fault::RateLimited, 1, Some(&answer(429, Some("3")))),
            (3, Duration::from_millis(50))
        );
    }
}
