//! Then: assertions on the latest response; the logic is in [`crate::runner::checks`].

use cucumber::then;
use serde_json::Value;

use crate::runner::checks::{self, CodeMatch};
use crate::runner::world::{ScrWorld, StepFailure, StepResult};
use crate::runner::TargetKind;

fn code_match(world: &ScrWorld) -> CodeMatch {
    if world.ctx().target == TargetKind::Mock {
        CodeMatch::Exact
    } else {
        CodeMatch::ValueOrInvalid
    }
}

fn check(result: checks::Check) -> StepResult {
    result.map_err(StepFailure)
}

#[then(regex = r"^the response status is (\d{3})$")]
async fn status(world: &mut ScrWorld, expected: u16) -> StepResult {
    check(checks::status(&world.last()?.response, expected))
}

#[then(regex = r#"^the response is an OperationOutcome "([^"]+)" with the text "(.*)"$"#)]
async fn outcome(world: &mut ScrWorld, code: String, text: String) -> StepResult {
    let text = world.substitute(&text)?;
    check(checks::operation_outcome(&world.last()?.response, &code, "error", &text, code_match(world)))
}

#[then(regex = r#"^the response is an OperationOutcome "([^"]+)" with severity "([^"]+)" and the text "(.*)"$"#)]
async fn outcome_with_severity(world: &mut ScrWorld, code: String, severity: String, text: String) -> StepResult {
    let text = world.substitute(&text)?;
    check(checks::operation_outcome(&world.last()?.response, &code, &severity, &text, code_match(world)))
}

/// The text as a doc string, for texts of several lines (Spine's NACKs); placeholders substituted.
#[then(regex = r#"^the response is an OperationOutcome "([^"]+)" with the text:$"#)]
async fn outcome_with_doc_string(world: &mut ScrWorld, code: String, step: &cucumber::gherkin::Step) -> StepResult {
    let text = step.docstring.as_deref().ok_or("this step needs the text as a doc string")?;
    // The parser keeps the line breaks around the doc string's content; the text is what lies between them.
    let text = text.strip_prefix('\n').unwrap_or(text);
    let text = world.substitute(text.strip_suffix('\n').unwrap_or(text))?;
    check(checks::operation_outcome(&world.last()?.response, &code, "error", &text, code_match(world)))
}

/// For texts whose order the service does not fix (several bean-validation violations are joined in Java
/// `HashSet` order): either literal passes.
#[then(regex = r#"^the response is an OperationOutcome "([^"]+)" with either text "(.*)" or "(.*)"$"#)]
async fn outcome_either(world: &mut ScrWorld, code: String, first: String, second: String) -> StepResult {
    let mode = code_match(world);
    let first = world.substitute(&first)?;
    let second = world.substitute(&second)?;
    let response = &world.last()?.response;
    match checks::operation_outcome(response, &code, "error", &first, mode) {
        Ok(()) => Ok(()),
        Err(e1) => checks::operation_outcome(response, &code, "error", &second, mode)
            .map_err(|e2| StepFailure(format!("neither text matched:\n{e1}\n{e2}"))),
    }
}

#[then(regex = r#"^the id at "([^"]*)" in the response is an upper-case UUID$"#)]
async fn id_upper_case_uuid(world: &mut ScrWorld, pointer: String) -> StepResult {
    let body: Value = serde_json::from_str(&world.last()?.response.body)
        .map_err(|e| StepFailure(format!("the response is not JSON: {e}")))?;
    match body.pointer(&pointer).and_then(Value::as_str) {
        Some(id) if uuid::Uuid::parse_str(id).is_ok() && id.len() == 36 && id == id.to_uppercase() => Ok(()),
        Some(id) => Err(StepFailure(format!("expected an upper-case UUID at {pointer}, got {id:?}"))),
        None => Err(StepFailure(format!("no string at {pointer}"))),
    }
}

#[then("the response is the no-consent OperationOutcome")]
async fn no_consent(world: &mut ScrWorld) -> StepResult {
    check(checks::no_consent(&world.last()?.response, code_match(world)))
}

#[then("the response body is empty")]
async fn empty_body(world: &mut ScrWorld) -> StepResult {
    check(checks::empty_body(&world.last()?.response))
}

#[then(regex = r#"^the response Content-Type is "([^"]+)"$"#)]
async fn content_type(world: &mut ScrWorld, expected: String) -> StepResult {
    check(checks::content_type(&world.last()?.response, &expected))
}

#[then(regex = r#"^the response header "([^"]+)" is absent$"#)]
async fn header_absent(world: &mut ScrWorld, name: String) -> StepResult {
    check(checks::header_absent(&world.last()?.response, &name))
}

#[then(regex = r#"^the response header "([^"]+)" is a generated upper-case UUID$"#)]
async fn header_generated(world: &mut ScrWorld, name: String) -> StepResult {
    check(checks::header_is_upper_uuid(&world.last()?.response, &name))
}

#[then(regex = r#"^the response header "([^"]+)" echoes the request$"#)]
async fn header_echoed(world: &mut ScrWorld, name: String) -> StepResult {
    let last = world.last()?;
    let sent = last.sent_header(&name).ok_or_else(|| StepFailure(format!("the request sent no {name} header")))?;
    check(checks::header_is(&last.response, &name, sent))
}

#[then(regex = r#"^the response header "([^"]+)" is "(.*)"$"#)]
async fn header_is(world: &mut ScrWorld, name: String, expected: String) -> StepResult {
    let expected = world.substitute(&expected)?;
    check(checks::header_is(&world.last()?.response, &name, &expected))
}

#[then("the response is an empty searchset Bundle")]
async fn empty_searchset(world: &mut ScrWorld) -> StepResult {
    check(checks::empty_searchset(&world.last()?.response))
}

#[then(regex = r#"^the response holds the SCR id of patient "([^"]+)"$"#)]
async fn holds_scr_id(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let scr = world.scr(&alias)?;
    check(checks::holds_scr_id(&world.last()?.response, &nhs, &scr))
}

#[then(regex = r#"^the response shows permission to view "([^"]+)"$"#)]
async fn shows_permission(world: &mut ScrWorld, code: String) -> StepResult {
    check(checks::permission_to_view(&world.last()?.response, &code))
}

#[then(regex = r#"^the response is the SCR document of patient "([^"]+)"$"#)]
async fn scr_document(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let scr = world.scr(&alias)?;
    let last = world.last()?;
    let base_url = last.request.url.split("/Bundle?").next().unwrap_or("").to_owned();
    check(checks::scr_document(&last.response, &base_url, &nhs, &scr))
}

#[then(regex = r#"^the document holds what was uploaded for patient "([^"]+)"$"#)]
async fn holds_uploaded(world: &mut ScrWorld, alias: String) -> StepResult {
    let uploaded = world
        .patient(&alias)?
        .uploaded
        .clone()
        .ok_or_else(|| StepFailure(format!("no upload for patient {alias} was accepted in this scenario")))?;
    check(checks::holds_uploaded_content(&world.last()?.response, &uploaded))
}

#[then(regex = r#"^the response JSON at "([^"]*)" is "(.*)"$"#)]
async fn json_at_text(world: &mut ScrWorld, pointer: String, text: String) -> StepResult {
    let text = world.substitute(&text)?;
    check(checks::json_at(&world.last()?.response, &pointer, &Value::String(text)))
}

#[then(regex = r#"^the response JSON at "([^"]*)" is ([^"].*)$"#)]
async fn json_at_value(world: &mut ScrWorld, pointer: String, literal: String) -> StepResult {
    let expected: Value =
        serde_json::from_str(&literal).map_err(|e| StepFailure(format!("'{literal}' is not a JSON literal: {e}")))?;
    check(checks::json_at(&world.last()?.response, &pointer, &expected))
}

#[then(regex = r#"^the response matches the snapshot "([^"]+)"$"#)]
async fn matches_snapshot(world: &mut ScrWorld, name: String) -> StepResult {
    let last = world.last()?;
    let document = crate::snapshot::response_document(
        last.response.status,
        last.response.header("content-type"),
        &last.response.body,
    );
    let redacted = crate::snapshot::redact(&document, &world.snapshot_replacements());
    world.ctx().snapshots.assert(&name, &world.location, &redacted).map(|_| ()).map_err(StepFailure)
}

#[then(regex = r"^the response is a valid FHIR ([A-Z][A-Za-z]+)$")]
async fn valid_fhir(world: &mut ScrWorld, resource_type: String) -> StepResult {
    let body: Value = checks::json_body(&world.last()?.response).map_err(StepFailure)?;
    let validator = crate::fhir::schema::FhirValidator::shared().map_err(|e| StepFailure(e.to_string()))?;
    let findings = validator.validate_as(&body, &resource_type);
    if findings.is_empty() {
        Ok(())
    } else {
        let list: Vec<String> = findings.iter().map(|f| format!("  {f}")).collect();
        Err(StepFailure(format!("the response is not a valid FHIR {resource_type}:\n{}", list.join("\n"))))
    }
}

#[then(regex = r"^the response conforms to the SCR (get SCR id|read SCR|error) response$")]
async fn conforms_to_scr(world: &mut ScrWorld, operation: String) -> StepResult {
    use crate::fhir::ScrPayload;
    let kind = match operation.as_str() {
        "get SCR id" => ScrPayload::DocumentReferenceResponse,
        "read SCR" => ScrPayload::DocumentResponse,
        _ => ScrPayload::OperationOutcome,
    };
    let body: Value = checks::json_body(&world.last()?.response).map_err(StepFailure)?;
    let validator = crate::fhir::schema::FhirValidator::shared().map_err(|e| StepFailure(e.to_string()))?;
    let failing: Vec<String> = crate::fhir::conformance::check(validator, Some(kind), &body)
        .into_iter()
        .filter(|f| crate::fhir::conformance::known_deviation(f, &body).is_none())
        .map(|f| format!("  {f}"))
        .collect();
    if failing.is_empty() {
        Ok(())
    } else {
        Err(StepFailure(format!(
            "the response does not conform to the SCR {operation} response:\n{}",
            failing.join("\n")
        )))
    }
}
