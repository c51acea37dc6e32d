//! `scr-assure token …`: mint client assertions and CIS2 id_tokens with any defect, inspect a JWT as the NHS
//! identity service would judge it, and obtain an access token through a configured flow.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use chrono::{DateTime, Duration, Utc};
use clap::{Args, Subcommand};
use serde_json::Value;

use scr_assure::clock::Clock;
use scr_assure::identity::assertion::{self, AssertionSpec, Defect};
use scr_assure::identity::id_token::{self, IdTokenSpec};
use scr_assure::identity::keys::SigningKey;
use scr_assure::identity::personas::Personas;
use scr_assure::identity::{default_fixtures_dir, jwt, rules};
use scr_assure::secret::Secret;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a signed-JWT client assertion (RS512), with any defect on request.
    Assertion(AssertionArgs),
    /// Mint a mock CIS2 id_token for a persona, with any defect on request.
    IdToken(IdTokenArgs),
    /// Decode a JWT, show its times, verify its signature, and list what the NHS identity service would reject.
    Inspect(InspectArgs),
    /// Obtain an access token through the configured flow; prints its expiry and scopes (the token only with --show).
    Get(super::site_cmd::GetArgs),
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
    /// The JWT to inspect ("-" reads it from standard input).
    jwt: String,
    /// Judge it as a server whose clock is this many seconds ahead of this machine.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    skew: i64,
    /// The token URL the assertion should name as aud.
    #[arg(long)]
    token_url: Option<String>,
    /// Verify the signature against this JWKS (a file path or an http(s) URL).
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
            let api_key = match (&args.api_key, &args.api_key_env) {
                (Some(k), _) => Secret::new(k.clone()),
                (None, Some(var)) => {
                    Secret::new(std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?)
                }
                (None, None) => Secret::new(DEFAULT_API_KEY),
            };
            let kid = args.defects.kid.clone().unwrap_or_else(|| DEFAULT_KID.to_owned());
            let key = args.defects.signing_key("test-app-private-key.pem", &kid)?;
            let mut spec = AssertionSpec::new(api_key, kid, args.token_url.clone(), clock.now());
            spec.skew_seconds = args.defects.skew;
            if let Some(e) = args.defects.exp_in {
                spec.exp_in_seconds = e;
            }
            spec.defects = args.defects.defects()?;
            let minted = assertion::mint(&spec, &key).context("cannot sign the assertion")?;
            say!("{}", minted.0.expose());
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
    let raw = match jwt::decode_unverified(&token) {
        Ok(raw) => raw,
        Err(e) => {
            say!("not a decodable JWT: {e}");
            say!("the NHS identity service would reject it: 400 invalid_request: Malformed JWT in client_assertion");
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
    let aud = args.token_url.clone().or_else(|| raw.claim_str("aud").map(str::to_owned)).unwrap_or_default();
    let findings = rules::inspect_client_assertion(&token, now, Duration::seconds(args.skew), &aud, jwks.as_ref());
    if findings.is_empty() {
        say!("as a client assertion: no rule of the NHS identity service rejects it (rows that need the service's state — replay, app registration, products — are not judged here)");
        Ok(0)
    } else {
        say!("as a client assertion, the NHS identity service would reject it (first one wins):");
        for f in &findings {
            say!("  row {:>2}: {} {}: {}", f.row, f.error.status, f.error.error, f.error.description);
        }
        Ok(1)
    }
}
