//! `POST /AuditEvent` body rules (reference §4.5 steps 1–8, backend `AlertRequestValidator`), in order; the
//! first failure wins; 400 `value`. Run [`parse_resource`](super::parse::parse_resource) first (it rejects an
//! empty `outcomeDesc`). A member of the wrong JSON type counts as absent.

use serde_json::Value;

use super::{array_at, str_at, text_at};
use crate::scr::alert::{is_permitted, AlertReason, AlertType, PrivacyAlert};
use crate::scr::{codes, texts, ScrError};

/// Checks an AuditEvent against §4.5 and returns the alert it raises.
pub fn validate_alert(event: &Value) -> Result<PrivacyAlert, ScrError> {
    check_id(event)?;
    let notification = check_extension(event)?;
    let alert_type = check_type(event)?;
    let reason = check_subtype(event)?;
    check_combination(alert_type, reason)?;
    let recorded = check_recorded(event)?;
    let what = check_entity(event)?;
    let agents = array_at(event, "/agent");
    let nhs_number = check_agent(agents, codes::NHS_NUMBER_SYSTEM)?;
    let ods_code = check_agent(agents, codes::ODS_ORGANIZATION_SYSTEM)?;
    let sds_user_id = check_agent(agents, codes::SDS_USER_SYSTEM)?;
    let role = check_role(sds_user_id.agent)?;
    Ok(PrivacyAlert {
        nhs_number: nhs_number.value.to_owned(),
        alert_type: alert_type.code().to_owned(),
        alert_subtype: reason.code().to_owned(),
        notification,
        recorded: recorded.to_owned(),
        what: what.to_owned(),
        ods_code: ods_code.value.to_owned(),
        sds_user_id: sds_user_id.value.to_owned(),
        role,
        outcome_desc: str_at(event, "/outcomeDesc").map(str::to_owned),
        observer_asid: str_at(event, "/source/observer/identifier/value").map(str::to_owned),
    })
}

fn bad(text: impl Into<String>) -> ScrError {
    ScrError::bad_request(text)
}

/// Spring's `hasText`: not empty and not only whitespace.
fn has_text(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.trim().is_empty())
}

/// Step 1: `id` present.
fn check_id(event: &Value) -> Result<(), ScrError> {
    if has_text(str_at(event, "/id")) {
        Ok(())
    } else {
        Err(bad(texts::ALERT_ID_MISSING))
    }
}

/// Step 2: exactly one notification extension, with a value; returns its `valueString` (or the JSON text of
/// another `value[x]`, which the backend also accepts).
fn check_extension(event: &Value) -> Result<String, ScrError> {
    let mut matching = array_at(event, "/extension")
        .iter()
        .filter(|e| str_at(e, "/url") == Some(codes::NOTIFICATION_MESSAGE_EXTENSION));
    let extension = match (matching.next(), matching.next()) {
        (Some(one), None) => one,
        _ => return Err(bad(texts::ALERT_EXTENSION_NOT_UNIQUE)),
    };
    let value = extension
        .as_object()
        .and_then(|members| members.iter().find(|(name, v)| name.starts_with("value") && !v.is_null()))
        .map(|(_, v)| v);
    match value {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(bad(texts::ALERT_EXTENSION_VALUE_MISSING)),
    }
}

/// Step 3: `type.system` SCR-AlertType, `type.code` 1 or 2, `type.display` not blank.
fn check_type(event: &Value) -> Result<AlertType, ScrError> {
    if str_at(event, "/type/system") != Some(codes::ALERT_TYPE_SYSTEM) {
        return Err(bad(texts::ALERT_TYPE_SYSTEM_MISSING));
    }
    let alert_type = str_at(event, "/type/code")
        .and_then(AlertType::from_code)
        .ok_or_else(|| bad(texts::ALERT_TYPE_CODE_INVALID))?;
    if !has_text(str_at(event, "/type/display")) {
        return Err(bad(texts::ALERT_TYPE_DISPLAY_MISSING));
    }
    Ok(alert_type)
}

/// Step 4: exactly one `subtype`, system SCR-AlertReason, code 1–6, display not blank.
fn check_subtype(event: &Value) -> Result<AlertReason, ScrError> {
    let subtype = match array_at(event, "/subtype") {
        [one] => one,
        _ => return Err(bad(texts::ALERT_SUBTYPE_NOT_UNIQUE)),
    };
    if str_at(subtype, "/system") != Some(codes::ALERT_REASON_SYSTEM) {
        return Err(bad(texts::ALERT_SUBTYPE_SYSTEM_INVALID));
    }
    let reason = str_at(subtype, "/code")
        .and_then(AlertReason::from_code)
        .ok_or_else(|| bad(texts::ALERT_SUBTYPE_CODE_INVALID))?;
    if !has_text(str_at(subtype, "/display")) {
        return Err(bad(texts::ALERT_SUBTYPE_DISPLAY_MISSING));
    }
    Ok(reason)
}

/// Step 5: the pair is permitted (MSCA-SCR-103/104/105 matrix).
fn check_combination(alert_type: AlertType, reason: AlertReason) -> Result<(), ScrError> {
    if is_permitted(alert_type, reason) {
        Ok(())
    } else {
        Err(bad(texts::invalid_alert_combination(alert_type.code(), reason.code())))
    }
}

/// Step 6: `recorded` present.
fn check_recorded(event: &Value) -> Result<&str, ScrError> {
    text_at(event, "/recorded").ok_or_else(|| bad(texts::ALERT_RECORDED_MISSING))
}

/// Step 7: exactly one `entity`, with `what.identifier.value`.
fn check_entity(event: &Value) -> Result<&str, ScrError> {
    let entity = match array_at(event, "/entity") {
        [one] => one,
        _ => return Err(bad(texts::ALERT_ENTITY_NOT_UNIQUE)),
    };
    text_at(entity, "/what/identifier/value").ok_or_else(|| bad(texts::ALERT_ENTITY_WHAT_MISSING))
}

/// The one agent found for an identifier system.
struct Agent<'a> {
    agent: &'a Value,
    value: &'a str,
}

/// Step 8, for one system: the agents whose `who.identifier.system` is `system` with a non-empty value are
/// taken in order, exactly as the backend's stream does: each one's `requestor` must be present and `false`
/// (checked as it is reached), a second one is "expecting exactly one", none is "missing".
fn check_agent<'a>(agents: &'a [Value], system: &str) -> Result<Agent<'a>, ScrError> {
    let mut found: Option<Agent<'a>> = None;
    for agent in agents {
        if str_at(agent, "/who/identifier/system") != Some(system) {
            continue;
        }
        let Some(value) = text_at(agent, "/who/identifier/value") else {
            continue;
        };
        if agent.get("requestor").and_then(Value::as_bool) != Some(false) {
            return Err(bad(texts::alert_agent_requestor_invalid(system)));
        }
        if found.is_some() {
            return Err(bad(texts::alert_agent_not_unique(system)));
        }
        found = Some(Agent { agent, value });
    }
    found.ok_or_else(|| bad(texts::alert_agent_missing(system)))
}

/// Step 8, SDS user agent: at least one `role`, and no role without both `text` and a first coding (the
/// backend rejects the request as soon as one role is empty). Returns the first role's text, else the first
/// coding code found.
fn check_role(agent: &Value) -> Result<String, ScrError> {
    let roles = array_at(agent, "/role");
    if roles.is_empty() {
        return Err(bad(texts::ALERT_ROLE_MISSING));
    }
    let is_empty_role = |role: &Value| {
        !has_text(str_at(role, "/text"))
            && role.pointer("/coding/0").is_none_or(|c| c.as_object().is_none_or(|m| m.values().all(Value::is_null)))
    };
    if roles.iter().any(is_empty_role) {
        return Err(bad(texts::ALERT_ROLE_EMPTY));
    }
    let text = roles.iter().find_map(|r| str_at(r, "/text").filter(|t| has_text(Some(t))));
    let code = roles.iter().find_map(|r| text_at(r, "/coding/0/code"));
    Ok(text.or(code).unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scr::patch::apply_change;
    use crate::scr::validate::parse::parse_resource;

    fn example() -> Value {
        serde_json::from_str(include_str!("../../../fixtures/nhs/examples/AuditEvent.json"))
            .expect("AuditEvent.json is valid JSON")
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

    fn error_text(doc: &Value) -> String {
        match validate_alert(doc) {
            Ok(ok) => panic!("expected an error, got {ok:?}"),
            Err(e) => {
                assert_eq!((e.status, e.code.as_str()), (400, "value"));
                e.text
            }
        }
    }

    #[test]
    fn the_nhs_example_is_valid_and_recorded_in_full() {
        assert_eq!(
            validate_alert(&example()),
            Ok(PrivacyAlert {
                nhs_number: "9000000009".into(),
                alert_type: "1".into(),
                alert_subtype: "1".into(),
                notification: "Alert: Permission to view override 1C03CF4F-D404-4D76-B192-4F81727059F6".into(),
                recorded: "2020-11-13T00:00:00+00:00".into(),
                what: "1C03CF4F-D404-4D76-B192-4F81727059F6".into(),
                ods_code: "T10101".into(),
                sds_user_id: "T10101".into(),
                role: "General Practitioner".into(),
                outcome_desc: Some("a test alert".into()),
                observer_asid: Some("227319907548".into()),
            })
        );
    }

    #[test]
    fn nhs_uat_oracles() {
        let pairs = [
            (
                include_str!("../../../fixtures/nhs/uat/send_alert/bad_request/1-missingNhsNumber.request.json"),
                include_str!("../../../fixtures/nhs/uat/send_alert/bad_request/1-missingNhsNumber.response.json"),
            ),
            (
                include_str!("../../../fixtures/nhs/uat/send_alert/bad_request/3-multipleOrgEntry.request.json"),
                include_str!("../../../fixtures/nhs/uat/send_alert/bad_request/3-multipleOrgEntry.response.json"),
            ),
        ];
        for (request, response) in pairs {
            let body = parse_resource(request.as_bytes(), "AuditEvent").expect("UAT request parses");
            let err = validate_alert(&body).expect_err("the UAT bad request is rejected");
            assert_eq!(err.to_operation_outcome(), json(response));
        }
        for ok in [
            include_str!("../../../fixtures/nhs/uat/send_alert/success/1-basic.request.json"),
            include_str!("../../../fixtures/nhs/uat/send_alert/spine_error/1-invalidValue.request.json"),
            include_str!("../../../fixtures/nhs/sandbox/audit_event.json"),
        ] {
            assert!(validate_alert(&json(ok)).is_ok());
        }
    }

    /// The backend's own unit-test resources (`AlertRequestValidatorTests`), copied to `fixtures/nhs/unit/alert/`.
    #[test]
    fn nhs_unit_test_oracles() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/nhs/unit/alert");
        assert!(dir.is_dir(), "{} is missing", dir.display());
        let expect: &[(&str, Option<&str>)] = &[
            ("success", None),
            ("free_text", None),
            ("type_range", Some("Invalid or missing value in field 'type.code'. Supported values are: 1, 2")),
            (
                "subtype_range",
                Some("Invalid or missing value in field 'subtype.code'. Supported values are: 1, 2, 3, 4, 5, 6"),
            ),
            ("type_subtype_combination_24", Some("Invalid combination of alert type '2' and alert subtype '4'.")),
            ("type_subtype_combination_26", Some("Invalid combination of alert type '2' and alert subtype '6'.")),
            (
                "free_text_empty",
                Some(r#"[element="outcomeDesc"] Invalid attribute value "": Attribute value must not be empty ("")"#),
            ),
        ];
        for (name, text) in expect {
            let body = std::fs::read(dir.join(format!("{name}.json"))).expect("oracle file readable");
            let result = parse_resource(&body, "AuditEvent").and_then(|v| validate_alert(&v));
            assert_eq!(result.err().map(|e| e.text).as_deref(), *text, "{name}");
        }
    }

    #[test]
    fn every_rule_with_its_exact_text() {
        const EXT: &str = "https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage";
        let ext_twice = format!("add /extension/- = {{\"url\":\"{EXT}\",\"valueString\":\"x\"}}");
        let rows: Vec<(&str, String)> = vec![
            // 1 id
            ("remove /id", "'id' element is missing'".into()),
            ("set /id = \" \"", "'id' element is missing'".into()),
            // 2 extension
            ("remove /extension", format!("Expecting exactly one 'extension' element with URL: '{EXT}'")),
            ("set /extension/0/url = \"https://example.org\"", format!("Expecting exactly one 'extension' element with URL: '{EXT}'")),
            (ext_twice.as_str(), format!("Expecting exactly one 'extension' element with URL: '{EXT}'")),
            ("remove /extension/0/valueString", format!("'valueString' for 'extension' '{EXT}' is missing")),
            // 3 type
            ("remove /type", "'Type' element for 'https://fhir.nhs.uk/CodeSystem/SCR-AlertType' system missing".into()),
            ("remove /type/system", "'Type' element for 'https://fhir.nhs.uk/CodeSystem/SCR-AlertType' system missing".into()),
            ("set /type/system = \"http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle\"", "'Type' element for 'https://fhir.nhs.uk/CodeSystem/SCR-AlertType' system missing".into()),
            ("set /type/code = \"3\"", "Invalid or missing value in field 'type.code'. Supported values are: 1, 2".into()),
            ("set /type/code = 1", "Invalid or missing value in field 'type.code'. Supported values are: 1, 2".into()),
            ("remove /type/code", "Invalid or missing value in field 'type.code'. Supported values are: 1, 2".into()),
            ("remove /type/display", "Missing value 'type.display'".into()),
            ("set /type/display = \"  \"", "Missing value 'type.display'".into()),
            // 4 subtype
            ("remove /subtype", "Expecting exactly one 'subtype' element".into()),
            ("set /subtype = []", "Expecting exactly one 'subtype' element".into()),
            ("add /subtype/- = {\"system\":\"https://fhir.nhs.uk/CodeSystem/SCR-AlertReason\",\"code\":\"2\",\"display\":\"x\"}", "Expecting exactly one 'subtype' element".into()),
            ("set /subtype = {\"system\":\"https://fhir.nhs.uk/CodeSystem/SCR-AlertReason\",\"code\":\"2\",\"display\":\"x\"}", "Expecting exactly one 'subtype' element".into()),
            ("remove /subtype/0/system", "Invalid or missing value in field 'subtype.system'. Supported value is: https://fhir.nhs.uk/CodeSystem/SCR-AlertReason".into()),
            ("set /subtype/0/code = \"7\"", "Invalid or missing value in field 'subtype.code'. Supported values are: 1, 2, 3, 4, 5, 6".into()),
            ("remove /subtype/0/code", "Invalid or missing value in field 'subtype.code'. Supported values are: 1, 2, 3, 4, 5, 6".into()),
            ("remove /subtype/0/display", "Missing value 'subtype.display'".into()),
            // 5 combination
            ("set /type/code = \"2\" ; set /subtype/0/code = \"4\"", "Invalid combination of alert type '2' and alert subtype '4'.".into()),
            ("set /type/code = \"2\" ; set /subtype/0/code = \"6\"", "Invalid combination of alert type '2' and alert subtype '6'.".into()),
            ("set /subtype/0/code = \"5\"", "Invalid combination of alert type '1' and alert subtype '5'.".into()),
            // 6 recorded
            ("remove /recorded", "'recorded' element missing".into()),
            // 7 entity
            ("remove /entity", "Expecting exactly one 'entity' element".into()),
            ("add /entity/- = {\"what\":{\"identifier\":{\"value\":\"X\"}}}", "Expecting exactly one 'entity' element".into()),
            ("remove /entity/0/what/identifier/value", "Invalid or missing value in field 'entity.what.identifier.value'".into()),
            ("remove /entity/0/what", "Invalid or missing value in field 'entity.what.identifier.value'".into()),
            // 8 agents
            ("remove /agent[nhs-number]", "Missing 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/nhs-number' and non-empty 'value'".into()),
            ("remove /agent", "Missing 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/nhs-number' and non-empty 'value'".into()),
            ("remove /agent[nhs-number]/who/identifier/value", "Missing 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/nhs-number' and non-empty 'value'".into()),
            ("add /agent/- = {\"who\":{\"identifier\":{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"9000000017\"}},\"requestor\":false}", "Expecting exactly one 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/nhs-number' and non-empty 'value'".into()),
            ("remove /agent[nhs-number]/requestor", "Missing or unsupported 'requestor' value for 'agent' with 'who.identifier.system' 'https://fhir.nhs.uk/Id/nhs-number'".into()),
            ("set /agent[nhs-number]/requestor = true", "Missing or unsupported 'requestor' value for 'agent' with 'who.identifier.system' 'https://fhir.nhs.uk/Id/nhs-number'".into()),
            ("set /agent[nhs-number]/requestor = \"false\"", "Missing or unsupported 'requestor' value for 'agent' with 'who.identifier.system' 'https://fhir.nhs.uk/Id/nhs-number'".into()),
            ("remove /agent[ods-organization-code]", "Missing 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/ods-organization-code' and non-empty 'value'".into()),
            ("set /agent[ods-organization-code]/requestor = true", "Missing or unsupported 'requestor' value for 'agent' with 'who.identifier.system' 'https://fhir.nhs.uk/Id/ods-organization-code'".into()),
            ("remove /agent[sds-user-id]", "Missing 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/sds-user-id' and non-empty 'value'".into()),
            ("add /agent/- = {\"who\":{\"identifier\":{\"system\":\"https://fhir.nhs.uk/Id/sds-user-id\",\"value\":\"U2\"}},\"role\":[{\"text\":\"x\"}],\"requestor\":false}", "Expecting exactly one 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/sds-user-id' and non-empty 'value'".into()),
            ("remove /agent[sds-user-id]/requestor", "Missing or unsupported 'requestor' value for 'agent' with 'who.identifier.system' 'https://fhir.nhs.uk/Id/sds-user-id'".into()),
            ("remove /agent[sds-user-id]/role", "Expecting at least one 'role' for 'agent' entry with system https://fhir.nhs.uk/Id/sds-user-id".into()),
            ("set /agent[sds-user-id]/role = []", "Expecting at least one 'role' for 'agent' entry with system https://fhir.nhs.uk/Id/sds-user-id".into()),
            ("set /agent[sds-user-id]/role = [{}]", "Expecting at least one non empty 'role' for 'agent' entry with system https://fhir.nhs.uk/Id/sds-user-id".into()),
            ("set /agent[sds-user-id]/role = [{\"coding\":[]}]", "Expecting at least one non empty 'role' for 'agent' entry with system https://fhir.nhs.uk/Id/sds-user-id".into()),
            ("add /agent[sds-user-id]/role/- = {\"text\":\" \"}", "Expecting at least one non empty 'role' for 'agent' entry with system https://fhir.nhs.uk/Id/sds-user-id".into()),
        ];
        for (change, text) in &rows {
            assert_eq!(error_text(&changed(change)), *text, "change: {change}");
        }
    }

    #[test]
    fn agents_are_checked_as_the_backend_streams_them() {
        let second = |requestor: &str| {
            format!("add /agent/- = {{\"who\":{{\"identifier\":{{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"9000000017\"}}}},\"requestor\":{requestor}}}")
        };
        // a second agent whose requestor is wrong fails on the requestor, before the count
        assert!(error_text(&changed(&second("true"))).starts_with("Missing or unsupported 'requestor'"));
        // agents without a value are not counted
        let ignored = "add /agent/- = {\"who\":{\"identifier\":{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\"}},\"requestor\":true}";
        assert!(validate_alert(&changed(ignored)).is_ok());
        // the order of systems: nhs-number, then ods, then sds
        let all_bad =
            "remove /agent[sds-user-id] ; remove /agent[ods-organization-code] ; remove /agent[nhs-number]/requestor";
        assert!(error_text(&changed(all_bad)).ends_with("'https://fhir.nhs.uk/Id/nhs-number'"));
    }

    #[test]
    fn rules_run_in_reference_order() {
        let rows: &[(&str, &str)] = &[
            ("remove /agent ; remove /entity ; remove /recorded ; remove /subtype ; remove /type ; remove /extension ; remove /id", "'id' element is missing'"),
            ("remove /agent ; remove /entity ; remove /recorded ; remove /subtype ; remove /type ; remove /extension", "Expecting exactly one 'extension'"),
            ("remove /agent ; remove /entity ; remove /recorded ; remove /subtype ; remove /type", "'Type' element"),
            ("remove /agent ; remove /entity ; remove /recorded ; remove /subtype", "Expecting exactly one 'subtype'"),
            ("remove /agent ; remove /entity ; remove /recorded ; set /subtype/0/code = \"5\"", "Invalid combination"),
            ("remove /agent ; remove /entity ; remove /recorded", "'recorded' element missing"),
            ("remove /agent ; remove /entity", "Expecting exactly one 'entity'"),
        ];
        for (change, prefix) in rows {
            let text = error_text(&changed(change));
            assert!(text.starts_with(prefix), "{change}: {text}");
        }
    }

    #[test]
    fn permitted_pairs_and_optional_members() {
        for (t, s) in
            [("1", "1"), ("1", "2"), ("1", "3"), ("1", "4"), ("1", "6"), ("2", "1"), ("2", "2"), ("2", "3"), ("2", "5")]
        {
            let ok = validate_alert(&changed(&format!("set /type/code = \"{t}\" ; set /subtype/0/code = \"{s}\"")));
            assert_eq!(ok.map(|a| (a.alert_type, a.alert_subtype)), Ok((t.to_owned(), s.to_owned())));
        }
        let bare = validate_alert(&changed("remove /outcomeDesc ; remove /source"));
        assert_eq!(bare.map(|a| (a.outcome_desc, a.observer_asid)), Ok((None, None)));
        let coded = validate_alert(&changed("set /agent[sds-user-id]/role = [{\"coding\":[{\"code\":\"R8000\"}]}]"));
        assert_eq!(coded.map(|a| a.role), Ok("R8000".to_owned()));
    }
}
