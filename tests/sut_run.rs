//! A supplier's system that misbehaves fails its scenarios with a clear message and never hangs or crashes the
//! run; a bad `sut.toml` stops the run with exit 2 before anything runs. Through the real binary, with small
//! shell scripts standing in for the SUT's actions.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scr-assure");

fn write_script(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap_or_else(|e| panic!("{e}"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
    }
}

fn sut_toml(dir: &Path, driver_part: &str) -> std::path::PathBuf {
    let key = std::env::current_dir()
        .unwrap_or_else(|e| panic!("{e}"))
        .join("fixtures/identity/reference-client-public-key.pem");
    let text = format!(
        "[sut]\nname = \"Misbehaving System\"\nversion = \"0.0.1\"\n{driver_part}\n\n[app]\napi_key = \"misbehaving-app-key\"\n\
         kid = \"misbehaving-1\"\npublic_key_file = \"{}\"\n",
        key.display()
    );
    let path = dir.join("sut.toml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn run(sut: &Path, tags: &str, reports: &Path) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["run", "--sut"])
        .arg(sut)
        .args(["--tags", tags, "--reports"])
        .arg(reports)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn each_broken_action_fails_its_scenario_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_script(dir.path(), "silent.sh", "echo 'looking up the patient...'");
    write_script(dir.path(), "garbled.sh", "echo '{\"outcome\": \"displayed\",'");
    write_script(dir.path(), "slow.sh", "sleep 300");
    write_script(dir.path(), "not-executable.sh", "exit 0");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join("not-executable.sh");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap_or_else(|e| panic!("{e}"));
    }
    let actions = format!(
        "driver = \"command\"\naction_timeout = 10\n\n[actions]\n\
         retrieve = [\"{d}/missing-program\", \"{{nhs_number}}\"]\n\
         retrieve_with_answer = [\"{d}/silent.sh\", \"{{nhs_number}}\", \"{{answer}}\"]\n\
         emergency_access = [\"{d}/slow.sh\", \"{{nhs_number}}\", \"{{reason}}\"]\n\
         upload = [\"{d}/garbled.sh\", \"{{nhs_number}}\", \"{{bundle_file}}\"]\n\
         rotate_key = [\"{d}/not-executable.sh\", \"{{kid}}\"]",
        d = dir.path().display()
    );
    // The actions table must follow [app]; put the driver keys in [sut] and the table at the end.
    let (sut_keys, table) = actions.split_once("\n\n").unwrap_or_default();
    let path = sut_toml(dir.path(), sut_keys);
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push('\n');
    text.push_str(table);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));

    let tags = "@SCRC-WFL-002 or @SCRC-WFL-005 or @SCRC-ALR-002 or @SCRC-UPL-003";
    let (code, console) = run(&path, tags, &dir.path().join("reports"));
    assert_eq!(code, 1, "the product failed, the harness did not: {console}");
    for expected in [
        "cannot start",                     // the missing program
        "printed no JSON object on stdout", // silent.sh
        "did not finish within 10 s",       // slow.sh, killed (10 s: room for a loaded machine to start the others)
        "printed malformed JSON",           // garbled.sh
    ] {
        assert!(console.contains(expected), "the console says {expected:?}:\n{console}");
    }
    assert!(console.contains("the SUT could not be driven"), "{console}");
    // A filtered run of a supplier's file says so, in the JUnit and at the top of report.html.
    let junit = std::fs::read_to_string(dir.path().join("reports/junit.xml")).unwrap_or_default();
    assert!(junit.contains("<property name=\"filtered\" value=\"--tags @SCRC-WFL-002"), "{junit}");
    let html = std::fs::read_to_string(dir.path().join("reports/latest/report.html")).unwrap_or_default();
    assert!(html.contains("A filtered run, not the whole suite as shipped") && html.contains("--sut (only the client"));
    assert!(
        html.contains("Its client scenarios grade Misbehaving System 0.0.1"),
        "the scope names the supplier's system"
    );
}

#[test]
fn an_unreachable_http_hook_fails_the_scenario_and_a_bad_file_stops_the_run() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // A port nothing listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let path = sut_toml(dir.path(), "driver = \"http\"\naction_timeout = 5");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(&format!("\n[http]\nurl = \"http://127.0.0.1:{port}/hook\"\n"));
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let (code, console) = run(&path, "@SCRC-WFL-002", &dir.path().join("reports"));
    assert_eq!(code, 1, "{console}");
    assert!(console.contains("could not be reached"), "{console}");

    // An unknown key: refused before anything runs, naming the key and its line; no reports written.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, text.replace("[http]", "colour = \"blue\"\n[http]")).unwrap_or_else(|e| panic!("{e}"));
    let reports = dir.path().join("bad-reports");
    let (code, console) = run(&bad, "@SCRC-WFL-002", &reports);
    assert_eq!(code, 2, "{console}");
    assert!(console.contains("colour") && console.contains("bad.toml"), "{console}");
    assert!(!reports.join("junit.xml").exists(), "nothing ran");
}
