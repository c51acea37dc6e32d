//! FHIR validation: the HL7 FHIR R4 JSON schema ([`schema`]) and the SCR rules the schema does not check
//! ([`scr_rules`]). Both answer with [`Finding`]s: where (a JSON Pointer into the instance) and what.
//! [`conformance`] applies both to every request and response of a scenario.

pub mod conformance;
pub mod schema;
pub mod scr_rules;
pub mod structure;

use serde::Serialize;

/// One reason a payload is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// JSON Pointer into the instance (`""` for the root), e.g. `/entry/4/resource/status`.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = if self.path.is_empty() { "(root)" } else { &self.path };
        write!(f, "{path}: {}", self.message)
    }
}

/// Which payload of the SCR API a document is, for the SCR rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ScrPayload {
    /// `POST /Bundle` request: a `document` Bundle with the GP Summary.
    UploadRequest,
    /// `POST /$setPermission` request: Parameters.
    PermissionRequest,
    /// `POST /AuditEvent` request: a privacy alert.
    AlertRequest,
    /// `GET /DocumentReference` 200: a searchset Bundle of the latest SCR id (or empty).
    DocumentReferenceResponse,
    /// `GET /Bundle` 200: a searchset Bundle of the GP Summary (or empty).
    DocumentResponse,
    /// Any error response: an OperationOutcome.
    OperationOutcome,
}
