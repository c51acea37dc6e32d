//! The mock identity service's state: access tokens (what the gateway introspects), refresh tokens with
//! rotation, `/authorize` sessions and authorization codes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::identity::personas::Persona;
use crate::secret::Secret;

/// How a token reaches the SCR API (reference §10.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    AppRestricted,
    UserRestricted,
}

/// How a user-restricted token was obtained (reference §10.2, §10.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// Token exchange of a CIS2 ID token.
    Separate,
    /// The authorization code flow.
    Combined,
}

/// The user behind a user-restricted token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserGrant {
    pub persona: Persona,
    pub auth: AuthKind,
    /// The ID token's `selected_roleid`, when it had one.
    pub selected_roleid: Option<String>,
}

/// What an access token grants. Expiry is the caller's to judge: `expires_at <= clock.now()` is expired.
#[derive(Debug, Clone)]
pub struct AccessGrant {
    /// The app's name in `apps.toml`.
    pub app: String,
    pub api_key: Secret,
    pub asid: Option<String>,
    pub scopes: Vec<String>,
    pub mode: AccessMode,
    pub user: Option<UserGrant>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The session lineage: [`crate::secret::fingerprint`] of the CIS2 id_token this token descends from
    /// (token exchange, inherited through refreshes); `None` for the authorization-code flow and app tokens.
    pub session: Option<String>,
}

/// Which of an app's tokens an expiry takes: those of one CIS2 session (or all), and whether its refresh
/// tokens are revoked too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenScope {
    pub session: Option<String>,
    pub refresh_tokens: bool,
}

/// A refresh token's grant.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub app: String,
    pub scopes: Vec<String>,
    pub user: UserGrant,
    /// When the user first signed in (the refresh window runs from here).
    pub first_issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub refresh_count: u32,
    /// As [`AccessGrant::session`]; the access tokens a refresh issues inherit it.
    pub session: Option<String>,
}

/// An `/authorize` request waiting for the mock CIS2 sign-in.
#[derive(Debug, Clone)]
pub struct AuthorizeSession {
    pub app: String,
    pub redirect_uri: String,
    pub client_state: String,
}

/// An authorization code waiting for the code grant.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub app: String,
    pub user: UserGrant,
    pub scopes: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

/// All the state, each map behind its own lock.
#[derive(Debug, Default)]
pub struct TokenStore {
    access: Mutex<HashMap<String, AccessGrant>>,
    refresh: Mutex<HashMap<String, RefreshGrant>>,
    sessions: Mutex<HashMap<String, AuthorizeSession>>,
    codes: Mutex<HashMap<String, CodeGrant>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A fresh opaque token.
pub fn new_token() -> Secret {
    Secret::new(format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()))
}

impl TokenStore {
    pub fn issue_access(&self, grant: AccessGrant) -> Secret {
        let token = new_token();
        lock(&self.access).insert(token.expose().to_owned(), grant);
        token
    }

    /// The grant of an access token, expired or not (unknown: `None`).
    pub fn introspect(&self, token: &str) -> Option<AccessGrant> {
        lock(&self.access).get(token).cloned()
    }

    /// Expires every live access grant of `app` at `at` (earlier expiries stand); how many it expired.
    pub fn expire_app(&self, app: &str, at: DateTime<Utc>, only: &TokenScope) -> usize {
        let in_scope = |grant_app: &str, session: &Option<String>| {
            grant_app == app && only.session.as_ref().is_none_or(|s| session.as_ref() == Some(s))
        };
        let mut access = lock(&self.access);
        let mut count = 0;
        for grant in access.values_mut().filter(|g| in_scope(&g.app, &g.session) && g.expires_at > at) {
            grant.expires_at = at;
            count += 1;
        }
        if only.refresh_tokens {
            let mut refresh = lock(&self.refresh);
            let before = refresh.len();
            refresh.retain(|_, g| !in_scope(&g.app, &g.session));
            count += before - refresh.len();
        }
        count
    }

    /// The grant of a refresh token, without taking it (unknown or already used: `None`).
    pub fn peek_refresh(&self, token: &str) -> Option<RefreshGrant> {
        lock(&self.refresh).get(token).cloned()
    }

    pub fn issue_refresh(&self, grant: RefreshGrant) -> Secret {
        let token = new_token();
        lock(&self.refresh).insert(token.expose().to_owned(), grant);
        token
    }

    /// Takes a refresh token out (rotation: a used refresh token is invalid afterwards).
    pub fn take_refresh(&self, token: &str) -> Option<RefreshGrant> {
        lock(&self.refresh).remove(token)
    }

    /// Puts a refresh token back (a request that failed for another reason must not consume it).
    pub fn restore_refresh(&self, token: &str, grant: RefreshGrant) {
        lock(&self.refresh).insert(token.to_owned(), grant);
    }

    pub fn open_session(&self, session: AuthorizeSession) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        lock(&self.sessions).insert(id.clone(), session);
        id
    }

    pub fn session(&self, state: &str) -> Option<AuthorizeSession> {
        lock(&self.sessions).get(state).cloned()
    }

    pub fn close_session(&self, state: &str) -> Option<AuthorizeSession> {
        lock(&self.sessions).remove(state)
    }

    pub fn issue_code(&self, grant: CodeGrant) -> String {
        let code = uuid::Uuid::new_v4().simple().to_string();
        lock(&self.codes).insert(code.clone(), grant);
        code
    }

    /// Takes a code out (single use).
    pub fn take_code(&self, code: &str) -> Option<CodeGrant> {
        lock(&self.codes).remove(code)
    }
}
