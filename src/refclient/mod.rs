//! The bundled reference client (`scr-assure reference-client`): a small but real SCR client that plays a
//! well-behaved system under test through the SUT contract of docs/CLIENT.md §4, and `--defect NAME`
//! switches that each break exactly one graded behaviour, so the grader can be shown to catch each one.
//!
//! **Independence**: it talks to the NHS side only over HTTP and builds its own bodies from the NHS examples
//! ([`bodies`]); it never uses the mock, the runner, the steps or the harness's SCR builders and codes
//! (`crate::scr`), with which the grader judges what it sent. It signs with `crate::identity::keys` and
//! `jsonwebtoken`, keeps credentials in [`Secret`]s and reads time from a [`Clock`].
//!
//! - [`session`]: the session file kept across actions (tokens, key in use, SCR ids seen);
//! - [`client`]: tokens (token exchange, refresh with rotation) and SCR requests with their headers;
//! - [`transport`]: HTTP with timeouts and the fault policy (429, 5xx, transport failures);
//! - [`flows`]: the actions; [`defects`]: the defects.

pub mod bodies;
pub mod client;
pub mod defects;
pub mod flows;
pub mod session;
pub mod transport;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

pub use bodies::OverrideReason;
pub use defects::{Defect, Defects, UnknownDefect};

use crate::clock::Clock;
use crate::identity::keys::SigningKey;
use crate::secret::Secret;

/// The environment variables every action reads (docs/CLIENT.md §4).
pub const REQUIRED_ENV: [&str; 5] =
    ["SCR_ASSURE_BASE_URL", "SCR_ASSURE_TOKEN_URL", "SCR_ASSURE_ID_TOKEN", "SCR_ASSURE_URID", "SCR_ASSURE_SESSION_DIR"];

/// The ODS code sent in privacy alerts unless `--ods-code` says otherwise: the organisation of the NHS
/// examples (fixtures/nhs/examples/AuditEvent.json). A separate-auth client cannot ask CIS2 userinfo
/// (reference §10.3), so the organisation is configuration, as in a real clinical system.
pub const DEFAULT_ODS_CODE: &str = "T10101";

/// A usage error: the action cannot start (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(
        "unknown action \"{0}\"; known actions: retrieve, retrieve_with_answer, emergency_access, upload, rotate_key"
    )]
    UnknownAction(String),
    #[error("{action} takes {expected}; got {got} parameter(s)")]
    Parameters { action: &'static str, expected: &'static str, got: usize },
    #[error("{action}: {name} must be {allowed}; got \"{value}\"")]
    BadParameter { action: &'static str, name: &'static str, allowed: &'static str, value: String },
    #[error(transparent)]
    UnknownDefect(#[from] UnknownDefect),
    #[error("the environment variable {0} is not set (or empty)")]
    MissingEnv(&'static str),
    #[error("{0} is required")]
    MissingFlag(&'static str),
    #[error("{flag}: {reason}")]
    Key { flag: &'static str, reason: String },
    #[error("--client-secret-file {path}: {reason}")]
    ClientSecret { path: String, reason: String },
    #[error("{0} needs --next-key")]
    NextKeyNeeded(&'static str),
    #[error("the bundle file {path}: {reason}")]
    BundleFile { path: String, reason: String },
    #[error(transparent)]
    Session(#[from] session::SessionError),
    #[error(transparent)]
    Http(#[from] transport::BuildError),
}

/// An action and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Retrieve { nhs_number: String },
    RetrieveWithAnswer { nhs_number: String, yes: bool },
    EmergencyAccess { nhs_number: String, reason: OverrideReason },
    Upload { nhs_number: String, bundle_file: PathBuf },
    RotateKey { kid: String },
}

impl Action {
    /// Parses `ACTION PARAMS…` as docs/CLIENT.md §4 names them.
    pub fn parse(name: &str, params: &[String]) -> Result<Self, UsageError> {
        let exactly = |action: &'static str, expected: &'static str, n: usize| {
            if params.len() == n {
                Ok(())
            } else {
                Err(UsageError::Parameters { action, expected, got: params.len() })
            }
        };
        let param = |i: usize| params.get(i).cloned().unwrap_or_default();
        match name {
            "retrieve" => {
                exactly("retrieve", "NHS_NUMBER", 1)?;
                Ok(Self::Retrieve { nhs_number: param(0) })
            }
            "retrieve_with_answer" => {
                exactly("retrieve_with_answer", "NHS_NUMBER yes|no", 2)?;
                let yes = match param(1).as_str() {
                    "yes" => true,
                    "no" => false,
                    other => {
                        return Err(UsageError::BadParameter {
                            action: "retrieve_with_answer",
                            name: "answer",
                            allowed: "yes or no",
                            value: other.to_owned(),
                        })
                    }
                };
                Ok(Self::RetrieveWithAnswer { nhs_number: param(0), yes })
            }
            "emergency_access" => {
                exactly("emergency_access", "NHS_NUMBER emergency|legal|self-claimed", 2)?;
                let reason = OverrideReason::parse(&param(1)).ok_or_else(|| UsageError::BadParameter {
                    action: "emergency_access",
                    name: "reason",
                    allowed: "emergency, legal or self-claimed",
                    value: param(1),
                })?;
                Ok(Self::EmergencyAccess { nhs_number: param(0), reason })
            }
            "upload" => {
                exactly("upload", "NHS_NUMBER BUNDLE_FILE", 2)?;
                Ok(Self::Upload { nhs_number: param(0), bundle_file: PathBuf::from(param(1)) })
            }
            "rotate_key" => {
                exactly("rotate_key", "KID", 1)?;
                Ok(Self::RotateKey { kid: param(0) })
            }
            other => Err(UsageError::UnknownAction(other.to_owned())),
        }
    }
}

/// What the client showed the user: the one JSON object printed on stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scr_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Outcome {
    fn named(outcome: &str) -> Self {
        Self { outcome: outcome.to_owned(), scr_id: None, message: None }
    }
    pub fn displayed(scr_id: Option<String>) -> Self {
        Self { scr_id, ..Self::named("displayed") }
    }
    pub fn no_scr() -> Self {
        Self::named("no-scr")
    }
    pub fn no_consent() -> Self {
        Self::named("no-consent")
    }
    pub fn consent_required() -> Self {
        Self::named("consent-required")
    }
    pub fn uploaded(scr_id: String) -> Self {
        Self { scr_id: Some(scr_id), ..Self::named("uploaded") }
    }
    pub fn done() -> Self {
        Self::named("done")
    }
    pub fn error(message: impl Into<String>) -> Self {
        Self { message: Some(message.into()), ..Self::named("error") }
    }

    /// The single-line JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"outcome":"error","message":"unprintable outcome"}"#.into())
    }
}

/// The NHS side as the action's environment describes it.
#[derive(Debug, Clone)]
pub struct ActionEnvironment {
    pub base_url: String,
    pub token_url: String,
    pub id_token: Secret,
    pub urid: String,
    pub session_dir: PathBuf,
}

impl ActionEnvironment {
    /// From the process environment.
    pub fn from_env() -> Result<Self, UsageError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any lookup (tests); an unset or empty variable is an error naming it.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, UsageError> {
        let get =
            |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty()).ok_or(UsageError::MissingEnv(name));
        Ok(Self {
            base_url: get("SCR_ASSURE_BASE_URL")?,
            token_url: get("SCR_ASSURE_TOKEN_URL")?,
            id_token: Secret::new(get("SCR_ASSURE_ID_TOKEN")?),
            urid: get("SCR_ASSURE_URID")?,
            session_dir: PathBuf::from(get("SCR_ASSURE_SESSION_DIR")?),
        })
    }
}

/// The client's own configuration (its command-line flags).
#[derive(Debug, Clone)]
pub struct Settings {
    pub api_key: Secret,
    pub kid: String,
    pub key_file: PathBuf,
    pub next_key_file: Option<PathBuf>,
    pub client_secret: Option<Secret>,
    pub ods_code: String,
    pub defects: Defects,
}

/// Reads a client secret file: its first line that is neither empty nor a `#` comment.
pub fn read_client_secret(path: &Path) -> Result<Secret, UsageError> {
    let err = |reason: String| UsageError::ClientSecret { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(Secret::new)
        .ok_or_else(|| err("holds no secret".into()))
}

/// Runs one action: `Err` only for usage errors (nothing was sent); every other failure is an `error`
/// outcome. The session is saved whatever the outcome.
pub async fn run(
    settings: &Settings,
    env: &ActionEnvironment,
    action: &Action,
    clock: Clock,
) -> Result<Outcome, UsageError> {
    let initial_key = SigningKey::from_pem_file(&settings.key_file, &settings.kid)
        .map_err(|e| UsageError::Key { flag: "--key", reason: e.to_string() })?;
    let next_key = match &settings.next_key_file {
        Some(path) => Some(
            SigningKey::from_pem_file(path, "next")
                .map_err(|e| UsageError::Key { flag: "--next-key", reason: e.to_string() })?,
        ),
        None => None,
    };
    let session = session::Session::load(&env.session_dir)?;
    if next_key.is_none() {
        if matches!(action, Action::RotateKey { .. }) {
            return Err(UsageError::NextKeyNeeded("rotate_key"));
        }
        if session.key == session::KeyChoice::Next {
            return Err(UsageError::NextKeyNeeded("a session that rotated its key"));
        }
    }
    let bundle = match action {
        Action::Upload { bundle_file, .. } => Some(read_bundle(bundle_file)?),
        _ => None,
    };
    let http = transport::Http::new(settings.defects.clone())?;
    let conn = client::Connection {
        base_url: env.base_url.clone(),
        token_url: env.token_url.clone(),
        id_token: env.id_token.clone(),
        urid: env.urid.clone(),
        api_key: settings.api_key.clone(),
        client_secret: settings.client_secret.clone(),
        initial_key,
        initial_kid: settings.kid.clone(),
        next_key,
        ods_code: settings.ods_code.clone(),
    };
    let mut client = client::Client::new(http, clock, settings.defects.clone(), conn, session);
    let outcome = flows::run(&mut client, action, bundle.as_ref()).await;
    if let Err(e) = client.session.save(&env.session_dir) {
        eprintln!("reference-client: {e}");
    }
    Ok(outcome)
}

fn read_bundle(path: &Path) -> Result<Value, UsageError> {
    let err = |reason: String| UsageError::BundleFile { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| err(format!("is not JSON: {e}")))?;
    if value.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(err("is not a FHIR Bundle".into()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn actions_parse_as_the_contract_names_them() {
        assert_eq!(
            Action::parse("retrieve", &params(&["9990000018"])).expect("retrieve"),
            Action::Retrieve { nhs_number: "9990000018".into() }
        );
        assert_eq!(
            Action::parse("retrieve_with_answer", &params(&["1", "no"])).expect("answer"),
            Action::RetrieveWithAnswer { nhs_number: "1".into(), yes: false }
        );
        assert_eq!(
            Action::parse("emergency_access", &params(&["1", "self-claimed"])).expect("override"),
            Action::EmergencyAccess { nhs_number: "1".into(), reason: OverrideReason::SelfClaimed }
        );
        let msg = |name: &str, p: &[&str]| Action::parse(name, &params(p)).expect_err("refused").to_string();
        assert!(msg("frobnicate", &[]).contains("unknown action \"frobnicate\""));
        assert!(msg("retrieve", &[]).contains("NHS_NUMBER"));
        assert!(msg("retrieve_with_answer", &["1", "maybe"]).contains("\"maybe\""));
        assert!(msg("emergency_access", &["1", "boredom"]).contains("emergency, legal or self-claimed"));
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = ActionEnvironment::from_lookup(|name| (name != "SCR_ASSURE_URID").then(|| "x".to_owned()))
            .expect_err("missing");
        assert!(err.to_string().contains("SCR_ASSURE_URID"), "{err}");
        let env = ActionEnvironment::from_lookup(|_| Some("x".into())).expect("complete");
        assert_eq!(format!("{:?}", env.id_token), "[REDACTED]");
    }

    #[test]
    fn outcomes_print_as_one_json_object() {
        assert_eq!(Outcome::displayed(Some("A".into())).to_json(), r#"{"outcome":"displayed","scr_id":"A"}"#);
        assert_eq!(Outcome::no_scr().to_json(), r#"{"outcome":"no-scr"}"#);
        assert_eq!(Outcome::error("x").to_json(), r#"{"outcome":"error","message":"x"}"#);
    }
}
