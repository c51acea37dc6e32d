//! `scr-assure token …`: mint client assertions and CIS2 id_tokens with any defect, inspect a JWT as the NHS
//! identity service would judge it, and obtain an access token through a configured flow.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use chrono::{DateTime, Duration, Utc};
use clap::{Args, Subcommand};
use serde_json::Value;

use scr_assure::clock::Clock;
use scr_assure::identity::assertion::{self, AssertionSpec, ClientAssertion, Defect};
use scr_assure::identity::client::{TokenClient, TokenOutcome};
use scr_assure::identity::id_token::{self, IdTokenSpec};
use scr_assure::identity::keys::SigningKey;
use scr_assure::identity::personas::Personas;
use scr_assure::identity::{default_fixtures_dir, jwt, rules};
use scr_assure::mock::{self, MockConfig, Profile};
use scr_assure::secret::Secret;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a signed-JWT client assertion (RS512), with any defect on request.
    Assertion(AssertionArgs),
    /// Mint a mock CIS2 id_token for a persona, with any defect on request.
    IdToken(IdTokenArgs),
    /// Inspect a client assertion, a CIS2 id_token or an access token (detected, or --kind): decode it, show its
    /// times, verify a signature, and judge it by its own rules; exit 1 when a check fails.
    Inspect(InspectArgs),
    /// Obtain an access token through the configured flow; prints its expiry and scopes (the token only with --show).
    Get(super::site_cmd::GetArgs),
    /// Post a client assertion (with any defect of `token assertion`) to a token endpoint and show the identity
    /// service's answer: status, error, error_description (secrets redacted).
    Send(SendArgs),
}

/// What `token inspect` judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Detect it: a JWT with CIS2 claims (acr, amr, auth_time, assurance levels, tokenName …) is an id_token,
    /// another JWT a client assertion, anything else an access token.
    Auto,
    /// A signed-JWT client assertion (reference §10.1).
    ClientAssertion,
    /// A CIS2 id_token, as the token exchange judges its subject token (§10.2).
    IdToken,
    /// An access token of the API Platform: opaque, so only its form can be checked here.
    AccessToken,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The identity service's origin (or the SCR base URL of the same host), e.g. a running `scr-assure mock`;
    /// default: an embedded mock started for the purpose.
    #[arg(long)]
    base_url: Option<String>,
    /// API key (iss and sub); default: the test app of fixtures/identity/apps.toml.
    #[arg(long)]
    api_key: Option<String>,
    /// Read the API key from this environment variable instead.
    #[arg(long, conflicts_with = "api_key")]
    api_key_env: Option<String>,
    /// Allow a base URL on the production NHS API host (api.service.nhs.uk).
    #[arg(long)]
    allow_production: bool,
    #[command(flatten)]
    defects: DefectArgs,
}

/// Defect switches shared by both minting commands.
#[derive(Debug, Args)]
pub struct DefectArgs {
    /// Client clock error in seconds (positive: fast): iat and exp are dated now + skew.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    skew: i64,
    /// exp = now + skew + this many seconds (may be negative).
    #[arg(long, allow_hyphen_values = true)]
    exp_in: Option<i64>,
    /// Leave a claim or header out: jti, kid, exp, typ, iss, sub, aud, alg (repeatable).
    #[arg(long, value_name = "CLAIM")]
    omit: Vec<String>,
    /// Header alg (the token is still signed with RSA so it decodes).
    #[arg(long)]
    alg: Option<String>,
    /// Header kid.
    #[arg(long)]
    kid: Option<String>,
    /// Header typ.
    #[arg(long)]
    typ: Option<String>,
    /// aud claim.
    #[arg(long)]
    aud: Option<String>,
    /// iss claim.
    #[arg(long)]
    iss: Option<String>,
    /// sub claim.
    #[arg(long)]
    sub: Option<String>,
    /// jti claim (reuse one to replay).
    #[arg(long)]
    jti: Option<String>,
    /// exp claim as a JSON value, e.g. '"300"' to send a string.
    #[arg(long, value_name = "JSON")]
    exp_value: Option<String>,
    /// Private key (PKCS#8 or PKCS#1 PEM) to sign with.
    #[arg(long)]
    key: Option<PathBuf>,
}

impl DefectArgs {
    fn defects(&self) -> anyhow::Result<Vec<Defect>> {
        let mut out = Vec::new();
        for claim in &self.omit {
            out.push(Defect::parse(&format!("omit {claim}")).map_err(|e| anyhow::anyhow!("--omit {claim}: {e}"))?);
        }
        let texts = [
            ("alg", &self.alg),
            ("typ", &self.typ),
            ("aud", &self.aud),
            ("iss", &self.iss),
            ("sub", &self.sub),
            ("jti", &self.jti),
            ("exp", &self.exp_value),
        ];
        for (name, value) in texts {
            if let Some(v) = value {
                let flag = if name == "exp" { "exp-value" } else { name };
                out.push(Defect::parse(&format!("{name} {v}")).map_err(|e| anyhow::anyhow!("--{flag} {v}: {e}"))?);
            }
        }
        Ok(out)
    }

    fn signing_key(&self, default_file: &str, kid: &str) -> anyhow::Result<SigningKey> {
        let path = self.key.clone().unwrap_or_else(|| default_fixtures_dir().join(default_file));
        // The key error names the path and the OS error or the format problem (never the key's content).
        SigningKey::from_pem_file(&path, kid).map_err(|e| anyhow::anyhow!("cannot use the private key: {e}"))
    }
}

#[derive(Debug, Args)]
pub struct AssertionArgs {
    /// The token URL the assertion is for (its `aud`), e.g. http://127.0.0.1:PORT/oauth2/token.
    #[arg(long = "token-url")]
    token_url: String,
    /// API key (iss and sub); default: the test app of fixtures/identity/apps.toml.
    #[arg(long)]
    api_key: Option<String>,
    /// Read the API key from this environment variable instead.
    #[arg(long, conflicts_with = "api_key")]
    api_key_env: Option<String>,
    #[command(flatten)]
    defects: DefectArgs,
}

#[derive(Debug, Args)]
pub struct IdTokenArgs {
    /// Persona id from fixtures/identity/personas.toml.
    #[arg(long)]
    persona: String,
    /// Issuer: the mock CIS2 realm, e.g. http://127.0.0.1:PORT/mock-cis2.
    #[arg(long)]
    issuer: String,
    /// The CIS2 client id the token is for (aud, azp).
    #[arg(long, default_value = "scr-assure-test")]
    client_id: String,
    #[command(flatten)]
    defects: DefectArgs,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The token to inspect ("-" reads it from standard input).
    jwt: String,
    /// What it is; default: detected from its header and claims.
    #[arg(long, value_enum, default_value_t = Kind::Auto)]
    kind: Kind,
    /// The CIS2 issuer an id_token must name (`iss`); not judged without it.
    #[arg(long)]
    issuer: Option<String>,
    /// Judge it as a server whose clock is this many seconds ahead of this machine.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    skew: i64,
    /// The token URL a client assertion should name as aud (default: its own aud, so not judged).
    #[arg(long)]
    token_url: Option<String>,
    /// Verify the signature against this JWKS (a file path or an http(s) URL): the app's for a client
    /// assertion, CIS2's for an id_token.
    #[arg(long)]
    jwks: Option<String>,
    /// Allow a JWKS URL on the production NHS API host (api.service.nhs.uk).
    #[arg(long)]
    allow_production: bool,
}

pub const DEFAULT_API_KEY: &str = "scr-assure-test-app-key";
pub const DEFAULT_KID: &str = "scr-assure-test-1";
pub const CIS2_KID: &str = "mock-cis2-1";

pub async fn run(command: TokenCommand) -> anyhow::Result<u8> {
    let clock = Clock::system();
    match command {
        TokenCommand::Assertion(args) => {
            let api_key = api_key(args.api_key.as_deref(), args.api_key_env.as_deref())?;
            let minted = mint_assertion(api_key, &args.token_url, &args.defects, &clock)?;
            say!("{}", minted.expose());
            Ok(0)
        }
        TokenCommand::IdToken(args) => {
            let personas = Personas::load(default_fixtures_dir().join("personas.toml"))
                .context("cannot load fixtures/identity/personas.toml")?;
            let Some(persona) = personas.get(&args.persona) else {
                let known: Vec<&str> = personas.all().iter().map(|p| p.id.as_str()).collect();
                bail!("unknown persona '{}'; known: {}", args.persona, known.join(", "));
            };
            let kid = args.defects.kid.clone().unwrap_or_else(|| CIS2_KID.to_owned());
            let key = args.defects.signing_key("mock-cis2-private-key.pem", &kid)?;
            let mut spec = IdTokenSpec::new(persona, args.issuer.clone(), args.client_id.clone(), kid, clock.now());
            spec.skew_seconds = args.defects.skew;
            if let Some(e) = args.defects.exp_in {
                spec.exp_in_seconds = e;
            }
            spec.defects = args.defects.defects()?;
            let minted = id_token::mint(&spec, &key).context("cannot sign the id_token")?;
            say!("{}", minted.0.expose());
            Ok(0)
        }
        TokenCommand::Inspect(args) => inspect(args, clock.now()).await,
        TokenCommand::Get(args) => super::site_cmd::get_token(args).await,
        TokenCommand::Send(args) => send(args, &clock).await,
    }
}

fn api_key(value: Option<&str>, env: Option<&str>) -> anyhow::Result<Secret> {
    Ok(match (value, env) {
        (Some(k), _) => Secret::new(k),
        (None, Some(var)) => {
            Secret::new(std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?)
        }
        (None, None) => Secret::new(DEFAULT_API_KEY),
    })
}

/// A client assertion for `token_url` (its aud) with the defects asked for.
fn mint_assertion(api_key: Secret, token_url: &str, defects: &DefectArgs, clock: &Clock) -> anyhow::Result<Secret> {
    let kid = defects.kid.clone().unwrap_or_else(|| DEFAULT_KID.to_owned());
    let key = defects.signing_key("test-app-private-key.pem", &kid)?;
    let mut spec = AssertionSpec::new(api_key, kid, token_url.to_owned(), clock.now());
    spec.skew_seconds = defects.skew;
    if let Some(e) = defects.exp_in {
        spec.exp_in_seconds = e;
    }
    spec.defects = defects.defects()?;
    Ok(assertion::mint(&spec, &key).context("cannot sign the assertion")?.0)
}

/// `token send`: mints the assertion, posts the client-credentials form through the harness's recorded token
/// client, and prints the exchange as recorded (secrets redacted) and the service's answer. Exit 0 when the
/// service answered (granted or refused), 2 on a bad argument, 3 when it could not be reached.
async fn send(args: SendArgs, clock: &Clock) -> anyhow::Result<u8> {
    let (origin, running) = match &args.base_url {
        Some(url) => {
            if let Err(e) = scr_assure::config::guard::check_url("--base-url", url, args.allow_production) {
                eprintln!("error: {e}");
                return Ok(2);
            }
            (super::site_cmd::origin_of(url), None)
        }
        None => {
            let config = MockConfig { auth: true, ..MockConfig::loopback(Profile::Stateful) };
            let running = mock::start(config).await.context("cannot start the embedded mock")?;
            (running.origin(), Some(running))
        }
    };
    let code = send_to(&args, &origin, clock).await;
    if let Some(m) = running {
        m.shutdown().await;
    }
    code
}

async fn send_to(args: &SendArgs, origin: &str, clock: &Clock) -> anyhow::Result<u8> {
    let tokens = match TokenClient::new(&format!("{origin}/oauth2")) {
        Ok(t) => t.recording(clock),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
    };
    let api_key = api_key(args.api_key.as_deref(), args.api_key_env.as_deref())?;
    let assertion = mint_assertion(api_key, &tokens.token_url, &args.defects, clock)?;
    let form = TokenClient::client_credentials_form(&ClientAssertion(assertion), &[]);
    let outcome = tokens.post_form(&form).await;
    for x in tokens.take_exchanges() {
        say!("{} {} (sent {}, {} ms)", x.request.method, x.request.url, x.wall_at, x.duration_ms);
        say!("  form: {}", x.request.body.as_deref().unwrap_or(""));
        say!("  answered HTTP {}", x.response.status);
        for (name, value) in &x.response.headers {
            say!("  {name}: {value}");
        }
        say!("  body: {}", x.response.body);
    }
    match outcome {
        Ok(TokenOutcome::Rejected(e)) => {
            say!("status: {}", e.status);
            say!("error: {}", e.error);
            say!("error_description: {}", e.error_description);
            if let Some(m) = &e.message_id {
                say!("message_id: {m}");
            }
            Ok(0)
        }
        Ok(TokenOutcome::Granted(t)) => {
            say!("status: 200");
            say!("granted: access_token {} expiring in {} s", t.access_token, t.expires_in);
            Ok(0)
        }
        Err(e) => {
            eprintln!("error: the token request failed: {e}");
            Ok(3)
        }
    }
}

fn relative(t: i64, now: DateTime<Utc>) -> String {
    let delta = t - now.timestamp();
    let when = DateTime::<Utc>::from_timestamp(t, 0).map(|d| d.to_rfc3339()).unwrap_or_else(|| "?".into());
    match delta {
        d if d > 0 => format!("{t} ({when}, in {d} s)"),
        0 => format!("{t} ({when}, now)"),
        d => format!("{t} ({when}, {} s ago)", -d),
    }
}

async fn load_jwks(source: &str) -> anyhow::Result<jsonwebtoken::jwk::JwkSet> {
    let text = if source.starts_with("http://") || source.starts_with("https://") {
        // Bounded like every request of the harness (default timeouts, deadline and body cap; no redirects).
        let options = scr_assure::client::ClientOptions::default();
        let http = scr_assure::client::http_client(&options)?;
        let response = scr_assure::client::fetch(http.get(source), &options, source)
            .await
            .with_context(|| format!("cannot fetch the JWKS {source}"))?;
        String::from_utf8_lossy(&response.body).into_owned()
    } else {
        std::fs::read_to_string(source).with_context(|| format!("cannot read the JWKS file {source}"))?
    };
    serde_json::from_str(&text).with_context(|| format!("{source} is not a JWKS"))
}

/// What a token looks like, and why: the kind `--kind auto` settles on.
fn detect(token: &str) -> (Kind, &'static str) {
    let Ok(raw) = jwt::decode_unverified(token) else {
        return if token.split('.').count() == 3 {
            (Kind::ClientAssertion, "three dot-separated parts, but it does not decode: judged as a client assertion")
        } else {
            (Kind::AccessToken, "not a JWT")
        };
    };
    const CIS2_CLAIMS: [&str; 7] =
        ["acr", "amr", "auth_time", "id_assurance_level", "authentication_assurance_level", "tokenName", "nonce"];
    if CIS2_CLAIMS.iter().any(|c| raw.claims.get(*c).is_some()) {
        (Kind::IdToken, "a JWT with CIS2 id_token claims")
    } else {
        (Kind::ClientAssertion, "a JWT without CIS2 id_token claims")
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Auto => "detected",
        Kind::ClientAssertion => "client assertion",
        Kind::IdToken => "CIS2 id_token",
        Kind::AccessToken => "access token",
    }
}

/// Prints each check's verdict (`checks`: name and row, in the service's order), then the rejections in order.
/// Returns the exit code: 1 when a check fails.
fn print_checks(what: &str, checks: &[(&str, u8)], judged: impl Fn(u8) -> bool, findings: &[rules::Finding]) -> u8 {
    say!("checks of the NHS identity service for a {what}, in its order (it answers the first failure):");
    for (name, row) in checks {
        let verdict = match findings.iter().find(|f| f.row == *row) {
            Some(f) => format!("FAIL  {} {}: {}", f.error.status, f.error.error, f.error.description),
            None if judged(*row) => "ok".to_owned(),
            None => "not judged here".to_owned(),
        };
        say!("  [{row:>2}] {name}: {verdict}");
    }
    if findings.is_empty() {
        return 0;
    }
    say!("as a {what}, the NHS identity service would reject it (first one wins):");
    for f in findings {
        say!("  row {:>2}: {} {}: {}", f.row, f.error.status, f.error.error, f.error.description);
    }
    1
}

/// An access token of the API Platform is opaque: only its form can be checked (RFC 6750 `b64token`).
fn inspect_access_token(token: &str) -> u8 {
    say!("kind: access token — opaque on the NHS API Platform: its expiry, scopes and validity are known only to");
    say!("the identity service that issued it (use it on GET /oauth2/userinfo or an SCR request to find out)");
    let b64token = !token.is_empty()
        && token.trim_end_matches('=').chars().all(|c| c.is_ascii_alphanumeric() || "-._~+/".contains(c))
        && !token.trim_end_matches('=').is_empty();
    let checks = [
        ("not empty", !token.is_empty()),
        ("RFC 6750 b64token syntax (what a Bearer header can carry)", b64token),
        ("opaque, as the API Platform issues them (not a JWT)", jwt::decode_unverified(token).is_err()),
    ];
    for (name, ok) in &checks {
        say!("  {name}: {}", if *ok { "ok" } else { "FAIL" });
    }
    say!("  length: {} characters", token.len());
    u8::from(checks.iter().any(|(_, ok)| !ok))
}

async fn inspect(args: InspectArgs, now: DateTime<Utc>) -> anyhow::Result<u8> {
    if let Some(source) = args.jwks.as_deref().filter(|s| s.starts_with("http://") || s.starts_with("https://")) {
        if let Err(e) = scr_assure::config::guard::check_url("--jwks", source, args.allow_production) {
            eprintln!("error: {e}");
            return Ok(2);
        }
    }
    let token = if args.jwt == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("cannot read standard input")?;
        s.trim().to_owned()
    } else {
        args.jwt.clone()
    };
    let kind = match args.kind {
        Kind::Auto => {
            let (kind, why) = detect(&token);
            say!("kind: {} (detected: {why}; choose with --kind)", kind_name(kind));
            kind
        }
        chosen => {
            say!("kind: {} (--kind)", kind_name(chosen));
            chosen
        }
    };
    if kind == Kind::AccessToken {
        return Ok(inspect_access_token(&token));
    }
    let raw = match jwt::decode_unverified(&token) {
        Ok(raw) => raw,
        Err(e) => {
            say!("not a decodable JWT: {e}");
            let error = if kind == Kind::IdToken {
                scr_assure::identity::texts::OAuthError::malformed_subject_token()
            } else {
                scr_assure::identity::texts::OAuthError::malformed_client_assertion()
            };
            say!("the NHS identity service would reject it: {} {}: {}", error.status, error.error, error.description);
            return Ok(1);
        }
    };
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    say!("header:\n{}", pretty(&raw.header));
    say!("claims:\n{}", pretty(&raw.claims));
    let server_now = now + Duration::seconds(args.skew);
    for claim in ["iat", "nbf", "exp"] {
        if let Some(t) = raw.claims.get(claim).and_then(Value::as_i64) {
            say!("{claim}: {}", relative(t, now));
            if args.skew != 0 {
                say!("{claim} at the server (clock {:+} s): {}", args.skew, relative(t, server_now));
            }
        }
    }
    let jwks = match &args.jwks {
        Some(source) => Some(load_jwks(source).await?),
        None => None,
    };
    if let Some(set) = &jwks {
        match raw.header_str("kid").and_then(|k| set.find(k)) {
            None => say!("signature: no key in the JWKS has this kid"),
            Some(jwk) if jwt::verify(&raw, jwk) => say!("signature: valid"),
            Some(_) => say!("signature: INVALID"),
        }
    }
    let skew = Duration::seconds(args.skew);
    if kind == Kind::IdToken {
        let findings = rules::inspect_subject_token(&token, now, skew, args.issuer.as_deref(), jwks.as_ref());
        let judged = |row: u8| match row {
            10 => args.issuer.is_some(),
            11 | 12 => jwks.is_some(),
            _ => true,
        };
        let code = print_checks("CIS2 id_token (subject token)", rules::SUBJECT_TOKEN_CHECKS, judged, &findings);
        if code == 0 {
            say!("as a CIS2 id_token: no check of the token exchange rejects it (the app's own checks — its client assertion, scopes, assurance level — are not judged here)");
        }
        return Ok(code);
    }
    let own_aud = args.token_url.is_none();
    let aud = args.token_url.clone().or_else(|| raw.claim_str("aud").map(str::to_owned)).unwrap_or_default();
    let findings = rules::inspect_client_assertion(&token, now, skew, &aud, jwks.as_ref());
    let judged = |row: u8| match row {
        18 => !own_aud,
        19 | 20 => jwks.is_some(),
        _ => true,
    };
    let code = print_checks("client assertion", rules::CLIENT_ASSERTION_CHECKS, judged, &findings);
    say!("not judged here (they need the service's state): rows 1–2 (the form), 13 (replay), 15–17 (the app's registration), 21 (products)");
    if code == 0 {
        say!("as a client assertion: no rule of the NHS identity service rejects it (rows that need the service's state — replay, app registration, products — are not judged here)");
    }
    Ok(code)
}
