//! What the Then steps assert, as plain functions over a recorded response, so that unit tests reach them.
//! Each returns `Err` with a message that says what was expected and what came back.
//!
//! No expectation here comes from the code that produces the answer: the mock answers with `scr::texts`, so
//! an exact NHS text a check compares against is a literal below, copied from an NHS artefact (cited), and
//! `tests/scenario_honesty.rs` holds each literal to that artefact and to `scr::texts` — a drift on either
//! side fails there, not silently in both. The same test refuses a new `texts::` in the steps or here.

use serde_json::Value;

use crate::client::{RecordedResponse, TransportFault};
use crate::scr::codes::{ACS_PERMISSION_SYSTEM, BASE_PATH, GP_SUMMARY_CODE, NHS_NUMBER_SYSTEM, SCR_UUID_SYSTEM};
use crate::scr::outcome::first_issue;

/// Spine's refusal when ACS forbids access (PSIS-420/30418, with the double space in "control  which"), as in
/// `fixtures/nhs/uat/get_scr_id/no_consent/1-basic.response.json` (`details.text`).
pub const NO_CONSENT_TEXT: &str = "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource";

/// The live proxy's catch-all diagnostics around its Message ID, from
/// `summary-care-record-api/proxies/live/apiproxy/policies/AssignMessage.Errors.Default.xml`
/// (`scr.error.diagnostics`: `… (Message ID: {messageid})`).
pub const UNKNOWN_ERROR_DIAGNOSTICS_BEFORE_ID: &str = "An unknown error occurred processing this request. Contact us for assistance diagnosing this issue: https://digital.nhs.uk/developer/help-and-support. (Message ID: ";
pub const UNKNOWN_ERROR_DIAGNOSTICS_AFTER_ID: &str = ")";

/// The display the NHS backend gives the GP Summary type on the SCR id (with its leading space), as in
/// `fixtures/nhs/uat/get_scr_id/success/1-basic.response.json` (`type.coding[0].display`).
pub const GP_SUMMARY_DISPLAY_AS_RETURNED: &str = " General Practice Summary";

/// Spine's PSIS-30134 NACK of an upload whose event id it already holds, as the adaptor reports a Spine NACK:
/// `Spine processing finished with errors:` then one `- code: display` line per error (reference §4.3;
/// `ScrTest.whenSpinePollingReturnedErrorsThenExpect400`), the 30134 display as in the specification's example
/// (`summary-care-record-api/specification/summary-care-record.yaml`, POST /Bundle 400).
pub fn duplicate_event_text(scr_id: &str, nhs_number: &str) -> String {
    format!(
        "Spine processing finished with errors:\n- 400: Invalid Request\n- 30134: [PSIS-30134] - Duplicate event with \
         eventId {scr_id} and nhsNumber {nhs_number}."
    )
}

pub type Check = Result<(), String>;

fn body_json(r: &RecordedResponse) -> Result<Value, String> {
    json_body(r)
}

/// The start of a body for a message: at most 200 characters, secrets redacted.
fn abbreviate(text: &str) -> String {
    crate::client::excerpt(text)
}

/// Whether a media type is JSON: `application/json`, `application/fhir+json`, any `…+json`.
fn is_json_media(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// The `<title>` of an HTML page, if the body is one (a proxy's or load balancer's error page).
fn html_title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let trimmed = lower.trim_start();
    if !(trimmed.starts_with("<!doctype html") || trimmed.starts_with("<html") || lower.contains("<body")) {
        return None;
    }
    let start = lower.find("<title>").map(|i| i + "<title>".len());
    let title = start.and_then(|s| lower[s..].find("</title>").map(|e| body[s..s + e].trim().to_owned()));
    Some(title.unwrap_or_default())
}

/// What came back, for a failure message: status, Content-Type, size and an excerpt of the body (≤ 200
/// characters, secrets redacted), e.g. `HTTP 503, Content-Type text/html, 176 bytes: "<html>…"`.
pub fn describe_response(r: &RecordedResponse) -> String {
    let content_type = r.header("content-type").unwrap_or("(none)");
    let mut text = format!("HTTP {}, Content-Type {content_type}", r.status);
    if let Some(location) = r.header("location") {
        text.push_str(&format!(", Location {location}"));
    }
    if r.body.is_empty() {
        text.push_str(", empty body");
    } else {
        text.push_str(&format!(", {} bytes: {:?}", r.body.len(), abbreviate(&r.body)));
    }
    text
}

/// The body as JSON, for a step that expects JSON; otherwise a message saying what came instead — an empty
/// body, an HTML page (with its title), malformed JSON (with the parser's reason), text that is not JSON, or
/// JSON under a media type that is not JSON — naming the status, the Content-Type and an excerpt.
pub fn json_body(r: &RecordedResponse) -> Result<Value, String> {
    let content_type = r.header("content-type").unwrap_or("");
    let parsed = serde_json::from_str::<Value>(&r.body);
    let what = match (&parsed, is_json_media(content_type)) {
        (Ok(value), true) => return Ok(value.clone()),
        (Ok(_), false) if content_type.is_empty() => "JSON with no Content-Type".to_owned(),
        (Ok(_), false) => format!("JSON served as {content_type}, not a JSON media type"),
        (Err(_), _) if r.body.trim().is_empty() => "an empty body".to_owned(),
        (Err(_), _) => match html_title(&r.body) {
            Some(title) if !title.is_empty() => format!("an HTML page titled {title:?}"),
            Some(_) => "an HTML page".to_owned(),
            None if is_json_media(content_type) || r.body.trim_start().starts_with(['{', '[']) => {
                format!("malformed JSON ({})", parsed.as_ref().err().map(ToString::to_string).unwrap_or_default())
            }
            None => "a body that is not JSON".to_owned(),
        },
    };
    Err(format!("expected a JSON body, got {what} ({})", describe_response(r)))
}

pub fn status(r: &RecordedResponse, expected: u16) -> Check {
    if r.status == expected {
        Ok(())
    } else {
        Err(format!("expected HTTP {expected}, got {} ({})", r.status, describe_response(r)))
    }
}

/// How strictly `issue.code` is compared: the mock must say `value`; real targets may say `invalid` for a
/// 400 instead (reference §3.4 DISCREPANCY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeMatch {
    Exact,
    ValueOrInvalid,
}

pub fn operation_outcome(r: &RecordedResponse, code: &str, severity: &str, text: &str, mode: CodeMatch) -> Check {
    let body = body_json(r)?;
    let (got_severity, got_code, got_text) = first_issue(&body)
        .ok_or_else(|| format!("expected an OperationOutcome with one issue, got: {}", abbreviate(&r.body)))?;
    let issues = body.get("issue").and_then(Value::as_array).map_or(0, Vec::len);
    if issues != 1 {
        return Err(format!("expected exactly one issue, got {issues}"));
    }
    let code_ok = got_code == code || (mode == CodeMatch::ValueOrInvalid && code == "value" && got_code == "invalid");
    if !code_ok {
        return Err(format!("expected issue.code '{code}', got '{got_code}' (text: {got_text:?})"));
    }
    if got_severity != severity {
        return Err(format!("expected issue.severity '{severity}', got '{got_severity}'"));
    }
    if got_text != text {
        return Err(format!("details.text differs\n  expected: {text:?}\n  got:      {got_text:?}"));
    }
    Ok(())
}

pub fn no_consent(r: &RecordedResponse, mode: CodeMatch) -> Check {
    status(r, 403)?;
    operation_outcome(r, "forbidden", "error", NO_CONSENT_TEXT, mode)
}

pub fn empty_body(r: &RecordedResponse) -> Check {
    if r.body.is_empty() {
        Ok(())
    } else {
        Err(format!("expected an empty body, got {}", describe_response(r)))
    }
}

/// Compares media types, ignoring parameters such as `charset`.
pub fn content_type(r: &RecordedResponse, expected: &str) -> Check {
    let got = r.header("content-type").ok_or("the response has no Content-Type")?;
    let media = got.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(format!("expected Content-Type {expected}, got {got}"))
    }
}

pub fn header_is(r: &RecordedResponse, name: &str, expected: &str) -> Check {
    match r.header(name) {
        Some(v) if v == expected => Ok(()),
        Some(v) => Err(format!("expected header {name}: {expected:?}, got {v:?}")),
        None => Err(format!("expected header {name}: {expected:?}, but it is absent")),
    }
}

pub fn header_absent(r: &RecordedResponse, name: &str) -> Check {
    match r.header(name) {
        None => Ok(()),
        Some(v) => Err(format!("expected no {name} header, got {v:?}")),
    }
}

pub fn header_is_upper_uuid(r: &RecordedResponse, name: &str) -> Check {
    let v = r.header(name).ok_or_else(|| format!("expected a generated {name}, but it is absent"))?;
    let is_uuid = uuid::Uuid::parse_str(v).is_ok() && v.len() == 36;
    if is_uuid && v == v.to_uppercase() {
        Ok(())
    } else {
        Err(format!("expected {name} to be an upper-case UUID, got {v:?}"))
    }
}

pub fn empty_searchset(r: &RecordedResponse) -> Check {
    let b = body_json(r)?;
    if b["resourceType"] != "Bundle" || b["type"] != "searchset" {
        return Err(format!("expected a searchset Bundle, got {}", abbreviate(&r.body)));
    }
    if b.get("total") != Some(&Value::from(0)) {
        return Err(format!("expected total 0, got {}", b.get("total").unwrap_or(&Value::Null)));
    }
    if b.get("entry").is_some() {
        return Err("expected no 'entry' member in an empty searchset (NHS quirk), but there is one".into());
    }
    Ok(())
}

/// The DocumentReference search result for `nhs` with `scr_id`, with every quirk of the NHS backend.
pub fn holds_scr_id(r: &RecordedResponse, nhs: &str, scr_id: &str) -> Check {
    let b = body_json(r)?;
    let expect = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("{what}; body: {}", abbreviate(&r.body)))
        }
    };
    expect(b["resourceType"] == "Bundle" && b["type"] == "searchset", "expected a searchset Bundle")?;
    expect(b["total"] == 1, "expected total 1")?;
    let doc = &b["entry"][0]["resource"];
    expect(doc["resourceType"] == "DocumentReference", "expected entry 0 to be a DocumentReference")?;
    expect(doc["masterIdentifier"]["system"] == SCR_UUID_SYSTEM, "masterIdentifier.system is not nhsSCRUUID")?;
    let got_id = doc["masterIdentifier"]["value"].as_str().unwrap_or("");
    if got_id != scr_id {
        return Err(format!("expected SCR id {scr_id}, got {got_id:?}"));
    }
    expect(doc["status"] == "current", "expected status current")?;
    expect(
        doc["type"]["coding"][0]["code"] == GP_SUMMARY_CODE
            && doc["type"]["coding"][0]["display"] == GP_SUMMARY_DISPLAY_AS_RETURNED,
        "expected type 196981000000101 with the display ' General Practice Summary' (leading space)",
    )?;
    let url = doc["content"][0]["attachment"]["url"].as_str().unwrap_or("");
    let tail = format!(
        "{BASE_PATH}/Bundle?composition.identifier={scr_id}&composition.subject:Patient.identifier={NHS_NUMBER_SYSTEM}|{nhs}"
    );
    expect(url.ends_with(&tail), &format!("expected the attachment URL to end with {tail}, got {url:?}"))?;
    let patient_entry = &b["entry"][1];
    expect(patient_entry["resource"]["resourceType"] == "Patient", "expected entry 1 to be the Patient")?;
    let patient_id = patient_entry["resource"]["id"].as_str().unwrap_or("");
    expect(
        patient_entry["fullUrl"].as_str() == Some(patient_id) && !patient_id.is_empty(),
        "expected the Patient fullUrl to be its bare id (NHS quirk)",
    )?;
    expect(
        doc["subject"]["reference"].as_str() == Some(&format!("Patient/{patient_id}")),
        "expected DocumentReference.subject to reference the Patient entry",
    )?;
    let got_nhs = patient_entry["resource"]["identifier"][0]["value"].as_str().unwrap_or("");
    expect(got_nhs == nhs, &format!("expected the Patient's NHS number {nhs}, got {got_nhs:?}"))
}

pub fn permission_to_view(r: &RecordedResponse, code: &str) -> Check {
    let b = body_json(r)?;
    let coding = &b["entry"][0]["resource"]["securityLabel"][0]["coding"][0];
    if coding["system"] != ACS_PERMISSION_SYSTEM {
        return Err(format!("expected securityLabel system {ACS_PERMISSION_SYSTEM}, got {}", coding["system"]));
    }
    match coding["code"].as_str() {
        Some(c) if c == code => Ok(()),
        other => Err(format!("expected permission to view {code:?}, got {other:?}")),
    }
}

/// A searchset Bundle holding the document `scr_id` of `nhs`: Composition first, Patient last.
pub fn scr_document(r: &RecordedResponse, base_url: &str, nhs: &str, scr_id: &str) -> Check {
    let b = body_json(r)?;
    if b["resourceType"] != "Bundle" || b["type"] != "searchset" {
        return Err(format!("expected a searchset Bundle, got {}", abbreviate(&r.body)));
    }
    let entries = b["entry"].as_array().ok_or("expected entries in the SCR document")?;
    if b["total"].as_u64() != Some(entries.len() as u64) {
        return Err(format!("expected total = {} entries, got {}", entries.len(), b["total"]));
    }
    let first = &entries[0]["resource"];
    if first["resourceType"] != "Composition" {
        return Err(format!("expected the Composition first, got {}", first["resourceType"]));
    }
    if first["identifier"]["value"].as_str() != Some(scr_id) {
        return Err(format!("expected Composition.identifier {scr_id}, got {}", first["identifier"]["value"]));
    }
    let last = entries.last().map(|e| &e["resource"]).unwrap_or(&Value::Null);
    if last["resourceType"] != "Patient" {
        return Err(format!("expected the Patient last, got {}", last["resourceType"]));
    }
    let numbers: Vec<&str> = last["identifier"]
        .as_array()
        .map(|ids| {
            ids.iter().filter(|i| i["system"] == NHS_NUMBER_SYSTEM).filter_map(|i| i["value"].as_str()).collect()
        })
        .unwrap_or_default();
    if numbers != [nhs] {
        return Err(format!("expected the Patient's NHS number {nhs}, got {numbers:?}"));
    }
    for (i, e) in entries.iter().enumerate() {
        let full_url = e["fullUrl"].as_str().unwrap_or("");
        let expected = format!(
            "{base_url}/{}/{}",
            e["resource"]["resourceType"].as_str().unwrap_or(""),
            e["resource"]["id"].as_str().unwrap_or("")
        );
        if full_url != expected {
            return Err(format!("entry {i}: expected fullUrl {expected}, got {full_url:?}"));
        }
    }
    Ok(())
}

/// The gateway's OperationOutcome (Apigee templates, served as `application/json`): `display` is checked
/// when non-empty, `diagnostics` when given.
pub fn gateway_outcome(
    r: &RecordedResponse,
    status_code: u16,
    code: &str,
    coding_code: &str,
    display: &str,
    diagnostics: Option<&str>,
) -> Check {
    status(r, status_code)?;
    content_type(r, "application/json")?;
    let b = body_json(r)?;
    let issue = &b["issue"][0];
    let coding = &issue["details"]["coding"][0];
    let mut problems = Vec::new();
    if b["resourceType"] != "OperationOutcome" {
        problems.push("not an OperationOutcome".to_owned());
    }
    if issue["code"] != code {
        problems.push(format!("issue.code {} (expected \"{code}\")", issue["code"]));
    }
    if coding["system"] != "https://fhir.nhs.uk/CodeSystem/Spine-ErrorOrWarningCode" || coding["version"] != "1" {
        problems.push(format!("coding system/version {} {}", coding["system"], coding["version"]));
    }
    if coding["code"] != coding_code {
        problems.push(format!("coding.code {} (expected \"{coding_code}\")", coding["code"]));
    }
    if !display.is_empty() && coding["display"] != display {
        problems.push(format!("coding.display {} (expected \"{display}\")", coding["display"]));
    }
    if let Some(d) = diagnostics {
        if issue["diagnostics"] != d {
            problems.push(format!("diagnostics {} (expected \"{d}\")", issue["diagnostics"]));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}; body: {}", problems.join("; "), abbreviate(&r.body)))
    }
}

pub fn json_at(r: &RecordedResponse, pointer: &str, expected: &Value) -> Check {
    let b = body_json(r)?;
    match b.pointer(pointer) {
        Some(v) if v == expected => Ok(()),
        Some(v) => Err(format!("at {pointer}: expected {expected}, got {v}")),
        None => Err(format!("at {pointer}: expected {expected}, but nothing is there")),
    }
}

/// The live proxy's catch-all `UNKNOWN_ERROR` OperationOutcome (reference §3.5) with this status: its
/// diagnostics are `AssignMessage.Errors.Default`'s text around a Message ID, which differs every time.
pub fn unknown_error(r: &RecordedResponse, status_code: u16) -> Check {
    gateway_outcome(r, status_code, "unknown", "UNKNOWN_ERROR", "Unknown Error", None)?;
    let b = body_json(r)?;
    let diagnostics = b["issue"][0]["diagnostics"].as_str().unwrap_or("");
    match diagnostics
        .strip_prefix(UNKNOWN_ERROR_DIAGNOSTICS_BEFORE_ID)
        .and_then(|rest| rest.strip_suffix(UNKNOWN_ERROR_DIAGNOSTICS_AFTER_ID))
    {
        Some(message_id) if !message_id.trim().is_empty() => Ok(()),
        _ => Err(format!(
            "diagnostics {diagnostics:?} is not {:?} with a Message ID",
            format!("{UNKNOWN_ERROR_DIAGNOSTICS_BEFORE_ID}{UNKNOWN_ERROR_DIAGNOSTICS_AFTER_ID}")
        )),
    }
}

/// Spine's NACK of an upload whose event id (SCR id) it already holds (reference §4.3).
pub fn duplicate_event(r: &RecordedResponse, scr_id: &str, nhs_number: &str, mode: CodeMatch) -> Check {
    status(r, 400)?;
    operation_outcome(r, "value", "error", &duplicate_event_text(scr_id, nhs_number), mode)
}

/// The body contains a text (for answers that are not JSON, such as an HTML error page).
pub fn body_contains(r: &RecordedResponse, text: &str) -> Check {
    if r.body.contains(text) {
        Ok(())
    } else {
        Err(format!("expected the body to contain {text:?}, got: {}", abbreviate(&r.body)))
    }
}

/// The statuses of the latest `n` exchanges are all `expected`.
pub fn latest_statuses(statuses: &[u16], n: usize, expected: u16) -> Check {
    if statuses.len() < n {
        return Err(format!("expected {n} responses, the scenario has {}", statuses.len()));
    }
    let latest = &statuses[statuses.len() - n..];
    if latest.iter().all(|s| *s == expected) {
        Ok(())
    } else {
        Err(format!("expected the last {n} responses to have status {expected}, got {latest:?}"))
    }
}

/// A list the scenario writes as `a, b, c` (spaces around the commas ignored; empty items dropped).
pub fn word_list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// A `/oauth2/userinfo` answer (status and JSON) lists exactly these `person_roleid`s, in this order, in
/// `nhsid_nrbac_roles`.
pub fn userinfo_roles(status: u16, body: &Value, expected: &[String]) -> Check {
    if status != 200 {
        return Err(format!("userinfo answered {status}: {}", abbreviate(&body.to_string())));
    }
    let got: Vec<&str> = body["nhsid_nrbac_roles"]
        .as_array()
        .map(|roles| roles.iter().filter_map(|r| r["person_roleid"].as_str()).collect())
        .unwrap_or_default();
    if got == expected {
        Ok(())
    } else {
        Err(format!("userinfo lists the roles {got:?}, expected {expected:?}"))
    }
}

/// The mock's audit entry for the request that carried `request_id` (`X-Request-ID`) names `user` and `role`
/// (the `NHSD-Session-URID` the request carried, or the role the gateway resolved when it carried none).
pub fn audited_as(entries: &Value, request_id: &str, user: &str, role: &str) -> Check {
    let all = entries.as_array().ok_or("the audit trail is not a JSON array")?;
    let entry = all
        .iter()
        .rev()
        .find(|e| e["request_id"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(request_id)))
        .ok_or_else(|| format!("the audit trail has no entry for X-Request-ID {request_id}"))?;
    let (got_user, got_role) = (entry["who"].as_str(), entry["role"].as_str());
    if (got_user, got_role) == (Some(user), Some(role)) {
        Ok(())
    } else {
        Err(format!("the audit entry names user {got_user:?} in role {got_role:?}, expected {user:?} in role {role:?}"))
    }
}

/// What a document's clinical content is, for comparing an upload with the document read back: each resource
/// that carries a `code` (Condition, Observation, AllergyIntolerance …) as its type and its codings
/// (`system|code`), sorted. Structural resources (Practitioner, Encounter, Organization …) are mapped through
/// HL7 v3 and back by the NHS backend and are not compared.
pub fn clinical_content(resources: &[&Value]) -> Vec<String> {
    let mut out: Vec<String> = resources
        .iter()
        .filter_map(|r| {
            let codings = r["code"]["coding"].as_array()?;
            let mut codes: Vec<String> = codings
                .iter()
                .map(|c| format!("{}|{}", c["system"].as_str().unwrap_or(""), c["code"].as_str().unwrap_or("")))
                .collect();
            codes.sort();
            Some(format!("{} {}", r["resourceType"].as_str().unwrap_or("?"), codes.join(" ")))
        })
        .collect();
    out.sort();
    out
}

/// The document read back (a searchset Bundle) holds the clinical content of the uploaded Bundle: the same
/// coded resources, each as often.
pub fn holds_uploaded_content(r: &RecordedResponse, uploaded: &Value) -> Check {
    let b = body_json(r)?;
    let resources = |bundle: &Value| -> Vec<Value> {
        bundle["entry"].as_array().map(|es| es.iter().map(|e| e["resource"].clone()).collect()).unwrap_or_default()
    };
    let (read, sent) = (resources(&b), resources(uploaded));
    let expected = clinical_content(&sent.iter().collect::<Vec<_>>());
    if expected.is_empty() {
        return Err("the upload holds no coded resource to compare".into());
    }
    let got = clinical_content(&read.iter().collect::<Vec<_>>());
    if got == expected {
        return Ok(());
    }
    let missing: Vec<&String> = expected.iter().filter(|e| !got.contains(e)).collect();
    let extra: Vec<&String> = got.iter().filter(|g| !expected.contains(g)).collect();
    Err(format!(
        "the document read back does not hold what was uploaded: {} coded resources uploaded, {} read back; \
         missing {missing:?}; not uploaded {extra:?}",
        expected.len(),
        got.len()
    ))
}

/// A privacy alert the mock recorded (`GET /_admin/alerts`: its `alert`, `session_urid`) keeps the who, what
/// and why of the AuditEvent this scenario sent: the patient, organisation and user agents, the SCR accessed,
/// the notification and `recorded`, and a role and session role.
pub fn recorded_alert_keeps(recorded: &Value, sent: &Value) -> Check {
    let agent = |system: &str| {
        sent["agent"].as_array().and_then(|agents| {
            agents.iter().find(|a| a["who"]["identifier"]["system"].as_str().is_some_and(|s| s.ends_with(system)))
        })
    };
    let agent_value = |system: &str| agent(system).and_then(|a| a["who"]["identifier"]["value"].as_str());
    let notification = sent["extension"].as_array().and_then(|exts| {
        exts.iter()
            .find(|e| e["url"].as_str().is_some_and(|u| u.ends_with("Extension-SCR-NotificationMessage")))
            .and_then(|e| e["valueString"].as_str())
    });
    let alert = &recorded["alert"];
    let expected = [
        ("nhs_number", agent_value("/nhs-number")),
        ("ods_code", agent_value("/ods-organization-code")),
        ("sds_user_id", agent_value("/sds-user-id")),
        ("what", sent["entity"][0]["what"]["identifier"]["value"].as_str()),
        ("notification", notification),
        ("recorded", sent["recorded"].as_str()),
        ("alert_type", sent["type"]["code"].as_str()),
        ("alert_subtype", sent["subtype"][0]["code"].as_str()),
    ];
    let mut problems = Vec::new();
    for (field, want) in expected {
        let Some(want) = want else {
            problems.push(format!("the alert sent has no {field} to compare"));
            continue;
        };
        if alert[field].as_str() != Some(want) {
            problems.push(format!("{field} {} (sent {want:?})", alert[field]));
        }
    }
    for (what, value) in [("role", &alert["role"]), ("session URID", &recorded["session_urid"])] {
        if value.as_str().is_none_or(str::is_empty) {
            problems.push(format!("no {what}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("the recorded alert differs from the one sent: {}", problems.join("; ")))
    }
}

/// How scenarios name a transport fault (`Then the request fails with a connection reset`); the fault itself
/// is the client's classification ([`crate::client::ClientError::fault`]), the one place it is decided.
pub fn describe_fault(fault: TransportFault) -> &'static str {
    match fault {
        TransportFault::ConnectTimeout => "a connect timeout",
        TransportFault::ReadTimeout => "a read timeout",
        TransportFault::Unreachable => "an unreachable target",
        TransportFault::ConnectionReset => "a connection reset",
        TransportFault::Tls => "a TLS failure",
        TransportFault::BodyTooLarge => "a body too large",
        TransportFault::RedirectRefused => "a refused redirect",
        TransportFault::Transport => "another transport failure",
    }
}

/// The fault a scenario's words name.
pub fn fault_from_description(words: &str) -> Option<TransportFault> {
    TransportFault::ALL.into_iter().find(|f| describe_fault(*f) == words)
}

/// A request expected to get no HTTP answer, failing in a given way. `failure` is the scenario's latest
/// transport failure with its message (`None`: the request was answered).
pub fn transport_failure(
    failure: Option<&(TransportFault, String)>,
    expected: TransportFault,
    answered_status: Option<u16>,
) -> Check {
    let Some((got, text)) = failure else {
        let status = answered_status.map(|s| format!("HTTP {s}")).unwrap_or_else(|| "an answer".to_owned());
        return Err(format!("expected the request to fail with {}, but it got {status}", describe_fault(expected)));
    };
    if *got == expected {
        Ok(())
    } else {
        Err(format!(
            "expected the request to fail with {}, but it failed with {}: {text}",
            describe_fault(expected),
            describe_fault(*got)
        ))
    }
}

/// Why a response cannot be taken as a FHIR JSON resource, if it cannot: its Content-Type is not a JSON one,
/// its body is not JSON, or it has no `resourceType`. The harness reports these plainly rather than as a
/// missing member.
pub fn fhir_problem(r: &RecordedResponse) -> Option<String> {
    let content_type = r.header("content-type").unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media != "application/fhir+json" && media != "application/json" {
        return Some(format!("the response Content-Type is {content_type}, not application/fhir+json"));
    }
    match serde_json::from_str::<Value>(&r.body) {
        Err(e) => Some(format!("the response body is not valid JSON ({e}) after {} bytes", r.body.len())),
        Ok(v) if v.get("resourceType").and_then(Value::as_str).is_none() => {
            Some("the response body is JSON but not a FHIR resource (no resourceType)".to_owned())
        }
        Ok(_) => None,
    }
}

/// The response cannot be taken as FHIR, for a reason containing `expected`.
pub fn not_fhir(r: &RecordedResponse, expected: &str) -> Check {
    match fhir_problem(r) {
        Some(problem) if problem.contains(expected) => Ok(()),
        Some(problem) => Err(format!("the response is not FHIR, but not for {expected:?}: {problem}")),
        None => Err(format!("expected a response that is not FHIR JSON ({expected}), got: {}", abbreviate(&r.body))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scr::outcome::operation_outcome as oo;

    fn response(status: u16, body: &str) -> RecordedResponse {
        RecordedResponse {
            status,
            headers: vec![("content-type".into(), "application/fhir+json;charset=UTF-8".into())],
            body: body.into(),
        }
    }

    #[test]
    fn operation_outcome_is_exact_on_the_mock_and_lenient_elsewhere() {
        let r = response(400, &oo("error", "invalid", "bad").to_string());
        assert!(operation_outcome(&r, "value", "error", "bad", CodeMatch::Exact).is_err());
        assert!(operation_outcome(&r, "value", "error", "bad", CodeMatch::ValueOrInvalid).is_ok());
        assert!(operation_outcome(&r, "value", "error", "bad!", CodeMatch::ValueOrInvalid).is_err());
        assert!(operation_outcome(&r, "forbidden", "error", "bad", CodeMatch::ValueOrInvalid).is_err());
    }

    #[test]
    fn transport_failures_are_named_as_scenarios_say_them() {
        for fault in TransportFault::ALL {
            assert_eq!(fault_from_description(describe_fault(fault)), Some(fault));
        }
        let reset = (TransportFault::ConnectionReset, "the connection was reset".to_owned());
        assert!(transport_failure(Some(&reset), TransportFault::ConnectionReset, None).is_ok());
        let answered = transport_failure(None, TransportFault::ConnectionReset, Some(200));
        assert_eq!(answered, Err("expected the request to fail with a connection reset, but it got HTTP 200".into()));
        let timeout = (TransportFault::ReadTimeout, "headers never came".to_owned());
        let wrong = transport_failure(Some(&timeout), TransportFault::ConnectionReset, None);
        assert_eq!(
            wrong,
            Err("expected the request to fail with a connection reset, but it failed with a read timeout: headers \
                 never came"
                .into())
        );
    }

    #[test]
    fn unknown_error_accepts_any_message_id_but_not_another_text() {
        let body = |diagnostics: &str| {
            serde_json::json!({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"unknown",
                "details":{"coding":[{"system":"https://fhir.nhs.uk/CodeSystem/Spine-ErrorOrWarningCode","version":"1",
                "code":"UNKNOWN_ERROR","display":"Unknown Error"}]},"diagnostics":diagnostics}]})
            .to_string()
        };
        let json = |b: String| RecordedResponse {
            status: 429,
            headers: vec![("content-type".into(), "application/json".into())],
            body: b,
        };
        assert!(unknown_error(&json(body(&format!("{UNKNOWN_ERROR_DIAGNOSTICS_BEFORE_ID}rrt-1-b)"))), 429).is_ok());
        assert!(unknown_error(&json(body(&format!("{UNKNOWN_ERROR_DIAGNOSTICS_BEFORE_ID}rrt-1-b)"))), 500).is_err());
        assert!(unknown_error(&json(body(&format!("{UNKNOWN_ERROR_DIAGNOSTICS_BEFORE_ID})"))), 429).is_err());
        assert!(unknown_error(&json(body("An unknown server-side error occurred")), 429).is_err());
        assert!(latest_statuses(&[201, 200, 200], 2, 200).is_ok());
        assert!(body_contains(&response(503, "<h1>503 Service</h1>"), "503 Service").is_ok());
        assert!(body_contains(&response(503, "<h1>503</h1>"), "503 Service").is_err());
        assert!(latest_statuses(&[201, 200, 429], 2, 200).is_err());
        assert!(latest_statuses(&[200], 2, 200).is_err());
    }

    #[test]
    fn responses_that_are_not_fhir_say_why() {
        let truncated = response(200, r#"{"resourceType":"Bundle","ent"#);
        let problem = fhir_problem(&truncated).unwrap_or_default();
        assert!(problem.starts_with("the response body is not valid JSON (EOF while parsing"), "{problem}");
        assert!(not_fhir(&truncated, "not valid JSON").is_ok());
        assert!(not_fhir(&truncated, "Content-Type").is_err());
        let text = RecordedResponse {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: r#"{"resourceType":"Bundle"}"#.into(),
        };
        assert_eq!(
            fhir_problem(&text).as_deref(),
            Some("the response Content-Type is text/plain, not application/fhir+json")
        );
        let fine = response(200, r#"{"resourceType":"Bundle"}"#);
        assert_eq!(fhir_problem(&fine), None);
        assert!(not_fhir(&fine, "anything").is_err());
        assert!(fhir_problem(&response(200, "[]")).is_some_and(|p| p.contains("no resourceType")));
    }

    #[test]
    fn empty_searchset_rejects_an_entry_member() {
        let ok = response(200, r#"{"resourceType":"Bundle","type":"searchset","total":0}"#);
        let with_entry = response(200, r#"{"resourceType":"Bundle","type":"searchset","total":0,"entry":[]}"#);
        assert!(empty_searchset(&ok).is_ok());
        assert!(empty_searchset(&with_entry).is_err());
    }

    #[test]
    fn content_type_ignores_parameters_and_header_checks_work() {
        let r = response(200, "");
        assert!(content_type(&r, "application/fhir+json").is_ok());
        assert!(content_type(&r, "application/json").is_err());
        assert!(header_absent(&r, "X-Request-ID").is_ok());
        assert!(header_is_upper_uuid(&r, "X-Request-ID").is_err());
        let mut r = r;
        r.headers.push(("x-request-id".into(), "A6B0B5B4-1B2C-4D5E-8F90-0123456789AB".into()));
        assert!(header_is_upper_uuid(&r, "X-Request-ID").is_ok());
        r.headers[1].1 = r.headers[1].1.to_lowercase();
        assert!(header_is_upper_uuid(&r, "X-Request-ID").is_err());
    }

    fn with(status: u16, content_type: Option<&str>, body: &str) -> RecordedResponse {
        let headers = content_type.map(|ct| vec![("content-type".to_owned(), ct.to_owned())]).unwrap_or_default();
        RecordedResponse { status, headers, body: body.into() }
    }

    #[test]
    fn json_body_says_what_came_instead_with_status_content_type_and_excerpt() {
        let ok = with(200, Some("application/fhir+json;charset=UTF-8"), r#"{"a":1}"#);
        assert_eq!(json_body(&ok), Ok(serde_json::json!({"a": 1})));
        assert!(json_body(&with(401, Some("application/json"), r#"{"a":1}"#)).is_ok());

        let html = "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 \
                    Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>";
        let e = json_body(&with(503, Some("text/html"), html)).err().unwrap_or_default();
        assert!(
            e.starts_with("expected a JSON body, got an HTML page titled \"503 Service Temporarily Unavailable\""),
            "{e}"
        );
        assert!(e.contains("HTTP 503, Content-Type text/html") && e.contains("<html><head>"), "{e}");

        let e = json_body(&with(200, Some("application/fhir+json"), r#"{"resourceType":"Bundle","#)).err();
        let e = e.unwrap_or_default();
        assert!(e.contains("got malformed JSON (EOF while parsing") && e.contains("HTTP 200"), "{e}");
        assert!(e.contains(r#"{\"resourceType\":\"Bundle\","#), "{e}");

        let e = json_body(&with(200, Some("text/plain"), r#"{"resourceType":"Bundle"}"#)).err().unwrap_or_default();
        assert!(e.contains("got JSON served as text/plain, not a JSON media type"), "{e}");
        let e = json_body(&with(200, None, "{}")).err().unwrap_or_default();
        assert!(e.contains("JSON with no Content-Type") && e.contains("Content-Type (none)"), "{e}");
        let e = json_body(&with(502, Some("text/plain"), "Bad gateway")).err().unwrap_or_default();
        assert!(e.contains("a body that is not JSON") && e.contains("\"Bad gateway\""), "{e}");
        let e = json_body(&with(204, None, "")).err().unwrap_or_default();
        assert!(e.contains("an empty body") && e.contains("HTTP 204"), "{e}");
    }

    #[test]
    fn excerpts_are_short_and_lose_secrets() {
        let long = format!(r#"{{"access_token":"sekrit-value","pad":"{}"}}"#, "x".repeat(1000));
        let e = json_body(&with(200, Some("text/plain"), &long)).err().unwrap_or_default();
        assert!(!e.contains("sekrit-value") && e.contains("[REDACTED]"), "{e}");
        let excerpt = crate::client::excerpt(&long);
        assert!(excerpt.chars().count() <= 201 && excerpt.ends_with('…'), "{excerpt}");
        assert!(e.ends_with(&format!("{excerpt:?})")), "{e}");
        // A truncated token response no longer parses; its secret is still redacted.
        let cut = r#"{"token_type":"Bearer","refresh_token":"abc.def"#;
        let e = json_body(&with(200, Some("application/json"), cut)).err().unwrap_or_default();
        assert!(!e.contains("abc.def") && e.contains("malformed JSON"), "{e}");
    }

    #[test]
    fn status_mismatch_names_what_came_and_a_redirect_location() {
        let mut r = with(302, Some("text/html"), "");
        r.headers.push(("location".into(), "https://elsewhere.example/x".into()));
        let e = status(&r, 200).err().unwrap_or_default();
        assert_eq!(e, "expected HTTP 200, got 302 (HTTP 302, Content-Type text/html, Location https://elsewhere.example/x, empty body)");
    }

    #[test]
    fn userinfo_roles_are_compared_with_the_scenario_s_list_in_order() {
        let body = serde_json::json!({"nhsid_nrbac_roles": [{"person_roleid": "1"}, {"person_roleid": "2"}]});
        assert_eq!(word_list(" 1, 2 ,"), vec!["1".to_owned(), "2".to_owned()]);
        assert!(userinfo_roles(200, &body, &word_list("1, 2")).is_ok());
        assert!(userinfo_roles(200, &body, &word_list("2, 1")).is_err());
        assert!(userinfo_roles(200, &body, &word_list("1")).is_err());
        assert!(userinfo_roles(401, &body, &word_list("1, 2")).is_err());
    }

    #[test]
    fn the_audit_entry_of_a_request_names_its_user_and_role() {
        let trail = serde_json::json!([
            {"request_id": "AAA", "who": "u1", "role": "r1"},
            {"request_id": "bbb", "who": "u2", "role": "r2"}
        ]);
        assert!(audited_as(&trail, "BBB", "u2", "r2").is_ok());
        assert!(audited_as(&trail, "aaa", "u1", "r2").err().unwrap_or_default().contains("\"r1\""));
        assert!(audited_as(&trail, "ccc", "u1", "r1").err().unwrap_or_default().contains("no entry"));
    }

    #[test]
    fn a_document_must_hold_the_coded_resources_uploaded() {
        let upload = serde_json::json!({"entry": [
            {"resource": {"resourceType": "Composition"}},
            {"resource": {"resourceType": "Condition", "code": {"coding": [{"system": "s", "code": "1"}]}}},
            {"resource": {"resourceType": "Observation", "code": {"coding": [{"system": "s", "code": "2"}]}}}
        ]});
        let read = |entries: serde_json::Value| response(200, &serde_json::json!({"entry": entries}).to_string());
        let same = read(serde_json::json!([
            {"resource": {"resourceType": "Observation", "id": "x", "code": {"coding": [{"system": "s", "code": "2"}]}}},
            {"resource": {"resourceType": "Condition", "code": {"coding": [{"system": "s", "code": "1"}]}}}
        ]));
        assert!(holds_uploaded_content(&same, &upload).is_ok());
        let canned = read(serde_json::json!([
            {"resource": {"resourceType": "Condition", "code": {"coding": [{"system": "s", "code": "9"}]}}}
        ]));
        let e = holds_uploaded_content(&canned, &upload).err().unwrap_or_default();
        assert!(e.contains("missing") && e.contains("s|1"), "{e}");
        assert!(holds_uploaded_content(&read(serde_json::json!([])), &upload).is_err());
        assert!(holds_uploaded_content(&same, &serde_json::json!({"entry": []})).is_err());
    }

    #[test]
    fn a_recorded_alert_must_keep_what_was_sent() {
        let sent: Value =
            serde_json::from_str(&std::fs::read_to_string("fixtures/nhs/examples/AuditEvent.json").unwrap_or_default())
                .unwrap_or_default();
        let recorded = serde_json::json!({"session_urid": "555254242102", "alert": {
            "nhs_number": "9000000009", "ods_code": "T10101", "sds_user_id": "T10101",
            "what": "1C03CF4F-D404-4D76-B192-4F81727059F6", "role": "General Practitioner",
            "notification": "Alert: Permission to view override 1C03CF4F-D404-4D76-B192-4F81727059F6",
            "recorded": "2020-11-13T00:00:00+00:00", "alert_type": "1", "alert_subtype": "1"}});
        assert_eq!(recorded_alert_keeps(&recorded, &sent), Ok(()));
        let mut other = recorded.clone();
        other["alert"]["what"] = Value::from("ANOTHER-SCR");
        let e = recorded_alert_keeps(&other, &sent).err().unwrap_or_default();
        assert!(e.contains("what \"ANOTHER-SCR\""), "{e}");
        let mut anonymous = recorded;
        anonymous["session_urid"] = Value::from("");
        assert!(recorded_alert_keeps(&anonymous, &sent).is_err());
    }

    #[test]
    fn json_at_compares_values() {
        let r = response(200, r#"{"a":{"b":[1,"x"]}}"#);
        assert!(json_at(&r, "/a/b/1", &Value::from("x")).is_ok());
        assert!(json_at(&r, "/a/b/0", &Value::from(2)).is_err());
        assert!(json_at(&r, "/nope", &Value::Null).is_err());
    }
}
