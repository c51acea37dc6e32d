//! Valid request bodies built from the NHS examples (fixtures/nhs/examples, MIT), parsed once. Each builder
//! returns a body that passes the matching validator in [`validate`](super::validate); scenarios then break
//! it with the change language ([`patch`](super::patch)).

use std::sync::LazyLock;

use serde_json::{json, Value};

use super::alert::{AlertReason, AlertType};
use super::codes;

/// The NHS upload example, made FHIR-conformant (the NHS backend minds none of these; `fhir::conformance`
/// tolerates them in NHS's own payloads, but the harness's requests are held to R4):
/// - its Conditions lack `subject` (1..1 in R4): each is given a reference to the Bundle's Patient;
/// - its Composition lacks `title` (1..1): it is given the Composition type's display, "General Practice Summary";
/// - its Conditions code `clinicalStatus` with the value set's URL as the coding system
///   (`http://hl7.org/fhir/ValueSet/condition-clinical`), so no coding is in the required value set: the system
///   becomes the code system's URL, [`CONDITION_CLINICAL_SYSTEM`].
static UPLOAD_BUNDLE: LazyLock<Value> = LazyLock::new(|| {
    let mut bundle: Value = serde_json::from_str(include_str!("../../fixtures/nhs/examples/UploadScrBundle.json"))
        .expect("fixtures/nhs/examples/UploadScrBundle.json is valid JSON");
    let patient =
        resource_mut(&mut bundle, "Patient").and_then(|p| p.get("id")).and_then(Value::as_str).map(str::to_owned);
    if let Some(members) = resource_mut(&mut bundle, "Composition").and_then(Value::as_object_mut) {
        members.entry("title").or_insert_with(|| json!("General Practice Summary"));
    }
    if let (Some(patient), Some(entries)) = (patient, bundle.get_mut("entry").and_then(Value::as_array_mut)) {
        for resource in entries.iter_mut().filter_map(|e| e.get_mut("resource")) {
            let is_condition = resource.get("resourceType").and_then(Value::as_str) == Some("Condition");
            if let (true, Some(members)) = (is_condition, resource.as_object_mut()) {
                members.entry("subject").or_insert_with(|| json!({ "reference": format!("Patient/{patient}") }));
                let codings = members.get_mut("clinicalStatus").and_then(|c| c.get_mut("coding"));
                for coding in codings.and_then(Value::as_array_mut).into_iter().flatten() {
                    if coding.get("system").and_then(Value::as_str) == Some(CONDITION_CLINICAL_VALUE_SET) {
                        coding["system"] = json!(CONDITION_CLINICAL_SYSTEM);
                    }
                }
            }
        }
    }
    bundle
});

/// The value set URL NHS's examples use as the system of `Condition.clinicalStatus` codings.
const CONDITION_CLINICAL_VALUE_SET: &str = "http://hl7.org/fhir/ValueSet/condition-clinical";

/// The code system of `Condition.clinicalStatus` (R4 `ValueSet-condition-clinical.json`'s only include).
pub const CONDITION_CLINICAL_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";

static SET_PERMISSION: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../fixtures/nhs/examples/SetPermission.json"))
        .expect("fixtures/nhs/examples/SetPermission.json is valid JSON")
});

static AUDIT_EVENT: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../fixtures/nhs/examples/AuditEvent.json"))
        .expect("fixtures/nhs/examples/AuditEvent.json is valid JSON")
});

/// The resource of the first entry of that type, for editing.
fn resource_mut<'a>(bundle: &'a mut Value, resource_type: &str) -> Option<&'a mut Value> {
    bundle
        .get_mut("entry")?
        .as_array_mut()?
        .iter_mut()
        .filter_map(|e| e.get_mut("resource"))
        .find(|r| r.get("resourceType").and_then(Value::as_str) == Some(resource_type))
}

/// Sets `value` on every identifier of `identifiers` whose system is `system`.
fn set_identifier_value(identifiers: Option<&mut Value>, system: &str, value: &str) {
    for identifier in identifiers.and_then(Value::as_array_mut).into_iter().flatten() {
        if identifier.get("system").and_then(Value::as_str) == Some(system) {
            identifier["value"] = json!(value);
        }
    }
}

/// `POST /Bundle` body: the NHS `UploadScrBundle.json` (made R4-conformant: see `UPLOAD_BUNDLE`) for patient `nhs`, with `Composition.identifier.value`
/// = `composition_identifier` (Composition.id and fullUrl kept), a fresh upper-case `Bundle.identifier`,
/// and `relatesTo` = `replaces <id>` or absent.
pub fn upload_bundle(nhs: &str, composition_identifier: &str, replaces: Option<&str>) -> Value {
    let mut bundle = UPLOAD_BUNDLE.clone();
    bundle["identifier"]["value"] = json!(uuid::Uuid::new_v4().to_string().to_uppercase());
    if let Some(patient) = resource_mut(&mut bundle, "Patient") {
        set_identifier_value(patient.get_mut("identifier"), codes::NHS_NUMBER_SYSTEM, nhs);
    }
    if let Some(composition) = resource_mut(&mut bundle, "Composition") {
        composition["identifier"]["value"] = json!(composition_identifier);
        match (composition.as_object_mut(), replaces) {
            (Some(members), None) => {
                members.remove("relatesTo");
            }
            (Some(members), Some(previous)) => {
                members.insert(
                    "relatesTo".into(),
                    json!([{ "code": "replaces", "targetIdentifier": { "value": previous } }]),
                );
            }
            (None, _) => {}
        }
    }
    bundle
}

/// `POST /$setPermission` body: the NHS `SetPermission.json` with `nhsNumber` = `nhs` and the permission code
/// `code` (sent as given: `Yes`, `No`, `Ask`, or anything a scenario wants to try).
pub fn set_permission(nhs: &str, code: &str) -> Value {
    let mut params = SET_PERMISSION.clone();
    let parts = params.pointer_mut("/parameter/0/part").and_then(Value::as_array_mut);
    for part in parts.into_iter().flatten() {
        match part.get("name").and_then(Value::as_str) {
            Some("nhsNumber") => part["valueString"] = json!(nhs),
            Some("permissionCode") => part["valueCoding"]["code"] = json!(code),
            _ => {}
        }
    }
    params
}

/// `POST /AuditEvent` body: the NHS `AuditEvent.json` with the patient agent `nhs`, the type and subtype codes
/// (displays from [`AlertType`]/[`AlertReason`] when the code is known, else the example's kept),
/// `entity.what.identifier.value` = `what`, and the notification `Alert: Permission to view override <what>`.
pub fn privacy_alert(nhs: &str, alert_type: &str, subtype: &str, what: &str) -> Value {
    let mut event = AUDIT_EVENT.clone();
    for agent in event.get_mut("agent").and_then(Value::as_array_mut).into_iter().flatten() {
        let who = agent.pointer_mut("/who/identifier");
        if let Some(identifier) =
            who.filter(|i| i.get("system").and_then(Value::as_str) == Some(codes::NHS_NUMBER_SYSTEM))
        {
            identifier["value"] = json!(nhs);
        }
    }
    event["type"]["code"] = json!(alert_type);
    if let Some(t) = AlertType::from_code(alert_type) {
        event["type"]["display"] = json!(t.display());
    }
    if let Some(coding) = event.pointer_mut("/subtype/0") {
        coding["code"] = json!(subtype);
        if let Some(r) = AlertReason::from_code(subtype) {
            coding["display"] = json!(r.display());
        }
    }
    if let Some(identifier) = event.pointer_mut("/entity/0/what/identifier") {
        identifier["value"] = json!(what);
    }
    if let Some(extension) = event.pointer_mut("/extension/0") {
        extension["valueString"] = json!(format!("Alert: Permission to view override {what}"));
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scr::alert::is_permitted;
    use crate::scr::validate::{alert, parse, permission, upload};
    use crate::scr::PermissionToView;

    /// Serialises and re-parses as the mock would, so the strict-parser stand-in is exercised too.
    fn reparsed(body: &Value, resource_type: &str) -> Value {
        match parse::parse_resource(body.to_string().as_bytes(), resource_type) {
            Ok(v) => v,
            Err(e) => panic!("{resource_type}: {e}"),
        }
    }

    #[test]
    fn upload_bundle_is_valid_without_relates_to() {
        let body = upload_bundle("9000000033", "5b7c3a1e-0000-4000-8000-000000000001", None);
        let valid = upload::validate_upload(&reparsed(&body, "Bundle"));
        assert_eq!(
            valid,
            Ok(upload::ValidUpload {
                nhs_number: "9000000033".into(),
                composition_identifier: "5B7C3A1E-0000-4000-8000-000000000001".into(),
                replaces: None,
                patient_id: Some("565B3BEF-9A19-4763-8887-9F7CB75995E3".into()),
            })
        );
        assert!(body.pointer("/entry/0/resource/relatesTo").is_none());
    }

    #[test]
    fn upload_bundle_is_valid_fhir_r4_with_nothing_tolerated() {
        let validator = crate::fhir::schema::FhirValidator::shared().expect("the model builds");
        let body = upload_bundle("9000000033", "5b7c3a1e-0000-4000-8000-000000000001", Some("X"));
        assert_eq!(validator.validate(&body), vec![]);
        // The NHS example itself is not: its Composition has no title, its Conditions no subject and the value set
        // URL as clinicalStatus system.
        let nhs: Value =
            serde_json::from_str(include_str!("../../fixtures/nhs/examples/UploadScrBundle.json")).expect("JSON");
        let findings = validator.validate(&nhs);
        assert!(findings.iter().any(|f| f.message == "\"title\" is a required property"), "{findings:?}");
        assert!(findings.iter().any(|f| f.path.ends_with("/clinicalStatus")), "{findings:?}");
    }

    #[test]
    fn upload_bundle_replaces_and_has_a_fresh_upper_case_bundle_identifier() {
        let a = upload_bundle("9000000009", "ID-1", Some("OLD-1"));
        let b = upload_bundle("9000000009", "ID-1", Some("OLD-1"));
        let valid = upload::validate_upload(&reparsed(&a, "Bundle"));
        assert_eq!(valid.map(|u| u.replaces), Ok(Some("OLD-1".to_owned())));
        let id_a = a.pointer("/identifier/value").and_then(Value::as_str).unwrap_or_default();
        let id_b = b.pointer("/identifier/value").and_then(Value::as_str).unwrap_or_default();
        assert_ne!(id_a, id_b);
        assert!(uuid::Uuid::parse_str(id_a).is_ok() && id_a == id_a.to_uppercase(), "{id_a}");
        assert_eq!(
            a.pointer("/entry/0/resource/relatesTo"),
            Some(&json!([{ "code": "replaces", "targetIdentifier": { "value": "OLD-1" } }]))
        );
    }

    #[test]
    fn set_permission_is_valid_for_every_code() {
        for (code, permission) in
            [("Yes", PermissionToView::Yes), ("No", PermissionToView::No), ("Ask", PermissionToView::Ask)]
        {
            let body = set_permission("9000000033", code);
            let valid = permission::validate_set_permission(&reparsed(&body, "Parameters"));
            assert_eq!(valid.map(|r| (r.nhs_number, r.permission)), Ok(("9000000033".to_owned(), permission)));
        }
        assert!(permission::validate_set_permission(&set_permission("9000000009", "Maybe")).is_err());
    }

    #[test]
    fn privacy_alert_is_valid_for_every_permitted_pair() {
        for t in AlertType::ALL {
            for r in AlertReason::ALL {
                let body = privacy_alert("9000000033", t.code(), r.code(), "SCR-ID-1");
                let result = alert::validate_alert(&reparsed(&body, "AuditEvent"));
                if !is_permitted(t, r) {
                    assert!(result.is_err(), "{t}/{r}");
                    continue;
                }
                let a = match result {
                    Ok(a) => a,
                    Err(e) => panic!("{t}/{r}: {e}"),
                };
                assert_eq!(
                    (a.nhs_number.as_str(), a.alert_type.as_str(), a.alert_subtype.as_str(), a.what.as_str()),
                    ("9000000033", t.code(), r.code(), "SCR-ID-1")
                );
                assert_eq!(a.notification, "Alert: Permission to view override SCR-ID-1");
                assert_eq!(body["type"]["display"], t.display());
                assert_eq!(body["subtype"][0]["display"], r.display());
            }
        }
    }

    #[test]
    fn privacy_alert_keeps_unknown_codes_for_negative_scenarios() {
        let body = privacy_alert("9000000009", "9", "0", "X");
        assert_eq!((body["type"]["code"].as_str(), body["subtype"][0]["code"].as_str()), (Some("9"), Some("0")));
        assert_eq!(
            alert::validate_alert(&body).err().map(|e| e.text),
            Some("Invalid or missing value in field 'type.code'. Supported values are: 1, 2".to_owned())
        );
    }
}
