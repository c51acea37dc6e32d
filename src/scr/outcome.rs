//! The backend's error shape: an `OperationOutcome` with one issue `{severity, code, details.text}`
//! (reference §3.4), and the typed error every validator returns.

use serde_json::{json, Value};

/// FHIR `issue.code` values the SCR backend emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueCode {
    /// Every backend 400 (reference §3.4 DISCREPANCY: the spec says `invalid`, the code emits `value`).
    Value,
    Invalid,
    Forbidden,
    NotSupported,
    NotFound,
    Exception,
    Transient,
}

impl IssueCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Value => "value",
            Self::Invalid => "invalid",
            Self::Forbidden => "forbidden",
            Self::NotSupported => "not-supported",
            Self::NotFound => "not-found",
            Self::Exception => "exception",
            Self::Transient => "transient",
        }
    }
}

/// An error the SCR backend answers with: HTTP status plus a one-issue OperationOutcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {}: {text}", code.as_str())]
pub struct ScrError {
    pub status: u16,
    pub code: IssueCode,
    pub severity: &'static str,
    pub text: String,
}

impl ScrError {
    pub fn new(status: u16, code: IssueCode, text: impl Into<String>) -> Self {
        Self { status, code, severity: "error", text: text.into() }
    }

    /// 400 `value` — every validation failure of the backend.
    pub fn bad_request(text: impl Into<String>) -> Self {
        Self::new(400, IssueCode::Value, text)
    }

    /// 403 `forbidden` with the PSIS-420/30418 text: ACS forbids access (patient dissent).
    pub fn no_consent() -> Self {
        Self::new(403, IssueCode::Forbidden, super::texts::NO_CONSENT)
    }

    /// 500 `exception`, severity `fatal` (reference §3.4).
    pub fn internal(text: impl Into<String>) -> Self {
        Self { severity: "fatal", ..Self::new(500, IssueCode::Exception, text) }
    }

    /// The response body.
    pub fn to_operation_outcome(&self) -> Value {
        operation_outcome(self.severity, self.code.as_str(), &self.text)
    }
}

/// A one-issue OperationOutcome as the backend writes it.
pub fn operation_outcome(severity: &str, code: &str, text: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{ "severity": severity, "code": code, "details": { "text": text } }]
    })
}

/// Reads `(severity, code, details.text)` of the first issue of an OperationOutcome, if the value is one.
pub fn first_issue(value: &Value) -> Option<(&str, &str, &str)> {
    if value.get("resourceType")?.as_str()? != "OperationOutcome" {
        return None;
    }
    let issue = value.get("issue")?.get(0)?;
    Some((
        issue.get("severity")?.as_str()?,
        issue.get("code")?.as_str()?,
        issue.pointer("/details/text").and_then(Value::as_str).unwrap_or(""),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_consent_matches_the_nhs_uat_fixture_shape() {
        let body = ScrError::no_consent().to_operation_outcome();
        assert_eq!(body["issue"][0]["code"], "forbidden");
        assert!(body["issue"][0]["details"]["text"].as_str().is_some_and(|t| t.contains("control  which")));
        assert_eq!(first_issue(&body).map(|i| i.1), Some("forbidden"));
    }

    #[test]
    fn internal_errors_are_fatal() {
        assert_eq!(ScrError::internal("boom").to_operation_outcome()["issue"][0]["severity"], "fatal");
    }
}
