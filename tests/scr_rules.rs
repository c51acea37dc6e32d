//! The SCR rules (`scr_assure::fhir::scr_rules`) against NHS's own payloads, which must all conform, and
//! against `fixtures/scr-broken/`, one edit away from them, each of which must give its expected first finding.

use std::path::{Path, PathBuf};

use scr_assure::fhir::scr_rules::{check, detect};
use scr_assure::fhir::ScrPayload;
use serde_json::Value;

use ScrPayload::{
    AlertRequest, DocumentReferenceResponse, DocumentResponse, OperationOutcome, PermissionRequest, UploadRequest,
};

const ALL_KINDS: [ScrPayload; 6] =
    [UploadRequest, PermissionRequest, AlertRequest, DocumentReferenceResponse, DocumentResponse, OperationOutcome];

/// Every conforming NHS payload (relative to `fixtures/nhs/`) with its kind. `detect` gives that kind for each,
/// except the empty `GET /Bundle` searchset, which it reports as a DocumentReferenceResponse (see
/// [`EMPTY_SEARCHSETS`]).
const NHS_PAYLOADS: &[(&str, ScrPayload)] = &[
    ("examples/UploadScrBundle.json", UploadRequest),
    ("examples/SetPermission.json", PermissionRequest),
    ("examples/AuditEvent.json", AlertRequest),
    ("examples/DocumentReferenceBundle.json", DocumentReferenceResponse),
    ("examples/GetScrBundle.json", DocumentResponse),
    ("uat/upload_scr/success/1-basic.request.json", UploadRequest),
    ("uat/upload_scr/success/2-bulk.request.json", UploadRequest),
    ("uat/upload_scr/success/3-bulk-sds.request.json", UploadRequest),
    ("uat/upload_scr/not_found/1-basic.request.json", UploadRequest),
    ("uat/upload_scr/no_consent/1-dissent.request.json", UploadRequest),
    ("uat/upload_scr/bad_request/1-missingComposition.response.json", OperationOutcome),
    ("uat/upload_scr/no_consent/1-dissent.response.json", OperationOutcome),
    ("uat/set_acs/success/1-basic.request.json", PermissionRequest),
    ("uat/set_acs/bad_request/1-nhsNumberMissing.response.json", OperationOutcome),
    ("uat/set_acs/bad_request/2-duplicatePermission.response.json", OperationOutcome),
    ("uat/set_acs/spine_error/1-nhsNumberNotFound.response.json", OperationOutcome),
    ("uat/send_alert/success/1-basic.request.json", AlertRequest),
    ("uat/send_alert/spine_error/1-invalidValue.request.json", AlertRequest),
    ("uat/send_alert/bad_request/1-missingNhsNumber.response.json", OperationOutcome),
    ("uat/send_alert/bad_request/3-multipleOrgEntry.response.json", OperationOutcome),
    ("uat/send_alert/spine_error/1-invalidValue.response.json", OperationOutcome),
    ("uat/get_scr_id/success/1-basic.response.json", DocumentReferenceResponse),
    ("uat/get_scr_id/no_results/1-basic.response.json", DocumentReferenceResponse),
    ("uat/get_scr_id/no_consent/1-basic.response.json", OperationOutcome),
    ("uat/get_scr/success/1-basic.response.json", DocumentResponse),
    ("uat/get_scr/additional_information/1-basic.response.json", DocumentResponse),
    ("uat/get_scr/agent_person_author_success/1-basic.response.json", DocumentResponse),
    ("uat/get_scr/init_upload_success/1-basic.response.json", DocumentResponse),
    ("uat/get_scr/init_upload_org_sds_success/1-basic.response.json", DocumentResponse),
    ("uat/get_scr/no_results/1-basic.response.json", DocumentResponse),
    ("uat/get_scr/no_consent/1-basic.response.json", OperationOutcome),
    ("unit/alert/success.json", AlertRequest),
    ("unit/alert/free_text.json", AlertRequest),
];

/// Empty searchsets: `detect` cannot tell the two GETs apart and answers DocumentReferenceResponse.
const EMPTY_SEARCHSETS: &[&str] =
    &["uat/get_scr_id/no_results/1-basic.response.json", "uat/get_scr/no_results/1-basic.response.json"];

/// NHS requests the backend (or Spine) rejects, with the first finding the SCR rules give them.
const NHS_REJECTED: &[(&str, ScrPayload, &str, &str)] = &[
    (
        "uat/upload_scr/bad_request/1-missingComposition.request.json",
        UploadRequest,
        "/entry",
        "exactly one entry whose resource is a Composition; found none",
    ),
    (
        "uat/set_acs/bad_request/1-nhsNumberMissing.request.json",
        PermissionRequest,
        "/parameter/0/part",
        "exactly one part named \"nhsNumber\"",
    ),
    (
        "uat/set_acs/bad_request/2-duplicatePermission.request.json",
        PermissionRequest,
        "/parameter/0/part",
        "exactly one part named \"permissionCode\" in setPermissions.part; found more than one",
    ),
    (
        "uat/set_acs/spine_error/1-nhsNumberNotFound.request.json",
        PermissionRequest,
        "/parameter/0/part/0/valueString",
        "NHS number 9995000181 in the setPermissions nhsNumber part fails the Modulus 11 check digit",
    ),
    (
        "uat/send_alert/bad_request/1-missingNhsNumber.request.json",
        AlertRequest,
        "/agent",
        "https://fhir.nhs.uk/Id/nhs-number and a non-empty value; found none",
    ),
    (
        "uat/send_alert/bad_request/3-multipleOrgEntry.request.json",
        AlertRequest,
        "/agent",
        "https://fhir.nhs.uk/Id/ods-organization-code and a non-empty value; found more than one",
    ),
    ("unit/alert/type_range.json", AlertRequest, "/type/code", "type.code \"1\""),
    ("unit/alert/subtype_range.json", AlertRequest, "/subtype/0/code", "subtype.code \"1\" to \"6\""),
    ("unit/alert/type_subtype_combination_24.json", AlertRequest, "/subtype/0/code", "not a permitted combination"),
    ("unit/alert/type_subtype_combination_26.json", AlertRequest, "/subtype/0/code", "not a permitted combination"),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn kind_named(name: &str) -> ScrPayload {
    ALL_KINDS
        .into_iter()
        .find(|k| serde_json::to_value(k).ok().as_ref().and_then(Value::as_str) == Some(name))
        .unwrap_or_else(|| panic!("unknown kind {name}"))
}

#[test]
fn every_nhs_payload_conforms_to_the_rules_for_its_kind() {
    let mut failures = Vec::new();
    for (file, kind) in NHS_PAYLOADS {
        let findings = check(*kind, &load(&fixtures().join("nhs").join(file)));
        if !findings.is_empty() {
            let lines: Vec<String> = findings.iter().map(|f| format!("    {f}")).collect();
            failures.push(format!("{file} ({kind:?}):\n{}", lines.join("\n")));
        }
    }
    assert!(failures.is_empty(), "NHS payloads with findings:\n{}", failures.join("\n"));
}

#[test]
fn detect_gives_each_nhs_payload_its_kind() {
    for (file, kind) in NHS_PAYLOADS {
        let expected = if EMPTY_SEARCHSETS.contains(file) { DocumentReferenceResponse } else { *kind };
        assert_eq!(detect(&load(&fixtures().join("nhs").join(file))), Some(expected), "{file}");
    }
    for (file, kind, _, _) in NHS_REJECTED {
        assert_eq!(detect(&load(&fixtures().join("nhs").join(file))), Some(*kind), "{file}");
    }
    assert_eq!(detect(&load(&fixtures().join("nhs/sandbox/userInfo.json"))), None);
}

#[test]
fn nhs_payloads_the_backend_rejects_give_findings() {
    for (file, kind, path, message) in NHS_REJECTED {
        let findings = check(*kind, &load(&fixtures().join("nhs").join(file)));
        let first = findings.first().unwrap_or_else(|| panic!("{file}: no finding"));
        assert_eq!(first.path, *path, "{file}: {first}");
        assert!(first.message.contains(message), "{file}: {first}\n  expected to contain: {message}");
    }
}

#[test]
fn every_nhs_fixture_is_listed() {
    let listed: Vec<&str> =
        NHS_PAYLOADS.iter().map(|(f, _)| *f).chain(NHS_REJECTED.iter().map(|(f, _, _, _)| *f)).collect();
    // Not SCR payloads, or not checkable as they stand: the sandbox templates carry {{PLACEHOLDER}}s, userInfo
    // is CIS2, free_text_empty.json is rejected by the backend's FHIR parser (an empty string, the HL7
    // schema's concern, not an SCR rule).
    let skipped = [
        "sandbox/audit_event.json",
        "sandbox/post_bundle.json",
        "sandbox/set_permission.json",
        "sandbox/userInfo.json",
        "unit/alert/free_text_empty.json",
    ];
    let mut missing = Vec::new();
    let mut stack = vec![fixtures().join("nhs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let relative =
                    path.strip_prefix(fixtures().join("nhs")).map(|p| p.to_string_lossy().replace('\\', "/"));
                let relative = relative.unwrap_or_default();
                if !listed.contains(&relative.as_str()) && !skipped.contains(&relative.as_str()) {
                    missing.push(relative);
                }
            }
        }
    }
    assert!(missing.is_empty(), "NHS fixtures in no list of tests/scr_rules.rs: {missing:?}");
}

#[test]
fn every_broken_payload_gives_its_expected_first_finding() {
    let root = fixtures().join("scr-broken");
    let expected = load(&root.join("expected.json"));
    let cases = expected.as_object().unwrap_or_else(|| panic!("expected.json is not an object"));
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failures = Vec::new();
    let mut per_kind = std::collections::BTreeMap::new();
    for (file, case) in cases {
        let field = |name: &str| case.get(name).and_then(Value::as_str).unwrap_or_else(|| panic!("{file}: no {name}"));
        let kind = kind_named(field("kind"));
        *per_kind.entry(field("kind").to_owned()).or_insert(0) += 1;
        let value = load(&root.join(file));
        let findings = check(kind, &value);
        match findings.first() {
            Some(first) if first.path == field("path") && first.message.contains(field("message")) => {}
            Some(first) => failures.push(format!(
                "{file}: first finding {first}\n    expected {}: …{}…",
                field("path"),
                field("message")
            )),
            None => failures.push(format!("{file}: no finding")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(per_kind.len(), ALL_KINDS.len(), "every kind has broken cases: {per_kind:?}");
}

#[test]
fn every_broken_file_is_in_expected_json() {
    let root = fixtures().join("scr-broken");
    let expected = load(&root.join("expected.json"));
    for kind in ALL_KINDS {
        let name = serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        for entry in std::fs::read_dir(root.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}")).flatten() {
            let file = format!("{name}/{}", entry.file_name().to_string_lossy());
            assert!(expected.get(&file).is_some(), "{file} is not in expected.json");
        }
    }
}
