//! `POST /Bundle` body rules (reference §4.3), in the backend's order; the first failure wins and every
//! failure is 400 `value` with the backend's text. Run [`parse_resource`](super::parse::parse_resource)
//! first: this module assumes a JSON object but never panics on a shape it does not expect — a member of the
//! wrong JSON type counts as absent and gives the nearest rule's "missing" text.

use serde_json::Value;

use super::{array_at, or_null, str_at, text_at};
use crate::scr::{codes, texts, ScrError};

/// What the backend keeps from a valid upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidUpload {
    /// The Patient's NHS number identifier value, as sent.
    pub nhs_number: String,
    /// `Composition.identifier.value`, upper-cased as the backend does before sending it to Spine.
    pub composition_identifier: String,
    /// `Composition.relatesTo[0].targetIdentifier.value` (the SCR id this upload replaces), if any.
    pub replaces: Option<String>,
    /// The Patient resource's `id`, if it has one.
    pub patient_id: Option<String>,
}

/// Checks an upload Bundle against every §4.3 rule in the adaptor's order (`J/models/GpSummary.java`
/// `fromBundle`): the parser's enumerations; `Bundle.type`, `Bundle.timestamp`, `Bundle.identifier`; the one
/// Composition and its author (`AuthorMapper`: `meta.lastUpdated`, the PractitionerRole references); the
/// Composition (`CompositionMapper`); the Patient (`PatientMapper`).
pub fn validate_upload(bundle: &Value) -> Result<ValidUpload, ScrError> {
    let entries = entries(bundle);
    check_bundle_type_code(bundle)?;
    for e in entries.iter().filter(|e| str_at(e.resource, "/resourceType") == Some("Composition")) {
        check_enumerated_codes(e.resource)?;
    }
    check_bundle_type(bundle)?;
    check_bundle_timestamp(bundle)?;
    check_bundle_identifier(bundle)?;
    let composition = exactly_one(&entries, "Composition")?.resource;
    check_author(composition, &entries)?;
    check_category(composition)?;
    check_type(composition)?;
    check_status(composition)?;
    let replaces = check_relates_to(composition)?;
    let composition_identifier = check_identifier(composition)?;
    check_date(composition)?;
    check_sections(composition)?;
    let patient = exactly_one(&entries, "Patient")?;
    let nhs_number = check_patient_nhs_number(patient.resource)?;
    check_subject(composition, patient)?;
    Ok(ValidUpload {
        nhs_number,
        composition_identifier,
        replaces,
        patient_id: str_at(patient.resource, "/id").map(str::to_owned),
    })
}

fn bad(text: impl Into<String>) -> ScrError {
    ScrError::bad_request(text)
}

/// One `Bundle.entry` with a resource.
struct Entry<'a> {
    full_url: Option<&'a str>,
    resource: &'a Value,
}

fn entries(bundle: &Value) -> Vec<Entry<'_>> {
    array_at(bundle, "/entry")
        .iter()
        .filter_map(|entry| {
            let resource = entry.get("resource").filter(|r| r.is_object())?;
            Some(Entry { full_url: str_at(entry, "/fullUrl"), resource })
        })
        .collect()
}

fn is_a(entry: &Entry<'_>, resource_type: &str) -> bool {
    str_at(entry.resource, "/resourceType") == Some(resource_type)
}

/// §4.3 "exactly one Composition" / "exactly one Patient" (`FhirHelper.getDomainResource`).
fn exactly_one<'e, 'a>(entries: &'e [Entry<'a>], resource_type: &str) -> Result<&'e Entry<'a>, ScrError> {
    let mut found = entries.iter().filter(|e| is_a(e, resource_type));
    match (found.next(), found.next()) {
        (Some(one), None) => Ok(one),
        (Some(_), Some(_)) => Err(bad(texts::more_than_one_resource(resource_type))),
        (None, _) => Err(bad(texts::resource_missing_from_payload(resource_type))),
    }
}

/// FHIR emptiness as HAPI's `isEmpty()` sees it: no value anywhere inside.
fn is_fhir_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.iter().all(is_fhir_empty),
        Value::Object(members) => members.values().all(is_fhir_empty),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// A SNOMED coding `(system, code, display)` check shared by category and type; `field_text` builds
/// "…coding.<field> not supported: <given>".
fn check_snomed_coding(
    coding: Option<&Value>,
    code: &str,
    display: &str,
    field_text: fn(&str, &str) -> String,
) -> Result<(), ScrError> {
    let get = |name: &str| coding.and_then(|c| c.get(name)).and_then(Value::as_str);
    for (field, expected) in [("system", codes::SNOMED_SYSTEM), ("code", code), ("display", display)] {
        let given = get(field);
        if given != Some(expected) {
            return Err(bad(field_text(field, or_null(given))));
        }
    }
    Ok(())
}

/// §4.3 row "Composition.category present, SNOMED 163171000000105 Care Professional Documentation";
/// only `category[0].coding[0]` is looked at.
fn check_category(composition: &Value) -> Result<(), ScrError> {
    let present = composition.get("category").is_some_and(|c| c.is_array() && !is_fhir_empty(c));
    if !present {
        return Err(bad(texts::COMPOSITION_CATEGORY_MISSING));
    }
    check_snomed_coding(
        composition.pointer("/category/0/coding/0"),
        codes::CARE_PROFESSIONAL_DOCUMENTATION_CODE,
        codes::CARE_PROFESSIONAL_DOCUMENTATION_DISPLAY,
        texts::composition_category_not_supported,
    )
}

/// §4.3 row "Composition.type present, SNOMED 196981000000101 General Practice Summary";
/// only `type.coding[0]` is looked at.
fn check_type(composition: &Value) -> Result<(), ScrError> {
    let present = composition.get("type").is_some_and(|t| t.is_object() && !is_fhir_empty(t));
    if !present {
        return Err(bad(texts::COMPOSITION_TYPE_MISSING));
    }
    check_snomed_coding(
        composition.pointer("/type/coding/0"),
        codes::GP_SUMMARY_CODE,
        codes::GP_SUMMARY_DISPLAY,
        texts::composition_type_not_supported,
    )
}

/// HAPI's enumerations: the FHIR code and the Java constant name the adaptor prints in its messages
/// (`"Invalid composition.status: " + composition.getStatus()` prints `PRELIMINARY`, not `preliminary`).
const COMPOSITION_STATUS: &[(&str, &str)] = &[
    ("preliminary", "PRELIMINARY"),
    ("final", "FINAL"),
    ("amended", "AMENDED"),
    ("entered-in-error", "ENTEREDINERROR"),
];
const DOCUMENT_RELATIONSHIP_TYPE: &[(&str, &str)] =
    &[("replaces", "REPLACES"), ("transforms", "TRANSFORMS"), ("signs", "SIGNS"), ("appends", "APPENDS")];

fn enum_name(table: &[(&str, &'static str)], code: Option<&str>) -> Option<&'static str> {
    code.and_then(|c| table.iter().find(|(fhir, _)| *fhir == c).map(|(_, java)| *java))
}

/// The strict HAPI parser rejects a code outside its enumeration before the adaptor sees the resource
/// (wording of HAPI's `StrictErrorHandler.invalidValue`: **derived**).
fn check_enumerated_codes(composition: &Value) -> Result<(), ScrError> {
    if let Some(code) = str_at(composition, "/status") {
        if enum_name(COMPOSITION_STATUS, Some(code)).is_none() {
            return Err(bad(texts::unknown_code("status", code, "CompositionStatus")));
        }
    }
    if let Some(Value::Array(items)) = composition.get("relatesTo") {
        for item in items {
            if let Some(code) = str_at(item, "/code") {
                if enum_name(DOCUMENT_RELATIONSHIP_TYPE, Some(code)).is_none() {
                    return Err(bad(texts::unknown_code("code", code, "DocumentRelationshipType")));
                }
            }
        }
    }
    Ok(())
}

const BUNDLE_TYPE: &[(&str, &str)] = &[
    ("document", "DOCUMENT"),
    ("message", "MESSAGE"),
    ("transaction", "TRANSACTION"),
    ("transaction-response", "TRANSACTIONRESPONSE"),
    ("batch", "BATCH"),
    ("batch-response", "BATCHRESPONSE"),
    ("history", "HISTORY"),
    ("searchset", "SEARCHSET"),
    ("collection", "COLLECTION"),
];

/// The strict parser's check of `Bundle.type` against HAPI's `BundleType` enumeration (**derived** wording).
fn check_bundle_type_code(bundle: &Value) -> Result<(), ScrError> {
    match str_at(bundle, "/type") {
        Some(code) if enum_name(BUNDLE_TYPE, Some(code)).is_none() => {
            Err(bad(texts::unknown_code("type", code, "BundleType")))
        }
        _ => Ok(()),
    }
}

/// `GpSummary.validateType`: `Bundle.type` must be `document`; the text prints the Java constant.
fn check_bundle_type(bundle: &Value) -> Result<(), ScrError> {
    match enum_name(BUNDLE_TYPE, str_at(bundle, "/type")) {
        Some("DOCUMENT") => Ok(()),
        given => Err(bad(texts::unsupported_bundle_type(or_null(given)))),
    }
}

/// `GpSummary.gpSummarySetHeaderTimeStamp`: `Bundle.timestamp` present (`hasTimestampElement`).
fn check_bundle_timestamp(bundle: &Value) -> Result<(), ScrError> {
    text_at(bundle, "/timestamp").map(|_| ()).ok_or_else(|| bad(texts::BUNDLE_TIMESTAMP_MISSING))
}

/// `GpSummary.gpSummarySetHeaderId`: `Bundle.identifier` present and not empty, of system rfc4122, with a value.
fn check_bundle_identifier(bundle: &Value) -> Result<(), ScrError> {
    let identifier = bundle.get("identifier").filter(|i| i.is_object() && !is_fhir_empty(i));
    let Some(identifier) = identifier else {
        return Err(bad(texts::BUNDLE_IDENTIFIER_MISSING));
    };
    if str_at(identifier, "/system") != Some(codes::RFC4122_SYSTEM) {
        return Err(bad(texts::BUNDLE_IDENTIFIER_SYSTEM_INVALID));
    }
    text_at(identifier, "/value").map(|_| ()).ok_or_else(|| bad(texts::BUNDLE_IDENTIFIER_VALUE_MISSING))
}

/// `AuthorMapper.mapAuthor`, before the Composition's own checks: a Composition with an author needs
/// `meta.lastUpdated` (the author's time; without it the adaptor fails with no message of its own), then
/// every author reference must name a PractitionerRole in the Bundle.
fn check_author(composition: &Value, entries: &[Entry<'_>]) -> Result<(), ScrError> {
    if is_fhir_empty(composition.get("author").unwrap_or(&Value::Null)) {
        return Ok(());
    }
    if text_at(composition, "/meta/lastUpdated").is_none() {
        return Err(bad(texts::MAPPING_EXCEPTION));
    }
    check_author_references(composition, entries)
}

/// §4.3 row "Composition.status = final"; the text names the Java constant (`null` when absent).
fn check_status(composition: &Value) -> Result<(), ScrError> {
    match enum_name(COMPOSITION_STATUS, str_at(composition, "/status")) {
        Some("FINAL") => Ok(()),
        given => Err(bad(texts::invalid_composition_status(or_null(given)))),
    }
}

/// §4.3 row "optional relatesTo[0]: code replaces, targetIdentifier.value present"; returns the replaced id.
fn check_relates_to(composition: &Value) -> Result<Option<String>, ScrError> {
    let first = match composition.get("relatesTo") {
        None => return Ok(None),
        Some(relates_to) if is_fhir_empty(relates_to) => return Ok(None),
        Some(Value::Array(items)) => match items.first() {
            Some(first) => first,
            None => return Ok(None),
        },
        // Not an array: read it as the single element it was probably meant to be.
        Some(other) => other,
    };
    match enum_name(DOCUMENT_RELATIONSHIP_TYPE, str_at(first, "/code")) {
        Some("REPLACES") => {}
        given => return Err(bad(texts::unsupported_relates_to_code(or_null(given)))),
    }
    text_at(first, "/targetIdentifier/value")
        .map(|v| Some(v.to_owned()))
        .ok_or_else(|| bad(texts::RELATES_TO_TARGET_MISSING))
}

/// §4.3 row "Composition.identifier system rfc4122 with a value"; returns the value upper-cased.
/// `Composition.identifier` is a single Identifier in R4: an array counts as absent.
fn check_identifier(composition: &Value) -> Result<String, ScrError> {
    if str_at(composition, "/identifier/system") != Some(codes::RFC4122_SYSTEM) {
        return Err(bad(texts::COMPOSITION_IDENTIFIER_MISSING));
    }
    text_at(composition, "/identifier/value")
        .map(str::to_uppercase)
        .ok_or_else(|| bad(texts::COMPOSITION_IDENTIFIER_VALUE_MISSING))
}

/// §4.3 row "Composition.date present".
fn check_date(composition: &Value) -> Result<(), ScrError> {
    text_at(composition, "/date").map(|_| ()).ok_or_else(|| bad(texts::COMPOSITION_DATE_MISSING))
}

/// §4.3 row "Composition.section present, each with text.div".
fn check_sections(composition: &Value) -> Result<(), ScrError> {
    let sections = array_at(composition, "/section");
    if sections.is_empty() || sections.iter().any(|s| text_at(s, "/text/div").is_none()) {
        return Err(bad(texts::COMPOSITION_SECTION_MISSING));
    }
    Ok(())
}

/// §4.3 row "exactly one non-blank NHS number identifier" (`PatientMapper.setPatientIds`: blank values
/// are ignored before counting).
fn check_patient_nhs_number(patient: &Value) -> Result<String, ScrError> {
    let mut numbers = array_at(patient, "/identifier")
        .iter()
        .filter(|id| str_at(id, "/system") == Some(codes::NHS_NUMBER_SYSTEM))
        .filter_map(|id| str_at(id, "/value"))
        .filter(|v| !v.trim().is_empty());
    match (numbers.next(), numbers.next()) {
        (Some(nhs), None) => Ok(nhs.to_owned()),
        (Some(_), Some(_)) => Err(bad(texts::MULTIPLE_PATIENT_NHS_NUMBERS)),
        (None, _) => Err(bad(texts::PATIENT_NHS_NUMBER_EMPTY)),
    }
}

/// §4.3 row "Composition.subject.reference points at that Patient": `Patient/<id>`, the Patient entry's
/// `fullUrl`, or an absolute URL ending in `/Patient/<id>`.
fn check_subject(composition: &Value, patient: &Entry<'_>) -> Result<(), ScrError> {
    let reference = text_at(composition, "/subject/reference");
    let id = text_at(patient.resource, "/id");
    let points_at_patient = reference.is_some_and(|r| {
        Some(r) == patient.full_url
            || id.is_some_and(|id| r == format!("Patient/{id}") || r.ends_with(&format!("/Patient/{id}")))
    });
    if points_at_patient {
        Ok(())
    } else {
        Err(bad(texts::COMPOSITION_SUBJECT_INVALID))
    }
}

/// §4.3 row "references name the right type" for `Composition.author[]`: the reference's first segment
/// must be `PractitionerRole` and a PractitionerRole with that id must be in the Bundle
/// (`FhirHelper.getResourceByReference`, `ParticipantAgentMapper.setParticipantAgents`). Authors without a
/// reference are not checked.
fn check_author_references(composition: &Value, entries: &[Entry<'_>]) -> Result<(), ScrError> {
    const EXPECTED: &str = "PractitionerRole";
    for reference in array_at(composition, "/author").iter().filter_map(|a| str_at(a, "/reference")) {
        let mut parts = reference.split('/');
        if parts.next() != Some(EXPECTED) {
            return Err(bad(texts::invalid_resource_reference(reference, EXPECTED)));
        }
        let id = parts.next().unwrap_or("");
        let exists = !id.is_empty()
            && entries.iter().any(|e| {
                is_a(e, EXPECTED)
                    && (str_at(e.resource, "/id") == Some(id)
                        || e.full_url.is_some_and(|u| u.rsplit('/').next() == Some(id)))
            });
        if !exists {
            return Err(bad(texts::bundle_missing_practitioner_role(reference)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scr::patch::apply_change;

    fn example() -> Value {
        serde_json::from_str(include_str!("../../../fixtures/nhs/examples/UploadScrBundle.json"))
            .expect("UploadScrBundle.json is valid JSON")
    }

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture is valid JSON")
    }

    fn changed(change: &str) -> Value {
        let mut doc = example();
        if let Err(e) = apply_change(&mut doc, change) {
            panic!("{e}");
        }
        doc
    }

    fn error_text(doc: &Value) -> String {
        match validate_upload(doc) {
            Ok(ok) => panic!("expected an error, got {ok:?}"),
            Err(e) => {
                assert_eq!((e.status, e.code.as_str()), (400, "value"));
                e.text
            }
        }
    }

    #[test]
    fn the_nhs_example_is_valid() {
        assert_eq!(
            validate_upload(&example()),
            Ok(ValidUpload {
                nhs_number: "9000000009".into(),
                composition_identifier: "BF4180FD-C403-4EF7-A4AB-E07303AF5477".into(),
                replaces: Some("D18B57ED-992E-45A2-A6AF-55200D20F48E".into()),
                patient_id: Some("565B3BEF-9A19-4763-8887-9F7CB75995E3".into()),
            })
        );
    }

    #[test]
    fn nhs_uat_upload_requests_that_reach_spine_are_valid() {
        let bodies = [
            (
                "success/1-basic",
                include_str!("../../../fixtures/nhs/uat/upload_scr/success/1-basic.request.json"),
                "9995000180",
            ),
            (
                "success/2-bulk",
                include_str!("../../../fixtures/nhs/uat/upload_scr/success/2-bulk.request.json"),
                "9995000180",
            ),
            (
                "success/3-bulk-sds",
                include_str!("../../../fixtures/nhs/uat/upload_scr/success/3-bulk-sds.request.json"),
                "9995000180",
            ),
            (
                "no_consent/1-dissent",
                include_str!("../../../fixtures/nhs/uat/upload_scr/no_consent/1-dissent.request.json"),
                "9995000180",
            ),
            (
                "not_found/1-basic",
                include_str!("../../../fixtures/nhs/uat/upload_scr/not_found/1-basic.request.json"),
                "9691036053",
            ),
        ];
        for (name, body, nhs) in bodies {
            match validate_upload(&fixture(body)) {
                Ok(ok) => assert_eq!(ok.nhs_number, nhs, "{name}"),
                Err(e) => panic!("{name}: {e}"),
            }
        }
    }

    #[test]
    fn nhs_uat_bad_request_oracle() {
        let request =
            fixture(include_str!("../../../fixtures/nhs/uat/upload_scr/bad_request/1-missingComposition.request.json"));
        let response = fixture(include_str!(
            "../../../fixtures/nhs/uat/upload_scr/bad_request/1-missingComposition.response.json"
        ));
        let err = validate_upload(&request).expect_err("the UAT bad request is rejected");
        assert_eq!(err.to_operation_outcome(), response);
    }

    #[test]
    fn composition_identifier_is_upper_cased_and_relates_to_is_optional() {
        let ok = validate_upload(&changed(
            "set /entry[Composition]/resource/identifier/value = \"bf4180fd-c403\" ; remove /entry[Composition]/resource/relatesTo",
        ));
        assert_eq!(
            ok.as_ref().map(|u| (u.composition_identifier.as_str(), u.replaces.clone())),
            Ok(("BF4180FD-C403", None))
        );
        assert!(validate_upload(&changed("set /entry[Composition]/resource/relatesTo = []")).is_ok());
    }

    /// One row per §4.3 rule: a change to the valid example and the exact text.
    #[test]
    fn every_rule_with_its_exact_text() {
        let rows: &[(&str, &str)] = &[
            // exactly one Composition
            ("remove /entry[Composition]", "Composition missing from payload"),
            ("set /entry[Composition]/resource/resourceType = \"Bundle\"", "Composition missing from payload"),
            ("add /entry/- = {\"resource\":{\"resourceType\":\"Composition\"}}", "There is more than 1 resource of type Composition"),
            // category
            ("remove /entry[Composition]/resource/category", "Composition.category element is missing"),
            ("set /entry[Composition]/resource/category = []", "Composition.category element is missing"),
            ("set /entry[Composition]/resource/category = [{}]", "Composition.category element is missing"),
            ("set /entry[Composition]/resource/category = \"x\"", "Composition.category element is missing"),
            ("set /entry[Composition]/resource/category = {\"coding\":[]}", "Composition.category element is missing"),
            ("set /entry[Composition]/resource/category/0/coding/0/system = \"http://loinc.org\"", "Composition.category.coding.system not supported: http://loinc.org"),
            ("remove /entry[Composition]/resource/category/0/coding/0/system", "Composition.category.coding.system not supported: null"),
            ("set /entry[Composition]/resource/category/0/coding = [{\"display\":\"x\"}]", "Composition.category.coding.system not supported: null"),
            ("set /entry[Composition]/resource/category/0/coding/0/code = \"123\"", "Composition.category.coding.code not supported: 123"),
            ("remove /entry[Composition]/resource/category/0/coding/0/code", "Composition.category.coding.code not supported: null"),
            ("set /entry[Composition]/resource/category/0/coding/0/display = \"Care\"", "Composition.category.coding.display not supported: Care"),
            ("remove /entry[Composition]/resource/category/0/coding/0/display", "Composition.category.coding.display not supported: null"),
            // type
            ("remove /entry[Composition]/resource/type", "Composition.type element is missing"),
            ("set /entry[Composition]/resource/type = {}", "Composition.type element is missing"),
            ("set /entry[Composition]/resource/type = [1]", "Composition.type element is missing"),
            ("set /entry[Composition]/resource/type/coding/0/system = \"urn:x\"", "Composition.type.coding.system not supported: urn:x"),
            ("remove /entry[Composition]/resource/type/coding/0/system", "Composition.type.coding.system not supported: null"),
            ("set /entry[Composition]/resource/type/coding/0/code = \"1\"", "Composition.type.coding.code not supported: 1"),
            ("set /entry[Composition]/resource/type/coding/0/display = \" General Practice Summary\"", "Composition.type.coding.display not supported:  General Practice Summary"),
            ("remove /entry[Composition]/resource/type/coding/0/display", "Composition.type.coding.display not supported: null"),
            // status
            ("set /entry[Composition]/resource/status = \"preliminary\"", "Invalid composition.status: PRELIMINARY"),
            ("set /entry[Composition]/resource/status = \"entered-in-error\"", "Invalid composition.status: ENTEREDINERROR"),
            ("set /entry[Composition]/resource/status = \"bogus\"", "[element=\"status\"] Invalid attribute value \"bogus\": Unknown CompositionStatus code 'bogus'"),
            ("remove /entry[Composition]/resource/status", "Invalid composition.status: null"),
            ("set /entry[Composition]/resource/status = 1", "Invalid composition.status: null"),
            // relatesTo
            ("set /entry[Composition]/resource/relatesTo/0/code = \"transforms\"", "Unsupported Composition.relatesTo.code element: TRANSFORMS"),
            ("set /entry[Composition]/resource/relatesTo/0/code = \"bogus\"", "[element=\"code\"] Invalid attribute value \"bogus\": Unknown DocumentRelationshipType code 'bogus'"),
            ("remove /entry[Composition]/resource/relatesTo/0/code", "Unsupported Composition.relatesTo.code element: null"),
            ("set /entry[Composition]/resource/relatesTo = \"replaces\"", "Unsupported Composition.relatesTo.code element: null"),
            ("remove /entry[Composition]/resource/relatesTo/0/targetIdentifier/value", "Composition.relatesTo.targetIdentifier.value element is missing"),
            ("remove /entry[Composition]/resource/relatesTo/0/targetIdentifier", "Composition.relatesTo.targetIdentifier.value element is missing"),
            // identifier
            ("remove /entry[Composition]/resource/identifier", "Missing Composition.identifier for system: https://tools.ietf.org/html/rfc4122"),
            ("set /entry[Composition]/resource/identifier/system = \"https://fhir.nhs.uk/Id/nhsSCRUUID\"", "Missing Composition.identifier for system: https://tools.ietf.org/html/rfc4122"),
            ("set /entry[Composition]/resource/identifier = [{\"system\":\"https://tools.ietf.org/html/rfc4122\",\"value\":\"X\"}]", "Missing Composition.identifier for system: https://tools.ietf.org/html/rfc4122"),
            ("remove /entry[Composition]/resource/identifier/value", "Missing Composition.identifier.value element"),
            // date
            ("remove /entry[Composition]/resource/date", "Composition Date Element missing from payload"),
            ("set /entry[Composition]/resource/date = null", "Composition Date Element missing from payload"),
            // section
            ("remove /entry[Composition]/resource/section", "Missing mandatory Composition.section"),
            ("set /entry[Composition]/resource/section = []", "Missing mandatory Composition.section"),
            ("remove /entry[Composition]/resource/section/3/text/div", "Missing mandatory Composition.section"),
            ("remove /entry[Composition]/resource/section/0/text", "Missing mandatory Composition.section"),
            // exactly one Patient
            ("remove /entry[Patient]", "Patient missing from payload"),
            ("add /entry/- = {\"resource\":{\"resourceType\":\"Patient\",\"id\":\"P2\"}}", "There is more than 1 resource of type Patient"),
            // NHS number identifier
            ("add /entry[Patient]/resource/identifier/- = {\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"9000000017\"}", "Multiple Patient resource 'https://fhir.nhs.uk/Id/nhs-number' identifiers"),
            ("set /entry[Patient]/resource/identifier = []", "patient.identifier[] for system https://fhir.nhs.uk/Id/nhs-number must not be empty"),
            ("remove /entry[Patient]/resource/identifier", "patient.identifier[] for system https://fhir.nhs.uk/Id/nhs-number must not be empty"),
            ("set /entry[Patient]/resource/identifier/0/value = \"  \"", "patient.identifier[] for system https://fhir.nhs.uk/Id/nhs-number must not be empty"),
            ("remove /entry[Patient]/resource/identifier/0/value", "patient.identifier[] for system https://fhir.nhs.uk/Id/nhs-number must not be empty"),
            ("set /entry[Patient]/resource/identifier/0/system = \"https://fhir.nhs.uk/Id/nhsSCRUUID\"", "patient.identifier[] for system https://fhir.nhs.uk/Id/nhs-number must not be empty"),
            // subject
            ("remove /entry[Composition]/resource/subject", "Composition.subject reference is missing or invalid"),
            ("remove /entry[Composition]/resource/subject/reference", "Composition.subject reference is missing or invalid"),
            ("set /entry[Composition]/resource/subject/reference = \"Patient/00000000-0000-0000-0000-000000000000\"", "Composition.subject reference is missing or invalid"),
            ("set /entry[Composition]/resource/subject/reference = \"Practitioner/565B3BEF-9A19-4763-8887-9F7CB75995E3\"", "Composition.subject reference is missing or invalid"),
            // author references
            ("set /entry[Composition]/resource/author/0/reference = \"Practitioner/C89A53D3-E063-4023-B89C-1A105ABAABB7\"", "Invalid resource reference. Practitioner/C89A53D3-E063-4023-B89C-1A105ABAABB7 expected to be referencing PractitionerRole"),
            ("add /entry[Composition]/resource/author/- = {\"reference\":\"Organization/X\"}", "Invalid resource reference. Organization/X expected to be referencing PractitionerRole"),
            ("set /entry[Composition]/resource/author/0/reference = \"PractitionerRole/NOPE\"", "Bundle is missing PractitionerRole PractitionerRole/NOPE that is linked to Encounter"),
            ("set /entry[Composition]/resource/author/0/reference = \"PractitionerRole\"", "Bundle is missing PractitionerRole PractitionerRole that is linked to Encounter"),
            // the Bundle itself (GpSummary.validateType, gpSummarySetHeaderTimeStamp, gpSummarySetHeaderId)
            ("remove /type", "Unsupported Bundle.type: null"),
            ("set /type = \"transaction\"", "Unsupported Bundle.type: TRANSACTION"),
            ("set /type = \"searchset\"", "Unsupported Bundle.type: SEARCHSET"),
            ("set /type = \"batch-response\"", "Unsupported Bundle.type: BATCHRESPONSE"),
            ("set /type = \"Document\"", "[element=\"type\"] Invalid attribute value \"Document\": Unknown BundleType code 'Document'"),
            ("remove /timestamp", "bundle.timestamp must not be empty"),
            ("remove /identifier", "bundle.identifier must not be empty"),
            ("set /identifier = {}", "bundle.identifier must not be empty"),
            ("remove /identifier/system", "bundle.identifier.system must be https://tools.ietf.org/html/rfc4122"),
            ("set /identifier/system = \"https://fhir.nhs.uk/Id/nhsSCRUUID\"", "bundle.identifier.system must be https://tools.ietf.org/html/rfc4122"),
            ("remove /identifier/value", "bundle.identifier.value must not be empty"),
            // AuthorMapper: an authored Composition needs meta.lastUpdated
            ("remove /entry[Composition]/resource/meta", "Mapping exception"),
            ("remove /entry[Composition]/resource/meta/lastUpdated", "Mapping exception"),
        ];
        for (change, text) in rows {
            assert_eq!(error_text(&changed(change)), *text, "change: {change}");
        }
    }

    #[test]
    fn accepted_variants() {
        for change in [
            // a blank second NHS number identifier is ignored before counting
            "add /entry[Patient]/resource/identifier/- = {\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\" \"}",
            // the subject may be the Patient's fullUrl or an absolute URL ending in Patient/<id>
            "set /entry[Composition]/resource/subject/reference = \"https://api.service.nhs.uk/summary-care-record/FHIR/R4/Patient/565B3BEF-9A19-4763-8887-9F7CB75995E3\"",
            "set /entry[Patient]/fullUrl = \"urn:uuid:abc\" ; set /entry[Composition]/resource/subject/reference = \"urn:uuid:abc\"",
            // no author, or an author without a reference
            "remove /entry[Composition]/resource/author",
            "set /entry[Composition]/resource/author = [{\"display\":\"Dr Who\"}]",
            // meta.lastUpdated is only needed for an author
            "remove /entry[Composition]/resource/author ; remove /entry[Composition]/resource/meta",
            // the Bundle identifier's value is upper-cased, never checked as a UUID
            "set /identifier/value = \"not-a-uuid\"",
        ] {
            if let Err(e) = validate_upload(&changed(change)) {
                panic!("{change}: {e}");
            }
        }
    }

    #[test]
    fn rules_run_in_reference_order() {
        let rows: &[(&str, &str)] = &[
            ("remove /entry[Patient] ; remove /entry[Composition]/resource/date ; remove /entry[Composition]/resource/status", "Invalid composition.status: null"),
            ("remove /entry[Composition]/resource/type ; remove /entry[Composition]/resource/category", "Composition.category element is missing"),
            ("remove /entry[Composition]/resource/identifier ; set /entry[Composition]/resource/relatesTo/0/code = \"signs\"", "Unsupported Composition.relatesTo.code element: SIGNS"),
            ("remove /entry[Composition]/resource/section ; remove /entry[Composition]/resource/date", "Composition Date Element missing from payload"),
            ("remove /entry[Patient] ; remove /entry[Composition]/resource/section", "Missing mandatory Composition.section"),
            ("remove /entry[Composition]/resource/subject ; set /entry[Patient]/resource/identifier = []", "patient.identifier[] for system https://fhir.nhs.uk/Id/nhs-number must not be empty"),
            // AuthorMapper runs before CompositionMapper (GpSummary.fromBundle)
            ("remove /entry[Composition]/resource/subject ; set /entry[Composition]/resource/author/0/reference = \"X/1\"", "Invalid resource reference. X/1 expected to be referencing PractitionerRole"),
            ("remove /entry[Composition]/resource/category ; remove /entry[Composition]/resource/meta", "Mapping exception"),
            // the Bundle's own elements come before everything in the Composition: type, timestamp, identifier
            ("remove /identifier ; remove /timestamp ; set /type = \"collection\" ; remove /entry[Composition]", "Unsupported Bundle.type: COLLECTION"),
            ("remove /identifier ; remove /timestamp ; remove /entry[Composition]", "bundle.timestamp must not be empty"),
            ("remove /identifier ; remove /entry[Composition]", "bundle.identifier must not be empty"),
            ("set /identifier/system = \"urn:x\" ; remove /entry[Composition]/resource/meta", "bundle.identifier.system must be https://tools.ietf.org/html/rfc4122"),
            // the parser's enumeration check comes before the adaptor's
            ("set /type = \"bogus\" ; set /entry[Composition]/resource/status = \"bogus\"", "[element=\"type\"] Invalid attribute value \"bogus\": Unknown BundleType code 'bogus'"),
        ];
        for (change, text) in rows {
            assert_eq!(error_text(&changed(change)), *text, "change: {change}");
        }
    }

    #[test]
    fn odd_shapes_never_panic() {
        for doc in [
            serde_json::json!({}),
            serde_json::json!({"resourceType": "Bundle", "entry": "x"}),
            serde_json::json!({"resourceType": "Bundle", "entry": [1, null, {"resource": 5}]}),
            serde_json::json!({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Composition"}}]}),
            serde_json::json!([]),
        ] {
            assert!(validate_upload(&doc).is_err());
        }
    }
}
