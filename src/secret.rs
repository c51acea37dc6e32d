//! Credentials that must never reach a report, a log, a snapshot or a panic message.
//!
//! [`Secret`] holds the value; its `Debug`, `Display` and `Serialize` print `[REDACTED]`. The only way to
//! the value is [`Secret::expose`], which is called where the value goes on the wire and nowhere else.

use std::fmt;

/// What every redacted value is printed as.
pub const REDACTED: &str = "[REDACTED]";

/// A secret value: access/refresh/id tokens, client assertions, private keys, API keys, client secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value, for putting on the wire. Never format it into anything that is kept.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// Header names whose values are secrets, compared case-insensitively.
pub const SECRET_HEADERS: &[&str] = &["authorization", "apikey", "x-api-key", "nhsd-identity-jwt"];

/// Whether a header's value must be redacted wherever the header is recorded.
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// The value to record for a header: redacted for secret headers (keeping the auth scheme, e.g. `Bearer`).
pub fn recorded_header_value(name: &str, value: &str) -> String {
    if !is_secret_header(name) {
        return value.to_owned();
    }
    match value.split_once(' ') {
        Some((scheme, _)) if name.eq_ignore_ascii_case("authorization") => {
            format!("{scheme} {REDACTED}")
        }
        _ => REDACTED.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("eyJhbGciOi.canary");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{:?}", Some(&s)), "Some([REDACTED])");
        assert_eq!(serde_json::to_string(&s).ok().as_deref(), Some("\"[REDACTED]\""));
        assert_eq!(s.expose(), "eyJhbGciOi.canary");
    }

    #[test]
    fn secret_headers_are_redacted_keeping_the_scheme() {
        assert_eq!(recorded_header_value("Authorization", "Bearer abc"), "Bearer [REDACTED]");
        assert_eq!(recorded_header_value("apikey", "k"), REDACTED);
        assert_eq!(recorded_header_value("X-Request-ID", "abc"), "abc");
    }
}
