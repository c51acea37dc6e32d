//! Identity: the NHS API Platform OAuth2 domain (reference §10, §11) shared by the mock identity service,
//! the harness's token flows and the `token` tools. See `docs/IDENTITY.md`.
//!
//! [`texts`] holds every error text; [`keys`] and [`jwt`] sign and decode JWTs of any shape; [`assertion`]
//! and [`id_token`] mint client assertions and CIS2 ID tokens (with [`assertion::Defect`]s); [`rules`] holds
//! the service's checks in the reference's order; [`apps`] and [`personas`] are the registered apps and
//! CIS2 users (TOML under `fixtures/identity/`); [`client`] runs the token flows over HTTP.

pub mod apps;
pub mod assertion;
pub mod client;
pub mod id_token;
pub mod jwt;
pub mod keys;
pub mod personas;
pub mod rules;
pub mod texts;

use std::path::PathBuf;

/// `fixtures/identity/` of this checkout, or `$SCR_ASSURE_IDENTITY_DIR` when set.
pub fn default_fixtures_dir() -> PathBuf {
    match std::env::var_os("SCR_ASSURE_IDENTITY_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/identity")),
    }
}

/// The default app's name in `apps.toml`.
pub const DEFAULT_APP: &str = "scr-assure-test";
