//! The reference client's request bodies and its reading of answers, written from the NHS examples on its
//! own — never from the harness's builders (`crate::scr`), which the grader uses to judge them.

use serde_json::{json, Value};

/// Why an answer is not what the client expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the answer is not JSON ({0})")]
    NotJson(String),
    #[error("the answer is a {found}, not a {expected}")]
    WrongResource { expected: &'static str, found: String },
    #[error("the searchset's DocumentReference has no masterIdentifier.value (the SCR id)")]
    NoScrId,
    #[error("the bundle file {0}")]
    BadUpload(String),
}

/// Why the client overrides the permission to view (the `emergency_access` reasons of docs/CLIENT.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideReason {
    Emergency,
    Legal,
    SelfClaimed,
}

impl OverrideReason {
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "emergency" => Some(Self::Emergency),
            "legal" => Some(Self::Legal),
            "self-claimed" => Some(Self::SelfClaimed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Emergency => "emergency",
            Self::Legal => "legal",
            Self::SelfClaimed => "self-claimed",
        }
    }

    /// `(type code, type display)` in `https://fhir.nhs.uk/CodeSystem/SCR-AlertType` (reference §4.5 table):
    /// an access without permission (emergency, legal) is an "Access Alert"; a self-claimed legitimate
    /// relationship is "Create LR (Self Claimed)".
    pub fn alert_type(self) -> (&'static str, &'static str) {
        match self {
            Self::Emergency | Self::Legal => ("2", "Access Alert"),
            Self::SelfClaimed => ("1", "Create LR (Self Claimed)"),
        }
    }

    /// `(subtype code, display)` in `https://fhir.nhs.uk/CodeSystem/SCR-AlertReason` (reference §4.5 table):
    /// emergency 2/5 (MSCA-SCR-104), legal 2/2 "Access required by statute" (one of the legal reasons of
    /// MSCA-SCR-105), self-claimed 1/4 "Self-Claim Emergency Access" (MSCA-SCR-103, the override being an
    /// emergency access).
    pub fn alert_subtype(self) -> (&'static str, &'static str) {
        match self {
            Self::Emergency => ("5", "Access made in an emergency"),
            Self::Legal => ("2", "Access required by statute"),
            Self::SelfClaimed => ("4", "Self-Claim Emergency Access"),
        }
    }

    /// The reason whose subtype the `wrong-subtype` defect sends instead.
    pub fn other(self) -> Self {
        match self {
            Self::Emergency => Self::Legal,
            Self::Legal | Self::SelfClaimed => Self::Emergency,
        }
    }
}

/// What `GET /DocumentReference` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScrIdAnswer {
    /// An empty searchset: the patient has no SCR.
    NoScr,
    /// The latest SCR id and the permission to view (`securityLabel`; `None` when absent).
    Found { scr_id: String, permission: Option<String> },
}

fn parse_json(body: &[u8]) -> Result<Value, BodyError> {
    serde_json::from_slice(body).map_err(|e| BodyError::NotJson(e.to_string()))
}

fn expect_resource(value: &Value, expected: &'static str) -> Result<(), BodyError> {
    match value.get("resourceType").and_then(Value::as_str) {
        Some(t) if t == expected => Ok(()),
        Some(t) => Err(BodyError::WrongResource { expected, found: t.to_owned() }),
        None => Err(BodyError::WrongResource { expected, found: "JSON without a resourceType".into() }),
    }
}

/// Reads a `GET /DocumentReference` searchset (reference §4.1; fixtures/nhs/examples/DocumentReferenceBundle.json):
/// the first DocumentReference's `masterIdentifier.value` and `securityLabel[0].coding[0].code`.
pub fn read_scr_id(body: &[u8]) -> Result<ScrIdAnswer, BodyError> {
    let value = parse_json(body)?;
    expect_resource(&value, "Bundle")?;
    let doc = value
        .get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("resource"))
        .find(|r| r.get("resourceType").and_then(Value::as_str) == Some("DocumentReference"));
    let Some(doc) = doc else {
        return Ok(ScrIdAnswer::NoScr);
    };
    let scr_id = doc
        .pointer("/masterIdentifier/value")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or(BodyError::NoScrId)?;
    // The ACS permission coding; a label coding without that system is read as one too.
    let codings: Vec<&Value> = doc
        .get("securityLabel")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|l| l.get("coding").and_then(Value::as_array).into_iter().flatten())
        .collect();
    let permission = codings
        .iter()
        .find(|c| c.get("system").and_then(Value::as_str) == Some("https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission"))
        .or_else(|| codings.first())
        .and_then(|c| c.get("code"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(ScrIdAnswer::Found { scr_id: scr_id.to_owned(), permission })
}

/// Reads a `GET /Bundle` answer (reference §4.2): whether it holds a document (entries) or is empty.
pub fn read_document(body: &[u8]) -> Result<bool, BodyError> {
    let value = parse_json(body)?;
    expect_resource(&value, "Bundle")?;
    Ok(value.get("entry").and_then(Value::as_array).is_some_and(|e| !e.is_empty()))
}

/// The `POST /$setPermission` body: fixtures/nhs/examples/SetPermission.json with the patient and the code.
pub fn set_permission(nhs: &str, code: &str) -> Value {
    json!({
        "resourceType": "Parameters",
        "parameter": [{
            "name": "setPermissions",
            "part": [
                { "name": "nhsNumber", "valueString": nhs },
                {
                    "name": "permissionCode",
                    "valueCoding": { "system": "https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission", "code": code }
                }
            ]
        }]
    })
}

/// Who raises a privacy alert.
#[derive(Debug, Clone)]
pub struct AlertAuthor<'a> {
    /// The CIS2 user id (`sds-user-id`).
    pub user_id: &'a str,
    /// The session's role (`NHSD-Session-URID`), sent as the user's role.
    pub role_id: &'a str,
    /// The organisation's ODS code.
    pub ods_code: &'a str,
}

/// The `POST /AuditEvent` body: fixtures/nhs/examples/AuditEvent.json (and the NHS smoke body
/// fixtures/nhs/sandbox/audit_event.json) with a fresh id, the reason's type and subtype, `recorded` now, the
/// patient, organisation, user and role, and the SCR accessed. `source.observer` is left out: the adaptor
/// fills in the caller's ASID (reference §4.5).
pub fn audit_event(
    nhs: &str,
    scr_id: &str,
    alert_type: (&str, &str),
    subtype: (&str, &str),
    author: &AlertAuthor<'_>,
    recorded: &str,
    reason_text: &str,
) -> Value {
    json!({
        "resourceType": "AuditEvent",
        "id": uuid::Uuid::new_v4().to_string().to_uppercase(),
        "extension": [{
            "url": "https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage",
            "valueString": format!("Alert: Permission to view override {scr_id}")
        }],
        "type": { "system": "https://fhir.nhs.uk/CodeSystem/SCR-AlertType", "code": alert_type.0, "display": alert_type.1 },
        "subtype": [{ "system": "https://fhir.nhs.uk/CodeSystem/SCR-AlertReason", "code": subtype.0, "display": subtype.1 }],
        "outcomeDesc": format!("Permission to view overridden by the clinician: {reason_text}"),
        "recorded": recorded,
        "agent": [
            { "who": { "identifier": { "system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs } }, "requestor": false },
            {
                "who": { "identifier": { "system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": author.ods_code } },
                "requestor": false
            },
            {
                "who": { "identifier": { "system": "https://fhir.nhs.uk/Id/sds-user-id", "value": author.user_id } },
                "role": [{ "coding": [{ "system": "http://fhir.nhs.net/Id/sds-role-profile-id", "code": author.role_id }] }],
                "requestor": false
            }
        ],
        "entity": [{ "what": { "identifier": { "value": scr_id } } }]
    })
}

/// An upload prepared from the supplier's Bundle file.
#[derive(Debug, Clone)]
pub struct PreparedUpload {
    pub body: Vec<u8>,
    /// The Composition identifier as the service will know it (upper-cased, reference §4.3).
    pub scr_id: String,
}

/// Gives the Bundle in `bundle` (a valid SCR upload Bundle, fixtures/nhs/examples/UploadScrBundle.json shape)
/// fresh identifiers (`Bundle.id`, `Bundle.identifier`, `Composition.identifier`: new upper-case UUIDs),
/// current timestamps (`Bundle.timestamp`, `Composition.date`, `Composition.meta.lastUpdated` if present), and
/// `relatesTo` `replaces` `replaces` (removed when `None`). `drop_status` removes `Composition.status`
/// (the `invalid-bundle` defect).
pub fn prepare_upload(
    bundle: &Value,
    replaces: Option<&str>,
    now: &str,
    drop_status: bool,
) -> Result<PreparedUpload, BodyError> {
    let mut bundle = bundle.clone();
    expect_resource(&bundle, "Bundle").map_err(|e| BodyError::BadUpload(e.to_string()))?;
    let bundle_identifier = uuid::Uuid::new_v4().to_string().to_uppercase();
    let scr_id = uuid::Uuid::new_v4().to_string().to_uppercase();
    bundle["id"] = json!(uuid::Uuid::new_v4().to_string().to_uppercase());
    bundle["identifier"] = json!({ "system": "https://tools.ietf.org/html/rfc4122", "value": bundle_identifier });
    bundle["timestamp"] = json!(now);
    let composition = bundle
        .get_mut("entry")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get_mut("resource"))
        .find(|r| r.get("resourceType").and_then(Value::as_str) == Some("Composition"))
        .ok_or_else(|| BodyError::BadUpload("holds no Composition".into()))?;
    let Some(composition) = composition.as_object_mut() else {
        return Err(BodyError::BadUpload("holds a Composition that is not an object".into()));
    };
    composition
        .insert("identifier".into(), json!({ "system": "https://tools.ietf.org/html/rfc4122", "value": scr_id }));
    composition.insert("date".into(), json!(now));
    if let Some(meta) = composition.get_mut("meta").and_then(Value::as_object_mut) {
        if meta.contains_key("lastUpdated") {
            meta.insert("lastUpdated".into(), json!(now));
        }
    }
    match replaces {
        Some(id) => {
            composition
                .insert("relatesTo".into(), json!([{ "code": "replaces", "targetIdentifier": { "value": id } }]));
        }
        None => {
            composition.remove("relatesTo");
        }
    }
    if drop_status {
        composition.remove("status");
    }
    let body = serde_json::to_vec(&bundle).map_err(|e| BodyError::BadUpload(e.to_string()))?;
    Ok(PreparedUpload { body, scr_id })
}

/// A short description of an error answer: the OperationOutcome's first issue text, the OAuth error, or an
/// excerpt of the body (bounded, single line).
pub fn describe_error(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        let issue = value.pointer("/issue/0");
        let field = |pointer: &str| issue.and_then(|i| i.pointer(pointer)).and_then(Value::as_str);
        let text = field("/details/text").or_else(|| field("/details/coding/0/display"));
        match (text, field("/diagnostics")) {
            (Some(text), Some(diagnostics)) => return format!("{text}: {diagnostics}"),
            (Some(one), None) | (None, Some(one)) => return one.to_owned(),
            (None, None) => {}
        }
        if let Some(error) = value.get("error").and_then(Value::as_str) {
            let description = value.get("error_description").and_then(Value::as_str).unwrap_or("");
            return format!("{error}: {description}");
        }
    }
    let text = String::from_utf8_lossy(body);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut excerpt: String = line.chars().take(200).collect();
    if line.chars().count() > 200 {
        excerpt.push('…');
    }
    if excerpt.is_empty() {
        "an empty body".into()
    } else {
        excerpt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPLOAD: &str = include_str!("../../fixtures/nhs/examples/UploadScrBundle.json");
    const DOCREF: &str = include_str!("../../fixtures/nhs/examples/DocumentReferenceBundle.json");

    #[test]
    fn reads_the_nhs_searchset_and_an_empty_one() {
        match read_scr_id(DOCREF.as_bytes()).expect("docref") {
            ScrIdAnswer::Found { scr_id, permission } => {
                assert!(!scr_id.is_empty());
                assert!(permission.is_some());
            }
            other => panic!("{other:?}"),
        }
        let empty = br#"{"resourceType":"Bundle","id":"X","type":"searchset","total":0}"#;
        assert_eq!(read_scr_id(empty), Ok(ScrIdAnswer::NoScr));
        assert!(matches!(read_scr_id(b"<html>503</html>"), Err(BodyError::NotJson(_))));
        assert!(matches!(read_scr_id(br#"{"resourceType":"OperationOutcome"}"#), Err(BodyError::WrongResource { .. })));
        assert_eq!(read_document(br#"{"resourceType":"Bundle","entry":[{"resource":{}}]}"#), Ok(true));
        assert_eq!(read_document(br#"{"resourceType":"Bundle","total":0}"#), Ok(false));
    }

    #[test]
    fn an_upload_gets_fresh_ids_times_and_relates_to() {
        let bundle: Value = serde_json::from_str(UPLOAD).expect("example");
        let now = "2026-12-04T15:00:00+00:00";
        let prepared = prepare_upload(&bundle, Some("PREVIOUS-ID"), now, false).expect("prepare");
        let sent: Value = serde_json::from_slice(&prepared.body).expect("json");
        let composition = &sent["entry"][0]["resource"];
        assert_eq!(composition["identifier"]["value"], prepared.scr_id.as_str());
        assert_eq!(prepared.scr_id, prepared.scr_id.to_uppercase());
        assert_ne!(prepared.scr_id, "BF4180FD-C403-4EF7-A4AB-E07303AF5477");
        assert_ne!(sent["identifier"]["value"], bundle["identifier"]["value"]);
        assert_eq!(sent["timestamp"], now);
        assert_eq!(composition["date"], now);
        assert_eq!(composition["status"], "final");
        assert_eq!(
            composition["relatesTo"],
            json!([{"code": "replaces", "targetIdentifier": {"value": "PREVIOUS-ID"}}])
        );
        let first = prepare_upload(&bundle, None, now, true).expect("prepare");
        let sent: Value = serde_json::from_slice(&first.body).expect("json");
        assert!(sent["entry"][0]["resource"].get("relatesTo").is_none());
        assert!(sent["entry"][0]["resource"].get("status").is_none());
        assert!(prepare_upload(&json!({"resourceType": "Bundle", "entry": []}), None, now, false).is_err());
    }

    #[test]
    fn alert_codes_follow_the_reference_table() {
        let pairs: Vec<_> = [OverrideReason::Emergency, OverrideReason::Legal, OverrideReason::SelfClaimed]
            .into_iter()
            .map(|r| (r.alert_type().0, r.alert_subtype().0))
            .collect();
        assert_eq!(pairs, [("2", "5"), ("2", "2"), ("1", "4")]);
        for r in [OverrideReason::Emergency, OverrideReason::Legal, OverrideReason::SelfClaimed] {
            assert_ne!(r.other().alert_subtype().0, r.alert_subtype().0);
            assert_eq!(OverrideReason::parse(r.as_str()), Some(r));
        }
        let author = AlertAuthor { user_id: "910000000001", role_id: "555254242102", ods_code: "T10101" };
        let event = audit_event(
            "9990000018",
            "SCR-1",
            ("2", "Access Alert"),
            ("5", "x"),
            &author,
            "2026-01-01T00:00:00+00:00",
            "emergency",
        );
        assert_eq!(event["agent"][2]["role"][0]["coding"][0]["code"], "555254242102");
        assert_eq!(event["entity"][0]["what"]["identifier"]["value"], "SCR-1");
        assert_eq!(event["agent"][0]["who"]["identifier"]["value"], "9990000018");
    }

    #[test]
    fn errors_are_described_briefly() {
        let oo = br#"{"resourceType":"OperationOutcome","issue":[{"details":{"text":"Invalid value"}}]}"#;
        assert_eq!(describe_error(oo), "Invalid value");
        let gateway = br#"{"issue":[{"details":{"coding":[{"display":"Provided value is invalid"}]},"diagnostics":"nhsd-session-urid is invalid"}]}"#;
        assert_eq!(describe_error(gateway), "Provided value is invalid: nhsd-session-urid is invalid");
        assert_eq!(
            describe_error(br#"{"error":"invalid_grant","error_description":"refresh_token is invalid"}"#),
            "invalid_grant: refresh_token is invalid"
        );
        assert_eq!(
            describe_error(b"<html>\n503 Service Temporarily Unavailable</html>"),
            "<html> 503 Service Temporarily Unavailable</html>"
        );
        assert_eq!(describe_error(b""), "an empty body");
    }
}
