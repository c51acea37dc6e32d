//! `POST /$setPermission` body rules (reference §4.4, backend `AcsRequestValidator`): one `setPermissions`
//! parameter, one non-empty `nhsNumber` part, one `permissionCode` part in the SCR-ACSPermission system with
//! a code `Yes`/`No`/`Ask` (any case). First failure wins; 400 `value`. Run
//! [`parse_resource`](super::parse::parse_resource) first.

use serde_json::Value;

use super::{array_at, or_null, str_at, text_at};
use crate::scr::{codes, texts, IssueCode, PermissionToView, ScrError};

/// A valid `$setPermission` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionRequest {
    pub nhs_number: String,
    pub permission: PermissionToView,
    /// The code exactly as sent (the backend accepts any case).
    pub code_as_sent: String,
}

/// Checks a `Parameters` body against the §4.4 rules in order.
pub fn validate_set_permission(params: &Value) -> Result<PermissionRequest, ScrError> {
    let parameter = set_permissions_parameter(params)?;
    let parts = array_at(parameter, "/part");
    let nhs_number = nhs_number_part(parts)?;
    let code = permission_code_part(parts)?;
    let permission = code
        .and_then(|c| c.parse::<PermissionToView>().ok())
        .ok_or_else(|| ScrError::bad_request(texts::invalid_value(or_null(code), "valueCoding.code")))?;
    Ok(PermissionRequest {
        nhs_number: nhs_number.to_owned(),
        permission,
        code_as_sent: code.unwrap_or_default().to_owned(),
    })
}

/// Exactly one element of `matching`, or the `none` / `many` error.
fn exactly_one<T>(mut matching: impl Iterator<Item = T>, none: &str, many: &str) -> Result<T, ScrError> {
    match (matching.next(), matching.next()) {
        (Some(one), None) => Ok(one),
        (Some(_), Some(_)) => Err(ScrError::bad_request(many)),
        (None, _) => Err(ScrError::bad_request(none)),
    }
}

/// §4.4 "Parameter named 'setPermissions' …" pair.
fn set_permissions_parameter(params: &Value) -> Result<&Value, ScrError> {
    exactly_one(
        array_at(params, "/parameter").iter().filter(|p| str_at(p, "/name") == Some("setPermissions")),
        texts::SET_PERMISSIONS_NOT_FOUND,
        texts::SET_PERMISSIONS_NOT_UNIQUE,
    )
}

/// §4.4 "… Parameter.Part 'nhsNumber' …" pair: parts named `nhsNumber` with a non-empty `valueString`.
fn nhs_number_part(parts: &[Value]) -> Result<&str, ScrError> {
    exactly_one(
        parts.iter().filter(|p| str_at(p, "/name") == Some("nhsNumber")).filter_map(|p| text_at(p, "/valueString")),
        texts::NHS_NUMBER_PART_MISSING,
        texts::NHS_NUMBER_PART_NOT_UNIQUE,
    )
}

/// §4.4 "… Parameter.Part named 'permissionCode' …" pair: parts named `permissionCode` whose
/// `valueCoding.system` is SCR-ACSPermission. Returns the code, if any.
///
/// `AcsRequestValidator.checkPermission` casts every `permissionCode` part's value to a `Coding`, in part
/// order, while it looks for the SCR-ACSPermission one: a part with another value type (`valueString`,
/// `valueCode`, …) or none fails the cast, Hibernate Validator wraps the failure (HV000028) and the adaptor
/// answers **500** `exception` — unless a second matching part was met first ("Exactly 1 …" is thrown as the
/// stream reduces, before later parts are looked at).
fn permission_code_part(parts: &[Value]) -> Result<Option<&str>, ScrError> {
    let mut found: Option<&Value> = None;
    for part in parts.iter().filter(|p| str_at(p, "/name") == Some("permissionCode")) {
        let Some(coding) = part.get("valueCoding").filter(|c| c.is_object()) else {
            return Err(ScrError::new(500, IssueCode::Exception, texts::UNEXPECTED_EXCEPTION_DURING_IS_VALID));
        };
        if str_at(coding, "/system") == Some(codes::ACS_PERMISSION_SYSTEM) {
            if found.is_some() {
                return Err(ScrError::bad_request(texts::PERMISSION_CODE_PART_NOT_UNIQUE));
            }
            found = Some(coding);
        }
    }
    let coding = found.ok_or_else(|| ScrError::bad_request(texts::PERMISSION_CODE_PART_MISSING))?;
    Ok(str_at(coding, "/code"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scr::patch::apply_change;

    fn example() -> Value {
        serde_json::from_str(include_str!("../../../fixtures/nhs/examples/SetPermission.json"))
            .expect("SetPermission.json is valid JSON")
    }

    fn changed(change: &str) -> Value {
        let mut doc = example();
        if let Err(e) = apply_change(&mut doc, change) {
            panic!("{e}");
        }
        doc
    }

    fn json(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture is valid JSON")
    }

    #[test]
    fn the_nhs_example_is_valid() {
        assert_eq!(
            validate_set_permission(&example()),
            Ok(PermissionRequest {
                nhs_number: "9000000009".into(),
                permission: PermissionToView::Ask,
                code_as_sent: "Ask".into()
            })
        );
    }

    #[test]
    fn codes_are_case_insensitive_and_kept_as_sent() {
        for (code, permission) in
            [("yes", PermissionToView::Yes), ("NO", PermissionToView::No), ("aSk", PermissionToView::Ask)]
        {
            let ok =
                validate_set_permission(&changed(&format!("set /parameter/0/part/1/valueCoding/code = \"{code}\"")));
            assert_eq!(ok.map(|r| (r.permission, r.code_as_sent)), Ok((permission, code.to_owned())));
        }
    }

    #[test]
    fn nhs_uat_oracles() {
        let pairs = [
            (
                include_str!("../../../fixtures/nhs/uat/set_acs/bad_request/1-nhsNumberMissing.request.json"),
                include_str!("../../../fixtures/nhs/uat/set_acs/bad_request/1-nhsNumberMissing.response.json"),
            ),
            (
                include_str!("../../../fixtures/nhs/uat/set_acs/bad_request/2-duplicatePermission.request.json"),
                include_str!("../../../fixtures/nhs/uat/set_acs/bad_request/2-duplicatePermission.response.json"),
            ),
        ];
        for (request, response) in pairs {
            let err = validate_set_permission(&json(request)).expect_err("the UAT bad request is rejected");
            assert_eq!(err.to_operation_outcome(), json(response));
        }
        for ok in [
            include_str!("../../../fixtures/nhs/uat/set_acs/success/1-basic.request.json"),
            include_str!("../../../fixtures/nhs/uat/set_acs/spine_error/1-nhsNumberNotFound.request.json"),
        ] {
            assert!(validate_set_permission(&json(ok)).is_ok());
        }
    }

    #[test]
    fn every_rule_with_its_exact_text() {
        let not_found = "Parameter.Part named 'permissionCode' with valueCoding.system https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission not found";
        let rows: &[(&str, &str)] = &[
            ("remove /parameter", "Parameter named 'setPermissions' name not found"),
            ("set /parameter = []", "Parameter named 'setPermissions' name not found"),
            ("set /parameter/0/name = \"setPermission\"", "Parameter named 'setPermissions' name not found"),
            ("add /parameter/- = {\"name\":\"setPermissions\"}", "Exactly 1 parameter named 'setPermissions' expected"),
            ("remove /parameter/0/part/0", "Missing value for Parameter.Part 'nhsNumber'"),
            ("remove /parameter/0/part", "Missing value for Parameter.Part 'nhsNumber'"),
            ("remove /parameter/0/part/0/valueString", "Missing value for Parameter.Part 'nhsNumber'"),
            ("set /parameter/0/part/0/valueString = 9000000009", "Missing value for Parameter.Part 'nhsNumber'"),
            ("add /parameter/0/part/- = {\"name\":\"nhsNumber\",\"valueString\":\"9000000017\"}", "Exactly 1 Parameter.Part named 'nhsNumber' with not empty value expected"),
            ("remove /parameter/0/part/1", not_found),
            ("set /parameter/0/part/1/valueCoding/system = \"https://fhir.nhs.uk/CodeSystem/Other\"", not_found),
            ("set /parameter/0/part/1/name = \"permission\"", not_found),
            ("add /parameter/0/part/- = {\"name\":\"permissionCode\",\"valueCoding\":{\"system\":\"https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission\",\"code\":\"No\"}}", "Exactly 1 Parameter.Part named 'permissionCode' with valueCoding.system https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission expected"),
            ("set /parameter/0/part/1/valueCoding/code = \"Maybe\"", "Invalid value - Maybe in field 'valueCoding.code'"),
            ("set /parameter/0/part/1/valueCoding/code = \"Clear\"", "Invalid value - Clear in field 'valueCoding.code'"),
            ("remove /parameter/0/part/1/valueCoding/code", "Invalid value - null in field 'valueCoding.code'"),
            // order: nhsNumber before permissionCode
            ("remove /parameter/0/part/1 ; remove /parameter/0/part/0", "Missing value for Parameter.Part 'nhsNumber'"),
        ];
        for (change, text) in rows {
            let err = validate_set_permission(&changed(change)).err();
            assert_eq!(
                err.as_ref().map(|e| (e.status, e.code.as_str(), e.text.as_str())),
                Some((400, "value", *text)),
                "{change}"
            );
        }
    }

    #[test]
    fn a_second_nhs_number_part_without_value_is_ignored() {
        assert!(validate_set_permission(&changed("add /parameter/0/part/- = {\"name\":\"nhsNumber\"}")).is_ok());
    }

    #[test]
    fn a_permission_code_that_is_not_a_coding_fails_the_cast_with_500() {
        let hv = "HV000028: Unexpected exception during isValid call.";
        for change in [
            "remove /parameter/0/part/1/valueCoding",
            "remove /parameter/0/part/1/valueCoding ; add /parameter/0/part/1/valueString = \"Yes\"",
            "remove /parameter/0/part/1/valueCoding ; add /parameter/0/part/1/valueCode = \"Yes\"",
            // even after a valid Coding part: every permissionCode part is cast
            "add /parameter/0/part/- = {\"name\":\"permissionCode\",\"valueString\":\"No\"}",
        ] {
            match validate_set_permission(&changed(change)) {
                Err(e) => {
                    assert_eq!(
                        (e.status, e.code, e.severity, e.text.as_str()),
                        (500, IssueCode::Exception, "error", hv)
                    );
                }
                Ok(ok) => panic!("{change}: accepted {ok:?}"),
            }
        }
        // a second matching part met first ends the stream with the 400 before the cast of a later part
        let two_then_string = "add /parameter/0/part/- = {\"name\":\"permissionCode\",\"valueCoding\":{\"system\":\"https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission\",\"code\":\"No\"}} ; add /parameter/0/part/- = {\"name\":\"permissionCode\",\"valueString\":\"No\"}";
        assert_eq!(validate_set_permission(&changed(two_then_string)).map_err(|e| e.status), Err(400));
        // parts of other names are never cast
        assert!(validate_set_permission(&changed(
            "add /parameter/0/part/- = {\"name\":\"note\",\"valueString\":\"x\"}"
        ))
        .is_ok());
    }
}
