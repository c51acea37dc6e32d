//! Redaction, proven: a whole run whose secrets are a planted canary — the test app's API key (the `iss` and
//! `sub` of every client assertion, the `client_id` of every CIS2 flow) and its client secret, through a copy
//! of `fixtures/identity/` — and a run against a target with a canary access token, leave zero occurrences of
//! the canary, raw, base64 (standard and URL-safe, every alignment) or URL-encoded, anywhere under the reports
//! directory or in the console output. A run's default-token exchanges (the run's own, `exchanges/NNNN-run.json`)
//! are in its bundle, the token endpoint's 200 among them, with no token, JWT or planted secret in clear.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;

const BIN: &str = env!("CARGO_BIN_EXE_scr-assure");

/// Every form the canary could leak in.
fn encodings(canary: &str) -> Vec<String> {
    let mut out = vec![
        canary.to_owned(),
        percent_encoding::utf8_percent_encode(canary, percent_encoding::NON_ALPHANUMERIC).to_string(),
    ];
    for engine in [&base64::engine::general_purpose::STANDARD_NO_PAD, &base64::engine::general_purpose::URL_SAFE_NO_PAD]
    {
        // Base64 of a substring depends on its alignment: take the stable middle of each of the three.
        for pad in ["", "a", "ab"] {
            let encoded = engine.encode(format!("{pad}{canary}"));
            let skip = if pad.is_empty() { 0 } else { 4 };
            let stable: String = encoded.chars().skip(skip).take(encoded.len().saturating_sub(skip + 4)).collect();
            if stable.len() >= 12 {
                out.push(stable);
            }
        }
    }
    out
}

fn scan(dir: &Path, needles: &[String], found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            scan(&path, needles, found);
        } else if let Ok(bytes) = std::fs::read(&path) {
            let text = String::from_utf8_lossy(&bytes);
            for n in needles {
                if text.contains(n.as_str()) {
                    found.push(format!("{} contains {n}", path.display()));
                }
            }
        }
    }
}

fn console_hits(out: &std::process::Output, needles: &[String]) -> Vec<String> {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    needles.iter().filter(|n| text.contains(n.as_str())).map(|n| format!("console contains {n}")).collect()
}

/// A copy of `fixtures/identity/` under `dir` whose test app's API key is `canary` and whose client secret is
/// `{canary}-secret`.
fn planted_identity(dir: &Path, canary: &str) -> std::path::PathBuf {
    let identity = dir.join("identity");
    std::fs::create_dir(&identity).expect("mkdir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/identity");
    for entry in std::fs::read_dir(&source).expect("fixtures").flatten() {
        let text = std::fs::read_to_string(entry.path()).expect("fixture readable");
        let planted = match entry.file_name().to_str() {
            Some("apps.toml") => text.replace("\"scr-assure-test-app-key\"", &format!("\"{canary}\"")),
            Some("test-app-client-secret.txt") => format!("# canary secret for the redaction test\n{canary}-secret\n"),
            _ => text,
        };
        std::fs::write(identity.join(entry.file_name()), planted).expect("write fixture");
    }
    identity
}

#[test]
fn a_planted_api_key_and_client_secret_never_reach_the_reports_or_the_console() {
    let canary = format!("CANARY{}", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = planted_identity(dir.path(), &canary);
    let reports = dir.path().join("reports");
    let out = Command::new(BIN)
        .args(["run", "--snapshots", "off", "--reports"])
        .arg(&reports)
        .env("SCR_ASSURE_IDENTITY_DIR", &identity)
        .output()
        .expect("binary runs");
    // The canary must really have been used: the run obtained its tokens with it.
    assert_eq!(
        out.status.code(),
        Some(0),
        "the suite passes with the planted credentials:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut needles = encodings(&canary);
    needles.extend(encodings(&format!("{canary}-secret")));
    let mut found = console_hits(&out, &needles);
    scan(&reports, &needles, &mut found);
    assert!(found.is_empty(), "the canary leaked:\n{}", found.join("\n"));
    assert!(reports.join("latest/manifest.json").is_file(), "the bundle was written and scanned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_access_token_never_reaches_the_reports_or_the_console() {
    let canary = format!("CANARY{}", uuid::Uuid::new_v4().simple());
    // A target that checks no token (like the sandbox) receives the canary as the bearer token on every request.
    let mock = scr_assure::mock::start(scr_assure::mock::MockConfig::loopback(scr_assure::mock::Profile::Stateful))
        .await
        .expect("mock starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let reports = dir.path().join("reports");
    let base = mock.base_url();
    let (reports_arg, token) = (reports.clone(), canary.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args([
                "run",
                "--target",
                "int",
                "--snapshots",
                "off",
                "-t",
                "@SCRA-RET-001 or @SCRA-UPL-001",
                "--base-url",
                &base,
                "--reports",
            ])
            .arg(&reports_arg)
            .env("SCR_ASSURE_ACCESS_TOKEN", &token)
            .output()
            .expect("binary runs")
    })
    .await
    .expect("joins");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let needles = encodings(&canary);
    let mut found = console_hits(&out, &needles);
    scan(&reports, &needles, &mut found);
    assert!(found.is_empty(), "the canary leaked:\n{}", found.join("\n"));
    let exchange =
        std::fs::read_dir(reports.join("latest/exchanges")).expect("exchanges").flatten().next().expect("one");
    let text = std::fs::read_to_string(exchange.path()).expect("readable");
    assert!(text.contains("Bearer [REDACTED]"), "the header is recorded, redacted: {text}");
    mock.shutdown().await;
}

#[test]
fn the_default_tokens_exchanges_are_in_the_bundle_as_the_runs_own_and_redacted() {
    // A tagged run on the embedded mock: its main lane obtains the run's default token over HTTP (CIS2 combined
    // authentication as default-clinician) with the planted API key and client secret.
    let canary = format!("CANARY{}", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = planted_identity(dir.path(), &canary);
    let reports = dir.path().join("reports");
    let out = Command::new(BIN)
        .args(["run", "-q", "--snapshots", "off", "-t", "@SCRA-RET-002", "--reports"])
        .arg(&reports)
        .env("SCR_ASSURE_IDENTITY_DIR", &identity)
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    let bundle = reports.join("latest");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("manifest.json")).expect("manifest")).expect("JSON");
    let listed = manifest["run_exchanges"].as_array().cloned().unwrap_or_default();
    let step = "default token (CIS2 combined authentication as default-clinician)";
    let mut token_answers = 0;
    let mut run_files = Vec::new();
    for x in &listed {
        let file = x["file"].as_str().unwrap_or_default();
        assert!(manifest["files"][file].is_string(), "{file} is listed with its sha256 among the bundle's files");
        assert_eq!(x["step"], step, "{x}");
        let text = std::fs::read_to_string(bundle.join(file)).expect("the listed file exists");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("an exchange file is JSON");
        assert_eq!(
            (&doc["scenario"], &doc["location"], &doc["step"]),
            (&serde_json::Value::Null, &"run".into(), &step.into()),
            "{doc}"
        );
        let (url, status) =
            (doc["exchange"]["request"]["url"].as_str().unwrap_or_default(), &doc["exchange"]["response"]["status"]);
        assert!(doc["exchange"]["wall_at"].is_string() && doc["exchange"]["duration_ms"].is_u64(), "timed: {doc}");
        if url.ends_with("/oauth2/token") && *status == 200 {
            token_answers += 1;
            let answer: serde_json::Value =
                serde_json::from_str(doc["exchange"]["response"]["body"].as_str().unwrap_or_default()).expect("JSON");
            assert_eq!(answer["access_token"], "[REDACTED]", "{answer}");
            assert!(answer["expires_in"].is_string(), "the rest of the answer is kept: {answer}");
            let form = doc["exchange"]["request"]["body"].as_str().unwrap_or_default();
            assert!(form.contains("grant_type=authorization_code"), "{form}");
        }
        run_files.push((file.to_owned(), text));
    }
    assert!(token_answers >= 1, "the default token's 200 from the mock token endpoint is in the bundle: {listed:?}");
    // No token in clear: every token the mock issues is 64 hex digits, and client assertions and id_tokens are
    // JWTs (`eyJ…`); the planted API key and client secret appear in no encoding.
    let token_shaped = regex::Regex::new("[0-9a-fA-F]{64}").expect("regex");
    let mut needles = encodings(&canary);
    needles.extend(encodings(&format!("{canary}-secret")));
    for (file, text) in &run_files {
        assert!(!token_shaped.is_match(text), "{file} holds a token in clear: {text}");
        assert!(!text.contains("eyJ"), "{file} holds a JWT in clear: {text}");
        let leaked: Vec<&String> = needles.iter().filter(|n| text.contains(n.as_str())).collect();
        assert!(leaked.is_empty(), "{file} holds the planted secret {leaked:?}: {text}");
    }
}

#[test]
fn the_encodings_find_a_canary_inside_a_jwt_payload() {
    // The oracle itself: a canary inside base64url JSON (as in a client assertion's claims) is found.
    let canary = "CANARYabcdef0123456789";
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{{\"iss\":\"{canary}\",\"x\":1}}"));
    assert!(encodings(canary).iter().any(|n| claims.contains(n.as_str())), "{claims}");
}
