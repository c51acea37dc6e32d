//! Fault injection, rate limits and safe re-sends (mock-only arrangement through `/_admin/faults` and
//! `/_admin/rate-limit`; see the README's "Fault injection and rate limits"), requests whose transport failure
//! is kept for a Then step, and the virtual clock moved in milliseconds.

use chrono::{DateTime, Duration, Utc};
use cucumber::{given, then, when};
use reqwest::Method;
use serde_json::{json, Value};

use crate::runner::checks::{self, CodeMatch};
use crate::runner::world::{ScrWorld, StepFailure, StepResult, X_REQUEST_ID};
use crate::runner::TargetKind;
use crate::scr::codes::NHS_NUMBER_SYSTEM;

/// The `POST /_admin/faults` body: the fault for `count` requests of `operation` whose text contains
/// `matching`, with the kind's parameters given as a JSON object.
pub(crate) fn fault_spec(
    operation: &str,
    fault: &str,
    count: u64,
    matching: &str,
    parameters: Option<&str>,
) -> Result<Value, String> {
    let mut spec = json!({ "operation": operation, "fault": fault, "count": count, "match": matching });
    if let Some(text) = parameters {
        let extra: Value =
            serde_json::from_str(text).map_err(|e| format!("fault parameters {text} are not JSON: {e}"))?;
        let Value::Object(members) = extra else {
            return Err(format!("fault parameters {text} are not a JSON object"));
        };
        if let Value::Object(obj) = &mut spec {
            obj.extend(members);
        }
    }
    Ok(spec)
}

/// How far `now` is from the start of the next calendar minute.
pub(crate) fn until_next_minute(now: DateTime<Utc>) -> Duration {
    let next = (now.timestamp().div_euclid(60) + 1) * 60;
    Duration::seconds(next - now.timestamp()) - Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()))
}

fn mock_only(world: &ScrWorld, what: &str) -> StepResult {
    if world.ctx().target == TargetKind::Mock {
        Ok(())
    } else {
        Err(StepFailure(format!("{what} only on the embedded mock: tag the scenario @mock-only")))
    }
}

fn advance(world: &ScrWorld, by: Duration) -> StepResult {
    mock_only(world, "time can be moved")?;
    world.ctx().clock.advance(by);
    Ok(())
}

// ---- arrange -------------------------------------------------------------------------------------------

#[given(
    regex = r#"^the mock answers the next (?:(\d+) )?"([^"]+)" requests? for patient "([^"]+)" with "([^"]+)"(?: and (\{.*\}))?$"#
)]
async fn arm_fault(
    world: &mut ScrWorld,
    count: String,
    operation: String,
    alias: String,
    fault: String,
    parameters: String,
) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let count =
        if count.is_empty() { 1 } else { count.parse().map_err(|_| StepFailure(format!("bad count {count}")))? };
    let parameters = (!parameters.is_empty()).then_some(parameters.as_str());
    let spec = fault_spec(&operation, &fault, count, &nhs, parameters)?;
    world.cleanups.push(format!("/faults?match={nhs}"));
    let (status, answer) = world.admin_send(Method::POST, "/faults", Some(&spec)).await?;
    if status == 201 {
        Ok(())
    } else {
        Err(StepFailure(format!("the mock refused the fault {spec}: {status} {answer}")))
    }
}

/// `POST /_admin/spine`, undone (`DELETE /_admin/spine?nhs=`) when the scenario ends.
async fn arrange_spine(world: &mut ScrWorld, nhs: &str, spec: Value) -> StepResult {
    world.cleanups.push(format!("/spine?nhs={nhs}"));
    let (status, answer) = world.admin_send(Method::POST, "/spine", Some(&spec)).await?;
    if status == 201 {
        Ok(())
    } else {
        Err(StepFailure(format!("the mock refused the Spine answer {spec}: {status} {answer}")))
    }
}

#[given(
    regex = r#"^Spine answers the next "([^"]+)" request for patient "([^"]+)" with the detected issues (\[.*\])$"#
)]
async fn arrange_detected_issues(world: &mut ScrWorld, operation: String, alias: String, issues: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let issues: Value = serde_json::from_str(&issues)
        .map_err(|e| StepFailure(format!("detected issues {issues} are not JSON: {e}")))?;
    let spec = json!({ "operation": operation, "nhsNumber": nhs, "issues": issues });
    arrange_spine(world, &nhs, spec).await
}

#[given(
    regex = r#"^Spine answers the next privacy alert for patient "([^"]+)" with HTTP (\d{3}) and the display "(.*)"$"#
)]
async fn arrange_alert_answer(world: &mut ScrWorld, alias: String, status: u16, display: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let spec = json!({ "operation": "send-alert", "nhsNumber": nhs, "status": status, "display": display });
    arrange_spine(world, &nhs, spec).await
}

#[given(regex = r"^the mock limits each app to (\d+) requests? per second(?: and (\d+) per minute)?$")]
async fn limit_rate(world: &mut ScrWorld, per_second: u32, per_minute: String) -> StepResult {
    let mut limit = json!({ "perSecond": per_second });
    if !per_minute.is_empty() {
        let per_minute: u32 = per_minute.parse().map_err(|_| StepFailure(format!("bad per-minute {per_minute}")))?;
        limit["perMinute"] = json!(per_minute);
    }
    world.cleanups.push("/rate-limit".to_owned());
    let (status, answer) = world.admin_send(Method::PUT, "/rate-limit", Some(&limit)).await?;
    if status == 200 {
        Ok(())
    } else {
        Err(StepFailure(format!("the mock refused the rate limit {limit}: {status} {answer}")))
    }
}

// ---- time ----------------------------------------------------------------------------------------------

#[when(regex = r"^(\d+) milliseconds pass$")]
async fn milliseconds_pass(world: &mut ScrWorld, ms: i64) -> StepResult {
    advance(world, Duration::milliseconds(ms))
}

#[when("1 second passes")]
async fn one_second_passes(world: &mut ScrWorld) -> StepResult {
    advance(world, Duration::seconds(1))
}

#[when("the clock reaches the start of the next minute")]
async fn next_minute(world: &mut ScrWorld) -> StepResult {
    let now = world.ctx().clock.now();
    advance(world, until_next_minute(now))
}

// ---- act -----------------------------------------------------------------------------------------------

fn scr_id_path(nhs: &str) -> String {
    format!("/DocumentReference?patient={NHS_NUMBER_SYSTEM}|{nhs}")
}

#[when(regex = r#"^I try to request the SCR id for patient "([^"]+)"$"#)]
async fn try_scr_id(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    world.try_send(Method::GET, &scr_id_path(&nhs), None).await
}

#[when(regex = r#"^I request the SCR id for patient "([^"]+)" (\d+) times, (\d+) milliseconds apart$"#)]
async fn scr_id_repeatedly(world: &mut ScrWorld, alias: String, times: u32, apart_ms: i64) -> StepResult {
    let nhs = world.nhs(&alias)?;
    for k in 0..times {
        if k > 0 {
            advance(world, Duration::milliseconds(apart_ms))?;
        }
        world.send(Method::GET, &scr_id_path(&nhs), None, None).await?;
    }
    Ok(())
}

#[when(regex = r#"^I re-send the upload for patient "([^"]+)" with (the same|a new) X-Request-ID$"#)]
async fn resend_upload(world: &mut ScrWorld, alias: String, which: String) -> StepResult {
    let previous = world
        .exchanges
        .iter()
        .rev()
        .find(|x| x.request.method == "POST" && x.request.url.trim_end_matches('/').ends_with("/Bundle"))
        .ok_or("no upload has been sent in this scenario")?;
    let request_id = match which.as_str() {
        "the same" => previous.sent_header(X_REQUEST_ID).ok_or("the upload carried no X-Request-ID")?.to_owned(),
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let body = previous.request.body.clone().ok_or("the upload had no body")?;
    let created = {
        world.next_headers.push((X_REQUEST_ID.to_owned(), request_id));
        world.send(Method::POST, "/Bundle", Some(body.clone().into_bytes()), None).await?.response.status == 201
    };
    if created {
        let parsed: Value = serde_json::from_str(&body).map_err(|e| StepFailure(format!("upload body: {e}")))?;
        if let Some(id) = super::upload::composition_identifier(&parsed) {
            world.set_scr(&alias, id)?;
        }
        world.patient(&alias)?.uploaded = Some(parsed);
    }
    Ok(())
}

// ---- assert --------------------------------------------------------------------------------------------

#[then(
    regex = r"^the request fails with (a connect timeout|a read timeout|an unreachable target|a connection reset|a TLS failure|a body too large|a refused redirect|another transport failure)$"
)]
async fn request_fails(world: &mut ScrWorld, how: String) -> StepResult {
    let expected = checks::fault_from_description(&how).ok_or_else(|| StepFailure(format!("unknown failure {how}")))?;
    let answered = world.exchanges.last().map(|x| x.response.status);
    let answered = if world.transport_failure.is_some() { None } else { answered };
    checks::transport_failure(world.transport_failure.as_ref(), expected, answered).map_err(StepFailure)
}

#[then(regex = r"^the response is the proxy's UNKNOWN_ERROR OperationOutcome with status (\d{3})$")]
async fn proxy_unknown_error(world: &mut ScrWorld, status: u16) -> StepResult {
    checks::unknown_error(&world.last()?.response, status).map_err(StepFailure)
}

#[then(regex = r#"^the response is not FHIR JSON: "(.*)"$"#)]
async fn not_fhir(world: &mut ScrWorld, reason: String) -> StepResult {
    checks::not_fhir(&world.last()?.response, &reason).map_err(StepFailure)
}

#[then(regex = r#"^the response body contains "(.*)"$"#)]
async fn body_contains(world: &mut ScrWorld, text: String) -> StepResult {
    checks::body_contains(&world.last()?.response, &text).map_err(StepFailure)
}

#[then(regex = r"^the last (\d+) responses have status (\d{3})$")]
async fn last_statuses(world: &mut ScrWorld, n: usize, status: u16) -> StepResult {
    let statuses: Vec<u16> = world.exchanges.iter().map(|x| x.response.status).collect();
    checks::latest_statuses(&statuses, n, status).map_err(StepFailure)
}

#[then(regex = r#"^the response is Spine's duplicate-event NACK for the SCR of patient "([^"]+)"$"#)]
async fn duplicate_event(world: &mut ScrWorld, alias: String) -> StepResult {
    let (scr, nhs) = (world.scr(&alias)?, world.nhs(&alias)?);
    let mode = if world.ctx().target == TargetKind::Mock { CodeMatch::Exact } else { CodeMatch::ValueOrInvalid };
    checks::duplicate_event(&world.last()?.response, &scr, &nhs, mode).map_err(StepFailure)
}

#[then(regex = r#"^the mock holds (\d+) SCRs? for patient "([^"]+)"$"#)]
async fn mock_holds(world: &mut ScrWorld, n: usize, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let patient = world.admin_get(&format!("/patients/{nhs}")).await?;
    let held = patient["scrIds"].as_array().map_or(0, Vec::len);
    if held == n {
        Ok(())
    } else {
        Err(StepFailure(format!("the mock holds {held} SCRs for patient {alias}, expected {n}: {patient}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn fault_specs_carry_the_patient_and_the_parameters() {
        let spec = fault_spec("upload-scr", "gateway-timeout", 1, "9990000018", Some(r#"{"processed":true}"#));
        assert_eq!(
            spec,
            Ok(
                json!({"operation":"upload-scr","fault":"gateway-timeout","count":1,"match":"9990000018","processed":true})
            )
        );
        assert!(fault_spec("any", "oversized", 1, "x", Some("[1]")).is_err());
        assert!(fault_spec("any", "oversized", 1, "x", Some("{")).is_err());
    }

    #[test]
    fn the_next_minute_starts_on_a_whole_minute() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 59).single().unwrap_or_default() + Duration::milliseconds(250);
        assert_eq!(until_next_minute(at), Duration::milliseconds(750));
        let whole = Utc.with_ymd_and_hms(2026, 1, 1, 12, 1, 0).single().unwrap_or_default();
        assert_eq!(until_next_minute(whole), Duration::seconds(60));
    }
}
