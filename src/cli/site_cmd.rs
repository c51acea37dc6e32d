//! `scr-assure site check` and `scr-assure token get`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use scr_assure::clock::Clock;
use scr_assure::config::{check, guard, site::Site};
use scr_assure::identity::client::TokenOutcome;
use scr_assure::mock::{self, MockConfig, Profile};
use scr_assure::runner::auth::{mock_auth, site_auth};
use scr_assure::runner::TargetKind;

#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// The readiness checklist: identifiers, key, endpoints over TLS, a token, a permission-to-view read.
    Check {
        /// The site file (see the README's "Site configuration").
        #[arg(long)]
        site: PathBuf,
        /// Allow endpoints on the production NHS API host (api.service.nhs.uk): refused otherwise.
        #[arg(long)]
        allow_production: bool,
    },
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Where to get the token: an embedded mock started for the purpose, or the site's identity service.
    #[arg(long, value_enum, default_value_t = TargetKind::Mock)]
    target: TargetKind,
    /// The site file (required for int).
    #[arg(long)]
    site: Option<PathBuf>,
    /// A running mock (`scr-assure mock`) to get the token from, by its origin or SCR base URL, instead of
    /// starting one (the fixtures' default app and flow, as a mock run uses).
    #[arg(long, conflicts_with = "site")]
    base_url: Option<String>,
    /// Print the access token itself (it is a secret: it is never printed otherwise).
    #[arg(long)]
    show: bool,
    /// Allow a site whose endpoints are on the production NHS API host (api.service.nhs.uk).
    #[arg(long)]
    allow_production: bool,
}

pub async fn run(command: SiteCommand) -> anyhow::Result<u8> {
    match command {
        SiteCommand::Check { site, allow_production } => {
            let site = match Site::load(&site) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(2);
                }
            };
            if let Err(e) = guard::check_site(&site, allow_production) {
                eprintln!("error: {e}");
                return Ok(2);
            }
            say!("site check: {} (ODS {}, ASID {})", site.name, site.ods_code, site.asid);
            let items = check::run(&site, &Clock::system()).await;
            for i in &items {
                say!("{i}");
            }
            let failed = items.iter().filter(|i| matches!(i.verdict, check::Verdict::Fail(_))).count();
            say!("{} of {} checks passed", items.len() - failed, items.len());
            Ok(if failed == 0 { 0 } else { 1 })
        }
    }
}

/// The origin of a URL given as an origin or as the SCR base URL (`…/summary-care-record/FHIR/R4`).
pub fn origin_of(url: &str) -> String {
    let url = url.trim_end_matches('/');
    url.strip_suffix(scr_assure::scr::codes::BASE_PATH).unwrap_or(url).to_owned()
}

pub async fn get_token(args: GetArgs) -> anyhow::Result<u8> {
    let clock = Clock::system();
    if let Some(url) = &args.base_url {
        if let Err(e) = guard::check_url("--base-url", url, args.allow_production) {
            eprintln!("error: {e}");
            return Ok(2);
        }
    }
    let (auth, running) = match (args.target, &args.site) {
        (TargetKind::Mock, None) if args.base_url.is_some() => {
            let origin = origin_of(args.base_url.as_deref().unwrap_or_default());
            (mock_auth(&origin, &Default::default()).map_err(anyhow::Error::msg)?, None)
        }
        (TargetKind::Sandbox, _) => {
            eprintln!("error: the sandbox has no identity service (open access): use --target mock or int");
            return Ok(2);
        }
        (TargetKind::Int | TargetKind::Mock, Some(path)) => {
            let site = match Site::load(path) {
                Ok(site) => site,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(2);
                }
            };
            if let Err(e) = guard::check_site(&site, args.allow_production) {
                eprintln!("error: {e}");
                return Ok(2);
            }
            match site_auth(&site) {
                Ok(auth) => (auth, None),
                Err(e) => {
                    eprintln!("error: cannot set up the site's identity: {e}");
                    return Ok(2);
                }
            }
        }
        (TargetKind::Mock, None) => {
            let config = MockConfig { auth: true, ..MockConfig::loopback(Profile::Stateful) };
            let running = mock::start(config).await.context("cannot start the embedded mock")?;
            (mock_auth(&running.origin(), &Default::default()).map_err(anyhow::Error::msg)?, Some(running))
        }
        (TargetKind::Int, None) => {
            eprintln!("error: --target int needs --site site.toml");
            return Ok(2);
        }
    };
    let outcome = auth.obtain(&auth.default_flow, clock.now()).await.context("the token request failed")?;
    let code = match outcome {
        TokenOutcome::Granted(t) => {
            say!("access token obtained from {} by the {} flow", auth.token_url, auth.default_flow_name());
            say!("expires_in: {} s", t.expires_in);
            if let Some(r) = &t.refresh_token_expires_in {
                say!("refresh_token_expires_in: {r} s");
            }
            let scopes = running
                .as_ref()
                .and_then(|m| m.identity())
                .and_then(|i| i.introspect(t.access_token.expose()))
                .map(|g| g.scopes.join(" "));
            match scopes {
                Some(s) => say!("scopes: {s}"),
                None => say!("scopes: not reported by the identity service"),
            }
            if args.show {
                say!("access_token: {}", t.access_token.expose());
            } else {
                say!("access_token: {} (use --show to print it)", t.access_token);
            }
            0
        }
        TokenOutcome::Rejected(e) => {
            eprintln!("refused: {} {}: {}", e.status, e.error, e.error_description);
            1
        }
    };
    if let Some(m) = running {
        m.shutdown().await;
    }
    Ok(code)
}
