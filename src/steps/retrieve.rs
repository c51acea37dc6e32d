//! When: get the SCR id (`GET /DocumentReference`) and read the SCR (`GET /Bundle`).

use cucumber::when;
use reqwest::Method;

use crate::runner::world::{ScrWorld, StepResult};
use crate::scr::codes::NHS_NUMBER_SYSTEM;

async fn get(world: &mut ScrWorld, path: &str) -> StepResult {
    world.send(Method::GET, path, None, None).await.map(|_| ())
}

#[when(regex = r#"^I request the SCR id for patient "([^"]+)"$"#)]
async fn request_scr_id(world: &mut ScrWorld, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    get(world, &format!("/DocumentReference?patient={NHS_NUMBER_SYSTEM}|{nhs}")).await
}

#[when(regex = r#"^I request the SCR id for patient "([^"]+)" with "(.*)"$"#)]
async fn request_scr_id_with(world: &mut ScrWorld, alias: String, extra: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let extra = world.substitute(&extra)?;
    get(world, &format!("/DocumentReference?patient={NHS_NUMBER_SYSTEM}|{nhs}&{extra}")).await
}

async fn read(world: &mut ScrWorld, id: &str, alias: &str) -> StepResult {
    let nhs = world.nhs(alias)?;
    get(
        world,
        &format!(
            "/Bundle?composition.identifier={id}&composition.subject:Patient.identifier={NHS_NUMBER_SYSTEM}|{nhs}"
        ),
    )
    .await
}

#[when(regex = r#"^I read the SCR "([^"]*)" for patient "([^"]+)"$"#)]
async fn read_scr(world: &mut ScrWorld, id: String, alias: String) -> StepResult {
    let id = world.substitute(&id)?;
    read(world, &id, &alias).await
}

#[when(regex = r#"^I read the current SCR for patient "([^"]+)"$"#)]
async fn read_current(world: &mut ScrWorld, alias: String) -> StepResult {
    let id = world.scr(&alias)?;
    read(world, &id, &alias).await
}

#[when(regex = r#"^I send GET "(.*)"$"#)]
async fn send_get(world: &mut ScrWorld, path: String) -> StepResult {
    let path = world.substitute(&path)?;
    get(world, &path).await
}
