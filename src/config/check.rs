//! The site readiness check (`scr-assure site check`): the ASID readiness checklist a support team runs after
//! installing at a new site. Each item passes or fails with the reason; items that need an earlier one
//! (a token needs the key) say so instead of failing obscurely.

use std::fmt;

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use reqwest::Url;

use super::site::{asid_ok, ods_code_ok, urid_ok, JwksSource, Site};
use crate::client::{excerpt, fetch, http_client, ClientError, ClientOptions, RawResponse};
use crate::clock::Clock;
use crate::identity::client::TokenOutcome;
use crate::identity::keys::SigningKey;
use crate::runner::auth::site_auth;
use crate::scr::codes::NHS_NUMBER_SYSTEM;
use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass(String),
    Fail(String),
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckItem {
    pub name: &'static str,
    pub verdict: Verdict,
}

impl fmt::Display for CheckItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.verdict {
            Verdict::Pass(why) => write!(f, "PASS  {:<22} {why}", self.name),
            Verdict::Fail(why) => write!(f, "FAIL  {:<22} {why}", self.name),
        }
    }
}

fn item(name: &'static str, ok: bool, pass: String, fail: String) -> CheckItem {
    CheckItem { name, verdict: if ok { Verdict::Pass(pass) } else { Verdict::Fail(fail) } }
}

fn pass(name: &'static str, why: impl Into<String>) -> CheckItem {
    CheckItem { name, verdict: Verdict::Pass(why.into()) }
}

fn fail(name: &'static str, why: impl Into<String>) -> CheckItem {
    CheckItem { name, verdict: Verdict::Fail(why.into()) }
}

/// The checklist's HTTP client, bounded by the site's `[http]` options like every harness request.
struct Http {
    client: reqwest::Client,
    options: ClientOptions,
}

impl Http {
    async fn fetch(&self, request: reqwest::RequestBuilder, shown: &str) -> Result<RawResponse, ClientError> {
        fetch(request, &self.options, shown).await
    }
}

/// Whether a URL's host is this machine (plain HTTP is accepted only there: the embedded mock).
fn is_loopback(url: &Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]" | "::1"))
}

/// Reachability over TLS: any HTTP answer counts; plain HTTP only on loopback.
async fn reachable(http: &Http, name: &'static str, url: &str) -> CheckItem {
    let parsed = match Url::parse(url) {
        Ok(u) => u,
        Err(e) => return fail(name, format!("{url} is not a URL: {e}")),
    };
    let tls = parsed.scheme() == "https";
    if !tls && !is_loopback(&parsed) {
        return fail(name, format!("{url} is not TLS (https) and not on this machine"));
    }
    match http.fetch(http.client.get(url), url).await {
        Ok(r) if tls => pass(name, format!("{url} answered HTTP {} over TLS", r.status)),
        Ok(r) => pass(name, format!("{url} answered HTTP {} (plain HTTP on loopback: the embedded mock)", r.status)),
        Err(e) => fail(name, format!("{url} cannot be reached ({}): {e}", e.fault())),
    }
}

async fn load_jwks(http: &Http, source: &JwksSource) -> Result<JwkSet, String> {
    let text = match source {
        JwksSource::Url(u) => {
            let r = http.fetch(http.client.get(u), u).await.map_err(|e| format!("cannot fetch {u}: {e}"))?;
            String::from_utf8_lossy(&r.body).into_owned()
        }
        JwksSource::File(p) => std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?,
    };
    serde_json::from_str(&text).map_err(|e| format!("not a JWKS: {e}"))
}

/// Whether the private key's public part is the JWK published under its kid.
fn key_matches(key: &SigningKey, jwks: &JwkSet) -> Result<(), String> {
    let published = jwks.find(key.kid()).ok_or_else(|| format!("the JWKS has no key with kid '{}'", key.kid()))?;
    let ours = key.jwk();
    match (&published.algorithm, &ours.algorithm) {
        (AlgorithmParameters::RSA(a), AlgorithmParameters::RSA(b)) if a.n == b.n && a.e == b.e => Ok(()),
        (AlgorithmParameters::RSA(_), _) => {
            Err(format!("the key published under kid '{}' is not the public part of this private key", key.kid()))
        }
        _ => Err(format!("the key published under kid '{}' is not an RSA key", key.kid())),
    }
}

/// Runs the checklist.
pub async fn run(site: &Site, clock: &Clock) -> Vec<CheckItem> {
    let mut items = vec![
        item(
            "ods-code",
            ods_code_ok(&site.ods_code),
            format!("{} is well-formed", site.ods_code),
            format!("'{}' is not an ODS code (3–6 upper-case letters and digits)", site.ods_code),
        ),
        item(
            "asid",
            asid_ok(&site.asid),
            format!("{} is well-formed", site.asid),
            format!("'{}' is not an ASID (12 digits)", site.asid),
        ),
        item(
            "session-urid",
            urid_ok(&site.session_urid),
            format!("{} is well-formed", site.session_urid),
            format!("'{}' is not a role profile id (digits)", site.session_urid),
        ),
    ];
    let api_key = site.api_key.load("API key");
    items.push(match &api_key {
        Ok(_) => pass("api-key", format!("readable from {}", site.api_key.describe())),
        Err(e) => fail("api-key", e.to_string()),
    });
    let http = match http_client(&site.http) {
        Ok(client) => Http { client, options: site.http },
        Err(e) => {
            items.push(fail("http-client", e.to_string()));
            return items;
        }
    };
    let key = SigningKey::from_pem_file(&site.private_key_file, &site.kid);
    items.push(match (&key, &site.jwks) {
        (Err(e), _) => fail("private-key", e.to_string()),
        (Ok(_), None) => {
            fail("private-key", "readable, but the site names no jwks_url/jwks_file to check it against its kid")
        }
        (Ok(k), Some(source)) => match load_jwks(&http, source).await.and_then(|set| key_matches(k, &set)) {
            Ok(()) => pass("private-key", format!("readable and matches kid '{}' in the published JWKS", k.kid())),
            Err(e) => fail("private-key", e),
        },
    });
    items.push(reachable(&http, "token-endpoint", &site.token_url).await);
    items.push(reachable(&http, "scr-endpoint", &format!("{}/_ping", site.scr_base_url)).await);

    let token: Option<Secret> = if api_key.is_err() || key.is_err() {
        items.push(fail("access-token", "not tried: the API key and private key must pass first"));
        None
    } else {
        match site_auth(site) {
            Err(e) => {
                items.push(fail("access-token", e.to_string()));
                None
            }
            Ok(auth) => match auth.obtain(&auth.default_flow, clock.now()).await {
                Ok(TokenOutcome::Granted(t)) => {
                    items.push(pass(
                        "access-token",
                        format!("obtained by the {:?} flow, expires in {} s", site.flow, t.expires_in),
                    ));
                    Some(t.access_token)
                }
                Ok(TokenOutcome::Rejected(e)) => {
                    items.push(fail(
                        "access-token",
                        format!("refused: {} {}: {}", e.status, e.error, e.error_description),
                    ));
                    None
                }
                Err(e) => {
                    items.push(fail("access-token", e.to_string()));
                    None
                }
            },
        }
    };

    items.push(match (&site.test_patient, token) {
        (None, _) => fail("permission-to-view", "the site names no test_patient to read"),
        (Some(_), None) => fail("permission-to-view", "not tried: no access token"),
        (Some(nhs), Some(token)) => {
            let url = format!("{}/DocumentReference?patient={NHS_NUMBER_SYSTEM}|{nhs}", site.scr_base_url);
            let request = http
                .client
                .get(&url)
                .bearer_auth(token.expose())
                .header("NHSD-Session-URID", &site.session_urid)
                .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
                .header("Accept", "application/fhir+json");
            let shown = format!("{}/DocumentReference", site.scr_base_url);
            match http.fetch(request, &shown).await {
                Err(e) => fail("permission-to-view", format!("the read failed ({}): {e}", e.fault())),
                Ok(r) => {
                    let status = r.status;
                    let body: serde_json::Value = serde_json::from_slice(&r.body)
                        .unwrap_or_else(|_| serde_json::Value::String(excerpt(&String::from_utf8_lossy(&r.body))));
                    if status == 200 {
                        let permission = body
                            .pointer("/entry/0/resource/securityLabel/0/coding/0/code")
                            .and_then(|v| v.as_str())
                            .map(|p| format!("permission to view {p}"))
                            .unwrap_or_else(|| "no SCR held".into());
                        pass("permission-to-view", format!("read for {nhs} succeeded: {permission}"))
                    } else {
                        fail("permission-to-view", format!("read for {nhs} answered HTTP {status}: {body}"))
                    }
                }
            }
        }
    });
    items
}
