//! The audit-trail format shared by the mock (which appends to a trail, `mock::audit`) and by the evidence
//! (`runner::audit` fetches trails, `report` bundles and checks them, `scr-assure audit verify` checks a file):
//! the entry type, its hash chain, [`verify`], and JSON lines. It knows nothing of how a trail is kept.
//!
//! Each entry's `hash` is `sha256(prev_hash || canonical JSON of the entry without hash)` (lower-case hex; the
//! canonical JSON is compact with object keys sorted), and the first entry's `prev_hash` is [`GENESIS`], so
//! [`verify`] finds any edit, deletion, insertion or reordering — and names the first entry that is wrong.
//!
//! Format versions ([`FORMAT_VERSION`]): 1 dated entries by the mock's clock only (`at`); 2 adds `wall`, the
//! wall-clock time, inside the hashed content. A verifier reads both.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::mock::operation::Operation;

/// The trail format this build writes (see the module's documentation).
pub const FORMAT_VERSION: u32 = 2;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// `who` when no gateway stands in front of the backend (the sandbox, `--open-access`).
pub const OPEN_ACCESS: &str = "open-access";
/// `who` when the gateway refused the request before it could verify a caller.
pub const UNVERIFIED: &str = "unverified";
/// `who` of a token request naming no registered app (the raw value is never recorded: it may be a key).
pub const UNREGISTERED_CLIENT: &str = "unregistered-client";

/// A privacy alert raised, by its codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRaised {
    /// `AuditEvent.type.code`: `1` or `2`.
    #[serde(rename = "type")]
    pub alert_type: String,
    /// `AuditEvent.subtype[0].code`: `1`..`6`.
    pub subtype: String,
}

/// One access, as the trail holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    /// Wall-clock time the entry was appended (RFC 3339 UTC, milliseconds): when the access really happened.
    /// Format 2 ([`FORMAT_VERSION`]); absent from format-1 trails, which still verify (an absent member is
    /// not in the hashed content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall: Option<String>,
    /// The mock's clock when the entry was appended (RFC 3339, `+00:00`): on a mock run the virtual clock that
    /// `When <n> seconds pass` moves, so it may lie after the run's end. Shown beside `wall`, never instead.
    pub at: String,
    pub operation: Operation,
    /// The HTTP status answered.
    pub status: u16,
    /// The CIS2 user id, the app's name (application-restricted), `open-access`, `unverified` or
    /// `unregistered-client`.
    pub who: String,
    /// The role: the one the gateway's UserRoleService resolved (header, `selected_roleid` or the only role);
    /// without a gateway, the `NHSD-Session-URID` the request sent.
    pub role: Option<String>,
    /// The NHS number the request names, once the backend has validated it.
    pub patient: Option<String>,
    /// The permission to view in force for a read or upload (`No` for a dissent refusal), or the one set by
    /// `$setPermission`.
    pub permission: Option<String>,
    /// The privacy alert raised (`POST /AuditEvent`).
    pub alert: Option<AlertRaised>,
    /// The X-Request-ID answered (echoed or generated); the request's own when the answer carries none.
    pub request_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// The hash this entry should carry: `sha256(prev_hash || canonical JSON without hash)`.
    pub fn expected_hash(&self) -> String {
        hash_of(&self.prev_hash, &self.canonical_without_hash())
    }

    /// The canonical JSON of the entry without its `hash` member: what the hash covers.
    pub(crate) fn canonical_without_hash(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(members) = value.as_object_mut() {
            members.remove("hash");
        }
        canonical_json(&value)
    }
}

pub(crate) fn hash_of(prev_hash: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(canonical.as_bytes());
    format!("{:x}", hasher.finalize())
}

/// Compact JSON with object keys sorted, recursively: the bytes the hash covers.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(members) => {
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&members[key.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// Where a trail stops being trustworthy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {seq}: {reason}")]
pub struct Tamper {
    /// The `seq` of the first entry that is wrong (as it stands in the trail).
    pub seq: u64,
    pub reason: String,
}

/// Checks a whole trail from its first entry: sequence numbers 1, 2, 3 …, each `prev_hash` the previous
/// entry's `hash` ([`GENESIS`] first), each `hash` recomputed. `Err` names the first entry that is wrong.
/// A trail cut short at its end still verifies: compare its length and last hash with the mock's
/// (`GET /_admin/audit/verify` answers both).
pub fn verify(entries: &[AuditEntry]) -> Result<(), Tamper> {
    let mut prev = GENESIS;
    for (i, entry) in entries.iter().enumerate() {
        let expected_seq = i as u64 + 1;
        let tamper = |reason: String| Tamper { seq: entry.seq, reason };
        if entry.seq != expected_seq {
            return Err(tamper(format!(
                "found where entry {expected_seq} should be: an entry was deleted, inserted or moved"
            )));
        }
        if entry.prev_hash != prev {
            return Err(tamper(if i == 0 {
                "prev_hash is not the genesis hash: the trail does not start at its beginning".into()
            } else {
                format!("prev_hash is not the hash of entry {}: the chain is broken here", expected_seq - 1)
            }));
        }
        if entry.hash != entry.expected_hash() {
            return Err(tamper("the content does not match its hash: the entry was edited".into()));
        }
        prev = &entry.hash;
    }
    Ok(())
}

/// A trail as JSON lines, one entry per line.
pub fn to_json_lines(entries: &[AuditEntry]) -> String {
    entries.iter().filter_map(|e| serde_json::to_string(e).ok()).map(|line| line + "\n").collect()
}

/// Why a JSON-lines trail could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct Malformed {
    pub line: usize,
    pub message: String,
}

/// Reads a JSON-lines trail (blank lines ignored); `Err` names the first line that is not an entry.
pub fn from_json_lines(text: &str) -> Result<Vec<AuditEntry>, Malformed> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| Malformed { line: i + 1, message: e.to_string() }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(prev_hash: &str, seq: u64, wall: Option<&str>) -> AuditEntry {
        let mut e = AuditEntry {
            seq,
            wall: wall.map(str::to_owned),
            at: "2026-01-01T00:00:00+00:00".into(),
            operation: Operation::GetScrId,
            status: 200,
            who: "user-1".into(),
            role: None,
            patient: None,
            permission: None,
            alert: None,
            request_id: None,
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        e.hash = e.expected_hash();
        e
    }

    #[test]
    fn format_1_trails_without_wall_time_still_verify_and_format_2_hashes_the_wall_time() {
        let first = entry(GENESIS, 1, None);
        let v1 = to_json_lines(std::slice::from_ref(&first));
        assert!(!v1.contains("wall"), "a format-1 entry is written as it was: {v1}");
        assert_eq!(from_json_lines(&v1).map(|e| verify(&e)), Ok(Ok(())));

        let mut second = entry(&first.hash, 2, Some("2026-12-04T17:00:00.123Z"));
        assert_eq!(verify(&[first.clone(), second.clone()]), Ok(()));
        second.wall = Some("2026-12-04T18:00:00.123Z".into());
        assert_eq!(verify(&[first.clone(), second.clone()]).map_err(|t| t.seq), Err(2), "an edited wall time");
        second.wall = None;
        assert_eq!(verify(&[first, second]).map_err(|t| t.seq), Err(2), "a removed wall time");
    }
}
