//! How the harness authenticates on the main lane: the identity service's token flows, the app's
//! credentials, the mock CIS2 issuer (on the mock), and the run's default access token — obtained once,
//! renewed by the clock before it expires.

use chrono::{DateTime, Duration, Utc};
use tokio::sync::Mutex;

use crate::clock::Clock;
use crate::identity::apps::AppRegistry;
use crate::identity::assertion::{self, AssertionSpec, ClientAssertion, Defect};
use crate::identity::client::{ClientApp, TokenClient, TokenOutcome};
use crate::identity::id_token::{self, IdToken, IdTokenSpec};
use crate::identity::keys::SigningKey;
use crate::identity::personas::Personas;
use crate::secret::Secret;

/// A registered app as the harness uses it: the API key, the key it signs assertions with, and for the
/// secret-based flows its client secret and redirect URI.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub name: String,
    pub api_key: Secret,
    pub key: SigningKey,
    pub client: Option<ClientApp>,
}

/// The mock CIS2 issuer: what the harness signs id_tokens with (mock only).
#[derive(Debug, Clone)]
pub struct Cis2Issuer {
    pub issuer: String,
    pub key: SigningKey,
    pub personas: Personas,
}

/// How the run's default token is obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultFlow {
    /// Client credentials: application-restricted.
    Application,
    /// CIS2 combined authentication (authorization code) as this persona.
    Combined { persona: String },
    /// CIS2 separate authentication (token exchange) of an id_token for this persona (mock) …
    Separate { persona: String },
    /// … or of an id_token the site supplies (INT).
    SeparateWith { id_token: Secret },
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot sign: {0}")]
    Sign(String),
    #[error("the token request failed: {0}")]
    Transport(String),
    #[error("the identity service refused the token: {status} {error}: {description}")]
    Refused { status: u16, error: String, description: String },
    #[error("{0}")]
    Config(String),
}

/// The main lane's authentication.
#[derive(Debug)]
pub struct Auth {
    pub tokens: TokenClient,
    /// The `aud` of client assertions.
    pub token_url: String,
    pub app: AppCredentials,
    pub kid: String,
    /// Other registered apps by name (the mock's fixtures), for scenarios about them.
    pub apps: Option<AppRegistry>,
    pub cis2: Option<Cis2Issuer>,
    pub default_flow: DefaultFlow,
    cache: Mutex<Option<(Secret, DateTime<Utc>)>>,
    /// A [`TokenClient::recording`] copy of `tokens` that obtains (and renews) the default token, so that its
    /// exchanges go into the evidence ([`Auth::take_default_exchanges`]); `None` until
    /// [`Auth::record_default_token`].
    default_tokens: Option<TokenClient>,
}

/// A default token is renewed when it has less than this left.
const RENEW_BEFORE_SECONDS: i64 = 60;

impl Auth {
    pub fn new(
        tokens: TokenClient,
        app: AppCredentials,
        kid: String,
        apps: Option<AppRegistry>,
        cis2: Option<Cis2Issuer>,
        default_flow: DefaultFlow,
    ) -> Self {
        let token_url = tokens.token_url.clone();
        Self { tokens, token_url, app, kid, apps, cis2, default_flow, cache: Mutex::new(None), default_tokens: None }
    }

    /// From now on, the default token's exchanges (the first and each renewal) are recorded as sent and
    /// received, dated by `clock` beside the wall clock, for the evidence.
    pub fn record_default_token(&mut self, clock: &Clock) {
        self.default_tokens = Some(self.tokens.recording(clock));
    }

    /// The default token's exchanges recorded since the last call, oldest first (none unless
    /// [`Auth::record_default_token`] was called).
    pub fn take_default_exchanges(&self) -> Vec<crate::client::Exchange> {
        self.default_tokens.as_ref().map(TokenClient::take_exchanges).unwrap_or_default()
    }

    /// The default flow's name, for messages (no secrets).
    pub fn default_flow_name(&self) -> &'static str {
        match self.default_flow {
            DefaultFlow::Application => "client credentials (application-restricted)",
            DefaultFlow::Combined { .. } => "CIS2 combined authentication (authorization code)",
            DefaultFlow::Separate { .. } | DefaultFlow::SeparateWith { .. } => {
                "CIS2 separate authentication (token exchange)"
            }
        }
    }

    /// What the evidence names the default token's exchanges by (they belong to the run, not to a scenario),
    /// e.g. `default token (CIS2 combined authentication as default-clinician)`. No secrets.
    pub fn default_token_step(&self) -> String {
        let how = match &self.default_flow {
            DefaultFlow::Application => "client credentials, application-restricted".to_owned(),
            DefaultFlow::Combined { persona } => format!("CIS2 combined authentication as {persona}"),
            DefaultFlow::Separate { persona } => format!("CIS2 separate authentication as {persona}"),
            DefaultFlow::SeparateWith { .. } => "CIS2 separate authentication with the site's id_token".to_owned(),
        };
        format!("default token ({how})")
    }

    /// A client assertion for `app` (default: the run's app) dated by `clock` and `skew`.
    pub fn assertion(
        &self,
        app: Option<&AppCredentials>,
        now: DateTime<Utc>,
        skew_seconds: i64,
        exp_in: Option<i64>,
        defects: Vec<Defect>,
        key: Option<&SigningKey>,
    ) -> Result<ClientAssertion, AuthError> {
        let app = app.unwrap_or(&self.app);
        let kid = app.key.kid().to_owned();
        let mut spec = AssertionSpec::new(app.api_key.clone(), kid, self.token_url.clone(), now);
        spec.skew_seconds = skew_seconds;
        if let Some(e) = exp_in {
            spec.exp_in_seconds = e;
        }
        spec.defects = defects;
        assertion::mint(&spec, key.unwrap_or(&app.key)).map_err(|e| AuthError::Sign(e.to_string()))
    }

    /// A mock CIS2 id_token for a persona (mock only).
    pub fn id_token(
        &self,
        persona: &str,
        now: DateTime<Utc>,
        skew_seconds: i64,
        defects: Vec<Defect>,
        key: Option<&SigningKey>,
    ) -> Result<IdToken, AuthError> {
        let cis2 = self
            .cis2
            .as_ref()
            .ok_or_else(|| AuthError::Config("no CIS2 issuer to sign id_tokens on this target".into()))?;
        let persona = cis2.personas.get(persona).ok_or_else(|| {
            AuthError::Config(format!("unknown persona '{persona}' (fixtures/identity/personas.toml)"))
        })?;
        let mut spec =
            IdTokenSpec::new(persona, cis2.issuer.clone(), crate::mock::identity::CIS2_CLIENT_ID, cis2.key.kid(), now);
        spec.skew_seconds = skew_seconds;
        spec.defects = defects;
        id_token::mint(&spec, key.unwrap_or(&cis2.key)).map_err(|e| AuthError::Sign(e.to_string()))
    }

    /// Runs a flow and returns the identity service's answer.
    pub async fn obtain(&self, flow: &DefaultFlow, now: DateTime<Utc>) -> Result<TokenOutcome, AuthError> {
        self.obtain_with(&self.tokens, flow, now).await
    }

    /// [`Auth::obtain`] through `tokens` (e.g. a [`TokenClient::recording`] copy whose exchanges the evidence
    /// keeps).
    pub async fn obtain_with(
        &self,
        tokens: &TokenClient,
        flow: &DefaultFlow,
        now: DateTime<Utc>,
    ) -> Result<TokenOutcome, AuthError> {
        let transport = |e: crate::identity::client::ClientError| AuthError::Transport(e.to_string());
        match flow {
            DefaultFlow::Application => {
                let a = self.assertion(None, now, 0, None, vec![], None)?;
                tokens.client_credentials(&a, &[]).await.map_err(transport)
            }
            DefaultFlow::Combined { persona } => {
                let client = self.app.client.as_ref().ok_or_else(|| {
                    AuthError::Config(format!(
                        "app '{}' has no client secret for the authorization code flow",
                        self.app.name
                    ))
                })?;
                tokens.authorization_code(client, persona, &[]).await.map_err(transport)
            }
            DefaultFlow::Separate { persona } => {
                let a = self.assertion(None, now, 0, None, vec![], None)?;
                let id = self.id_token(persona, now, 0, vec![], None)?;
                tokens.token_exchange(&a, &id, &[]).await.map_err(transport)
            }
            DefaultFlow::SeparateWith { id_token } => {
                let a = self.assertion(None, now, 0, None, vec![], None)?;
                tokens.token_exchange(&a, &IdToken(id_token.clone()), &[]).await.map_err(transport)
            }
        }
    }

    /// The run's default access token, renewed when it is about to expire by `clock`.
    pub async fn default_token(&self, clock: &Clock) -> Result<Secret, AuthError> {
        let mut cache = self.cache.lock().await;
        let now = clock.now();
        if let Some((token, expires)) = cache.as_ref() {
            if *expires - now > Duration::seconds(RENEW_BEFORE_SECONDS) {
                return Ok(token.clone());
            }
        }
        let tokens = self.default_tokens.as_ref().unwrap_or(&self.tokens);
        match self.obtain_with(tokens, &self.default_flow, now).await? {
            TokenOutcome::Granted(t) => {
                let seconds: i64 = t.expires_in.parse().unwrap_or(0);
                *cache = Some((t.access_token.clone(), now + Duration::seconds(seconds)));
                Ok(t.access_token)
            }
            TokenOutcome::Rejected(e) => {
                Err(AuthError::Refused { status: e.status, error: e.error, description: e.error_description })
            }
        }
    }
}

/// Applies a form change — edits separated by ` ; `, each `set name=value` or `remove name` — to a token
/// request form.
pub fn apply_form_change(form: &mut crate::identity::rules::Form, change: &str) -> Result<(), String> {
    for (i, edit) in change.split(" ; ").map(str::trim).filter(|e| !e.is_empty()).enumerate() {
        let fail = |why: &str| format!("form edit {} '{edit}': {why}", i + 1);
        match edit.split_once(' ') {
            Some(("set", rest)) => {
                let (name, value) = rest.split_once('=').ok_or_else(|| fail("expected `set name=value`"))?;
                form.set(name.trim(), value);
            }
            Some(("remove", name)) => {
                let name = name.trim();
                if form.get(name).is_none() {
                    return Err(fail("the form has no such field"));
                }
                form.remove(name);
            }
            _ => return Err(fail("expected `set name=value` or `remove name`")),
        }
    }
    Ok(())
}

/// The main lane's authentication against an embedded mock at `origin`: the fixtures' default app, the mock
/// CIS2 issuer, and a default token by combined authentication as the sandbox's canned user
/// (`default-clinician`, whose roles include the default `NHSD-Session-URID`).
pub fn mock_auth(origin: &str, http: &crate::client::ClientOptions) -> Result<Auth, String> {
    use crate::identity::{apps::AppRegistry, default_fixtures_dir, DEFAULT_APP};
    let dir = default_fixtures_dir();
    let mut apps = AppRegistry::load(dir.join("apps.toml")).map_err(|e| e.to_string())?;
    apps.resolve_origin(origin);
    let app = apps.by_name(DEFAULT_APP).ok_or_else(|| format!("apps.toml has no app '{DEFAULT_APP}'"))?;
    let key = app.signing_key().map_err(|e| e.to_string())?;
    let client = match (&app.client_secret, app.redirect_uris.first()) {
        (Some(secret), Some(uri)) => {
            Some(ClientApp { api_key: app.api_key.clone(), client_secret: secret.clone(), redirect_uri: uri.clone() })
        }
        _ => None,
    };
    let creds = AppCredentials { name: app.name.clone(), api_key: app.api_key.clone(), key, client };
    let cis2_key = SigningKey::from_pem_file(dir.join("mock-cis2-private-key.pem"), crate::mock::identity::CIS2_KID)
        .map_err(|e| e.to_string())?
        .with_algorithm(jsonwebtoken::Algorithm::RS256);
    let personas = Personas::load(dir.join("personas.toml")).map_err(|e| e.to_string())?;
    let cis2 = Cis2Issuer { issuer: format!("{origin}/mock-cis2"), key: cis2_key, personas };
    let tokens = TokenClient::with_options(&format!("{origin}/oauth2"), http).map_err(|e| e.to_string())?;
    let kid = creds.key.kid().to_owned();
    Ok(Auth::new(tokens, creds, kid, Some(apps), Some(cis2), DefaultFlow::Combined { persona: DEFAULT_PERSONA.into() }))
}

/// The persona of the run's default token on the mock: the sandbox's canned CIS2 user.
pub const DEFAULT_PERSONA: &str = "default-clinician";

/// The main lane's authentication for a site (`--site`): its token URL, API key, key, and CIS2 flow.
pub fn site_auth(site: &crate::config::site::Site) -> Result<Auth, AuthError> {
    use crate::config::site::Cis2Flow;
    let file = site.path.display();
    let config = |e: &dyn std::fmt::Display| AuthError::Config(format!("{file}: {e}"));
    let api_key = site.api_key.load("API key").map_err(|e| config(&e))?;
    let key = SigningKey::from_pem_file(&site.private_key_file, &site.kid)
        .map_err(|e| AuthError::Config(format!("{file}: [app] private_key_file: {e}")))?;
    let client = match &site.client_secret {
        Some(source) => Some(ClientApp {
            api_key: api_key.clone(),
            client_secret: source.load("client secret").map_err(|e| config(&e))?,
            redirect_uri: site.redirect_uri.clone().unwrap_or_default(),
        }),
        None => None,
    };
    let base = site.token_url.strip_suffix("/token").unwrap_or(&site.token_url).to_owned();
    let tokens = TokenClient::with_options(&base, &site.http).map_err(|e| config(&e))?;
    let flow = match (site.flow, &site.id_token, &site.persona) {
        (Cis2Flow::Application, _, _) => DefaultFlow::Application,
        (Cis2Flow::Separate, Some(source), _) => {
            DefaultFlow::SeparateWith { id_token: source.load("id_token").map_err(|e| config(&e))? }
        }
        (Cis2Flow::Separate, None, Some(p)) => DefaultFlow::Separate { persona: p.clone() },
        (Cis2Flow::Combined, _, Some(p)) => DefaultFlow::Combined { persona: p.clone() },
        (flow, _, _) => {
            return Err(AuthError::Config(format!("the {flow:?} flow needs a persona or an id_token in [cis2]")))
        }
    };
    let creds = AppCredentials { name: site.name.clone(), api_key, key, client };
    let kid = site.kid.clone();
    let mut auth = Auth::new(tokens, creds, kid, None, None, flow);
    auth.token_url = site.token_url.clone();
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::rules::Form;

    #[test]
    fn form_changes_set_remove_and_explain_failures() {
        let mut form = Form::from_pairs([("grant_type", "client_credentials"), ("client_assertion", "x.y.z")]);
        assert_eq!(apply_form_change(&mut form, "set grant_type=password ; remove client_assertion"), Ok(()));
        assert_eq!(form.get("grant_type"), Some("password"));
        assert_eq!(form.get("client_assertion"), None);
        let e = apply_form_change(&mut form, "remove client_assertion").err().unwrap_or_default();
        assert!(e.contains("no such field"), "{e}");
        let e = apply_form_change(&mut form, "drop x").err().unwrap_or_default();
        assert!(e.contains("expected"), "{e}");
    }
}
