//! What the adaptor asks Spine, and the stateful answers. The sandbox's canned answers are in
//! [`super::sandbox`]; the adaptor logic that calls these is in [`super::backend`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::operation::Operation;
use super::state::{RecordedAlert, ScrStore, StoredScr};
use crate::clock::Clock;
use crate::scr::alert::PrivacyAlert;
use crate::scr::validate::permission::PermissionRequest;
use crate::scr::validate::upload::ValidUpload;
use crate::scr::{texts, IssueCode, NhsNumber, PermissionToView, ScrError};

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

// ---------------------------------------------------------------------------------------------------------
// Spine answers arranged through `/_admin/spine` (mock-only): what the adaptor makes of an error from Spine.
// ---------------------------------------------------------------------------------------------------------

/// One `justifyingDetectedIssueEvent` of a Spine HL7 answer: the PSIS code, its display name, and whether its
/// qualifier is `ER` (an error; anything else, e.g. the 210 "Case Instance not found" warning, is not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectedIssue {
    pub code: String,
    pub display: String,
    #[serde(default = "error_qualifier")]
    pub error: bool,
}

fn error_qualifier() -> bool {
    true
}

/// What the adaptor answers for Spine's detected issues (`J/services/SpineDetectedIssuesHandler.java`
/// `handleDetectedIssues`, reference §5): nothing unless the **first** issue is an error; then every issue
/// joined by `;` as `Code: <code>, Display: <display>`, with the status the first code decides — PSIS 400,
/// 401, 410, 430 → 400 `value`; 420 → 403 `forbidden`; 502 → 503 `transient`; any other → 500 `exception`
/// (fatal, `UnexpectedSpineResponseException`).
pub fn detected_issues_error(issues: &[DetectedIssue]) -> Option<ScrError> {
    let first = issues.first().filter(|i| i.error)?;
    let text = issues.iter().map(|i| format!("Code: {}, Display: {}", i.code, i.display)).collect::<Vec<_>>().join(";");
    Some(match first.code.as_str() {
        "400" | "401" | "410" | "430" => ScrError::bad_request(text),
        "420" => ScrError::new(403, IssueCode::Forbidden, text),
        "502" => ScrError::new(503, IssueCode::Transient, text),
        _ => ScrError::internal(text),
    })
}

/// What the adaptor answers when Spine's FHIR alert endpoint does not answer 2xx (`J/services/AlertService.java`
/// `sendAlert`, reference §4.5): the text is Spine's `issue[0].details.coding[0].display`; a 4xx → 400 `value`,
/// anything else → 500 `exception` (fatal, `UnexpectedSpineResponseException`). `None` for a 2xx.
pub fn alert_error(status: u16, display: &str) -> Option<ScrError> {
    match status {
        200..=299 => None,
        400..=499 => Some(ScrError::bad_request(display)),
        _ => Some(ScrError::internal(display)),
    }
}

/// A Spine answer arranged for the next request of one operation about one patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArrangedAnswer {
    pub operation: Operation,
    pub nhs_number: String,
    pub answer: SpineAnswer,
}

/// The arranged answer itself: detected issues on an HL7 interaction (the event list of `get-scr-id`,
/// `get-scr` and `upload-scr`; ACS for `set-permission`), or the HTTP status and display of the FHIR alert
/// endpoint (`send-alert`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SpineAnswer {
    DetectedIssues(Vec<DetectedIssue>),
    AlertError { status: u16, display: String },
}

impl ArrangedAnswer {
    /// The adaptor's answer for this Spine answer, if it is an error.
    pub fn error(&self) -> Option<ScrError> {
        match &self.answer {
            SpineAnswer::DetectedIssues(issues) => detected_issues_error(issues),
            SpineAnswer::AlertError { status, display } => alert_error(*status, display),
        }
    }

    /// Parses a `POST /_admin/spine` body: `{"operation", "nhsNumber", "issues": [{"code", "display",
    /// "error"?}]}` for `get-scr-id`, `get-scr`, `upload-scr`, `set-permission`, or `{"operation": "send-alert",
    /// "nhsNumber", "status", "display"}`. The message says what is wrong.
    pub fn from_admin_json(body: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
        let text = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("'{name}' must be a non-empty string"))
        };
        let operation: Operation = text("operation")?.parse().map_err(|_| {
            "'operation' must be get-scr-id, get-scr, upload-scr, set-permission or send-alert".to_owned()
        })?;
        let nhs_number = text("nhsNumber")?.to_owned();
        let answer = match operation {
            Operation::SendAlert => {
                let status = value
                    .get("status")
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok())
                    .filter(|s| (100..=599).contains(s))
                    .ok_or("'status' must be an HTTP status (100-599)")?;
                SpineAnswer::AlertError { status, display: text("display")?.to_owned() }
            }
            Operation::Token => return Err("'operation' must be an SCR operation, not token".into()),
            _ => {
                let issues: Vec<DetectedIssue> =
                    serde_json::from_value(value.get("issues").cloned().unwrap_or(Value::Null))
                        .map_err(|e| format!("'issues' must be [{{\"code\", \"display\", \"error\"?}}]: {e}"))?;
                if issues.is_empty() {
                    return Err("'issues' must hold at least one issue".into());
                }
                SpineAnswer::DetectedIssues(issues)
            }
        };
        Ok(Self { operation, nhs_number, answer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(code: &str, display: &str) -> DetectedIssue {
        DetectedIssue { code: code.into(), display: display.into(), error: true }
    }

    #[test]
    fn the_first_detected_issue_decides_the_status_and_all_are_joined() {
        let second = issue("35120", "[PSIS-35120] - second");
        let rows: &[(&str, u16, &str, &str)] = &[
            ("400", 400, "value", "error"),
            ("401", 400, "value", "error"),
            ("410", 400, "value", "error"),
            ("430", 400, "value", "error"),
            ("420", 403, "forbidden", "error"),
            ("502", 503, "transient", "error"),
            ("500", 500, "exception", "fatal"),
            ("440", 500, "exception", "fatal"),
            ("30312", 500, "exception", "fatal"),
        ];
        for (code, status, issue_code, severity) in rows {
            let e = detected_issues_error(&[issue(code, "first"), second.clone()]).expect("an error");
            assert_eq!((e.status, e.code.as_str(), e.severity), (*status, *issue_code, *severity), "{code}");
            assert_eq!(e.text, format!("Code: {code}, Display: first;Code: 35120, Display: [PSIS-35120] - second"));
        }
        // the NHS ACS fixture's text is this join (IT/uat/set_acs/spine_error/1-nhsNumberNotFound.response.json)
        let acs = detected_issues_error(&[
            issue("400", "Invalid Request"),
            issue("35160", "[PSIS-35160] - Invalid input message. Mandatory field NHS Number is missing or incorrect"),
        ]);
        assert_eq!(acs.map(|e| e.text), Some(texts::ACS_INVALID_NHS_NUMBER.to_owned()));
    }

    #[test]
    fn a_warning_first_or_no_issue_is_not_an_error() {
        let warning = DetectedIssue { code: "210".into(), display: "Case Instance not found".into(), error: false };
        assert_eq!(detected_issues_error(&[warning, issue("400", "x")]), None);
        assert_eq!(detected_issues_error(&[]), None);
    }

    #[test]
    fn the_alert_endpoint_maps_4xx_to_400_and_the_rest_to_500() {
        let display = "Invalid value - XYZ in field 'NHS_NUMBER'";
        assert_eq!(alert_error(201, display), None);
        let e = alert_error(422, display).expect("an error");
        assert_eq!((e.status, e.code.as_str(), e.text.as_str()), (400, "value", display));
        for status in [500, 502, 503, 302] {
            let e = alert_error(status, display).expect("an error");
            assert_eq!((e.status, e.code.as_str(), e.severity), (500, "exception", "fatal"), "{status}");
        }
    }

    #[test]
    fn admin_bodies_are_parsed_or_refused_with_a_reason() {
        let ok = ArrangedAnswer::from_admin_json(
            br#"{"operation":"get-scr-id","nhsNumber":"9000000009","issues":[{"code":"401","display":"d"}]}"#,
        );
        assert_eq!(
            ok.as_ref().map(|a| (&a.operation, a.error().map(|e| e.status))),
            Ok((&Operation::GetScrId, Some(400)))
        );
        let alert = ArrangedAnswer::from_admin_json(
            br#"{"operation":"send-alert","nhsNumber":"1","status":503,"display":"Service Unavailable"}"#,
        );
        assert_eq!(alert.ok().and_then(|a| a.error()).map(|e| e.status), Some(500));
        for bad in [
            &br#"{"operation":"token","nhsNumber":"1","issues":[{"code":"1","display":"d"}]}"#[..],
            br#"{"operation":"get-scr","nhsNumber":"1","issues":[]}"#,
            br#"{"operation":"get-scr","nhsNumber":"1"}"#,
            br#"{"operation":"send-alert","nhsNumber":"1","status":99,"display":"d"}"#,
            br#"{"operation":"send-alert","nhsNumber":"1","status":400}"#,
            br#"{"operation":"nope","nhsNumber":"1"}"#,
            br#"{"operation":"get-scr"}"#,
            b"not json",
        ] {
            assert!(ArrangedAnswer::from_admin_json(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
