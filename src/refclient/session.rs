//! The reference client's session, kept across actions in `$SCR_ASSURE_SESSION_DIR/session.json` (mode 0600):
//! the access token and its expiry by the client's clock, the refresh token, the signing key in use, and the
//! SCR id last seen per patient. In memory every token is a [`Secret`]; only the file holds them in clear,
//! as any client's own credential store would.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// The file name inside the session directory.
pub const SESSION_FILE: &str = "session.json";

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot read the session file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("the session file {path} is not a reference-client session: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("cannot write the session file {path}: {reason}")]
    Write { path: String, reason: String },
}

/// Which private key signs client assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum KeyChoice {
    /// `--key` with `--kid`.
    #[default]
    Initial,
    /// `--next-key` with the kid `rotate_key` was given.
    Next,
}

/// The session in memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Session {
    pub access_token: Option<Secret>,
    /// When the access token expires, by the client's clock (issue time + `expires_in`).
    pub access_expires_at: Option<DateTime<Utc>>,
    /// The refresh token to present next (the rotated one).
    pub refresh_token: Option<Secret>,
    /// The first refresh token of the session (what `refresh-token-reused` keeps presenting).
    pub first_refresh_token: Option<Secret>,
    /// The key in use and its kid (`None`: `--kid`).
    pub key: KeyChoice,
    pub kid: Option<String>,
    /// The `jti` `reused-jti` puts in every assertion.
    pub jti: Option<String>,
    /// The SCR id last seen per NHS number.
    pub scr_ids: BTreeMap<String, String>,
}

/// The file's shape: secrets in clear (the file is the client's own credential store, mode 0600).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_refresh_token: Option<String>,
    #[serde(default)]
    key: KeyChoice,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(default)]
    scr_ids: BTreeMap<String, String>,
}

impl Session {
    /// `dir/session.json`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(SESSION_FILE)
    }

    /// The session in `dir`, or a fresh one when there is no file yet.
    pub fn load(dir: &Path) -> Result<Self, SessionError> {
        let path = Self::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(SessionError::Read { path: path.display().to_string(), reason: e.to_string() }),
        };
        let file: SessionFile = serde_json::from_str(&text)
            .map_err(|e| SessionError::Corrupt { path: path.display().to_string(), reason: e.to_string() })?;
        Ok(Self {
            access_token: file.access_token.map(Secret::new),
            access_expires_at: file.access_expires_at,
            refresh_token: file.refresh_token.map(Secret::new),
            first_refresh_token: file.first_refresh_token.map(Secret::new),
            key: file.key,
            kid: file.kid,
            jti: file.jti,
            scr_ids: file.scr_ids,
        })
    }

    /// Writes the session to `dir/session.json` (mode 0600), replacing the old file atomically.
    pub fn save(&self, dir: &Path) -> Result<(), SessionError> {
        let path = Self::path(dir);
        let write_err = |reason: String| SessionError::Write { path: path.display().to_string(), reason };
        let file = SessionFile {
            access_token: self.access_token.as_ref().map(|s| s.expose().to_owned()),
            access_expires_at: self.access_expires_at,
            refresh_token: self.refresh_token.as_ref().map(|s| s.expose().to_owned()),
            first_refresh_token: self.first_refresh_token.as_ref().map(|s| s.expose().to_owned()),
            key: self.key,
            kid: self.kid.clone(),
            jti: self.jti.clone(),
            scr_ids: self.scr_ids.clone(),
        };
        let text = serde_json::to_vec_pretty(&file).map_err(|e| write_err(e.to_string()))?;
        std::fs::create_dir_all(dir).map_err(|e| write_err(e.to_string()))?;
        let tmp = dir.join(format!(".{SESSION_FILE}.{}.tmp", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let result = options.open(&tmp).and_then(|mut f| {
            f.write_all(&text)?;
            f.sync_all()
        });
        if let Err(e) = result.and_then(|()| std::fs::rename(&tmp, &path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(write_err(e.to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_mode_0600_and_never_debug_prints_a_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(Session::load(dir.path()).expect("fresh"), Session::default());
        let mut session = Session {
            access_token: Some(Secret::new("access-canary")),
            access_expires_at: DateTime::from_timestamp(1_800_000_000, 0),
            refresh_token: Some(Secret::new("refresh-canary")),
            key: KeyChoice::Next,
            kid: Some("k2".into()),
            ..Session::default()
        };
        session.scr_ids.insert("9990000018".into(), "ABC".into());
        session.save(dir.path()).expect("save");
        assert_eq!(Session::load(dir.path()).expect("load"), session);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(Session::path(dir.path())).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let debug = format!("{session:?}");
        assert!(!debug.contains("canary"), "{debug}");
    }

    #[test]
    fn a_corrupt_file_names_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(Session::path(dir.path()), "not json").expect("write");
        let err = Session::load(dir.path()).expect_err("corrupt").to_string();
        assert!(err.contains("session.json"), "{err}");
    }
}
