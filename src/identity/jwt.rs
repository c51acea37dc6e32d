//! JWTs of any shape: the defects the harness needs (`exp` as a string, no `typ`, an `alg` that does not
//! match the key) are shapes the `jsonwebtoken` builder refuses, so the header and claims are raw JSON.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::keys::SigningKey;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("the JWT header and claims must be JSON objects")]
    NotObjects,
    #[error("cannot sign the JWT: {0}")]
    Sign(String),
    #[error("not a JWT: {0}")]
    Malformed(String),
}

/// base64url, accepting input with or without padding.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A decoded, unverified JWT.
#[derive(Debug, Clone)]
pub struct RawJwt {
    pub header: Value,
    pub claims: Value,
    /// `base64url(header) "." base64url(claims)` as received.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

impl RawJwt {
    /// A header field as a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// A claim as a string.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// The RSA algorithm named `name`, if it is one a JWKS RSA key can verify.
pub fn rsa_algorithm(name: &str) -> Option<Algorithm> {
    match name {
        "RS256" => Some(Algorithm::RS256),
        "RS384" => Some(Algorithm::RS384),
        "RS512" => Some(Algorithm::RS512),
        "PS256" => Some(Algorithm::PS256),
        "PS384" => Some(Algorithm::PS384),
        "PS512" => Some(Algorithm::PS512),
        _ => None,
    }
}

/// Signs `header`.`claims` with the algorithm `header.alg` names when it is RS*/PS*, else RS512 (so a
/// `HS256` or missing `alg` still yields a token the server can decode and reject for the right reason).
pub fn sign(header: &Value, claims: &Value, key: &SigningKey) -> Result<Secret, JwtError> {
    if !header.is_object() || !claims.is_object() {
        return Err(JwtError::NotObjects);
    }
    let alg = header.get("alg").and_then(Value::as_str).and_then(rsa_algorithm).unwrap_or(Algorithm::RS512);
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = jsonwebtoken::crypto::sign(signing_input.as_bytes(), key.encoding_key(), alg)
        .map_err(|e| JwtError::Sign(e.to_string()))?;
    Ok(Secret::new(format!("{signing_input}.{signature}")))
}

/// Splits and decodes a compact JWT without checking its signature.
pub fn decode_unverified(token: &str) -> Result<RawJwt, JwtError> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [h, c, s] = parts.as_slice() else {
        return Err(JwtError::Malformed(format!("{} dot-separated parts, expected 3", parts.len())));
    };
    let json = |part: &str, what: &str| -> Result<Value, JwtError> {
        let bytes = B64.decode(part).map_err(|e| JwtError::Malformed(format!("{what} is not base64url: {e}")))?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| JwtError::Malformed(format!("{what} is not JSON: {e}")))?;
        if value.is_object() {
            Ok(value)
        } else {
            Err(JwtError::Malformed(format!("{what} is not a JSON object")))
        }
    };
    let header = json(h, "header")?;
    let claims = json(c, "claims")?;
    let signature = B64.decode(s).map_err(|e| JwtError::Malformed(format!("signature is not base64url: {e}")))?;
    Ok(RawJwt { header, claims, signing_input: format!("{h}.{c}"), signature })
}

/// Whether the signature verifies with `jwk`, using the header's `alg` (RS*/PS* only; anything else fails).
pub fn verify(raw: &RawJwt, jwk: &Jwk) -> bool {
    let Some(alg) = raw.header_str("alg").and_then(rsa_algorithm) else {
        return false;
    };
    let Ok(key) = DecodingKey::from_jwk(jwk) else {
        return false;
    };
    let signature = URL_SAFE_NO_PAD.encode(&raw.signature);
    jsonwebtoken::crypto::verify(&signature, raw.signing_input.as_bytes(), &key, alg).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::keys::tests::{fixture, test_app_key};
    use serde_json::json;

    #[test]
    fn signs_any_shape_and_verifies() {
        let key = test_app_key();
        let token = sign(&json!({"alg": "RS512", "kid": "k"}), &json!({"exp": "300"}), &key).expect("sign");
        let raw = decode_unverified(token.expose()).expect("decode");
        assert_eq!(raw.claims["exp"], "300");
        assert!(raw.header.get("typ").is_none());
        assert!(verify(&raw, &key.jwk()));
        let other = SigningKey::from_pem_file(fixture("unregistered-private-key.pem"), "k").expect("key");
        assert!(!verify(&raw, &other.jwk()));
    }

    #[test]
    fn hs256_header_is_signed_rs512_and_never_verifies() {
        let key = test_app_key();
        let token = sign(&json!({"alg": "HS256"}), &json!({}), &key).expect("sign");
        let raw = decode_unverified(token.expose()).expect("decode");
        assert_eq!(raw.header["alg"], "HS256");
        assert!(!verify(&raw, &key.jwk()));
    }

    #[test]
    fn rs256_header_is_signed_rs256() {
        let key = test_app_key();
        let token = sign(&json!({"alg": "RS256"}), &json!({"a": 1}), &key).expect("sign");
        let raw = decode_unverified(token.expose()).expect("decode");
        assert!(verify(&raw, &key.jwk()));
    }

    #[test]
    fn malformed_tokens_say_why() {
        for (token, why) in [
            ("not.a.jwt", "not base64url"),
            ("bm90.e30.", "header is not JSON"),
            ("e30.e30.***", "signature is not"),
            ("abc", "1 dot-separated"),
            ("e30.e30", "2 dot-separated"),
        ] {
            let e = decode_unverified(token).expect_err("malformed");
            assert!(e.to_string().contains(why), "{token}: {e}");
        }
        assert!(decode_unverified("e30.e30.").is_ok());
        assert!(decode_unverified("WzFd.e30.").is_err());
    }
}
