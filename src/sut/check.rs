//! The SUT readiness check (`scr-assure sut check SUT.toml`): before a client run, whether what the sut.toml
//! names is there — the app's keys (readable, valid, the `kid` among them), each action's program (found and
//! executable, never run), the actions the client scenarios need, the http hook (a TCP connect). Each item
//! passes or fails with the reason; notes (the attended driver, an optional action) never fail the check.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::config::{key_set, kids, DriverKind, PublicKeys, SutConfig};
use super::Action;
use crate::client::{fetch, http_client, ClientOptions};

/// The actions every client run needs; `rotate_key` is optional (the key-rotation scenario needs it).
pub const REQUIRED_ACTIONS: [Action; 4] =
    [Action::Retrieve, Action::RetrieveWithAnswer, Action::EmergencyAccess, Action::Upload];

/// How long the hook's TCP connect and a `jwks_url` fetch may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass(String),
    Fail(String),
    /// Information that does not fail the check (the attended driver, an optional action left out).
    Note(String),
}

/// One line of the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckItem {
    pub name: String,
    pub verdict: Verdict,
}

impl CheckItem {
    pub fn failed(&self) -> bool {
        matches!(self.verdict, Verdict::Fail(_))
    }
}

impl fmt::Display for CheckItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mark, why) = match &self.verdict {
            Verdict::Pass(why) => ("PASS", why),
            Verdict::Fail(why) => ("FAIL", why),
            Verdict::Note(why) => ("NOTE", why),
        };
        write!(f, "{mark}  {:<28} {why}", self.name)
    }
}

fn item(name: impl Into<String>, verdict: Verdict) -> CheckItem {
    CheckItem { name: name.into(), verdict }
}

/// Runs every item of the check for `config`.
pub async fn run(config: &SutConfig) -> Vec<CheckItem> {
    let mut items = vec![keys_item("app keys", "[app]", &config.app.keys, config.app.kid.as_deref()).await];
    if let Some(rotation) = &config.app.rotation {
        items.push(keys_item("rotation keys", "[app.rotation]", &rotation.keys, Some(&rotation.kid)).await);
    }
    items.push(match &config.app.client_secret {
        Some(_) => item("client secret", Verdict::Pass("read (refresh tokens, authorization code)".into())),
        None => item(
            "client secret",
            Verdict::Note("none configured: the SUT uses no refresh token or authorization code".into()),
        ),
    });
    match config.driver {
        DriverKind::Command => items.extend(action_items(config)),
        DriverKind::Http => items.push(hook_item(config.http_url.as_deref()).await),
        DriverKind::Attended => items.push(item(
            "driver attended",
            Verdict::Note(
                "manual: a tester performs each action in the SUT and confirms it at this terminal; nothing to \
                 check automatically"
                    .into(),
            ),
        )),
    }
    items
}

/// The public keys readable and valid, with `kid` among them.
async fn keys_item(name: &str, section: &str, keys: &PublicKeys, kid: Option<&str>) -> CheckItem {
    let (set, from) = match keys {
        PublicKeys::JwksUrl(url) => match fetch_jwks(url).await {
            Ok(set) => (set, url.clone()),
            Err(why) => return item(name, Verdict::Fail(why)),
        },
        PublicKeys::PemFile(path) | PublicKeys::JwksFile(path) => match key_set(keys, kid, section) {
            Ok(set) => (set, path.display().to_string()),
            Err(e) => return item(name, Verdict::Fail(e.to_string())),
        },
    };
    let found = kids(&set);
    match kid {
        Some(kid) if !found.iter().any(|k| k == kid) => item(
            name,
            Verdict::Fail(format!("kid '{kid}' is not in the JWK Set of {from} (its kids: {})", found.join(", "))),
        ),
        Some(kid) => item(name, Verdict::Pass(format!("{from}: an RSA public key with kid '{kid}'"))),
        None => item(name, Verdict::Pass(format!("{from}: {} keys (kids: {})", set.len(), found.join(", ")))),
    }
}

/// A JWK Set published at a URL: fetched (bounded), JSON with a `keys` array of JWKs.
async fn fetch_jwks(url: &str) -> Result<Vec<Value>, String> {
    let options = ClientOptions {
        connect_timeout: CHECK_TIMEOUT,
        read_timeout: CHECK_TIMEOUT,
        deadline: CHECK_TIMEOUT * 2,
        max_response_bytes: 1024 * 1024,
    };
    let client = http_client(&options).map_err(|e| e.to_string())?;
    let response = fetch(client.get(url), &options, url).await.map_err(|e| e.to_string())?;
    if response.status != 200 {
        return Err(format!("{url} answered HTTP {}", response.status));
    }
    let set: Value = serde_json::from_slice(&response.body).map_err(|e| format!("{url} did not answer JSON: {e}"))?;
    let keys = set.get("keys").and_then(Value::as_array).cloned().unwrap_or_default();
    if keys.is_empty() {
        return Err(format!("{url} answered no JWK Set with keys"));
    }
    for (i, jwk) in keys.iter().enumerate() {
        if let Err(e) = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(jwk.clone()) {
            return Err(format!("{url}: keys[{i}] is not a JWK: {e}"));
        }
    }
    Ok(keys)
}

/// One item per action: configured ones' programs found and executable, required ones present.
fn action_items(config: &SutConfig) -> Vec<CheckItem> {
    let mut items = Vec::new();
    for action in Action::ALL {
        let name = format!("action {action}");
        let Some(argv) = config.actions.get(&action) else {
            items.push(if REQUIRED_ACTIONS.contains(&action) {
                item(name, Verdict::Fail(format!("not configured: [actions] {action} is required")))
            } else {
                item(name, Verdict::Note("not configured (optional): the key-rotation scenario will not run".into()))
            });
            continue;
        };
        let program = argv.first().map(String::as_str).unwrap_or_default();
        items.push(match resolve_program(program, config.work_dir()) {
            Ok(path) if action == Action::RotateKey && config.app.rotation.is_none() => item(
                name,
                Verdict::Fail(format!(
                    "{} is executable, but [app.rotation] names no key to rotate to: add it, or leave the action out",
                    path.display()
                )),
            ),
            Ok(path) => item(name, Verdict::Pass(format!("{} is executable", path.display()))),
            Err(why) => item(name, Verdict::Fail(why)),
        });
    }
    items
}

/// Where `program` would be found when run from `work_dir`: a path (with a `/`) as given, relative to
/// `work_dir`; a bare name through `$PATH`, like `execvp`. Not run.
pub fn resolve_program(program: &str, work_dir: Option<&Path>) -> Result<PathBuf, String> {
    if program.is_empty() {
        return Err("no program".into());
    }
    if program.contains('/') {
        let path = match work_dir {
            Some(dir) if Path::new(program).is_relative() => dir.join(program),
            _ => PathBuf::from(program),
        };
        return match executable(&path) {
            Ok(()) => Ok(path),
            Err(why) => Err(format!("{}: {why}", path.display())),
        };
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let mut not_executable = None;
    for dir in std::env::split_paths(&path_var) {
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        let candidate = dir.join(program);
        match executable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(why) if candidate.exists() => {
                not_executable.get_or_insert_with(|| format!("{}: {why}", candidate.display()));
            }
            Err(_) => {}
        }
    }
    Err(not_executable.unwrap_or_else(|| format!("`{program}` is not found on PATH")))
}

/// Whether a path is a file this process may execute.
fn executable(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        _ => e.to_string(),
    })?;
    if !meta.is_file() {
        return Err("not a file".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err("not executable (chmod +x)".into());
        }
    }
    Ok(())
}

/// The hook's host and port accept a TCP connection.
async fn hook_item(url: Option<&str>) -> CheckItem {
    let name = "http hook";
    let Some(url) = url else { return item(name, Verdict::Fail("no [http] url".into())) };
    let parsed = match reqwest::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return item(name, Verdict::Fail(format!("{url} is not a URL: {e}"))),
    };
    let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) else {
        return item(name, Verdict::Fail(format!("{url} names no host and port")));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    match tokio::time::timeout(CHECK_TIMEOUT, tokio::net::TcpStream::connect((host.as_str(), port))).await {
        Ok(Ok(_)) => item(name, Verdict::Pass(format!("{host}:{port} accepts connections ({url})"))),
        Ok(Err(e)) => item(name, Verdict::Fail(format!("cannot connect to {host}:{port} ({url}): {e}"))),
        Err(_) => item(
            name,
            Verdict::Fail(format!("no connection to {host}:{port} ({url}) within {} s", CHECK_TIMEOUT.as_secs())),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_resolve_through_path_or_as_paths() {
        let sh = resolve_program("sh", None).unwrap_or_else(|e| panic!("{e}"));
        assert!(sh.is_absolute() || sh.starts_with("."), "{}", sh.display());
        let e = resolve_program("scr-assure-surely-no-such-program", None).err().unwrap_or_default();
        assert!(e.contains("not found on PATH"), "{e}");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("plain.txt"), "x").unwrap_or_else(|e| panic!("{e}"));
        let e = resolve_program("./plain.txt", Some(dir.path())).err().unwrap_or_default();
        assert!(e.contains("not executable"), "{e}");
        let e = resolve_program("./missing", Some(dir.path())).err().unwrap_or_default();
        assert!(e.contains("no such file"), "{e}");
    }
}
