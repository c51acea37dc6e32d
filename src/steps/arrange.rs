//! Given: patients, their SCRs and consent, and request headers.

use cucumber::given;

use super::require_status;
use crate::runner::world::{ScrWorld, StepResult};
use crate::scr::payloads;

#[given(regex = r#"^a patient "([^"]+)" with no SCR$"#)]
async fn patient_without_scr(world: &mut ScrWorld, alias: String) -> StepResult {
    world.patient(&alias).map(|_| ())
}

#[given(regex = r#"^a patient "([^"]+)" with an SCR$"#)]
async fn patient_with_scr(world: &mut ScrWorld, alias: String) -> StepResult {
    super::upload::upload(world, &alias, false).await?;
    require_status(world, 201, &format!("upload an SCR for patient {alias}"))
}

#[given(regex = r#"^patient "([^"]+)" has a replacement SCR$"#)]
async fn replacement_scr(world: &mut ScrWorld, alias: String) -> StepResult {
    super::upload::upload(world, &alias, true).await?;
    require_status(world, 201, &format!("upload a replacement SCR for patient {alias}"))
}

#[given(regex = r#"^patient "([^"]+)" has permission to view "([^"]+)"$"#)]
async fn has_permission(world: &mut ScrWorld, alias: String, code: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    world.post_json("/$setPermission", &payloads::set_permission(&nhs, &code)).await?;
    require_status(world, 201, &format!("set permission to view {code} for patient {alias}"))
}

#[given(regex = r#"^the sandbox patient "([^"]+)" is "([^"]+)"$"#)]
async fn sandbox_patient(world: &mut ScrWorld, alias: String, nhs: String) -> StepResult {
    world.bind_patient(&alias, &nhs);
    Ok(())
}

#[given(regex = r#"^the SCR id "([^"]+)" for patient "([^"]+)"$"#)]
async fn bind_scr_id(world: &mut ScrWorld, id: String, alias: String) -> StepResult {
    world.set_scr(&alias, id)
}

/// For proving how retries are reported: fails the first time a scenario runs in a run, passes after.
#[given("this scenario fails on its first attempt")]
async fn fails_first_attempt(world: &mut ScrWorld) -> StepResult {
    let first = world
        .ctx()
        .first_attempts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(world.location.clone());
    if first {
        Err("failing on purpose: this is the scenario's first attempt".into())
    } else {
        Ok(())
    }
}

#[given("the requests of this scenario are deliberately invalid")]
async fn deliberately_invalid(world: &mut ScrWorld) -> StepResult {
    world.deliberately_invalid = true;
    Ok(())
}

#[given(regex = r#"^the request header "([^"]+)" is absent$"#)]
async fn header_absent(world: &mut ScrWorld, name: String) -> StepResult {
    world.change_header(&name, None);
    Ok(())
}

#[given(regex = r#"^the request header "([^"]+)" is "(.*)"$"#)]
async fn header_set(world: &mut ScrWorld, name: String, value: String) -> StepResult {
    let value = world.substitute(&value)?;
    world.change_header(&name, Some(value));
    Ok(())
}
