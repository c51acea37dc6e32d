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

    /// A stable, non-reversible name for this secret: the first 16 hex digits of its SHA-256. Lets evidence
    /// say "the same token" or "a refresh token presented twice" without holding the token.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }
}

/// [`Secret::fingerprint`] of a raw value (for values read off the wire before they are typed).
pub fn fingerprint(raw: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(raw.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
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

/// Form fields and JSON members whose values are secrets (OAuth requests and token responses).
pub const SECRET_FIELDS: &[&str] =
    &["access_token", "refresh_token", "id_token", "client_assertion", "subject_token", "client_secret", "password"];

/// Form fields that are secrets only in forms: the authorization `code` (in JSON, `code` is a FHIR code) and
/// `client_id`, which on the NHS platform is the app's API key.
const SECRET_FORM_FIELDS: &[&str] = &["code", "client_id"];

fn is_secret_field(name: &str) -> bool {
    SECRET_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name))
}

/// Whether a form field (its name possibly percent-encoded, `client%5Fid`) holds a secret.
fn is_secret_form_field(raw_name: &str) -> bool {
    let name = percent_encoding::percent_decode_str(&raw_name.replace('+', " ")).decode_utf8_lossy().into_owned();
    is_secret_field(&name) || SECRET_FORM_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(&name))
}

/// A body as it may be recorded: secret members of a JSON object (at any depth) and secret fields of an
/// `application/x-www-form-urlencoded` body replaced by `[REDACTED]`; anything else unchanged.
pub fn redact_body(body: &str) -> String {
    if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(body) {
        if redact_json(&mut value) {
            return value.to_string();
        }
        return body.to_owned();
    }
    let looks_like_form =
        !body.is_empty() && body.split('&').all(|pair| pair.contains('=') && !pair.contains(char::is_whitespace));
    if !looks_like_form {
        return body.to_owned();
    }
    body.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_form_field(name) => format!("{name}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Redacts secret members in place; whether anything changed.
fn redact_json(value: &mut serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => {
            let mut changed = false;
            for (k, v) in map.iter_mut() {
                if is_secret_field(k) && v.is_string() {
                    *v = serde_json::Value::String(REDACTED.into());
                    changed = true;
                } else {
                    changed |= redact_json(v);
                }
            }
            changed
        }
        serde_json::Value::Array(items) => {
            let mut changed = false;
            for v in items {
                changed |= redact_json(v);
            }
            changed
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_fingerprint_names_a_secret_without_holding_it() {
        let a = super::Secret::new("eyJhbGciOi.token.one");
        assert_eq!(a.fingerprint().len(), 16);
        assert_eq!(a.fingerprint(), super::fingerprint("eyJhbGciOi.token.one"));
        assert_ne!(a.fingerprint(), super::Secret::new("eyJhbGciOi.token.two").fingerprint());
        assert!(!a.fingerprint().contains("token"));
    }

    #[test]
    fn bodies_lose_their_secrets_only() {
        let form = "grant_type=client_credentials&client_assertion=eyJ.a.b&client_assertion_type=x";
        assert_eq!(
            redact_body(form),
            "grant_type=client_credentials&client_assertion=[REDACTED]&client_assertion_type=x"
        );
        let json = r#"{"access_token":"abc","expires_in":"599","nested":{"refresh_token":"r"}}"#;
        let out = redact_body(json);
        assert!(!out.contains("abc") && !out.contains("\"r\"") && out.contains("599"), "{out}");
        let fhir = r#"{"issue":[{"code":"value"}],"resourceType":"OperationOutcome"}"#;
        assert_eq!(redact_body(fhir), fhir, "a FHIR `code` is not a secret");
        assert_eq!(
            redact_body("grant_type=authorization_code&code=abc"),
            "grant_type=authorization_code&code=[REDACTED]"
        );
        assert_eq!(redact_body("plain text body"), "plain text body");
    }

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
