//! When: raise a privacy alert (`POST /AuditEvent`); Then: what the mock recorded.

use cucumber::{then, when};
use serde_json::Value;

use crate::runner::world::{ScrWorld, StepFailure, StepResult};
use crate::scr::{patch, payloads};

/// The valid alert for a patient: about their current SCR if they have one, else about a fresh id.
pub(crate) fn valid_alert(
    world: &mut ScrWorld,
    alias: &str,
    alert_type: &str,
    subtype: &str,
) -> Result<Value, StepFailure> {
    let nhs = world.nhs(alias)?;
    let what = world.scr(alias).unwrap_or_else(|_| uuid::Uuid::new_v4().to_string().to_uppercase());
    Ok(payloads::privacy_alert(&nhs, alert_type, subtype, &what))
}

#[when(regex = r#"^I raise a privacy alert of type "([^"]*)" and subtype "([^"]*)" for patient "([^"]+)"$"#)]
async fn raise_alert(world: &mut ScrWorld, alert_type: String, subtype: String, alias: String) -> StepResult {
    let body = valid_alert(world, &alias, &alert_type, &subtype)?;
    // A pair outside the permitted matrix is sent on purpose, to see it refused.
    let permitted = matches!(
        (alert_type.as_str(), subtype.as_str()),
        ("1", "1" | "2" | "3" | "4" | "6") | ("2", "1" | "2" | "3" | "5")
    );
    world.next_request_deliberate = !permitted;
    world.post_json("/AuditEvent", &body).await.map(|_| ())
}

#[when(regex = r#"^I raise a privacy alert for patient "([^"]+)" with the change "(.*)"$"#)]
async fn raise_alert_changed(world: &mut ScrWorld, alias: String, change: String) -> StepResult {
    let mut body = valid_alert(world, &alias, "1", "1")?;
    let change = world.substitute(&change)?;
    patch::apply_change(&mut body, &change).map_err(|e| StepFailure(e.to_string()))?;
    world.next_request_deliberate = true;
    world.post_json("/AuditEvent", &body).await.map(|_| ())
}

async fn recorded_alerts(world: &mut ScrWorld, alias: &str) -> Result<Vec<Value>, StepFailure> {
    let nhs = world.nhs(alias)?;
    let alerts = world.admin_get(&format!("/alerts?nhs={nhs}")).await?;
    alerts
        .as_array()
        .cloned()
        .ok_or_else(|| StepFailure(format!("admin route /alerts did not answer a list: {alerts}")))
}

#[then(
    regex = r#"^the mock has recorded a privacy alert for patient "([^"]+)" with type "([^"]*)" and subtype "([^"]*)"$"#
)]
async fn alert_recorded(world: &mut ScrWorld, alias: String, alert_type: String, subtype: String) -> StepResult {
    let alerts = recorded_alerts(world, &alias).await?;
    let found = alerts
        .iter()
        .find(|a| a["alert"]["alert_type"] == alert_type.as_str() && a["alert"]["alert_subtype"] == subtype.as_str());
    let Some(found) = found else {
        return Err(StepFailure(format!(
            "no alert of type {alert_type}/{subtype} recorded for patient {alias}; recorded: {alerts:?}"
        )));
    };
    // who, what and why must all be kept: as this scenario sent them in its latest accepted alert
    let sent = world
        .exchanges
        .iter()
        .rev()
        .find(|x| x.request.method == "POST" && x.request.url.ends_with("/AuditEvent") && x.response.status == 201)
        .and_then(|x| x.request.body.as_deref())
        .ok_or("this scenario sent no alert that was accepted")?;
    let sent: Value = serde_json::from_str(sent).map_err(|e| StepFailure(format!("the alert sent: {e}")))?;
    crate::runner::checks::recorded_alert_keeps(found, &sent).map_err(StepFailure)
}

#[then(regex = r#"^the mock has recorded no privacy alert for patient "([^"]+)"$"#)]
async fn no_alert_recorded(world: &mut ScrWorld, alias: String) -> StepResult {
    let alerts = recorded_alerts(world, &alias).await?;
    if alerts.is_empty() {
        Ok(())
    } else {
        Err(StepFailure(format!("expected no alert for patient {alias}, recorded: {alerts:?}")))
    }
}

#[then(
    regex = r#"^the mock has recorded the alert of patient "([^"]+)" as sent by user "([^"]*)" observed by ASID "([^"]*)"$"#
)]
async fn alert_sender(world: &mut ScrWorld, alias: String, user: String, asid: String) -> StepResult {
    let alerts = recorded_alerts(world, &alias).await?;
    let [only] = alerts.as_slice() else {
        return Err(StepFailure(format!("expected one alert for patient {alias}, recorded: {alerts:?}")));
    };
    let (got_user, got_asid) = (only["user_id"].as_str(), only["alert"]["observer_asid"].as_str());
    if (got_user, got_asid) == (Some(user.as_str()), Some(asid.as_str())) {
        Ok(())
    } else {
        Err(StepFailure(format!(
            "recorded user {got_user:?} and observer ASID {got_asid:?}, expected {user:?} and {asid:?}"
        )))
    }
}
