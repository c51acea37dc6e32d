//! Identifier systems, code systems and fixed codes of the SCR FHIR API (reference `scr-api.md` §8).

/// Base path of the SCR FHIR API on every NHS environment (reference §1).
pub const BASE_PATH: &str = "/summary-care-record/FHIR/R4";

pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
pub const SCR_UUID_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhsSCRUUID";
pub const RFC4122_SYSTEM: &str = "https://tools.ietf.org/html/rfc4122";
pub const ODS_ORGANIZATION_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
pub const SDS_USER_SYSTEM: &str = "https://fhir.nhs.uk/Id/sds-user-id";
pub const SPINE_ASID_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhsSpineASID";
pub const SNOMED_SYSTEM: &str = "http://snomed.info/sct";

pub const ACS_PERMISSION_SYSTEM: &str = "https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission";
pub const ALERT_TYPE_SYSTEM: &str = "https://fhir.nhs.uk/CodeSystem/SCR-AlertType";
pub const ALERT_REASON_SYSTEM: &str = "https://fhir.nhs.uk/CodeSystem/SCR-AlertReason";
pub const NOTIFICATION_MESSAGE_EXTENSION: &str =
    "https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage";

/// SNOMED code of the SCR document type (GP Summary).
pub const GP_SUMMARY_CODE: &str = "196981000000101";
/// Display of the GP Summary code in upload requests.
pub const GP_SUMMARY_DISPLAY: &str = "General Practice Summary";
/// Display the backend *returns* in `DocumentReference.type`: note the leading space (reference §4.1 quirk).
pub const GP_SUMMARY_DISPLAY_RETURNED: &str = " General Practice Summary";
/// SNOMED code of `Composition.category`.
pub const CARE_PROFESSIONAL_DOCUMENTATION_CODE: &str = "163171000000105";
pub const CARE_PROFESSIONAL_DOCUMENTATION_DISPLAY: &str = "Care Professional Documentation";

/// The `type` search parameter value accepted by `GET /DocumentReference`.
pub const DOCUMENT_TYPE_PARAM: &str = "http://snomed.info/sct|196981000000101";

/// Media type of every backend response and of every POST body.
pub const FHIR_JSON: &str = "application/fhir+json";
