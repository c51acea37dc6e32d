//! `scr-assure audit`: export a running mock's audit trail, and verify a trail file's hash chain.
//!
//! `audit verify FILE` exits 0 when the chain holds, 1 when it was tampered with (naming the first bad entry
//! and why), 2 when the file is unreadable or a line is not an entry (naming `file:line`).
//! `audit export --url ORIGIN --out FILE` exits 0 when the trail was written and verifies, 1 when it was
//! written but does not verify, 2 when the file cannot be written, 3 when the mock cannot be reached.

use std::path::{Path, PathBuf};

use scr_assure::audit::{self, AuditEntry};
use scr_assure::client::ClientOptions;
use scr_assure::report;
use scr_assure::scr::codes::BASE_PATH;

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Fetch a running mock's audit trail (GET <origin>/_admin/audit) and write it as JSON lines.
    Export {
        /// The mock's origin, e.g. http://127.0.0.1:8080 (its SCR base URL works too).
        #[arg(long)]
        url: String,
        /// Where to write the trail (JSON lines, written atomically).
        #[arg(long, short = 'o')]
        out: PathBuf,
    },
    /// Check a trail file's hash chain: exit 0 valid, 1 tampered, 2 unreadable or malformed.
    Verify {
        /// A trail as JSON lines (from `audit export`, `mock --audit-out` or a run's `audit/<lane>.jsonl`).
        file: PathBuf,
    },
}

pub async fn run(command: AuditCommand) -> anyhow::Result<u8> {
    match command {
        AuditCommand::Export { url, out } => export(&url, &out).await,
        AuditCommand::Verify { file } => Ok(verify_file(&file)),
    }
}

/// Prints the verdict on a trail and returns the exit code (0 valid, 1 tampered).
fn report_chain(what: &str, entries: &[AuditEntry]) -> u8 {
    match audit::verify(entries) {
        Ok(()) => {
            let head = entries.last().map_or(audit::GENESIS, |e| e.hash.as_str());
            say!("{what}: valid, {} entries, head {head}", entries.len());
            0
        }
        Err(tamper) => {
            say!("{what}: TAMPERED at entry {}: {}", tamper.seq, tamper.reason);
            1
        }
    }
}

fn verify_file(file: &Path) -> u8 {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {}: cannot read: {e}", file.display());
            return 2;
        }
    };
    match audit::from_json_lines(&text) {
        Ok(entries) => report_chain(&file.display().to_string(), &entries),
        Err(bad) => {
            eprintln!("error: {}:{}: not an audit entry: {}", file.display(), bad.line, bad.message);
            2
        }
    }
}

async fn export(url: &str, out: &Path) -> anyhow::Result<u8> {
    let origin = url.trim_end_matches('/');
    let origin = origin.strip_suffix(BASE_PATH).unwrap_or(origin);
    let entries = match scr_assure::runner::audit::fetch_trail(origin, &ClientOptions::default()).await {
        Ok(entries) => entries,
        Err(e) => {
            eprintln!("error: cannot export the audit trail: {e}");
            return Ok(3);
        }
    };
    if let Err(e) = write_trail(out, &entries) {
        eprintln!("error: {e}");
        return Ok(2);
    }
    say!("wrote {} ({} entries)", out.display(), entries.len());
    Ok(report_chain(&out.display().to_string(), &entries))
}

/// `mock --audit-out FILE`: the trail of a stopped mock, as JSON lines, written atomically.
pub fn write_trail(out: &Path, entries: &[AuditEntry]) -> Result<(), report::ReportError> {
    report::write_atomic(out, audit::to_json_lines(entries).as_bytes())
}
