//! Exact error texts of the SCR backend, in one place, used by the mock *and* by the assertions.
//! Each is cited to `reference/scr-api.md`; where the reference marks a wording as derived, so do we.

/// PSIS 420 + 30418 (ACS forbids access). Note the **double space** in "control  which" (reference §4.1).
pub const NO_CONSENT: &str = "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource";

/// Spine PSIS-35160: unknown or invalid NHS number on `$setPermission` (reference §4.4).
pub const ACS_INVALID_NHS_NUMBER: &str = "Code: 400, Display: Invalid Request;Code: 35160, Display: [PSIS-35160] - Invalid input message. Mandatory field NHS Number is missing or incorrect";

/// X-Correlation-ID / X-Request-ID not a UUID (reference §3.4). `header` is the header name as sent by NHS.
pub fn invalid_uuid_header(header: &str) -> String {
    format!(
        "Invalid {header}. Should be a UUIDv4 matching \"^[0-9a-fA-F]{{8}}+-[0-9a-fA-F]{{4}}+-[0-9a-fA-F]{{4}}+-[0-9a-fA-F]{{4}}+-[0-9a-fA-F]{{12}}+$\""
    )
}

/// Required query parameter missing (reference §3.4, Spring 5.3 wording).
pub fn missing_parameter(name: &str) -> String {
    format!("Required request parameter '{name}' for method parameter type String is not present")
}

/// Required header missing (reference §3.4, wording derived from Spring 5.3).
pub fn missing_header(name: &str) -> String {
    format!("Required request header '{name}' for method parameter type String is not present")
}

/// Query parameter with a value the backend does not accept (reference §4.1, §4.2).
pub fn invalid_value(value: &str, field: &str) -> String {
    format!("Invalid value - {value} in field '{field}'")
}

/// Several bean-validation violations of one controller method, as the adaptor reports them: Hibernate
/// Validator's `ConstraintViolationException` message (`<method>.<parameter>: <message>` joined by `", "`)
/// with everything up to the first `:` removed (`OperationOutcomeExceptionHandler.removeMethodNamePrefix`), so
/// only the first violation loses its `<method>.<parameter>: ` prefix. `violations` are `(Java parameter
/// name, message)`. Java reports them in `HashSet` order, which is not fixed; the mock uses the parameters'
/// order. (Wording **derived** from Hibernate Validator 6.2 and the NHS handler; no NHS fixture shows it.)
pub fn constraint_violations(method: &str, violations: &[(&str, String)]) -> String {
    let joined: Vec<String> =
        violations.iter().map(|(param, message)| format!("{method}.{param}: {message}")).collect();
    let joined = joined.join(", ");
    match joined.split_once(':') {
        Some((_, rest)) => rest.trim_matches(|c: char| c <= ' ').to_owned(),
        None => joined,
    }
}

/// 415 text (reference §3.4, Spring wording).
pub fn unsupported_media_type(content_type: &str) -> String {
    format!("Content type '{content_type}' not supported")
}

/// 405 text (reference §3.4, wording derived from Spring 5.3).
pub fn method_not_supported(method: &str) -> String {
    format!("Request method '{method}' not supported")
}

/// 404 text: the request URI followed by " not found" (reference §3.4).
pub fn not_found(path: &str) -> String {
    format!("{path} not found")
}

/// `$setPermission` job-role resolution failed (reference §4.4).
pub fn no_job_role_code(urid: &str) -> String {
    format!("Unable to determine Job Role Code for the given RoleID via the SDS Service: {urid}")
}

/// Spine NACK after an upload (reference §4.3): one line per error, `code: display`.
pub fn spine_processing_errors(errors: &[(&str, &str)]) -> String {
    let mut text = String::from("Spine processing finished with errors:");
    for (code, display) in errors {
        text.push_str(&format!("\n- {code}: {display}"));
    }
    text
}

/// HAPI strict parser: an empty string value (reference §3.4, NHS unit test wording).
pub fn empty_attribute_value(element: &str) -> String {
    format!("[element=\"{element}\"] Invalid attribute value \"\": Attribute value must not be empty (\"\")")
}

/// HAPI strict parser: a date, dateTime or instant it cannot read (`BaseDateTimeType` "Invalid date/time
/// format" through `StrictErrorHandler.invalidValue`; **derived**: HAPI 5 wording, and HAPI adds a reason to
/// some formats it half-reads, which the mock does not).
pub fn invalid_date_time(element: &str, value: &str) -> String {
    format!("[element=\"{element}\"] Invalid attribute value \"{value}\": Invalid date/time format: \"{value}\"")
}

/// HAPI parser: body of the wrong resource type (HAPI 5 wording; **derived**, not in an NHS fixture).
pub fn incorrect_resource_type(expected: &str, found: &str) -> String {
    format!("Incorrect resource type found, expected \"{expected}\" but found \"{found}\"")
}

/// A request body that cannot be read (malformed chunked encoding, fewer bytes than `Content-Length`): Spring's
/// `HttpMessageNotReadableException` wording, 400 `value` (**derived**; the reference lists no such row).
pub const UNREADABLE_BODY: &str = "I/O error while reading input message";

/// HAPI parser: body that is not JSON at all (HAPI 5 wording prefix; **derived**).
pub fn unparseable_json(detail: &str) -> String {
    format!("Failed to parse JSON encoded FHIR content: {detail}")
}

// ---------------------------------------------------------------------------------------------------------
// Body validation texts (reference §4.3, §4.4, §4.5). Exact wording from the backend code the reference cites.
// ---------------------------------------------------------------------------------------------------------

/// HAPI strict parser: JSON that is not an object (HAPI 5 wording; **derived**).
pub fn not_fhir_json(first_char: char) -> String {
    unparseable_json(&format!(
        "Content does not appear to be FHIR JSON, first non-whitespace character was: '{first_char}' (must be '{{')"
    ))
}

/// HAPI strict parser: JSON object without `resourceType` (HAPI 5 wording, thrown by `JsonParser` outside the
/// "Failed to parse" wrapping; **derived**).
pub const MISSING_RESOURCE_TYPE: &str = "Invalid JSON content detected, missing required element: 'resourceType'";

/// HAPI strict parser: a body with nothing but whitespace (HAPI 5 `JsonLikeStructure.load`; **derived**).
pub const NO_CONTENT_TO_PARSE: &str = "Did not find any content to parse";

/// HAPI strict parser: an element the FHIR R4 structure does not define (`StrictErrorHandler.unknownElement`,
/// no location; **derived**: HAPI 5 wording).
pub fn unknown_element(name: &str) -> String {
    format!("Unknown element '{name}' found during parse")
}

/// Upload: `Bundle.type` is not `document`; `given` is HAPI's Java constant (`TRANSACTION`, `SEARCHSET`, …) or
/// `null` when absent (`J/models/GpSummary.java` `validateType`).
pub fn unsupported_bundle_type(given: &str) -> String {
    format!("Unsupported Bundle.type: {given}")
}

/// Upload: `Bundle.timestamp` absent (`J/models/GpSummary.java` `gpSummarySetHeaderTimeStamp`).
pub const BUNDLE_TIMESTAMP_MISSING: &str = "bundle.timestamp must not be empty";

/// Upload: `Bundle.identifier` absent or empty (`J/models/GpSummary.java` `gpSummarySetHeaderId`).
pub const BUNDLE_IDENTIFIER_MISSING: &str = "bundle.identifier must not be empty";

/// Upload: `Bundle.identifier.system` not rfc4122 (`J/models/GpSummary.java` `gpSummarySetHeaderId`).
pub const BUNDLE_IDENTIFIER_SYSTEM_INVALID: &str =
    "bundle.identifier.system must be https://tools.ietf.org/html/rfc4122";

/// Upload: `Bundle.identifier.value` absent (`J/models/GpSummary.java` `gpSummarySetHeaderId`).
pub const BUNDLE_IDENTIFIER_VALUE_MISSING: &str = "bundle.identifier.value must not be empty";

/// Upload: a mapping failure without a message of its own — here the Composition has an author but no
/// `meta.lastUpdated`, which `J/mappings/from/fhir/AuthorMapper.java` formats (a `NullPointerException`). The
/// wording is the reference's (§4.3 "generic `Mapping exception` if none"; **derived**).
pub const MAPPING_EXCEPTION: &str = "Mapping exception";

/// Upload: no resource of that type in the Bundle (reference §4.3, `FhirHelper.getDomainResource`).
pub fn resource_missing_from_payload(resource_type: &str) -> String {
    format!("{resource_type} missing from payload")
}

/// Upload: more than one resource of a type that must be unique (reference §4.3).
pub fn more_than_one_resource(resource_type: &str) -> String {
    format!("There is more than 1 resource of type {resource_type}")
}

/// Upload: `Composition.category` absent (reference §4.3).
pub const COMPOSITION_CATEGORY_MISSING: &str = "Composition.category element is missing";

/// Upload: `Composition.category.coding[0].<field>` not the expected value; `given` is `null` when absent.
pub fn composition_category_not_supported(field: &str, given: &str) -> String {
    format!("Composition.category.coding.{field} not supported: {given}")
}

/// Upload: `Composition.type` absent (reference §4.3).
pub const COMPOSITION_TYPE_MISSING: &str = "Composition.type element is missing";

/// Upload: `Composition.type.coding[0].<field>` not the expected value; `given` is `null` when absent.
pub fn composition_type_not_supported(field: &str, given: &str) -> String {
    format!("Composition.type.coding.{field} not supported: {given}")
}

/// Upload: `Composition.status` is not `final`; `given` is `null` when absent (reference §4.3).
pub fn invalid_composition_status(given: &str) -> String {
    format!("Invalid composition.status: {given}")
}

/// Upload: `Composition.relatesTo[0].code` is not `replaces` (reference §4.3).
pub fn unsupported_relates_to_code(given: &str) -> String {
    format!("Unsupported Composition.relatesTo.code element: {given}")
}

/// Upload: `Composition.relatesTo[0].targetIdentifier.value` absent (reference §4.3).
pub const RELATES_TO_TARGET_MISSING: &str = "Composition.relatesTo.targetIdentifier.value element is missing";

/// Upload: `Composition.identifier` absent or of another system (reference §4.3).
pub const COMPOSITION_IDENTIFIER_MISSING: &str =
    "Missing Composition.identifier for system: https://tools.ietf.org/html/rfc4122";

/// Upload: `Composition.identifier.value` absent (reference §4.3).
pub const COMPOSITION_IDENTIFIER_VALUE_MISSING: &str = "Missing Composition.identifier.value element";

/// Upload: `Composition.date` absent (reference §4.3).
pub const COMPOSITION_DATE_MISSING: &str = "Composition Date Element missing from payload";

/// Upload: `Composition.section` absent, empty, or a section without `text.div` (reference §4.3).
pub const COMPOSITION_SECTION_MISSING: &str = "Missing mandatory Composition.section";

/// Upload: more than one non-blank NHS number identifier on the Patient (reference §4.3).
pub const MULTIPLE_PATIENT_NHS_NUMBERS: &str =
    "Multiple Patient resource 'https://fhir.nhs.uk/Id/nhs-number' identifiers";

/// Upload: no non-blank NHS number identifier on the Patient (reference §4.3).
pub const PATIENT_NHS_NUMBER_EMPTY: &str =
    "patient.identifier[] for system https://fhir.nhs.uk/Id/nhs-number must not be empty";

/// Upload: `Composition.subject.reference` does not point at the Patient (reference §4.3).
pub const COMPOSITION_SUBJECT_INVALID: &str = "Composition.subject reference is missing or invalid";

/// Upload: a reference names the wrong resource type (reference §4.3, `FhirHelper.getResourceByReference`).
pub fn invalid_resource_reference(reference: &str, expected_type: &str) -> String {
    format!("Invalid resource reference. {reference} expected to be referencing {expected_type}")
}

/// Upload: the author's PractitionerRole is not in the Bundle (wording of the backend's
/// `ParticipantAgentMapper`, "Encounter" included; **derived**, not in the reference table).
pub fn bundle_missing_practitioner_role(reference: &str) -> String {
    format!("Bundle is missing PractitionerRole {reference} that is linked to Encounter")
}

/// `$setPermission` texts (reference §4.4).
pub const SET_PERMISSIONS_NOT_FOUND: &str = "Parameter named 'setPermissions' name not found";
pub const SET_PERMISSIONS_NOT_UNIQUE: &str = "Exactly 1 parameter named 'setPermissions' expected";
pub const NHS_NUMBER_PART_MISSING: &str = "Missing value for Parameter.Part 'nhsNumber'";
pub const NHS_NUMBER_PART_NOT_UNIQUE: &str = "Exactly 1 Parameter.Part named 'nhsNumber' with not empty value expected";
pub const PERMISSION_CODE_PART_MISSING: &str = "Parameter.Part named 'permissionCode' with valueCoding.system https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission not found";
pub const PERMISSION_CODE_PART_NOT_UNIQUE: &str = "Exactly 1 Parameter.Part named 'permissionCode' with valueCoding.system https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission expected";

/// A request-body validator that failed with an unexpected exception (a `permissionCode` part whose value is
/// not a `Coding` makes `AcsRequestValidator`'s cast fail): Hibernate Validator's `HV000028` message, answered
/// 500 `exception` by `OperationOutcomeExceptionHandler.handleAllExceptions` (**derived**: library wording).
pub const UNEXPECTED_EXCEPTION_DURING_IS_VALID: &str = "HV000028: Unexpected exception during isValid call.";

/// `POST /AuditEvent` texts (reference §4.5), in validation order. Note the stray quote in the first.
pub const ALERT_ID_MISSING: &str = "'id' element is missing'";
pub const ALERT_EXTENSION_NOT_UNIQUE: &str = "Expecting exactly one 'extension' element with URL: 'https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage'";
pub const ALERT_EXTENSION_VALUE_MISSING: &str = "'valueString' for 'extension' 'https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage' is missing";
pub const ALERT_TYPE_SYSTEM_MISSING: &str =
    "'Type' element for 'https://fhir.nhs.uk/CodeSystem/SCR-AlertType' system missing";
pub const ALERT_TYPE_CODE_INVALID: &str = "Invalid or missing value in field 'type.code'. Supported values are: 1, 2";
pub const ALERT_TYPE_DISPLAY_MISSING: &str = "Missing value 'type.display'";
pub const ALERT_SUBTYPE_NOT_UNIQUE: &str = "Expecting exactly one 'subtype' element";
pub const ALERT_SUBTYPE_SYSTEM_INVALID: &str = "Invalid or missing value in field 'subtype.system'. Supported value is: https://fhir.nhs.uk/CodeSystem/SCR-AlertReason";
pub const ALERT_SUBTYPE_CODE_INVALID: &str =
    "Invalid or missing value in field 'subtype.code'. Supported values are: 1, 2, 3, 4, 5, 6";
pub const ALERT_SUBTYPE_DISPLAY_MISSING: &str = "Missing value 'subtype.display'";
pub const ALERT_RECORDED_MISSING: &str = "'recorded' element missing";
pub const ALERT_ENTITY_NOT_UNIQUE: &str = "Expecting exactly one 'entity' element";
pub const ALERT_ENTITY_WHAT_MISSING: &str = "Invalid or missing value in field 'entity.what.identifier.value'";

/// Alert: type/subtype pair not permitted (reference §4.5; trailing full stop included).
pub fn invalid_alert_combination(alert_type: &str, subtype: &str) -> String {
    format!("Invalid combination of alert type '{alert_type}' and alert subtype '{subtype}'.")
}

/// Alert: no agent with that identifier system and a non-empty value (reference §4.5).
pub fn alert_agent_missing(system: &str) -> String {
    format!("Missing 'agent' entry with 'who.identifier.system' '{system}' and non-empty 'value'")
}

/// Alert: more than one agent with that identifier system and a non-empty value (reference §4.5).
pub fn alert_agent_not_unique(system: &str) -> String {
    format!("Expecting exactly one 'agent' entry with 'who.identifier.system' '{system}' and non-empty 'value'")
}

/// Alert: the agent's `requestor` is absent or true (reference §4.5).
pub fn alert_agent_requestor_invalid(system: &str) -> String {
    format!("Missing or unsupported 'requestor' value for 'agent' with 'who.identifier.system' '{system}'")
}

/// Alert: the SDS user agent has no `role` (reference §4.5).
pub const ALERT_ROLE_MISSING: &str =
    "Expecting at least one 'role' for 'agent' entry with system https://fhir.nhs.uk/Id/sds-user-id";

/// Alert: the SDS user agent has an empty `role` (reference §4.5).
pub const ALERT_ROLE_EMPTY: &str =
    "Expecting at least one non empty 'role' for 'agent' entry with system https://fhir.nhs.uk/Id/sds-user-id";

/// HAPI strict parser: a code outside the element's enumeration (wording of HAPI 5's
/// `StrictErrorHandler.invalidValue` with the enum factory's message; **derived**).
pub fn unknown_code(element: &str, value: &str, enumeration: &str) -> String {
    format!("[element=\"{element}\"] Invalid attribute value \"{value}\": Unknown {enumeration} code '{value}'")
}

/// 504 after Spine's POST and polling found no answer in time (reference §3.4; spec `POST /Bundle` 504 example;
/// `J/exceptions/ScrTimeoutException.java`).
pub const SPINE_TIMEOUT: &str = "Request processing timed out. Spine POST + polling GET has timed out";

/// 503 from the infrastructure, JSON form (reference §3.5; spec 503 example).
pub const SERVICE_NOT_AVAILABLE: &str = "Code: 503, Display: Service Not Available";

/// 503 from the infrastructure, HTML form: the spec only says the page contains this term (reference §3.5).
pub const SERVICE_TEMPORARILY_UNAVAILABLE: &str = "503 Service Temporarily Unavailable";

/// The live proxy's `AssignMessage.Errors.Default` diagnostics, which its catch-all fault rule sends for any
/// error it does not name (reference §3.5). `message_id` is Apigee's `{messageid}`.
pub fn apigee_unknown_error_diagnostics(message_id: &str) -> String {
    format!(
        "An unknown error occurred processing this request. Contact us for assistance diagnosing this issue: https://digital.nhs.uk/developer/help-and-support. (Message ID: {message_id})"
    )
}

/// Spine's PSIS-30134 NACK display for an event id it already holds (reference §4.3, spec example; wording
/// **derived** in the mock's upload NACK, see the README).
pub fn duplicate_event(scr_id: &str, nhs_number: &str) -> String {
    format!("[PSIS-30134] - Duplicate event with eventId {scr_id} and nhsNumber {nhs_number}.")
}

/// Spring's `HttpMediaTypeNotAcceptableException` message when no `produces` type matches the `Accept` header
/// (Spring 5.3 wording, **derived**); the adaptor's `OperationOutcomeExceptionHandler` overrides
/// `handleExceptionInternal` with `handleAllExceptions`, so it reaches the client as a 500 `exception`
/// (`docker/service/.../components/OperationOutcomeExceptionHandler.java`).
pub const NOT_ACCEPTABLE: &str = "Could not find acceptable representation";
