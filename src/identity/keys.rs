//! Signing keys (an RSA private key and its `kid`) and the public JWKS built from them.

use std::fmt;
use std::path::Path;

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{what} is not an RSA key in PEM form (PKCS#8 or PKCS#1): {reason}")]
    Pem { what: String, reason: String },
}

/// An RSA private key and the `kid` it is published under. `Debug` never shows the key.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    public: Jwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("key", &crate::secret::REDACTED).finish()
    }
}

impl SigningKey {
    /// A key from PEM bytes; its JWK advertises `RS512`.
    pub fn from_pem(bytes: &[u8], kid: &str) -> Result<Self, KeyError> {
        Self::from_pem_named(bytes, kid, "the key")
    }

    fn from_pem_named(bytes: &[u8], kid: &str, what: &str) -> Result<Self, KeyError> {
        let pem_err = |e: jsonwebtoken::errors::Error| KeyError::Pem { what: what.to_owned(), reason: e.to_string() };
        let encoding = EncodingKey::from_rsa_pem(bytes).map_err(pem_err)?;
        let public = Jwk::from_encoding_key(&encoding, Algorithm::RS512).map_err(pem_err)?;
        Ok(Self { kid: kid.to_owned(), alg: Algorithm::RS512, encoding, public })
    }

    /// A key from a PEM file.
    pub fn from_pem_file(path: impl AsRef<Path>, kid: &str) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let bytes =
            std::fs::read(path).map_err(|source| KeyError::Read { path: path.display().to_string(), source })?;
        Self::from_pem_named(&bytes, kid, &path.display().to_string())
    }

    /// The same key advertising another algorithm in its JWK (the mock CIS2 issuer signs RS256).
    pub fn with_algorithm(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The public part: `kty`, `n`, `e`, with `kid`, `use: sig` and `alg`.
    pub fn jwk(&self) -> Jwk {
        let mut jwk = self.public.clone();
        jwk.common.key_id = Some(self.kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(self.alg.into());
        jwk
    }
}

/// The JWKS publishing these keys.
pub fn jwks(keys: &[&SigningKey]) -> JwkSet {
    JwkSet { keys: keys.iter().map(|k| k.jwk()).collect() }
}

/// The JWK of an RSA public key in PEM form (SubjectPublicKeyInfo or PKCS#1).
pub fn public_jwk_from_pem(bytes: &[u8], kid: &str, what: &str) -> Result<Jwk, KeyError> {
    let pem_err = |e: jsonwebtoken::errors::Error| KeyError::Pem { what: what.to_owned(), reason: e.to_string() };
    let decoding = DecodingKey::from_rsa_pem(bytes).map_err(pem_err)?;
    let mut jwk = Jwk::from_decoding_key(&decoding, Some(Algorithm::RS512)).map_err(pem_err)?;
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(jwk)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/identity").join(name)
    }

    pub fn test_app_key() -> SigningKey {
        SigningKey::from_pem_file(fixture("test-app-private-key.pem"), "scr-assure-test-1").expect("test app key")
    }

    #[test]
    fn jwk_is_public_with_kid_use_and_alg() {
        let key = test_app_key();
        let v = serde_json::to_value(jwks(&[&key])).expect("jwks json");
        let k = &v["keys"][0];
        assert_eq!(k["kid"], "scr-assure-test-1");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["alg"], "RS512");
        assert_eq!(k["kty"], "RSA");
        assert_eq!(k["e"], "AQAB");
        assert!(k.get("d").is_none());
        assert!(!format!("{key:?}").contains("BEGIN"));
    }

    #[test]
    fn bad_pem_is_an_error() {
        let e = SigningKey::from_pem(b"not a key", "x").expect_err("must fail");
        assert!(e.to_string().contains("not an RSA key"));
    }
}
