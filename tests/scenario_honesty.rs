//! Scenarios that prove something (issue 11 §2): no Then step compares against the code that produces the
//! answer, every exact text a check holds is pinned to the NHS artefact it was copied from, and the
//! catalogue marks what the features can only prove on the embedded mock.

use std::path::{Path, PathBuf};

use scr_assure::requirements::{self, Catalogue};
use scr_assure::runner::checks;
use scr_assure::scr::{codes, texts};
use serde_json::Value;

/// What expectations must not be computed from: the texts the mock answers with (`scr::texts`,
/// `identity::texts`), the quirk display the mock's DocumentReference builder uses, and the persona file the
/// mock's CIS2 serves (`…personas.get(…)`: a userinfo expectation read from it would agree with any mock).
const FORBIDDEN: &[&str] = &["texts::", "GP_SUMMARY_DISPLAY_RETURNED", "personas.get("];

/// (file, forbidden pattern, why it is allowed there). Empty today: each entry must say why the expectation
/// cannot drift with the mock.
const ALLOWED: &[(&str, &str, &str)] = &[];

/// The code of a Rust file without its comments (`//` to the end of the line; enough for this source, which
/// has no `//` inside string literals where a pattern follows).
fn code_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.split("//").next().unwrap_or("").to_owned()))
        .filter(|(_, code)| !code.trim().is_empty())
        .collect()
}

fn where_then_steps_look() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("src/steps")
        .expect("src/steps is readable")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.push(PathBuf::from("src/runner/checks.rs"));
    files.sort();
    files
}

fn offences(files: &[PathBuf]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("a source file");
        let name = file.display().to_string();
        for (line, code) in code_lines(&text) {
            for pattern in FORBIDDEN {
                let allowed = ALLOWED.iter().any(|(f, p, _)| *f == name && p == pattern);
                if code.contains(pattern) && !allowed {
                    found.push(format!("{name}:{line}: `{pattern}` in `{}`", code.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn no_step_or_check_compares_against_the_mock_s_own_texts() {
    let files = where_then_steps_look();
    assert!(files.len() > 5, "the step files are found: {files:?}");
    let found = offences(&files);
    assert!(
        found.is_empty(),
        "a Then step's expectation must be a literal in the feature or a literal in runner::checks copied from an \
         NHS artefact (pinned below), never the mock's own text:\n{}",
        found.join("\n")
    );
    for (file, pattern, why) in ALLOWED {
        assert!(Path::new(file).exists() && FORBIDDEN.contains(pattern) && !why.is_empty(), "{file} {pattern}");
    }
}

#[test]
fn the_guard_sees_an_expectation_taken_from_texts_but_not_a_comment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("assert.rs");
    std::fs::write(
        &file,
        "// texts:: is only mentioned here\nfn f() { check(r, texts::NO_CONSENT) }\nlet x = 1; // personas.get(\n",
    )
    .expect("write");
    let found = offences(&[file]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("assert.rs:2:"), "{found:?}");
}

fn fixture(rel: &str) -> Value {
    let path = Path::new("fixtures/nhs").join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_no_consent_text_is_the_nhs_fixture_s_and_the_mock_s() {
    for rel in ["uat/get_scr_id/no_consent/1-basic.response.json", "uat/upload_scr/no_consent/1-dissent.response.json"]
    {
        let nhs = fixture(rel);
        assert_eq!(nhs["issue"][0]["details"]["text"].as_str(), Some(checks::NO_CONSENT_TEXT), "{rel}");
    }
    assert_eq!(texts::NO_CONSENT, checks::NO_CONSENT_TEXT, "the mock's text drifted from the NHS fixture");
}

#[test]
fn the_gp_summary_display_is_the_nhs_fixture_s_and_the_mock_s() {
    let nhs = fixture("uat/get_scr_id/success/1-basic.response.json");
    let display = nhs["entry"][0]["resource"]["type"]["coding"][0]["display"].as_str();
    assert_eq!(display, Some(checks::GP_SUMMARY_DISPLAY_AS_RETURNED));
    assert_eq!(codes::GP_SUMMARY_DISPLAY_RETURNED, checks::GP_SUMMARY_DISPLAY_AS_RETURNED);
}

/// `scr.error.diagnostics` of summary-care-record-api/proxies/live/apiproxy/policies/AssignMessage.Errors.Default.xml,
/// copied as it stands there.
const ERRORS_DEFAULT_TEMPLATE: &str = "An unknown error occurred processing this request. Contact us for assistance diagnosing this issue: https://digital.nhs.uk/developer/help-and-support. (Message ID: {messageid})";

#[test]
fn the_unknown_error_diagnostics_are_the_proxy_s_template_and_the_mock_s() {
    let from_check = format!(
        "{}{{messageid}}{}",
        checks::UNKNOWN_ERROR_DIAGNOSTICS_BEFORE_ID,
        checks::UNKNOWN_ERROR_DIAGNOSTICS_AFTER_ID
    );
    assert_eq!(from_check, ERRORS_DEFAULT_TEMPLATE);
    assert_eq!(texts::apigee_unknown_error_diagnostics("{messageid}"), ERRORS_DEFAULT_TEMPLATE);
}

/// The specification's example of a PSIS-30134 NACK (summary-care-record-api/specification/
/// summary-care-record.yaml, POST /Bundle 400) and the adaptor's framing of a Spine NACK (reference §4.3,
/// `ScrTest.whenSpinePollingReturnedErrorsThenExpect400`).
const SPEC_DUPLICATE_EVENT: &str =
    "[PSIS-30134] - Duplicate event with eventId FFFBB3CF-62F3-11EC-BCD6-024734D13536 and nhsNumber 9111231130.";
const ADAPTOR_NACK_FRAME: &str = "Spine processing finished with errors:\n- 400: Invalid Request\n- 30134: ";

#[test]
fn the_duplicate_event_nack_is_the_specification_s_and_the_mock_s() {
    let (id, nhs) = ("FFFBB3CF-62F3-11EC-BCD6-024734D13536", "9111231130");
    assert_eq!(checks::duplicate_event_text(id, nhs), format!("{ADAPTOR_NACK_FRAME}{SPEC_DUPLICATE_EVENT}"));
    assert_eq!(texts::duplicate_event(id, nhs), SPEC_DUPLICATE_EVENT);
    let mock =
        texts::spine_processing_errors(&[("400", "Invalid Request"), ("30134", &texts::duplicate_event(id, nhs))]);
    assert_eq!(mock, checks::duplicate_event_text(id, nhs));
}

/// The default clinician's roles, as the userinfo scenario writes them, are the NHS sandbox user's.
#[test]
fn the_default_clinician_s_roles_in_the_feature_are_the_nhs_sandbox_user_s() {
    let nhs = fixture("sandbox/userInfo.json");
    let roles: Vec<&str> = nhs["nhsid_nrbac_roles"]
        .as_array()
        .expect("nhsid_nrbac_roles")
        .iter()
        .filter_map(|r| r["person_roleid"].as_str())
        .collect();
    let feature = std::fs::read_to_string("features/identity/authorization_code.feature").expect("feature");
    let row = feature
        .lines()
        .find(|l| l.trim_start().starts_with("| default-clinician |") && l.contains(','))
        .expect("the default-clinician row of the userinfo scenario");
    let written = row.split('|').nth(2).map(checks::word_list).unwrap_or_default();
    assert_eq!(written, roles);
}

#[test]
fn the_shipped_features_mark_what_only_the_mock_proves_and_declare_every_status_only_scenario() {
    let mut catalogue = Catalogue::load(Path::new("features/requirements.toml")).expect("catalogue");
    let scenarios = requirements::scan_features(Path::new("features")).expect("features");
    assert_eq!(requirements::check(&catalogue, &scenarios), vec![], "the shipped features are consistent");
    catalogue.mark_mock_only(&scenarios);
    let mock_only = |id: &str| catalogue.get(id).map(|r| r.mock_only);
    // Authorization code flow: the whole feature needs the mock's CIS2 issuer.
    assert_eq!(mock_only("SCRA-IDN-012"), Some(true));
    // The gateway's role resolution is arranged with the mock's personas.
    assert_eq!(mock_only("SCRA-GTW-006"), Some(true));
    // Reading the SCR id runs on INT too; sandbox requirements run on the sandbox.
    assert_eq!(mock_only("SCRA-RET-001"), Some(false));
    assert!(catalogue.requirements.iter().filter(|r| r.id.starts_with("SCRA-SBX")).all(|r| !r.mock_only));
    for r in &catalogue.requirements {
        let proving: Vec<_> = scenarios.iter().filter(|s| s.has_tag(&r.id)).collect();
        let expected = !proving.is_empty() && proving.iter().all(|s| requirements::needs_the_mock(s));
        assert_eq!(r.mock_only, expected, "{}", r.id);
    }
}

#[test]
fn the_requirements_command_marks_what_only_the_mock_proves() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scr-assure"))
        .arg("requirements")
        .output()
        .expect("scr-assure requirements runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |id: &str| text.lines().find(|l| l.starts_with(&format!("{id} "))).unwrap_or_default().to_owned();
    assert!(line("SCRA-IDN-012").contains("[proved only on the embedded mock]"), "{}", line("SCRA-IDN-012"));
    assert!(!line("SCRA-RET-001").is_empty() && !line("SCRA-RET-001").contains("proved only"), "{text}");
}

/// The features write the no-consent refusal as a literal; each copy is the NHS fixture's text.
#[test]
fn every_no_consent_literal_in_the_features_is_the_nhs_fixture_s() {
    let nhs = fixture("uat/get_scr_id/no_consent/1-basic.response.json");
    let expected = nhs["issue"][0]["details"]["text"].as_str().expect("the fixture's text").to_owned();
    let mut copies = 0;
    for file in requirements::feature_files(Path::new("features")).expect("features") {
        let text = std::fs::read_to_string(&file).expect("a feature");
        for (i, line) in text.lines().enumerate() {
            let Some(rest) = line.split("\"forbidden\" with the text \"").nth(1) else { continue };
            if !rest.starts_with("Code: 420") {
                continue;
            }
            copies += 1;
            assert_eq!(rest.strip_suffix('"'), Some(expected.as_str()), "{}:{}", file.display(), i + 1);
        }
    }
    assert!(copies >= 10, "the no-consent scenarios write the text: {copies}");
}
