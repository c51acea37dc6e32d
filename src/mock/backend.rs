//! The Java adaptor's part (reference §4): for each operation, the checks in the adaptor's order, then the
//! Spine calls. Everything here is independent of HTTP plumbing ([`super::transport`] does that).

use std::sync::LazyLock;

use axum::http::HeaderMap;
use serde_json::Value;

use super::audit::Recording;
use super::gateway::CallerIdentity;
use super::operation::Operation;
use super::responses;
use super::spine::AlertSender;
use super::spine::EventList;
use super::AppState;
use crate::scr::validate::{alert, parse, permission, query, upload};
use crate::scr::{texts, PermissionToView, ScrError};

/// A successful answer of the adaptor.
#[derive(Debug)]
pub enum Answer {
    /// 200 with a FHIR body.
    Ok(Value),
    /// 201 with an empty body.
    Created,
}

pub const SESSION_URID: &str = "NHSD-Session-URID";
pub const AUTHORIZATION: &str = "Authorization";

fn require_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, ScrError> {
    headers.get(name).and_then(|v| v.to_str().ok()).ok_or_else(|| ScrError::bad_request(texts::missing_header(name)))
}

/// What the event list tells the audit trail: the permission in force (`No` for a dissent refusal).
fn note_event_list(rec: &mut Recording<'_>, list: &EventList) {
    match list {
        EventList::Forbidden => rec.permission(PermissionToView::No),
        EventList::Found { permission, .. } => rec.permission(*permission),
        EventList::NotFound => {}
    }
}

/// The error the adaptor answers for a Spine answer arranged (mock-only, `/_admin/spine`) for this request's
/// first Spine call, if one was arranged and it is an error. Called after `rec.serialise()`, where the Spine
/// call would be.
fn arranged_spine_error(app: &AppState, operation: Operation, nhs_number: &str) -> Result<(), ScrError> {
    match app.store.take_spine_answer(operation, nhs_number).and_then(|a| a.error()) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// `GET /DocumentReference` (reference §4.1).
pub fn get_document_reference(
    app: &AppState,
    params: &[(String, String)],
    rec: &mut Recording<'_>,
) -> Result<Answer, ScrError> {
    let nhs = query::document_reference_query(params)?;
    rec.patient(&nhs);
    rec.serialise();
    arranged_spine_error(app, Operation::GetScrId, &nhs)?;
    let list = app.spine.event_list(&nhs);
    note_event_list(rec, &list);
    match list {
        EventList::Forbidden => Err(ScrError::no_consent()),
        EventList::NotFound => Ok(Answer::Ok(responses::empty_searchset())),
        EventList::Found { scr_id, permission } => {
            Ok(Answer::Ok(responses::document_reference_bundle(&app.base_url(), &nhs, &scr_id, permission)))
        }
    }
}

/// `GET /Bundle` (reference §4.2): the document only for the latest id, compared case-sensitively.
pub fn get_bundle(app: &AppState, params: &[(String, String)], rec: &mut Recording<'_>) -> Result<Answer, ScrError> {
    let (requested, nhs) = query::bundle_query(params)?;
    rec.patient(&nhs);
    rec.serialise();
    arranged_spine_error(app, Operation::GetScr, &nhs)?;
    let list = app.spine.event_list(&nhs);
    note_event_list(rec, &list);
    match list {
        EventList::Forbidden => Err(ScrError::no_consent()),
        EventList::Found { scr_id, .. } if scr_id == requested => match app.spine.event_query(&nhs, &scr_id) {
            Some(document) => Ok(Answer::Ok(responses::scr_document_bundle(&app.base_url(), document))),
            None => Ok(Answer::Ok(responses::empty_searchset())),
        },
        _ => Ok(Answer::Ok(responses::empty_searchset())),
    }
}

/// `POST /Bundle` (reference §4.3): headers, strict parse, mapping validation, consent, then Spine.
pub fn post_bundle(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    rec: &mut Recording<'_>,
) -> Result<Answer, ScrError> {
    require_header(headers, SESSION_URID)?;
    let document = parse::parse_resource(body, "Bundle")?;
    let upload = upload::validate_upload(&document)?;
    rec.patient(&upload.nhs_number);
    // The consent check and the store happen with no other recorded operation in between.
    rec.serialise();
    arranged_spine_error(app, Operation::UploadScr, &upload.nhs_number)?;
    let list = app.spine.event_list(&upload.nhs_number);
    note_event_list(rec, &list);
    if list == EventList::Forbidden {
        return Err(ScrError::no_consent());
    }
    app.spine.submit_scr(&upload, &document)?;
    Ok(Answer::Created)
}

/// `POST /$setPermission` (reference §4.4). The backend needs an `Authorization` header even in the sandbox.
pub fn set_permission(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    caller: Option<&CallerIdentity>,
    rec: &mut Recording<'_>,
) -> Result<Answer, ScrError> {
    let urid = require_header(headers, SESSION_URID)?;
    require_header(headers, AUTHORIZATION)?;
    let parameters = parse::parse_resource(body, "Parameters")?;
    let request = permission::validate_set_permission(&parameters)?;
    rec.patient(&request.nhs_number);
    rec.permission(request.permission);
    // Job role: the user's userinfo roles when a token names the user; else the sandbox's canned userinfo.
    let role_code = match caller.filter(|c| !c.roles.is_empty()) {
        Some(c) => c.roles.iter().find(|r| r.person_roleid == urid).map(|r| r.role_code.clone()),
        None => job_role_code(urid),
    };
    if role_code.is_none() {
        return Err(ScrError::bad_request(texts::no_job_role_code(urid)));
    }
    rec.serialise();
    arranged_spine_error(app, Operation::SetPermission, &request.nhs_number)?;
    app.spine.set_permission(&request)?;
    Ok(Answer::Created)
}

/// `POST /AuditEvent` (reference §4.5).
pub fn post_audit_event(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    caller: Option<&CallerIdentity>,
    rec: &mut Recording<'_>,
) -> Result<Answer, ScrError> {
    let urid = require_header(headers, SESSION_URID)?;
    let event = parse::parse_resource(body, "AuditEvent")?;
    let mut alert = alert::validate_alert(&event)?;
    rec.patient(&alert.nhs_number);
    rec.alert(&alert.alert_type, &alert.alert_subtype);
    // Without `source.observer` the adaptor names the caller's ASID as the observer (reference §4.5).
    if alert.observer_asid.is_none() {
        alert.observer_asid = caller.and_then(|c| c.asid.clone());
    }
    let sender = AlertSender { session_urid: urid, user_id: caller.and_then(|c| c.user_id.as_deref()) };
    rec.serialise();
    arranged_spine_error(app, Operation::SendAlert, &alert.nhs_number)?;
    app.spine.send_alert(&alert, &sender)?;
    Ok(Answer::Created)
}

/// The canned CIS2 userinfo the sandbox uses to find the job role of `NHSD-Session-URID`
/// (`fixtures/nhs/sandbox/userInfo.json`, reference §6): used where no gateway names the caller (the sandbox
/// profile and open access); behind the gateway the token user's own roles are used.
static USER_INFO: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../fixtures/nhs/sandbox/userInfo.json")).unwrap_or(Value::Null)
});

/// The `role_code` of the user's role whose `person_roleid` is `urid`, as the adaptor looks it up.
pub fn job_role_code(urid: &str) -> Option<String> {
    USER_INFO
        .get("nhsid_nrbac_roles")?
        .as_array()?
        .iter()
        .find(|r| r.get("person_roleid").and_then(Value::as_str) == Some(urid))
        .and_then(|r| r.get("role_code").and_then(Value::as_str))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_sandbox_roles_resolve_and_others_do_not() {
        for urid in ["555254240100", "555254242102", "555254241101"] {
            assert!(job_role_code(urid).is_some(), "{urid}");
        }
        assert_eq!(job_role_code("123456789012"), None);
    }
}
