//! `sut.toml`: the system under test, its app registration and how to drive it (`docs/CLIENT.md` §4).
//!
//! ```toml
//! [sut]
//! name = "Example GP System"          # required
//! version = "4.2.0"                   # required
//! driver = "command"                  # required: command | http | attended
//! action_timeout = 30                 # seconds, > 0, fractions allowed (default 30)
//!
//! [app]                               # required: how the SUT authenticates to the mock identity service
//! api_key = "..."                     # exactly one of api_key | api_key_env | api_key_file (the client id)
//! kid = "..."                         # required with public_key_file
//! public_key_file = "sut-public.pem"  # exactly one of public_key_file (PEM RSA public key) |
//!                                     #   jwks_file (a JWK Set of public keys) | jwks_url (the mock fetches it)
//! client_secret_env = "SUT_SECRET"    # optional: or client_secret_file; an inline client_secret is refused
//!
//! [app.rotation]                      # optional: the key the SUT rotates to (key-rotation scenario)
//! kid = "..."                         # required with public_key_file; with jwks_file, defaults to the
//!                                     #   kid of the set's only key
//! public_key_file = "next.pem"        # exactly one of public_key_file | jwks_file; both the current and the
//!                                     #   rotation keys must then be files (the harness registers them)
//!
//! [actions]                           # command driver (at least one): argv templates, run without a shell
//! retrieve = ["python3", "my_client.py", "retrieve", "{nhs_number}"]
//! retrieve_with_answer = ["python3", "my_client.py", "ask", "{nhs_number}", "{answer}"]
//! emergency_access = ["python3", "my_client.py", "override", "{nhs_number}", "{reason}"]
//! upload = ["python3", "my_client.py", "upload", "{nhs_number}", "{bundle_file}"]
//! rotate_key = ["python3", "my_client.py", "rotate-key", "{kid}"]
//!
//! [http]                              # http driver (required for it)
//! url = "http://127.0.0.1:7000/scr-assure-hook"
//! ```
//!
//! Action names are those of [`Action::ALL`]; a `{placeholder}` must be one of that action's
//! [`Action::parameters`]. Relative paths (key files, secret files, and a program named with a `/`) are
//! relative to the sut.toml, and a command action runs in the sut.toml's directory. Every refusal names the file,
//! the key and (where there is one) the line; no secret value is ever printed.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use serde_json::{json, Value};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::driver::Attended;
use super::Action;
use crate::config::site::SecretSource;
use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriverKind {
    Command,
    Http,
    Attended,
}

impl DriverKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Command => "command",
            Self::Http => "http",
            Self::Attended => "attended",
        }
    }
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
        let mut body = json!({ "name": name, "apiKey": self.api_key.expose() });
        if let Some(kid) = &self.kid {
            body["kid"] = json!(kid);
        }
        match &self.keys {
            PublicKeys::JwksUrl(url) => body["jwksUrl"] = json!(url),
            keys => body["jwks"] = json!({ "keys": key_set(keys, self.kid.as_deref(), "[app]")? }),
        }
        if let Some(secret) = &self.client_secret {
            body["clientSecret"] = json!(secret.expose());
        }
        Ok(body)
    }

    /// The JWK Set with both the current and the rotation key (key rotation, step 1).
    pub fn rotation_jwks(&self) -> Result<Option<Value>, SutConfigError> {
        let Some(rotation) = &self.rotation else { return Ok(None) };
        let mut keys = key_set(&self.keys, self.kid.as_deref(), "[app]")?;
        keys.extend(key_set(&rotation.keys, Some(&rotation.kid), "[app.rotation]")?);
        Ok(Some(json!({ "keys": keys })))
    }

    /// The JWK Set with only the rotation key (key rotation, step 2: the old key withdrawn).
    pub fn rotated_jwks(&self) -> Result<Option<Value>, SutConfigError> {
        let Some(rotation) = &self.rotation else { return Ok(None) };
        Ok(Some(json!({ "keys": key_set(&rotation.keys, Some(&rotation.kid), "[app.rotation]")? })))
    }
}

/// The public JWKs of a key source that is a file (a JWKS URL has none to give: an error).
pub(crate) fn key_set(keys: &PublicKeys, kid: Option<&str>, section: &str) -> Result<Vec<Value>, SutConfigError> {
    match keys {
        PublicKeys::PemFile(path) => {
            let key = format!("{section} public_key_file");
            let Some(kid) = kid else {
                return Err(invalid_at(path, &key, "a PEM public key needs a `kid` beside it".into()));
            };
            let bytes = std::fs::read(path).map_err(|e| invalid_at(path, &key, format!("cannot read it: {e}")))?;
            let what = path.display().to_string();
            let jwk = crate::identity::keys::public_jwk_from_pem(&bytes, kid, &what)
                .map_err(|e| invalid_at(path, &key, e.to_string()))?;
            let jwk = serde_json::to_value(jwk).map_err(|e| invalid_at(path, &key, e.to_string()))?;
            Ok(vec![jwk])
        }
        PublicKeys::JwksFile(path) => read_jwks_file(path, &format!("{section} jwks_file")),
        PublicKeys::JwksUrl(url) => Err(SutConfigError::Invalid {
            file: url.clone(),
            line: None,
            key: format!("{section} jwks_url"),
            reason: "the keys are published at a URL: scr-assure cannot register a JWK Set for them".into(),
        }),
    }
}

/// Members only a private JWK has.
const PRIVATE_JWK_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A JWK Set file's keys: each a public JWK (jsonwebtoken's `Jwk` shape), at least one.
fn read_jwks_file(path: &Path, key: &str) -> Result<Vec<Value>, SutConfigError> {
    let err = |reason: String| invalid_at(path, key, reason);
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read it: {e}")))?;
    let set: Value = serde_json::from_str(&text).map_err(|e| err(format!("not a JWK Set: it is not JSON ({e})")))?;
    let Some(keys) = set.get("keys").and_then(Value::as_array) else {
        return Err(err("not a JWK Set: no `keys` array".into()));
    };
    if keys.is_empty() {
        return Err(err("the JWK Set has no keys".into()));
    }
    for (i, jwk) in keys.iter().enumerate() {
        // Before the shape check, whose message could quote a member.
        if let Some(member) = PRIVATE_JWK_MEMBERS.iter().find(|m| jwk.get(**m).is_some()) {
            return Err(err(format!(
                "keys[{i}] is a private key (it has `{member}`): give the public keys only, and keep the private key \
                 out of this file"
            )));
        }
        if let Err(e) = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(jwk.clone()) {
            return Err(err(format!("keys[{i}] is not a JWK: {e}")));
        }
    }
    Ok(keys.clone())
}

/// The `kid`s of a JWK Set's keys.
pub(crate) fn kids(keys: &[Value]) -> Vec<String> {
    keys.iter().filter_map(|k| k.get("kid").and_then(Value::as_str)).map(str::to_owned).collect()
}

fn invalid_at(path: &Path, key: &str, reason: String) -> SutConfigError {
    SutConfigError::Invalid { file: path.display().to_string(), line: None, key: key.to_owned(), reason }
}

/// A parsed `sut.toml`.
#[derive(Debug, Clone)]
pub struct SutConfig {
    pub name: String,
    pub version: String,
    pub driver: DriverKind,
    pub action_timeout: Duration,
    pub app: SutApp,
    /// Command driver: argv templates by action (a relative program path made absolute against the file).
    pub actions: BTreeMap<Action, Vec<String>>,
    /// Http driver: the hook URL.
    pub http_url: Option<String>,
    /// The file it was read from (`None` for the bundled reference client).
    pub file: Option<PathBuf>,
    /// Attended driver: where the instruction is written and the confirmation read (`None`: the terminal,
    /// stderr and stdin).
    pub attended_io: Option<Attended>,
}

#[derive(Debug, thiserror::Error)]
pub enum SutConfigError {
    #[error("cannot read the SUT file {file}: {reason}")]
    Read { file: String, reason: String },
    #[error("{file}{}: {key}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid { file: String, line: Option<usize>, key: String, reason: String },
}

/// The default `action_timeout`.
pub const DEFAULT_ACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// The reference client's identity (`fixtures/identity/README.md`).
pub const REFERENCE_API_KEY: &str = "scr-assure-reference-client-key";
pub const REFERENCE_KID: &str = "scr-assure-reference-1";
pub const REFERENCE_NEXT_KID: &str = "scr-assure-reference-2";
pub const REFERENCE_NAME: &str = "scr-assure reference client";

/// `{name}` in an argv template (names with `-` or `.` count, so that a misspelt one is refused rather than
/// passed literally; JSON such as `{"a":1}` is not a placeholder).
static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{([A-Za-z0-9_.\-]+)\}").unwrap_or_else(|e| unreachable!("constant regex: {e}")));

/// The placeholders of one argv element.
pub(crate) fn placeholders(element: &str) -> impl Iterator<Item = &str> {
    PLACEHOLDER.captures_iter(element).filter_map(|c| c.get(1)).map(|m| m.as_str())
}

/// An argv element with its placeholders replaced by `params` (a value stays inside its one element); the first
/// placeholder without a value is the error.
pub(crate) fn render(element: &str, params: &BTreeMap<String, String>) -> Result<String, String> {
    if let Some(missing) = placeholders(element).find(|p| !params.contains_key(*p)) {
        return Err(missing.to_owned());
    }
    Ok(PLACEHOLDER
        .replace_all(element, |c: &regex::Captures<'_>| {
            c.get(1).and_then(|m| params.get(m.as_str())).cloned().unwrap_or_default()
        })
        .into_owned())
}

impl SutConfig {
    pub fn load(path: &Path) -> Result<Self, SutConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SutConfigError::Read { file: path.display().to_string(), reason: e.to_string() })?;
        Self::parse(path, &text)
    }

    /// Parses `text` as if read from `path` (relative paths are relative to `path`'s directory).
    pub fn parse(path: &Path, text: &str) -> Result<Self, SutConfigError> {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let base = path.parent().map(Path::to_owned).unwrap_or_else(|| PathBuf::from("."));
        let doc = Doc { file: path.display().to_string(), text };
        let root = DeTable::parse(text).map_err(|e| {
            let line = e.span().map(|s| doc.line(s.start));
            SutConfigError::Invalid {
                file: doc.file.clone(),
                line,
                key: "TOML".into(),
                reason: e.message().trim().to_owned(),
            }
        })?;
        let top = Section { doc: &doc, name: "", table: root.get_ref(), span: None };
        top.only(&["sut", "app", "actions", "http"])?;

        let sut = top.table_req("sut")?;
        sut.only(&["name", "version", "driver", "action_timeout"])?;
        let name = sut.text_req("name")?;
        let version = sut.text_req("version")?;
        let (driver_name, driver_span) = sut.str_req("driver")?;
        let driver = match driver_name.as_str() {
            "command" => DriverKind::Command,
            "http" => DriverKind::Http,
            "attended" => DriverKind::Attended,
            other => {
                return Err(sut.err_at(
                    "driver",
                    Some(driver_span),
                    format!("'{other}' is not a driver; use command, http or attended"),
                ))
            }
        };
        let action_timeout = match sut.get("action_timeout") {
            None => DEFAULT_ACTION_TIMEOUT,
            Some(v) => {
                let seconds = match v.get_ref() {
                    DeValue::Integer(i) => {
                        i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok().map(|i| i as f64)
                    }
                    DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
                    other => {
                        return Err(sut.err_at(
                            "action_timeout",
                            Some(v.span()),
                            format!("must be a number of seconds, got {}", other.type_str()),
                        ))
                    }
                };
                let seconds = seconds.unwrap_or(f64::NAN);
                crate::client::seconds_setting("it", seconds)
                    .map_err(|reason| sut.err_at("action_timeout", Some(v.span()), reason))?
            }
        };

        let app_section = top.table_req("app")?;
        let app = read_app(&app_section, &base)?;

        let mut actions = BTreeMap::new();
        if let Some(section) = top.table_opt("actions")? {
            for (key, value) in section.table {
                let action_name = key.get_ref().as_ref();
                let Some(action) = Action::parse(action_name) else {
                    let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                    return Err(section.err_at(
                        action_name,
                        Some(key.span()),
                        format!("unknown action; the actions are {}", known.join(", ")),
                    ));
                };
                let argv = section.argv(action, action_name, value, &base)?;
                actions.insert(action, argv);
            }
            if actions.is_empty() && driver == DriverKind::Command {
                return Err(section.err_at(
                    "",
                    section.span.clone(),
                    "the command driver needs at least one action".into(),
                ));
            }
        } else if driver == DriverKind::Command {
            return Err(top.err_at(
                "[actions]",
                None,
                "missing: the command driver needs an argv template per action".into(),
            ));
        }

        let mut http_url = None;
        if let Some(http) = top.table_opt("http")? {
            http.only(&["url"])?;
            let (url, span) = http.str_req("url")?;
            crate::config::guard::check_url(&format!("{} [http] url", doc.file), &url, false)
                .map_err(|e| http.err_at("url", Some(span), e.to_string()))?;
            http_url = Some(url);
        }
        if driver == DriverKind::Http && http_url.is_none() {
            return Err(top.err_at("[http] url", None, "missing: the http driver needs the hook's URL".into()));
        }

        Ok(Self {
            name,
            version,
            driver,
            action_timeout,
            app,
            actions,
            http_url,
            file: Some(path.clone()),
            attended_io: None,
        })
    }

    /// The bundled reference client run by `program` (the scr-assure binary) with these defects.
    pub fn reference_client(program: &Path, defects: &[String]) -> Result<Self, SutConfigError> {
        let fixtures = crate::identity::default_fixtures_dir();
        let secret_file = fixtures.join("reference-client-secret.txt");
        let client_secret = SecretSource::File(secret_file.clone())
            .load("the reference client's secret")
            .map_err(|e| invalid_at(&secret_file, "[app] client_secret_file", e.to_string()))?;
        let mut prefix = vec![program.display().to_string(), "reference-client".to_owned()];
        for defect in defects {
            prefix.extend(["--defect".to_owned(), defect.clone()]);
        }
        let path = |name: &str| fixtures.join(name).display().to_string();
        prefix.extend([
            // From a file: the argv is recorded in the evidence, and an API key is a secret.
            "--api-key-file".to_owned(),
            path("reference-client-api-key.txt"),
            "--kid".to_owned(),
            REFERENCE_KID.to_owned(),
            "--key".to_owned(),
            path("reference-client-private-key.pem"),
            "--next-key".to_owned(),
            path("reference-client-next-private-key.pem"),
            "--client-secret-file".to_owned(),
            secret_file.display().to_string(),
        ]);
        let actions = Action::ALL
            .into_iter()
            .map(|action| {
                let mut argv = prefix.clone();
                argv.push(action.as_str().to_owned());
                argv.extend(action.parameters().iter().map(|p| format!("{{{p}}}")));
                (action, argv)
            })
            .collect();
        let mut version = env!("CARGO_PKG_VERSION").to_owned();
        if !defects.is_empty() {
            version.push_str(&format!(" (defects: {})", defects.join(", ")));
        }
        Ok(Self {
            name: REFERENCE_NAME.to_owned(),
            version,
            driver: DriverKind::Command,
            action_timeout: DEFAULT_ACTION_TIMEOUT,
            app: SutApp {
                api_key: Secret::new(REFERENCE_API_KEY),
                kid: Some(REFERENCE_KID.to_owned()),
                keys: PublicKeys::PemFile(fixtures.join("reference-client-public-key.pem")),
                client_secret: Some(client_secret),
                rotation: Some(RotationKey {
                    kid: REFERENCE_NEXT_KID.to_owned(),
                    keys: PublicKeys::PemFile(fixtures.join("reference-client-next-public-key.pem")),
                }),
            },
            actions,
            http_url: None,
            file: None,
            attended_io: None,
        })
    }

    /// The file's name for messages (`the reference client` when bundled).
    pub fn describe_file(&self) -> String {
        self.file.as_ref().map(|f| f.display().to_string()).unwrap_or_else(|| "the bundled reference client".into())
    }

    /// Where a command action runs: the sut.toml's directory (the current directory for the reference client).
    pub fn work_dir(&self) -> Option<&Path> {
        self.file.as_deref().and_then(Path::parent)
    }
}

/// The `[app]` table.
fn read_app(app: &Section<'_, '_>, base: &Path) -> Result<SutApp, SutConfigError> {
    if let Some(v) = app.get("client_secret") {
        return Err(app.err_at(
            "client_secret",
            Some(v.span()),
            "holds a secret inline; name a file (`client_secret_file = \"...\"`) or an environment variable \
             (`client_secret_env = \"...\"`) instead"
                .into(),
        ));
    }
    app.only(&[
        "api_key",
        "api_key_env",
        "api_key_file",
        "kid",
        "public_key_file",
        "jwks_file",
        "jwks_url",
        "client_secret_env",
        "client_secret_file",
        "rotation",
    ])?;
    let api_key = match app.exactly_one(&["api_key", "api_key_env", "api_key_file"], true)? {
        Some(("api_key", value, span)) => {
            if value.trim().is_empty() {
                return Err(app.err_at("api_key", Some(span), "is empty".into()));
            }
            Secret::new(value.trim())
        }
        Some((key, value, span)) => app.secret(key, &value, span, base)?,
        None => unreachable!("exactly_one with required = true"),
    };
    let client_secret = match app.exactly_one(&["client_secret_env", "client_secret_file"], false)? {
        Some((key, value, span)) => Some(app.secret(key, &value, span, base)?),
        None => None,
    };
    let kid = app.text_opt("kid")?;
    let keys = app.key_source(kid.as_deref(), &["public_key_file", "jwks_file", "jwks_url"], base)?;
    let rotation = match app.table_opt("rotation")? {
        None => None,
        Some(rot) => {
            rot.only(&["kid", "public_key_file", "jwks_file"])?;
            if let PublicKeys::JwksUrl(_) = keys {
                return Err(app.err_at(
                    "rotation",
                    rot.span.clone(),
                    "key rotation needs the current key as a file (public_key_file or jwks_file): scr-assure \
                     registers the rotated key set with the mock"
                        .into(),
                ));
            }
            let rot_kid = rot.text_opt("kid")?;
            let rot_keys = rot.key_source(rot_kid.as_deref(), &["public_key_file", "jwks_file"], base)?;
            let kid = match (rot_kid, &rot_keys) {
                (Some(kid), _) => kid,
                (None, PublicKeys::JwksFile(path)) => {
                    let found = kids(&read_jwks_file(path, "[app.rotation] jwks_file")?);
                    match found.as_slice() {
                        [one] => one.clone(),
                        _ => {
                            return Err(rot.err_at(
                                "kid",
                                rot.span.clone(),
                                format!(
                                    "missing: the JWK Set has {} kids; say which one the SUT rotates to",
                                    found.len()
                                ),
                            ))
                        }
                    }
                }
                (None, _) => return Err(rot.err_at("kid", rot.span.clone(), "missing".into())),
            };
            Some(RotationKey { kid, keys: rot_keys })
        }
    };
    Ok(SutApp { api_key, kid, keys, client_secret, rotation })
}

/// A key found, its string value and its span.
type Found = (&'static str, String, Range<usize>);

/// The text being parsed, for lines.
struct Doc<'t> {
    file: String,
    text: &'t str,
}

impl Doc<'_> {
    /// The 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
    }
}

/// One table of the file, with its name for messages (`[app]`) and its span.
struct Section<'d, 'i> {
    doc: &'d Doc<'d>,
    name: &'static str,
    table: &'d DeTable<'i>,
    span: Option<Range<usize>>,
}

impl<'d, 'i> Section<'d, 'i> {
    fn key_name(&self, key: &str) -> String {
        match (self.name.is_empty(), key.is_empty()) {
            (true, _) => key.to_owned(),
            (false, true) => self.name.to_owned(),
            (false, false) => format!("{} {key}", self.name),
        }
    }

    fn err_at(&self, key: &str, span: Option<Range<usize>>, reason: String) -> SutConfigError {
        SutConfigError::Invalid {
            file: self.doc.file.clone(),
            line: span.or_else(|| self.span.clone()).map(|s| self.doc.line(s.start)),
            key: self.key_name(key),
            reason,
        }
    }

    fn get(&self, key: &str) -> Option<&'d Spanned<DeValue<'i>>> {
        self.table.iter().find(|(k, _)| k.get_ref().as_ref() == key).map(|(_, v)| v)
    }

    /// Refuses the first key not in `allowed`.
    fn only(&self, allowed: &[&str]) -> Result<(), SutConfigError> {
        for (key, _) in self.table {
            let name = key.get_ref().as_ref();
            if !allowed.contains(&name) {
                let section = if self.name.is_empty() { "the file" } else { self.name };
                let takes: Vec<String> = allowed
                    .iter()
                    .map(|k| if self.name.is_empty() { format!("[{k}]") } else { (*k).to_owned() })
                    .collect();
                return Err(self.err_at(
                    name,
                    Some(key.span()),
                    format!("unknown key; {section} takes {}", takes.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn sub(&self, key: &str, value: &'d Spanned<DeValue<'i>>) -> Result<Section<'d, 'i>, SutConfigError> {
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.err_at(
                key,
                Some(value.span()),
                format!("must be a table, got {}", value.get_ref().type_str()),
            ));
        };
        let name = match (self.name, key) {
            ("", "sut") => "[sut]",
            ("", "app") => "[app]",
            ("", "actions") => "[actions]",
            ("", "http") => "[http]",
            ("[app]", "rotation") => "[app.rotation]",
            _ => "[?]",
        };
        // The key's span: the `[header]` line (a table's own span may start at its first key).
        let span = self.table.iter().find(|(k, _)| k.get_ref().as_ref() == key).map(|(k, _)| k.span());
        Ok(Section { doc: self.doc, name, table, span })
    }

    fn table_opt(&self, key: &str) -> Result<Option<Section<'d, 'i>>, SutConfigError> {
        self.get(key).map(|v| self.sub(key, v)).transpose()
    }

    fn table_req(&self, key: &str) -> Result<Section<'d, 'i>, SutConfigError> {
        self.table_opt(key)?.ok_or_else(|| self.err_at(&format!("[{key}]"), None, "missing".into()))
    }

    fn str_opt(&self, key: &str) -> Result<Option<(String, Range<usize>)>, SutConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.get_ref() {
                DeValue::String(s) => Ok(Some((s.to_string(), v.span()))),
                other => Err(self.err_at(key, Some(v.span()), format!("must be a string, got {}", other.type_str()))),
            },
        }
    }

    fn str_req(&self, key: &str) -> Result<(String, Range<usize>), SutConfigError> {
        self.str_opt(key)?.ok_or_else(|| self.err_at(key, None, "missing (required)".into()))
    }

    /// A required non-blank string.
    fn text_req(&self, key: &str) -> Result<String, SutConfigError> {
        let (value, span) = self.str_req(key)?;
        if value.trim().is_empty() {
            return Err(self.err_at(key, Some(span), "is empty".into()));
        }
        Ok(value.trim().to_owned())
    }

    fn text_opt(&self, key: &str) -> Result<Option<String>, SutConfigError> {
        match self.str_opt(key)? {
            Some((value, span)) if value.trim().is_empty() => Err(self.err_at(key, Some(span), "is empty".into())),
            found => Ok(found.map(|(v, _)| v.trim().to_owned())),
        }
    }

    /// The one key of `keys` present (a string), refusing two; `None` when none is and `required` is false.
    fn exactly_one(&self, keys: &[&'static str], required: bool) -> Result<Option<Found>, SutConfigError> {
        let mut present: Vec<Found> = Vec::new();
        for key in keys {
            if let Some((value, span)) = self.str_opt(key)? {
                present.push((key, value, span));
            }
        }
        // Two given: the later one in the file is the one to remove.
        present.sort_by_key(|(_, _, span)| span.start);
        if let [(first, _, _), (second, _, span), ..] = present.as_slice() {
            return Err(self.err_at(second, Some(span.clone()), format!("give `{first}` or `{second}`, not both")));
        }
        let found = present.pop();
        if found.is_none() && required {
            let list: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
            return Err(self.err_at("", None, format!("needs one of {}", list.join(", "))));
        }
        Ok(found)
    }

    /// A secret named by a `*_env` or `*_file` key, read now.
    fn secret(&self, key: &str, value: &str, span: Range<usize>, base: &Path) -> Result<Secret, SutConfigError> {
        let source = if key.ends_with("_env") {
            SecretSource::Env(value.to_owned())
        } else {
            SecretSource::File(base.join(value))
        };
        source.load(&self.key_name(key)).map_err(|e| {
            let reason = match e {
                crate::config::site::SiteError::Secret { message, .. } => message,
                other => other.to_string(),
            };
            self.err_at(key, Some(span), reason)
        })
    }

    /// The public keys: exactly one of `keys`, checked now (a PEM RSA public key needs `kid`; a JWK Set file
    /// must be one, of public keys; a URL must be one).
    fn key_source(&self, kid: Option<&str>, keys: &[&'static str], base: &Path) -> Result<PublicKeys, SutConfigError> {
        let Some((key, value, span)) = self.exactly_one(keys, true)? else {
            unreachable!("exactly_one with required = true")
        };
        let at = |reason: String| self.err_at(key, Some(span.clone()), reason);
        match key {
            "public_key_file" => {
                let path = base.join(&value);
                let Some(kid) = kid else {
                    return Err(self.err_at(
                        "kid",
                        Some(span.clone()),
                        "missing: required with public_key_file".into(),
                    ));
                };
                let bytes = std::fs::read(&path).map_err(|e| at(format!("cannot read {}: {e}", path.display())))?;
                if String::from_utf8_lossy(&bytes).contains("PRIVATE KEY") {
                    return Err(at(format!(
                        "{} holds a private key: give the public key (openssl rsa -in KEY -pubout)",
                        path.display()
                    )));
                }
                crate::identity::keys::public_jwk_from_pem(&bytes, kid, &path.display().to_string())
                    .map_err(|e| at(e.to_string()))?;
                Ok(PublicKeys::PemFile(path))
            }
            "jwks_file" => {
                let path = base.join(&value);
                read_jwks_file(&path, &self.key_name(key)).map_err(|e| match e {
                    SutConfigError::Invalid { reason, .. } => at(format!("{}: {reason}", path.display())),
                    other => other,
                })?;
                Ok(PublicKeys::JwksFile(path))
            }
            _ => {
                crate::config::guard::check_url(&format!("{} {}", self.doc.file, self.key_name(key)), &value, false)
                    .map_err(|e| at(e.to_string()))?;
                Ok(PublicKeys::JwksUrl(value))
            }
        }
    }

    /// An `[actions]` entry: an array of strings, program first, each placeholder one of the action's.
    fn argv(
        &self,
        action: Action,
        key: &str,
        value: &Spanned<DeValue<'_>>,
        base: &Path,
    ) -> Result<Vec<String>, SutConfigError> {
        let at = |span: Range<usize>, reason: String| self.err_at(key, Some(span), reason);
        let DeValue::Array(items) = value.get_ref() else {
            return Err(at(
                value.span(),
                format!("must be an array of strings (program, then arguments), got {}", value.get_ref().type_str()),
            ));
        };
        let mut argv = Vec::with_capacity(items.len());
        for item in items.iter() {
            let DeValue::String(s) = item.get_ref() else {
                return Err(at(
                    item.span(),
                    format!("every element must be a string, got {}", item.get_ref().type_str()),
                ));
            };
            if let Some(bad) = placeholders(s).find(|p| !action.parameters().contains(p)) {
                let allowed: Vec<String> = action.parameters().iter().map(|p| format!("{{{p}}}")).collect();
                return Err(at(
                    item.span(),
                    format!("unknown placeholder {{{bad}}}; the {action} action has {}", allowed.join(", ")),
                ));
            }
            argv.push(s.to_string());
        }
        match argv.first_mut() {
            None => return Err(at(value.span(), "is empty: give the program and its arguments".into())),
            Some(program) if program.trim().is_empty() => {
                return Err(at(value.span(), "the program (first element) is empty".into()))
            }
            Some(program) if placeholders(program).next().is_some() => {
                return Err(at(value.span(), "the program (first element) cannot be a placeholder".into()))
            }
            Some(program) => {
                if program.contains('/') && Path::new(program.as_str()).is_relative() {
                    let relative = program.strip_prefix("./").unwrap_or(program.as_str());
                    *program = base.join(relative).display().to_string();
                }
            }
        }
        Ok(argv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"[sut]
name = "Example GP System"
version = "4.2.0"
driver = "command"
action_timeout = 2.5

[app]
api_key_file = "keys/api-key.txt"
kid = "sut-1"
public_key_file = "keys/public.pem"
client_secret_file = "keys/secret.txt"

[app.rotation]
kid = "sut-2"
public_key_file = "keys/next.pem"

[actions]
retrieve = ["python3", "my_client.py", "retrieve", "{nhs_number}"]
retrieve_with_answer = ["./bin/client", "ask", "--nhs={nhs_number}", "{answer}"]
emergency_access = ["/usr/bin/env", "override", "{nhs_number}", "{reason}"]
upload = ["python3", "my_client.py", "upload", "{nhs_number}", "{bundle_file}"]
rotate_key = ["python3", "my_client.py", "rotate-key", "{kid}"]
"#;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/identity").join(name)
    }

    /// A directory holding the keys and the secret GOOD names.
    fn site() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let keys = dir.path().join("keys");
        std::fs::create_dir(&keys).unwrap_or_else(|e| panic!("{e}"));
        for (from, to) in [
            ("reference-client-public-key.pem", "public.pem"),
            ("reference-client-next-public-key.pem", "next.pem"),
            ("reference-client-private-key.pem", "private.pem"),
        ] {
            std::fs::copy(fixture(from), keys.join(to)).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(keys.join("secret.txt"), "# test-only\ns3cr3t-value\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(keys.join("api-key.txt"), "sut-api-key-from-file\n").unwrap_or_else(|e| panic!("{e}"));
        let pem = std::fs::read(keys.join("public.pem")).unwrap_or_else(|e| panic!("{e}"));
        let jwk = crate::identity::keys::public_jwk_from_pem(&pem, "jwks-kid", "pem").unwrap_or_else(|e| panic!("{e}"));
        let set = json!({ "keys": [jwk] });
        std::fs::write(keys.join("jwks.json"), set.to_string()).unwrap_or_else(|e| panic!("{e}"));
        dir
    }

    fn parse(dir: &tempfile::TempDir, text: &str) -> Result<SutConfig, SutConfigError> {
        SutConfig::parse(&dir.path().join("sut.toml"), text)
    }

    fn refusal(dir: &tempfile::TempDir, text: &str) -> String {
        match parse(dir, text) {
            Ok(_) => panic!("must be refused:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    /// The 1-based line of the first line of `text` containing `marker`.
    fn line_of(text: &str, marker: &str) -> usize {
        text.lines().position(|l| l.contains(marker)).map(|i| i + 1).unwrap_or_else(|| panic!("no {marker}"))
    }

    #[test]
    fn a_good_file_parses_with_paths_relative_to_it() {
        let dir = site();
        let sut = parse(&dir, GOOD).unwrap_or_else(|e| panic!("{e}"));
        let base = std::path::absolute(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((sut.name.as_str(), sut.version.as_str()), ("Example GP System", "4.2.0"));
        assert_eq!(sut.driver, DriverKind::Command);
        assert_eq!(sut.action_timeout, Duration::from_millis(2500));
        assert_eq!(sut.app.api_key.expose(), "sut-api-key-from-file");
        assert_eq!(sut.app.client_secret.as_ref().map(Secret::expose), Some("s3cr3t-value"));
        assert_eq!(sut.app.keys, PublicKeys::PemFile(base.join("keys/public.pem")));
        assert_eq!(
            sut.app.rotation,
            Some(RotationKey { kid: "sut-2".into(), keys: PublicKeys::PemFile(base.join("keys/next.pem")) })
        );
        assert_eq!(sut.actions.len(), 5);
        assert_eq!(sut.actions[&Action::Retrieve][0], "python3", "a bare program name stays for PATH");
        assert_eq!(sut.actions[&Action::RetrieveWithAnswer][0], base.join("bin/client").display().to_string());
        assert_eq!(sut.actions[&Action::EmergencyAccess][0], "/usr/bin/env");
        assert_eq!(sut.work_dir(), Some(base.as_path()));
        assert!(!format!("{sut:?}").contains("s3cr3t-value") && !format!("{sut:?}").contains("sut-api-key-from-file"));
        // A variable (read only: tests never set the environment).
        let from_env = GOOD.replace("api_key_file = \"keys/api-key.txt\"", "api_key_env = \"PATH\"");
        let path_var = std::env::var("PATH").unwrap_or_default();
        assert_eq!(parse(&dir, &from_env).ok().map(|s| s.app.api_key.expose() == path_var.trim()), Some(true));
        let minimal = GOOD.replace("action_timeout = 2.5\n", "");
        assert_eq!(parse(&dir, &minimal).map(|s| s.action_timeout).ok(), Some(DEFAULT_ACTION_TIMEOUT));
    }

    #[test]
    fn each_refusal_names_the_file_the_key_and_the_line() {
        let dir = site();
        let file = std::path::absolute(dir.path().join("sut.toml")).unwrap_or_else(|e| panic!("{e}"));
        let file = file.display().to_string();
        // (change, the key named, the marker on the line named)
        let cases: Vec<(String, &str, &str)> = vec![
            (
                GOOD.replace("kid = \"sut-1\"", "kid = \"sut-1\"\ncolour = \"red\""),
                "[app] colour: unknown key",
                "colour",
            ),
            (format!("{GOOD}\n[extras]\nx = 1\n"), "extras: unknown key", "[extras]"),
            (GOOD.replace("version = \"4.2.0\"\n", ""), "[sut] version: missing", "[sut]"),
            (GOOD.replace("driver = \"command\"", "driver = \"ssh\""), "[sut] driver: 'ssh' is not a driver", "ssh"),
            (
                GOOD.replace("action_timeout = 2.5", "action_timeout = 0"),
                "[sut] action_timeout: it must be",
                "action_timeout",
            ),
            (GOOD.replace("action_timeout = 2.5", "action_timeout = -1"), "[sut] action_timeout", "action_timeout"),
            (
                GOOD.replace("action_timeout = 2.5", "action_timeout = \"30\""),
                "must be a number of seconds, got string",
                "action_timeout",
            ),
            (
                GOOD.replace("name = \"Example GP System\"", "name = 7"),
                "[sut] name: must be a string, got integer",
                "name = 7",
            ),
            (
                GOOD.replace("client_secret_file = \"keys/secret.txt\"", "client_secret = \"abc\""),
                "[app] client_secret: holds a secret inline; name a file (`client_secret_file",
                "client_secret =",
            ),
            (
                GOOD.replace("api_key_file = \"keys/api-key.txt\"", "api_key_env = \"SCR_ASSURE_SURELY_UNSET\""),
                "[app] api_key_env: environment variable SCR_ASSURE_SURELY_UNSET is not set",
                "api_key_env",
            ),
            (
                GOOD.replace("api_key_file = \"keys/api-key.txt\"", "api_key_env = \"A\"\napi_key = \"k\""),
                "[app] api_key: give `api_key_env` or `api_key`, not both",
                "api_key = ",
            ),
            (GOOD.replace("api_key_file = \"keys/api-key.txt\"\n", ""), "[app]: needs one of `api_key`", "[app]"),
            (
                GOOD.replace(
                    "public_key_file = \"keys/public.pem\"",
                    "public_key_file = \"keys/public.pem\"\njwks_url = \"https://example.org/j\"",
                ),
                "[app] jwks_url: give `public_key_file` or `jwks_url`, not both",
                "jwks_url",
            ),
            (GOOD.replace("keys/public.pem", "keys/absent.pem"), "[app] public_key_file: cannot read", "absent.pem"),
            (
                GOOD.replace("keys/public.pem", "keys/secret.txt"),
                "[app] public_key_file: ",
                "public_key_file = \"keys/secret.txt",
            ),
            (GOOD.replace("keys/public.pem", "keys/private.pem"), "holds a private key", "private.pem"),
            (
                GOOD.replace("client_secret_file = \"keys/secret.txt\"", "client_secret_file = \"keys/nope.txt\""),
                "[app] client_secret_file: cannot read",
                "nope.txt",
            ),
            (
                GOOD.replace("kid = \"sut-1\"\n", ""),
                "[app] kid: missing: required with public_key_file",
                "keys/public.pem",
            ),
            (GOOD.replace("kid = \"sut-2\"\n", ""), "[app.rotation] kid: missing", "keys/next.pem"),
            (
                GOOD.replace("retrieve = [", "browse = ["),
                "[actions] browse: unknown action; the actions are retrieve,",
                "browse",
            ),
            (
                GOOD.replace("\"{answer}\"", "\"{answr}\""),
                "[actions] retrieve_with_answer: unknown placeholder {answr}",
                "answr",
            ),
            (
                GOOD.replace("\"rotate-key\", \"{kid}\"", "\"rotate-key\", \"{nhs_number}\""),
                "[actions] rotate_key: unknown placeholder {nhs_number}; the rotate_key action has {kid}",
                "rotate-key",
            ),
            (
                GOOD.replace(
                    "[\"python3\", \"my_client.py\", \"retrieve\", \"{nhs_number}\"]",
                    "\"python3 my_client.py\"",
                ),
                "[actions] retrieve: must be an array of strings",
                "retrieve =",
            ),
            (
                GOOD.replace("\"retrieve\", \"{nhs_number}\"", "\"retrieve\", 5"),
                "[actions] retrieve: every element must be a string, got integer",
                "retrieve =",
            ),
            (
                GOOD.replace("[\"python3\", \"my_client.py\", \"retrieve\", \"{nhs_number}\"]", "[]"),
                "[actions] retrieve: is empty",
                "retrieve =",
            ),
            (GOOD.replace("driver = \"command\"", "driver = \"http\""), "[http] url: missing", "[sut]"),
            (format!("{GOOD}\n[http]\nurl = \"https://api.service.nhs.uk/hook\"\n"), "[http] url: refusing", "url ="),
            (format!("{GOOD}\n[http]\nurl = \"not a url\"\n"), "[http] url: ", "url ="),
            (GOOD.replace("name = \"Example GP System\"", "name = \"unterminated"), "TOML: ", "unterminated"),
        ];
        for (text, named, marker) in cases {
            let e = refusal(&dir, &text);
            let line = line_of(&text, marker);
            let expected_line = if named == "[http] url: missing" { None } else { Some(line) };
            match expected_line {
                Some(line) => assert!(e.starts_with(&format!("{file}:{line}: ")), "line {line} expected: {e}"),
                None => assert!(e.starts_with(&format!("{file}: ")), "{e}"),
            }
            assert!(e.contains(named), "{named} expected in: {e}");
            assert!(!e.contains("sut-api-key-from-file") && !e.contains("s3cr3t-value"), "{e}");
        }
        let missing = SutConfig::load(&dir.path().join("absent.toml")).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(missing.starts_with("cannot read the SUT file") && missing.contains("absent.toml"), "{missing}");
    }

    #[test]
    fn driver_specific_sections() {
        let dir = site();
        let http = GOOD.replace("driver = \"command\"", "driver = \"http\"")
            + "\n[http]\nurl = \"http://127.0.0.1:7000/scr-assure-hook\"\n";
        let sut = parse(&dir, &http).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sut.http_url.as_deref(), Some("http://127.0.0.1:7000/scr-assure-hook"));
        let no_actions = GOOD.split("[actions]").next().unwrap_or_default().to_owned();
        let e = refusal(&dir, &no_actions);
        assert!(e.contains("[actions]: missing: the command driver needs"), "{e}");
        let attended = no_actions.replace("driver = \"command\"", "driver = \"attended\"");
        assert_eq!(parse(&dir, &attended).map(|s| s.driver).ok(), Some(DriverKind::Attended));
        let empty_actions = format!("{no_actions}[actions]\n");
        assert!(refusal(&dir, &empty_actions).contains("needs at least one action"));
    }

    #[test]
    fn placeholders_render_into_one_element_each() {
        let params: BTreeMap<String, String> =
            [("nhs_number".to_owned(), "999 000; rm -rf /".to_owned())].into_iter().collect();
        assert_eq!(render("--nhs={nhs_number}", &params).as_deref(), Ok("--nhs=999 000; rm -rf /"));
        assert_eq!(render("{\"a\":1}", &params).as_deref(), Ok("{\"a\":1}"), "JSON is not a placeholder");
        assert_eq!(render("{answer}", &params), Err("answer".to_owned()));
        assert_eq!(placeholders("{a}-{b.c}{x y}").collect::<Vec<_>>(), ["a", "b.c"]);
    }

    #[test]
    fn the_reference_client_is_a_command_sut_with_every_action() {
        let defects = ["expired-assertion".to_owned(), "no-request-id".to_owned()];
        let sut = SutConfig::reference_client(Path::new("/opt/scr-assure"), &defects).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sut.name, "scr-assure reference client");
        assert_eq!(sut.version, format!("{} (defects: expired-assertion, no-request-id)", env!("CARGO_PKG_VERSION")));
        assert_eq!(
            (sut.driver, sut.action_timeout, sut.file.as_ref()),
            (DriverKind::Command, DEFAULT_ACTION_TIMEOUT, None)
        );
        let fixtures = crate::identity::default_fixtures_dir();
        let f = |name: &str| fixtures.join(name).display().to_string();
        let prefix = vec![
            "/opt/scr-assure".to_owned(),
            "reference-client".into(),
            "--defect".into(),
            "expired-assertion".into(),
            "--defect".into(),
            "no-request-id".into(),
            "--api-key-file".into(),
            f("reference-client-api-key.txt"),
            "--kid".into(),
            "scr-assure-reference-1".into(),
            "--key".into(),
            f("reference-client-private-key.pem"),
            "--next-key".into(),
            f("reference-client-next-private-key.pem"),
            "--client-secret-file".into(),
            f("reference-client-secret.txt"),
        ];
        for (action, tail) in [
            (Action::Retrieve, vec!["retrieve", "{nhs_number}"]),
            (Action::RetrieveWithAnswer, vec!["retrieve_with_answer", "{nhs_number}", "{answer}"]),
            (Action::EmergencyAccess, vec!["emergency_access", "{nhs_number}", "{reason}"]),
            (Action::Upload, vec!["upload", "{nhs_number}", "{bundle_file}"]),
            (Action::RotateKey, vec!["rotate_key", "{kid}"]),
        ] {
            let mut expected = prefix.clone();
            expected.extend(tail.into_iter().map(str::to_owned));
            assert_eq!(sut.actions.get(&action), Some(&expected), "{action}");
        }
        let plain = SutConfig::reference_client(Path::new("scr-assure"), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.version, env!("CARGO_PKG_VERSION"));
        assert!(!plain.actions[&Action::Retrieve].contains(&"--defect".to_owned()));
    }

    #[test]
    fn registration_bodies_carry_the_keys_and_secrets_for_the_mock_only() {
        let sut = SutConfig::reference_client(Path::new("/bin/scr-assure"), &[]).unwrap_or_else(|e| panic!("{e}"));
        let body = sut.app.registration("sut").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body["name"], "sut");
        assert_eq!(body["apiKey"], REFERENCE_API_KEY);
        assert_eq!(body["kid"], REFERENCE_KID);
        assert_eq!(body["jwks"]["keys"][0]["kid"], REFERENCE_KID);
        assert_eq!(body["jwks"]["keys"][0]["kty"], "RSA");
        assert!(body["jwks"]["keys"][0].get("d").is_none());
        assert_eq!(body["clientSecret"], "abce2f3b5fa1b1a6c991cbd3416c51855a17f87a07442746");
        assert!(body.get("jwksUrl").is_none() && body.get("asid").is_none() && body.get("products").is_none());
        let both = sut.app.rotation_jwks().unwrap_or_else(|e| panic!("{e}")).unwrap_or_default();
        let both_keys = both["keys"].as_array().cloned().unwrap_or_default();
        assert_eq!(kids(&both_keys), [REFERENCE_KID, REFERENCE_NEXT_KID]);
        assert_ne!(both_keys[0]["n"], both_keys[1]["n"], "two different keys");
        let next = sut.app.rotated_jwks().unwrap_or_else(|e| panic!("{e}")).unwrap_or_default();
        assert_eq!(kids(next["keys"].as_array().map(Vec::as_slice).unwrap_or_default()), [REFERENCE_NEXT_KID]);

        let dir = site();
        let url = GOOD
            .replace("public_key_file = \"keys/public.pem\"", "jwks_url = \"https://sut.example.org/jwks.json\"")
            .replace("[app.rotation]\nkid = \"sut-2\"\npublic_key_file = \"keys/next.pem\"\n", "")
            .replace("client_secret_file = \"keys/secret.txt\"\n", "")
            .replace("api_key_file = \"keys/api-key.txt\"", "api_key = \"inline-key\"");
        let sut = parse(&dir, &url).unwrap_or_else(|e| panic!("{e}"));
        let body = sut.app.registration("x").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            body,
            json!({"name": "x", "apiKey": "inline-key", "kid": "sut-1", "jwksUrl": "https://sut.example.org/jwks.json"})
        );
        assert_eq!(sut.app.rotation_jwks().ok(), Some(None));
        assert_eq!(sut.app.rotated_jwks().ok(), Some(None));

        let jwks = GOOD
            .replace("public_key_file = \"keys/public.pem\"", "jwks_file = \"keys/jwks.json\"")
            .replace("kid = \"sut-1\"\n", "");
        let sut = parse(&dir, &jwks).unwrap_or_else(|e| panic!("{e}"));
        let body = sut.app.registration("y").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body["jwks"]["keys"][0]["kid"], "jwks-kid");
        assert!(body.get("kid").is_none());
        let both = sut.app.rotation_jwks().unwrap_or_else(|e| panic!("{e}")).unwrap_or_default();
        assert_eq!(kids(both["keys"].as_array().map(Vec::as_slice).unwrap_or_default()), ["jwks-kid", "sut-2"]);
    }

    #[test]
    fn jwk_sets_must_be_public_key_sets_and_rotation_needs_files() {
        let dir = site();
        let jwks = GOOD.replace("public_key_file = \"keys/public.pem\"", "jwks_file = \"keys/jwks.json\"");
        let path = dir.path().join("keys/jwks.json");
        for (content, named) in [
            ("not json", "not a JWK Set: it is not JSON"),
            ("{\"keys\": []}", "the JWK Set has no keys"),
            ("{\"kty\": \"RSA\"}", "no `keys` array"),
            (
                "{\"keys\": [{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\",\"d\":\"AQAB\"}]}",
                "is a private key (it has `d`)",
            ),
        ] {
            std::fs::write(&path, content).unwrap_or_else(|e| panic!("{e}"));
            let e = refusal(&dir, &jwks);
            let line = line_of(&jwks, "jwks_file");
            assert!(e.contains(&format!(":{line}: [app] jwks_file: ")) && e.contains(named), "{named}: {e}");
        }
        let url = GOOD.replace("public_key_file = \"keys/public.pem\"", "jwks_url = \"https://sut.example.org/j\"");
        let e = refusal(&dir, &url);
        assert!(e.contains("[app] rotation: key rotation needs the current key as a file"), "{e}");
    }
}
