//! Redaction, proven: a whole run whose secrets are a planted canary — the test app's API key (the `iss` and
//! `sub` of every client assertion, the `client_id` of every CIS2 flow) and its client secret, through a copy
//! of `fixtures/identity/` — and a run against a target with a canary access token, leave zero occurrences of
//! the canary, raw, base64 (standard and URL-safe, every alignment) or URL-encoded, anywhere under the reports
//! directory or in the console output.

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

#[test]
fn a_planted_api_key_and_client_secret_never_reach_the_reports_or_the_console() {
    let canary = format!("CANARY{}", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = dir.path().join("identity");
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
fn the_encodings_find_a_canary_inside_a_jwt_payload() {
    // The oracle itself: a canary inside base64url JSON (as in a client assertion's claims) is found.
    let canary = "CANARYabcdef0123456789";
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{{\"iss\":\"{canary}\",\"x\":1}}"));
    assert!(encodings(canary).iter().any(|n| claims.contains(n.as_str())), "{claims}");
}
