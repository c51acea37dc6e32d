//! The mock identity service over HTTP (reference §10): every row of §10.1, every §10.2 subject-token row,
//! §10.3, §10.4, userinfo, 415/405 and the clock-skew boundaries. Time is a fixed clock the tests advance.

use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::header::{ALLOW, CONTENT_TYPE, LOCATION};
use scr_assure::clock::Clock;
use scr_assure::identity::apps::AppRegistry;
use scr_assure::identity::assertion::{self, AssertionSpec, ClientAssertion, Defect, CLIENT_ASSERTION_TYPE};
use scr_assure::identity::client::{ClientApp, TokenClient, TokenOutcome, TOKEN_EXCHANGE_GRANT};
use scr_assure::identity::id_token::{self, IdToken, IdTokenSpec, ID_TOKEN_TYPE};
use scr_assure::identity::keys::SigningKey;
use scr_assure::identity::personas::Personas;
use scr_assure::identity::rules::Form;
use scr_assure::identity::texts::OAuthError;
use scr_assure::mock::{self, MockConfig, Profile, RunningMock};
use scr_assure::secret::Secret;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/identity");
const REDIRECT: &str = "http://127.0.0.1/callback";

struct Env {
    mock: RunningMock,
    clock: Clock,
    http: reqwest::Client,
    client: TokenClient,
    apps: AppRegistry,
    personas: Personas,
    app_key: SigningKey,
    cis2_key: SigningKey,
    unregistered: SigningKey,
}

fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().expect("valid time")
}

async fn env() -> Env {
    let clock = Clock::fixed(start_time());
    let config = MockConfig {
        profile: Profile::Stateful,
        auth: true,
        clock: clock.clone(),
        ..MockConfig::loopback(Profile::Stateful)
    };
    let mock = mock::start(config).await.expect("mock starts");
    let client = TokenClient::new(&format!("{}/oauth2", mock.origin())).expect("token client");
    let key =
        |file: &str, kid: &str| SigningKey::from_pem_file(format!("{FIXTURES}/{file}"), kid).expect("fixture key");
    Env {
        clock,
        http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http client"),
        client,
        apps: AppRegistry::load(format!("{FIXTURES}/apps.toml")).expect("apps"),
        personas: Personas::load(format!("{FIXTURES}/personas.toml")).expect("personas"),
        app_key: key("test-app-private-key.pem", "scr-assure-test-1"),
        cis2_key: key("mock-cis2-private-key.pem", "mock-cis2-1"),
        unregistered: key("unregistered-private-key.pem", "scr-assure-test-1"),
        mock,
    }
}

impl Env {
    fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.mock.origin())
    }

    fn api_key(&self, app: &str) -> Secret {
        self.apps.by_name(app).map(|a| a.api_key.clone()).unwrap_or_else(|| Secret::new(app))
    }

    fn spec(&self, app: &str) -> AssertionSpec {
        AssertionSpec::new(self.api_key(app), "scr-assure-test-1", self.token_url(), self.clock.now())
    }

    fn assertion_with(&self, app: &str, tweak: impl FnOnce(&mut AssertionSpec)) -> ClientAssertion {
        let mut spec = self.spec(app);
        tweak(&mut spec);
        assertion::mint(&spec, &self.app_key).expect("mint assertion")
    }

    fn assertion(&self) -> ClientAssertion {
        self.assertion_with("scr-assure-test", |_| {})
    }

    fn cc_form(&self, a: &ClientAssertion) -> Form {
        TokenClient::client_credentials_form(a, &[])
    }

    fn id_token_with(&self, persona: &str, tweak: impl FnOnce(&mut IdTokenSpec<'_>)) -> IdToken {
        let p = self.personas.get(persona).expect("persona");
        let issuer = format!("{}/mock-cis2", self.mock.origin());
        let mut spec = IdTokenSpec::new(p, issuer, "scr-assure-mock.apps.national", "mock-cis2-1", self.clock.now());
        tweak(&mut spec);
        id_token::mint(&spec, &self.cis2_key).expect("mint id token")
    }

    fn te_form(&self, id: &IdToken) -> Form {
        TokenClient::token_exchange_form(&self.assertion(), id, &[])
    }

    async fn post(&self, form: &Form) -> (u16, Value) {
        self.post_raw(Some("application/x-www-form-urlencoded"), form.encode()).await
    }

    async fn post_raw(&self, content_type: Option<&str>, body: String) -> (u16, Value) {
        let mut req = self.http.post(self.token_url()).body(body);
        if let Some(ct) = content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        let resp = req.send().await.expect("token request");
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    fn client_app(&self, app: &str) -> ClientApp {
        let a = self.apps.by_name(app).expect("app");
        ClientApp {
            api_key: a.api_key.clone(),
            client_secret: a.client_secret.clone().unwrap_or_else(|| Secret::new("none")),
            redirect_uri: REDIRECT.into(),
        }
    }

    async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.http.get(format!("{}{}", self.mock.origin(), path_and_query)).send().await.expect("GET")
    }
}

#[track_caller]
fn assert_error(case: &str, (status, body): &(u16, Value), expected: &OAuthError) {
    assert_eq!(*status, expected.status, "{case}: status; body {body}");
    assert_eq!(body["error"], expected.error, "{case}: error");
    assert_eq!(body["error_description"], expected.description.as_str(), "{case}: error_description");
    assert!(body["message_id"].as_str().is_some_and(|m| !m.is_empty()), "{case}: message_id");
}

#[track_caller]
fn assert_granted(case: &str, (status, body): &(u16, Value)) {
    assert_eq!(*status, 200, "{case}: {body}");
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()), "{case}: access_token");
    assert_eq!(body["token_type"], "Bearer", "{case}");
}

fn row(n: u8) -> OAuthError {
    OAuthError::client_assertion_row(n).expect("row exists")
}

#[tokio::test]
async fn client_credentials_every_row_of_10_1() {
    let e = env().await;
    let with = |f: &dyn Fn(&mut Form)| {
        let mut form = e.cc_form(&e.assertion());
        f(&mut form);
        form
    };
    let defect = |d: &str| {
        e.cc_form(&e.assertion_with("scr-assure-test", |s| s.defects = Defect::parse_list(d).expect("defect")))
    };
    let exp_in = |n: i64| e.cc_form(&e.assertion_with("scr-assure-test", |s| s.exp_in_seconds = n));
    let app = |name: &str| e.cc_form(&e.assertion_with(name, |_| {}));
    let reused = defect("jti reused-jti-1");
    let unregistered = e.cc_form(&assertion::mint(&e.spec("scr-assure-test"), &e.unregistered).expect("mint"));
    let cases: Vec<(&str, Option<Form>, Form, OAuthError)> = vec![
        ("1 missing type", None, with(&|f| f.remove("client_assertion_type")), row(1)),
        ("1 wrong type", None, with(&|f| f.set("client_assertion_type", "jwt-bearer")), row(1)),
        ("2 missing assertion", None, with(&|f| f.remove("client_assertion")), row(2)),
        ("3 malformed", None, with(&|f| f.set("client_assertion", "not.a.jwt")), row(3)),
        ("4 alg RS256", None, defect("alg RS256"), row(4)),
        ("4 alg HS256", None, defect("alg HS256"), row(4)),
        ("5 expired", None, exp_in(-1), row(5)),
        ("6 no kid", None, defect("omit kid"), row(6)),
        ("7 no typ", None, defect("omit typ"), row(7)),
        ("7 typ JOSE", None, defect("typ JOSE"), row(7)),
        ("8 no exp", None, defect("omit exp"), row(8)),
        ("9 exp a future time as a string", None, defect("exp as string"), row(9)),
        // The expiry check runs first and JavaScript reads "300" as 300 s after the epoch.
        ("5 exp \"300\"", None, defect("exp \"300\""), row(5)),
        ("10 no iss", None, defect("omit iss"), row(10)),
        ("10 iss != sub", None, defect("sub someone-else"), row(10)),
        ("11 no jti", None, defect("omit jti"), row(11)),
        ("12 jti number", None, defect("jti 42"), row(12)),
        ("13 jti reused", Some(reused.clone()), reused, row(13)),
        ("14 exp +311", None, exp_in(311), row(14)),
        ("15 unknown api key", None, defect("iss nobody ; sub nobody"), row(15)),
        ("16 no public key", None, app("scr-assure-no-key"), row(16)),
        ("17 jwks unreachable", None, app("scr-assure-unreachable-jwks"), row(17)),
        ("18 wrong aud", None, defect("aud https://int.api.service.nhs.uk/oauth2/token"), row(18)),
        ("18 no aud", None, defect("omit aud"), row(18)),
        ("19 unknown kid", None, defect("kid not-registered"), row(19)),
        ("20 bad signature", None, unregistered, row(20)),
        ("21 no level3 product", None, app("scr-assure-no-level3"), row(21)),
        ("grant_type missing", None, with(&|f| f.remove("grant_type")), OAuthError::missing_grant_type()),
        ("grant_type password", None, with(&|f| f.set("grant_type", "password")), OAuthError::unsupported_grant_type()),
    ];
    for (case, before, form, expected) in cases {
        if let Some(first) = before {
            assert_granted(case, &e.post(&first).await);
        }
        assert_error(case, &e.post(&form).await, &expected);
    }
}

#[tokio::test]
async fn client_credentials_success_shape_and_overrides() {
    let e = env().await;
    let (status, body) = e.post(&e.cc_form(&e.assertion())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], "599");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["issued_at"], e.clock.now().timestamp_millis().to_string());
    assert!(body.get("refresh_token").is_none());
    let mut form = e.cc_form(&e.assertion());
    form.set("_access_token_expiry_ms", "60000");
    assert_eq!(e.post(&form).await.1["expires_in"], "59");
    let mut form = e.cc_form(&e.assertion());
    form.set("_access_token_expiry_ms", "900000");
    assert_eq!(e.post(&form).await.1["expires_in"], "599", "overrides only shorten");
    // Keys registered by URL: the mock fetches the JWKS from itself.
    assert_granted("jwks by url", &e.post(&e.cc_form(&e.assertion_with("scr-assure-jwks-by-url", |_| {}))).await);
    // The typed client reads the same answer.
    let outcome = e.client.client_credentials(&e.assertion(), &[]).await.expect("client credentials");
    let granted = outcome.granted().expect("granted");
    assert_eq!((granted.expires_in.as_str(), granted.token_type.as_str()), ("599", "Bearer"));
    assert_eq!(granted.raw["access_token"], "[REDACTED]");
}

#[tokio::test]
async fn skew_boundaries() {
    let e = env().await;
    for (case, exp_in, skew, expected) in [
        ("exp +300", 300, 0, None),
        ("exp +310", 310, 0, None),
        ("exp now", 0, 0, None),
        ("exp +311", 311, 0, Some(14)),
        ("exp -1", -1, 0, Some(5)),
        ("client 15 s fast", 300, 15, Some(14)),
        ("client 10 s fast", 300, 10, None),
        ("client 301 s slow", 300, -301, Some(5)),
        ("client 300 s slow", 300, -300, None),
    ] {
        let a = e.assertion_with("scr-assure-test", |s| {
            s.exp_in_seconds = exp_in;
            s.skew_seconds = skew;
        });
        let answer = e.post(&e.cc_form(&a)).await;
        match expected {
            None => assert_granted(case, &answer),
            Some(r) => assert_error(case, &answer, &row(r)),
        }
    }
}

#[tokio::test]
async fn minted_defaults_pass_and_each_defect_gets_its_rejection() {
    let e = env().await;
    assert_granted("default", &e.post(&e.cc_form(&e.assertion())).await);
    for (defect, r) in [
        ("omit jti", 11),
        ("omit kid", 6),
        ("omit exp", 8),
        ("omit typ", 7),
        ("omit iss", 10),
        ("omit sub", 10),
        ("omit aud", 18),
        ("omit alg", 4),
        ("alg RS384", 4),
        ("kid other", 19),
        ("aud https://example.org/token", 18),
        ("iss x", 10),
        ("sub x", 10),
        ("typ jws", 7),
        ("exp \"300\"", 5),
        ("exp as string", 9),
        ("exp null", 5),
        ("jti 42", 12),
    ] {
        let a = e.assertion_with("scr-assure-test", |s| s.defects = vec![Defect::parse(defect).expect("defect")]);
        assert_error(defect, &e.post(&e.cc_form(&a)).await, &row(r));
    }
    // `typ jwt` (lower case) and a chosen jti are not defects that fail.
    let a = e.assertion_with("scr-assure-test", |s| {
        s.defects = Defect::parse_list("typ jwt ; jti my-own-id").expect("defects")
    });
    assert_granted("typ jwt", &e.post(&e.cc_form(&a)).await);
}

#[tokio::test]
async fn token_exchange_every_subject_token_row() {
    let e = env().await;
    let id = |tweak: &dyn Fn(&mut IdTokenSpec<'_>)| e.id_token_with("single-role", |s| tweak(s));
    let defect = |d: &str| {
        let defects = Defect::parse_list(d).expect("defect");
        e.te_form(&id(&|s| s.defects = defects.clone()))
    };
    // Every case gets a fresh assertion (a repeated jti would be row 13).
    let with = |f: &dyn Fn(&mut Form)| {
        let mut form = e.te_form(&id(&|_| {}));
        f(&mut form);
        form
    };
    let forged = {
        let p = e.personas.get("single-role").expect("persona");
        let spec = IdTokenSpec::new(p, format!("{}/mock-cis2", e.mock.origin()), "a", "mock-cis2-1", e.clock.now());
        let key =
            SigningKey::from_pem_file(format!("{FIXTURES}/unregistered-private-key.pem"), "mock-cis2-1").expect("key");
        e.te_form(&id_token::mint(&spec, &key).expect("mint"))
    };
    let bad_assertion = {
        let a = e.assertion_with("scr-assure-test", |s| s.defects = vec![Defect::parse("omit kid").expect("defect")]);
        TokenClient::token_exchange_form(&a, &id(&|_| {}), &[])
    };
    let cases: Vec<(&str, Form, OAuthError)> = vec![
        ("client_assertion_type missing", with(&|f| f.remove("client_assertion_type")), row(1)),
        (
            "grant_type wrong with id_token",
            with(&|f| f.set("grant_type", "client_credentials")),
            OAuthError::invalid_grant_type(),
        ),
        ("grant_type missing with id_token", with(&|f| f.remove("grant_type")), OAuthError::invalid_grant_type()),
        (
            "subject_token_type missing",
            with(&|f| f.remove("subject_token_type")),
            OAuthError::invalid_subject_token_type(),
        ),
        (
            "subject_token_type wrong",
            with(&|f| f.set("subject_token_type", "urn:x")),
            OAuthError::invalid_subject_token_type(),
        ),
        ("client assertion defect", bad_assertion, row(6)),
        ("subject_token missing", with(&|f| f.remove("subject_token")), OAuthError::missing_subject_token()),
        ("subject_token malformed", with(&|f| f.set("subject_token", "abc")), OAuthError::malformed_subject_token()),
        ("no kid", defect("omit kid"), OAuthError::subject_missing_kid()),
        ("no typ", defect("omit typ"), OAuthError::subject_invalid_typ()),
        ("no alg", defect("omit alg"), OAuthError::subject_missing_alg()),
        ("no exp", defect("omit exp"), OAuthError::subject_missing_exp()),
        ("exp string", defect("exp \"600\""), OAuthError::subject_exp_not_integer()),
        ("expired", e.te_form(&id(&|s| s.exp_in_seconds = -1)), OAuthError::subject_expired()),
        ("no iss", defect("omit iss"), OAuthError::subject_missing_iss()),
        ("no aud", defect("omit aud"), OAuthError::subject_missing_aud()),
        ("other iss", defect("iss https://auth.sandpit.signin.nhs.uk"), OAuthError::subject_invalid_iss()),
        ("unknown kid", defect("kid nope"), OAuthError::subject_no_matching_kid()),
        ("bad signature", forged, OAuthError::signature_failed()),
        ("AAL1 user", e.te_form(&e.id_token_with("aal1", |_| {})), OAuthError::unauthorized_client()),
    ];
    for (case, form, expected) in cases {
        assert_error(case, &e.post(&form).await, &expected);
    }
}

#[tokio::test]
async fn token_exchange_success() {
    let e = env().await;
    for persona in ["single-role", "aal2", "selected-role"] {
        let (status, body) = e.post(&e.te_form(&e.id_token_with(persona, |_| {}))).await;
        assert_eq!(status, 200, "{persona}: {body}");
        assert_eq!(body["expires_in"], "599");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["issued_token_type"], "urn:ietf:params:oauth:token-type:access_token");
        assert_eq!(body["refresh_token_expires_in"], "43199");
        assert_eq!(body["refresh_count"], "0");
    }
    let outcome =
        e.client.token_exchange(&e.assertion(), &e.id_token_with("single-role", |_| {}), &[]).await.expect("exchange");
    let granted = outcome.granted().expect("granted");
    // Separate auth: userinfo refuses the token.
    let (status, body) = e.client.userinfo(&granted.access_token).await.expect("userinfo");
    assert_error("userinfo separate", &(status, body), &OAuthError::userinfo_wrong_auth());
}

#[tokio::test]
async fn authorize_errors() {
    let e = env().await;
    let key = |app: &str| e.api_key(app).expose().to_owned();
    let q = |pairs: &[(&str, &str)]| {
        let f = Form::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        format!("/oauth2/authorize?{}", f.encode())
    };
    let default = key("scr-assure-test");
    let json_cases: Vec<(&str, String, OAuthError)> = vec![
        (
            "client_id missing",
            q(&[("redirect_uri", REDIRECT), ("state", "s"), ("response_type", "code")]),
            OAuthError::client_id_missing(),
        ),
        (
            "client_id invalid",
            q(&[("client_id", "nope"), ("redirect_uri", REDIRECT), ("state", "s"), ("response_type", "code")]),
            OAuthError::client_id_invalid(),
        ),
        (
            "revoked app",
            q(&[
                ("client_id", &key("scr-assure-revoked")),
                ("redirect_uri", REDIRECT),
                ("state", "s"),
                ("response_type", "code"),
            ]),
            OAuthError::app_not_approved(),
        ),
        (
            "app without product",
            q(&[
                ("client_id", &key("scr-assure-no-products")),
                ("redirect_uri", REDIRECT),
                ("state", "s"),
                ("response_type", "code"),
            ]),
            OAuthError::no_access_to_resource(),
        ),
        (
            "redirect_uri missing",
            q(&[("client_id", &default), ("state", "s"), ("response_type", "code")]),
            OAuthError::redirect_uri_missing(),
        ),
        (
            "redirect_uri invalid",
            q(&[
                ("client_id", &default),
                ("redirect_uri", "http://evil/cb"),
                ("state", "s"),
                ("response_type", "code"),
            ]),
            OAuthError::redirect_uri_invalid(),
        ),
    ];
    for (case, path, expected) in json_cases {
        let resp = e.get(&path).await;
        let status = resp.status().as_u16();
        assert_error(case, &(status, resp.json::<Value>().await.unwrap_or(Value::Null)), &expected);
    }
    let redirect_cases = [
        (
            "state missing",
            q(&[("client_id", &default), ("redirect_uri", REDIRECT), ("response_type", "code")]),
            "invalid_request",
            "state is missing",
            None,
        ),
        (
            "response_type missing",
            q(&[("client_id", &default), ("redirect_uri", REDIRECT), ("state", "s1")]),
            "invalid_request",
            "response_type is missing",
            Some("s1"),
        ),
        (
            "response_type token",
            q(&[("client_id", &default), ("redirect_uri", REDIRECT), ("state", "s2"), ("response_type", "token")]),
            "unsupported_response_type",
            "response_type is invalid",
            Some("s2"),
        ),
    ];
    for (case, path, error, description, state) in redirect_cases {
        let resp = e.get(&path).await;
        assert_eq!(resp.status().as_u16(), 302, "{case}");
        let loc = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).expect("Location");
        let url = reqwest::Url::parse(loc).expect("absolute Location");
        assert!(loc.starts_with(REDIRECT), "{case}: {loc}");
        let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            (get("error"), get("error_description"), get("state")),
            (Some(error), Some(description), state),
            "{case}"
        );
    }
    assert_eq!(
        e.http
            .post(format!("{}/oauth2/authorize", e.mock.origin()))
            .send()
            .await
            .expect("POST")
            .headers()
            .get(ALLOW)
            .and_then(|v| v.to_str().ok()),
        Some("GET")
    );
}

#[tokio::test]
async fn authorization_code_flow_userinfo_and_token_errors() {
    let e = env().await;
    let app = e.client_app("scr-assure-test");
    let outcome = e.client.authorization_code(&app, "default-clinician", &[]).await.expect("code flow");
    let TokenOutcome::Granted(t) = outcome else { panic!("granted expected: {outcome:?}") };
    assert_eq!(
        (t.expires_in.as_str(), t.refresh_token_expires_in.as_deref(), t.refresh_count.as_deref()),
        ("599", Some("43199"), Some("0"))
    );
    let (status, info) = e.client.userinfo(&t.access_token).await.expect("userinfo");
    assert_eq!(status, 200);
    assert_eq!(info["sub"], "910000000001");
    let roles: Vec<&str> = info["nhsid_nrbac_roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["person_roleid"].as_str())
        .collect();
    assert_eq!(roles, vec!["555254240100", "555254242102", "555254241101"]);
    // App-restricted tokens cannot call userinfo; a missing token falls to the proxy's DefaultFaultRule.
    let cc = e.client.client_credentials(&e.assertion(), &[]).await.expect("cc");
    let (status, body) = e.client.userinfo(&cc.granted().expect("granted").access_token).await.expect("userinfo");
    assert_error("userinfo app-restricted", &(status, body), &OAuthError::userinfo_wrong_auth());
    let resp = e.get("/oauth2/userinfo").await;
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.expect("userinfo without a token: JSON");
    // Pinned from identity-service-api `proxies/live/apiproxy/policies/AssignMessage.CatchallErrorMessage.xml`.
    assert_eq!(body["error"], "unknown_error", "{body}");
    assert_eq!(
        body["error_description"],
        "An unknown error occurred processing this request. Contact us for assistance diagnosing this issue: https://digital.nhs.uk/developer/help-and-support quoting Message ID",
        "{body}"
    );
    assert!(body["message_id"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    // An unknown token takes the same path (no FaultRule of the identity proxy names VerifyAccessToken's faults).
    let (status, body) = e.client.userinfo(&Secret::new("not-a-token-42")).await.expect("userinfo");
    assert_eq!((status, body["error"].as_str()), (401, Some("unknown_error")), "{body}");
    // AAL1 user: no product for the level.
    let rejected = e.client.authorization_code(&app, "aal1", &[]).await.expect("flow");
    assert_eq!(rejected.rejected().map(|r| (r.status, r.error.as_str())), Some((401, "unauthorized_client")));

    // A reused sign-in state.
    let start = e
        .get(&format!(
            "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&state=abc",
            app.api_key.expose(),
            REDIRECT
        ))
        .await;
    let login = start.headers().get(LOCATION).and_then(|v| v.to_str().ok()).expect("Location").to_owned();
    let path = login.strip_prefix(&e.mock.origin()).expect("same origin").to_owned();
    let page = e.get(&path).await;
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.expect("html").contains("persona=default-clinician"));
    let signed_in = e.get(&format!("{path}&persona=single-role")).await;
    assert_eq!(signed_in.status().as_u16(), 302);
    let cb = reqwest::Url::parse(signed_in.headers().get(LOCATION).and_then(|v| v.to_str().ok()).expect("Location"))
        .expect("url");
    let code = cb.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).expect("code");
    assert!(cb.query_pairs().any(|(k, v)| k == "state" && v == "abc"));
    let again = e.get(&format!("{path}&persona=single-role")).await;
    let status = again.status().as_u16();
    assert_error("reused state", &(status, again.json().await.unwrap_or(Value::Null)), &OAuthError::invalid_state());

    // /token errors of the code grant, in the proxy's order.
    let secret = app.client_secret.expose().to_owned();
    let base = Form::from_pairs([
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", app.api_key.expose()),
        ("client_secret", secret.as_str()),
    ]);
    let with = |f: &dyn Fn(&mut Form)| {
        let mut form = base.clone();
        f(&mut form);
        form
    };
    let cases: Vec<(&str, Form, OAuthError)> = vec![
        ("client_id missing", with(&|f| f.remove("client_id")), OAuthError::client_id_missing()),
        ("client_id wrong", with(&|f| f.set("client_id", "nope")), OAuthError::invalid_client()),
        ("client_secret missing", with(&|f| f.remove("client_secret")), OAuthError::client_secret_missing()),
        ("client_secret wrong", with(&|f| f.set("client_secret", "wrong")), OAuthError::invalid_client()),
        ("redirect_uri missing", with(&|f| f.remove("redirect_uri")), OAuthError::redirect_uri_missing()),
        ("redirect_uri wrong", with(&|f| f.set("redirect_uri", "http://evil/cb")), OAuthError::redirect_uri_invalid()),
        ("code missing", with(&|f| f.remove("code")), OAuthError::authorization_code_missing()),
        ("code wrong", with(&|f| f.set("code", "nope")), OAuthError::authorization_code_invalid()),
    ];
    for (case, form, expected) in cases {
        assert_error(case, &e.post(&form).await, &expected);
    }
    let (status, body) = e.post(&base).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refresh_count"], "0");
    assert_error("code reused", &e.post(&base).await, &OAuthError::authorization_code_invalid());
}

#[tokio::test]
async fn refresh_rotation_reuse_and_expiry() {
    let e = env().await;
    let app = e.client_app("scr-assure-test");
    let first = e.client.authorization_code(&app, "single-role", &[]).await.expect("flow");
    let first = first.granted().expect("granted").clone();
    let r1 = first.refresh_token.clone().expect("refresh token");
    e.clock.advance(Duration::seconds(100));
    let second = e.client.refresh(&app, &r1, &[("_refresh_tokens_validity_ms", "43200000")]).await.expect("refresh");
    let second = second.granted().expect("refresh granted").clone();
    assert_eq!(second.refresh_count.as_deref(), Some("1"));
    assert_eq!(second.expires_in, "599");
    assert_eq!(
        second.refresh_token_expires_in.as_deref(),
        Some("43099"),
        "a 12 h window shrinks with time since first sign-in"
    );
    let r2 = second.refresh_token.clone().expect("new refresh token");
    assert_ne!(r1, r2);
    // Rotation: the used token is invalid now.
    let reused = e.client.refresh(&app, &r1, &[]).await.expect("refresh");
    let reused = reused.rejected().expect("rejected");
    assert_eq!(
        (reused.status, reused.error.as_str(), reused.error_description.as_str()),
        (401, "invalid_grant", "refresh_token is invalid")
    );
    let third = e.client.refresh(&app, &r2, &[]).await.expect("refresh");
    assert_eq!(third.granted().and_then(|t| t.refresh_count.as_deref()), Some("2"));
    assert_eq!(third.granted().and_then(|t| t.refresh_token_expires_in.as_deref()), Some("43199"), "default window");
    // A zero window (as the NHS test sends) ends refreshing at once.
    let r3 = third.granted().and_then(|t| t.refresh_token.clone()).expect("refresh token");
    let zero = e.client.refresh(&app, &r3, &[("_refresh_tokens_validity_ms", "0")]).await.expect("refresh");
    assert_eq!(zero.rejected().map(|r| r.error_description.as_str()), Some("refresh token refresh period has expired"));
    // Missing token; separate auth refreshes too.
    let form = Form::from_pairs([
        ("grant_type", "refresh_token"),
        ("client_id", app.api_key.expose()),
        ("client_secret", app.client_secret.expose()),
    ]);
    assert_error("refresh missing", &e.post(&form).await, &OAuthError::refresh_token_missing());
    let te = e.client.token_exchange(&e.assertion(), &e.id_token_with("aal2", |_| {}), &[]).await.expect("te");
    let te_refresh = te.granted().and_then(|t| t.refresh_token.clone()).expect("refresh token");
    assert!(e.client.refresh(&app, &te_refresh, &[]).await.expect("refresh").granted().is_some());

    // Expiry: a refresh token shortened to 60 s is dead 61 s later.
    let short =
        e.client.authorization_code(&app, "single-role", &[("_refresh_token_expiry_ms", "60000")]).await.expect("flow");
    let short = short.granted().expect("granted").clone();
    assert_eq!(short.refresh_token_expires_in.as_deref(), Some("59"));
    e.clock.advance(Duration::seconds(61));
    let expired = e.client.refresh(&app, &short.refresh_token.clone().expect("token"), &[]).await.expect("refresh");
    let expired = expired.rejected().expect("rejected");
    assert_eq!(
        (expired.status, expired.error.as_str(), expired.error_description.as_str()),
        (401, "invalid_grant", "refresh token refresh period has expired")
    );

    // The overall window: refreshing 120 s after sign-in with a 100 s window fails.
    let windowed = e.client.authorization_code(&app, "single-role", &[]).await.expect("flow");
    let token = windowed.granted().and_then(|t| t.refresh_token.clone()).expect("token");
    e.clock.advance(Duration::seconds(120));
    let late = e.client.refresh(&app, &token, &[("_refresh_tokens_validity_ms", "100000")]).await.expect("refresh");
    assert_eq!(late.rejected().map(|r| r.error_description.as_str()), Some("refresh token refresh period has expired"));
}

#[tokio::test]
async fn media_type_methods_and_not_found() {
    let e = env().await;
    let body = e.cc_form(&e.assertion()).encode();
    let expected = OAuthError::content_type_not_form();
    assert_error("json", &e.post_raw(Some("application/json"), body.clone()).await, &expected);
    assert_error("none", &e.post_raw(None, body).await, &expected);
    let resp = e.get("/oauth2/token").await;
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(resp.headers().get(ALLOW).and_then(|v| v.to_str().ok()), Some("POST"));
    let resp = e.get("/oauth2/nowhere").await;
    let status = resp.status().as_u16();
    assert_error("404", &(status, resp.json().await.unwrap_or(Value::Null)), &OAuthError::not_found());
    let jwks: Value = e.get("/mock-cis2/.well-known/jwks.json").await.json().await.expect("jwks");
    assert_eq!(jwks["keys"][0]["kid"], "mock-cis2-1");
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    let app_jwks: Value = e.get("/mock-apps/scr-assure-test/jwks.json").await.json().await.expect("jwks");
    assert_eq!(app_jwks["keys"][0]["kid"], "scr-assure-test-1");
    assert!(app_jwks["keys"][0].get("d").is_none());
    assert_eq!(e.get("/mock-apps/scr-assure-no-key/jwks.json").await.status().as_u16(), 404);
}

#[tokio::test]
async fn access_tokens_expire_by_the_clock() {
    let e = env().await;
    let app = e.client_app("scr-assure-test");
    let t = e.client.authorization_code(&app, "single-role", &[]).await.expect("flow");
    let access = t.granted().map(|t| t.access_token.clone()).expect("token");
    assert_eq!(e.client.userinfo(&access).await.expect("userinfo").0, 200);
    e.clock.advance(Duration::seconds(600));
    let (status, body) = e.client.userinfo(&access).await.expect("userinfo");
    // The identity proxy's DefaultFaultRule answers every VerifyAccessToken fault of userinfo (SCRA-EDG-008).
    assert_eq!((status, body["error"].as_str()), (401, Some("unknown_error")), "{body}");
    let (status, body) = e.client.userinfo(&Secret::new("unknown")).await.expect("userinfo");
    assert_eq!((status, body["error"].as_str()), (401, Some("unknown_error")), "{body}");
}

#[tokio::test]
async fn token_exchange_grant_type_checks_come_first() {
    let e = env().await;
    // Unused, but proves the grant constant is what the form carries.
    let form = e.te_form(&e.id_token_with("single-role", |_| {}));
    assert_eq!(form.get("grant_type"), Some(TOKEN_EXCHANGE_GRANT));
    assert_eq!(form.get("subject_token_type"), Some(ID_TOKEN_TYPE));
    assert_eq!(form.get("client_assertion_type"), Some(CLIENT_ASSERTION_TYPE));
    assert_granted("exchange", &e.post(&form).await);
}
