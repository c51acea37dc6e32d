//! `scr-assure reference-client`: the bundled reference client as a command-driven SUT (docs/CLIENT.md §4).
//! Prints exactly one JSON outcome on stdout; diagnostics (never a secret) on stderr. Exit 0 when the action
//! ran, whatever its outcome; 2 for usage errors.

use std::path::PathBuf;

use clap::Args;

use scr_assure::clock::Clock;
use scr_assure::refclient::{self, Action, ActionEnvironment, Defect, Defects, Settings, UsageError};
use scr_assure::secret::Secret;

#[derive(Debug, Args)]
pub struct ReferenceClientArgs {
    /// Break one graded behaviour on purpose (repeatable); --list-defects names them.
    #[arg(long = "defect", value_name = "NAME")]
    defects: Vec<String>,
    /// Print each defect's name and what it changes, then exit.
    #[arg(long)]
    list_defects: bool,
    /// The app's API key (client_id; iss and sub of the client assertion).
    #[arg(long, value_name = "KEY", conflicts_with = "api_key_file")]
    api_key: Option<String>,
    /// A file holding the API key (`#` comment lines allowed): keeps it out of the argv, which the harness
    /// records in its evidence.
    #[arg(long, value_name = "FILE")]
    api_key_file: Option<PathBuf>,
    /// The kid of --key in the app's registered JWKS.
    #[arg(long)]
    kid: Option<String>,
    /// The RSA private key (PEM) that signs client assertions.
    #[arg(long, value_name = "PEM_FILE")]
    key: Option<PathBuf>,
    /// The key rotate_key switches to (PEM).
    #[arg(long, value_name = "PEM_FILE")]
    next_key: Option<PathBuf>,
    /// File holding the client secret (refresh grant): its first non-empty line not starting with '#'.
    #[arg(long, value_name = "FILE")]
    client_secret_file: Option<PathBuf>,
    /// The organisation's ODS code sent in privacy alerts.
    #[arg(long, value_name = "CODE", default_value = refclient::DEFAULT_ODS_CODE)]
    ods_code: String,
    /// retrieve NHS | retrieve_with_answer NHS yes|no | emergency_access NHS emergency|legal|self-claimed |
    /// upload NHS BUNDLE_FILE | rotate_key KID
    action: Option<String>,
    /// The action's parameters.
    params: Vec<String>,
}

pub async fn run(args: ReferenceClientArgs) -> anyhow::Result<u8> {
    if args.list_defects {
        let width = Defect::ALL.iter().map(|d| d.name().len()).max().unwrap_or(0);
        for d in Defect::ALL {
            say!("{:width$}  {}", d.name(), d.description());
        }
        return Ok(0);
    }
    let prepared = match prepare(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: reference-client: {e}");
            return Ok(2);
        }
    };
    let (settings, env, action) = prepared;
    match refclient::run(&settings, &env, &action, Clock::system()).await {
        Ok(outcome) => {
            say!("{}", outcome.to_json());
            Ok(0)
        }
        Err(e) => {
            eprintln!("error: reference-client: {e}");
            Ok(2)
        }
    }
}

fn prepare(args: ReferenceClientArgs) -> Result<(Settings, ActionEnvironment, Action), UsageError> {
    let defects = Defects::parse(&args.defects)?;
    let action_name = args.action.ok_or(UsageError::MissingFlag("an ACTION"))?;
    let action = Action::parse(&action_name, &args.params)?;
    let api_key = match (args.api_key.filter(|k| !k.is_empty()), args.api_key_file.as_deref()) {
        (Some(key), _) => Secret::new(key),
        (None, Some(file)) => refclient::read_client_secret(file)?,
        (None, None) => return Err(UsageError::MissingFlag("--api-key or --api-key-file")),
    };
    let kid = args.kid.filter(|k| !k.is_empty()).ok_or(UsageError::MissingFlag("--kid"))?;
    let key_file = args.key.ok_or(UsageError::MissingFlag("--key"))?;
    let client_secret = args.client_secret_file.as_deref().map(refclient::read_client_secret).transpose()?;
    let env = ActionEnvironment::from_env()?;
    let settings = Settings {
        api_key,
        kid,
        key_file,
        next_key_file: args.next_key,
        client_secret,
        ods_code: args.ods_code,
        defects,
    };
    Ok((settings, env, action))
}
