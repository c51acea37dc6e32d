//! `scr-assure validate [--format text|json] [--rules fhir|scr] PATH…`: validates JSON files against the HL7
//! FHIR R4 schema (plus real calendar dates), and with `--rules scr` against the SCR API's rules too.
//!
//! Exit codes: 0 every file valid, 1 a file is invalid, 2 a path is unreadable or not JSON (the other files are
//! still reported). Files are reported in path order, so the output is deterministic.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Mutex;

use scr_assure::fhir::schema::FhirValidator;
use scr_assure::fhir::{scr_rules, Finding};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per file (`ok  path` / `FAIL path` / `ERROR path`), its errors indented below it (`  <path>: <message>`,
    /// `(root)` for the document itself).
    Text,
    /// An array of `{"file", "valid", "errors": [{"path", "message"}]}`.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Rules {
    /// The HL7 FHIR R4 JSON schema and real calendar dates.
    Fhir,
    /// FHIR, plus the SCR API's rules for the payload kind detected in each file.
    Scr,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Which rules to check.
    #[arg(long, value_enum, default_value_t = Rules::Fhir)]
    rules: Rules,
    /// JSON files, or directories searched recursively for *.json files.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

/// The verdict on one file.
#[derive(Debug, Serialize)]
struct FileReport {
    file: String,
    valid: bool,
    errors: Vec<Finding>,
    /// Set when the file could not be read or is not JSON (exit code 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(args: &ValidateArgs) -> anyhow::Result<u8> {
    let mut files = Vec::new();
    for path in &args.paths {
        collect(path, &mut files);
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files.dedup_by(|a, b| a.0 == b.0);

    let validator = match FhirValidator::shared() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
    };
    let reports = check_all(validator, args.rules, files);

    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Text => {
            for r in &reports {
                match (&r.error, r.valid) {
                    (Some(problem), _) => writeln!(out, "ERROR {}\n  {problem}", r.file)?,
                    (None, true) => writeln!(out, "ok  {}", r.file)?,
                    (None, false) => {
                        writeln!(out, "FAIL {}", r.file)?;
                        for f in &r.errors {
                            writeln!(out, "  {f}")?;
                        }
                    }
                }
            }
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &reports)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(if reports.iter().any(|r| r.error.is_some()) {
        2
    } else if reports.iter().any(|r| !r.valid) {
        1
    } else {
        0
    })
}

/// Adds `path` (a file) or the *.json files under it (a directory, recursively) to `files`, each with the
/// reason it cannot be read, if any.
fn collect(path: &Path, files: &mut Vec<(PathBuf, Option<String>)>) {
    match std::fs::metadata(path) {
        Err(e) => files.push((path.to_owned(), Some(format!("cannot read: {e}")))),
        Ok(meta) if meta.is_dir() => {
            let before = files.len();
            walk(path, files);
            if files.len() == before {
                files.push((path.to_owned(), Some("no *.json files in this directory".into())));
            }
        }
        Ok(_) => files.push((path.to_owned(), None)),
    }
}

fn walk(dir: &Path, files: &mut Vec<(PathBuf, Option<String>)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            files.push((dir.to_owned(), Some(format!("cannot read the directory: {e}"))));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                files.push((dir.to_owned(), Some(format!("cannot read the directory: {e}"))));
                continue;
            }
        };
        let path = entry.path();
        // Symbolic links to directories are not followed (no loops); links to files are.
        let is_real_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_real_dir {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) && path.is_file() {
            files.push((path, None));
        }
    }
}

fn unreadable(path: &Path, problem: String) -> FileReport {
    FileReport {
        file: path.display().to_string(),
        valid: false,
        errors: vec![Finding { path: String::new(), message: problem.clone() }],
        error: Some(problem),
    }
}

/// Checks every file, on as many threads as the machine has cores (each file read, parsed and checked in one
/// pass by one thread, so memory stays at a few files' size), and returns the reports in the files' order.
fn check_all(validator: &FhirValidator, rules: Rules, files: Vec<(PathBuf, Option<String>)>) -> Vec<FileReport> {
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<FileReport>>> = files.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, AtomicOrdering::Relaxed);
                let Some((path, problem)) = files.get(i) else { break };
                let report = match problem {
                    Some(problem) => unreadable(path, problem.clone()),
                    None => check_file(validator, rules, path),
                };
                *slots[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(report);
            });
        }
    });
    slots
        .into_iter()
        .zip(files)
        .map(|(slot, (path, _))| {
            slot.into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .unwrap_or_else(|| unreadable(&path, "not checked: its worker thread stopped".into()))
        })
        .collect()
}

fn check_file(validator: &FhirValidator, rules: Rules, path: &Path) -> FileReport {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return unreadable(path, format!("cannot read: {e}")),
    };
    let mut errors = match validator.validate_bytes(&bytes) {
        Ok(errors) => errors,
        Err(e) => return unreadable(path, format!("not JSON: {e}")),
    };
    if rules == Rules::Scr {
        let value: Value = match serde_json::from_slice(&bytes) {
            Ok(value) => value,
            Err(e) => return unreadable(path, format!("not JSON: {e}")),
        };
        match scr_rules::detect(&value) {
            Some(kind) => errors.extend(scr_rules::check(kind, &value)),
            None => errors.push(Finding {
                path: String::new(),
                message: "not an SCR payload: not a request or response body of the SCR API".into(),
            }),
        }
    }
    FileReport { file: path.display().to_string(), valid: errors.is_empty(), errors, error: None }
}
