//! The SCR rules: what the SCR FHIR API requires of its payloads beyond the HL7 FHIR R4 JSON schema
//! ([`super::schema`]). These are the harness's conformance checks of a payload in either direction: a request
//! the harness (or a supplier) sends, or a response the target returns. They are not the backend's request
//! validation (`crate::scr::validate`, first failure wins, the backend's texts); here every failure is reported,
//! each with a JSON Pointer into the instance and a message saying what is wrong and what is expected.
//!
//! Two layers, both answering with [`Finding`]s:
//! - **JSON Schemas** in `schemas/scr/*.json` (draft 2020-12, embedded at compile time): the shapes, required
//!   primitives, fixed codes and systems, value sets and "exactly one" rules. Each subschema carries an
//!   `x-message` (what is expected) which becomes the finding's message.
//! - **Rust rules** in this file, for what a schema cannot say: Modulus 11 check digits, the alert type/subtype
//!   matrix (shared with the mock, [`crate::scr::alert::is_permitted`]), `total` against the entries, the entry
//!   order, fullUrls against their resources, references between entries, the DocumentReference attachment URL,
//!   the empty searchset form and real calendar dates.
//!
//! Findings come in document order: the order in which their paths occur in the parsed instance (arrays by
//! index; object members in the order `serde_json` keeps them, which is alphabetical unless its
//! `preserve_order` feature is on). A finding on an absent member sorts after its present siblings; a finding
//! on a container sorts before findings inside it. At most [`MAX_FINDINGS`] are returned.
//!
//! Where NHS's own payloads (`fixtures/nhs/`) contradict the reference, the rules follow the NHS payloads:
//! - `DocumentReference.type` display: `" General Practice Summary"` (leading space, what the backend returns,
//!   UAT `get_scr_id/success`) and `"General Practice Summary"` (the spec example `DocumentReferenceBundle.json`)
//!   are both accepted; so is an attachment URL with or without `/FHIR/R4` (the example has none).
//! - `GET /Bundle` responses may carry the Initial Summary type `196971000000103` and sections without a code
//!   (UAT `get_scr/init_upload_success`, `init_upload_org_sds_success`); the known section ids include
//!   `CircumstancesHeader` (UAT `get_scr/additional_information`) and the additional-information headers of
//!   the adaptor's own test data.
//! - NHS numbers are checked for ten digits everywhere, and for the Modulus 11 check digit everywhere except the
//!   AuditEvent patient agent (UAT `send_alert/success` sends `9999999998`, which fails it, and is accepted) and
//!   the Patient of a `GET /Bundle` response (UAT `get_scr/init_upload_*` return `9900004948`, which fails it).
//! - Times without seconds (`2007-03-14T01:00+00:00`) and without a zone are tolerated in dates (UAT
//!   `get_scr/init_upload_*`); only the calendar and clock values are checked.
//!
//! [`detect`] tells the kind from `resourceType` and shape. An empty searchset (`total` 0, no entries) cannot be
//! told apart: it is reported as [`ScrPayload::DocumentReferenceResponse`], and [`check`] accepts the same
//! empty shape as a [`ScrPayload::DocumentResponse`].

use std::sync::LazyLock;

use chrono::NaiveDate;
use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use regex::Regex;
use serde_json::Value;

use super::{Finding, ScrPayload};
use crate::scr::alert::{is_permitted, AlertReason, AlertType};
use crate::scr::codes;
use crate::scr::nhs_number::{NhsNumber, NhsNumberError};

/// The most findings [`check`] returns.
pub const MAX_FINDINGS: usize = 50;

/// Checks `value` against the SCR rules for `kind`; empty when it conforms.
pub fn check(kind: ScrPayload, value: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    if !value.is_object() {
        out.push(finding("", format!("expected a FHIR resource (a JSON object); found {}", describe(value))));
        return out;
    }
    schema_findings(kind, value, &mut out);
    match kind {
        ScrPayload::UploadRequest => upload_request(value, &mut out),
        ScrPayload::PermissionRequest => permission_request(value, &mut out),
        ScrPayload::AlertRequest => alert_request(value, &mut out),
        ScrPayload::DocumentReferenceResponse => document_reference_response(value, &mut out),
        ScrPayload::DocumentResponse => document_response(value, &mut out),
        ScrPayload::OperationOutcome => {}
    }
    dates(value, "", &mut out);
    finish(value, out)
}

/// The kind of SCR payload `value` is, from its `resourceType` and shape:
/// - `OperationOutcome` → [`ScrPayload::OperationOutcome`]; `Parameters` → [`ScrPayload::PermissionRequest`];
///   `AuditEvent` → [`ScrPayload::AlertRequest`];
/// - `Bundle` of type `document` → [`ScrPayload::UploadRequest`];
/// - `Bundle` of type `searchset`: with a DocumentReference entry → [`ScrPayload::DocumentReferenceResponse`];
///   with a Composition entry → [`ScrPayload::DocumentResponse`]; with no entries (absent or empty `entry`)
///   → [`ScrPayload::DocumentReferenceResponse`] (both GETs answer `{type: searchset, total: 0}` when there is
///   nothing; [`check`] accepts that shape for either kind);
/// - anything else (another resource, a Bundle of another type, a searchset of other resources) → `None`.
pub fn detect(value: &Value) -> Option<ScrPayload> {
    match value.get("resourceType").and_then(Value::as_str)? {
        "OperationOutcome" => Some(ScrPayload::OperationOutcome),
        "Parameters" => Some(ScrPayload::PermissionRequest),
        "AuditEvent" => Some(ScrPayload::AlertRequest),
        "Bundle" => match value.get("type").and_then(Value::as_str)? {
            "document" => Some(ScrPayload::UploadRequest),
            "searchset" => {
                let types: Vec<&str> = entries(value).iter().filter_map(|e| e.resource_type).collect();
                if types.contains(&"DocumentReference") {
                    Some(ScrPayload::DocumentReferenceResponse)
                } else if types.contains(&"Composition") {
                    Some(ScrPayload::DocumentResponse)
                } else if array(value, "/entry").is_empty() {
                    Some(ScrPayload::DocumentReferenceResponse)
                } else {
                    None
                }
            }
            _ => None,
        },
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------------------
// The JSON Schema layer

/// A compiled `schemas/scr/*.json`, with its source for the `x-message` look-ups.
struct Rules {
    schema: Value,
    validator: Validator,
}

fn compile(name: &str, text: &str) -> Result<Rules, String> {
    let schema: Value = serde_json::from_str(text).map_err(|e| format!("schemas/scr/{name} is not JSON: {e}"))?;
    let validator =
        jsonschema::draft202012::new(&schema).map_err(|e| format!("schemas/scr/{name} does not compile: {e}"))?;
    Ok(Rules { schema, validator })
}

macro_rules! scr_schema {
    ($name:literal) => {
        LazyLock::new(|| compile($name, include_str!(concat!("../../schemas/scr/", $name))))
    };
}

static UPLOAD_REQUEST: LazyLock<Result<Rules, String>> = scr_schema!("upload-request.json");
static PERMISSION_REQUEST: LazyLock<Result<Rules, String>> = scr_schema!("permission-request.json");
static ALERT_REQUEST: LazyLock<Result<Rules, String>> = scr_schema!("alert-request.json");
static DOCUMENT_REFERENCE_RESPONSE: LazyLock<Result<Rules, String>> = scr_schema!("document-reference-response.json");
static DOCUMENT_RESPONSE: LazyLock<Result<Rules, String>> = scr_schema!("document-response.json");
static OPERATION_OUTCOME: LazyLock<Result<Rules, String>> = scr_schema!("operation-outcome.json");

fn rules(kind: ScrPayload) -> &'static Result<Rules, String> {
    match kind {
        ScrPayload::UploadRequest => &UPLOAD_REQUEST,
        ScrPayload::PermissionRequest => &PERMISSION_REQUEST,
        ScrPayload::AlertRequest => &ALERT_REQUEST,
        ScrPayload::DocumentReferenceResponse => &DOCUMENT_REFERENCE_RESPONSE,
        ScrPayload::DocumentResponse => &DOCUMENT_RESPONSE,
        ScrPayload::OperationOutcome => &OPERATION_OUTCOME,
    }
}

fn schema_findings(kind: ScrPayload, value: &Value, out: &mut Vec<Finding>) {
    match rules(kind) {
        Ok(rules) => out.extend(rules.validator.iter_errors(value).map(|e| schema_finding(&rules.schema, &e))),
        Err(problem) => out.push(finding("", format!("internal error, the SCR rules could not be loaded: {problem}"))),
    }
}

/// One schema error as a finding: the instance path (for a missing member, the member's own path) and the
/// nearest `x-message` of the failing subschema.
fn schema_finding(schema: &Value, error: &ValidationError<'_>) -> Finding {
    let instance_path = error.instance_path().as_str();
    let mut segments = pointer_segments(error.schema_path().as_str());
    let keyword = segments.pop().unwrap_or_default();
    if let ValidationErrorKind::Required { property } = error.kind() {
        let property = property.as_str().unwrap_or_default();
        let mut own = segments.clone();
        own.extend(["properties".to_owned(), property.to_owned()]);
        let expected = x_message(schema, &own, false)
            .or_else(|| x_message(schema, &segments, true))
            .map_or_else(|| error.to_string(), str::to_owned);
        return finding(&join(instance_path, property), format!("`{property}` is missing; expected {}", expected));
    }
    let Some(expected) = x_message(schema, &segments, true) else {
        return finding(instance_path, error.to_string());
    };
    let found = match keyword.as_str() {
        "contains" | "minContains" => "none".to_owned(),
        "maxContains" => "more than one".to_owned(),
        _ => describe(error.instance()),
    };
    finding(instance_path, format!("expected {expected}; found {found}"))
}

/// The `x-message` of the subschema at `segments`, or (with `upward`) of its nearest ancestor that has one.
fn x_message<'s>(schema: &'s Value, segments: &[String], upward: bool) -> Option<&'s str> {
    let mut len = segments.len();
    loop {
        let found = segments[..len]
            .iter()
            .try_fold(schema, |node, segment| match node {
                Value::Object(members) => members.get(segment),
                Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            })
            .and_then(|node| node.get("x-message"))
            .and_then(Value::as_str);
        if found.is_some() || !upward || len == 0 {
            return found;
        }
        len -= 1;
    }
}

// ---------------------------------------------------------------------------------------------------------
// The Rust layer: one function per payload kind

fn upload_request(bundle: &Value, out: &mut Vec<Finding>) {
    let entries = entries(bundle);
    let patients: Vec<&Entry<'_>> = entries.iter().filter(|e| e.resource_type == Some("Patient")).collect();
    for patient in &patients {
        nhs_number_identifiers(patient, out);
    }
    let [patient] = patients.as_slice() else { return };
    for composition in entries.iter().filter(|e| e.resource_type == Some("Composition")) {
        subject_references(composition, patient, out);
    }
}

fn permission_request(params: &Value, out: &mut Vec<Finding>) {
    for (i, parameter) in array(params, "/parameter").iter().enumerate() {
        if parameter.get("name").and_then(Value::as_str) != Some("setPermissions") {
            continue;
        }
        for (j, part) in array(parameter, "/part").iter().enumerate() {
            if part.get("name").and_then(Value::as_str) != Some("nhsNumber") {
                continue;
            }
            if let Some(nhs) = part.get("valueString").and_then(Value::as_str) {
                let path = format!("/parameter/{i}/part/{j}/valueString");
                check_digit(nhs, &path, "the setPermissions nhsNumber part", out);
            }
        }
    }
}

fn alert_request(event: &Value, out: &mut Vec<Finding>) {
    let alert_type = text(event, "/type/code").and_then(AlertType::from_code);
    let reason = text(event, "/subtype/0/code").and_then(AlertReason::from_code);
    if let (Some(alert_type), Some(reason)) = (alert_type, reason) {
        if !is_permitted(alert_type, reason) {
            out.push(finding(
                "/subtype/0/code",
                format!(
                    "alert type {alert_type} ({}) with subtype {reason} ({}) is not a permitted combination; expected \
                     type 1 with subtype 1, 2, 3, 4 or 6 (MSCA-SCR-103), type 2 with subtype 5 (MSCA-SCR-104) or \
                     type 2 with subtype 1, 2 or 3 (MSCA-SCR-105)",
                    alert_type.display(),
                    reason.display()
                ),
            ));
        }
    }
    // The patient agent's NHS number is checked for ten digits only (by the schema): NHS's UAT success alert
    // (fixtures/nhs/uat/send_alert/success/1-basic.request.json) sends 9999999998, which fails Modulus 11.
}

fn document_reference_response(bundle: &Value, out: &mut Vec<Finding>) {
    empty_entry_array(bundle, out);
    let entries = entries(bundle);
    let references: Vec<&Entry<'_>> = entries.iter().filter(|e| e.resource_type == Some("DocumentReference")).collect();
    let patients: Vec<&Entry<'_>> = entries.iter().filter(|e| e.resource_type == Some("Patient")).collect();
    if let Some(total) = bundle.get("total").and_then(Value::as_u64) {
        if usize::try_from(total).ok() != Some(references.len()) {
            out.push(finding(
                "/total",
                format!(
                    "Bundle.total is {total} but the Bundle holds {} DocumentReference entr{}; expected total = the \
                     number of DocumentReference entries (0 or 1)",
                    references.len(),
                    if references.len() == 1 { "y" } else { "ies" }
                ),
            ));
        }
    }
    if references.len() > 1 {
        out.push(finding(
            "/entry",
            format!("{} DocumentReference entries; expected at most one (the latest SCR)", references.len()),
        ));
    }
    for patient in &patients {
        nhs_number_identifiers(patient, out);
    }
    if !references.is_empty() && patients.len() != 1 {
        out.push(finding(
            "/entry",
            format!(
                "{} Patient entries; expected exactly one Patient (the subject of the DocumentReference)",
                patients.len()
            ),
        ));
    }
    let patient = match patients.as_slice() {
        [patient] => Some(*patient),
        _ => None,
    };
    for reference in &references {
        if let Some(patient) = patient {
            subject_references(reference, patient, out);
        }
        attachment_url(reference, patient, out);
    }
}

fn document_response(bundle: &Value, out: &mut Vec<Finding>) {
    empty_entry_array(bundle, out);
    let entries = entries(bundle);
    if let Some(total) = bundle.get("total").and_then(Value::as_u64) {
        if usize::try_from(total).ok() != Some(entries.len()) {
            out.push(finding(
                "/total",
                format!(
                    "Bundle.total is {total} but the Bundle holds {} entries; expected total = the number of entries",
                    entries.len()
                ),
            ));
        }
    }
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else { return };
    if first.resource_type != Some("Composition") {
        out.push(finding(
            &format!("{}/resourceType", first.resource_path),
            format!("expected the Composition as the first entry; found {}", describe_type(first.resource_type)),
        ));
    }
    if last.resource_type != Some("Patient") {
        out.push(finding(
            &format!("{}/resourceType", last.resource_path),
            format!("expected the Patient as the last entry; found {}", describe_type(last.resource_type)),
        ));
    }
    for resource_type in ["Composition", "Patient"] {
        for extra in entries.iter().filter(|e| e.resource_type == Some(resource_type)).skip(1) {
            out.push(finding(
                &format!("{}/resourceType", extra.resource_path),
                format!("a second {resource_type}; expected exactly one {resource_type} in the GP Summary"),
            ));
        }
    }
    for entry in &entries {
        full_url(entry, out);
    }
    let patients: Vec<&Entry<'_>> = entries.iter().filter(|e| e.resource_type == Some("Patient")).collect();
    // Ten digits only (by the schema): NHS's UAT get_scr/init_upload_success and init_upload_org_sds_success
    // responses carry 9900004948, which fails Modulus 11.
    if let [patient] = patients.as_slice() {
        for composition in entries.iter().filter(|e| e.resource_type == Some("Composition")) {
            subject_references(composition, patient, out);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Rules shared by several kinds

/// One `Bundle.entry`.
struct Entry<'a> {
    /// `/entry/<i>`.
    path: String,
    /// `/entry/<i>/resource`.
    resource_path: String,
    full_url: Option<&'a str>,
    resource: &'a Value,
    resource_type: Option<&'a str>,
}

fn entries(bundle: &Value) -> Vec<Entry<'_>> {
    array(bundle, "/entry")
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let resource = entry.get("resource").unwrap_or(&Value::Null);
            Entry {
                path: format!("/entry/{i}"),
                resource_path: format!("/entry/{i}/resource"),
                full_url: entry.get("fullUrl").and_then(Value::as_str),
                resource,
                resource_type: resource.get("resourceType").and_then(Value::as_str),
            }
        })
        .collect()
}

/// HAPI never serialises an empty list: `"entry": []` is not what the backend sends for "nothing found".
fn empty_entry_array(bundle: &Value, out: &mut Vec<Finding>) {
    if bundle.get("entry").and_then(Value::as_array).is_some_and(Vec::is_empty) {
        out.push(finding(
            "/entry",
            "an empty `entry` array; expected no `entry` member at all when nothing is found (the backend's empty \
             form is {resourceType: Bundle, id, type: searchset, total: 0})",
        ));
    }
}

/// The Modulus 11 check digit of a ten-digit NHS number (the shape is the schema's or the caller's concern).
fn check_digit(nhs: &str, path: &str, what: &str, out: &mut Vec<Finding>) {
    if let Err(NhsNumberError::BadCheckDigit(_)) = NhsNumber::parse(nhs) {
        out.push(finding(
            path,
            format!(
                "NHS number {nhs} in {what} fails the Modulus 11 check digit; expected a valid NHS number (system \
                 {})",
                codes::NHS_NUMBER_SYSTEM
            ),
        ));
    }
}

/// The Modulus 11 check digits of a Patient entry's NHS number identifiers (their ten-digit shape is the
/// schema's).
fn nhs_number_identifiers(patient: &Entry<'_>, out: &mut Vec<Finding>) {
    for (i, identifier) in array(patient.resource, "/identifier").iter().enumerate() {
        if identifier.get("system").and_then(Value::as_str) != Some(codes::NHS_NUMBER_SYSTEM) {
            continue;
        }
        if let Some(nhs) = identifier.get("value").and_then(Value::as_str) {
            let path = format!("{}/identifier/{i}/value", patient.resource_path);
            check_digit(nhs, &path, "Patient.identifier", out);
        }
    }
}

/// The NHS number of a Patient entry (its first nhs-number identifier).
fn patient_nhs_number<'a>(patient: &Entry<'a>) -> Option<&'a str> {
    array(patient.resource, "/identifier")
        .iter()
        .find(|i| i.get("system").and_then(Value::as_str) == Some(codes::NHS_NUMBER_SYSTEM))
        .and_then(|i| i.get("value"))
        .and_then(Value::as_str)
}

/// `subject.reference` of `entry` must point at `patient`: `Patient/<id>` or the Patient entry's fullUrl.
fn subject_references(entry: &Entry<'_>, patient: &Entry<'_>, out: &mut Vec<Finding>) {
    let Some(reference) = entry.resource.pointer("/subject/reference").and_then(Value::as_str) else { return };
    let id = patient.resource.get("id").and_then(Value::as_str);
    let by_id = id.map(|id| format!("Patient/{id}"));
    if by_id.as_deref() == Some(reference) || patient.full_url == Some(reference) {
        return;
    }
    let expected = match (by_id, patient.full_url) {
        (Some(by_id), Some(full_url)) => format!("'{by_id}' or the Patient entry's fullUrl '{full_url}'"),
        (Some(by_id), None) => format!("'{by_id}'"),
        (None, Some(full_url)) => format!("the Patient entry's fullUrl '{full_url}'"),
        (None, None) => "a reference to the Patient entry (which has neither id nor fullUrl)".to_owned(),
    };
    out.push(finding(
        &format!("{}/subject/reference", entry.resource_path),
        format!(
            "{}.subject.reference '{reference}' does not reference the Patient of this Bundle ({}); expected \
             {expected}",
            entry.resource_type.unwrap_or("resource"),
            patient.path
        ),
    ));
}

static ATTACHMENT_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^https?://[^/?#\s]+/summary-care-record(?:/FHIR/R4)?/Bundle",
        r"\?composition\.identifier=([^&\s]+)",
        r"&composition\.subject:Patient\.identifier=https://fhir\.nhs\.uk/Id/nhs-number(?:\||%7[Cc])([^&\s]*)$",
    ))
    .unwrap_or_else(|e| unreachable!("the attachment URL pattern is a valid regex: {e}"))
});

/// `content[0].attachment.url` is the `GET /Bundle` URL of the SCR the DocumentReference names.
fn attachment_url(reference: &Entry<'_>, patient: Option<&Entry<'_>>, out: &mut Vec<Finding>) {
    let path = format!("{}/content/0/attachment/url", reference.resource_path);
    let Some(url) = reference.resource.pointer("/content/0/attachment/url").and_then(Value::as_str) else { return };
    let Some(captures) = ATTACHMENT_URL.captures(url) else {
        out.push(finding(
            &path,
            format!(
                "expected <base>/summary-care-record/FHIR/R4/Bundle?composition.identifier=<SCR id>\
                 &composition.subject:Patient.identifier={}|<NHS number>; found \"{}\"",
                codes::NHS_NUMBER_SYSTEM,
                truncate(url)
            ),
        ));
        return;
    };
    let id = captures.get(1).map_or("", |m| m.as_str());
    let nhs = captures.get(2).map_or("", |m| m.as_str());
    let master = text(reference.resource, "/masterIdentifier/value");
    if master.is_some_and(|master| master != id) {
        out.push(finding(
            &path,
            format!(
                "the attachment URL names SCR '{id}' but masterIdentifier.value is '{}'; expected the same SCR id in \
                 both",
                master.unwrap_or_default()
            ),
        ));
    }
    if nhs.len() != 10 || !nhs.bytes().all(|b| b.is_ascii_digit()) {
        out.push(finding(
            &path,
            format!(
                "the attachment URL's NHS number '{nhs}' is not ten digits; expected {}|<NHS number>",
                codes::NHS_NUMBER_SYSTEM
            ),
        ));
        return;
    }
    check_digit(nhs, &path, "the attachment URL", out);
    let patient_nhs = patient.and_then(patient_nhs_number);
    if let Some(patient_nhs) = patient_nhs.filter(|p| *p != nhs) {
        out.push(finding(
            &path,
            format!(
                "the attachment URL names NHS number {nhs} but the Patient entry's NHS number is {patient_nhs}; \
                 expected the same patient"
            ),
        ));
    }
}

static FULL_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^https?://[^/?#\s]+/summary-care-record/FHIR/R4/([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")
        .unwrap_or_else(|e| unreachable!("the fullUrl pattern is a valid regex: {e}"))
});

/// `GET /Bundle` entries: `fullUrl` is `<base>/<Type>/<id>` of the entry's own resource.
fn full_url(entry: &Entry<'_>, out: &mut Vec<Finding>) {
    let (Some(resource_type), Some(url)) = (entry.resource_type, entry.full_url) else { return };
    let Some(id) = entry.resource.get("id").and_then(Value::as_str) else {
        out.push(finding(
            &format!("{}/id", entry.resource_path),
            format!("`id` is missing; expected the {resource_type}'s id (its fullUrl ends with it)"),
        ));
        return;
    };
    let path = format!("{}/fullUrl", entry.path);
    let expected = format!("https://<host>/summary-care-record/FHIR/R4/{resource_type}/{id}");
    match FULL_URL.captures(url) {
        Some(c) if c.get(1).map(|m| m.as_str()) == Some(resource_type) && c.get(2).map(|m| m.as_str()) == Some(id) => {}
        Some(c) => out.push(finding(
            &path,
            format!(
                "fullUrl names {}/{} but the entry holds {resource_type}/{id}; expected {expected}",
                c.get(1).map_or("", |m| m.as_str()),
                c.get(2).map_or("", |m| m.as_str())
            ),
        )),
        None => out.push(finding(&path, format!("expected {expected}; found \"{}\"", truncate(url)))),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Dates

/// Members that hold a FHIR date, dateTime or instant in the SCR payloads.
fn is_date_member(name: &str) -> bool {
    matches!(
        name,
        "date"
            | "timestamp"
            | "recorded"
            | "lastUpdated"
            | "issued"
            | "start"
            | "end"
            | "authoredOn"
            | "sent"
            | "received"
            | "created"
            | "birthDate"
            | "recordedDate"
            | "assertedDate"
            | "dateAsserted"
            | "dateWritten"
    ) || name.ends_with("DateTime")
        || name.ends_with("Instant")
        || (name.starts_with("value") && name.ends_with("Date"))
}

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):(\d{2}))?)?)?)?$",
    )
    .unwrap_or_else(|e| unreachable!("the date pattern is a valid regex: {e}"))
});

/// Every date-valued member anywhere in `value` is a real calendar date (and a real time of day).
fn dates(value: &Value, path: &str, out: &mut Vec<Finding>) {
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                let member_path = join(path, name);
                match member {
                    Value::String(text) if is_date_member(name) => {
                        if let Err(problem) = real_date(text) {
                            out.push(finding(&member_path, problem));
                        }
                    }
                    _ => dates(member, &member_path, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                dates(item, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Checks a FHIR date/dateTime/instant for a real calendar date and clock. Seconds and the zone may be
/// missing (NHS's UAT responses send `2007-03-14T01:00+00:00`); their shape is the HL7 schema's concern.
fn real_date(text: &str) -> Result<(), String> {
    let Some(c) = DATE.captures(text) else {
        return Err(format!(
            "expected a FHIR date, dateTime or instant (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz); found \
             \"{}\"",
            truncate(text)
        ));
    };
    let number = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let year = number(1).and_then(|y| i32::try_from(y).ok()).unwrap_or_default();
    let not_real = |why: String| Err(format!("\"{text}\" is not a real date: {why}; expected a real calendar date"));
    if let Some(month) = number(2) {
        if !(1..=12).contains(&month) {
            return not_real(format!("there is no month {month:02}"));
        }
        if let Some(day) = number(3) {
            if NaiveDate::from_ymd_opt(year, month, day).is_none() {
                return not_real(format!("{year:04}-{month:02} has no day {day:02}"));
            }
        }
    }
    let (hour, minute, second) = (number(4).unwrap_or(0), number(5).unwrap_or(0), number(6).unwrap_or(0));
    if hour > 23 || minute > 59 || second > 60 {
        return not_real(format!("{hour:02}:{minute:02}:{second:02} is not a time of day"));
    }
    let (zone_hours, zone_minutes) = (number(7).unwrap_or(0), number(8).unwrap_or(0));
    if zone_hours > 14 || zone_minutes > 59 {
        return not_real(format!("{zone_hours:02}:{zone_minutes:02} is not a time zone offset"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

fn finding(path: &str, message: impl Into<String>) -> Finding {
    Finding { path: path.to_owned(), message: message.into() }
}

/// The array at `pointer`, or an empty slice.
fn array<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value.pointer(pointer).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The non-empty string at `pointer`.
fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `base` + `/` + the escaped `segment`.
fn join(base: &str, segment: &str) -> String {
    format!("{base}/{}", segment.replace('~', "~0").replace('/', "~1"))
}

/// The unescaped segments of a JSON Pointer.
fn pointer_segments(pointer: &str) -> Vec<String> {
    pointer.split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~")).collect()
}

fn truncate(text: &str) -> String {
    const MAX: usize = 120;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

/// A short description of a JSON value for "found …".
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{}\"", truncate(s)),
        Value::Array(items) if items.len() == 1 => "an array of 1 item".to_owned(),
        Value::Array(items) => format!("an array of {} items", items.len()),
        Value::Object(_) => "an object".to_owned(),
        other => other.to_string(),
    }
}

fn describe_type(resource_type: Option<&str>) -> String {
    match resource_type {
        None => "an entry without a resourceType".to_owned(),
        Some(t) if t.starts_with(['A', 'E', 'I', 'O', 'U']) => format!("an {t}"),
        Some(t) => format!("a {t}"),
    }
}

/// Drops repeated findings, sorts into document order and keeps the first [`MAX_FINDINGS`].
fn finish(root: &Value, findings: Vec<Finding>) -> Vec<Finding> {
    let mut unique: Vec<Finding> = Vec::with_capacity(findings.len());
    for f in findings {
        if !unique.contains(&f) {
            unique.push(f);
        }
    }
    let mut keyed: Vec<(Vec<(usize, String)>, Finding)> =
        unique.into_iter().map(|f| (document_position(root, &f.path), f)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().take(MAX_FINDINGS).map(|(_, f)| f).collect()
}

/// Where `path` falls in `root`: per segment, the index of the member or item; an absent one sorts after the
/// present ones, by name.
fn document_position(root: &Value, path: &str) -> Vec<(usize, String)> {
    let mut node = Some(root);
    pointer_segments(path)
        .into_iter()
        .map(|segment| {
            let (index, next) = match node {
                Some(Value::Object(members)) => match members.keys().position(|k| *k == segment) {
                    Some(i) => (i, members.get(&segment)),
                    None => (usize::MAX, None),
                },
                Some(Value::Array(items)) => match segment.parse::<usize>().ok().filter(|i| *i < items.len()) {
                    Some(i) => (i, items.get(i)),
                    None => (usize::MAX, None),
                },
                _ => (usize::MAX, None),
            };
            node = next;
            (index, if index == usize::MAX { segment } else { String::new() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn example(name: &str) -> Value {
        let text = match name {
            "UploadScrBundle" => include_str!("../../fixtures/nhs/examples/UploadScrBundle.json"),
            "SetPermission" => include_str!("../../fixtures/nhs/examples/SetPermission.json"),
            "AuditEvent" => include_str!("../../fixtures/nhs/examples/AuditEvent.json"),
            "DocumentReferenceBundle" => include_str!("../../fixtures/nhs/examples/DocumentReferenceBundle.json"),
            "GetScrBundle" => include_str!("../../fixtures/nhs/examples/GetScrBundle.json"),
            "GetScrId" => include_str!("../../fixtures/nhs/uat/get_scr_id/success/1-basic.response.json"),
            "NoConsent" => include_str!("../../fixtures/nhs/uat/get_scr_id/no_consent/1-basic.response.json"),
            "InitUpload" => include_str!("../../fixtures/nhs/uat/get_scr/init_upload_success/1-basic.response.json"),
            _ => unreachable!("no example {name}"),
        };
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// `value` with the member at `pointer` replaced (or removed, for `None`).
    fn edit(mut value: Value, pointer: &str, new: Option<Value>) -> Value {
        let (parent, last) = pointer.rsplit_once('/').unwrap_or_else(|| panic!("bad pointer {pointer}"));
        let last = last.replace("~1", "/").replace("~0", "~");
        let target = value.pointer_mut(parent).unwrap_or_else(|| panic!("no {parent}"));
        match (target, new) {
            (Value::Object(members), Some(new)) => {
                members.insert(last, new);
            }
            (Value::Object(members), None) => {
                members.remove(&last);
            }
            (Value::Array(items), new) => {
                let i: usize = last.parse().unwrap_or_else(|_| panic!("bad index {last}"));
                match new {
                    Some(new) => items[i] = new,
                    None => {
                        items.remove(i);
                    }
                }
            }
            _ => panic!("{parent} is not a container"),
        }
        value
    }

    fn first(kind: ScrPayload, value: &Value) -> Finding {
        check(kind, value).into_iter().next().unwrap_or_else(|| panic!("no finding for {kind:?}"))
    }

    fn assert_first(kind: ScrPayload, value: &Value, path: &str, message: &str) {
        let f = first(kind, value);
        assert_eq!(f.path, path, "{f}");
        assert!(f.message.contains(message), "{f}\n  does not contain: {message}");
    }

    #[test]
    fn the_schemas_compile() {
        for kind in [
            ScrPayload::UploadRequest,
            ScrPayload::PermissionRequest,
            ScrPayload::AlertRequest,
            ScrPayload::DocumentReferenceResponse,
            ScrPayload::DocumentResponse,
            ScrPayload::OperationOutcome,
        ] {
            if let Err(problem) = rules(kind) {
                panic!("{kind:?}: {problem}");
            }
        }
    }

    #[test]
    fn the_examples_conform() {
        for (kind, name) in [
            (ScrPayload::UploadRequest, "UploadScrBundle"),
            (ScrPayload::PermissionRequest, "SetPermission"),
            (ScrPayload::AlertRequest, "AuditEvent"),
            (ScrPayload::DocumentReferenceResponse, "DocumentReferenceBundle"),
            (ScrPayload::DocumentReferenceResponse, "GetScrId"),
            (ScrPayload::DocumentResponse, "GetScrBundle"),
            (ScrPayload::DocumentResponse, "InitUpload"),
            (ScrPayload::OperationOutcome, "NoConsent"),
        ] {
            let value = example(name);
            assert_eq!(check(kind, &value), [], "{name}");
            assert_eq!(detect(&value), Some(kind), "{name}");
        }
    }

    #[test]
    fn not_an_object() {
        assert_first(ScrPayload::OperationOutcome, &json!([1]), "", "expected a FHIR resource");
    }

    // OperationOutcome

    #[test]
    fn operation_outcome_issue_must_not_be_empty() {
        let oo = json!({"resourceType": "OperationOutcome", "issue": []});
        assert_first(ScrPayload::OperationOutcome, &oo, "/issue", "non-empty `issue`");
        let oo = json!({"resourceType": "OperationOutcome"});
        assert_first(ScrPayload::OperationOutcome, &oo, "/issue", "`issue` is missing");
    }

    #[test]
    fn operation_outcome_severity_and_code_are_required_and_coded() {
        let oo = edit(example("NoConsent"), "/issue/0/severity", None);
        assert_first(ScrPayload::OperationOutcome, &oo, "/issue/0/severity", "`severity` is missing");
        let oo = edit(example("NoConsent"), "/issue/0/severity", Some(json!("fatal-ish")));
        assert_first(ScrPayload::OperationOutcome, &oo, "/issue/0/severity", "found \"fatal-ish\"");
        let oo = edit(example("NoConsent"), "/issue/0/code", None);
        assert_first(ScrPayload::OperationOutcome, &oo, "/issue/0/code", "issue.code (1..1)");
        let oo = edit(example("NoConsent"), "/issue/0/code", Some(json!("Forbidden")));
        assert_first(ScrPayload::OperationOutcome, &oo, "/issue/0/code", "issue-type");
    }

    #[test]
    fn operation_outcome_errors_carry_details() {
        let oo = edit(example("NoConsent"), "/issue/0/details", None);
        assert_first(ScrPayload::OperationOutcome, &oo, "/issue/0/details", "`details` is missing");
        let oo = edit(example("NoConsent"), "/issue/0/details", Some(json!({"text": ""})));
        assert_first(ScrPayload::OperationOutcome, &oo, "/issue/0/details", "non-empty `text`");
        let apigee = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "forbidden",
            "details": {"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/Spine-ErrorOrWarningCode",
            "code": "ACCESS_DENIED"}]}}]});
        assert_eq!(check(ScrPayload::OperationOutcome, &apigee), []);
        let warning =
            json!({"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "informational"}]});
        assert_eq!(check(ScrPayload::OperationOutcome, &warning), []);
    }

    // $setPermission

    #[test]
    fn permission_needs_exactly_one_set_permissions() {
        let p = edit(example("SetPermission"), "/parameter/0/name", Some(json!("setPermission")));
        assert_first(ScrPayload::PermissionRequest, &p, "/parameter", "exactly one parameter named \"setPermissions\"");
        let mut p = example("SetPermission");
        let copy = p["parameter"][0].clone();
        if let Some(parameters) = p["parameter"].as_array_mut() {
            parameters.push(copy);
        }
        let f = first(ScrPayload::PermissionRequest, &p);
        assert_eq!((f.path.as_str(), f.message.ends_with("found more than one")), ("/parameter", true), "{f}");
    }

    #[test]
    fn permission_parts() {
        let p = edit(example("SetPermission"), "/parameter/0/part/0", None);
        assert_first(ScrPayload::PermissionRequest, &p, "/parameter/0/part", "exactly one part named \"nhsNumber\"");
        let p = edit(example("SetPermission"), "/parameter/0/part/0/valueString", None);
        assert_first(ScrPayload::PermissionRequest, &p, "/parameter/0/part/0/valueString", "`valueString` is missing");
        let p = edit(example("SetPermission"), "/parameter/0/part/0/valueString", Some(json!("900000000")));
        assert_first(ScrPayload::PermissionRequest, &p, "/parameter/0/part/0/valueString", "ten-digit");
        let p = edit(example("SetPermission"), "/parameter/0/part/0/valueString", Some(json!("9000000008")));
        assert_first(ScrPayload::PermissionRequest, &p, "/parameter/0/part/0/valueString", "Modulus 11");
        let p = edit(example("SetPermission"), "/parameter/0/part/1/valueCoding/code", Some(json!("Maybe")));
        assert_first(ScrPayload::PermissionRequest, &p, "/parameter/0/part/1/valueCoding/code", "Yes, No or Ask");
        let p = edit(example("SetPermission"), "/parameter/0/part/1/valueCoding/system", Some(json!("urn:x")));
        assert_first(ScrPayload::PermissionRequest, &p, "/parameter/0/part/1/valueCoding/system", "SCR-ACSPermission");
    }

    // AuditEvent

    #[test]
    fn alert_type_subtype_matrix() {
        for (t, s, permitted) in
            [("1", "5", false), ("2", "4", false), ("2", "6", false), ("2", "5", true), ("1", "6", true)]
        {
            let a = edit(example("AuditEvent"), "/type/code", Some(json!(t)));
            let a = edit(a, "/subtype/0/code", Some(json!(s)));
            let findings = check(ScrPayload::AlertRequest, &a);
            if permitted {
                assert_eq!(findings, [], "{t}/{s}");
            } else {
                assert_eq!(findings.len(), 1, "{t}/{s}: {findings:?}");
                assert_eq!(findings[0].path, "/subtype/0/code");
                assert!(findings[0].message.contains("not a permitted combination"), "{}", findings[0]);
            }
        }
    }

    #[test]
    fn alert_codes_and_systems() {
        let a =
            edit(example("AuditEvent"), "/type/system", Some(json!("https://fhir.nhs.uk/CodeSystem/SCR-AlertReason")));
        assert_first(ScrPayload::AlertRequest, &a, "/type/system", "SCR-AlertType");
        let a = edit(example("AuditEvent"), "/type/code", Some(json!("3")));
        assert_first(ScrPayload::AlertRequest, &a, "/type/code", "type.code \"1\"");
        let a = edit(example("AuditEvent"), "/subtype/0/code", Some(json!("7")));
        assert_first(ScrPayload::AlertRequest, &a, "/subtype/0/code", "subtype.code \"1\" to \"6\"");
        let a = edit(example("AuditEvent"), "/subtype/0/system", Some(json!("urn:x")));
        assert_first(ScrPayload::AlertRequest, &a, "/subtype/0/system", "SCR-AlertReason");
        let a = edit(example("AuditEvent"), "/extension/0/url", Some(json!("urn:x")));
        assert_first(ScrPayload::AlertRequest, &a, "/extension", "Extension-SCR-NotificationMessage");
        let a = edit(example("AuditEvent"), "/extension/0/valueString", None);
        assert_first(ScrPayload::AlertRequest, &a, "/extension/0/valueString", "`valueString` is missing");
    }

    #[test]
    fn alert_agents_entity_recorded() {
        let a = edit(example("AuditEvent"), "/agent/0", None);
        assert_first(ScrPayload::AlertRequest, &a, "/agent", "system https://fhir.nhs.uk/Id/nhs-number");
        let a = edit(example("AuditEvent"), "/agent/1/requestor", Some(json!(true)));
        assert_first(ScrPayload::AlertRequest, &a, "/agent/1/requestor", "requestor present and false");
        let a = edit(example("AuditEvent"), "/agent/2/role", None);
        assert_first(ScrPayload::AlertRequest, &a, "/agent/2/role", "`role` is missing");
        let a = edit(example("AuditEvent"), "/agent/2/role/0", Some(json!({"text": ""})));
        assert_first(ScrPayload::AlertRequest, &a, "/agent/2/role/0", "non-empty `text`");
        let a = edit(example("AuditEvent"), "/agent/0/who/identifier/value", Some(json!("90000 0009")));
        assert_first(ScrPayload::AlertRequest, &a, "/agent/0/who/identifier/value", "ten digits");
        let a = edit(example("AuditEvent"), "/entity/0/what/identifier/value", Some(json!("")));
        assert_first(ScrPayload::AlertRequest, &a, "/entity/0/what/identifier/value", "non-empty entity.what");
        let a = edit(example("AuditEvent"), "/recorded", None);
        assert_first(ScrPayload::AlertRequest, &a, "/recorded", "`recorded` is missing");
        let a = edit(example("AuditEvent"), "/recorded", Some(json!("2021-02-30T10:00:00+00:00")));
        assert_first(ScrPayload::AlertRequest, &a, "/recorded", "2021-02 has no day 30");
    }

    #[test]
    fn alert_nhs_number_is_not_modulus_11_checked() {
        let a = edit(example("AuditEvent"), "/agent/0/who/identifier/value", Some(json!("9999999998")));
        assert_eq!(check(ScrPayload::AlertRequest, &a), []);
    }

    // POST /Bundle

    #[test]
    fn upload_bundle_members() {
        let u = edit(example("UploadScrBundle"), "/timestamp", None);
        assert_first(ScrPayload::UploadRequest, &u, "/timestamp", "`timestamp` is missing");
        let u = edit(example("UploadScrBundle"), "/type", Some(json!("collection")));
        assert_first(ScrPayload::UploadRequest, &u, "/type", "\"document\"");
        let u = edit(example("UploadScrBundle"), "/identifier", None);
        assert_first(ScrPayload::UploadRequest, &u, "/identifier", "`identifier` is missing");
        let u = edit(example("UploadScrBundle"), "/timestamp", Some(json!("2020-02-30T13:23:10+00:00")));
        assert_first(ScrPayload::UploadRequest, &u, "/timestamp", "no day 30");
    }

    #[test]
    fn upload_composition_rules() {
        let c = "/entry/0/resource";
        let u = edit(example("UploadScrBundle"), &format!("{c}/status"), None);
        assert_first(ScrPayload::UploadRequest, &u, &format!("{c}/status"), "`status` is missing");
        let u = edit(example("UploadScrBundle"), &format!("{c}/status"), Some(json!("preliminary")));
        assert_first(ScrPayload::UploadRequest, &u, &format!("{c}/status"), "\"final\"");
        let u = edit(example("UploadScrBundle"), &format!("{c}/type/coding/0/code"), Some(json!("1")));
        assert_first(ScrPayload::UploadRequest, &u, &format!("{c}/type/coding/0/code"), "196981000000101");
        let u = edit(
            example("UploadScrBundle"),
            &format!("{c}/type/coding/0/display"),
            Some(json!(" General Practice Summary")),
        );
        assert_first(ScrPayload::UploadRequest, &u, &format!("{c}/type/coding/0/display"), "no leading space");
        let u = edit(example("UploadScrBundle"), &format!("{c}/category/0/coding/0/code"), Some(json!("1")));
        assert_first(ScrPayload::UploadRequest, &u, &format!("{c}/category/0/coding/0/code"), "163171000000105");
        let u = edit(example("UploadScrBundle"), &format!("{c}/identifier/system"), Some(json!("urn:ietf:rfc:3986")));
        assert_first(ScrPayload::UploadRequest, &u, &format!("{c}/identifier/system"), "rfc4122");
        let u = edit(example("UploadScrBundle"), &format!("{c}/date"), None);
        assert_first(ScrPayload::UploadRequest, &u, &format!("{c}/date"), "`date` is missing");
        let u =
            edit(example("UploadScrBundle"), &format!("{c}/section/1/code/coding/0/code"), Some(json!("Allergies")));
        assert_first(
            ScrPayload::UploadRequest,
            &u,
            &format!("{c}/section/1/code/coding/0/code"),
            "known SCR section id",
        );
        let u = edit(example("UploadScrBundle"), &format!("{c}/section/1/text"), None);
        assert_first(ScrPayload::UploadRequest, &u, &format!("{c}/section/1/text"), "XHTML");
        let u = edit(example("UploadScrBundle"), &format!("{c}/subject/reference"), Some(json!("Patient/other")));
        assert_first(
            ScrPayload::UploadRequest,
            &u,
            &format!("{c}/subject/reference"),
            "does not reference the Patient",
        );
    }

    #[test]
    fn upload_exactly_one_composition_and_patient() {
        let u = edit(example("UploadScrBundle"), "/entry/0", None);
        assert_first(
            ScrPayload::UploadRequest,
            &u,
            "/entry",
            "exactly one entry whose resource is a Composition; found none",
        );
        let mut u = example("UploadScrBundle");
        let copy = u["entry"][0].clone();
        if let Some(entries) = u["entry"].as_array_mut() {
            entries.push(copy);
        }
        assert_first(ScrPayload::UploadRequest, &u, "/entry", "Composition; found more than one");
    }

    #[test]
    fn upload_patient_nhs_number() {
        let u = example("UploadScrBundle");
        let i = u["entry"].as_array().and_then(|e| e.iter().position(|e| e["resource"]["resourceType"] == "Patient"));
        let p = format!("/entry/{}/resource/identifier/0/value", i.unwrap_or_default());
        let bad = edit(u.clone(), &p, Some(json!("9000000008")));
        assert_first(ScrPayload::UploadRequest, &bad, &p, "fails the Modulus 11 check digit");
        let bad = edit(u, &p, Some(json!("900000000")));
        assert_first(ScrPayload::UploadRequest, &bad, &p, "ten digits");
    }

    // GET /DocumentReference

    #[test]
    fn document_reference_leading_space_quirk() {
        let d = example("GetScrId");
        assert_eq!(d["entry"][0]["resource"]["type"]["coding"][0]["display"], " General Practice Summary");
        assert_eq!(check(ScrPayload::DocumentReferenceResponse, &d), []);
        let d = edit(d, "/entry/0/resource/type/coding/0/display", Some(json!("GP Summary")));
        assert_first(
            ScrPayload::DocumentReferenceResponse,
            &d,
            "/entry/0/resource/type/coding/0/display",
            "leading space",
        );
    }

    #[test]
    fn document_reference_required_and_coded() {
        let r = "/entry/0/resource";
        let d = edit(example("GetScrId"), &format!("{r}/status"), None);
        assert_first(ScrPayload::DocumentReferenceResponse, &d, &format!("{r}/status"), "`status` is missing");
        let d = edit(example("GetScrId"), &format!("{r}/masterIdentifier/system"), Some(json!("urn:x")));
        assert_first(ScrPayload::DocumentReferenceResponse, &d, &format!("{r}/masterIdentifier/system"), "nhsSCRUUID");
        let d = edit(example("GetScrId"), &format!("{r}/securityLabel/0/coding/0/code"), Some(json!("Clear")));
        assert_first(
            ScrPayload::DocumentReferenceResponse,
            &d,
            &format!("{r}/securityLabel/0/coding/0/code"),
            "Yes, No or Ask",
        );
        let d = edit(example("GetScrId"), "/type", None);
        assert_first(ScrPayload::DocumentReferenceResponse, &d, "/type", "`type` is missing");
    }

    #[test]
    fn document_reference_total_and_empty_form() {
        let d = edit(example("GetScrId"), "/total", Some(json!(2)));
        assert_first(ScrPayload::DocumentReferenceResponse, &d, "/total", "0 (no SCR) or 1");
        let empty = json!({"resourceType": "Bundle", "id": "x", "type": "searchset", "total": 0});
        assert_eq!(check(ScrPayload::DocumentReferenceResponse, &empty), []);
        assert_eq!(check(ScrPayload::DocumentResponse, &empty), []);
        assert_eq!(detect(&empty), Some(ScrPayload::DocumentReferenceResponse));
        let empty_array = edit(empty.clone(), "/entry", Some(json!([])));
        assert_first(ScrPayload::DocumentReferenceResponse, &empty_array, "/entry", "an empty `entry` array");
        assert_first(ScrPayload::DocumentResponse, &empty_array, "/entry", "an empty `entry` array");
        let d = edit(example("GetScrId"), "/total", Some(json!(0)));
        assert_first(ScrPayload::DocumentReferenceResponse, &d, "/total", "holds 1 DocumentReference entry");
    }

    #[test]
    fn document_reference_attachment_url() {
        let url = "/entry/0/resource/content/0/attachment/url";
        let base = "https://internal-dev.api.service.nhs.uk/summary-care-record/FHIR/R4/Bundle";
        let with = |id: &str, nhs: &str| {
            let new = format!(
                "{base}?composition.identifier={id}&composition.subject:Patient.identifier={}|{nhs}",
                codes::NHS_NUMBER_SYSTEM
            );
            edit(example("GetScrId"), url, Some(json!(new)))
        };
        let id = "FA60BE64-1F34-11EB-A2A8-000C29A364EB";
        assert_first(
            ScrPayload::DocumentReferenceResponse,
            &with("OTHER", "9995000180"),
            url,
            "masterIdentifier.value is",
        );
        assert_first(ScrPayload::DocumentReferenceResponse, &with(id, "9995000181"), url, "fails the Modulus 11");
        let other_patient = with(id, "9000000009");
        assert_first(
            ScrPayload::DocumentReferenceResponse,
            &other_patient,
            url,
            "Patient entry's NHS number is 9995000180",
        );
        assert_first(ScrPayload::DocumentReferenceResponse, &with(id, "900000000"), url, "is not ten digits");
        assert_eq!(check(ScrPayload::DocumentReferenceResponse, &with(id, "9995000180")), []);
        let without_patient =
            edit(example("GetScrId"), url, Some(json!(format!("{base}?composition.identifier={id}"))));
        assert_first(
            ScrPayload::DocumentReferenceResponse,
            &without_patient,
            url,
            "expected <base>/summary-care-record",
        );
    }

    #[test]
    fn document_reference_patient() {
        let d = edit(example("GetScrId"), "/entry/1", None);
        assert_first(ScrPayload::DocumentReferenceResponse, &d, "/entry", "expected exactly one Patient");
        let d = edit(example("GetScrId"), "/entry/1/resource/identifier/0/value", Some(json!("9995000181")));
        // The URL check comes first in document order (entry 0), then the Patient's own check digit.
        let findings = check(ScrPayload::DocumentReferenceResponse, &d);
        let paths: Vec<&str> = findings.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["/entry/0/resource/content/0/attachment/url", "/entry/1/resource/identifier/0/value"]);
        let d = edit(example("GetScrId"), "/entry/0/resource/subject/reference", Some(json!("Patient/x")));
        assert_first(
            ScrPayload::DocumentReferenceResponse,
            &d,
            "/entry/0/resource/subject/reference",
            "'Patient/9b9a16ed",
        );
    }

    // GET /Bundle

    #[test]
    fn document_total_and_order() {
        let d = edit(example("InitUpload"), "/total", Some(json!(5)));
        assert_first(ScrPayload::DocumentResponse, &d, "/total", "holds 4 entries");
        let mut d = example("InitUpload");
        if let Some(entries) = d["entry"].as_array_mut() {
            entries.swap(0, 1);
        }
        assert_first(
            ScrPayload::DocumentResponse,
            &d,
            "/entry/0/resource/resourceType",
            "the Composition as the first entry",
        );
        let mut d = example("InitUpload");
        if let Some(entries) = d["entry"].as_array_mut() {
            entries.swap(2, 3);
        }
        assert_first(
            ScrPayload::DocumentResponse,
            &d,
            "/entry/3/resource/resourceType",
            "the Patient as the last entry",
        );
    }

    #[test]
    fn document_full_urls() {
        let d = edit(
            example("InitUpload"),
            "/entry/1/fullUrl",
            Some(json!("http://localhost:60492/summary-care-record/FHIR/R4/Practitioner/OTHER")),
        );
        assert_first(ScrPayload::DocumentResponse, &d, "/entry/1/fullUrl", "fullUrl names Practitioner/OTHER");
        let d = edit(example("InitUpload"), "/entry/1/fullUrl", Some(json!("urn:uuid:123")));
        assert_first(
            ScrPayload::DocumentResponse,
            &d,
            "/entry/1/fullUrl",
            "expected https://<host>/summary-care-record/FHIR/R4/",
        );
    }

    #[test]
    fn document_composition() {
        let c = "/entry/0/resource";
        let d = edit(example("GetScrBundle"), &format!("{c}/status"), None);
        assert_first(ScrPayload::DocumentResponse, &d, &format!("{c}/status"), "`status` is missing");
        let d = edit(
            example("GetScrBundle"),
            &format!("{c}/identifier/system"),
            Some(json!("https://fhir.nhs.uk/Id/nhsSCRUUID")),
        );
        assert_first(ScrPayload::DocumentResponse, &d, &format!("{c}/identifier/system"), "rfc4122");
        let d = edit(example("GetScrBundle"), &format!("{c}/date"), Some(json!("2020-13-17T01:00:00+00:00")));
        assert_first(ScrPayload::DocumentResponse, &d, &format!("{c}/date"), "there is no month 13");
    }

    #[test]
    fn real_dates() {
        for ok in [
            "2020",
            "2020-02",
            "2020-02-29",
            "2020-02-29T23:59:60Z",
            "2007-03-14T01:00+00:00",
            "2020-12-14T13:23:10.000+01:00",
            "2021-01-01T00:00:00",
        ] {
            assert_eq!(real_date(ok), Ok(()), "{ok}");
        }
        for bad in [
            "2021-02-29",
            "2021-02-30",
            "2021-00-10",
            "2021-04-31",
            "2021-01-01T24:00:00Z",
            "2021-01-01T10:61:00Z",
            "2021-01-01T10:00:00+15:00",
            "22/10/1980",
            "2021-1-1",
        ] {
            assert!(real_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn birth_dates_anywhere() {
        let d = edit(example("GetScrId"), "/entry/1/resource/birthDate", Some(json!("1980-02-30")));
        assert_first(ScrPayload::DocumentReferenceResponse, &d, "/entry/1/resource/birthDate", "1980-02 has no day 30");
    }

    // detect, order, cap

    #[test]
    fn detect_kinds() {
        assert_eq!(detect(&example("UploadScrBundle")), Some(ScrPayload::UploadRequest));
        assert_eq!(detect(&example("GetScrBundle")), Some(ScrPayload::DocumentResponse));
        assert_eq!(detect(&json!({"resourceType": "Patient"})), None);
        assert_eq!(detect(&json!({"resourceType": "Bundle", "type": "collection"})), None);
        assert_eq!(detect(&json!({"resourceType": "Bundle"})), None);
        let patients = json!({"resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": {"resourceType": "Patient"}}]});
        assert_eq!(detect(&patients), None);
        assert_eq!(detect(&json!("Bundle")), None);
    }

    #[test]
    fn findings_in_document_order_and_capped() {
        let oo = json!({"resourceType": "OperationOutcome", "issue": [
            {"code": "nope"}, {"severity": "error", "code": "value", "details": {}}
        ]});
        let paths: Vec<String> = check(ScrPayload::OperationOutcome, &oo).into_iter().map(|f| f.path).collect();
        assert_eq!(paths, ["/issue/0/code", "/issue/0/severity", "/issue/1/details"]);
        let issues: Vec<Value> = (0..60).map(|_| json!({})).collect();
        let oo = json!({"resourceType": "OperationOutcome", "issue": issues});
        let findings = check(ScrPayload::OperationOutcome, &oo);
        assert_eq!(findings.len(), MAX_FINDINGS);
        assert_eq!(findings[0].path, "/issue/0/code");
        assert_eq!(findings[49].path, "/issue/24/severity");
    }
}
