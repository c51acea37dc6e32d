//! The grader catches what it should: the client scenarios run against the bundled reference client once
//! clean (every scenario passes) and once per deliberate defect (`run --reference-defect NAME`), through the
//! real binary. Each defect must fail exactly the requirements it is declared to break below — no more (a
//! grader that blames the wrong requirement), no fewer (a defect the grader misses). The reference client's own
//! list of defects (`reference-client --list-defects`) must match this table, so a new defect cannot go
//! ungraded. `benches/defects/run.sh` prints the same matrix into docs/DEFECT-MATRIX.md.
//!
//! Where a defect breaks more than one requirement, the reason is given beside it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scr-assure");

/// Defect → the requirements whose scenarios it must fail.
const DECLARED: &[(&str, &[&str])] = &[
    // Every override: no alert at all fails all three alert requirements.
    ("no-alert", &["SCRC-ALR-001", "SCRC-ALR-002", "SCRC-ALR-003"]),
    // Every reason gets another reason's subtype (self-claimed's becomes a forbidden pair the service refuses).
    ("wrong-subtype", &["SCRC-ALR-001", "SCRC-ALR-002", "SCRC-ALR-003"]),
    ("alert-when-permitted", &["SCRC-ALR-004"]),
    ("reads-despite-dissent", &["SCRC-WFL-003"]),
    ("reads-despite-no", &["SCRC-WFL-006"]),
    ("skips-set-permission", &["SCRC-WFL-005"]),
    // No NHSD-Session-URID: the UserRoleService lets a resolvable user through but nothing writes the header, and
    // the adaptor requires it on every POST (SCRA-EDG-009): no permission, alert or upload succeeds.
    (
        "missing-urid",
        &[
            "SCRC-ALR-001",
            "SCRC-ALR-002",
            "SCRC-ALR-003",
            "SCRC-FLT-001",
            "SCRC-FLT-002",
            "SCRC-HDR-001",
            "SCRC-IDN-002",
            "SCRC-IDN-004",
            "SCRC-IDN-005",
            "SCRC-IDN-006",
            "SCRC-UPL-003",
            "SCRC-WFL-001",
            "SCRC-WFL-005",
            "SCRC-WFL-006",
            "SCRC-WFL-007",
        ],
    ),
    // Accept: application/json is not what the controllers produce: Spring's answer is the adaptor's 500, the live
    // proxy's UNKNOWN_ERROR (SCRA-EDG-002), on every SCR request, so nothing the SUT does succeeds.
    (
        "wrong-accept",
        &[
            "SCRC-ALR-001",
            "SCRC-ALR-002",
            "SCRC-ALR-003",
            "SCRC-FLT-001",
            "SCRC-FLT-002",
            "SCRC-FLT-003",
            "SCRC-HDR-004",
            "SCRC-IDN-002",
            "SCRC-IDN-004",
            "SCRC-IDN-005",
            "SCRC-IDN-006",
            "SCRC-UPL-001",
            "SCRC-UPL-002",
            "SCRC-UPL-003",
            "SCRC-WFL-001",
            "SCRC-WFL-002",
            "SCRC-WFL-003",
            "SCRC-WFL-004",
            "SCRC-WFL-005",
            "SCRC-WFL-006",
            "SCRC-WFL-007",
        ],
    ),
    ("reused-request-id", &["SCRC-HDR-002"]),
    ("new-request-id-on-resend", &["SCRC-FLT-003"]),
    ("retry-storm", &["SCRC-FLT-002"]),
    ("ignores-retry-after", &["SCRC-FLT-001"]),
    // Never renewing also means never refreshing, and never picking up a rotated key.
    ("token-never-renewed", &["SCRC-IDN-002", "SCRC-IDN-004", "SCRC-IDN-006"]),
    ("auth-loop", &["SCRC-IDN-003"]),
    ("refresh-token-reused", &["SCRC-IDN-004"]),
    // 305 s breaks the 5-minute rule, and with the service's clock 10 s behind the assertion is refused.
    ("assertion-exp-too-far", &["SCRC-IDN-001", "SCRC-IDN-005"]),
    ("assertion-short-exp", &["SCRC-IDN-005"]),
    // A replayed jti is refused by the service, so the re-authentication after a key rotation fails too.
    ("reused-jti", &["SCRC-IDN-001", "SCRC-IDN-006"]),
    ("no-key-rotation", &["SCRC-IDN-006"]),
    ("stale-relates-to", &["SCRC-UPL-002"]),
    ("stale-scr-id", &["SCRC-WFL-007"]),
    // The service refuses the invalid Bundle, so the upload is not reported done either.
    ("invalid-bundle", &["SCRC-UPL-001", "SCRC-UPL-003"]),
    ("shows-partial-data", &["SCRC-FLT-004"]),
    ("empty-201-as-error", &["SCRC-UPL-003"]),
];

/// The requirements of the failed scenarios of a run, from its evidence bundle's manifest.
fn failed_requirements(reports: &Path) -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(reports.join("latest").join("manifest.json"))
        .unwrap_or_else(|e| panic!("no manifest under {}: {e}", reports.display()));
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap_or_else(|e| panic!("manifest: {e}"));
    manifest["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["result"] == "failed")
        .flat_map(|s| s["requirements"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect()
}

/// Runs the client scenarios against the reference client with these defects; the exit code and what failed.
fn run_client_suite(reports: &Path, defects: &[&str]) -> (i32, BTreeSet<String>, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "-q", "--tags", "@client", "--reports"]).arg(reports);
    for d in defects {
        cmd.args(["--reference-defect", d]);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let code = out.status.code().unwrap_or(-1);
    let failed = if code == 0 || code == 1 { failed_requirements(reports) } else { BTreeSet::new() };
    (code, failed, text)
}

#[test]
fn every_defect_fails_exactly_the_requirements_it_breaks() {
    // The reference client's own list of defects is the table's.
    let listed = Command::new(BIN)
        .args(["reference-client", "--list-defects"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    assert!(listed.status.success(), "reference-client --list-defects failed");
    let listed: BTreeSet<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    let declared: BTreeSet<String> = DECLARED.iter().map(|(d, _)| (*d).to_owned()).collect();
    assert_eq!(listed, declared, "the reference client's defects and this test's table differ");
    assert!(declared.len() >= 15, "at least 15 defects");

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (code, failed, text) = run_client_suite(&dir.path().join("clean"), &[]);
    assert_eq!(code, 0, "the clean reference client must pass every client scenario; failed {failed:?}\n{text}");

    // Two runs at a time (CI has two cores); each run is its own process with its own mocks.
    let mut mismatches = Vec::new();
    let mut matrix: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for pair in DECLARED.chunks(2) {
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = pair
                .iter()
                .map(|(defect, expected)| {
                    let reports = dir.path().join(defect);
                    s.spawn(move || (defect, expected, run_client_suite(&reports, &[defect])))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| panic!("a run thread panicked"))).collect()
        });
        for (defect, expected, (code, failed, text)) in results {
            let expected: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
            if code != 1 || failed != expected {
                let excerpt: String = text.chars().take(3000).collect();
                mismatches.push(format!("{defect}: exit {code}, failed {failed:?}, declared {expected:?}\n{excerpt}"));
            }
            matrix.insert(defect, failed);
        }
    }
    assert!(
        mismatches.is_empty(),
        "the grader did not catch exactly what each defect breaks:\n{}",
        mismatches.join("\n\n")
    );
    assert_eq!(matrix.len(), DECLARED.len());
}
