//! The NHS sandbox's canned Spine (reference §6): the Java adaptor run with `SCR_SANDBOX_MODE=True` answers
//! every Spine call from fixed files. We follow the code where it and the spec tables disagree.

use std::sync::LazyLock;

use serde_json::Value;

use super::spine::{bundle_resources, document_order, AlertSender, EventList, ScrDocument, Spine};
use crate::scr::alert::PrivacyAlert;
use crate::scr::validate::permission::PermissionRequest;
use crate::scr::validate::upload::ValidUpload;
use crate::scr::{texts, PermissionToView, ScrError};

/// The only NHS number the sandbox knows (`EXISTING_NHS_NUMBER`).
pub const SANDBOX_NHS_NUMBER: &str = "9000000009";
/// The SCR id of the sandbox's canned event list.
pub const SANDBOX_SCR_ID: &str = "FA60BE64-1F34-11EB-A2A8-000C29A364EB";
/// `Bundle.identifier` of the canned event query (`mock-spine/event-query/success.xml`).
pub const SANDBOX_INTERACTION_ID: &str = "D2A87C77-6A9E-11EB-A8AC-F40343488B15";
/// Timestamp of the canned event query (`20210209061954`).
pub const SANDBOX_TIMESTAMP: &str = "2021-02-09T06:19:54+00:00";
/// NHS number in the canned GP summary's `recordTarget` (reference §6, derived).
pub const SANDBOX_DOCUMENT_NHS_NUMBER: &str = "9995000180";

/// The canned document: the NHS example read response (`GetScrBundle.json`), with the Patient's NHS number
/// set to the one the sandbox's canned HL7 carries.
static CANNED_RESOURCES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    let bundle: Value =
        serde_json::from_str(include_str!("../../fixtures/nhs/examples/GetScrBundle.json")).unwrap_or(Value::Null);
    let mut resources = document_order(bundle_resources(&bundle));
    for r in &mut resources {
        if r.get("resourceType").and_then(Value::as_str) == Some("Patient") {
            if let Some(v) = r.pointer_mut("/identifier/0/value") {
                *v = Value::String(SANDBOX_DOCUMENT_NHS_NUMBER.into());
            }
        }
    }
    resources
});

/// Spine as the sandbox fakes it: stateless.
#[derive(Debug, Default)]
pub struct SandboxSpine;

impl SandboxSpine {
    pub fn new() -> Self {
        Self
    }
}

impl Spine for SandboxSpine {
    /// 9000000009 has the canned SCR with View = Yes; every other number gets the no-consent stub.
    fn event_list(&self, nhs_number: &str) -> EventList {
        if nhs_number == SANDBOX_NHS_NUMBER {
            EventList::Found { scr_id: SANDBOX_SCR_ID.into(), permission: PermissionToView::Yes }
        } else {
            EventList::Forbidden
        }
    }

    fn event_query(&self, _nhs_number: &str, _scr_id: &str) -> Option<ScrDocument> {
        Some(ScrDocument {
            resources: CANNED_RESOURCES.clone(),
            interaction_id: SANDBOX_INTERACTION_ID.into(),
            timestamp: SANDBOX_TIMESTAMP.into(),
        })
    }

    /// Reached only for 9000000009 (the event list stopped the others): always accepted.
    fn submit_scr(&self, _upload: &ValidUpload, _document: &Value) -> Result<(), ScrError> {
        Ok(())
    }

    /// `acs/success.xml` for 9000000009, `acs/incorrectNhsNumber.xml` for every other number.
    fn set_permission(&self, request: &PermissionRequest) -> Result<(), ScrError> {
        if request.nhs_number == SANDBOX_NHS_NUMBER {
            Ok(())
        } else {
            Err(ScrError::bad_request(texts::ACS_INVALID_NHS_NUMBER))
        }
    }

    fn send_alert(&self, _alert: &PrivacyAlert, _sender: &AlertSender<'_>) -> Result<(), ScrError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_document_is_composition_first_patient_last() {
        let doc = SandboxSpine.event_query(SANDBOX_NHS_NUMBER, SANDBOX_SCR_ID);
        let resources = doc.map(|d| d.resources).unwrap_or_default();
        assert!(resources.len() > 2);
        assert_eq!(resources[0]["resourceType"], "Composition");
        assert_eq!(resources[resources.len() - 1]["resourceType"], "Patient");
        assert_eq!(resources[resources.len() - 1]["identifier"][0]["value"], SANDBOX_DOCUMENT_NHS_NUMBER);
    }

    #[test]
    fn only_the_magic_number_has_consent() {
        assert!(matches!(SandboxSpine.event_list("9000000009"), EventList::Found { .. }));
        assert_eq!(SandboxSpine.event_list("9000000033"), EventList::Forbidden);
    }
}
