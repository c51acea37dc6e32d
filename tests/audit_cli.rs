//! `scr-assure audit` and `mock --audit-out` through the real binary: a trail written by a standalone mock
//! verifies (exit 0), a tampered copy does not (exit 1, naming the entry), a malformed one is refused with
//! `file:line` (exit 2); `audit export` fetches a running mock's trail.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_scr-assure");
const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn audit(args: &[&str], file: &Path) -> Output {
    Command::new(BIN).arg("audit").args(args).arg(file).output().unwrap_or_else(|e| panic!("the binary runs: {e}"))
}

#[test]
fn a_mock_trail_verifies_and_a_tampered_or_malformed_copy_does_not() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let (trail, exported) = (dir.path().join("trail.jsonl"), dir.path().join("exported.jsonl"));
    let mut child = Command::new(BIN)
        .args(["mock", "--port", "0", "--open-access", "--no-seed", "--audit-out"])
        .arg(&trail)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("the mock starts: {e}"));
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("the mock's stdout"));
    BufReader::new(stdout).read_line(&mut line).unwrap_or_else(|e| panic!("the mock prints its URL: {e}"));
    let base = line.trim().to_owned();
    let origin = base.split("/summary-care-record").next().unwrap_or_default().to_owned();

    // Five reads, each with its own X-Request-ID, then an export while the mock runs.
    let request_ids: Vec<String> = (0..5).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async {
        let http = reqwest::Client::builder().no_proxy().build().unwrap_or_else(|e| panic!("client: {e}"));
        for id in &request_ids {
            let url = format!("{base}/DocumentReference?patient={NHS_SYSTEM}|9990000018");
            let r = http.get(&url).header("X-Request-ID", id).send().await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.status().as_u16(), 200);
        }
    });
    let out = Command::new(BIN)
        .args(["audit", "export", "--url", &origin, "--out"])
        .arg(&exported)
        .output()
        .unwrap_or_else(|e| panic!("export runs: {e}"));
    assert_eq!(out.status.code(), Some(0), "export: {}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("valid, 5 entries"), "{}", text(&out.stdout));
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    assert!(killed.is_ok_and(|s| s.success()));
    let status = child.wait().unwrap_or_else(|e| panic!("the mock exits: {e}"));
    assert_eq!(status.code(), Some(0), "Ctrl-C stops the mock cleanly");

    let written = std::fs::read_to_string(&trail).unwrap_or_else(|e| panic!("--audit-out wrote the trail: {e}"));
    assert_eq!(written.lines().count(), 5, "{written}");
    assert!(request_ids.iter().all(|id| written.contains(id.as_str())), "every request is in the trail");
    assert_eq!(written, std::fs::read_to_string(&exported).unwrap_or_default(), "export and --audit-out agree");

    let out = audit(&["verify"], &trail);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("valid, 5 entries"), "{}", text(&out.stdout));

    // Edit the third entry's status: verify names entry 3.
    let tampered = dir.path().join("tampered.jsonl");
    let lines: Vec<String> = written
        .lines()
        .enumerate()
        .map(|(i, l)| if i == 2 { l.replacen("\"status\":200", "\"status\":403", 1) } else { l.to_owned() })
        .collect();
    assert_ne!(lines.join("\n"), written.trim_end(), "the copy was changed");
    std::fs::write(&tampered, lines.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let out = audit(&["verify"], &tampered);
    assert_eq!(out.status.code(), Some(1), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("TAMPERED at entry 3") && text(&out.stdout).contains("edited"),
        "{}",
        text(&out.stdout)
    );

    // Delete the second line: verify names the entry found in its place.
    let deleted = dir.path().join("deleted.jsonl");
    let kept: Vec<&str> = written.lines().enumerate().filter(|(i, _)| *i != 1).map(|(_, l)| l).collect();
    std::fs::write(&deleted, kept.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let out = audit(&["verify"], &deleted);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("TAMPERED at entry 3"), "{}", text(&out.stdout));

    // A line that is not an entry, and a missing file: exit 2 naming where.
    let malformed = dir.path().join("malformed.jsonl");
    let mut broken: Vec<&str> = written.lines().collect();
    broken[3] = "{\"seq\": 4, \"not\": \"an entry\"}";
    std::fs::write(&malformed, broken.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let out = audit(&["verify"], &malformed);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&format!("{}:4:", malformed.display())), "{}", text(&out.stderr));
    let out = audit(&["verify"], &dir.path().join("absent.jsonl"));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("absent.jsonl"), "{}", text(&out.stderr));
}

#[test]
fn exporting_from_nothing_listening_is_exit_3() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("{e}"));
    drop(listener);
    let out = Command::new(BIN)
        .args(["audit", "export", "--url", &format!("http://127.0.0.1:{port}"), "--out"])
        .arg(dir.path().join("t.jsonl"))
        .output()
        .unwrap_or_else(|e| panic!("export runs: {e}"));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(!dir.path().join("t.jsonl").exists(), "nothing written");
}
