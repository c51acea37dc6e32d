//! `scr-assure sut check SUT.toml`: the SUT readiness check (`scr_assure::sut::check`).

use std::path::PathBuf;

use clap::Subcommand;

use scr_assure::sut::{check, SutConfig};

#[derive(Debug, Subcommand)]
pub enum SutCommand {
    /// Check a sut.toml before a client run: keys, each action's program, required actions, the http hook.
    /// Exit 0 when every item passes, 1 when one fails, 2 when the file is unusable.
    Check {
        /// The SUT file (docs/CLIENT.md §4).
        file: PathBuf,
    },
}

pub async fn run(command: SutCommand) -> anyhow::Result<u8> {
    match command {
        SutCommand::Check { file } => {
            let config = match SutConfig::load(&file) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(2);
                }
            };
            say!(
                "sut check: {} {} ({} driver, {})",
                config.name,
                config.version,
                config.driver.as_str(),
                file.display()
            );
            let items = check::run(&config).await;
            for i in &items {
                say!("{i}");
            }
            let failed = items.iter().filter(|i| i.failed()).count();
            let checked = items.iter().filter(|i| !matches!(i.verdict, check::Verdict::Note(_))).count();
            say!("{} of {checked} checks passed", checked - failed);
            Ok(if failed == 0 { 0 } else { 1 })
        }
    }
}
