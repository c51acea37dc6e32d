//! When: set permission to view (`POST /$setPermission`).

use cucumber::when;

use crate::runner::world::{ScrWorld, StepFailure, StepResult};
use crate::scr::{patch, payloads};

#[when(regex = r#"^I set permission to view "([^"]*)" for patient "([^"]+)"$"#)]
async fn set_permission(world: &mut ScrWorld, code: String, alias: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    // Only Yes, No and Ask as written conform; other spellings test the adaptor's leniency on purpose.
    world.next_request_deliberate = !["Yes", "No", "Ask"].contains(&code.as_str());
    world.post_json("/$setPermission", &payloads::set_permission(&nhs, &code)).await.map(|_| ())
}

#[when(regex = r#"^I set permission to view for patient "([^"]+)" with the change "(.*)"$"#)]
async fn set_permission_changed(world: &mut ScrWorld, alias: String, change: String) -> StepResult {
    let nhs = world.nhs(&alias)?;
    let mut body = payloads::set_permission(&nhs, "Yes");
    let change = world.substitute(&change)?;
    patch::apply_change(&mut body, &change).map_err(|e| StepFailure(e.to_string()))?;
    world.next_request_deliberate = true;
    world.post_json("/$setPermission", &body).await.map(|_| ())
}
