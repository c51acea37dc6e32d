//! No secret of the system under test reaches the evidence: a client run against the bundled reference client
//! leaves, anywhere under the reports directory or in the console, no occurrence of its API key, its client
//! secret, or any JWT (the clinician's CIS2 id_token, client assertions, access and refresh tokens are all
//! JWT-shaped or opaque and recorded only as fingerprints). The SUT's argv, stdout/stderr excerpts and traffic
//! are all in the bundle (`sut/`), the JUnit system-out and report.html, so this covers every renderer.

use std::path::Path;
use std::process::Command;

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn secret_of(file: &str) -> String {
    let text = std::fs::read_to_string(Path::new("fixtures/identity").join(file)).unwrap_or_else(|e| panic!("{e}"));
    text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or_default().to_owned()
}

#[test]
fn the_sut_s_secrets_never_reach_the_evidence() {
    let reports = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_scr-assure"))
        .args(["run", "--tags", "@client", "--reports"])
        .arg(reports.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run scr-assure: {e}"));
    let console = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{console}");
    let (api_key, client_secret) =
        (secret_of("reference-client-api-key.txt"), secret_of("reference-client-secret.txt"));
    assert!(api_key.len() > 10 && client_secret.len() > 10);
    let jwt = regex::Regex::new(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.").unwrap_or_else(|e| panic!("{e}"));
    let mut all = Vec::new();
    files(reports.path(), &mut all);
    assert!(all.iter().any(|p| p.components().any(|c| c.as_os_str() == "sut")), "the bundle has SUT evidence");
    let mut texts: Vec<(String, String)> = vec![("console".into(), console)];
    for path in all {
        let bytes = std::fs::read(&path).unwrap_or_default();
        texts.push((path.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
    }
    for (name, text) in &texts {
        assert!(!text.contains(&api_key), "{name} holds the SUT's API key");
        assert!(!text.contains(&client_secret), "{name} holds the SUT's client secret");
        assert!(!jwt.is_match(text), "{name} holds a JWT: {:?}", jwt.find(text).map(|m| m.as_str()));
    }
}
