//! The registered developer apps (`fixtures/identity/apps.toml`): API key, client secret, public keys,
//! products, ASID, redirect URIs. Secrets never sit in the TOML: `client_secret_file` (relative to the
//! TOML file) or `client_secret_env`.

use std::path::{Path, PathBuf};

use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;

use super::keys::{self, SigningKey};
use crate::secret::Secret;

/// The application-restricted product prefix (reference §10.1 row 21).
pub const LEVEL3_PREFIX: &str = "urn:nhsd:apim:app:level3:";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not a valid apps file: {reason}")]
    Parse { path: String, reason: String },
    #[error("{path}: app \"{app}\": {reason}")]
    Invalid { path: String, app: String, reason: String },
}

/// Where the service finds an app's public keys.
#[derive(Debug, Clone, PartialEq)]
pub enum JwksSource {
    /// Registered inline (served by the mock at `/mock-apps/{name}/jwks.json`).
    Inline(JwkSet),
    /// A `jwks-resource-url`; `{origin}` is replaced by the mock's origin.
    Url(String),
    /// No public key registered (row 16).
    None,
}

/// A registered developer app.
#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    /// The API key (`client_id`, and `iss`/`sub` of client assertions).
    pub api_key: Secret,
    pub client_secret: Option<Secret>,
    pub jwks: JwksSource,
    pub products: Vec<String>,
    pub asid: Option<String>,
    pub redirect_uris: Vec<String>,
    /// `false`: revoked / not approved.
    pub approved: bool,
    /// Kid of the first key file, when the TOML names one (what the harness signs with).
    pub kid: Option<String>,
    /// The private key file, when the TOML names one (the harness signs with it).
    pub private_key_file: Option<PathBuf>,
}

impl App {
    /// The app's `urn:nhsd:apim:app:level3:*` products.
    pub fn level3_products(&self) -> Vec<String> {
        self.products.iter().filter(|p| p.starts_with(LEVEL3_PREFIX)).cloned().collect()
    }

    /// The app's user-restricted products for an authentication assurance level (`:aal<N>:`).
    pub fn aal_products(&self, aal: u8) -> Vec<String> {
        let needle = format!(":aal{aal}:");
        self.products.iter().filter(|p| p.contains(&needle)).cloned().collect()
    }

    /// The app's signing key, from its `private_key_file`.
    pub fn signing_key(&self) -> Result<SigningKey, keys::KeyError> {
        let (Some(path), Some(kid)) = (&self.private_key_file, &self.kid) else {
            return Err(keys::KeyError::Pem {
                what: format!("app \"{}\"", self.name),
                reason: "the app names no private_key_file".into(),
            });
        };
        SigningKey::from_pem_file(path, kid)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppsFile {
    app: Vec<AppEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppEntry {
    name: String,
    api_key: String,
    /// Present only to be refused with a clear message.
    #[serde(default)]
    client_secret: Option<toml::Value>,
    #[serde(default)]
    client_secret_file: Option<String>,
    #[serde(default)]
    client_secret_env: Option<String>,
    #[serde(default)]
    jwks_url: Option<String>,
    #[serde(default)]
    keys: Vec<KeyEntry>,
    #[serde(default)]
    products: Vec<String>,
    #[serde(default)]
    asid: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default = "yes")]
    approved: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    kid: String,
    #[serde(default)]
    private_key_file: Option<String>,
    #[serde(default)]
    public_key_pem_file: Option<String>,
}

/// The apps of one file, in file order.
#[derive(Debug, Clone, Default)]
pub struct AppRegistry {
    apps: Vec<App>,
}

impl AppRegistry {
    /// Loads `path`; relative file names inside it are relative to its folder.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, AppError> {
        let path = path.as_ref();
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| AppError::Read { path: p.clone(), source })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &p, dir)
    }

    /// Parses TOML text; `origin` names it in errors, `dir` resolves relative file names.
    pub fn parse(text: &str, origin: &str, dir: &Path) -> Result<Self, AppError> {
        let file: AppsFile =
            toml::from_str(text).map_err(|e| AppError::Parse { path: origin.to_owned(), reason: e.to_string() })?;
        let mut apps: Vec<App> = Vec::with_capacity(file.app.len());
        for entry in file.app {
            let invalid =
                |reason: String| AppError::Invalid { path: origin.to_owned(), app: entry.name.clone(), reason };
            if entry.client_secret.is_some() {
                return Err(invalid(
                    "an inline client_secret is not allowed: put it in a file (client_secret_file, relative to this \
                     TOML) or an environment variable (client_secret_env)"
                        .into(),
                ));
            }
            if apps.iter().any(|a| a.name == entry.name || a.api_key == Secret::new(entry.api_key.clone())) {
                return Err(invalid("the name or api_key is used twice".into()));
            }
            let client_secret = match (&entry.client_secret_file, &entry.client_secret_env) {
                (Some(_), Some(_)) => {
                    return Err(invalid("give client_secret_file or client_secret_env, not both".into()))
                }
                (Some(f), None) => {
                    let file = dir.join(f);
                    let text = std::fs::read_to_string(&file)
                        .map_err(|e| invalid(format!("cannot read client_secret_file {}: {e}", file.display())))?;
                    let secret = text
                        .lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty() && !l.starts_with('#'))
                        .ok_or_else(|| invalid(format!("client_secret_file {} holds no secret", file.display())))?;
                    Some(Secret::new(secret))
                }
                (None, Some(var)) => Some(Secret::new(
                    std::env::var(var).map_err(|_| invalid(format!("environment variable {var} is not set")))?,
                )),
                (None, None) => None,
            };
            let mut kid = None;
            let mut private_key_file = None;
            let jwks = match (&entry.jwks_url, entry.keys.is_empty()) {
                (Some(_), false) => return Err(invalid("give jwks_url or keys, not both".into())),
                (Some(url), true) => JwksSource::Url(url.clone()),
                (None, true) => JwksSource::None,
                (None, false) => {
                    let mut set = JwkSet { keys: vec![] };
                    for k in &entry.keys {
                        let jwk = match (&k.private_key_file, &k.public_key_pem_file) {
                            (Some(f), None) => {
                                let file = dir.join(f);
                                let key =
                                    SigningKey::from_pem_file(&file, &k.kid).map_err(|e| invalid(e.to_string()))?;
                                if private_key_file.is_none() {
                                    private_key_file = Some(file);
                                    kid = Some(k.kid.clone());
                                }
                                key.jwk()
                            }
                            (None, Some(f)) => {
                                let file = dir.join(f);
                                let bytes = std::fs::read(&file)
                                    .map_err(|e| invalid(format!("cannot read {}: {e}", file.display())))?;
                                keys::public_jwk_from_pem(&bytes, &k.kid, &file.display().to_string())
                                    .map_err(|e| invalid(e.to_string()))?
                            }
                            _ => {
                                return Err(invalid(format!(
                                    "key \"{}\" needs exactly one of private_key_file or public_key_pem_file",
                                    k.kid
                                )))
                            }
                        };
                        set.keys.push(jwk);
                    }
                    if kid.is_none() {
                        kid = entry.keys.first().map(|k| k.kid.clone());
                    }
                    JwksSource::Inline(set)
                }
            };
            apps.push(App {
                name: entry.name,
                api_key: Secret::new(entry.api_key),
                client_secret,
                jwks,
                products: entry.products,
                asid: entry.asid,
                redirect_uris: entry.redirect_uris,
                approved: entry.approved,
                kid,
                private_key_file,
            });
        }
        Ok(Self { apps })
    }

    /// Replaces `{origin}` in every `jwks_url` (the mock serves some app JWKS itself).
    pub fn resolve_origin(&mut self, origin: &str) {
        for app in &mut self.apps {
            if let JwksSource::Url(url) = &mut app.jwks {
                *url = url.replace("{origin}", origin);
            }
        }
    }

    pub fn by_name(&self, name: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.name == name)
    }

    pub fn by_api_key(&self, api_key: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.api_key.expose() == api_key)
    }

    pub fn all(&self) -> &[App] {
        &self.apps
    }

    /// Adds an app (the mock registers apps at run time); refused when its name or API key is taken.
    pub fn add(&mut self, app: App) -> Result<(), DuplicateApp> {
        if self.apps.iter().any(|a| a.name == app.name || a.api_key == app.api_key) {
            return Err(DuplicateApp);
        }
        self.apps.push(app);
        Ok(())
    }

    /// Replaces an app's public keys with `jwks` (registered inline from now on); the source it had, or
    /// `None` when no app has that name.
    pub fn replace_jwks(&mut self, name: &str, jwks: JwkSet) -> Option<JwksSource> {
        self.replace_keys(name, JwksSource::Inline(jwks))
    }

    /// Replaces an app's key source (inline keys or a JWKS URL); the source it had, or `None` for an unknown app.
    pub fn replace_keys(&mut self, name: &str, keys: JwksSource) -> Option<JwksSource> {
        let app = self.apps.iter_mut().find(|a| a.name == name)?;
        Some(std::mem::replace(&mut app.jwks, keys))
    }
}

/// An app's name or API key is already registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an app with that name or API key is already registered")]
pub struct DuplicateApp;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::identity::keys::tests::{fixture, test_app_key};

    pub fn fixture_apps() -> AppRegistry {
        AppRegistry::load(fixture("apps.toml")).expect("fixture apps")
    }

    #[test]
    fn default_app_is_complete() {
        let apps = fixture_apps();
        let app = apps.by_name("scr-assure-test").expect("default app");
        assert_eq!(app.api_key.expose(), "scr-assure-test-app-key");
        assert!(apps.by_api_key("scr-assure-test-app-key").is_some());
        assert_eq!(app.asid.as_deref(), Some("200000001162"));
        assert!(app.client_secret.is_some());
        assert_eq!(app.level3_products(), vec!["urn:nhsd:apim:app:level3:summary-care-record"]);
        assert_eq!(app.aal_products(3), vec!["urn:nhsd:apim:user-nhs-id:aal3:summary-care-record"]);
        assert!(app.aal_products(1).is_empty());
        let JwksSource::Inline(set) = &app.jwks else { panic!("inline keys expected") };
        assert_eq!(set.keys, vec![test_app_key().jwk()]);
        assert_eq!(app.signing_key().expect("key").kid(), "scr-assure-test-1");
        assert!(!format!("{app:?}").contains("scr-assure-test-app-key"));
    }

    #[test]
    fn inline_secrets_are_refused() {
        let text = "[[app]]\nname='a'\napi_key='k'\nclient_secret='s3cret'\n";
        let e = AppRegistry::parse(text, "t.toml", Path::new(".")).expect_err("refused").to_string();
        assert!(e.contains("inline client_secret is not allowed"), "{e}");
        assert!(!e.contains("s3cret"));
    }

    #[test]
    fn public_pem_and_env_secret_and_origin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pem = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(fixture("test-app-private-key.pem"))
            .output();
        let Ok(out) = pem else { return };
        if !out.status.success() {
            return;
        }
        std::fs::write(dir.path().join("pub.pem"), &out.stdout).expect("write");
        let text =
            "[[app]]\nname='a'\napi_key='k'\n[[app.keys]]\nkid='scr-assure-test-1'\npublic_key_pem_file='pub.pem'\n\
                    [[app]]\nname='b'\napi_key='k2'\njwks_url='{origin}/mock-apps/a/jwks.json'\n";
        let mut apps = AppRegistry::parse(text, "t", dir.path()).expect("parse");
        apps.resolve_origin("http://h");
        let JwksSource::Inline(set) = &apps.by_name("a").expect("a").jwks else { panic!("inline") };
        let (mut expected, got) = (test_app_key().jwk(), set.keys[0].clone());
        expected.common.key_algorithm = got.common.key_algorithm;
        assert_eq!(got, expected);
        assert_eq!(
            apps.by_name("b").map(|b| b.jwks.clone()),
            Some(JwksSource::Url("http://h/mock-apps/a/jwks.json".into()))
        );
        let e = AppRegistry::parse(
            "[[app]]\nname='a'\napi_key='k'\nclient_secret_env='SCR_ASSURE_SURELY_UNSET_VAR'\n",
            "t",
            dir.path(),
        )
        .expect_err("unset")
        .to_string();
        assert!(e.contains("SCR_ASSURE_SURELY_UNSET_VAR is not set"));
    }
}
