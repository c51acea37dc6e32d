//! The service driven directly (no HTTP), with a fixed clock: what the token store records for the gateway.

use super::*;
use crate::identity::assertion::{self, AssertionSpec};
use crate::identity::client::TokenClient;
use crate::identity::id_token::{self, IdTokenSpec};
use chrono::TimeZone;

const ORIGIN: &str = "http://127.0.0.1:1";

fn service() -> IdentityService {
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().expect("time");
    IdentityService::new(Clock::fixed(start), ORIGIN.into()).expect("identity service loads its fixtures")
}

fn form_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(FORM));
    h
}

async fn post(s: &IdentityService, form: &Form) -> (u16, Value) {
    let r = s.handle(&Method::POST, "/oauth2/token", None, &form_headers(), Bytes::from(form.encode())).await;
    let status = r.status().as_u16();
    let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn assertion(s: &IdentityService) -> crate::identity::assertion::ClientAssertion {
    let apps = s.apps();
    let app = apps.by_name("scr-assure-test").expect("app");
    let spec = AssertionSpec::new(app.api_key.clone(), "scr-assure-test-1", s.token_url(), s.clock.now());
    assertion::mint(&spec, &app.signing_key().expect("key")).expect("mint")
}

fn token_of(body: &Value) -> String {
    body["access_token"].as_str().expect("access_token").to_owned()
}

#[test]
fn lifetimes_are_reported_as_the_nhs_does() {
    assert_eq!(expires_in(600_000), "599");
    assert_eq!(expires_in(43_200_000), "43199");
    assert_eq!(expires_in(60_000), "59");
    assert_eq!(expires_in(500), "0");
    let f = Form::from_pairs([("_access_token_expiry_ms", "1000"), ("_refresh_token_expiry_ms", "x")]);
    assert_eq!(shortened(&f, "_access_token_expiry_ms", ACCESS_TOKEN_MS), 1000);
    assert_eq!(shortened(&f, "_refresh_token_expiry_ms", REFRESH_TOKEN_MS), REFRESH_TOKEN_MS);
    let longer = Form::from_pairs([("_access_token_expiry_ms", "700000"), ("_refresh_tokens_validity_ms", "0")]);
    assert_eq!(shortened(&longer, "_access_token_expiry_ms", ACCESS_TOKEN_MS), ACCESS_TOKEN_MS);
    assert_eq!(shortened(&longer, "_refresh_tokens_validity_ms", REFRESH_TOKENS_VALIDITY_MS), 0);
}

#[tokio::test]
async fn client_credentials_grant_is_app_restricted_and_expires_by_the_clock() {
    let s = service();
    let (status, body) = post(&s, &TokenClient::client_credentials_form(&assertion(&s), &[])).await;
    assert_eq!(status, 200, "{body}");
    let grant = s.introspect(&token_of(&body)).expect("known token");
    assert_eq!(grant.app, "scr-assure-test");
    assert_eq!(grant.api_key.expose(), "scr-assure-test-app-key");
    assert_eq!(grant.asid.as_deref(), Some("200000001162"));
    assert_eq!(grant.scopes, vec!["urn:nhsd:apim:app:level3:summary-care-record"]);
    assert_eq!(grant.mode, AccessMode::AppRestricted);
    assert!(grant.user.is_none());
    assert_eq!(grant.issued_at, s.clock.now());
    assert!(grant.expires_at > s.clock.now());
    s.clock.advance(Duration::seconds(599));
    assert!(grant.expires_at > s.clock.now());
    s.clock.advance(Duration::seconds(1));
    assert!(grant.expires_at <= s.clock.now(), "expired at 600 s");
    assert!(s.introspect("unknown").is_none());
}

#[tokio::test]
async fn token_exchange_grant_carries_the_user() {
    let s = service();
    let persona = s.personas().get("selected-role").expect("persona").clone();
    let spec = IdTokenSpec::new(&persona, s.cis2_issuer(), CIS2_CLIENT_ID, CIS2_KID, s.clock.now());
    let id = id_token::mint(&spec, s.cis2_key()).expect("id token");
    let (status, body) = post(&s, &TokenClient::token_exchange_form(&assertion(&s), &id, &[])).await;
    assert_eq!(status, 200, "{body}");
    let grant = s.introspect(&token_of(&body)).expect("known token");
    assert_eq!(grant.mode, AccessMode::UserRestricted);
    assert_eq!(grant.scopes, vec!["urn:nhsd:apim:user-nhs-id:aal3:summary-care-record"]);
    let user = grant.user.expect("user");
    assert_eq!((user.persona.id.as_str(), user.auth), ("selected-role", AuthKind::Separate));
    assert_eq!(user.selected_roleid.as_deref(), Some("656014454103"));
}

#[tokio::test]
async fn combined_grant_through_authorize_and_login() {
    let s = service();
    let q =
        "response_type=code&client_id=scr-assure-test-app-key&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback&state=xyz";
    let r = s.handle(&Method::GET, "/oauth2/authorize", Some(q), &HeaderMap::new(), Bytes::new()).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let loc = r.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).expect("Location").to_owned();
    let login_query = loc.strip_prefix(&format!("{ORIGIN}/mock-cis2/login?")).expect("login redirect").to_owned();
    let r = s
        .handle(
            &Method::GET,
            "/mock-cis2/login",
            Some(&format!("{login_query}&persona=aal2")),
            &HeaderMap::new(),
            Bytes::new(),
        )
        .await;
    let loc = r.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).expect("Location").to_owned();
    assert!(loc.starts_with("http://127.0.0.1/callback?code="), "{loc}");
    assert!(loc.ends_with("&state=xyz"), "{loc}");
    let code = loc.split("code=").nth(1).and_then(|r| r.split('&').next()).expect("code").to_owned();
    let apps = s.apps();
    let app = apps.by_name("scr-assure-test").expect("app");
    let secret = app.client_secret.as_ref().expect("secret").expose().to_owned();
    let form = Form::from_pairs([
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1/callback"),
        ("client_id", "scr-assure-test-app-key"),
        ("client_secret", secret.as_str()),
    ]);
    let (status, body) = post(&s, &form).await;
    assert_eq!(status, 200, "{body}");
    let grant = s.introspect(&token_of(&body)).expect("known token");
    let user = grant.user.expect("user");
    assert_eq!((user.persona.user_id.as_str(), user.auth), ("656005750109", AuthKind::Combined));
    assert_eq!(grant.scopes, vec!["urn:nhsd:apim:user-nhs-id:aal2:summary-care-record"]);
}
