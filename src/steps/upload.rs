//! When: upload a GP Summary (`POST /Bundle`).

use cucumber::when;
use serde_json::Value;

use crate::runner::world::{ScrWorld, StepFailure, StepResult};
use crate::scr::{patch, payloads};

/// The Composition identifier of an upload body, upper-cased as the adaptor stores it.
pub(crate) fn composition_identifier(body: &Value) -> Option<String> {
    body.get("entry")?
        .as_array()?
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Composition")?
        .pointer("/identifier/value")?
        .as_str()
        .map(str::to_uppercase)
}

/// Posts an upload body; on 201 the patient's current SCR becomes its Composition identifier.
pub(crate) async fn post_upload(world: &mut ScrWorld, alias: &str, body: Value) -> StepResult {
    let created = world.post_json("/Bundle", &body).await?.response.status == 201;
    if created {
        if let Some(id) = composition_identifier(&body) {
            world.set_scr(alias, id)?;
        }
        world.patient(alias)?.uploaded = Some(body);
    }
    Ok(())
}

/// The valid GP Summary for a patient, optionally replacing their current SCR.
pub(crate) fn valid_upload(world: &mut ScrWorld, alias: &str, replacing: bool) -> Result<Value, StepFailure> {
    let nhs = world.nhs(alias)?;
    let replaces = if replacing { Some(world.scr(alias)?) } else { None };
    let id = uuid::Uuid::new_v4().to_string().to_uppercase();
    Ok(payloads::upload_bundle(&nhs, &id, replaces.as_deref()))
}

pub(crate) async fn upload(world: &mut ScrWorld, alias: &str, replacing: bool) -> StepResult {
    let body = valid_upload(world, alias, replacing)?;
    post_upload(world, alias, body).await
}

#[when(regex = r#"^I upload an SCR for patient "([^"]+)"$"#)]
async fn upload_scr(world: &mut ScrWorld, alias: String) -> StepResult {
    upload(world, &alias, false).await
}

#[when(regex = r#"^I upload an SCR for patient "([^"]+)" replacing the current one$"#)]
async fn upload_replacing(world: &mut ScrWorld, alias: String) -> StepResult {
    upload(world, &alias, true).await
}

#[when(regex = r#"^I upload an SCR for patient "([^"]+)" with the change "(.*)"$"#)]
async fn upload_changed(world: &mut ScrWorld, alias: String, change: String) -> StepResult {
    let mut body = valid_upload(world, &alias, false)?;
    let change = world.substitute(&change)?;
    patch::apply_change(&mut body, &change).map_err(|e| StepFailure(e.to_string()))?;
    world.next_request_deliberate = true;
    post_upload(world, &alias, body).await
}
