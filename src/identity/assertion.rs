//! Client assertions (reference §10.1): the signed JWT a client sends instead of a secret, and the
//! [`Defect`]s the harness puts in them to provoke each rejection.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::jwt::{self, JwtError};
use super::keys::SigningKey;
use crate::secret::Secret;

/// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A signed client assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAssertion(pub Secret);

/// A header field or claim a [`Defect::Omit`] leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Jti,
    Kid,
    Exp,
    Typ,
    Iss,
    Sub,
    Aud,
    Alg,
}

impl Claim {
    pub const ALL: [Claim; 8] =
        [Claim::Jti, Claim::Kid, Claim::Exp, Claim::Typ, Claim::Iss, Claim::Sub, Claim::Aud, Claim::Alg];

    pub fn name(self) -> &'static str {
        match self {
            Self::Jti => "jti",
            Self::Kid => "kid",
            Self::Exp => "exp",
            Self::Typ => "typ",
            Self::Iss => "iss",
            Self::Sub => "sub",
            Self::Aud => "aud",
            Self::Alg => "alg",
        }
    }

    /// Whether it lives in the JOSE header (else in the claims).
    pub fn in_header(self) -> bool {
        matches!(self, Self::Kid | Self::Typ | Self::Alg)
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

/// One deliberate fault in a minted JWT.
#[derive(Debug, Clone, PartialEq)]
pub enum Defect {
    Omit(Claim),
    Alg(String),
    Kid(String),
    Aud(String),
    Iss(String),
    Sub(String),
    Jti(String),
    Typ(String),
    /// `exp` set to any JSON value, e.g. the string `"300"`.
    ExpValue(Value),
    /// `jti` set to a non-string JSON value, e.g. `42`.
    JtiValue(Value),
    /// `exp` as it would be, written as a JSON string (`"1700000300"`): the NHS test's "invalid exp - string".
    ExpAsString,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefectError {
    #[error("empty defect; expected e.g. \"omit jti\", \"alg RS256\", \"kid other\", \"exp \\\"300\\\"\"")]
    Empty,
    #[error("\"omit\" needs one of jti, kid, exp, typ, iss, sub, aud, alg; got \"{0}\"")]
    UnknownClaim(String),
    #[error("\"{0}\" needs a value, e.g. \"{0} x\"")]
    MissingValue(String),
    #[error("exp needs a JSON value such as 300 or \"300\"; got {0}")]
    BadExp(String),
    #[error("unknown defect \"{0}\"; expected omit <claim>, alg|kid|aud|iss|sub|jti|typ <text>, exp <json>")]
    Unknown(String),
}

impl Defect {
    /// Parses `omit jti`, `alg RS256`, `kid other`, `aud https://x`, `iss x`, `sub x`, `jti <id>`,
    /// `jti 42` (a non-string JSON value), `typ jwt`, `exp "300"` / `exp 300` (any JSON value), `exp as string`.
    pub fn parse(text: &str) -> Result<Self, DefectError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(DefectError::Empty);
        }
        let (word, rest) = match text.split_once(char::is_whitespace) {
            Some((w, r)) => (w, r.trim()),
            None => (text, ""),
        };
        let word = word.to_ascii_lowercase();
        if rest.is_empty() {
            return match word.as_str() {
                "omit" => Err(DefectError::UnknownClaim(String::new())),
                "alg" | "kid" | "aud" | "iss" | "sub" | "jti" | "typ" | "exp" => Err(DefectError::MissingValue(word)),
                _ => Err(DefectError::Unknown(text.to_owned())),
            };
        }
        let value = || rest.to_owned();
        match word.as_str() {
            "omit" => Claim::parse(rest).map(Defect::Omit).ok_or_else(|| DefectError::UnknownClaim(value())),
            "alg" => Ok(Defect::Alg(value())),
            "kid" => Ok(Defect::Kid(value())),
            "aud" => Ok(Defect::Aud(value())),
            "iss" => Ok(Defect::Iss(value())),
            "sub" => Ok(Defect::Sub(value())),
            "typ" => Ok(Defect::Typ(value())),
            "jti" => match serde_json::from_str::<Value>(rest) {
                Ok(Value::String(s)) => Ok(Defect::Jti(s)),
                Ok(other) => Ok(Defect::JtiValue(other)),
                Err(_) => Ok(Defect::Jti(value())),
            },
            "exp" if rest.eq_ignore_ascii_case("as string") => Ok(Defect::ExpAsString),
            "exp" => {
                serde_json::from_str::<Value>(rest).map(Defect::ExpValue).map_err(|_| DefectError::BadExp(value()))
            }
            _ => Err(DefectError::Unknown(text.to_owned())),
        }
    }

    /// Several defects separated by ` ; ` (the step syntax).
    pub fn parse_list(text: &str) -> Result<Vec<Self>, DefectError> {
        text.split(';').filter(|s| !s.trim().is_empty()).map(Self::parse).collect()
    }

    /// Applies this defect to a header and claims under construction.
    pub fn apply(&self, header: &mut Map<String, Value>, claims: &mut Map<String, Value>) {
        match self {
            Defect::Omit(c) if c.in_header() => {
                header.remove(c.name());
            }
            Defect::Omit(c) => {
                claims.remove(c.name());
            }
            Defect::Alg(v) => set(header, "alg", v),
            Defect::Kid(v) => set(header, "kid", v),
            Defect::Typ(v) => set(header, "typ", v),
            Defect::Aud(v) => set(claims, "aud", v),
            Defect::Iss(v) => set(claims, "iss", v),
            Defect::Sub(v) => set(claims, "sub", v),
            Defect::Jti(v) => set(claims, "jti", v),
            Defect::ExpValue(v) => {
                claims.insert("exp".into(), v.clone());
            }
            Defect::JtiValue(v) => {
                claims.insert("jti".into(), v.clone());
            }
            Defect::ExpAsString => {
                if let Some(exp) = claims.get("exp").filter(|v| v.is_number()).map(Value::to_string) {
                    claims.insert("exp".into(), Value::String(exp));
                }
            }
        }
    }
}

fn set(map: &mut Map<String, Value>, key: &str, value: &str) {
    map.insert(key.to_owned(), Value::String(value.to_owned()));
}

/// What to put in a client assertion.
#[derive(Debug, Clone)]
pub struct AssertionSpec {
    /// `iss` = `sub`.
    pub api_key: Secret,
    pub kid: String,
    /// The token URL.
    pub audience: String,
    /// The true time; the token is dated `now + skew_seconds`.
    pub now: DateTime<Utc>,
    /// How far the client's clock is ahead (negative: behind).
    pub skew_seconds: i64,
    /// `exp = now + skew + exp_in_seconds` (default 300).
    pub exp_in_seconds: i64,
    pub defects: Vec<Defect>,
}

impl AssertionSpec {
    /// A valid assertion: no skew, expiring in 300 s, no defects.
    pub fn new(api_key: Secret, kid: impl Into<String>, audience: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            api_key,
            kid: kid.into(),
            audience: audience.into(),
            now,
            skew_seconds: 0,
            exp_in_seconds: 300,
            defects: vec![],
        }
    }
}

/// Mints a client assertion: header `{alg: RS512, typ: JWT, kid}`, claims `iss = sub = api_key`, fresh
/// `jti`, `aud`, `exp = now + skew + exp_in`, `iat = now + skew`; then the defects, in order.
pub fn mint(spec: &AssertionSpec, key: &SigningKey) -> Result<ClientAssertion, JwtError> {
    let iat = spec.now.timestamp() + spec.skew_seconds;
    let mut header = Map::new();
    header.insert("alg".into(), json!("RS512"));
    header.insert("typ".into(), json!("JWT"));
    header.insert("kid".into(), json!(spec.kid));
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(spec.api_key.expose()));
    claims.insert("sub".into(), json!(spec.api_key.expose()));
    claims.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
    claims.insert("aud".into(), json!(spec.audience));
    claims.insert("exp".into(), json!(iat + spec.exp_in_seconds));
    claims.insert("iat".into(), json!(iat));
    for d in &spec.defects {
        d.apply(&mut header, &mut claims);
    }
    jwt::sign(&Value::Object(header), &Value::Object(claims), key).map(ClientAssertion)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::keys::tests::test_app_key;

    #[test]
    fn parses_every_form() {
        assert_eq!(Defect::parse("omit jti"), Ok(Defect::Omit(Claim::Jti)));
        assert_eq!(Defect::parse("omit KID"), Ok(Defect::Omit(Claim::Kid)));
        assert_eq!(Defect::parse("alg RS256"), Ok(Defect::Alg("RS256".into())));
        assert_eq!(Defect::parse("kid other"), Ok(Defect::Kid("other".into())));
        assert_eq!(Defect::parse("aud https://x"), Ok(Defect::Aud("https://x".into())));
        assert_eq!(Defect::parse("iss x"), Ok(Defect::Iss("x".into())));
        assert_eq!(Defect::parse("sub x"), Ok(Defect::Sub("x".into())));
        assert_eq!(Defect::parse("jti abc-1"), Ok(Defect::Jti("abc-1".into())));
        assert_eq!(Defect::parse("jti 42"), Ok(Defect::JtiValue(json!(42))));
        assert_eq!(Defect::parse("typ jwt"), Ok(Defect::Typ("jwt".into())));
        assert_eq!(Defect::parse("exp \"300\""), Ok(Defect::ExpValue(json!("300"))));
        assert_eq!(Defect::parse("exp 300"), Ok(Defect::ExpValue(json!(300))));
        assert_eq!(Defect::parse("exp as string"), Ok(Defect::ExpAsString));
        assert_eq!(
            Defect::parse_list("omit jti ; alg RS256"),
            Ok(vec![Defect::Omit(Claim::Jti), Defect::Alg("RS256".into())])
        );
    }

    #[test]
    fn parse_errors_say_what_was_wrong() {
        let msg = |t: &str| Defect::parse(t).expect_err("must fail").to_string();
        assert!(msg("omit foo").contains("jti, kid, exp"), "{}", msg("omit foo"));
        assert!(msg("omit foo").contains("\"foo\""));
        assert!(msg("kid").contains("needs a value"));
        assert!(msg("exp 3oo").contains("JSON value"));
        assert!(msg("frobnicate x").contains("unknown defect \"frobnicate x\""));
        assert!(msg("").contains("empty"));
    }

    #[test]
    fn mint_default_and_defects() {
        let key = test_app_key();
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let mut spec = AssertionSpec::new(Secret::new("k"), "scr-assure-test-1", "https://t/oauth2/token", now);
        spec.skew_seconds = 15;
        let raw = jwt::decode_unverified(mint(&spec, &key).expect("mint").0.expose()).expect("decode");
        assert_eq!(raw.header, json!({"alg": "RS512", "typ": "JWT", "kid": "scr-assure-test-1"}));
        assert_eq!(raw.claims["iss"], "k");
        assert_eq!(raw.claims["sub"], "k");
        assert_eq!(raw.claims["exp"], 1_800_000_315);
        assert_eq!(raw.claims["iat"], 1_800_000_015);
        assert!(raw.claim_str("jti").is_some_and(|j| j.len() == 36));
        spec.defects = vec![Defect::Omit(Claim::Typ), Defect::ExpValue(json!("300")), Defect::Omit(Claim::Aud)];
        let raw = jwt::decode_unverified(mint(&spec, &key).expect("mint").0.expose()).expect("decode");
        assert!(raw.header.get("typ").is_none() && raw.claims.get("aud").is_none());
        assert_eq!(raw.claims["exp"], "300");
    }
}
