//! Identity steps (docs/IDENTITY.md): the client's clock, time passing, token requests of every flow and
//! defect, the token the scenario holds, and assertions on the identity service's and gateway's answers.

use chrono::Duration;
use cucumber::{given, then, when};
use serde_json::Value;

use crate::identity::assertion::Defect;
use crate::identity::client::{TokenClient, TokenOutcome};
use crate::identity::jwt;
use crate::identity::keys::SigningKey;
use crate::runner::auth::{apply_form_change, AppCredentials, Auth, DefaultFlow};
use crate::runner::checks;
use crate::runner::world::{ScrWorld, StepFailure, StepResult, TokenChoice};
use crate::runner::TargetKind;
use crate::secret::Secret;

fn auth(world: &ScrWorld) -> Result<&Auth, StepFailure> {
    world.ctx().auth.as_ref().ok_or_else(|| StepFailure("this target has no identity service configured".into()))
}

fn defects(text: &str) -> Result<Vec<Defect>, StepFailure> {
    Defect::parse_list(text).map_err(|e| StepFailure(format!("defect '{text}': {e}")))
}

/// The identity service client of this step: records every HTTP exchange it makes, as sent and received.
fn tokens(world: &ScrWorld) -> Result<TokenClient, StepFailure> {
    Ok(auth(world)?.tokens.recording(&world.ctx().clock))
}

/// Keeps the identity service's answer; a granted token becomes the one later SCR requests carry. The HTTP
/// exchanges `tokens` made (its requests and the answers as received, secrets redacted) join the scenario's
/// exchanges, so the evidence holds them as they were.
fn keep(world: &mut ScrWorld, outcome: TokenOutcome, user_restricted: bool, tokens: &TokenClient) {
    world.exchanges.extend(tokens.take_exchanges());
    if let TokenOutcome::Granted(t) = &outcome {
        world.token = TokenChoice::Held { token: t.access_token.clone(), user_restricted };
        if let Some(r) = &t.refresh_token {
            world.refresh_tokens.push(r.clone());
        }
    }
    world.token_outcome = Some(outcome);
}

fn remember_jti(world: &mut ScrWorld, assertion: &Secret) {
    world.last_jti =
        jwt::decode_unverified(assertion.expose()).ok().and_then(|raw| raw.claim_str("jti").map(str::to_owned));
}

fn transport(e: impl std::fmt::Display) -> StepFailure {
    StepFailure(format!("the token request failed: {e}"))
}

/// Mints a client assertion for the scenario (its skew) and posts a client-credentials form, edited.
async fn client_credentials(
    world: &mut ScrWorld,
    app: Option<&AppCredentials>,
    exp_in: Option<i64>,
    defects: Vec<Defect>,
    key: Option<&SigningKey>,
    form_change: Option<&str>,
) -> StepResult {
    let now = world.ctx().clock.now();
    let auth = auth(world)?;
    let assertion =
        auth.assertion(app, now, world.skew_seconds, exp_in, defects, key).map_err(|e| StepFailure(e.to_string()))?;
    let mut form = TokenClient::client_credentials_form(&assertion, &[]);
    if let Some(change) = form_change {
        apply_form_change(&mut form, change).map_err(StepFailure)?;
    }
    let tokens = tokens(world)?;
    let outcome = tokens.post_form(&form).await.map_err(transport)?;
    remember_jti(world, &assertion.0);
    keep(world, outcome, false, &tokens);
    Ok(())
}

async fn token_exchange(
    world: &mut ScrWorld,
    persona: &str,
    id_defects: Vec<Defect>,
    form_change: Option<&str>,
) -> StepResult {
    let now = world.ctx().clock.now();
    let auth = auth(world)?;
    let assertion =
        auth.assertion(None, now, world.skew_seconds, None, vec![], None).map_err(|e| StepFailure(e.to_string()))?;
    let id_token =
        auth.id_token(persona, now, world.skew_seconds, id_defects, None).map_err(|e| StepFailure(e.to_string()))?;
    let mut form = TokenClient::token_exchange_form(&assertion, &id_token, &[]);
    if let Some(change) = form_change {
        apply_form_change(&mut form, change).map_err(StepFailure)?;
    }
    let tokens = tokens(world)?;
    let outcome = tokens.post_form(&form).await.map_err(transport)?;
    remember_jti(world, &assertion.0);
    keep(world, outcome, true, &tokens);
    Ok(())
}

async fn obtain(world: &mut ScrWorld, tokens: &TokenClient, flow: DefaultFlow) -> Result<TokenOutcome, StepFailure> {
    let now = world.ctx().clock.now();
    auth(world)?.obtain_with(tokens, &flow, now).await.map_err(|e| StepFailure(e.to_string()))
}

// ---- the clock ----------------------------------------------------------------------------------------

#[given(regex = r"^the client clock is (\d+) seconds (fast|slow)$")]
async fn client_clock(world: &mut ScrWorld, seconds: i64, direction: String) -> StepResult {
    world.skew_seconds = if direction == "fast" { seconds } else { -seconds };
    Ok(())
}

#[when(regex = r"^(\d+) seconds pass$")]
async fn seconds_pass(world: &mut ScrWorld, seconds: i64) -> StepResult {
    if world.ctx().target != TargetKind::Mock {
        return Err("time can only be moved on the embedded mock: tag the scenario @mock-only @serial".into());
    }
    world.ctx().clock.advance(Duration::seconds(seconds));
    Ok(())
}

// ---- the token later requests carry -------------------------------------------------------------------

#[given("I hold an application-restricted token")]
async fn hold_app_token(world: &mut ScrWorld) -> StepResult {
    let tokens = tokens(world)?;
    let outcome = obtain(world, &tokens, DefaultFlow::Application).await?;
    let granted = outcome.granted().is_some();
    keep(world, outcome, false, &tokens);
    if granted {
        Ok(())
    } else {
        Err(StepFailure(format!("no application-restricted token: {:?}", world.token_outcome)))
    }
}

#[given(regex = r#"^I hold a user-restricted token for persona "([^"]+)" by (separate|combined) authentication$"#)]
async fn hold_user_token(world: &mut ScrWorld, persona: String, kind: String) -> StepResult {
    let flow = if kind == "combined" { DefaultFlow::Combined { persona } } else { DefaultFlow::Separate { persona } };
    let tokens = tokens(world)?;
    let outcome = obtain(world, &tokens, flow).await?;
    let granted = outcome.granted().is_some();
    keep(world, outcome, true, &tokens);
    if granted {
        Ok(())
    } else {
        Err(StepFailure(format!("no user-restricted token: {:?}", world.token_outcome)))
    }
}

#[given("I send no access token")]
async fn no_token(world: &mut ScrWorld) -> StepResult {
    world.token = TokenChoice::Absent;
    Ok(())
}

#[given(regex = r#"^I send the access token "(.*)"$"#)]
async fn literal_token(world: &mut ScrWorld, token: String) -> StepResult {
    world.token = TokenChoice::Literal(Secret::new(token));
    Ok(())
}

// ---- client credentials --------------------------------------------------------------------------------

#[when("I request a token with a client assertion")]
async fn request_token(world: &mut ScrWorld) -> StepResult {
    client_credentials(world, None, None, vec![], None, None).await
}

#[when(regex = r#"^I request a token with a client assertion with the defect "(.*)"$"#)]
async fn request_token_defect(world: &mut ScrWorld, defect: String) -> StepResult {
    client_credentials(world, None, None, defects(&defect)?, None, None).await
}

#[when(regex = r"^I request a token with a client assertion expiring in (-?\d+) seconds$")]
async fn request_token_expiring(world: &mut ScrWorld, seconds: i64) -> StepResult {
    client_credentials(world, None, Some(seconds), vec![], None, None).await
}

#[when(regex = r#"^I request a token with the form change "(.*)"$"#)]
async fn request_token_form(world: &mut ScrWorld, change: String) -> StepResult {
    client_credentials(world, None, None, vec![], None, Some(&change)).await
}

#[when("I request a token with a client assertion signed by the unregistered key")]
async fn request_token_unregistered(world: &mut ScrWorld) -> StepResult {
    let kid = auth(world)?.app.key.kid().to_owned();
    let path = crate::identity::default_fixtures_dir().join("unregistered-private-key.pem");
    let key = SigningKey::from_pem_file(&path, &kid).map_err(|e| StepFailure(e.to_string()))?;
    client_credentials(world, None, None, vec![], Some(&key), None).await
}

#[when(regex = r#"^I request a token with a client assertion for the app "([^"]+)"$"#)]
async fn request_token_app(world: &mut ScrWorld, name: String) -> StepResult {
    let auth = auth(world)?;
    let registry = auth.apps.as_ref().ok_or("this target names no other apps")?;
    let app = registry.by_name(&name).ok_or_else(|| StepFailure(format!("no registered app named '{name}'")))?;
    // An app without a key file still needs a signed assertion: sign with the default key under its kid.
    let key = match app.signing_key() {
        Ok(k) => k,
        Err(_) => auth.app.key.clone(),
    };
    let creds = AppCredentials { name: app.name.clone(), api_key: app.api_key.clone(), key, client: None };
    client_credentials(world, Some(&creds), None, vec![], None, None).await
}

#[when("I request a token with a client assertion reusing the previous jti")]
async fn request_token_replay(world: &mut ScrWorld) -> StepResult {
    let jti = world.last_jti.clone().ok_or("no client assertion was minted before in this scenario")?;
    client_credentials(world, None, None, vec![Defect::Jti(jti)], None, None).await
}

// ---- CIS2 flows ----------------------------------------------------------------------------------------

#[when(regex = r#"^I exchange an id_token for persona "([^"]+)"$"#)]
async fn exchange(world: &mut ScrWorld, persona: String) -> StepResult {
    token_exchange(world, &persona, vec![], None).await
}

#[when(regex = r#"^I exchange an id_token for persona "([^"]+)" with the defect "(.*)"$"#)]
async fn exchange_defect(world: &mut ScrWorld, persona: String, defect: String) -> StepResult {
    token_exchange(world, &persona, defects(&defect)?, None).await
}

#[when(regex = r#"^I exchange an id_token for persona "([^"]+)" with the form change "(.*)"$"#)]
async fn exchange_form(world: &mut ScrWorld, persona: String, change: String) -> StepResult {
    token_exchange(world, &persona, vec![], Some(&change)).await
}

#[when(regex = r#"^I sign in as persona "([^"]+)" by the authorization code flow$"#)]
async fn sign_in(world: &mut ScrWorld, persona: String) -> StepResult {
    let tokens = tokens(world)?;
    let outcome = obtain(world, &tokens, DefaultFlow::Combined { persona }).await?;
    keep(world, outcome, true, &tokens);
    Ok(())
}

fn client_app(world: &ScrWorld) -> Result<crate::identity::client::ClientApp, StepFailure> {
    auth(world)?.app.client.clone().ok_or_else(|| "the app has no client secret for this flow".into())
}

#[when(regex = r#"^I start the authorization code flow with the change "(.*)"$"#)]
async fn authorize_changed(world: &mut ScrWorld, change: String) -> StepResult {
    let app = client_app(world)?;
    let mut query = crate::identity::rules::Form::from_pairs(TokenClient::authorize_query(&app));
    apply_form_change(&mut query, &change).map_err(StepFailure)?;
    let tokens = tokens(world)?;
    let answer = tokens.sign_in(crate::runner::auth::DEFAULT_PERSONA, query.pairs()).await;
    world.exchanges.extend(tokens.take_exchanges());
    match answer.map_err(transport)? {
        Ok(_) => world.token_outcome = None,
        Err(refused) => world.token_outcome = Some(refused),
    }
    Ok(())
}

#[when(regex = r#"^I sign in as persona "([^"]+)" by the authorization code flow with the form change "(.*)"$"#)]
async fn sign_in_changed(world: &mut ScrWorld, persona: String, change: String) -> StepResult {
    let app = client_app(world)?;
    let tokens = tokens(world)?;
    let answer = tokens.sign_in(&persona, &TokenClient::authorize_query(&app)).await;
    let code = match answer {
        Ok(Ok(code)) => code,
        Ok(Err(refused)) => {
            world.exchanges.extend(tokens.take_exchanges());
            return Err(StepFailure(format!("the sign-in itself was refused: {refused:?}")));
        }
        Err(e) => {
            world.exchanges.extend(tokens.take_exchanges());
            return Err(transport(e));
        }
    };
    let mut form = TokenClient::code_form(&app, &code);
    apply_form_change(&mut form, &change).map_err(StepFailure)?;
    let outcome = tokens.post_form(&form).await.map_err(transport)?;
    keep(world, outcome, true, &tokens);
    Ok(())
}

#[when(regex = r#"^I exchange an id_token for persona "([^"]+)" signed by the unregistered key$"#)]
async fn exchange_unregistered(world: &mut ScrWorld, persona: String) -> StepResult {
    let now = world.ctx().clock.now();
    let auth = auth(world)?;
    let kid = auth.cis2.as_ref().map(|c| c.key.kid().to_owned()).ok_or("no CIS2 issuer on this target")?;
    let path = crate::identity::default_fixtures_dir().join("unregistered-private-key.pem");
    let key = SigningKey::from_pem_file(&path, &kid)
        .map_err(|e| StepFailure(e.to_string()))?
        .with_algorithm(jsonwebtoken::Algorithm::RS256);
    let assertion =
        auth.assertion(None, now, world.skew_seconds, None, vec![], None).map_err(|e| StepFailure(e.to_string()))?;
    let id_token =
        auth.id_token(&persona, now, world.skew_seconds, vec![], Some(&key)).map_err(|e| StepFailure(e.to_string()))?;
    let tokens = tokens(world)?;
    let outcome = tokens.token_exchange(&assertion, &id_token, &[]).await.map_err(transport)?;
    keep(world, outcome, true, &tokens);
    Ok(())
}

#[when(regex = r#"^I refresh the token with the form change "(.*)"$"#)]
async fn refresh_changed(world: &mut ScrWorld, change: String) -> StepResult {
    let app = client_app(world)?;
    let token = world.refresh_tokens.last().cloned().ok_or("no refresh token in this scenario")?;
    let mut form = crate::identity::rules::Form::from_pairs([
        ("grant_type", "refresh_token"),
        ("client_id", app.api_key.expose()),
        ("client_secret", app.client_secret.expose()),
        ("refresh_token", token.expose()),
    ]);
    apply_form_change(&mut form, &change).map_err(StepFailure)?;
    let tokens = tokens(world)?;
    let outcome = tokens.post_form(&form).await.map_err(transport)?;
    keep(world, outcome, true, &tokens);
    Ok(())
}

async fn refresh_with(world: &mut ScrWorld, index_from_end: usize) -> StepResult {
    let n = world.refresh_tokens.len();
    let token = n
        .checked_sub(1 + index_from_end)
        .and_then(|i| world.refresh_tokens.get(i))
        .cloned()
        .ok_or("no such refresh token in this scenario")?;
    let client = auth(world)?.app.client.clone().ok_or("the app has no client secret for refreshing")?;
    let tokens = tokens(world)?;
    let outcome = tokens.refresh(&client, &token, &[]).await.map_err(transport)?;
    keep(world, outcome, true, &tokens);
    Ok(())
}

#[when("I refresh the token")]
async fn refresh(world: &mut ScrWorld) -> StepResult {
    refresh_with(world, 0).await
}

#[when("I refresh the token with the previous refresh token")]
async fn refresh_previous(world: &mut ScrWorld) -> StepResult {
    refresh_with(world, 1).await
}

#[when("I request the userinfo")]
async fn request_userinfo(world: &mut ScrWorld) -> StepResult {
    let token = match &world.token {
        TokenChoice::Held { token, .. } | TokenChoice::Literal(token) => token.clone(),
        _ => return Err("the scenario holds no access token".into()),
    };
    let tokens = tokens(world)?;
    let answer = tokens.userinfo(&token).await;
    world.exchanges.extend(tokens.take_exchanges());
    let answer = answer.map_err(transport)?;
    world.userinfo = Some(answer.clone());
    world.token_outcome = Some(match answer {
        (200, _) => return Ok(()),
        (status, body) => TokenOutcome::Rejected(crate::identity::client::TokenError {
            status,
            error: body["error"].as_str().unwrap_or_default().to_owned(),
            error_description: body["error_description"].as_str().unwrap_or_default().to_owned(),
            message_id: body["message_id"].as_str().map(str::to_owned),
            raw: body,
        }),
    });
    Ok(())
}

// ---- assertions ----------------------------------------------------------------------------------------

fn outcome(world: &ScrWorld) -> Result<&TokenOutcome, StepFailure> {
    world.token_outcome.as_ref().ok_or_else(|| "no token request was made in this scenario".into())
}

#[then(regex = r#"^the token response is an error (\d{3}) "([^"]+)" with the description "(.*)"$"#)]
async fn token_error(world: &mut ScrWorld, status: u16, error: String, description: String) -> StepResult {
    match outcome(world)? {
        TokenOutcome::Granted(t) => {
            Err(StepFailure(format!("expected {status} {error}, but a token was granted: {}", t.raw)))
        }
        TokenOutcome::Rejected(e) => {
            let mut problems = Vec::new();
            if e.status != status {
                problems.push(format!("status {} (expected {status})", e.status));
            }
            if e.error != error {
                problems.push(format!("error {:?} (expected {error:?})", e.error));
            }
            if e.error_description != description {
                problems.push(format!(
                    "error_description {:?}\n  expected            {description:?}",
                    e.error_description
                ));
            }
            if e.status != 302 && e.message_id.as_deref().is_none_or(str::is_empty) {
                problems.push("no message_id".into());
            }
            if problems.is_empty() {
                Ok(())
            } else {
                Err(StepFailure(problems.join("; ")))
            }
        }
    }
}

fn granted(world: &ScrWorld) -> Result<&crate::identity::client::TokenResponse, StepFailure> {
    match outcome(world)? {
        TokenOutcome::Granted(t) => Ok(t),
        TokenOutcome::Rejected(e) => {
            Err(StepFailure(format!("expected a token, got {} {}: {}", e.status, e.error, e.error_description)))
        }
    }
}

fn string_member(raw: &Value, name: &str, expected: &str) -> StepResult {
    match raw.get(name) {
        Some(Value::String(s)) if s == expected => Ok(()),
        Some(Value::String(s)) => Err(StepFailure(format!("{name} is \"{s}\", expected \"{expected}\""))),
        Some(other) => Err(StepFailure(format!("{name} is {other}, expected the string \"{expected}\""))),
        None => Err(StepFailure(format!("the token response has no {name}"))),
    }
}

#[then(regex = r#"^the token response grants an access token expiring in "(\d+)"$"#)]
async fn grants_access(world: &mut ScrWorld, seconds: String) -> StepResult {
    let t = granted(world)?;
    if !t.token_type.eq_ignore_ascii_case("bearer") {
        return Err(StepFailure(format!("token_type is {:?}, expected Bearer", t.token_type)));
    }
    string_member(&t.raw, "expires_in", &seconds)
}

#[then(regex = r#"^the token response grants a refresh token expiring in "(\d+)" with refresh count "(\d+)"$"#)]
async fn grants_refresh(world: &mut ScrWorld, seconds: String, count: String) -> StepResult {
    let t = granted(world)?;
    if t.refresh_token.is_none() {
        return Err("the token response has no refresh_token".into());
    }
    string_member(&t.raw, "refresh_token_expires_in", &seconds)?;
    string_member(&t.raw, "refresh_count", &count)
}

/// Mock-only: the audit trail's entry for the latest request (found by its X-Request-ID) names the user the
/// gateway verified and the role it used — the header's, or the one it resolved when the request sent none.
#[then(regex = r#"^the mock's audit trail records the request as user "([^"]*)" in role "([^"]*)"$"#)]
async fn audited_as(world: &mut ScrWorld, user: String, role: String) -> StepResult {
    let request_id = world
        .last()?
        .sent_header(crate::runner::world::X_REQUEST_ID)
        .ok_or("the latest request carried no X-Request-ID to find its audit entry by")?
        .to_owned();
    let trail = world.admin_get("/audit").await?;
    checks::audited_as(&trail, &request_id, &user, &role).map_err(StepFailure)
}

#[then(regex = r#"^the response is the gateway's access-denied OperationOutcome "(.*)"$"#)]
async fn gateway_denied(world: &mut ScrWorld, display: String) -> StepResult {
    checks::gateway_outcome(&world.last()?.response, 401, "forbidden", "ACCESS_DENIED", &display, None)
        .map_err(StepFailure)
}

#[then(
    regex = r#"^the response is the gateway's "([A-Z_]+)" OperationOutcome with status (\d{3}), code "([^"]+)" and diagnostics "(.*)"$"#
)]
async fn gateway_catch_all(
    world: &mut ScrWorld,
    coding: String,
    status: u16,
    code: String,
    diagnostics: String,
) -> StepResult {
    checks::gateway_outcome(&world.last()?.response, status, &code, &coding, "", Some(&diagnostics))
        .map_err(StepFailure)
}

/// The roles are the scenario's own words (copied from the persona's CIS2 record), never read from the persona
/// file the mock serves them from.
#[then(regex = r#"^the userinfo response lists the roles "([^"]*)"$"#)]
async fn userinfo_roles(world: &mut ScrWorld, roles: String) -> StepResult {
    if world.userinfo.is_none() {
        request_userinfo(world).await?;
    }
    let (status, body) = world.userinfo.clone().ok_or("no userinfo")?;
    checks::userinfo_roles(status, &body, &checks::word_list(&roles)).map_err(StepFailure)
}
