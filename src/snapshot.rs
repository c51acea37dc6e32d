//! Response snapshots: a scenario marks a response (`Then the response matches the snapshot "<name>"`) and
//! the run compares it with `snapshots/<name>.snap`, after redacting what changes from run to run (ids,
//! timestamps, the server's origin, the scenario's own patients and SCR ids). Files are in insta's format
//! (a `---` metadata header, then the pretty JSON), written and read here without insta at run time, so a drift
//! written as `<name>.snap.new` can still be reviewed and accepted with `cargo insta review` (or by renaming it).

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{json, Value};

/// What `--snapshots` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotMode {
    /// Compare; a missing or different snapshot fails the step and leaves `<name>.snap.new` for review.
    #[default]
    Check,
    /// Write every snapshot afresh (accept the current answers).
    Update,
    /// Do not compare.
    Off,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotOutcome {
    Matched,
    Written(PathBuf),
    Skipped,
}

/// Where snapshots live and what to do with them.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    pub dir: PathBuf,
    pub mode: SnapshotMode,
}

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
        .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9][A-Za-z0-9_-]*$").unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});

/// Members whose values change with every run whatever they hold.
const VOLATILE_MEMBERS: &[&str] = &["timestamp", "lastUpdated", "issued_at", "message_id"];

/// Replaces, in every string of `value`: each `(from, to)` pair (longest first), then every UUID left by
/// `[uuid]`; and the values of volatile members by `[<member>]`.
pub fn redact(value: &Value, replacements: &[(String, String)]) -> Value {
    let mut pairs: Vec<&(String, String)> = replacements.iter().filter(|(from, _)| !from.is_empty()).collect();
    pairs.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    fn walk(v: &Value, pairs: &[&(String, String)], key: Option<&str>) -> Value {
        match v {
            Value::String(s) => {
                if key.is_some_and(|k| VOLATILE_MEMBERS.contains(&k)) {
                    return Value::String(format!("[{}]", key.unwrap_or_default()));
                }
                let mut out = s.clone();
                for (from, to) in pairs {
                    out = out.replace(from.as_str(), to);
                }
                Value::String(UUID.replace_all(&out, "[uuid]").into_owned())
            }
            Value::Array(items) => Value::Array(items.iter().map(|i| walk(i, pairs, None)).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), walk(v, pairs, Some(k)))).collect())
            }
            other => other.clone(),
        }
    }
    walk(value, &pairs, None)
}

/// What is snapshotted of a response: status, media type and body (JSON when it is JSON).
pub fn response_document(status: u16, content_type: Option<&str>, body: &str) -> Value {
    let media = content_type.and_then(|c| c.split(';').next()).map(str::trim).unwrap_or("");
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
    };
    json!({ "status": status, "contentType": media, "body": body })
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The insta file format: a YAML header, then the contents.
fn file_text(source: &str, expression: &str, value: &Value) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    format!("---\nsource: {}\nexpression: {}\n---\n{}\n", quote(source), quote(expression), pretty(value))
}

/// The contents of a snapshot file in insta's format: what follows the `---` … `---` metadata header (a file
/// without a header is all contents), trailing whitespace trimmed.
pub fn contents_of(text: &str) -> Result<String, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines();
    if lines.next().map(str::trim_end) != Some("---") {
        return Ok(text.trim_end().to_owned());
    }
    if !lines.by_ref().any(|l| l.trim_end() == "---") {
        return Err("the metadata header starting with '---' never ends".into());
    }
    Ok(lines.collect::<Vec<_>>().join("\n").trim_end().to_owned())
}

impl SnapshotStore {
    pub fn new(dir: impl Into<PathBuf>, mode: SnapshotMode) -> Self {
        Self { dir: dir.into(), mode }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.snap"))
    }

    /// The stored snapshot's contents (`None`: no file), read as insta reads its format.
    fn stored(path: &Path) -> Result<Option<String>, String> {
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        contents_of(&text).map(Some).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }

    /// Compares (or writes) the snapshot `name` of `value`; `source` names where it was taken (file:line).
    pub fn assert(&self, name: &str, source: &str, value: &Value) -> Result<SnapshotOutcome, String> {
        if !NAME.is_match(name) {
            return Err(format!("snapshot name '{name}' must be letters, digits, '-' and '_'"));
        }
        let path = self.path(name);
        let pending = path.with_extension("snap.new");
        let write = |target: &Path| {
            crate::report::write_atomic(target, file_text(source, name, value).as_bytes()).map_err(|e| e.to_string())
        };
        match self.mode {
            SnapshotMode::Off => Ok(SnapshotOutcome::Skipped),
            SnapshotMode::Update => {
                write(&path)?;
                let _ = std::fs::remove_file(&pending);
                Ok(SnapshotOutcome::Written(path))
            }
            SnapshotMode::Check => {
                let current = pretty(value);
                match Self::stored(&path)? {
                    Some(stored) if stored.trim_end() == current.trim_end() => {
                        let _ = std::fs::remove_file(&pending);
                        Ok(SnapshotOutcome::Matched)
                    }
                    Some(stored) => {
                        write(&pending)?;
                        let diff = similar::TextDiff::from_lines(stored.trim_end(), current.trim_end())
                            .unified_diff()
                            .context_radius(3)
                            .header("snapshot", "response")
                            .to_string();
                        Err(format!(
                            "the response differs from snapshot '{name}' ({}):\n{diff}\nreview with `cargo insta review` (the new version is {}), or run with --snapshots update",
                            path.display(),
                            pending.display()
                        ))
                    }
                    None => {
                        write(&pending)?;
                        Err(format!(
                            "there is no snapshot '{name}' yet ({}): accept {} with `cargo insta review`, or run with --snapshots update",
                            path.display(),
                            pending.display()
                        ))
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_replaces_patients_origin_uuids_and_volatile_members() {
        let v = json!({
            "id": "55F8BA57-761A-406E-B61D-423027830FEF",
            "timestamp": "2026-01-01T00:00:00+00:00",
            "entry": [{ "fullUrl": "http://127.0.0.1:4321/summary-care-record/FHIR/R4/Patient/9b9a16ed-3cd0-45b2-ab1f-e625dd0251c1",
                        "resource": { "identifier": [{ "value": "9991000001" }] } }]
        });
        let out =
            redact(&v, &[("http://127.0.0.1:4321".into(), "[origin]".into()), ("9991000001".into(), "[nhs:A]".into())]);
        assert_eq!(out["id"], "[uuid]");
        assert_eq!(out["timestamp"], "[timestamp]");
        assert_eq!(out["entry"][0]["fullUrl"], "[origin]/summary-care-record/FHIR/R4/Patient/[uuid]");
        assert_eq!(out["entry"][0]["resource"]["identifier"][0]["value"], "[nhs:A]");
    }

    #[test]
    fn check_update_and_insta_compatible_files() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let check = SnapshotStore::new(dir.path(), SnapshotMode::Check);
        let v = json!({"status": 200, "body": {"a": 1}});
        // Missing: fails and leaves a .snap.new that insta can read.
        let e = check.assert("demo", "f.feature:1", &v).err().unwrap_or_default();
        assert!(e.contains("no snapshot 'demo' yet"), "{e}");
        let pending = dir.path().join("demo.snap.new");
        let read = insta::Snapshot::from_file(&pending).map(|s| s.as_text().map(|t| t.to_string()));
        assert_eq!(read.ok().flatten().as_deref(), Some(pretty(&v).as_str()));
        // Update writes the snapshot and clears the pending one; check then matches.
        let update = SnapshotStore::new(dir.path(), SnapshotMode::Update);
        assert!(matches!(update.assert("demo", "f.feature:1", &v), Ok(SnapshotOutcome::Written(_))));
        assert!(!pending.exists());
        assert_eq!(check.assert("demo", "f.feature:1", &v), Ok(SnapshotOutcome::Matched));
        // A drift fails with a diff naming the change.
        let e =
            check.assert("demo", "f.feature:1", &json!({"status": 200, "body": {"a": 2}})).err().unwrap_or_default();
        assert!(e.contains("-    \"a\": 1") && e.contains("+    \"a\": 2"), "{e}");
        assert!(pending.exists());
        // Off skips; bad names are refused.
        assert_eq!(
            SnapshotStore::new(dir.path(), SnapshotMode::Off).assert("demo", "", &v),
            Ok(SnapshotOutcome::Skipped)
        );
        assert!(check.assert("../escape", "", &v).is_err());
    }

    #[test]
    fn contents_are_read_as_insta_reads_them() {
        let with_header = "---\nsource: \"f:1\"\nexpression: \"x\"\n---\n{\n  \"a\": 1\n}\n\n";
        assert_eq!(contents_of(with_header).as_deref(), Ok("{\n  \"a\": 1\n}"));
        assert_eq!(contents_of("{\"a\": 1}\n").as_deref(), Ok("{\"a\": 1}"), "no header: all contents");
        assert!(contents_of("---\nsource: x\n{").is_err(), "an unterminated header is an error");
        // Every shipped snapshot reads the same here as with insta.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots");
        let mut read = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{e}")).flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "snap") {
                let ours = contents_of(&std::fs::read_to_string(&path).unwrap_or_default());
                let theirs = insta::Snapshot::from_file(&path).map(|s| s.as_text().map(|t| t.to_string()));
                let theirs = theirs.ok().flatten().map(|t| t.trim_end().to_owned());
                assert_eq!(ours.ok(), theirs, "{}", path.display());
                read += 1;
            }
        }
        assert!(read >= 5, "the shipped snapshots were compared: {read}");
    }
}
