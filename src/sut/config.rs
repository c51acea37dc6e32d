//! `sut.toml`: the system under test, its app registration and how to drive it (`docs/CLIENT.md` §4).
//! SKELETON — to be completed (load, validation with key and line, reference-client defaults).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::Action;
use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriverKind {
    Command,
    Http,
    Attended,
}

/// Where the SUT's registered public keys come from.
#[derive(Debug, Clone, PartialEq)]
pub enum PublicKeys {
    /// A PEM public key file (with `kid`).
    PemFile(PathBuf),
    /// A JWK Set file.
    JwksFile(PathBuf),
    /// A JWK Set URL the mock fetches.
    JwksUrl(String),
}

/// The key the SUT rotates to.
#[derive(Debug, Clone, PartialEq)]
pub struct RotationKey {
    pub kid: String,
    pub keys: PublicKeys,
}

/// How the SUT authenticates to the mock identity service.
#[derive(Debug, Clone)]
pub struct SutApp {
    pub api_key: Secret,
    pub kid: Option<String>,
    pub keys: PublicKeys,
    pub client_secret: Option<Secret>,
    pub rotation: Option<RotationKey>,
}

impl SutApp {
    /// The body of `POST /_admin/apps` registering this app as `name` (exposes the API key and client secret:
    /// sent to the loopback mock only).
    pub fn registration(&self, name: &str) -> Result<Value, SutConfigError> {
        let _ = name;
        Err(SutConfigError::Invalid { file: String::new(), key: String::new(), reason: "unimplemented".into() })
    }

    /// The JWK Set with both the current and the rotation key (key rotation, step 1).
    pub fn rotation_jwks(&self) -> Result<Option<Value>, SutConfigError> {
        Ok(None)
    }

    /// The JWK Set with only the rotation key (key rotation, step 2: the old key withdrawn).
    pub fn rotated_jwks(&self) -> Result<Option<Value>, SutConfigError> {
        Ok(None)
    }
}

/// A parsed `sut.toml`.
#[derive(Debug, Clone)]
pub struct SutConfig {
    pub name: String,
    pub version: String,
    pub driver: DriverKind,
    pub action_timeout: Duration,
    pub app: SutApp,
    /// Command driver: argv templates by action.
    pub actions: BTreeMap<Action, Vec<String>>,
    /// Http driver: the hook URL.
    pub http_url: Option<String>,
    /// The file it was read from (`None` for the bundled reference client).
    pub file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SutConfigError {
    #[error("{file}: {key}: {reason}")]
    Invalid { file: String, key: String, reason: String },
}

impl SutConfig {
    pub fn load(path: &Path) -> Result<Self, SutConfigError> {
        Err(SutConfigError::Invalid {
            file: path.display().to_string(),
            key: String::new(),
            reason: "unimplemented".into(),
        })
    }

    /// The bundled reference client run by `program` (the scr-assure binary) with these defects.
    pub fn reference_client(program: &Path, defects: &[String]) -> Result<Self, SutConfigError> {
        let _ = (program, defects);
        Err(SutConfigError::Invalid { file: String::new(), key: String::new(), reason: "unimplemented".into() })
    }
}
