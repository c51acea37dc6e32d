//! A site's configuration for running against a real environment (INT): endpoints, identity, and where its
//! secrets are. Secrets (API key, private key, client secret, id_token) are never written in the file: the
//! file names a file or an environment variable holding each one, and a file that holds a secret inline is
//! refused with an error saying which key and what to write instead.
//!
//! ```toml
//! name = "Example Surgery"
//! ods_code = "A12345"
//! asid = "200000001162"
//! session_urid = "555254242102"
//! test_patient = "9995000180"          # optional: the site check reads its permission to view
//!
//! [endpoints]
//! token_url = "https://int.api.service.nhs.uk/oauth2/token"
//! scr_base_url = "https://int.api.service.nhs.uk/summary-care-record/FHIR/R4"
//!
//! [app]
//! api_key_env = "SCR_API_KEY"          # or api_key_file = "secrets/api-key.txt"
//! kid = "example-1"
//! private_key_file = "secrets/private-key.pem"
//! jwks_url = "https://example.org/jwks.json"   # or jwks_file: the public keys registered with NHS
//! client_secret_env = "SCR_CLIENT_SECRET"      # combined CIS2 authentication only
//! redirect_uri = "https://example.org/callback"  # combined CIS2 authentication only
//!
//! [cis2]
//! flow = "combined"                    # "application" (no user), "separate" or "combined"
//! persona = "default-clinician"        # combined flow on the mock: the mock CIS2 persona to sign in
//! id_token_env = "SCR_ID_TOKEN"        # separate flow: the CIS2 id_token (file or env)
//!
//! [http]                               # optional: how every request is bounded (defaults shown)
//! connect_timeout = 10                 # seconds
//! timeout = 30                         # seconds: the read timeout (headers, then between body reads)
//! deadline = 120                       # seconds: the whole request
//! max_response_bytes = 33554432        # 32 MiB
//! ```
//!
//! Relative paths are relative to the site file.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use crate::client::{bytes_setting, seconds_setting, ClientOptions};
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("cannot read the site file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: `{key}` holds a secret inline; name a file (`{key}_file = \"...\"`) or an environment variable (`{key}_env = \"...\"`) instead")]
    InlineSecret { path: PathBuf, key: String },
    #[error("{what}: {message}")]
    Secret { what: String, message: String },
}

/// Where a secret is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Env(String),
}

impl SecretSource {
    /// Reads the secret: a variable's value, or a file's first line that is neither blank nor a `#` comment
    /// (so a secret file may say what it is), trimmed.
    pub fn load(&self, what: &str) -> Result<Secret, SiteError> {
        let err = |message: String| SiteError::Secret { what: what.to_owned(), message };
        let value = match self {
            Self::File(path) => std::fs::read_to_string(path)
                .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .unwrap_or_default()
                .to_owned(),
            Self::Env(name) => {
                std::env::var(name).map_err(|_| err(format!("environment variable {name} is not set")))?
            }
        };
        let value = value.trim().to_owned();
        if value.is_empty() {
            return Err(err(format!("{} is empty", self.describe())));
        }
        Ok(Secret::new(value))
    }

    pub fn describe(&self) -> String {
        match self {
            Self::File(path) => format!("file {}", path.display()),
            Self::Env(name) => format!("environment variable {name}"),
        }
    }
}

/// How the site obtains its access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cis2Flow {
    /// Application-restricted: signed-JWT client credentials, no user.
    Application,
    /// CIS2 separate authentication: token exchange of a CIS2 id_token.
    Separate,
    /// CIS2 combined authentication: authorization code.
    Combined,
}

/// Where the site's public keys (JWKS) are, to check the private key matches its kid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    Url(String),
    File(PathBuf),
}

/// A site, validated for shape (the site check validates the rest).
#[derive(Debug, Clone)]
pub struct Site {
    pub path: PathBuf,
    pub name: String,
    pub ods_code: String,
    pub asid: String,
    pub session_urid: String,
    pub test_patient: Option<String>,
    pub token_url: String,
    pub scr_base_url: String,
    pub api_key: SecretSource,
    pub kid: String,
    pub private_key_file: PathBuf,
    pub jwks: Option<JwksSource>,
    pub client_secret: Option<SecretSource>,
    /// The redirect URI registered for the authorization code flow.
    pub redirect_uri: Option<String>,
    pub flow: Cis2Flow,
    pub persona: Option<String>,
    pub id_token: Option<SecretSource>,
    /// How its requests are bounded (`[http]`; defaults when absent).
    pub http: ClientOptions,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteFile {
    name: Option<String>,
    ods_code: String,
    asid: String,
    session_urid: String,
    test_patient: Option<String>,
    endpoints: Endpoints,
    app: AppSection,
    cis2: Option<Cis2Section>,
    http: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Endpoints {
    token_url: String,
    scr_base_url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppSection {
    api_key_file: Option<PathBuf>,
    api_key_env: Option<String>,
    kid: String,
    private_key_file: PathBuf,
    jwks_url: Option<String>,
    jwks_file: Option<PathBuf>,
    client_secret_file: Option<PathBuf>,
    client_secret_env: Option<String>,
    redirect_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cis2Section {
    flow: Cis2Flow,
    persona: Option<String>,
    id_token_file: Option<PathBuf>,
    id_token_env: Option<String>,
}

/// Keys that would hold a secret inline: refused wherever they appear.
const INLINE_SECRET_KEYS: &[&str] = &[
    "api_key",
    "private_key",
    "client_secret",
    "id_token",
    "access_token",
    "refresh_token",
    "password",
    "secret",
    "token",
];

static ODS_CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z0-9]{3,6}$").unwrap_or_else(|e| unreachable!("constant regex: {e}")));
static ASID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9]{12}$").unwrap_or_else(|e| unreachable!("constant regex: {e}")));
static URID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9]+$").unwrap_or_else(|e| unreachable!("constant regex: {e}")));

/// Whether an ODS organisation code is well-formed (3–6 upper-case letters and digits).
pub fn ods_code_ok(code: &str) -> bool {
    ODS_CODE.is_match(code)
}

/// Whether an ASID is well-formed (12 digits).
pub fn asid_ok(asid: &str) -> bool {
    ASID.is_match(asid)
}

/// Whether a role profile id (`NHSD-Session-URID`) is well-formed (digits, the spec's pattern).
pub fn urid_ok(urid: &str) -> bool {
    URID.is_match(urid)
}

fn find_inline_secret(table: &toml::Table, prefix: &str) -> Option<String> {
    for (key, value) in table {
        let full = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        if INLINE_SECRET_KEYS.contains(&key.as_str()) {
            return Some(full);
        }
        if let toml::Value::Table(inner) = value {
            if let Some(found) = find_inline_secret(inner, &full) {
                return Some(found);
            }
        }
    }
    None
}

fn one_of(
    path: &Path,
    what: &str,
    file: Option<PathBuf>,
    env: Option<String>,
    base: &Path,
) -> Result<Option<SecretSource>, SiteError> {
    match (file, env) {
        (Some(_), Some(_)) => Err(SiteError::Invalid {
            path: path.to_owned(),
            message: format!("give `{what}_file` or `{what}_env`, not both"),
        }),
        (Some(f), None) => Ok(Some(SecretSource::File(base.join(f)))),
        (None, Some(e)) => Ok(Some(SecretSource::Env(e))),
        (None, None) => Ok(None),
    }
}

/// The `[http]` table: each key optional, each bad value an error naming the key.
fn http_options(table: Option<&toml::Table>) -> Result<ClientOptions, String> {
    let mut options = ClientOptions::default();
    let Some(table) = table else { return Ok(options) };
    for (key, value) in table {
        let name = format!("[http] {key}");
        let seconds = || match value {
            toml::Value::Integer(i) => seconds_setting(&name, *i as f64),
            toml::Value::Float(f) => seconds_setting(&name, *f),
            other => Err(format!("{name} must be a number of seconds, got {other}")),
        };
        match key.as_str() {
            "connect_timeout" => options.connect_timeout = seconds()?,
            "timeout" => options.read_timeout = seconds()?,
            "deadline" => options.deadline = seconds()?,
            "max_response_bytes" => {
                options.max_response_bytes = match value {
                    toml::Value::Integer(i) => bytes_setting(&name, i128::from(*i))?,
                    other => return Err(format!("{name} must be a whole number of bytes, got {other}")),
                }
            }
            _ => {
                return Err(format!(
                    "unknown key {name}; [http] takes connect_timeout, timeout, deadline and max_response_bytes"
                ))
            }
        }
    }
    Ok(options)
}

impl Site {
    pub fn load(path: &Path) -> Result<Self, SiteError> {
        let text = std::fs::read_to_string(path).map_err(|source| SiteError::Read { path: path.to_owned(), source })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, SiteError> {
        let invalid = |message: String| SiteError::Invalid { path: path.to_owned(), message };
        let table: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if let Some(key) = find_inline_secret(&table, "") {
            return Err(SiteError::InlineSecret { path: path.to_owned(), key });
        }
        let file: SiteFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new(".")).to_owned();
        let http = http_options(file.http.as_ref()).map_err(invalid)?;
        let app = file.app;
        let api_key = one_of(path, "api_key", app.api_key_file, app.api_key_env, &base)?
            .ok_or_else(|| invalid("[app] needs `api_key_file` or `api_key_env`".into()))?;
        let client_secret = one_of(path, "client_secret", app.client_secret_file, app.client_secret_env, &base)?;
        let jwks = match (app.jwks_url, app.jwks_file) {
            (Some(_), Some(_)) => return Err(invalid("give `jwks_url` or `jwks_file`, not both".into())),
            (Some(u), None) => Some(JwksSource::Url(u)),
            (None, Some(f)) => Some(JwksSource::File(base.join(f))),
            (None, None) => None,
        };
        let (flow, persona, id_token) = match file.cis2 {
            None => (Cis2Flow::Application, None, None),
            Some(c) => {
                let id_token = one_of(path, "id_token", c.id_token_file, c.id_token_env, &base)?;
                (c.flow, c.persona, id_token)
            }
        };
        if flow == Cis2Flow::Separate && id_token.is_none() && persona.is_none() {
            return Err(invalid(
                "[cis2] flow \"separate\" needs `id_token_file` or `id_token_env` (or, on the mock, `persona`)".into(),
            ));
        }
        if flow == Cis2Flow::Combined && client_secret.is_none() {
            return Err(invalid(
                "[cis2] flow \"combined\" needs [app] `client_secret_file` or `client_secret_env`".into(),
            ));
        }
        for (what, url) in [("token_url", &file.endpoints.token_url), ("scr_base_url", &file.endpoints.scr_base_url)] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(invalid(format!("[endpoints] {what} '{url}' must be an http(s) URL")));
            }
        }
        Ok(Self {
            path: path.to_owned(),
            name: file.name.unwrap_or_else(|| path.display().to_string()),
            ods_code: file.ods_code,
            asid: file.asid,
            session_urid: file.session_urid,
            test_patient: file.test_patient,
            token_url: file.endpoints.token_url,
            scr_base_url: file.endpoints.scr_base_url.trim_end_matches('/').to_owned(),
            api_key,
            kid: app.kid,
            private_key_file: base.join(app.private_key_file),
            jwks,
            client_secret,
            redirect_uri: app.redirect_uri,
            flow,
            persona,
            id_token,
            http,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
ods_code = "A12345"
asid = "200000001162"
session_urid = "555254242102"

[endpoints]
token_url = "https://int.api.service.nhs.uk/oauth2/token"
scr_base_url = "https://int.api.service.nhs.uk/summary-care-record/FHIR/R4/"

[app]
api_key_env = "SCR_API_KEY"
kid = "k1"
private_key_file = "keys/private.pem"
client_secret_file = "keys/secret.txt"

[cis2]
flow = "combined"
persona = "default-clinician"
"#;

    fn parse(text: &str) -> Result<Site, SiteError> {
        Site::parse(Path::new("/sites/a/site.toml"), text)
    }

    #[test]
    fn a_good_site_parses_with_paths_relative_to_the_file() {
        let site = parse(GOOD).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(site.private_key_file, PathBuf::from("/sites/a/keys/private.pem"));
        assert_eq!(site.client_secret, Some(SecretSource::File("/sites/a/keys/secret.txt".into())));
        assert_eq!(site.api_key, SecretSource::Env("SCR_API_KEY".into()));
        assert_eq!(site.flow, Cis2Flow::Combined);
        assert!(!site.scr_base_url.ends_with('/'));
    }

    #[test]
    fn inline_secrets_are_refused_naming_the_key() {
        let text = GOOD.replace("api_key_env = \"SCR_API_KEY\"", "api_key = \"abc123\"");
        let e = parse(&text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("`app.api_key` holds a secret inline") && e.contains("api_key_file"), "{e}");
        let text = GOOD.replace("persona = \"default-clinician\"", "id_token = \"eyJ...\"");
        let e = parse(&text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("`cis2.id_token`"), "{e}");
    }

    #[test]
    fn missing_or_doubled_sources_and_unknown_keys_are_clear_errors() {
        let e = parse(&GOOD.replace("api_key_env = \"SCR_API_KEY\"\n", "")).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("api_key_file` or `api_key_env"));
        let e = parse(&GOOD.replace("kid = \"k1\"", "kid = \"k1\"\napi_key_file = \"x\"")).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("not both"));
        let e = parse(&GOOD.replace("kid = \"k1\"", "kid = \"k1\"\ncolour = \"red\"")).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("colour"));
        let e = parse(&GOOD.replace("client_secret_file = \"keys/secret.txt\"\n", "")).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("combined"));
    }

    #[test]
    fn secrets_load_from_files_and_env_and_say_what_is_missing() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let f = dir.path().join("s.txt");
        std::fs::write(&f, "# test-only\n\n  value\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(SecretSource::File(f).load("api key").ok().map(|s| s.expose().to_owned()), Some("value".into()));
        let e = SecretSource::Env("SCR_ASSURE_SURELY_UNSET_VAR".into()).load("api key").err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("api key: environment variable SCR_ASSURE_SURELY_UNSET_VAR is not set"));
    }

    #[test]
    fn the_http_table_sets_the_bounds_and_names_a_bad_key() {
        assert_eq!(parse(GOOD).map(|s| s.http).ok(), Some(ClientOptions::default()));
        let text =
            format!("{GOOD}\n[http]\nconnect_timeout = 2\ntimeout = 0.5\ndeadline = 60\nmax_response_bytes = 1024\n");
        let http = parse(&text).unwrap_or_else(|e| panic!("{e}")).http;
        assert_eq!(http.connect_timeout, std::time::Duration::from_secs(2));
        assert_eq!(http.read_timeout, std::time::Duration::from_millis(500));
        assert_eq!(http.deadline, std::time::Duration::from_secs(60));
        assert_eq!(http.max_response_bytes, 1024);
        for (line, named) in [
            ("timeout = 0", "[http] timeout must be a number of seconds above 0"),
            ("connect_timeout = -3", "[http] connect_timeout must be a number of seconds above 0"),
            ("deadline = \"soon\"", "[http] deadline must be a number of seconds, got \"soon\""),
            ("max_response_bytes = 0", "[http] max_response_bytes must be a whole number of bytes above 0"),
            ("max_response_bytes = 1.5", "[http] max_response_bytes must be a whole number of bytes, got 1.5"),
            ("retries = 3", "unknown key [http] retries"),
        ] {
            let e = parse(&format!("{GOOD}\n[http]\n{line}\n")).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(named), "{line}: {e}");
        }
    }

    #[test]
    fn identifiers_are_checked_for_shape() {
        assert!(ods_code_ok("A12345") && ods_code_ok("RBA") && !ods_code_ok("a1") && !ods_code_ok("A1234567"));
        assert!(asid_ok("200000001162") && !asid_ok("12345") && !asid_ok("20000000116x"));
        assert!(urid_ok("555254242102") && !urid_ok("55525424210a") && !urid_ok(""));
    }
}
