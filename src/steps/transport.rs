//! When: raw requests for the transport rules (methods, paths, content types, raw bodies).

use cucumber::when;
use reqwest::Method;
use serde_json::Value;

use crate::runner::world::{ScrWorld, StepFailure, StepResult};
use crate::scr::payloads;

fn method(name: &str) -> Result<Method, StepFailure> {
    Method::from_bytes(name.as_bytes()).map_err(|_| StepFailure(format!("'{name}' is not an HTTP method")))
}

/// The valid body of a kind, and the path it belongs to.
fn valid_body(world: &mut ScrWorld, kind: &str, alias: &str) -> Result<(Value, &'static str), StepFailure> {
    match kind {
        "upload" => Ok((super::upload::valid_upload(world, alias, false)?, "/Bundle")),
        "permission" => {
            let nhs = world.nhs(alias)?;
            Ok((payloads::set_permission(&nhs, "Yes"), "/$setPermission"))
        }
        "alert" => Ok((super::alerts::valid_alert(world, alias, "1", "1")?, "/AuditEvent")),
        other => Err(StepFailure(format!("unknown body kind '{other}' (upload, permission or alert)"))),
    }
}

#[when(regex = r#"^I send "([A-Za-z]+)" to "(.*)"$"#)]
async fn send_method(world: &mut ScrWorld, name: String, path: String) -> StepResult {
    let path = world.substitute(&path)?;
    world.send(method(&name)?, &path, None, None).await.map(|_| ())
}

#[when(regex = r#"^I send a valid (upload|permission|alert) for patient "([^"]+)" with Content-Type "(.*)"$"#)]
async fn send_with_content_type(world: &mut ScrWorld, kind: String, alias: String, content_type: String) -> StepResult {
    let (body, path) = valid_body(world, &kind, &alias)?;
    world.send(Method::POST, path, Some(body.to_string().into_bytes()), Some(&content_type)).await.map(|_| ())
}

#[when(regex = r#"^I send a valid (upload|permission|alert) for patient "([^"]+)" to "(.*)"$"#)]
async fn send_to_path(world: &mut ScrWorld, kind: String, alias: String, path: String) -> StepResult {
    let (body, _) = valid_body(world, &kind, &alias)?;
    let path = world.substitute(&path)?;
    world.post_json(&path, &body).await.map(|_| ())
}

#[when(regex = r#"^I send POST "(.*)" with the body:$"#)]
async fn send_raw_body(world: &mut ScrWorld, path: String, step: &cucumber::gherkin::Step) -> StepResult {
    let path = world.substitute(&path)?;
    let body = step.docstring.as_deref().ok_or("this step needs a doc string body")?;
    let body = world.substitute(body.trim_start_matches('\n'))?;
    world.next_request_deliberate = true;
    world.send(Method::POST, &path, Some(body.into_bytes()), None).await.map(|_| ())
}
