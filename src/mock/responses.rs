//! Response bodies the adaptor builds, with every NHS quirk (reference §4.1, §4.2, §14.3).

use serde_json::{json, Value};

use super::spine::ScrDocument;
use crate::scr::codes::{
    ACS_PERMISSION_SYSTEM, GP_SUMMARY_CODE, GP_SUMMARY_DISPLAY_RETURNED, NHS_NUMBER_SYSTEM, RFC4122_SYSTEM,
    SCR_UUID_SYSTEM, SNOMED_SYSTEM,
};
use crate::scr::PermissionToView;

/// A resource id as the adaptor makes one: a random UUID in upper case (`J/utils/FhirHelper.randomUUID`, used
/// by `J/services/GetScrService.java` for the Bundle, the DocumentReference and the Patient).
fn new_id() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

/// Search result without an SCR: `total` 0 and **no** `entry` member.
pub fn empty_searchset() -> Value {
    json!({ "resourceType": "Bundle", "id": new_id(), "type": "searchset", "total": 0 })
}

/// `GET /DocumentReference` with an SCR: the DocumentReference (leading-space display, `/FHIR/R4` in the
/// attachment URL, consent as `securityLabel`) and a Patient whose `fullUrl` is a bare UUID.
pub fn document_reference_bundle(
    base_url: &str,
    nhs_number: &str,
    scr_id: &str,
    permission: PermissionToView,
) -> Value {
    let doc_id = new_id();
    let patient_id = new_id();
    let gp_summary = json!({ "coding": [{
        "system": SNOMED_SYSTEM, "code": GP_SUMMARY_CODE, "display": GP_SUMMARY_DISPLAY_RETURNED
    }]});
    json!({
        "resourceType": "Bundle",
        "id": new_id(),
        "type": "searchset",
        "total": 1,
        "entry": [
            {
                "fullUrl": format!("{base_url}/DocumentReference/{doc_id}"),
                "resource": {
                    "resourceType": "DocumentReference",
                    "id": doc_id,
                    "masterIdentifier": { "system": SCR_UUID_SYSTEM, "value": scr_id },
                    "status": "current",
                    "type": gp_summary,
                    "subject": { "reference": format!("Patient/{patient_id}") },
                    "securityLabel": [{ "coding": [{ "system": ACS_PERMISSION_SYSTEM, "code": permission.as_str() }] }],
                    "content": [{ "attachment": { "url": format!(
                        "{base_url}/Bundle?composition.identifier={scr_id}&composition.subject:Patient.identifier={NHS_NUMBER_SYSTEM}|{nhs_number}"
                    ) } }],
                    "context": { "event": [gp_summary] }
                },
                "search": { "mode": "match" }
            },
            {
                "fullUrl": patient_id,
                "resource": {
                    "resourceType": "Patient",
                    "id": patient_id,
                    "identifier": [{ "system": NHS_NUMBER_SYSTEM, "value": nhs_number }]
                }
            }
        ]
    })
}

/// `GET /Bundle` with the latest id: the document as a searchset whose `total` counts its entries and whose
/// every `fullUrl` is `<base>/<Type>/<id>`.
pub fn scr_document_bundle(base_url: &str, document: ScrDocument) -> Value {
    let entries: Vec<Value> = document
        .resources
        .into_iter()
        .map(|mut resource| {
            let kind = resource.get("resourceType").and_then(Value::as_str).unwrap_or("Resource").to_owned();
            let id = match resource.get("id").and_then(Value::as_str) {
                Some(id) => id.to_owned(),
                None => {
                    let id = new_id();
                    if let Some(obj) = resource.as_object_mut() {
                        obj.insert("id".into(), Value::String(id.clone()));
                    }
                    id
                }
            };
            json!({ "fullUrl": format!("{base_url}/{kind}/{id}"), "resource": resource })
        })
        .collect();
    json!({
        "resourceType": "Bundle",
        "id": new_id(),
        "identifier": { "system": RFC4122_SYSTEM, "value": document.interaction_id },
        "type": "searchset",
        "timestamp": document.timestamp,
        "total": entries.len(),
        "entry": entries
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_searchset_has_no_entry_member() {
        let b = empty_searchset();
        assert_eq!(b["total"], 0);
        assert!(b.get("entry").is_none());
    }

    #[test]
    fn document_reference_keeps_the_nhs_quirks() {
        let b = document_reference_bundle(
            "http://h/summary-care-record/FHIR/R4",
            "9000000009",
            "ABC",
            PermissionToView::Ask,
        );
        assert_eq!(b["entry"][0]["resource"]["type"]["coding"][0]["display"], " General Practice Summary");
        let url = b["entry"][0]["resource"]["content"][0]["attachment"]["url"].as_str().unwrap_or_default();
        assert!(url.starts_with("http://h/summary-care-record/FHIR/R4/Bundle?composition.identifier=ABC&"));
        assert_eq!(b["entry"][1]["fullUrl"], b["entry"][1]["resource"]["id"]);
        assert_eq!(b["entry"][0]["resource"]["securityLabel"][0]["coding"][0]["code"], "Ask");
        for pointer in ["/id", "/entry/0/resource/id", "/entry/1/resource/id"] {
            let id = b.pointer(pointer).and_then(Value::as_str).unwrap_or_default();
            assert!(uuid::Uuid::parse_str(id).is_ok() && id == id.to_uppercase(), "{pointer}: {id}");
        }
    }
}
