//! The client lane's mock over real HTTP on 127.0.0.1 (docs/CLIENT.md §2, §3): the traffic journal (what it
//! records, that no secret reaches it, who each request is attributed to through token exchange and refresh,
//! its filters), apps registered at run time and their key rotation, expiring an app's tokens, the identity
//! service's clock offset, and the `unauthorized` fault and faults scoped by app. Time is a fixed clock.

use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::{json, Value};

use scr_assure::clock::Clock;
use scr_assure::identity::assertion::{self, AssertionSpec, ClientAssertion};
use scr_assure::identity::client::{TokenClient, TOKEN_EXCHANGE_GRANT};
use scr_assure::identity::id_token::{self, IdToken, IdTokenSpec};
use scr_assure::identity::keys::{self, SigningKey};
use scr_assure::identity::personas::Personas;
use scr_assure::identity::rules::Form;
use scr_assure::identity::texts::OAuthError;
use scr_assure::mock::traffic::TrafficEntry;
use scr_assure::mock::{self, MockConfig, Profile, RunningMock};
use scr_assure::secret::{fingerprint, Secret};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/identity");
/// The persona whose id_token carries a `selected_roleid` (a token-exchange token needs one at the gateway).
const PERSONA: &str = "selected-role";
const PERSONA_USER: &str = "656005750107";
const SUT_KEY: &str = "sut-api-key-canary-7f3e";
const SUT_SECRET: &str = "sut-client-secret-canary-91ab";
/// A valid (Modulus 11) NHS number, and a seeded one.
const NHS: &str = "9990000018";

struct Env {
    mock: RunningMock,
    clock: Clock,
    http: reqwest::Client,
    personas: Personas,
    cis2_key: SigningKey,
    /// The SUT's key (`sut-1`) and the key it rotates to (`sut-2`).
    sut_key: SigningKey,
    next_key: SigningKey,
    /// The fixture app `scr-assure-test`'s key.
    test_key: SigningKey,
}

fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().unwrap_or_else(|| panic!("valid time"))
}

fn key(file: &str, kid: &str) -> SigningKey {
    SigningKey::from_pem_file(format!("{FIXTURES}/{file}"), kid).unwrap_or_else(|e| panic!("{file}: {e}"))
}

async fn env() -> Env {
    let clock = Clock::fixed(start_time());
    let config = MockConfig { auth: true, clock: clock.clone(), ..MockConfig::loopback(Profile::Stateful) };
    let mock = mock::start(config).await.unwrap_or_else(|e| panic!("mock starts: {e}"));
    Env {
        mock,
        clock,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| panic!("http client: {e}")),
        personas: Personas::load(format!("{FIXTURES}/personas.toml")).unwrap_or_else(|e| panic!("personas: {e}")),
        cis2_key: key("mock-cis2-private-key.pem", "mock-cis2-1"),
        sut_key: key("reference-client-private-key.pem", "sut-1"),
        next_key: key("reference-client-next-private-key.pem", "sut-2"),
        test_key: key("test-app-private-key.pem", "scr-assure-test-1"),
    }
}

fn jwks(keys: &[&SigningKey]) -> Value {
    serde_json::to_value(keys::jwks(keys)).unwrap_or_else(|e| panic!("jwks: {e}"))
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.mock.origin())
    }

    fn token_url(&self) -> String {
        self.url("/oauth2/token")
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body.to_string());
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Registers the SUT's app (`sut`, keys `sut-1`, a client secret).
    async fn register_sut(&self) {
        let body = json!({"name":"sut","apiKey":SUT_KEY,"kid":"sut-1","jwks":jwks(&[&self.sut_key]),"clientSecret":SUT_SECRET});
        let (status, answer) = self.send(Method::POST, "/_admin/apps", Some(body)).await;
        assert_eq!((status, answer), (201, json!({"name":"sut"})));
    }

    fn assertion(&self, api_key: &str, key: &SigningKey, tweak: impl FnOnce(&mut AssertionSpec)) -> ClientAssertion {
        let mut spec = AssertionSpec::new(Secret::new(api_key), key.kid(), self.token_url(), self.clock.now());
        tweak(&mut spec);
        assertion::mint(&spec, key).unwrap_or_else(|e| panic!("mint assertion: {e}"))
    }

    fn sut_assertion(&self) -> ClientAssertion {
        self.assertion(SUT_KEY, &self.sut_key, |_| {})
    }

    fn id_token(&self, tweak: impl FnOnce(&mut IdTokenSpec<'_>)) -> IdToken {
        let persona = self.personas.get(PERSONA).unwrap_or_else(|| panic!("persona {PERSONA}"));
        let issuer = self.url("/mock-cis2");
        let mut spec =
            IdTokenSpec::new(persona, issuer, "scr-assure-mock.apps.national", "mock-cis2-1", self.clock.now());
        tweak(&mut spec);
        id_token::mint(&spec, &self.cis2_key).unwrap_or_else(|e| panic!("mint id token: {e}"))
    }

    async fn post_form(&self, form: &Form) -> (u16, Value) {
        let response = self
            .http
            .post(self.token_url())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form.encode())
            .send()
            .await
            .unwrap_or_else(|e| panic!("token request: {e}"));
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn exchange(&self, assertion: &ClientAssertion, id_token: &IdToken) -> (u16, Value) {
        self.post_form(&TokenClient::token_exchange_form(assertion, id_token, &[])).await
    }

    async fn client_credentials(&self, assertion: &ClientAssertion) -> (u16, Value) {
        self.post_form(&TokenClient::client_credentials_form(assertion, &[])).await
    }

    async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        let form = Form::from_pairs([
            ("grant_type", "refresh_token"),
            ("client_id", SUT_KEY),
            ("client_secret", SUT_SECRET),
            ("refresh_token", refresh_token),
        ]);
        self.post_form(&form).await
    }

    /// `GET DocumentReference` for a patient with a bearer token, and anything more in the query.
    async fn get_scr_id(&self, token: &str, nhs: &str, more_query: &str) -> (u16, String, Value) {
        let url = format!(
            "{}/DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number|{nhs}{more_query}",
            self.mock.base_url()
        );
        let response = self
            .http
            .get(url)
            .bearer_auth(token)
            .header("Accept", "application/fhir+json")
            .send()
            .await
            .unwrap_or_else(|e| panic!("get-scr-id: {e}"));
        let status = response.status().as_u16();
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        (status, content_type, response.json().await.unwrap_or(Value::Null))
    }

    /// The journal's raw text and its entries.
    async fn traffic(&self, query: &str) -> (String, Vec<TrafficEntry>) {
        let response =
            self.http.get(self.url(&format!("/_admin/traffic{query}"))).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status().as_u16(), 200);
        let text = response.text().await.unwrap_or_else(|e| panic!("traffic body: {e}"));
        let entries =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("traffic is Vec<TrafficEntry> ({e}): {text}"));
        (text, entries)
    }
}

fn text_of<'a>(body: &'a Value, member: &str) -> &'a str {
    body[member].as_str().unwrap_or_else(|| panic!("{member} in {body}"))
}

#[track_caller]
fn assert_oauth_error((status, body): &(u16, Value), expected: &OAuthError) {
    assert_eq!(*status, expected.status, "{body}");
    assert_eq!(body["error"], expected.error, "{body}");
    assert_eq!(body["error_description"], expected.description.as_str(), "{body}");
}

#[tokio::test]
async fn the_journal_records_tokens_and_scr_calls_attributed_and_without_secrets() {
    let e = env().await;
    e.register_sut().await;
    let id_token = e.id_token(|_| {});
    let session = fingerprint(id_token.0.expose());
    let assertion = e.sut_assertion();
    let (status, granted) = e.exchange(&assertion, &id_token).await;
    assert_eq!(status, 200, "{granted}");
    let (access1, refresh1) =
        (text_of(&granted, "access_token").to_owned(), text_of(&granted, "refresh_token").to_owned());

    // An SCR call carrying a token in its query too (a client mistake the journal names without keeping).
    let (status, _, body) = e.get_scr_id(&access1, NHS, &format!("&access_token={access1}")).await;
    assert_eq!(status, 200, "{body}");
    let (status, refreshed) = e.refresh(&refresh1).await;
    assert_eq!(status, 200, "{refreshed}");
    let (access2, refresh2) =
        (text_of(&refreshed, "access_token").to_owned(), text_of(&refreshed, "refresh_token").to_owned());
    let (status, _, _) = e.get_scr_id(&access2, NHS, "").await;
    assert_eq!(status, 200);
    // A refused token exchange (its id_token expired) still belongs to its session.
    let stale = e.id_token(|s| s.exp_in_seconds = -1);
    let refused = e.exchange(&e.sut_assertion(), &stale).await;
    assert_oauth_error(&refused, &OAuthError::subject_expired());

    let (raw, entries) = e.traffic("").await;
    for secret in [
        access1.as_str(),
        access2.as_str(),
        refresh1.as_str(),
        refresh2.as_str(),
        assertion.0.expose(),
        id_token.0.expose(),
        stale.0.expose(),
        SUT_KEY,
        SUT_SECRET,
    ] {
        assert!(!raw.contains(secret), "a secret reached the journal: {secret}");
    }
    let ops: Vec<(&str, u16)> = entries.iter().map(|x| (x.operation.as_str(), x.status)).collect();
    assert_eq!(ops, vec![("token", 200), ("get-scr-id", 200), ("token", 200), ("get-scr-id", 200), ("token", 400)]);
    assert_eq!(entries.iter().map(|x| x.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    for entry in &entries {
        assert_eq!(entry.app.as_deref(), Some("sut"), "seq {}", entry.seq);
        if entry.seq < 5 {
            assert_eq!(entry.session.as_deref(), Some(session.as_str()), "seq {}", entry.seq);
        }
        assert_eq!(entry.at, "2026-03-01T09:00:00+00:00");
        assert!(entry.wall.ends_with('Z') && entry.wall.len() == 24, "{}", entry.wall);
        assert!(entry.fault.is_none());
    }
    assert_eq!(entries[4].session, Some(fingerprint(stale.0.expose())), "a refused exchange: the subject token's");

    // The token exchange: the assertion decoded (API key as a fingerprint), what was presented and issued.
    let exchange = &entries[0];
    assert_eq!(exchange.user.as_deref(), Some(PERSONA_USER));
    assert_eq!((exchange.method.as_str(), exchange.path.as_str()), ("POST", "/oauth2/token"));
    assert!(exchange.token.is_none(), "a token request presents no bearer token");
    let record = exchange.token_request.as_ref().unwrap_or_else(|| panic!("token_request"));
    assert_eq!(record.grant_type.as_deref(), Some(TOKEN_EXCHANGE_GRANT));
    let decoded = record.assertion.as_ref().unwrap_or_else(|| panic!("assertion decoded"));
    assert_eq!((decoded.header["alg"].as_str(), decoded.header["kid"].as_str()), (Some("RS512"), Some("sut-1")));
    assert_eq!(decoded.claims["iss"], fingerprint(SUT_KEY));
    assert_eq!(decoded.claims["aud"], e.token_url());
    assert_eq!(record.subject_token.as_deref(), Some(session.as_str()));
    let issued = record.issued.as_ref().unwrap_or_else(|| panic!("issued"));
    assert_eq!(issued.access_token, fingerprint(&access1));
    assert_eq!(issued.refresh_token, Some(fingerprint(&refresh1)));
    assert_eq!(issued.expires_in.as_deref(), Some("599"));
    assert!(record.error.is_none() && record.client_id.is_none());
    let body = exchange.body.as_deref().unwrap_or("");
    // As received (form-encoded by the client), values redacted.
    assert!(body.contains("&client_assertion=[REDACTED]") && body.contains("&subject_token=[REDACTED]"), "{body}");
    assert!(exchange.response_body.as_deref().is_some_and(|b| b.contains("[REDACTED]") && b.contains("599")));

    // The SCR call: token fingerprint, patient, the secret in its query named and redacted.
    let read = &entries[1];
    assert_eq!(read.token, Some(fingerprint(&access1)));
    assert_eq!(read.user.as_deref(), Some(PERSONA_USER));
    assert_eq!(read.patients, vec![NHS.to_owned()]);
    assert_eq!(read.secret_in_query, vec!["access_token".to_owned()]);
    assert!(read.query.as_deref().is_some_and(|q| q.ends_with(&format!("|{NHS}&access_token=[REDACTED]"))));
    assert_eq!(read.header("Authorization"), Some("Bearer [REDACTED]"));
    assert_eq!(read.response_header("content-type"), Some("application/fhir+json"));
    assert!(read.response_body.as_deref().is_some_and(|b| b.contains("\"resourceType\"")));
    assert!(read.token_request.is_none());

    // The refresh continues the session; its access token too.
    let refresh = entries[2].token_request.as_ref().unwrap_or_else(|| panic!("refresh record"));
    assert_eq!(refresh.grant_type.as_deref(), Some("refresh_token"));
    assert_eq!(refresh.refresh_token, Some(fingerprint(&refresh1)));
    assert_eq!(refresh.issued.as_ref().map(|i| i.access_token.clone()), Some(fingerprint(&access2)));
    assert!(refresh.assertion.is_none());
    assert_eq!(entries[2].user.as_deref(), Some(PERSONA_USER));
    assert_eq!(entries[3].token, Some(fingerprint(&access2)));
    assert_eq!(entries[4].token_request.as_ref().and_then(|r| r.error.as_deref()), Some("invalid_request"));

    // Filters.
    let seqs = |v: Vec<TrafficEntry>| v.iter().map(|x| x.seq).collect::<Vec<_>>();
    assert_eq!(seqs(e.traffic(&format!("?session={session}")).await.1), vec![1, 2, 3, 4]);
    assert_eq!(seqs(e.traffic(&format!("?patient={NHS}")).await.1), vec![2, 4]);
    assert_eq!(seqs(e.traffic(&format!("?patient={NHS}&since=2")).await.1), vec![4]);
    assert_eq!(seqs(e.traffic("?app=sut&since=3").await.1), vec![4, 5]);
    assert!(e.traffic("?app=scr-assure-test").await.1.is_empty());
    let (status, _) = e.send(Method::GET, "/_admin/traffic?since=x", None).await;
    assert_eq!(status, 400);
    // Admin calls are not journalled.
    assert_eq!(e.traffic("").await.1.len(), 5);
    e.mock.shutdown().await;
}

#[tokio::test]
async fn apps_register_at_run_time_and_rotate_their_keys() {
    let e = env().await;
    e.register_sut().await;
    let conflicts = [
        json!({"name":"sut","apiKey":"another-key","jwks":jwks(&[&e.sut_key])}),
        json!({"name":"sut-again","apiKey":SUT_KEY,"jwks":jwks(&[&e.sut_key])}),
    ];
    for body in conflicts {
        let (status, answer) = e.send(Method::POST, "/_admin/apps", Some(body)).await;
        assert_eq!(status, 409, "{answer}");
        assert!(!answer.to_string().contains(SUT_KEY));
    }
    let bad = [
        (json!({"name":"x","apiKey":"k","jwks":jwks(&[&e.sut_key]),"colour":"red"}), "'colour'"),
        (json!({"name":"x","jwks":jwks(&[&e.sut_key])}), "'apiKey'"),
        (json!({"apiKey":"k","jwks":jwks(&[&e.sut_key])}), "'name'"),
        (json!({"name":"x","apiKey":"k"}), "'jwks' or 'jwksUrl'"),
        (
            json!({"name":"x","apiKey":"k","jwks":jwks(&[&e.sut_key]),"jwksUrl":"http://127.0.0.1/j"}),
            "'jwks' or 'jwksUrl'",
        ),
        (json!({"name":"x","apiKey":"k","jwks":{"keys":"none"}}), "'jwks'"),
        (json!({"name":"x","apiKey":"k","jwksUrl":"ftp://h/j"}), "'jwksUrl'"),
        (json!({"name":"x","apiKey":"k","kid":"nope","jwks":jwks(&[&e.sut_key])}), "'kid'"),
        (json!({"name":"a/b","apiKey":"k","jwks":jwks(&[&e.sut_key])}), "'name'"),
        (json!({"name":"x","apiKey":"k","jwks":jwks(&[&e.sut_key]),"products":"all"}), "'products'"),
    ];
    for (body, member) in bad {
        let (status, answer) = e.send(Method::POST, "/_admin/apps", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(text_of(&answer, "error").contains(member), "{body}: {answer}");
    }

    // The app's own key works for both flows, with the fixture app's default products.
    let (status, body) = e.exchange(&e.sut_assertion(), &e.id_token(|_| {})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = e.client_credentials(&e.sut_assertion()).await;
    assert_eq!(status, 200, "{body}");
    let (status, published) = e.send(Method::GET, "/mock-apps/sut/jwks.json", None).await;
    assert_eq!((status, published["keys"][0]["kid"].as_str()), (200, Some("sut-1")));

    // Rotation: add the new key, then withdraw the old one.
    let (status, answer) = e.send(Method::PUT, "/_admin/apps/sut/jwks", Some(jwks(&[&e.sut_key, &e.next_key]))).await;
    assert_eq!((status, answer), (200, json!({"name":"sut","kids":["sut-1","sut-2"]})));
    let next = || e.assertion(SUT_KEY, &e.next_key, |_| {});
    assert_eq!(e.client_credentials(&next()).await.0, 200);
    assert_eq!(e.client_credentials(&e.sut_assertion()).await.0, 200);
    let (status, _) = e.send(Method::PUT, "/_admin/apps/sut/jwks", Some(jwks(&[&e.next_key]))).await;
    assert_eq!(status, 200);
    assert_eq!(e.client_credentials(&next()).await.0, 200);
    assert_oauth_error(&e.client_credentials(&e.sut_assertion()).await, &OAuthError::no_matching_kid());
    let (_, published) = e.send(Method::GET, "/mock-apps/sut/jwks.json", None).await;
    assert_eq!(published["keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(published["keys"][0]["kid"], "sut-2");

    // An app registered by URL (here the mock's own copy of sut's keys) is fetched; replacing its keys
    // makes them its own, whatever was fetched before.
    let by_url = json!({"name":"by-url","apiKey":"by-url-key","jwksUrl":"{origin}/mock-apps/sut/jwks.json"});
    assert_eq!(e.send(Method::POST, "/_admin/apps", Some(by_url)).await.0, 201);
    assert_eq!(e.client_credentials(&e.assertion("by-url-key", &e.next_key, |_| {})).await.0, 200);
    let (status, _) = e.send(Method::PUT, "/_admin/apps/by-url/jwks", Some(jwks(&[&e.sut_key]))).await;
    assert_eq!(status, 200);
    assert_eq!(e.client_credentials(&e.assertion("by-url-key", &e.sut_key, |_| {})).await.0, 200);
    assert_oauth_error(
        &e.client_credentials(&e.assertion("by-url-key", &e.next_key, |_| {})).await,
        &OAuthError::no_matching_kid(),
    );

    assert_eq!(e.send(Method::PUT, "/_admin/apps/nobody/jwks", Some(jwks(&[&e.next_key]))).await.0, 404);
    assert_eq!(e.send(Method::PUT, "/_admin/apps/sut/jwks", Some(json!({"keys":[]}))).await.0, 400);
    assert_eq!(e.send(Method::GET, "/_admin/apps", None).await.0, 405);
    e.mock.shutdown().await;
}

#[tokio::test]
async fn expiring_an_apps_tokens_answers_401_and_refresh_still_works() {
    let e = env().await;
    e.register_sut().await;
    let (status, granted) = e.exchange(&e.sut_assertion(), &e.id_token(|_| {})).await;
    assert_eq!(status, 200, "{granted}");
    let access = text_of(&granted, "access_token").to_owned();
    assert_eq!(e.get_scr_id(&access, NHS, "").await.0, 200);
    // Another app's token is not touched.
    let (_, other) = e.client_credentials(&e.assertion("scr-assure-test-app-key", &e.test_key, |_| {})).await;
    let other = text_of(&other, "access_token").to_owned();

    let (status, answer) = e.send(Method::POST, "/_admin/apps/sut/expire-tokens", None).await;
    assert_eq!((status, answer), (200, json!({"expired": 1})));
    let (status, content_type, body) = e.get_scr_id(&access, NHS, "").await;
    assert_eq!((status, content_type.as_str()), (401, "application/json"));
    assert_eq!(body["issue"][0]["details"]["coding"][0]["code"], "ACCESS_DENIED");
    assert_eq!(body["issue"][0]["details"]["coding"][0]["display"], "Access Token expired");
    assert_eq!(e.get_scr_id(&other, NHS, "").await.0, 200);

    let (status, refreshed) = e.refresh(text_of(&granted, "refresh_token")).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(e.get_scr_id(text_of(&refreshed, "access_token"), NHS, "").await.0, 200);
    let (status, answer) = e.send(Method::POST, "/_admin/apps/sut/expire-tokens", None).await;
    assert_eq!((status, answer), (200, json!({"expired": 1})), "only the live token counts");
    assert_eq!(e.send(Method::POST, "/_admin/apps/nobody/expire-tokens", None).await.0, 404);
    e.mock.shutdown().await;
}

#[tokio::test]
async fn the_identity_clock_offset_judges_assertions_and_dates_tokens() {
    let e = env().await;
    let fixture_app = |exp_in: i64| e.assertion("scr-assure-test-app-key", &e.test_key, |s| s.exp_in_seconds = exp_in);
    let (status, answer) = e.send(Method::PUT, "/_admin/identity/clock", Some(json!({"offsetSeconds": 0}))).await;
    assert_eq!((status, answer), (200, json!({"offsetSeconds": 0})));
    let (status, body) = e.client_credentials(&fixture_app(305)).await;
    assert_eq!(status, 200, "exp 305 s ahead is within 5 min + 10 s: {body}");
    assert_eq!(body["issued_at"], start_time().timestamp_millis().to_string());

    let (status, answer) = e.send(Method::PUT, "/_admin/identity/clock", Some(json!({"offsetSeconds": -10}))).await;
    assert_eq!((status, answer), (200, json!({"offsetSeconds": -10})));
    assert_eq!(e.send(Method::GET, "/_admin/identity/clock", None).await.1, json!({"offsetSeconds": -10}));
    assert_oauth_error(&e.client_credentials(&fixture_app(305)).await, &OAuthError::exp_too_far());
    // What it issues is dated by its own clock.
    let (status, body) = e.client_credentials(&fixture_app(300)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issued_at"], (start_time() - Duration::seconds(10)).timestamp_millis().to_string());
    // The SCR backend keeps the mock's clock: a token issued 10 s "early" is still valid at the gateway.
    assert_eq!(e.get_scr_id(text_of(&body, "access_token"), NHS, "").await.0, 200);
    // Ahead instead: an assertion that expired 5 s ago by the NHS clock.
    let (status, _) = e.send(Method::PUT, "/_admin/identity/clock", Some(json!({"offsetSeconds": 10}))).await;
    assert_eq!(status, 200);
    assert_oauth_error(&e.client_credentials(&fixture_app(5)).await, &OAuthError::assertion_expired());

    let (status, answer) = e.send(Method::DELETE, "/_admin/identity/clock", None).await;
    assert_eq!((status, answer), (200, json!({"offsetSeconds": 0})));
    assert_eq!(e.client_credentials(&fixture_app(305)).await.0, 200);
    for bad in [json!({"offsetSeconds": "ten"}), json!({"offset": 1}), json!({"offsetSeconds": 1.5})] {
        assert_eq!(e.send(Method::PUT, "/_admin/identity/clock", Some(bad.clone())).await.0, 400, "{bad}");
    }
    e.mock.shutdown().await;
}

#[tokio::test]
async fn the_unauthorized_fault_answers_as_the_gateway_and_app_scoped_faults_take_only_their_app() {
    let e = env().await;
    e.register_sut().await;
    let token_of = |body: &Value| text_of(body, "access_token").to_owned();
    let sut = token_of(&e.client_credentials(&e.sut_assertion()).await.1);
    let other = token_of(&e.client_credentials(&e.assertion("scr-assure-test-app-key", &e.test_key, |_| {})).await.1);
    // What the gateway answers for a token it does not know.
    let unknown = e.get_scr_id("not-a-token-it-issued", NHS, "").await;
    assert_eq!((unknown.0, unknown.1.as_str()), (401, "application/json"));

    let (status, armed) = e
        .send(
            Method::POST,
            "/_admin/faults",
            Some(json!({"operation":"get-scr-id","fault":"unauthorized","app":"sut"})),
        )
        .await;
    assert_eq!(status, 201, "{armed}");
    let (_, listed) = e.send(Method::GET, "/_admin/faults", None).await;
    assert_eq!(
        (listed["faults"][0]["fault"].as_str(), listed["faults"][0]["app"].as_str()),
        (Some("unauthorized"), Some("sut"))
    );
    assert_eq!(e.get_scr_id(&other, NHS, "").await.0, 200, "another app's request is not taken");
    assert_eq!(e.get_scr_id(&sut, NHS, "").await, unknown, "the gateway's own answer");
    assert_eq!(e.get_scr_id(&sut, NHS, "").await.0, 200, "used up");

    // Token requests are attributed by their assertion's iss.
    let (status, _) = e
        .send(Method::POST, "/_admin/faults", Some(json!({"operation":"token","fault":"server-error","app":"sut"})))
        .await;
    assert_eq!(status, 201);
    assert_eq!(e.client_credentials(&e.assertion("scr-assure-test-app-key", &e.test_key, |_| {})).await.0, 200);
    assert_eq!(e.client_credentials(&e.sut_assertion()).await.0, 500);

    // A streamed answer reaches the client whole and is journalled without its body.
    let slow = json!({"operation":"get-scr-id","fault":"slow-body","chunkDelayMs":0,"chunks":3,"app":"sut"});
    assert_eq!(e.send(Method::POST, "/_admin/faults", Some(slow)).await.0, 201);
    let (status, _, body) = e.get_scr_id(&sut, NHS, "").await;
    assert_eq!((status, body["resourceType"].as_str()), (200, Some("Bundle")));

    let (_, entries) = e.traffic("?app=sut").await;
    let faulted: Vec<(&str, Option<&str>, u16)> = entries
        .iter()
        .filter(|x| x.fault.is_some())
        .map(|x| (x.operation.as_str(), x.fault.as_deref(), x.status))
        .collect();
    assert_eq!(
        faulted,
        vec![
            ("get-scr-id", Some("unauthorized"), 401),
            ("token", Some("server-error"), 500),
            ("get-scr-id", Some("slow-body"), 200)
        ]
    );
    assert!(entries.last().is_some_and(|x| x.response_body.is_none()));
    let unattributed =
        e.traffic("").await.1.into_iter().find(|x| x.token == Some(fingerprint("not-a-token-it-issued")));
    assert!(unattributed.is_some_and(|x| x.app.is_none() && x.user.is_none()));

    for (spec, status) in [
        (json!({"operation":"any","fault":"unauthorized","app":"nobody"}), 400),
        (json!({"operation":"any","fault":"unauthorized","app":7}), 400),
    ] {
        assert_eq!(e.send(Method::POST, "/_admin/faults", Some(spec.clone())).await.0, status, "{spec}");
    }
    e.mock.shutdown().await;
}
