//! The client lane of a run: one more embedded mock (stateful, gateway on, real time) that the system under
//! test talks to, with the SUT's app registered on it over HTTP (`POST /_admin/apps`), the harness's own
//! credentials to arrange state there, and the SUT chosen for the run — a supplier's `sut.toml` or the
//! bundled reference client (`docs/CLIENT.md`).

use std::path::{Path, PathBuf};

use reqwest::Method;

use super::auth;
use super::context::{ClientLane, Endpoint};
use super::RunError;
use crate::client::{ClientOptions, HeaderValue, ScrClient, ScrRequest};
use crate::clock::Clock;
use crate::mock::{self, MockConfig, Profile, RunningMock};
use crate::sut::SutConfig;

/// The name the SUT's app is registered under on the client lane.
pub const SUT_APP_NAME: &str = "sut";
/// The CIS2 persona of the client scenarios' clinician (`fixtures/identity/personas.toml`): the sandbox user's
/// roles with a selected role.
pub const CLIENT_PERSONA: &str = "client-clinician";

/// Which system the client scenarios grade.
#[derive(Debug, Clone)]
pub enum SutChoice {
    /// The bundled reference client, run by `program` (default: this scr-assure binary) with these defects.
    Reference { program: Option<PathBuf>, defects: Vec<String> },
    /// A supplier's system, from its `sut.toml` (`--sut`): only the client scenarios run.
    File(Box<SutConfig>),
}

impl Default for SutChoice {
    fn default() -> Self {
        Self::Reference { program: None, defects: Vec::new() }
    }
}

impl SutChoice {
    /// Whether the run grades only the SUT (a `--sut` file).
    pub fn only_client(&self) -> bool {
        matches!(self, Self::File(_))
    }
}

/// The scr-assure binary that runs the reference client: this process when it is scr-assure, else the
/// `scr-assure` beside it or one folder up (a test binary in `target/debug/deps/`).
pub fn scr_assure_binary() -> Result<PathBuf, RunError> {
    let me = std::env::current_exe()
        .map_err(|e| RunError::Config(format!("cannot find this program's path for the reference client: {e}")))?;
    let is_scr_assure = |p: &Path| p.file_stem().is_some_and(|s| s == "scr-assure");
    if is_scr_assure(&me) {
        return Ok(me);
    }
    let name = format!("scr-assure{}", std::env::consts::EXE_SUFFIX);
    me.ancestors().skip(1).take(2).map(|dir| dir.join(&name)).find(|candidate| candidate.is_file()).ok_or_else(|| {
        RunError::Config(format!(
            "cannot find the scr-assure binary near {} to run the reference client (build it, or grade a \
                 system of your own with --sut)",
            me.display()
        ))
    })
}

fn config_error(e: impl std::fmt::Display) -> RunError {
    RunError::Config(e.to_string())
}

/// Starts the client lane's mock and registers the SUT's app on it.
pub async fn start(choice: &SutChoice, http: &ClientOptions) -> Result<(ClientLane, RunningMock), RunError> {
    let sut = match choice {
        SutChoice::File(config) => config.as_ref().clone(),
        SutChoice::Reference { program, defects } => {
            let program = match program {
                Some(p) => p.clone(),
                None => scr_assure_binary()?,
            };
            SutConfig::reference_client(&program, defects).map_err(config_error)?
        }
    };
    let clock = Clock::system();
    let config =
        MockConfig { auth: true, seed: false, clock: clock.clone(), ..MockConfig::loopback(Profile::Stateful) };
    let mock = mock::start(config).await?;
    let origin = mock.origin();
    register(&origin, &sut, clock.clone()).await?;
    let auth = auth::mock_auth(&origin, http).map_err(RunError::Config)?;
    let persona = auth
        .cis2
        .as_ref()
        .and_then(|c| c.personas.get(CLIENT_PERSONA))
        .ok_or_else(|| RunError::Config(format!("the persona {CLIENT_PERSONA} is missing from the fixtures")))?;
    let roles: Vec<String> = persona.roles.iter().map(|r| r.person_roleid.clone()).collect();
    let user_id = persona.user_id.clone();
    let urid = persona.selected_roleid.clone().or_else(|| roles.first().cloned()).unwrap_or_default();
    let sessions = tempfile::Builder::new()
        .prefix("scr-assure-sut-sessions-")
        .tempdir()
        .map_err(|e| RunError::Config(format!("cannot make a folder for the SUT's sessions: {e}")))?;
    let endpoint = Endpoint {
        client: ScrClient::new(mock.base_url(), clock.clone(), *http).map_err(config_error)?,
        admin_origin: Some(origin.clone()),
    };
    let lane = ClientLane {
        endpoint,
        auth,
        clock,
        sut,
        app_name: SUT_APP_NAME.to_owned(),
        origin,
        persona: CLIENT_PERSONA.to_owned(),
        user_id,
        roles,
        urid,
        sessions,
    };
    Ok((lane, mock))
}

/// `POST /_admin/apps` with the SUT's registration; anything but 201 stops the run (exit 2: the SUT file's
/// keys are wrong, or the mock refused them).
async fn register(origin: &str, sut: &SutConfig, clock: Clock) -> Result<(), RunError> {
    let body = sut.app.registration(SUT_APP_NAME).map_err(config_error)?;
    let admin = ScrClient::new(origin, clock, ClientOptions::default()).map_err(config_error)?;
    let request = ScrRequest {
        method: Method::POST,
        path: "/_admin/apps".into(),
        headers: vec![("Content-Type".into(), HeaderValue::Plain("application/json".into()))],
        body: Some(body.to_string().into_bytes()),
    };
    let exchange = admin.send(request).await.map_err(|e| RunError::Unreachable(e.to_string()))?;
    if exchange.response.status != 201 {
        return Err(RunError::Config(format!(
            "the client-lane mock refused the registration of {}'s app: HTTP {} {}",
            sut.name,
            exchange.response.status,
            crate::client::excerpt(&exchange.response.body)
        )));
    }
    Ok(())
}
