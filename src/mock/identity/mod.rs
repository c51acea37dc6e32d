//! The mock NHS API Platform identity service (`/oauth2/*`) and the mock CIS2 issuer (`/mock-cis2/*`),
//! served by the same server as the mock SCR service. See `docs/IDENTITY.md`.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::clock::Clock;

/// The identity service of one mock.
pub struct IdentityService {
    pub clock: Clock,
    /// `http://127.0.0.1:<port>`
    pub origin: String,
}

impl IdentityService {
    pub fn new(clock: Clock, origin: String) -> Result<Self, String> {
        Ok(Self { clock, origin })
    }

    /// Whether this service answers `path`.
    pub fn serves(path: &str) -> bool {
        path.starts_with("/oauth2/") || path.starts_with("/mock-cis2/") || path.starts_with("/mock-apps/")
    }

    /// Answers a request to one of its routes.
    pub async fn handle(
        &self,
        _method: &Method,
        _path: &str,
        _query: Option<&str>,
        _headers: &HeaderMap,
        _body: Bytes,
    ) -> Response {
        StatusCode::NOT_IMPLEMENTED.into_response()
    }
}
