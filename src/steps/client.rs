//! Client conformance (`@client`, `docs/CLIENT.md`): drive the system under test (SUT) through its adapter,
//! arrange what the NHS side does to it on the client lane's mock, and grade what it sent
//! ([`crate::grader`]) and what it reported. Expectations come from the scenario's words and the harness's
//! own record of what it arranged — never from the mock's code.

use cucumber::{given, then, when};
use reqwest::Method;
use serde_json::{json, Value};

use crate::grader;
use crate::runner::world::{ScrWorld, StepFailure, StepResult};
use crate::scr::payloads;
use crate::sut::Action;

fn graded(verdict: grader::Verdict) -> StepResult {
    verdict.map_err(StepFailure)
}

/// `"1", "2" or "3"` / `"5"` → the quoted values.
fn quoted_list(text: &str) -> Vec<String> {
    text.split('"').skip(1).step_by(2).map(str::to_owned).collect()
}

async fn admin_ok(world: &mut ScrWorld, method: Method, path: &str, body: Option<&Value>, what: &str) -> StepResult {
    let (status, answer) = world.admin_send(method, path, body).await?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(StepFailure(format!("could not {what}: the client lane's mock answered {status} {answer}")))
    }
}

// ---- the SUT's actions ----------------------------------------------------------------------------------

#[when(regex = r#"^the SUT opens the SCR of patient "([^"]+)"$"#)]
async fn opens(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let instruction = format!("Open the Summary Care Record of patient {nhs}.");
    world.sut_action(Action::Retrieve, vec![("nhs_number", nhs)], instruction).await.map(|_| ())
}

#[when(regex = r#"^the SUT opens the SCR of patient "([^"]+)" and the patient answers "(yes|no)"$"#)]
async fn opens_with_answer(world: &mut ScrWorld, alias: String, answer: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let instruction = format!(
        "Open the Summary Care Record of patient {nhs}; when asked for permission to view, record that the \
         patient said {answer}."
    );
    let params = vec![("nhs_number", nhs), ("answer", answer)];
    world.sut_action(Action::RetrieveWithAnswer, params, instruction).await.map(|_| ())
}

#[when(
    regex = r#"^the clinician overrides to open the SCR of patient "([^"]+)" for "(emergency|legal|self-claimed)" reasons$"#
)]
async fn overrides(world: &mut ScrWorld, alias: String, reason: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let instruction = format!(
        "Open the Summary Care Record of patient {nhs} without the patient's permission, overriding for {reason} \
         reasons."
    );
    let params = vec![("nhs_number", nhs), ("reason", reason)];
    world.sut_action(Action::EmergencyAccess, params, instruction).await.map(|_| ())
}

#[when(regex = r#"^the SUT uploads a GP Summary for patient "([^"]+)"$"#)]
async fn uploads(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let composition = uuid::Uuid::new_v4().to_string().to_uppercase();
    let bundle = payloads::upload_bundle(&nhs, &composition, None);
    let file = world.sut_file(&format!("gp-summary-{nhs}.json"), bundle.to_string().as_bytes())?;
    let instruction = format!("Send the GP Summary of patient {nhs} to the Summary Care Record.");
    let params = vec![("nhs_number", nhs), ("bundle_file", file.display().to_string())];
    world.sut_action(Action::Upload, params, instruction).await.map(|_| ())
}

#[when("the SUT rotates to its next key")]
async fn rotates(world: &mut ScrWorld) -> StepResult {
    let kid = world
        .client_lane()?
        .sut
        .app
        .rotation
        .as_ref()
        .map(|r| r.kid.clone())
        .ok_or("the SUT file declares no [app.rotation] key, so key rotation cannot be graded")?;
    let instruction = format!("Switch the system to its next signing key (kid {kid}).");
    world.sut_action(Action::RotateKey, vec![("kid", kid)], instruction).await.map(|_| ())
}

// ---- what the NHS side does to the SUT ------------------------------------------------------------------

#[given(regex = r#"^the SUT's access tokens have (expired|been revoked with its refresh tokens)$"#)]
async fn tokens_expired(world: &mut ScrWorld, how: String) -> StepResult {
    let app = world.client_lane()?.app_name.clone();
    // Only this scenario's tokens (its CIS2 session), so concurrent scenarios of the same SUT are untouched.
    let session = world.sut.session.clone().ok_or("the SUT has not signed in yet in this scenario")?;
    let body = json!({ "session": session, "refreshTokens": how != "expired" });
    admin_ok(world, Method::POST, &format!("/apps/{app}/expire-tokens"), Some(&body), "expire the SUT's tokens").await
}

#[given(regex = r#"^the identity service's clock is (\d+) seconds (ahead|behind)$"#)]
async fn identity_clock(world: &mut ScrWorld, seconds: i64, direction: String) -> StepResult {
    let offset = if direction == "ahead" { seconds } else { -seconds };
    world.cleanups.push("/identity/clock".into());
    let body = json!({ "offsetSeconds": offset });
    admin_ok(world, Method::PUT, "/identity/clock", Some(&body), "set the identity service's clock").await
}

#[given(regex = r#"^the SUT's registered keys are (its current and its next key|only its next key)$"#)]
async fn registered_keys(world: &mut ScrWorld, which: String) -> StepResult {
    let lane = world.client_lane()?;
    let app = lane.app_name.clone();
    // The registration's own keys come back when the scenario ends (`DELETE` restores them).
    let cleanup = format!("/apps/{app}/jwks");
    let jwks =
        if which.starts_with("its current") { lane.sut.app.rotation_jwks() } else { lane.sut.app.rotated_jwks() }
            .map_err(|e| StepFailure(e.to_string()))?
            .ok_or("the SUT file declares no [app.rotation] key, so key rotation cannot be graded")?;
    if !world.cleanups.contains(&cleanup) {
        world.cleanups.push(cleanup);
    }
    admin_ok(world, Method::PUT, &format!("/apps/{app}/jwks"), Some(&jwks), "change the SUT's registered keys").await
}

// ---- what the SUT reported ------------------------------------------------------------------------------

#[then(regex = r#"^the SUT reported "([^"]+)"$"#)]
async fn reported(world: &mut ScrWorld, expected: String) -> StepResult {
    let outcome = world.sut_outcome()?;
    if outcome.outcome == expected {
        Ok(())
    } else {
        Err(StepFailure(format!(
            "the SUT reported {:?}{}, expected {expected:?}",
            outcome.outcome,
            outcome.message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default()
        )))
    }
}

#[then(regex = r#"^the SUT showed the latest SCR of patient "([^"]+)"$"#)]
async fn showed_latest(world: &mut ScrWorld, alias: String) -> StepResult {
    let latest = world.scr(&alias)?;
    let nhs = world.nhs(&alias)?;
    let outcome = world.sut_outcome()?;
    if outcome.outcome != "displayed" {
        return Err(StepFailure(format!("the SUT reported {:?}, not the SCR of {nhs}", outcome.outcome)));
    }
    if outcome.scr_id.as_deref().map(str::to_uppercase) != Some(latest.to_uppercase()) {
        return Err(StepFailure(format!(
            "the SUT showed SCR {:?}, but the latest SCR of {nhs} is {latest}",
            outcome.scr_id
        )));
    }
    graded(grader::read_latest_after_id(&world.sut.traffic, &nhs))
}

#[then(regex = r#"^the SUT read the SCR id and permission of patient "([^"]+)" before the document$"#)]
async fn read_id_first(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    graded(grader::read_latest_after_id(&world.sut.traffic, &nhs))
}

#[then(regex = r#"^the SUT did not read the SCR of patient "([^"]+)"$"#)]
async fn not_read(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    graded(grader::did_not_read(&world.sut.traffic, &nhs))
}

#[then(regex = r#"^the SUT recorded the answer "(Yes|No)" for patient "([^"]+)" before any read$"#)]
async fn recorded_answer(world: &mut ScrWorld, code: String, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    graded(grader::recorded_permission_before_read(&world.sut.traffic, &nhs, &code))?;
    // The mock's ACS state is a second witness.
    let patient = world.admin_get(&format!("/patients/{nhs}")).await?;
    match patient.get("permission").and_then(Value::as_str) {
        Some(held) if held == code => Ok(()),
        held => Err(StepFailure(format!("after the SUT's $setPermission, {nhs}'s permission to view is {held:?}"))),
    }
}

#[then(regex = r#"^the SUT did not change the permission to view of patient "([^"]+)"$"#)]
async fn no_permission_change(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    graded(grader::recorded_no_permission(&world.sut.traffic, &nhs))
}

#[then(
    regex = r#"^the SUT raised exactly one privacy alert for patient "([^"]+)" of type "([^"]+)" with subtype (.+)$"#
)]
async fn raised_one_alert(world: &mut ScrWorld, alias: String, alert_type: String, subtypes: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let subtypes = quoted_list(&subtypes);
    let subtypes: Vec<&str> = subtypes.iter().map(String::as_str).collect();
    let lane = world.client_lane()?;
    let (user, roles) = (lane.user_id.clone(), lane.roles.clone());
    let who = grader::Clinician { user: &user, roles: &roles };
    graded(grader::one_alert(&world.sut.traffic, &nhs, &alert_type, &subtypes, who))?;
    let held = world.admin_get(&format!("/alerts?nhs={nhs}")).await?;
    match held.as_array().map(Vec::len) {
        Some(1) => Ok(()),
        n => Err(StepFailure(format!("the mock holds {n:?} privacy alerts for {nhs}, expected exactly 1"))),
    }
}

#[then(regex = r#"^the SUT raised no privacy alert for patient "([^"]+)"$"#)]
async fn raised_no_alert(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    graded(grader::no_alert(&world.sut.traffic, &nhs))
}

// ---- headers ----------------------------------------------------------------------------------------------

#[then(regex = r#"^every SCR request of the SUT carried NHSD-Session-URID (.+)$"#)]
async fn urid(world: &mut ScrWorld, roles: String) -> StepResult {
    let roles = quoted_list(&roles);
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    graded(grader::urid_one_of(&world.sut.traffic, &roles))
}

#[then("every SCR request of the SUT had an X-Request-ID of its own")]
async fn request_ids(world: &mut ScrWorld) -> StepResult {
    graded(grader::request_ids_unique(&world.sut.traffic))
}

#[then("every X-Correlation-ID the SUT sent was a UUID")]
async fn correlation_ids(world: &mut ScrWorld) -> StepResult {
    graded(grader::correlation_ids_are_uuids(&world.sut.traffic))
}

#[then(regex = r#"^every SCR request of the SUT accepted "([^"]+)" and every POST sent it$"#)]
async fn media_types(world: &mut ScrWorld, media: String) -> StepResult {
    graded(grader::media_types(&world.sut.traffic, &media))
}

#[then("the SUT put no secret in a query string")]
async fn query_secrets(world: &mut ScrWorld) -> StepResult {
    graded(grader::no_secret_in_query(&world.sut.traffic))
}

// ---- identity ----------------------------------------------------------------------------------------------

#[then("every client assertion the SUT sent was one the identity service accepts")]
async fn assertions(world: &mut ScrWorld) -> StepResult {
    let lane = world.client_lane()?;
    let token_url = lane.token_url();
    let mut kids: Vec<String> = lane.sut.app.kid.iter().cloned().collect();
    kids.extend(lane.sut.app.rotation.iter().map(|r| r.kid.clone()));
    graded(grader::assertions_acceptable(&world.sut.traffic, &token_url, &kids))
}

#[then(regex = r#"^the SUT's latest client assertion named the kid of its next key$"#)]
async fn latest_kid(world: &mut ScrWorld) -> StepResult {
    let want = world.client_lane()?.sut.app.rotation.as_ref().map(|r| r.kid.clone());
    let last = grader::token_requests(&world.sut.traffic)
        .into_iter()
        .filter_map(|e| e.token_request.as_ref()?.assertion.as_ref())
        .next_back()
        .and_then(|a| a.header.get("kid").and_then(Value::as_str).map(str::to_owned));
    if last.is_some() && last == want {
        Ok(())
    } else {
        Err(StepFailure(format!("the SUT's latest client assertion named kid {last:?}, not its next key {want:?}")))
    }
}

#[then(
    regex = r#"^at most (\d+) of the SUT's SCR requests? (?:was|were) refused with 401, each followed by a new token$"#
)]
async fn reauthenticated(world: &mut ScrWorld, n: usize) -> StepResult {
    graded(grader::reauthenticated_once(&world.sut.traffic, n))
}

#[then("the SUT renewed its access token with its refresh token")]
async fn renewed_with_refresh(world: &mut ScrWorld) -> StepResult {
    graded(grader::refreshed(&world.sut.traffic))
}

#[then("the SUT presented each refresh token at most once")]
async fn refresh_once(world: &mut ScrWorld) -> StepResult {
    graded(grader::refresh_tokens_used_once(&world.sut.traffic))
}

// ---- faults --------------------------------------------------------------------------------------------------

#[then(regex = r#"^the SUT sent at (most|least) (\d+) "([^"]+)" requests? for patient "([^"]+)"$"#)]
async fn counted(world: &mut ScrWorld, bound: String, n: usize, operation: String, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    if bound == "most" {
        graded(grader::at_most(&world.sut.traffic, &operation, &nhs, n))
    } else {
        graded(grader::at_least(&world.sut.traffic, &operation, &nhs, n))
    }
}

#[then(regex = r#"^the SUT waited as Retry-After asked before retrying "([^"]+)" for patient "([^"]+)"$"#)]
async fn retry_after(world: &mut ScrWorld, operation: String, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    graded(grader::honoured_retry_after(&world.sut.traffic, &operation, &nhs))
}

#[then(
    regex = r#"^the SUT backed off at least (\d+) milliseconds between retries of "([^"]+)" for patient "([^"]+)"$"#
)]
async fn waited_between_retries(world: &mut ScrWorld, ms: i64, operation: String, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    graded(grader::backed_off(&world.sut.traffic, &operation, &nhs, ms))
}

#[then(regex = r#"^the SUT re-sent the upload for patient "([^"]+)" with the same X-Request-ID$"#)]
async fn resent(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    graded(grader::resent_with_same_request_id(&world.sut.traffic, &nhs))
}

// ---- uploads -------------------------------------------------------------------------------------------------

#[then(regex = r#"^the SUT's upload for patient "([^"]+)" is a valid SCR upload naming the patient$"#)]
async fn valid_upload(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let validator = crate::fhir::schema::FhirValidator::shared()
        .map_err(|e| StepFailure(format!("cannot load the FHIR schema: {e}")))?;
    graded(grader::upload_valid(&world.sut.traffic, &nhs, validator))
}

#[then(regex = r#"^the SUT's upload for patient "([^"]+)" replaces the SCR it read just before$"#)]
async fn upload_replaces(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let latest = world.scr(&alias)?;
    graded(grader::upload_replaces_latest(&world.sut.traffic, &nhs, &latest))
}

#[then(regex = r#"^the SUT's upload for patient "([^"]+)" replaces nothing$"#)]
async fn upload_replaces_nothing(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    match grader::replaces(&world.sut.traffic, &nhs).map_err(StepFailure)? {
        None => Ok(()),
        Some(id) => Err(StepFailure(format!("the SUT's upload for {nhs} replaces {id}, but {nhs} had no SCR"))),
    }
}

#[then(regex = r#"^the latest SCR of patient "([^"]+)" is the one the SUT uploaded$"#)]
async fn latest_is_uploaded(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let outcome = world.sut_outcome()?.clone();
    let reported = outcome.scr_id.as_deref().map(str::to_uppercase);
    if outcome.outcome != "uploaded" || reported.is_none() {
        return Err(StepFailure(format!(
            "the SUT reported {:?} with SCR id {:?}, not an upload",
            outcome.outcome, outcome.scr_id
        )));
    }
    let patient = world.admin_get(&format!("/patients/{nhs}")).await?;
    let latest = patient
        .get("scrIds")
        .and_then(Value::as_array)
        .and_then(|ids| ids.last())
        .and_then(Value::as_str)
        .map(str::to_uppercase);
    if latest != reported {
        return Err(StepFailure(format!(
            "the SUT reported uploading {reported:?}, but {nhs}'s latest SCR is {latest:?}"
        )));
    }
    if let Some(id) = reported {
        world.set_scr(&alias, id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoted_lists_are_read_in_order() {
        assert_eq!(super::quoted_list(r#""1", "2" or "3""#), vec!["1", "2", "3"]);
        assert_eq!(super::quoted_list(r#""5""#), vec!["5"]);
        assert!(super::quoted_list("none").is_empty());
    }
}
