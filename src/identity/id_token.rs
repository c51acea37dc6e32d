//! CIS2 ID tokens (reference §11) as the mock CIS2 issuer mints them, and as the harness mints them for
//! token exchange (§10.2), with the same [`Defect`]s as client assertions.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::assertion::Defect;
use super::jwt::{self, JwtError};
use super::keys::SigningKey;
use super::personas::Persona;
use crate::secret::Secret;

/// `urn:ietf:params:oauth:token-type:id_token`
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";

/// A signed CIS2 ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdToken(pub Secret);

/// What to put in an ID token.
#[derive(Debug, Clone)]
pub struct IdTokenSpec<'a> {
    pub persona: &'a Persona,
    /// e.g. `<origin>/mock-cis2`
    pub issuer: String,
    /// The CIS2 client id (`aud`, `azp`).
    pub audience: String,
    pub kid: String,
    pub now: DateTime<Utc>,
    pub skew_seconds: i64,
    /// `exp = now + skew + exp_in_seconds` (default 600).
    pub exp_in_seconds: i64,
    pub defects: Vec<Defect>,
}

impl<'a> IdTokenSpec<'a> {
    pub fn new(
        persona: &'a Persona,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        kid: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            persona,
            issuer: issuer.into(),
            audience: audience.into(),
            kid: kid.into(),
            now,
            skew_seconds: 0,
            exp_in_seconds: 600,
            defects: vec![],
        }
    }
}

/// Mints an ID token: header `{alg: RS256, typ: JWT, kid}`, the §11 claims, then the defects.
pub fn mint(spec: &IdTokenSpec<'_>, key: &SigningKey) -> Result<IdToken, JwtError> {
    let iat = spec.now.timestamp() + spec.skew_seconds;
    let p = spec.persona;
    let mut header = Map::new();
    header.insert("alg".into(), json!("RS256"));
    header.insert("typ".into(), json!("JWT"));
    header.insert("kid".into(), json!(spec.kid));
    let mut claims = Map::new();
    for (k, v) in [
        ("sub", json!(p.user_id)),
        ("iss", json!(spec.issuer)),
        ("aud", json!(spec.audience)),
        ("azp", json!(spec.audience)),
        ("exp", json!(iat + spec.exp_in_seconds)),
        ("iat", json!(iat)),
        ("auth_time", json!(iat)),
        ("acr", json!(p.acr())),
        ("amr", json!(if p.aal >= 3 { vec!["N3_SMARTCARD"] } else { vec!["AUTHENTICATOR_APP"] })),
        ("id_assurance_level", json!(3)),
        ("authentication_assurance_level", json!(p.aal)),
        ("tokenName", json!("id_token")),
        ("tokenType", json!("JWTToken")),
        ("realm", json!("/NHSIdentity/Healthcare")),
        ("auditTrackingId", json!(uuid::Uuid::new_v4().to_string())),
    ] {
        claims.insert(k.into(), v);
    }
    if let Some(sel) = &p.selected_roleid {
        claims.insert("selected_roleid".into(), json!(sel));
    }
    for d in &spec.defects {
        d.apply(&mut header, &mut claims);
    }
    jwt::sign(&Value::Object(header), &Value::Object(claims), key).map(IdToken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::assertion::Claim;
    use crate::identity::keys::tests::fixture;
    use crate::identity::personas::tests::fixture_personas;

    #[test]
    fn claims_follow_section_11() {
        let key = SigningKey::from_pem_file(fixture("mock-cis2-private-key.pem"), "mock-cis2-1").expect("key");
        let personas = fixture_personas();
        let p = personas.get("selected-role").expect("persona");
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let mut spec = IdTokenSpec::new(p, "http://x/mock-cis2", "c.apps.national", "mock-cis2-1", now);
        let raw = jwt::decode_unverified(mint(&spec, &key).expect("mint").0.expose()).expect("decode");
        assert_eq!(raw.header["alg"], "RS256");
        assert_eq!(raw.claims["sub"], "656005750107");
        assert_eq!(raw.claims["acr"], "AAL3_ANY");
        assert_eq!(raw.claims["authentication_assurance_level"], 3);
        assert_eq!(raw.claims["exp"], 1_800_000_600);
        assert_eq!(raw.claims["selected_roleid"].as_str(), p.selected_roleid.as_deref());
        assert!(jwt::verify(&raw, &key.jwk()));
        spec.defects = vec![Defect::Omit(Claim::Alg)];
        let raw = jwt::decode_unverified(mint(&spec, &key).expect("mint").0.expose()).expect("decode");
        assert!(raw.header.get("alg").is_none());
        let single = personas.get("single-role").expect("persona");
        let raw =
            jwt::decode_unverified(mint(&IdTokenSpec::new(single, "i", "a", "k", now), &key).expect("mint").0.expose())
                .expect("decode");
        assert!(raw.claims.get("selected_roleid").is_none());
    }
}
