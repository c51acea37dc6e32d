//! `scr-assure token …` through the real binary against a real mock on 127.0.0.1: an assertion minted by
//! `token assertion` with no defect is accepted, and with each defect gets the NHS identity service's matching
//! rejection (reference §10.1, texts typed out here as the oracle); `token inspect` names the same rule;
//! `token id-token` mints a subject token the mock accepts.

use std::process::Command;

use scr_assure::mock::{self, MockConfig, Profile, RunningMock};

const BIN: &str = env!("CARGO_BIN_EXE_scr-assure");

async fn mock() -> RunningMock {
    mock::start(MockConfig { auth: true, ..MockConfig::loopback(Profile::Stateful) }).await.expect("mock starts")
}

fn mint(args: &[&str]) -> String {
    let out = Command::new(BIN).arg("token").args(args).output().expect("binary runs");
    assert!(out.status.success(), "token {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn client_credentials(origin: &str, assertion: &str) -> (u16, serde_json::Value) {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", assertion),
    ];
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&");
    let r = reqwest::Client::new()
        .post(format!("{origin}/oauth2/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("token endpoint answers");
    let status = r.status().as_u16();
    (status, r.json().await.expect("JSON answer"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assertions_from_the_cli_are_accepted_and_each_defect_is_rejected_as_the_nhs_service_does() {
    let m = mock().await;
    let origin = m.origin();
    let token_url = format!("{origin}/oauth2/token");
    let unregistered = format!("{}/fixtures/identity/unregistered-private-key.pem", env!("CARGO_MANIFEST_DIR"));

    let (status, body) = client_credentials(&origin, &mint(&["assertion", "--token-url", &token_url])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], "599");
    assert_eq!(body["token_type"], "Bearer");

    let rows: Vec<(Vec<&str>, u16, &str, &str)> = vec![
        (
            vec!["--alg", "RS256"],
            400,
            "invalid_request",
            "Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512'",
        ),
        (
            vec!["--exp-in", "-1"],
            400,
            "invalid_request",
            "Invalid 'exp' claim in client_assertion JWT - JWT has expired",
        ),
        (
            vec!["--skew", "-301"],
            400,
            "invalid_request",
            "Invalid 'exp' claim in client_assertion JWT - JWT has expired",
        ),
        (vec!["--omit", "kid"], 400, "invalid_request", "Missing 'kid' header in client_assertion JWT"),
        (vec!["--omit", "typ"], 400, "invalid_request", "Invalid 'typ' header in client_assertion JWT - must be 'JWT'"),
        (vec!["--typ", "JWS"], 400, "invalid_request", "Invalid 'typ' header in client_assertion JWT - must be 'JWT'"),
        (vec!["--omit", "exp"], 400, "invalid_request", "Missing 'exp' claim in client_assertion JWT"),
        // The service reads exp as JavaScript does, the expiry check first (SCRA-EDG-007): a numeric string is a
        // time in 1970; only a string that is no number reaches the type check.
        (
            vec!["--exp-value", "\"300\""],
            400,
            "invalid_request",
            "Invalid 'exp' claim in client_assertion JWT - JWT has expired",
        ),
        (
            vec!["--exp-value", "\"soon\""],
            400,
            "invalid_request",
            "Invalid 'exp' claim in client_assertion JWT - must be an integer",
        ),
        (
            vec!["--iss", "someone-else"],
            400,
            "invalid_request",
            "Missing or non-matching 'iss'/'sub' claims in client_assertion JWT",
        ),
        (
            vec!["--omit", "sub"],
            400,
            "invalid_request",
            "Missing or non-matching 'iss'/'sub' claims in client_assertion JWT",
        ),
        (vec!["--omit", "jti"], 400, "invalid_request", "Missing 'jti' claim in client_assertion JWT"),
        (
            vec!["--exp-in", "320"],
            400,
            "invalid_request",
            "Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future",
        ),
        (
            vec!["--skew", "15"],
            400,
            "invalid_request",
            "Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future",
        ),
        (
            vec!["--iss", "unknown-key", "--sub", "unknown-key"],
            401,
            "invalid_request",
            "Invalid 'iss'/'sub' claims in client_assertion JWT",
        ),
        (
            vec!["--aud", "https://int.api.service.nhs.uk/oauth2/token"],
            401,
            "invalid_request",
            "Missing or invalid 'aud' claim in client_assertion JWT",
        ),
        (
            vec!["--kid", "not-registered"],
            401,
            "invalid_request",
            "Invalid 'kid' header in client_assertion JWT - no matching public key",
        ),
        (vec!["--key", unregistered.as_str()], 401, "public_key error", "JWT signature verification failed"),
    ];
    for (flags, status, error, description) in rows {
        let mut args = vec!["assertion", "--token-url", token_url.as_str()];
        args.extend(flags.iter().copied());
        let (got, body) = client_credentials(&origin, &mint(&args)).await;
        assert_eq!(
            (got, body["error"].as_str(), body["error_description"].as_str()),
            (status, Some(error), Some(description)),
            "{flags:?}: {body}"
        );
        assert!(body["message_id"].as_str().is_some_and(|m| !m.is_empty()), "{flags:?} has a message_id");
    }

    // --jti replays an assertion's jti: the second use is refused (row 13).
    let first = mint(&["assertion", "--token-url", &token_url, "--jti", "replayed-jti-1"]);
    assert_eq!(client_credentials(&origin, &first).await.0, 200);
    let again = mint(&["assertion", "--token-url", &token_url, "--jti", "replayed-jti-1"]);
    let (status, body) = client_credentials(&origin, &again).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Non-unique 'jti' claim in client_assertion JWT"))
    );
    m.shutdown().await;
}

#[tokio::test]
async fn inspect_lists_what_the_service_would_reject_in_row_order() {
    let jwt = mint(&["assertion", "--token-url", "https://x/oauth2/token", "--omit", "jti", "--exp-in", "400"]);
    let out = Command::new(BIN)
        .args(["token", "inspect", &jwt, "--token-url", "https://x/oauth2/token"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let r11 = text.find("row 11: 400 invalid_request: Missing 'jti' claim in client_assertion JWT");
    let r14 = text.find(
        "row 14: 400 invalid_request: Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future",
    );
    assert!(r11.is_some() && r14.is_some() && r11 < r14, "{text}");
    assert!(text.contains("\"iss\": \"scr-assure-test-app-key\""), "claims are shown: {text}");
    // exp is shown relative to now (a second may tick between minting and inspecting).
    let seconds_left = text
        .lines()
        .find(|l| l.starts_with("exp: "))
        .and_then(|l| l.split(", in ").nth(1))
        .and_then(|rest| rest.trim_end_matches(" s)").parse::<i64>().ok());
    assert!(seconds_left.is_some_and(|s| (390..=400).contains(&s)), "exp is shown relative to now: {text}");

    let clean = mint(&["assertion", "--token-url", "https://x/oauth2/token"]);
    let out = Command::new(BIN)
        .args(["token", "inspect", &clean, "--token-url", "https://x/oauth2/token"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let out =
        Command::new(BIN).args(["token", "inspect", "--kind", "client-assertion", "not-a-jwt"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Malformed JWT in client_assertion"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_verifies_against_a_jwks_url() {
    let m = mock().await;
    let jwks = format!("{}/mock-apps/scr-assure-test/jwks.json", m.origin());
    let good = mint(&["assertion", "--token-url", "https://x/oauth2/token"]);
    let unregistered = format!("{}/fixtures/identity/unregistered-private-key.pem", env!("CARGO_MANIFEST_DIR"));
    let bad = mint(&["assertion", "--token-url", "https://x/oauth2/token", "--key", &unregistered]);
    let run = move |jwt: String| {
        let out = Command::new(BIN)
            .args(["token", "inspect", &jwt, "--token-url", "https://x/oauth2/token", "--jwks", &jwks])
            .output()
            .expect("runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (good, bad) = tokio::task::spawn_blocking(move || (run(good), run(bad))).await.expect("joins");
    assert!(good.contains("signature: valid"), "{good}");
    assert!(
        bad.contains("signature: INVALID")
            && bad.contains("row 20: 401 public_key error: JWT signature verification failed"),
        "{bad}"
    );
    m.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_from_the_cli_is_exchanged_for_a_user_restricted_token() {
    let m = mock().await;
    let origin = m.origin();
    let token_url = format!("{origin}/oauth2/token");
    let id_token = mint(&["id-token", "--persona", "single-role", "--issuer", &format!("{origin}/mock-cis2")]);
    let assertion = mint(&["assertion", "--token-url", &token_url]);
    let body = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
        ("subject_token_type", "urn:ietf:params:oauth:token-type:id_token"),
        ("subject_token", id_token.as_str()),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", assertion.as_str()),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)))
    .collect::<Vec<_>>()
    .join("&");
    let r = reqwest::Client::new()
        .post(&token_url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status().as_u16(), 200);
    let json: serde_json::Value = r.json().await.expect("JSON");
    assert_eq!((json["expires_in"].as_str(), json["refresh_token_expires_in"].as_str()), (Some("599"), Some("43199")));
    m.shutdown().await;
}

#[test]
fn unknown_personas_and_bad_defects_are_clear_errors() {
    let out = Command::new(BIN)
        .args(["token", "id-token", "--persona", "nobody", "--issuer", "http://x"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown persona 'nobody'"));
    let out = Command::new(BIN)
        .args(["token", "assertion", "--token-url", "http://x", "--omit", "colour"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--omit colour"));
}

fn inspect(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN).args(["token", "inspect"]).args(args).output().expect("runs");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn inspect_knows_an_id_token_an_assertion_and_an_access_token_apart_and_judges_each_by_its_rules() {
    // A CIS2 id_token, expired: detected from its claims and judged by the token exchange's subject-token checks.
    let expired = mint(&["id-token", "--persona", "single-role", "--issuer", "http://x/mock-cis2", "--exp-in", "-5"]);
    let (code, text) = inspect(&[&expired, "--issuer", "http://x/mock-cis2"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.starts_with("kind: CIS2 id_token (detected"), "{text}");
    assert!(
        text.contains(
            "[ 7] not expired: FAIL  400 invalid_request: Invalid 'exp' claim in subject_token JWT - JWT has expired"
        ),
        "{text}"
    );
    assert!(text.contains("[10] iss is the CIS2 issuer: ok"), "{text}");
    assert!(!text.contains("client_assertion JWT"), "not judged as an assertion: {text}");
    let (code, text) = inspect(&[&mint(&["id-token", "--persona", "single-role", "--issuer", "http://x/mock-cis2"])]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("[10] iss is the CIS2 issuer: not judged here"), "{text}");
    let (code, text) = inspect(&[
        &mint(&["id-token", "--persona", "single-role", "--issuer", "http://x/mock-cis2"]),
        "--issuer",
        "http://elsewhere",
    ]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("Missing or non-matching 'iss' claim in subject_token JWT"), "{text}");

    // A client assertion: each row's verdict, the failing one with the service's text.
    let assertion = mint(&["assertion", "--token-url", "https://x/oauth2/token", "--typ", "JWS"]);
    let (code, text) = inspect(&[&assertion]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.starts_with("kind: client assertion (detected"), "{text}");
    assert!(text.contains("[ 4] header alg is RS512: ok"), "{text}");
    assert!(text.contains("[ 7] header typ is JWT: FAIL  400 invalid_request: Invalid 'typ' header in client_assertion JWT - must be 'JWT'"), "{text}");
    // The same token judged as an id_token by choice.
    let (_, text) = inspect(&["--kind", "id-token", &assertion]);
    assert!(text.contains("kind: CIS2 id_token (--kind)") && text.contains("subject_token JWT"), "{text}");

    // An opaque access token: only its form; a JWT is not what the API Platform issues.
    let (code, text) = inspect(&["Abc123DEF456ghi789JKL012mno3"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("kind: access token (detected: not a JWT") && text.contains("opaque"), "{text}");
    let (code, text) = inspect(&["--kind", "access-token", "has space"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("b64token syntax (what a Bearer header can carry): FAIL"), "{text}");
    let (code, text) = inspect(&["--kind", "access-token", &assertion]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("(not a JWT): FAIL"), "{text}");
}

#[test]
fn send_posts_a_defective_assertion_to_an_embedded_mock_and_shows_the_answer_redacted() {
    let out = Command::new(BIN).args(["token", "send", "--omit", "jti"]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("answered HTTP 400"), "{text}");
    assert!(
        text.contains(
            "\nstatus: 400\nerror: invalid_request\nerror_description: Missing 'jti' claim in client_assertion JWT\n"
        ),
        "{text}"
    );
    assert!(text.contains("&client_assertion=[REDACTED]"), "{text}");
    assert!(!text.contains("eyJ"), "no JWT is printed: {text}");

    let out = Command::new(BIN).args(["token", "send", "--exp-value", "\"soon\""]).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("error_description: Invalid 'exp' claim in client_assertion JWT - must be an integer"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_get_use_a_running_mock_by_its_base_url() {
    let m = mock().await;
    let base = format!("{}/summary-care-record/FHIR/R4", m.origin());
    let (send, get) = tokio::task::spawn_blocking(move || {
        let send = Command::new(BIN).args(["token", "send", "--base-url", &base]).output().expect("runs");
        let get = Command::new(BIN).args(["token", "get", "--base-url", &base]).output().expect("runs");
        (send, get)
    })
    .await
    .expect("joins");
    let text = String::from_utf8_lossy(&send.stdout);
    assert_eq!(send.status.code(), Some(0), "{text}");
    assert!(text.contains("status: 200") && text.contains("granted: access_token [REDACTED]"), "{text}");
    let text = String::from_utf8_lossy(&get.stdout);
    assert_eq!(get.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&get.stderr));
    assert!(text.contains(&format!("access token obtained from {}/oauth2/token", m.origin())), "{text}");
    // Both went to the running mock: its audit trail holds the two token calls.
    let tokens = m.audit_entries().iter().filter(|e| e.operation == mock::operation::Operation::Token).count();
    assert_eq!(tokens, 2, "the running mock answered both");
    m.shutdown().await;
}
