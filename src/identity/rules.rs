//! The identity service's checks, as pure functions, **in the order of the reference's tables**:
//! §10.1 rows 1–21 for client assertions and §10.2 for subject tokens. The mock answers with them; the
//! `token` tools use [`inspect_client_assertion`] to list everything wrong with an assertion at once.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;

use super::apps::{App, AppRegistry, JwksSource};
use super::assertion::CLIENT_ASSERTION_TYPE;
use super::jwt::{self, RawJwt};
use super::texts::OAuthError;

/// How long a used `jti` is remembered (reference §10.1 row 13: 30 days).
pub const JTI_TTL_SECONDS: i64 = 30 * 24 * 3600;
/// The furthest future `exp` accepted (row 14: 5 min + 10 s grace).
pub const MAX_EXP_AHEAD_SECONDS: i64 = 310;

/// A decoded `application/x-www-form-urlencoded` body, in order; the first of repeated names wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Decoded by `form_urlencoded` as the service's form parser does: `&`-separated, empty pairs skipped, a
    /// pair without `=` an empty value, `+` a space, bad percent escapes and bytes kept (lossy UTF-8).
    pub fn parse(body: &[u8]) -> Self {
        Self { pairs: form_urlencoded::parse(body).into_owned().collect() }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { pairs: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Sets `name` (replacing every earlier value) at the position of its first occurrence.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.pairs.iter().position(|(k, _)| k == name) {
            Some(i) => {
                self.pairs[i].1 = value.to_owned();
                let mut seen = false;
                self.pairs.retain(|(k, _)| k != name || !std::mem::replace(&mut seen, true));
            }
            None => self.pairs.push((name.to_owned(), value.to_owned())),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.pairs.retain(|(k, _)| k != name);
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The urlencoded body (`form_urlencoded`: unreserved `*-._`, a space as `+`).
    pub fn encode(&self) -> String {
        form_urlencoded::Serializer::new(String::new()).extend_pairs(&self.pairs).finish()
    }
}

/// The replay cache of row 13: `sub`+`jti` → when the entry lapses.
#[derive(Debug, Default)]
pub struct JtiCache {
    seen: Mutex<HashMap<(String, String), DateTime<Utc>>>,
}

impl JtiCache {
    pub fn contains(&self, sub: &str, jti: &str, now: DateTime<Utc>) -> bool {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(&(sub.to_owned(), jti.to_owned())).is_some_and(|until| *until > now)
    }

    pub fn remember(&self, sub: &str, jti: &str, now: DateTime<Utc>) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.retain(|_, until| *until > now);
        seen.insert((sub.to_owned(), jti.to_owned()), now + Duration::seconds(JTI_TTL_SECONDS));
    }
}

/// What the checks need from the service.
pub struct CheckContext<'a> {
    pub now: DateTime<Utc>,
    /// The exact token URL (`aud` of client assertions).
    pub token_url: &'a str,
    pub apps: &'a AppRegistry,
    pub jti_cache: &'a JtiCache,
    /// The only accepted `iss` of subject tokens.
    pub cis2_issuer: &'a str,
    pub cis2_jwks: &'a JwkSet,
    /// Fetches an app's JWKS by URL; `Err` means unreachable (row 17).
    pub fetch_jwks: &'a dyn Fn(&str) -> Result<JwkSet, ()>,
}

/// A client assertion that passed rows 2–16: the app is known and has keys; rows 17–20 remain.
#[derive(Debug)]
pub struct PendingAssertion<'a> {
    pub app: &'a App,
    pub raw: RawJwt,
}

impl PendingAssertion<'_> {
    /// The URL to fetch the app's JWKS from, when it is registered by URL.
    pub fn jwks_url(&self) -> Option<&str> {
        match &self.app.jwks {
            JwksSource::Url(u) => Some(u),
            _ => None,
        }
    }
}

/// JavaScript truthiness of a JSON field (`!x` in the Apigee validators).
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(_) => true,
    }
}

/// JavaScript's `ToNumber` of a JSON value, as `jwtPayload.exp * 1000` applies it: `undefined` and objects are
/// NaN, `null`/`false`/`""` are 0, `true` is 1, a string is trimmed and read as a decimal, `0x`/`0o`/`0b` or
/// `Infinity` literal, an array is its elements joined by `,` (`[]` → `""` → 0, `[5]` → 5).
pub fn js_to_number(v: Option<&Value>) -> f64 {
    match v {
        None => f64::NAN,
        Some(Value::Null) => 0.0,
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(Value::String(s)) => js_string_to_number(s),
        Some(Value::Array(items)) => js_string_to_number(&js_join(items)),
        Some(Value::Object(_)) => f64::NAN,
    }
}

fn js_join(items: &[Value]) -> String {
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(inner) => js_join(inner),
        Value::Object(_) => "[object Object]".to_owned(),
        other => other.to_string(),
    };
    items.iter().map(text).collect::<Vec<_>>().join(",")
}

fn js_string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return 0.0;
    }
    let radix = |prefix: &[&str], radix: u32| {
        prefix
            .iter()
            .find_map(|p| t.strip_prefix(p))
            .map(|digits| u128::from_str_radix(digits, radix).map_or(f64::NAN, |n| n as f64))
    };
    if let Some(n) = radix(&["0x", "0X"], 16).or_else(|| radix(&["0o", "0O"], 8)).or_else(|| radix(&["0b", "0B"], 2)) {
        return n;
    }
    match t.strip_prefix(['+', '-']).unwrap_or(t) {
        "Infinity" => return if t.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY },
        // Rust's float parser also takes "inf", "nan" and the like, which JavaScript does not.
        body if !body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) => {
            return f64::NAN
        }
        _ => {}
    }
    t.parse::<f64>().unwrap_or(f64::NAN)
}

/// `new Date() > new Date(exp * 1000)` at `now_s` (seconds): an invalid date (NaN, infinite, or beyond
/// ±8.64e15 ms) compares false.
pub fn js_expired(exp: Option<&Value>, now_s: f64) -> bool {
    let ms = js_to_number(exp) * 1000.0;
    ms.is_finite() && ms.abs() <= 8.64e15 && now_s * 1000.0 > ms.trunc()
}

/// Rows 4–12 and 14 that `raw` breaks when judged at `now` (row 13 needs the cache), in table order.
fn claim_findings(raw: &RawJwt, now: DateTime<Utc>) -> Vec<(u8, OAuthError)> {
    let (h, c) = (&raw.header, &raw.claims);
    let now_s = now.timestamp() as f64;
    let exp = c.get("exp");
    let exp_num = exp.and_then(Value::as_f64);
    let mut out = vec![];
    if h.get("alg").and_then(Value::as_str) != Some("RS512") {
        out.push((4, OAuthError::invalid_alg()));
    }
    // `new Date() > new Date(jwtPayload.exp * 1000)`, before the type checks: JavaScript turns a numeric
    // string (or null, false, "") into a number, so `"300"` has expired in 1970.
    if js_expired(exp, now_s) {
        out.push((5, OAuthError::assertion_expired()));
    }
    if !truthy(h.get("kid")) {
        out.push((6, OAuthError::missing_kid()));
    }
    if !h.get("typ").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("jwt")) {
        out.push((7, OAuthError::invalid_typ()));
    }
    if !truthy(exp) {
        out.push((8, OAuthError::missing_exp()));
    } else if exp_num.is_none() {
        out.push((9, OAuthError::exp_not_integer()));
    }
    let (iss, sub) = (c.get("iss"), c.get("sub"));
    if !truthy(iss) || !truthy(sub) || iss != sub {
        out.push((10, OAuthError::iss_sub_mismatch()));
    }
    match c.get("jti") {
        None | Some(Value::Null) => out.push((11, OAuthError::missing_jti())),
        Some(Value::String(_)) => {}
        Some(_) => out.push((12, OAuthError::jti_not_string())),
    }
    if exp_num.is_some_and(|e| e - now_s > MAX_EXP_AHEAD_SECONDS as f64) {
        out.push((14, OAuthError::exp_too_far()));
    }
    out
}

fn json_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Rows 2–16 of §10.1 (row 1 is the caller's: it differs per grant). Stores `sub`+`jti` in the replay
/// cache after row 14 and before row 15.
pub fn check_assertion_claims<'a>(form: &Form, ctx: &CheckContext<'a>) -> Result<PendingAssertion<'a>, OAuthError> {
    let token = match form.get("client_assertion") {
        None | Some("") => return Err(OAuthError::missing_client_assertion()),
        Some(t) => t,
    };
    let raw = jwt::decode_unverified(token).map_err(|_| OAuthError::malformed_client_assertion())?;
    let findings = claim_findings(&raw, ctx.now);
    if let Some((_, e)) = findings.iter().find(|(row, _)| *row <= 12) {
        return Err(e.clone());
    }
    let sub = json_text(raw.claims.get("sub"));
    let jti = json_text(raw.claims.get("jti"));
    if ctx.jti_cache.contains(&sub, &jti, ctx.now) {
        return Err(OAuthError::jti_reused());
    }
    if let Some((_, e)) = findings.into_iter().find(|(row, _)| *row == 14) {
        return Err(e);
    }
    ctx.jti_cache.remember(&sub, &jti, ctx.now);
    let app = raw.claim_str("iss").and_then(|k| ctx.apps.by_api_key(k)).ok_or_else(OAuthError::unknown_iss_sub)?;
    if !app.approved {
        return Err(OAuthError::app_not_approved());
    }
    if app.jwks == JwksSource::None {
        return Err(OAuthError::no_public_key());
    }
    Ok(PendingAssertion { app, raw })
}

/// Rows 17–20 of §10.1: the JWKS (fetched or inline), `aud`, `kid`, signature.
pub fn check_assertion_keys<'a>(
    pending: &PendingAssertion<'a>,
    jwks: Result<&JwkSet, ()>,
    ctx: &CheckContext<'_>,
) -> Result<&'a App, OAuthError> {
    let jwks = jwks.map_err(|_| OAuthError::jwks_unreachable())?;
    if !aud_matches(pending.raw.claims.get("aud"), ctx.token_url) {
        return Err(OAuthError::invalid_aud());
    }
    let jwk = pending.raw.header_str("kid").and_then(|k| jwks.find(k)).ok_or_else(OAuthError::no_matching_kid)?;
    if !jwt::verify(&pending.raw, jwk) {
        return Err(OAuthError::signature_failed());
    }
    Ok(pending.app)
}

fn aud_matches(aud: Option<&Value>, token_url: &str) -> bool {
    match aud {
        Some(Value::String(s)) => s == token_url,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(token_url)),
        _ => false,
    }
}

/// The app's JWKS: inline, or through `ctx.fetch_jwks`.
fn resolve_jwks(app: &App, ctx: &CheckContext<'_>) -> Result<JwkSet, ()> {
    match &app.jwks {
        JwksSource::Inline(set) => Ok(set.clone()),
        JwksSource::Url(url) => (ctx.fetch_jwks)(url),
        JwksSource::None => Err(()),
    }
}

/// Rows 2–20 (the client-assertion part shared by client credentials and token exchange).
pub fn check_client_assertion_signature<'a>(form: &Form, ctx: &CheckContext<'a>) -> Result<&'a App, OAuthError> {
    let pending = check_assertion_claims(form, ctx)?;
    let jwks = resolve_jwks(pending.app, ctx);
    check_assertion_keys(&pending, jwks.as_ref().map_err(|_| ()), ctx)
}

/// Row 1: `client_assertion_type`.
pub fn check_client_assertion_type(form: &Form) -> Result<(), OAuthError> {
    if form.get("client_assertion_type") == Some(CLIENT_ASSERTION_TYPE) {
        Ok(())
    } else {
        Err(OAuthError::invalid_client_assertion_type())
    }
}

/// Row 21: the app's application-restricted scopes, or `unauthorized_client`.
pub fn level3_scopes(app: &App) -> Result<Vec<String>, OAuthError> {
    let scopes = app.level3_products();
    if scopes.is_empty() {
        Err(OAuthError::unauthorized_client())
    } else {
        Ok(scopes)
    }
}

/// The §10.2 scope filter: the app's `:aal<N>:` products, or `unauthorized_client`.
pub fn user_scopes(app: &App, aal: Option<u64>) -> Result<Vec<String>, OAuthError> {
    let scopes = aal.and_then(|a| u8::try_from(a).ok()).map(|a| app.aal_products(a)).unwrap_or_default();
    if scopes.is_empty() {
        Err(OAuthError::unauthorized_client())
    } else {
        Ok(scopes)
    }
}

/// Every row of §10.1 (1–21) for a client-credentials form, first failure wins.
pub fn check_client_assertion<'a>(form: &Form, ctx: &CheckContext<'a>) -> Result<&'a App, OAuthError> {
    check_client_assertion_type(form)?;
    let app = check_client_assertion_signature(form, ctx)?;
    level3_scopes(app)?;
    Ok(app)
}

/// The claims of an accepted subject token (§10.2).
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectClaims {
    pub sub: String,
    pub iss: String,
    /// `authentication_assurance_level`, when it is a number.
    pub aal: Option<u64>,
    pub acr: Option<String>,
    pub selected_roleid: Option<String>,
    pub claims: Value,
}

/// The §10.2 subject-token checks, in the reference's table order (after the client-assertion rows).
pub fn check_subject_token(form: &Form, ctx: &CheckContext<'_>) -> Result<SubjectClaims, OAuthError> {
    let token = match form.get("subject_token") {
        None | Some("") => return Err(OAuthError::missing_subject_token()),
        Some(t) => t,
    };
    let raw = jwt::decode_unverified(token).map_err(|_| OAuthError::malformed_subject_token())?;
    let (h, c) = (&raw.header, &raw.claims);
    if !truthy(h.get("kid")) {
        return Err(OAuthError::subject_missing_kid());
    }
    if !h.get("typ").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("jwt")) {
        return Err(OAuthError::subject_invalid_typ());
    }
    if !truthy(h.get("alg")) {
        return Err(OAuthError::subject_missing_alg());
    }
    if !truthy(c.get("exp")) {
        return Err(OAuthError::subject_missing_exp());
    }
    let Some(exp) = c.get("exp").and_then(Value::as_f64) else {
        return Err(OAuthError::subject_exp_not_integer());
    };
    if ctx.now.timestamp() as f64 > exp {
        return Err(OAuthError::subject_expired());
    }
    if !truthy(c.get("iss")) {
        return Err(OAuthError::subject_missing_iss());
    }
    if !truthy(c.get("aud")) {
        return Err(OAuthError::subject_missing_aud());
    }
    let iss = json_text(c.get("iss"));
    if iss != ctx.cis2_issuer {
        return Err(OAuthError::subject_invalid_iss());
    }
    let jwk =
        raw.header_str("kid").and_then(|k| ctx.cis2_jwks.find(k)).ok_or_else(OAuthError::subject_no_matching_kid)?;
    let alg_ok = matches!(raw.header_str("alg"), Some("RS256" | "RS512"));
    if !alg_ok || !jwt::verify(&raw, jwk) {
        return Err(OAuthError::signature_failed());
    }
    Ok(SubjectClaims {
        sub: json_text(c.get("sub")),
        iss,
        aal: c.get("authentication_assurance_level").and_then(Value::as_u64),
        acr: raw.claim_str("acr").map(str::to_owned),
        selected_roleid: raw.claim_str("selected_roleid").map(str::to_owned),
        claims: raw.claims.clone(),
    })
}

/// One rule a client assertion breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The §10.1 row.
    pub row: u8,
    pub error: OAuthError,
}

/// Every §10.1 rule `token` breaks, in row order, judged at `now + skew` (`skew`: how far the server's
/// clock is ahead of `now`). Rows that need the service's state are left out: 1–2 (form), 13 (replay
/// cache), 15–17 (app registry) and 21 (products); 19–20 only when `jwks` is given. A token that does not
/// decode gives row 3 alone.
pub fn inspect_client_assertion(
    token: &str,
    now: DateTime<Utc>,
    skew: Duration,
    expected_aud: &str,
    jwks: Option<&JwkSet>,
) -> Vec<Finding> {
    let Ok(raw) = jwt::decode_unverified(token) else {
        return vec![Finding { row: 3, error: OAuthError::malformed_client_assertion() }];
    };
    let mut out: Vec<Finding> =
        claim_findings(&raw, now + skew).into_iter().map(|(row, error)| Finding { row, error }).collect();
    if !aud_matches(raw.claims.get("aud"), expected_aud) {
        out.push(Finding { row: 18, error: OAuthError::invalid_aud() });
    }
    if let Some(set) = jwks {
        match raw.header_str("kid").and_then(|k| set.find(k)) {
            None => out.push(Finding { row: 19, error: OAuthError::no_matching_kid() }),
            Some(jwk) if !jwt::verify(&raw, jwk) => {
                out.push(Finding { row: 20, error: OAuthError::signature_failed() })
            }
            Some(_) => {}
        }
    }
    out
}

/// The §10.2 subject-token checks [`check_subject_token`] makes, in its order, by name: `(check, row)`.
pub const SUBJECT_TOKEN_CHECKS: &[(&str, u8)] = &[
    ("decodes as a JWT", 1),
    ("header kid present", 2),
    ("header typ is JWT", 3),
    ("header alg present", 4),
    ("exp present", 5),
    ("exp is a number", 6),
    ("not expired", 7),
    ("iss present", 8),
    ("aud present", 9),
    ("iss is the CIS2 issuer", 10),
    ("kid in the CIS2 JWKS", 11),
    ("alg RS256/RS512 and signature valid", 12),
];

/// Every §10.2 subject-token (CIS2 id_token) check `token` breaks, numbered as in [`SUBJECT_TOKEN_CHECKS`], judged
/// at `now + skew` like [`check_subject_token`] (which stops at the first). The issuer check only with
/// `expected_issuer`, the key and signature checks only with `jwks`. A token that does not decode gives check 1 alone.
pub fn inspect_subject_token(
    token: &str,
    now: DateTime<Utc>,
    skew: Duration,
    expected_issuer: Option<&str>,
    jwks: Option<&JwkSet>,
) -> Vec<Finding> {
    let Ok(raw) = jwt::decode_unverified(token) else {
        return vec![Finding { row: 1, error: OAuthError::malformed_subject_token() }];
    };
    let (h, c) = (&raw.header, &raw.claims);
    let mut out = Vec::new();
    let mut fail = |row: u8, error: OAuthError| out.push(Finding { row, error });
    if !truthy(h.get("kid")) {
        fail(2, OAuthError::subject_missing_kid());
    }
    if !h.get("typ").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("jwt")) {
        fail(3, OAuthError::subject_invalid_typ());
    }
    if !truthy(h.get("alg")) {
        fail(4, OAuthError::subject_missing_alg());
    }
    let exp = c.get("exp").and_then(Value::as_f64);
    if !truthy(c.get("exp")) {
        fail(5, OAuthError::subject_missing_exp());
    } else if exp.is_none() {
        fail(6, OAuthError::subject_exp_not_integer());
    }
    if exp.is_some_and(|e| (now + skew).timestamp() as f64 > e) {
        fail(7, OAuthError::subject_expired());
    }
    if !truthy(c.get("iss")) {
        fail(8, OAuthError::subject_missing_iss());
    }
    if !truthy(c.get("aud")) {
        fail(9, OAuthError::subject_missing_aud());
    }
    if expected_issuer.is_some_and(|issuer| json_text(c.get("iss")) != issuer) {
        fail(10, OAuthError::subject_invalid_iss());
    }
    if let Some(set) = jwks {
        match raw.header_str("kid").and_then(|k| set.find(k)) {
            None => fail(11, OAuthError::subject_no_matching_kid()),
            Some(jwk) => {
                if !matches!(raw.header_str("alg"), Some("RS256" | "RS512")) || !jwt::verify(&raw, jwk) {
                    fail(12, OAuthError::signature_failed());
                }
            }
        }
    }
    out
}

/// The §10.1 rows [`inspect_client_assertion`] judges, by name: `(check, row)`.
pub const CLIENT_ASSERTION_CHECKS: &[(&str, u8)] = &[
    ("decodes as a JWT", 3),
    ("header alg is RS512", 4),
    ("not expired", 5),
    ("header kid present", 6),
    ("header typ is JWT", 7),
    ("exp present", 8),
    ("exp is a number", 9),
    ("iss and sub present and equal", 10),
    ("jti present", 11),
    ("jti is a string", 12),
    ("exp at most 5 minutes ahead", 14),
    ("aud is the token URL", 18),
    ("kid in the app's JWKS", 19),
    ("signature valid", 20),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::apps::tests::fixture_apps;
    use crate::identity::assertion::{self, AssertionSpec, Claim, Defect};
    use crate::identity::id_token::{self, IdTokenSpec, ID_TOKEN_TYPE};
    use crate::identity::keys::tests::{fixture, test_app_key};
    use crate::identity::keys::{self, SigningKey};
    use crate::identity::personas::tests::fixture_personas;
    use crate::secret::Secret;
    use serde_json::json;

    const TOKEN_URL: &str = "http://mock/oauth2/token";
    const ISSUER: &str = "http://mock/mock-cis2";

    struct World {
        apps: AppRegistry,
        cache: JtiCache,
        cis2: SigningKey,
        cis2_jwks: JwkSet,
        now: DateTime<Utc>,
    }

    fn world() -> World {
        let cis2 = SigningKey::from_pem_file(fixture("mock-cis2-private-key.pem"), "mock-cis2-1").expect("cis2 key");
        let cis2_jwks = keys::jwks(&[&cis2]);
        let mut apps = fixture_apps();
        apps.resolve_origin("http://mock");
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        World { apps, cache: JtiCache::default(), cis2, cis2_jwks, now }
    }

    fn fetch_ok(url: &str) -> Result<JwkSet, ()> {
        if url == "http://mock/mock-apps/scr-assure-test/jwks.json" {
            Ok(keys::jwks(&[&test_app_key()]))
        } else {
            Err(())
        }
    }

    impl World {
        fn ctx(&self) -> CheckContext<'_> {
            CheckContext {
                now: self.now,
                token_url: TOKEN_URL,
                apps: &self.apps,
                jti_cache: &self.cache,
                cis2_issuer: ISSUER,
                cis2_jwks: &self.cis2_jwks,
                fetch_jwks: &fetch_ok,
            }
        }

        fn spec(&self, app: &str) -> AssertionSpec {
            let key = self.apps.by_name(app).map(|a| a.api_key.clone()).unwrap_or_else(|| Secret::new(app));
            AssertionSpec::new(key, "scr-assure-test-1", TOKEN_URL, self.now)
        }

        fn form(&self, spec: &AssertionSpec, key: &SigningKey) -> Form {
            let a = assertion::mint(spec, key).expect("mint");
            Form::from_pairs([
                ("grant_type", "client_credentials"),
                ("client_assertion_type", CLIENT_ASSERTION_TYPE),
                ("client_assertion", a.0.expose()),
            ])
        }

        fn check(&self, spec: &AssertionSpec) -> Result<String, OAuthError> {
            check_client_assertion(&self.form(spec, &test_app_key()), &self.ctx()).map(|a| a.name.clone())
        }
    }

    fn expect_row(result: Result<String, OAuthError>, row: u8) {
        let expected = OAuthError::client_assertion_row(row).expect("row");
        assert_eq!(result, Err(expected), "row {row}");
    }

    #[test]
    fn default_assertion_is_accepted() {
        let w = world();
        assert_eq!(w.check(&w.spec("scr-assure-test")), Ok("scr-assure-test".into()));
        assert_eq!(w.check(&w.spec("scr-assure-jwks-by-url")), Ok("scr-assure-jwks-by-url".into()));
    }

    #[test]
    fn rows_1_to_3_form_and_decoding() {
        let w = world();
        let mut form = w.form(&w.spec("scr-assure-test"), &test_app_key());
        form.remove("client_assertion_type");
        expect_row(check_client_assertion(&form, &w.ctx()).map(|a| a.name.clone()), 1);
        form.set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer");
        expect_row(check_client_assertion(&form, &w.ctx()).map(|a| a.name.clone()), 1);
        form.set("client_assertion_type", CLIENT_ASSERTION_TYPE);
        form.remove("client_assertion");
        expect_row(check_client_assertion(&form, &w.ctx()).map(|a| a.name.clone()), 2);
        form.set("client_assertion", "not.a.jwt");
        expect_row(check_client_assertion(&form, &w.ctx()).map(|a| a.name.clone()), 3);
    }

    #[test]
    fn every_claim_row_with_its_text() {
        let w = world();
        let cases: Vec<(u8, Vec<Defect>, i64)> = vec![
            (4, vec![Defect::Alg("RS256".into())], 300),
            (4, vec![Defect::Alg("HS256".into())], 300),
            (4, vec![Defect::Alg("PS512".into())], 300),
            (4, vec![Defect::Omit(Claim::Alg)], 300),
            (5, vec![], -1),
            (6, vec![Defect::Omit(Claim::Kid)], 300),
            (7, vec![Defect::Omit(Claim::Typ)], 300),
            (7, vec![Defect::Typ("JWS".into())], 300),
            (8, vec![Defect::Omit(Claim::Exp)], 300),
            (5, vec![Defect::ExpValue(json!("300"))], 300),
            (5, vec![Defect::ExpValue(json!(null))], 300),
            (5, vec![Defect::ExpValue(json!(""))], 300),
            (9, vec![Defect::ExpAsString], 300),
            (9, vec![Defect::ExpValue(json!("soon"))], 300),
            (5, vec![Defect::ExpValue(json!(0))], 300),
            (5, vec![Defect::ExpValue(json!([]))], 300),
            (9, vec![Defect::ExpValue(json!({}))], 300),
            (10, vec![Defect::Omit(Claim::Iss)], 300),
            (10, vec![Defect::Omit(Claim::Sub)], 300),
            (10, vec![Defect::Sub("other".into())], 300),
            (11, vec![Defect::Omit(Claim::Jti)], 300),
            (12, vec![Defect::JtiValue(json!(42))], 300),
            (14, vec![], 311),
            (15, vec![Defect::Iss("nobody".into()), Defect::Sub("nobody".into())], 300),
            (18, vec![Defect::Aud("https://int.api.service.nhs.uk/oauth2/token".into())], 300),
            (18, vec![Defect::Omit(Claim::Aud)], 300),
            (19, vec![Defect::Kid("other".into())], 300),
        ];
        for (row, defects, exp_in) in cases {
            let mut spec = w.spec("scr-assure-test");
            spec.defects = defects.clone();
            spec.exp_in_seconds = exp_in;
            let got = w.check(&spec);
            assert_eq!(got, Err(OAuthError::client_assertion_row(row).expect("row")), "row {row} {defects:?}");
        }
    }

    #[test]
    fn rows_13_16_17_20_21() {
        let w = world();
        let mut spec = w.spec("scr-assure-test");
        spec.defects = vec![Defect::Jti("fixed-jti".into())];
        assert!(w.check(&spec).is_ok());
        expect_row(w.check(&spec), 13);
        // Another client may use the same jti: the cache is keyed on sub+jti.
        let mut other = w.spec("scr-assure-no-level3");
        other.defects = vec![Defect::Jti("fixed-jti".into())];
        expect_row(w.check(&other), 21);
        expect_row(w.check(&w.spec("scr-assure-no-key")), 16);
        expect_row(w.check(&w.spec("scr-assure-unreachable-jwks")), 17);
        let unregistered = SigningKey::from_pem_file(fixture("unregistered-private-key.pem"), "scr-assure-test-1")
            .expect("unregistered key");
        let form = w.form(&w.spec("scr-assure-test"), &unregistered);
        expect_row(check_client_assertion(&form, &w.ctx()).map(|a| a.name.clone()), 20);
    }

    #[test]
    fn skew_boundaries() {
        let w = world();
        for (exp_in, skew, ok) in [(0, 0, true), (300, 0, true), (310, 0, true), (311, 0, false), (-1, 0, false)] {
            let mut spec = w.spec("scr-assure-test");
            spec.exp_in_seconds = exp_in;
            spec.skew_seconds = skew;
            assert_eq!(w.check(&spec).is_ok(), ok, "exp_in {exp_in}");
        }
        let mut fast = w.spec("scr-assure-test");
        fast.skew_seconds = 15;
        expect_row(w.check(&fast), 14);
        let mut slow = w.spec("scr-assure-test");
        slow.skew_seconds = -301;
        expect_row(w.check(&slow), 5);
    }

    #[test]
    fn exp_is_read_as_javascript_reads_it() {
        let n = |v: Value| js_to_number(Some(&v));
        assert_eq!(n(json!("300")), 300.0);
        assert_eq!(n(json!(" 1.5e3 ")), 1500.0);
        assert_eq!(n(json!("0x10")), 16.0);
        assert_eq!(n(json!("")), 0.0);
        assert_eq!(n(json!(null)), 0.0);
        assert_eq!(n(json!(true)), 1.0);
        assert_eq!(n(json!([7])), 7.0);
        assert!(n(json!([1, 2])).is_nan() && n(json!({})).is_nan() && n(json!("inf")).is_nan());
        assert!(n(json!("12abc")).is_nan() && js_to_number(None).is_nan());
        assert_eq!(n(json!("-Infinity")), f64::NEG_INFINITY);
        let now = 1_700_000_000.0;
        assert!(js_expired(Some(&json!("1699999999")), now), "a past numeric string has expired");
        assert!(!js_expired(Some(&json!("1700000300")), now), "a future one has not");
        assert!(!js_expired(Some(&json!("Infinity")), now), "an invalid date compares false");
        assert!(!js_expired(Some(&json!(1e13)), now), "beyond the Date range compares false");
        assert!(!js_expired(None, now));
    }

    #[test]
    fn order_quirks() {
        let w = world();
        // An expired JWT with a wrong aud reports row 5: aud is checked after the claims.
        let mut spec = w.spec("scr-assure-test");
        spec.exp_in_seconds = -10;
        spec.defects = vec![Defect::Aud("x".into())];
        expect_row(w.check(&spec), 5);
        // The jti is stored before row 15: a retry with the same jti reports row 13.
        let mut unknown = w.spec("nobody");
        unknown.defects = vec![Defect::Jti("j-1".into())];
        expect_row(w.check(&unknown), 15);
        expect_row(w.check(&unknown), 13);
        // ... but not when row 14 fails.
        let mut far = w.spec("scr-assure-test");
        far.exp_in_seconds = 400;
        far.defects = vec![Defect::Jti("j-2".into())];
        expect_row(w.check(&far), 14);
        far.exp_in_seconds = 300;
        assert!(w.check(&far).is_ok());
        // typ is case-insensitive.
        let mut lower = w.spec("scr-assure-test");
        lower.defects = vec![Defect::Typ("jwt".into())];
        assert!(w.check(&lower).is_ok());
    }

    #[test]
    fn jti_cache_forgets_after_30_days() {
        let cache = JtiCache::default();
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        cache.remember("s", "j", now);
        assert!(cache.contains("s", "j", now + Duration::days(29)));
        assert!(!cache.contains("s", "j", now + Duration::days(30)));
        assert!(!cache.contains("other", "j", now));
    }

    fn subject_form(token: &str) -> Form {
        Form::from_pairs([("subject_token_type", ID_TOKEN_TYPE), ("subject_token", token)])
    }

    fn id_token_with(w: &World, persona: &str, defects: Vec<Defect>, exp_in: i64, key: &SigningKey) -> String {
        let personas = fixture_personas();
        let p = personas.get(persona).expect("persona");
        let mut spec = IdTokenSpec::new(p, ISSUER, "c.apps.national", "mock-cis2-1", w.now);
        spec.defects = defects;
        spec.exp_in_seconds = exp_in;
        id_token::mint(&spec, key).expect("mint").0.expose().to_owned()
    }

    #[test]
    fn every_subject_token_row_in_order() {
        let w = world();
        let check = |token: Option<&str>| {
            let form = match token {
                Some(t) => subject_form(t),
                None => Form::from_pairs([("subject_token_type", ID_TOKEN_TYPE)]),
            };
            check_subject_token(&form, &w.ctx())
        };
        assert_eq!(check(None), Err(OAuthError::missing_subject_token()));
        assert_eq!(check(Some("abc")), Err(OAuthError::malformed_subject_token()));
        let unregistered =
            SigningKey::from_pem_file(fixture("unregistered-private-key.pem"), "mock-cis2-1").expect("key");
        let cases: Vec<(Vec<Defect>, i64, OAuthError)> = vec![
            (vec![Defect::Omit(Claim::Kid)], 600, OAuthError::subject_missing_kid()),
            (vec![Defect::Omit(Claim::Typ)], 600, OAuthError::subject_invalid_typ()),
            (vec![Defect::Typ("at+jwt".into())], 600, OAuthError::subject_invalid_typ()),
            (vec![Defect::Omit(Claim::Alg)], 600, OAuthError::subject_missing_alg()),
            (vec![Defect::Omit(Claim::Exp)], 600, OAuthError::subject_missing_exp()),
            (vec![Defect::ExpValue(json!("600"))], 600, OAuthError::subject_exp_not_integer()),
            (vec![], -1, OAuthError::subject_expired()),
            (vec![Defect::Omit(Claim::Iss)], 600, OAuthError::subject_missing_iss()),
            (vec![Defect::Omit(Claim::Aud)], 600, OAuthError::subject_missing_aud()),
            (
                vec![Defect::Iss("https://am.nhsint.auth-ptl.cis2.spineservices.nhs.uk".into())],
                600,
                OAuthError::subject_invalid_iss(),
            ),
            (vec![Defect::Kid("other".into())], 600, OAuthError::subject_no_matching_kid()),
            (vec![Defect::Alg("PS256".into())], 600, OAuthError::signature_failed()),
        ];
        for (defects, exp_in, expected) in cases {
            let token = id_token_with(&w, "single-role", defects.clone(), exp_in, &w.cis2);
            assert_eq!(check(Some(&token)), Err(expected.clone()), "{defects:?}");
            // The inspection lists the same rule (first) as the service answers.
            let found = inspect_subject_token(&token, w.now, Duration::zero(), Some(ISSUER), Some(&w.cis2_jwks));
            assert_eq!(found.first().map(|f| f.error.clone()), Some(expected), "inspect {defects:?}");
        }
        let good = id_token_with(&w, "single-role", vec![], 600, &w.cis2);
        assert_eq!(inspect_subject_token(&good, w.now, Duration::zero(), Some(ISSUER), Some(&w.cis2_jwks)), vec![]);
        let late = inspect_subject_token(&good, w.now, Duration::seconds(601), None, None);
        assert_eq!(late.iter().map(|f| f.row).collect::<Vec<_>>(), vec![7], "a server 601 s ahead sees it expired");
        assert_eq!(inspect_subject_token("abc", w.now, Duration::zero(), None, None)[0].row, 1);
        let forged = id_token_with(&w, "single-role", vec![], 600, &unregistered);
        assert_eq!(check(Some(&forged)), Err(OAuthError::signature_failed()));
        // No leeway but exp == now still passes (the JS compares now > exp).
        let now_exp = id_token_with(&w, "single-role", vec![], 0, &w.cis2);
        assert!(check(Some(&now_exp)).is_ok());
        let rs512 = id_token_with(&w, "selected-role", vec![Defect::Alg("RS512".into())], 600, &w.cis2);
        let claims = check(Some(&rs512)).expect("RS512 accepted");
        assert_eq!((claims.sub.as_str(), claims.aal), ("656005750107", Some(3)));
        assert_eq!(claims.selected_roleid.as_deref(), Some("656014454103"));
    }

    #[test]
    fn scope_filters() {
        let w = world();
        let app = w.apps.by_name("scr-assure-test").expect("app");
        assert_eq!(user_scopes(app, Some(2)).map(|s| s.len()), Ok(1));
        assert_eq!(user_scopes(app, Some(1)), Err(OAuthError::unauthorized_client()));
        assert_eq!(user_scopes(app, None), Err(OAuthError::unauthorized_client()));
        let no3 = w.apps.by_name("scr-assure-no-level3").expect("app");
        assert_eq!(level3_scopes(no3), Err(OAuthError::unauthorized_client()));
    }

    #[test]
    fn inspect_lists_every_violation_in_order() {
        let w = world();
        let mut spec = w.spec("scr-assure-test");
        spec.exp_in_seconds = 400;
        spec.defects = vec![
            Defect::Alg("RS256".into()),
            Defect::Omit(Claim::Typ),
            Defect::Sub("x".into()),
            Defect::Aud("y".into()),
        ];
        let token = assertion::mint(&spec, &test_app_key()).expect("mint");
        let jwks = keys::jwks(&[&test_app_key()]);
        let findings = inspect_client_assertion(token.0.expose(), w.now, Duration::zero(), TOKEN_URL, Some(&jwks));
        let rows: Vec<u8> = findings.iter().map(|f| f.row).collect();
        assert_eq!(rows, vec![4, 7, 10, 14, 18]);
        assert_eq!(findings[0].error.description, OAuthError::invalid_alg().description);
        let good = assertion::mint(&w.spec("scr-assure-test"), &test_app_key()).expect("mint");
        assert!(inspect_client_assertion(good.0.expose(), w.now, Duration::zero(), TOKEN_URL, Some(&jwks)).is_empty());
        // A server 301 s ahead sees it expired.
        let late = inspect_client_assertion(good.0.expose(), w.now, Duration::seconds(301), TOKEN_URL, None);
        assert_eq!(late.iter().map(|f| f.row).collect::<Vec<_>>(), vec![5]);
        let other =
            keys::jwks(&[
                &SigningKey::from_pem_file(fixture("unregistered-private-key.pem"), "scr-assure-test-1").expect("key")
            ]);
        let bad_sig = inspect_client_assertion(good.0.expose(), w.now, Duration::zero(), TOKEN_URL, Some(&other));
        assert_eq!(bad_sig.iter().map(|f| f.row).collect::<Vec<_>>(), vec![20]);
        assert_eq!(inspect_client_assertion("x", w.now, Duration::zero(), TOKEN_URL, None)[0].row, 3);
    }

    #[test]
    fn form_round_trip() {
        let mut f = Form::parse(b"a=1&b=x+y%2Bz&a=2&c");
        assert_eq!((f.get("a"), f.get("b"), f.get("c")), (Some("1"), Some("x y+z"), Some("")));
        f.set("a", "3");
        assert_eq!(f.pairs().iter().filter(|(k, _)| k == "a").count(), 1);
        assert_eq!(Form::parse(f.encode().as_bytes()), f);
    }
}
