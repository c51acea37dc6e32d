//! What the adaptor asks Spine, and the stateful answers. The sandbox's canned answers are in
//! [`super::sandbox`]; the adaptor logic that calls these is in [`super::backend`].

use std::sync::Arc;

use serde_json::Value;

use super::state::{RecordedAlert, ScrStore, StoredScr};
use crate::clock::Clock;
use crate::scr::alert::PrivacyAlert;
use crate::scr::validate::permission::PermissionRequest;
use crate::scr::validate::upload::ValidUpload;
use crate::scr::{texts, NhsNumber, PermissionToView, ScrError};

/// Answer to the PSIS event-list query (`QUPC_IN180000SM04`) that every read and upload starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventList {
    /// Warning 210 / PSIS-30312 "Case Instance not found": the patient has no SCR (not an error).
    NotFound,
    /// PSIS 420 + 30418: ACS does not permit access.
    Forbidden,
    /// The latest SCR id and the ACS View permission (absent → `Ask`).
    Found { scr_id: String, permission: PermissionToView },
}

/// An SCR document as the event query (`QUPC_IN190000UK04`) returns it, before the adaptor wraps it.
#[derive(Debug, Clone)]
pub struct ScrDocument {
    /// Resources in Bundle order (Composition first, Patient last).
    pub resources: Vec<Value>,
    /// The Spine interaction id, returned as `Bundle.identifier`.
    pub interaction_id: String,
    pub timestamp: String,
}

/// The Spine services the adaptor uses.
pub trait Spine: Send + Sync {
    fn event_list(&self, nhs_number: &str) -> EventList;
    /// The document for `scr_id`, which the adaptor has already checked is the latest.
    fn event_query(&self, nhs_number: &str, scr_id: &str) -> Option<ScrDocument>;
    /// Stores an upload that passed validation and the consent check; `Err` is Spine's NACK.
    fn submit_scr(&self, upload: &ValidUpload, document: &Value) -> Result<(), ScrError>;
    fn set_permission(&self, request: &PermissionRequest) -> Result<(), ScrError>;
    fn send_alert(&self, alert: &PrivacyAlert, sender: &AlertSender<'_>) -> Result<(), ScrError>;
}

/// Who sent a privacy alert, as the gateway and the request tell the adaptor.
#[derive(Debug, Clone, Copy)]
pub struct AlertSender<'a> {
    /// `NHSD-Session-URID`.
    pub session_urid: &'a str,
    /// The CIS2 user id of the token (`NHSD-Identity-UUID`), when a gateway verified one.
    pub user_id: Option<&'a str>,
}

/// Spine's NACK for an NHS number it does not know: here, one that fails the Modulus 11 check
/// (reference §4.3, NHS test `ScrTest.whenSpinePollingReturnedErrorsThenExpect400`).
pub fn nack_unknown_nhs_number() -> ScrError {
    ScrError::bad_request(texts::spine_processing_errors(&[
        ("400", "Invalid Request"),
        ("35160", "[PSIS-35160] - Invalid input message. Mandatory field NHS Number is missing or incorrect"),
    ]))
}

/// Spine's NACK for an event id it already holds (reference §4.3, spec example of PSIS-30134).
pub fn nack_duplicate_event(scr_id: &str, nhs_number: &str) -> ScrError {
    let display = texts::duplicate_event(scr_id, nhs_number);
    ScrError::bad_request(texts::spine_processing_errors(&[("400", "Invalid Request"), ("30134", &display)]))
}

/// The resources of a Bundle's entries, in entry order.
pub fn bundle_resources(bundle: &Value) -> Vec<Value> {
    bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(|entries| entries.iter().filter_map(|e| e.get("resource").cloned()).collect())
        .unwrap_or_default()
}

/// Sorts document resources as the adaptor returns them: Composition first, Patient last.
pub fn document_order(resources: Vec<Value>) -> Vec<Value> {
    let kind = |r: &Value| match r.get("resourceType").and_then(Value::as_str) {
        Some("Composition") => 0,
        Some("Patient") => 2,
        _ => 1,
    };
    let mut resources = resources;
    resources.sort_by_key(kind); // stable: the order within each group is kept
    resources
}

/// Spine over the mock's own store: consent and SCR history change with every call.
pub struct StatefulSpine {
    store: Arc<ScrStore>,
    clock: Clock,
}

impl StatefulSpine {
    pub fn new(store: Arc<ScrStore>, clock: Clock) -> Self {
        Self { store, clock }
    }
}

impl Spine for StatefulSpine {
    fn event_list(&self, nhs_number: &str) -> EventList {
        let patient = self.store.summary(nhs_number);
        if patient.consent == Some(PermissionToView::No) {
            return EventList::Forbidden;
        }
        match patient.current_scr {
            None => EventList::NotFound,
            Some(scr_id) => EventList::Found { scr_id, permission: patient.consent.unwrap_or(PermissionToView::Ask) },
        }
    }

    fn event_query(&self, nhs_number: &str, scr_id: &str) -> Option<ScrDocument> {
        let scr = self.store.document(nhs_number, scr_id)?;
        // Stored from a parsed `Value`, so it parses again.
        let document: Value = serde_json::from_str(&scr.document).ok()?;
        let mut resources = document_order(bundle_resources(&document));
        // The backend's HL7→FHIR mapping returns Conditions without `subject` (every NHS read fixture).
        for r in resources.iter_mut().filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Condition")) {
            if let Some(members) = r.as_object_mut() {
                members.remove("subject");
            }
        }
        if let Some(composition) = resources.first_mut() {
            if let Some(identifier) = composition.get_mut("identifier").and_then(Value::as_object_mut) {
                identifier.insert("value".into(), Value::String(scr.id.clone()));
            }
        }
        Some(ScrDocument {
            resources,
            interaction_id: uuid::Uuid::new_v4().to_string().to_uppercase(),
            timestamp: scr.stored_at.clone(),
        })
    }

    fn submit_scr(&self, upload: &ValidUpload, document: &Value) -> Result<(), ScrError> {
        if NhsNumber::parse(&upload.nhs_number).is_err() {
            return Err(nack_unknown_nhs_number());
        }
        let scr = StoredScr {
            id: upload.composition_identifier.clone(),
            document: document.to_string(),
            stored_at: self.clock.timestamp(),
            replaces: upload.replaces.clone(),
        };
        if self.store.store_scr(&upload.nhs_number, scr) {
            Ok(())
        } else {
            Err(nack_duplicate_event(&upload.composition_identifier, &upload.nhs_number))
        }
    }

    fn set_permission(&self, request: &PermissionRequest) -> Result<(), ScrError> {
        if NhsNumber::parse(&request.nhs_number).is_err() {
            return Err(ScrError::bad_request(texts::ACS_INVALID_NHS_NUMBER));
        }
        self.store.set_consent(&request.nhs_number, Some(request.permission));
        Ok(())
    }

    /// Spine's alert endpoint accepts any NHS number: the NHS UAT pair `send_alert/success` expects 201 for
    /// 9999999998, which fails Modulus 11 (its `spine_error` twin is a stubbed Spine answer, not a rule).
    fn send_alert(&self, alert: &PrivacyAlert, sender: &AlertSender<'_>) -> Result<(), ScrError> {
        self.store.record_alert(RecordedAlert {
            alert: alert.clone(),
            session_urid: sender.session_urid.to_owned(),
            user_id: sender.user_id.map(str::to_owned),
            received_at: self.clock.timestamp(),
        });
        Ok(())
    }
}
