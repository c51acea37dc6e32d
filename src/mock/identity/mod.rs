//! The mock NHS API Platform identity service (`/oauth2/*`) and the mock CIS2 issuer (`/mock-cis2/*`),
//! served by the same server as the mock SCR service. See `docs/IDENTITY.md`.
//!
//! Routes and the order of their checks follow the identity service's Apigee proxy (`proxies/default.xml`)
//! and reference §10: the checks themselves live in [`crate::identity::rules`]. Time comes only from the
//! mock's [`Clock`].

pub mod store;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::Algorithm;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use crate::clock::Clock;
use crate::identity::apps::{App, AppRegistry, DuplicateApp, JwksSource};
use crate::identity::client::TOKEN_EXCHANGE_GRANT;
use crate::identity::id_token::ID_TOKEN_TYPE;
use crate::identity::keys::{self, SigningKey};
use crate::identity::personas::{self, Persona, Personas};
use crate::identity::rules::{self, CheckContext, Form, JtiCache};
use crate::identity::texts::OAuthError;
use crate::secret::{self, Secret};

pub use store::{AccessGrant, AccessMode, AuthKind, RefreshGrant, TokenStore, UserGrant};
use store::{AuthorizeSession, CodeGrant};

/// Access tokens: 600 000 ms → `"599"` (reference §10.5).
pub const ACCESS_TOKEN_MS: i64 = 600_000;
/// CIS2 refresh tokens: 12 h → `"43199"`.
pub const REFRESH_TOKEN_MS: i64 = 43_200_000;
/// The overall refresh window from first sign-in (a KVM value the NHS does not publish; 24 h assumed, so a
/// refresh soon after sign-in still reports `"43199"`, as the NHS tests see).
pub const REFRESH_TOKENS_VALIDITY_MS: i64 = 86_400_000;
/// How long the mock caches an app's JWKS fetched by URL (reference §10.1 row 17).
pub const JWKS_CACHE_SECONDS: i64 = 3600;
/// How long an authorization code lives.
pub const CODE_SECONDS: i64 = 600;
/// The kid of the mock CIS2 issuer's key.
pub const CIS2_KID: &str = "mock-cis2-1";
/// The mock CIS2 client id (`aud` of its ID tokens).
pub const CIS2_CLIENT_ID: &str = "scr-assure-mock.apps.national";

const FORM: &str = "application/x-www-form-urlencoded";

/// The identity service of one mock.
pub struct IdentityService {
    /// The mock's clock. The service itself judges and dates by [`IdentityService::now`]: this clock plus the
    /// offset of `PUT /_admin/identity/clock`.
    pub clock: Clock,
    /// `http://127.0.0.1:<port>`
    pub origin: String,
    /// The registered apps: those of `apps.toml` and those registered at run time. Copy-on-write: a request
    /// works on the snapshot it took ([`IdentityService::apps`]); a registration replaces the whole registry.
    apps: RwLock<Arc<AppRegistry>>,
    /// Seconds added to the mock's clock for every identity-service time decision (the NHS clock being off).
    clock_offset: AtomicI64,
    personas: Personas,
    cis2_key: SigningKey,
    cis2_jwks: JwkSet,
    jti_cache: JtiCache,
    store: TokenStore,
    jwks_cache: Mutex<HashMap<String, (DateTime<Utc>, JwkSet)>>,
    /// The keys each run-time app was registered with, so a rotation can be undone.
    registered_keys: Mutex<HashMap<String, JwksSource>>,
    http: reqwest::Client,
    token_url: String,
    cis2_issuer: String,
}

/// JWKS by URL are fetched by the service itself, between the two halves of the rules.
fn no_fetch(_: &str) -> Result<JwkSet, ()> {
    Err(())
}

/// `floor(ms / 1000) - 1`, as the NHS service reports lifetimes (600 000 → 599).
pub fn expires_in(ms: i64) -> String {
    (ms / 1000 - 1).max(0).to_string()
}

/// A lifetime form parameter that may only shorten the default (0 is allowed: the NHS tests use it).
fn shortened(form: &Form, name: &str, default: i64) -> i64 {
    form.get(name).and_then(|v| v.trim().parse::<i64>().ok()).filter(|v| *v >= 0 && *v < default).unwrap_or(default)
}

fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// An identity-service error with a fresh `message_id`.
pub fn error_response(e: &OAuthError) -> Response {
    json_response(e.status, &e.to_json(&uuid::Uuid::new_v4().to_string()))
}

fn method_not_allowed(allow: &'static str) -> Response {
    (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, allow), (header::CONTENT_TYPE, "text/plain")]).into_response()
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
        Err(_) => error_response(&OAuthError::unknown_error()),
    }
}

/// What a query value escapes: everything but the RFC 3986 unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// `url` with `pairs` appended to its query.
fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let q = pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{q}")
}

impl IdentityService {
    /// Loads `apps.toml`, `personas.toml` and the mock CIS2 key from [`crate::identity::default_fixtures_dir`].
    pub fn new(clock: Clock, origin: String) -> Result<Self, String> {
        Self::from_dir(clock, origin, &crate::identity::default_fixtures_dir())
    }

    /// As [`IdentityService::new`], from another fixtures folder.
    pub fn from_dir(clock: Clock, origin: String, dir: &Path) -> Result<Self, String> {
        let mut apps = AppRegistry::load(dir.join("apps.toml")).map_err(|e| e.to_string())?;
        apps.resolve_origin(&origin);
        let personas = Personas::load(dir.join("personas.toml")).map_err(|e| e.to_string())?;
        let cis2_key = SigningKey::from_pem_file(dir.join("mock-cis2-private-key.pem"), CIS2_KID)
            .map_err(|e| e.to_string())?
            .with_algorithm(Algorithm::RS256);
        let cis2_jwks = keys::jwks(&[&cis2_key]);
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| format!("cannot build the JWKS HTTP client: {e}"))?;
        Ok(Self {
            clock,
            token_url: format!("{origin}/oauth2/token"),
            cis2_issuer: format!("{origin}/mock-cis2"),
            origin,
            apps: RwLock::new(Arc::new(apps)),
            clock_offset: AtomicI64::new(0),
            personas,
            cis2_key,
            cis2_jwks,
            jti_cache: JtiCache::default(),
            store: TokenStore::default(),
            jwks_cache: Mutex::new(HashMap::new()),
            registered_keys: Mutex::new(HashMap::new()),
            http,
        })
    }

    /// Whether this service answers `path`.
    pub fn serves(path: &str) -> bool {
        path.starts_with("/oauth2/") || path.starts_with("/mock-cis2/") || path.starts_with("/mock-apps/")
    }

    /// `<origin>/oauth2/token`: the `aud` of client assertions.
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// `<origin>/mock-cis2`: the only subject-token issuer accepted.
    pub fn cis2_issuer(&self) -> &str {
        &self.cis2_issuer
    }

    /// The mock CIS2 issuer's signing key (the harness may mint ID tokens with it for token exchange).
    pub fn cis2_key(&self) -> &SigningKey {
        &self.cis2_key
    }

    /// The registered apps as they are now (a snapshot: later registrations do not change it).
    pub fn apps(&self) -> Arc<AppRegistry> {
        self.apps.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The identity service's "now": the mock's clock plus the offset set by `PUT /_admin/identity/clock`.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now() + Duration::seconds(self.clock_offset())
    }

    /// The offset, in seconds, of the identity service's clock from the mock's.
    pub fn clock_offset(&self) -> i64 {
        self.clock_offset.load(Ordering::SeqCst)
    }

    /// Sets the offset of the identity service's clock (0: the mock's clock).
    pub fn set_clock_offset(&self, seconds: i64) {
        self.clock_offset.store(seconds, Ordering::SeqCst);
    }

    /// Registers an app at run time (`{origin}` in a JWKS URL is the mock's origin).
    pub fn register_app(&self, mut app: App) -> Result<(), DuplicateApp> {
        if let JwksSource::Url(url) = &mut app.jwks {
            *url = url.replace("{origin}", &self.origin);
        }
        let (name, keys) = (app.name.clone(), app.jwks.clone());
        let mut apps = self.apps.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = AppRegistry::clone(&apps);
        next.add(app)?;
        *apps = Arc::new(next);
        self.registered_keys.lock().unwrap_or_else(PoisonError::into_inner).insert(name, keys);
        Ok(())
    }

    /// Replaces an app's public keys (key rotation) and forgets any cached copy of the keys it had by URL;
    /// the kids now registered, or `None` for an unknown app.
    pub fn replace_jwks(&self, name: &str, jwks: JwkSet) -> Option<Vec<String>> {
        let kids = jwks.keys.iter().filter_map(|k| k.common.key_id.clone()).collect();
        let previous = {
            let mut apps = self.apps.write().unwrap_or_else(PoisonError::into_inner);
            let mut next = AppRegistry::clone(&apps);
            let previous = next.replace_jwks(name, jwks)?;
            *apps = Arc::new(next);
            previous
        };
        if let JwksSource::Url(url) = previous {
            self.jwks_cache.lock().unwrap_or_else(PoisonError::into_inner).remove(&url);
        }
        Some(kids)
    }

    /// Expires every access token issued to the app so far (the gateway answers `Access Token expired`);
    /// refresh tokens stay valid. How many live tokens it expired, or `None` for an unknown app.
    pub fn expire_tokens(&self, name: &str, scope: &store::TokenScope) -> Option<usize> {
        self.apps().by_name(name)?;
        // Expired both by the mock's clock (the gateway's) and by the service's own (userinfo).
        Some(self.store.expire_app(name, self.clock.now().min(self.now()), scope))
    }

    /// Gives an app back the keys it was registered with (after a scenario rotated them); the kids now
    /// registered (empty for keys by URL), or `None` for an app not registered at run time.
    pub fn restore_jwks(&self, name: &str) -> Option<Vec<String>> {
        let original = self.registered_keys.lock().unwrap_or_else(PoisonError::into_inner).get(name).cloned()?;
        let kids = match &original {
            JwksSource::Inline(set) => set.keys.iter().filter_map(|k| k.common.key_id.clone()).collect(),
            _ => Vec::new(),
        };
        let mut apps = self.apps.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = AppRegistry::clone(&apps);
        next.replace_keys(name, original)?;
        *apps = Arc::new(next);
        Some(kids)
    }

    /// The CIS2 session of a refresh token already used (for the traffic journal's attribution of a replay).
    pub fn spent_refresh_session(&self, token: &str) -> Option<Option<String>> {
        self.store.spent_refresh_session(token)
    }

    /// The grant of a refresh token not yet used (what a refresh request presenting it would continue).
    pub fn peek_refresh(&self, token: &str) -> Option<RefreshGrant> {
        self.store.peek_refresh(token)
    }

    pub fn personas(&self) -> &Personas {
        &self.personas
    }

    /// What an access token grants (the gateway's question). Expired grants are returned too: judge
    /// `grant.expires_at <= clock.now()`.
    pub fn introspect(&self, token: &str) -> Option<AccessGrant> {
        self.store.introspect(token)
    }

    /// Answers a request to one of its routes.
    pub async fn handle(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Response {
        let query = Form::parse(query.unwrap_or("").as_bytes());
        match path {
            "/oauth2/token" if method == Method::POST => self.token(headers, &body).await,
            "/oauth2/token" => method_not_allowed("POST"),
            "/oauth2/authorize" if method == Method::GET => self.authorize(&query),
            "/oauth2/authorize" => method_not_allowed("GET"),
            "/oauth2/userinfo" if method == Method::GET => self.userinfo(headers),
            "/mock-cis2/login" if method == Method::GET => self.login(&query),
            "/mock-cis2/.well-known/jwks.json" if method == Method::GET => {
                json_response(200, &serde_json::to_value(&self.cis2_jwks).unwrap_or(Value::Null))
            }
            _ if method == Method::GET && path.starts_with("/mock-apps/") => self.app_jwks(path),
            _ => error_response(&OAuthError::not_found()),
        }
    }

    fn app_jwks(&self, path: &str) -> Response {
        let name = path.strip_prefix("/mock-apps/").and_then(|r| r.strip_suffix("/jwks.json"));
        let apps = self.apps();
        match name.and_then(|n| apps.by_name(n)).map(|a| &a.jwks) {
            Some(JwksSource::Inline(set)) => json_response(200, &serde_json::to_value(set).unwrap_or(Value::Null)),
            _ => error_response(&OAuthError::not_found()),
        }
    }

    fn context<'a>(&'a self, apps: &'a AppRegistry, now: DateTime<Utc>) -> CheckContext<'a> {
        CheckContext {
            now,
            token_url: &self.token_url,
            apps,
            jti_cache: &self.jti_cache,
            cis2_issuer: &self.cis2_issuer,
            cis2_jwks: &self.cis2_jwks,
            fetch_jwks: &no_fetch,
        }
    }

    /// An app's JWKS by URL: cached for an hour by the clock; unreachable → `Err`.
    async fn fetch_jwks(&self, url: &str, now: DateTime<Utc>) -> Result<JwkSet, ()> {
        {
            let cache = self.jwks_cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, set)) = cache.get(url) {
                if now - *at < Duration::seconds(JWKS_CACHE_SECONDS) {
                    return Ok(set.clone());
                }
            }
        }
        let response = self.http.get(url).send().await.map_err(|_| ())?;
        if !response.status().is_success() {
            return Err(());
        }
        let set: JwkSet = response.json().await.map_err(|_| ())?;
        self.jwks_cache.lock().unwrap_or_else(PoisonError::into_inner).insert(url.to_owned(), (now, set.clone()));
        Ok(set)
    }

    /// Rows 2–20 of §10.1, fetching a JWKS by URL between rows 16 and 17.
    async fn check_assertion<'a>(
        &'a self,
        apps: &'a AppRegistry,
        form: &Form,
        now: DateTime<Utc>,
    ) -> Result<&'a App, OAuthError> {
        // No context is held across the fetch: it is not `Send`.
        let pending = rules::check_assertion_claims(form, &self.context(apps, now))?;
        let jwks = match &pending.app.jwks {
            JwksSource::Inline(set) => Ok(set.clone()),
            JwksSource::Url(url) => self.fetch_jwks(url, now).await,
            JwksSource::None => Err(()),
        };
        rules::check_assertion_keys(&pending, jwks.as_ref().map_err(|_| ()), &self.context(apps, now))
    }

    /// `POST /oauth2/token`, choosing the flow as the Apigee proxy does.
    async fn token(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if content_type.trim() != FORM {
            return error_response(&OAuthError::content_type_not_form());
        }
        let form = Form::parse(body);
        let now = self.now();
        let apps = self.apps();
        let (grant, stt) = (form.get("grant_type"), form.get("subject_token_type"));
        let result = match grant {
            Some("client_credentials") if stt != Some(ID_TOKEN_TYPE) => {
                self.client_credentials(&apps, &form, now).await
            }
            _ if stt == Some(ID_TOKEN_TYPE) => self.token_exchange(&apps, &form, now).await,
            Some("authorization_code") => self.authorization_code(&apps, &form, now),
            Some("refresh_token") => self.refresh(&apps, &form, now),
            Some(TOKEN_EXCHANGE_GRANT) => Err(OAuthError::invalid_subject_token_type()),
            Some(_) => Err(OAuthError::unsupported_grant_type()),
            None => Err(OAuthError::missing_grant_type()),
        };
        match result {
            Ok(body) => json_response(200, &body),
            Err(e) => error_response(&e),
        }
    }

    /// §10.1.
    async fn client_credentials(
        &self,
        apps: &AppRegistry,
        form: &Form,
        now: DateTime<Utc>,
    ) -> Result<Value, OAuthError> {
        rules::check_client_assertion_type(form)?;
        let app = self.check_assertion(apps, form, now).await?;
        let scopes = rules::level3_scopes(app)?;
        let ms = shortened(form, "_access_token_expiry_ms", ACCESS_TOKEN_MS);
        let token = self.store.issue_access(AccessGrant {
            app: app.name.clone(),
            api_key: app.api_key.clone(),
            asid: app.asid.clone(),
            scopes,
            mode: AccessMode::AppRestricted,
            user: None,
            issued_at: now,
            expires_at: now + Duration::milliseconds(ms),
            session: None,
        });
        Ok(json!({
            "access_token": token.expose(),
            "expires_in": expires_in(ms),
            "token_type": "Bearer",
            "issued_at": now.timestamp_millis().to_string(),
        }))
    }

    /// §10.2.
    async fn token_exchange(&self, apps: &AppRegistry, form: &Form, now: DateTime<Utc>) -> Result<Value, OAuthError> {
        rules::check_client_assertion_type(form)?;
        if form.get("grant_type") != Some(TOKEN_EXCHANGE_GRANT) {
            return Err(OAuthError::invalid_grant_type());
        }
        let app = self.check_assertion(apps, form, now).await?;
        let subject = rules::check_subject_token(form, &self.context(apps, now))?;
        let scopes = rules::user_scopes(app, subject.aal)?;
        let persona = self.persona_for(&subject.sub, subject.aal);
        let user = UserGrant { persona, auth: AuthKind::Separate, selected_roleid: subject.selected_roleid };
        // The session lineage: the id_token exchanged names every token that descends from it.
        let session = form.get("subject_token").map(secret::fingerprint);
        let lineage = Lineage { first_issued_at: now, refresh_count: 0, session };
        let mut body = self.user_tokens(app, scopes, user, form, now, lineage);
        if let Some(obj) = body.as_object_mut() {
            obj.insert("issued_token_type".into(), json!("urn:ietf:params:oauth:token-type:access_token"));
        }
        Ok(body)
    }

    /// The persona whose user id is `sub`, or a role-less stand-in for an unknown user.
    fn persona_for(&self, sub: &str, aal: Option<u64>) -> Persona {
        self.personas.all().iter().find(|p| p.user_id == sub).cloned().unwrap_or_else(|| Persona {
            id: format!("unknown-{sub}"),
            user_id: sub.to_owned(),
            name: String::new(),
            aal: aal.and_then(|a| u8::try_from(a).ok()).unwrap_or(0),
            roles: vec![],
            selected_roleid: None,
        })
    }

    /// An access token and a refresh token for a user (token exchange, code grant and refresh).
    fn user_tokens(
        &self,
        app: &App,
        scopes: Vec<String>,
        user: UserGrant,
        form: &Form,
        now: DateTime<Utc>,
        lineage: Lineage,
    ) -> Value {
        let Lineage { first_issued_at, refresh_count, session } = lineage;
        let access_ms = shortened(form, "_access_token_expiry_ms", ACCESS_TOKEN_MS);
        let validity_ms = shortened(form, "_refresh_tokens_validity_ms", REFRESH_TOKENS_VALIDITY_MS);
        let age_ms = (now - first_issued_at).num_milliseconds();
        let refresh_ms = shortened(form, "_refresh_token_expiry_ms", REFRESH_TOKEN_MS).min(validity_ms - age_ms).max(0);
        let access = self.store.issue_access(AccessGrant {
            app: app.name.clone(),
            api_key: app.api_key.clone(),
            asid: app.asid.clone(),
            scopes: scopes.clone(),
            mode: AccessMode::UserRestricted,
            user: Some(user.clone()),
            issued_at: now,
            expires_at: now + Duration::milliseconds(access_ms),
            session: session.clone(),
        });
        let refresh = self.store.issue_refresh(RefreshGrant {
            app: app.name.clone(),
            scopes,
            user,
            first_issued_at,
            expires_at: now + Duration::milliseconds(refresh_ms),
            refresh_count,
            session,
        });
        json!({
            "access_token": access.expose(),
            "expires_in": expires_in(access_ms),
            "refresh_token": refresh.expose(),
            "refresh_token_expires_in": expires_in(refresh_ms),
            "refresh_count": refresh_count.to_string(),
            "token_type": "Bearer",
        })
    }

    /// `VerifyAPIKey.FromClientSecretFormParam` and the secret checks of the code and refresh grants.
    fn check_client_secret<'a>(&self, apps: &'a AppRegistry, form: &Form) -> Result<&'a App, OAuthError> {
        let id = match form.get("client_id") {
            None | Some("") => return Err(OAuthError::client_id_missing()),
            Some(id) => id,
        };
        let app = apps.by_api_key(id).ok_or_else(OAuthError::invalid_client)?;
        if !app.approved {
            return Err(OAuthError::app_not_approved());
        }
        let secret = form.get("client_secret").ok_or_else(OAuthError::client_secret_missing)?;
        if app.client_secret.as_ref() != Some(&Secret::new(secret)) {
            return Err(OAuthError::invalid_client());
        }
        Ok(app)
    }

    /// §10.3 `POST /token` with `grant_type=authorization_code`.
    fn authorization_code(&self, apps: &AppRegistry, form: &Form, now: DateTime<Utc>) -> Result<Value, OAuthError> {
        let app = self.check_client_secret(apps, form)?;
        let redirect_uri = form.get("redirect_uri").ok_or_else(OAuthError::redirect_uri_missing)?;
        if !app.redirect_uris.iter().any(|u| u == redirect_uri) {
            return Err(OAuthError::redirect_uri_invalid());
        }
        let code = form.get("code").ok_or_else(OAuthError::authorization_code_missing)?;
        let grant = self
            .store
            .take_code(code)
            .filter(|g| g.app == app.name && g.expires_at > now)
            .ok_or_else(OAuthError::authorization_code_invalid)?;
        let lineage = Lineage { first_issued_at: now, refresh_count: 0, session: None };
        Ok(self.user_tokens(app, grant.scopes, grant.user, form, now, lineage))
    }

    /// §10.4.
    fn refresh(&self, apps: &AppRegistry, form: &Form, now: DateTime<Utc>) -> Result<Value, OAuthError> {
        let app = self.check_client_secret(apps, form)?;
        let token = form.get("refresh_token").ok_or_else(OAuthError::refresh_token_missing)?;
        let grant = self.store.take_refresh(token).ok_or_else(OAuthError::refresh_token_invalid)?;
        if grant.app != app.name {
            self.store.restore_refresh(token, grant);
            return Err(OAuthError::refresh_token_invalid());
        }
        if grant.expires_at <= now {
            return Err(OAuthError::refresh_period_expired());
        }
        let validity_ms = shortened(form, "_refresh_tokens_validity_ms", REFRESH_TOKENS_VALIDITY_MS);
        if (now - grant.first_issued_at).num_milliseconds() > validity_ms {
            return Err(OAuthError::refresh_period_expired());
        }
        let lineage = Lineage {
            first_issued_at: grant.first_issued_at,
            refresh_count: grant.refresh_count + 1,
            session: grant.session,
        };
        Ok(self.user_tokens(app, grant.scopes, grant.user, form, now, lineage))
    }

    /// §10.3 `GET /authorize`, in the order of `Flow.GetAuthorization`.
    fn authorize(&self, query: &Form) -> Response {
        let id = match query.get("client_id") {
            None | Some("") => return error_response(&OAuthError::client_id_missing()),
            Some(id) => id,
        };
        let apps = self.apps();
        let Some(app) = apps.by_api_key(id) else {
            return error_response(&OAuthError::client_id_invalid());
        };
        if !app.approved {
            return error_response(&OAuthError::app_not_approved());
        }
        if app.products.is_empty() {
            return error_response(&OAuthError::no_access_to_resource());
        }
        let Some(redirect_uri) = query.get("redirect_uri") else {
            return error_response(&OAuthError::redirect_uri_missing());
        };
        if !app.redirect_uris.iter().any(|u| u == redirect_uri) {
            return error_response(&OAuthError::redirect_uri_invalid());
        }
        let Some(state) = query.get("state") else {
            return redirect(&with_query(
                redirect_uri,
                &[("error", "invalid_request"), ("error_description", "state is missing")],
            ));
        };
        match query.get("response_type") {
            None => {
                return redirect(&with_query(
                    redirect_uri,
                    &[
                        ("error", "invalid_request"),
                        ("error_description", "response_type is missing"),
                        ("state", state),
                    ],
                ))
            }
            Some("code") => {}
            Some(_) => {
                return redirect(&with_query(
                    redirect_uri,
                    &[
                        ("error", "unsupported_response_type"),
                        ("error_description", "response_type is invalid"),
                        ("state", state),
                    ],
                ))
            }
        }
        let session = self.store.open_session(AuthorizeSession {
            app: app.name.clone(),
            redirect_uri: redirect_uri.to_owned(),
            client_state: state.to_owned(),
        });
        redirect(&with_query(&format!("{}/mock-cis2/login", self.origin), &[("state", &session)]))
    }

    /// The mock CIS2 sign-in (and the identity service's callback): with `persona`, signs in and 302s to
    /// the client's `redirect_uri?code=…&state=…`; without, a page listing the personas.
    fn login(&self, query: &Form) -> Response {
        let Some(state) = query.get("state").filter(|s| self.store.session(s).is_some()) else {
            return error_response(&OAuthError::invalid_state());
        };
        let Some(persona_id) = query.get("persona") else {
            let items: String = self
                .personas
                .all()
                .iter()
                .map(|p| {
                    format!(
                        "<li><a href=\"/mock-cis2/login?state={}&amp;persona={}\">{} ({}, AAL{})</a></li>",
                        enc(state),
                        enc(&p.id),
                        html_escape(&p.id),
                        html_escape(&p.name),
                        p.aal
                    )
                })
                .collect();
            let page = format!(
                "<!DOCTYPE html><html><head><title>Mock CIS2 sign-in</title></head><body>\
                 <h1>Mock CIS2 sign-in (scr-assure, test only)</h1><ul>{items}</ul></body></html>"
            );
            return (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response();
        };
        let Some(persona) = self.personas.get(persona_id) else {
            return (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "text/plain")], "unknown persona")
                .into_response();
        };
        let Some(session) = self.store.close_session(state) else {
            return error_response(&OAuthError::invalid_state());
        };
        let apps = self.apps();
        let Some(app) = apps.by_name(&session.app) else {
            return error_response(&OAuthError::unknown_error());
        };
        let scopes = match rules::user_scopes(app, Some(u64::from(persona.aal))) {
            Ok(s) => s,
            Err(e) => return error_response(&e),
        };
        let user = UserGrant {
            persona: persona.clone(),
            auth: AuthKind::Combined,
            selected_roleid: persona.selected_roleid.clone(),
        };
        let code = self.store.issue_code(CodeGrant {
            app: app.name.clone(),
            user,
            scopes,
            expires_at: self.now() + Duration::seconds(CODE_SECONDS),
        });
        redirect(&with_query(&session.redirect_uri, &[("code", &code), ("state", &session.client_state)]))
    }

    /// §10.3 `GET /userinfo`.
    fn userinfo(&self, headers: &HeaderMap) -> Response {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        // Every VerifyAccessToken fault of the identity proxy ends in its DefaultFaultRule (SCRA-EDG-008).
        let refused = || error_response(&OAuthError::userinfo_token_refused());
        let Some(token) = token else { return refused() };
        let Some(grant) = self.store.introspect(token) else { return refused() };
        if grant.expires_at <= self.now() {
            return refused();
        }
        match &grant.user {
            Some(UserGrant { persona, auth: AuthKind::Combined, .. }) => {
                json_response(200, &personas::userinfo(persona))
            }
            _ => error_response(&OAuthError::userinfo_wrong_auth()),
        }
    }
}

/// Where a user's tokens stand in their line: the first sign-in, the refreshes since, the CIS2 session.
struct Lineage {
    first_issued_at: DateTime<Utc>,
    refresh_count: u32,
    session: Option<String>,
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests;
