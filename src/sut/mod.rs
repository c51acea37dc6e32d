//! The system under test (SUT): the supplier's clinical system, described by a `sut.toml` and driven through
//! a small adapter — a command per action, an HTTP hook, or a person at the keyboard (attended). The client
//! scenarios (`features/client/**`) run an action, then grade what the SUT sent (the client-lane mock's
//! traffic journal) and what it reported. The contract is `docs/CLIENT.md` §4.

pub mod check;
pub mod config;
pub mod driver;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use config::{DriverKind, PublicKeys, RotationKey, SutApp, SutConfig, SutConfigError};
pub use driver::{run_action, Attended};

use crate::secret::Secret;

/// What the harness asks the SUT to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Open the patient's SCR as the clinician (`{nhs_number}`).
    Retrieve,
    /// As `retrieve`, the patient answering the permission question (`{nhs_number}`, `{answer}`: yes/no).
    RetrieveWithAnswer,
    /// Override: raise the privacy alert for `{reason}` (emergency/legal/self-claimed), then read.
    EmergencyAccess,
    /// Upload the GP Summary in `{bundle_file}` for `{nhs_number}`.
    Upload,
    /// Sign client assertions with the rotation key `{kid}` from now on.
    RotateKey,
}

impl Action {
    pub const ALL: [Action; 5] =
        [Self::Retrieve, Self::RetrieveWithAnswer, Self::EmergencyAccess, Self::Upload, Self::RotateKey];

    /// The key in `[actions]` and the `action` member of an http hook's request.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retrieve => "retrieve",
            Self::RetrieveWithAnswer => "retrieve_with_answer",
            Self::EmergencyAccess => "emergency_access",
            Self::Upload => "upload",
            Self::RotateKey => "rotate_key",
        }
    }

    /// The placeholders its argv template may use (and the `params` an http hook receives).
    pub fn parameters(self) -> &'static [&'static str] {
        match self {
            Self::Retrieve => &["nhs_number"],
            Self::RetrieveWithAnswer => &["nhs_number", "answer"],
            Self::EmergencyAccess => &["nhs_number", "reason"],
            Self::Upload => &["nhs_number", "bundle_file"],
            Self::RotateKey => &["kid"],
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What every action is told about the NHS side (environment variables, or an http hook's `env`).
#[derive(Debug, Clone)]
pub struct ActionEnv {
    pub base_url: String,
    pub token_url: String,
    pub authorize_url: String,
    pub userinfo_url: String,
    /// A CIS2 id_token for the scenario's clinician (token exchange).
    pub id_token: Secret,
    /// The clinician's role (`NHSD-Session-URID`).
    pub urid: String,
    /// A directory private to the scenario that lives across its actions.
    pub session_dir: PathBuf,
    /// The scenario's name.
    pub scenario: String,
}

impl ActionEnv {
    /// The variables as `(name, value)`, secrets exposed: only for handing to the SUT.
    pub fn variables(&self, action: Action) -> Vec<(&'static str, String)> {
        vec![
            ("SCR_ASSURE_BASE_URL", self.base_url.clone()),
            ("SCR_ASSURE_TOKEN_URL", self.token_url.clone()),
            ("SCR_ASSURE_AUTHORIZE_URL", self.authorize_url.clone()),
            ("SCR_ASSURE_USERINFO_URL", self.userinfo_url.clone()),
            ("SCR_ASSURE_ID_TOKEN", self.id_token.expose().to_owned()),
            ("SCR_ASSURE_URID", self.urid.clone()),
            ("SCR_ASSURE_SESSION_DIR", self.session_dir.display().to_string()),
            ("SCR_ASSURE_ACTION", action.as_str().to_owned()),
            ("SCR_ASSURE_SCENARIO", self.scenario.clone()),
        ]
    }
}

/// One action to run.
#[derive(Debug, Clone)]
pub struct ActionRequest {
    pub action: Action,
    /// Values of [`Action::parameters`].
    pub params: BTreeMap<String, String>,
    pub env: ActionEnv,
    /// For the attended driver: what to tell the tester ("In Example GP System, open the SCR of …").
    pub instruction: String,
}

/// What the SUT said it showed the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SutOutcome {
    /// `displayed`, `no-scr`, `no-consent`, `consent-required`, `uploaded`, `done`, `error`, or anything else
    /// the SUT printed (graded as such).
    pub outcome: String,
    pub scr_id: Option<String>,
    pub message: Option<String>,
    /// The whole JSON object as the SUT printed it.
    pub raw: Value,
}

/// Why an action produced no outcome; its `Display` is what the scenario's failure says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ActionFailure {
    #[error("the SUT file names no `{action}` action ([actions].{action} in {file})")]
    NotConfigured { action: String, file: String },
    #[error("cannot start `{program}` for the `{action}` action: {reason}")]
    NotExecutable { action: String, program: String, reason: String },
    #[error("the `{action}` action did not finish within {seconds} s (action_timeout); it was stopped")]
    TimedOut { action: String, seconds: u64 },
    #[error("the `{action}` action printed no JSON object on stdout (exit status {status}); stdout: {stdout:?}")]
    NoJson { action: String, status: String, stdout: String },
    #[error("the `{action}` action printed malformed JSON ({reason}); stdout: {stdout:?}")]
    MalformedJson { action: String, reason: String, stdout: String },
    #[error("the `{action}` action's JSON has no string `outcome` member: {stdout:?}")]
    NoOutcome { action: String, stdout: String },
    #[error("the `{action}` action exited with status {status} (0 means the action ran); stderr: {stderr:?}")]
    Failed { action: String, status: String, stderr: String },
    #[error("the http hook {url} could not be reached for `{action}`: {reason}")]
    HookUnreachable { action: String, url: String, reason: String },
    #[error("the http hook {url} answered HTTP {status} for `{action}`: {body:?}")]
    HookStatus { action: String, url: String, status: u16, body: String },
    #[error("the `{action}` action's template uses {{{parameter}}} but the harness gave no value for it")]
    MissingParameter { action: String, parameter: String },
    #[error("the tester did not confirm `{action}` within {seconds} s")]
    NotConfirmed { action: String, seconds: u64 },
}

/// An attended action's instruction and the tester's confirmation, kept as evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttendedRecord {
    pub instruction: String,
    /// What the tester typed (empty for a bare Enter), or `None` when no confirmation came.
    pub confirmation: Option<String>,
    pub confirmed_at: Option<String>,
}

/// Everything about one action run, for the grader and the evidence. Never holds a secret: argv and
/// excerpts pass through redaction.
#[derive(Debug, Clone, Serialize)]
pub struct ActionReport {
    pub action: Action,
    pub params: BTreeMap<String, String>,
    /// The argv run (command driver), `POST <url>` (http), or `attended`.
    pub command: Vec<String>,
    /// Wall-clock start (RFC 3339, milliseconds).
    pub started: String,
    pub duration_ms: u64,
    /// The process's exit code (command driver).
    pub exit_code: Option<i32>,
    /// Redacted excerpts (at most 2000 characters each).
    pub stdout_excerpt: String,
    pub stderr_excerpt: String,
    pub outcome: Option<SutOutcome>,
    pub failure: Option<ActionFailure>,
    pub attended: Option<AttendedRecord>,
}

impl ActionReport {
    /// The outcome, or why there is none.
    pub fn result(&self) -> Result<&SutOutcome, String> {
        match (&self.outcome, &self.failure) {
            (Some(o), _) => Ok(o),
            (None, Some(f)) => Err(f.to_string()),
            (None, None) => Err(format!("the `{}` action gave no outcome", self.action)),
        }
    }
}
