//! The mock's audit trail: one append-only, hash-chained entry per access to an SCR operation (refusals
//! included) and per call of the token endpoint — who, with which role, about which patient, which operation,
//! the permission to view in force (or set), the privacy alert raised, the status answered and the
//! X-Request-ID. Never a token, an assertion or a key: `who` is a CIS2 user id, a registered app's *name*, or
//! `open-access`.
//!
//! Each entry's `hash` is `sha256(prev_hash || canonical JSON of the entry without hash)` (lower-case hex; the
//! canonical JSON is compact with object keys sorted), and the first entry's `prev_hash` is [`GENESIS`], so
//! [`verify`] finds any edit, deletion, insertion or reordering — and names the first entry that is wrong.
//!
//! Ordering: an operation that reads or changes the store takes the trail's lock ([`Recording::serialise`])
//! *before* it touches the store and appends its entry before letting go, so the trail's order is the order
//! in which the store saw the operations. Replaying the trail's state-changing requests serially gives the
//! same state (the load test `tests/mock_load.rs` checks exactly that). Lock order: the trail, then the store.

use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::http::HeaderMap;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::operation::Operation;
use crate::clock::Clock;
use crate::identity::apps::AppRegistry;
use crate::identity::rules::Form;
use crate::scr::PermissionToView;

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
    /// The mock's clock when the entry was appended (RFC 3339, `+00:00`).
    pub at: String,
    pub operation: Operation,
    /// The HTTP status answered.
    pub status: u16,
    /// The CIS2 user id, the app's name (application-restricted), `open-access`, `unverified` or
    /// `unregistered-client`.
    pub who: String,
    /// The `NHSD-Session-URID` used (the gateway's resolved role when the client sent none).
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
    fn canonical_without_hash(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(members) = value.as_object_mut() {
            members.remove("hash");
        }
        canonical_json(&value)
    }
}

fn hash_of(prev_hash: &str, canonical: &str) -> String {
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

/// What is known of an access before its status: filled in by the layers the request passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDraft {
    pub operation: Operation,
    pub who: String,
    pub role: Option<String>,
    pub patient: Option<String>,
    pub permission: Option<String>,
    pub alert: Option<AlertRaised>,
    pub request_id: Option<String>,
}

impl AccessDraft {
    pub fn new(operation: Operation, who: impl Into<String>) -> Self {
        Self { operation, who: who.into(), role: None, patient: None, permission: None, alert: None, request_id: None }
    }

    /// With the role of `NHSD-Session-URID` and the request's X-Request-ID when it is a UUID.
    pub fn from_headers(operation: Operation, who: impl Into<String>, headers: &HeaderMap) -> Self {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let mut draft = Self::new(operation, who);
        draft.role = header("NHSD-Session-URID").filter(|v| !v.is_empty()).map(str::to_owned);
        draft.request_id =
            header("X-Request-ID").filter(|v| uuid::Uuid::try_parse(v).is_ok() && v.len() == 36).map(str::to_owned);
        draft
    }
}

/// The registered app a token request comes from, by name: its `client_id` (authorization code, refresh), else
/// the `iss` of its client assertion (read, not verified). Never the raw value, which is the app's API key.
pub fn token_client(apps: &AppRegistry, form_body: &[u8]) -> String {
    let form = Form::parse(form_body);
    let from_assertion = || {
        let payload = form.get("client_assertion")?.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
        let claims: Value = serde_json::from_slice(&bytes).ok()?;
        claims.get("iss").and_then(Value::as_str).map(str::to_owned)
    };
    let key = form.get("client_id").filter(|v| !v.is_empty()).map(str::to_owned).or_else(from_assertion);
    key.and_then(|k| apps.by_api_key(&k).map(|a| a.name.clone())).unwrap_or_else(|| UNREGISTERED_CLIENT.to_owned())
}

/// The entries, each kept as its compact JSON line: about half the memory of the parsed entry (a mock under
/// sustained load records every request), parsed back only when the trail is read.
#[derive(Debug, Default)]
struct Chain {
    lines: Vec<Box<str>>,
    /// The last entry's hash (empty before the first).
    head: String,
}

impl Chain {
    fn head_hash(&self) -> String {
        if self.head.is_empty() {
            GENESIS.to_owned()
        } else {
            self.head.clone()
        }
    }

    fn append(&mut self, clock: &Clock, draft: AccessDraft, status: u16) -> AuditEntry {
        let mut entry = AuditEntry {
            seq: self.lines.len() as u64 + 1,
            at: clock.timestamp(),
            operation: draft.operation,
            status,
            who: draft.who,
            role: draft.role,
            patient: draft.patient,
            permission: draft.permission,
            alert: draft.alert,
            request_id: draft.request_id,
            prev_hash: self.head_hash(),
            hash: String::new(),
        };
        // One serialisation serves both the hash and the stored line: the canonical object without `hash`,
        // then `hash` added as its last member (a reader finds members by name).
        let canonical = entry.canonical_without_hash();
        entry.hash = hash_of(&entry.prev_hash, &canonical);
        let body = canonical.strip_suffix('}').unwrap_or(&canonical);
        let separator = if body.len() > 1 { "," } else { "" };
        self.lines.push(format!("{body}{separator}\"hash\":\"{}\"}}", entry.hash).into_boxed_str());
        self.head.clone_from(&entry.hash);
        entry
    }

    fn entries(&self, from: usize) -> Vec<AuditEntry> {
        self.lines[from.min(self.lines.len())..].iter().filter_map(|line| serde_json::from_str(line).ok()).collect()
    }
}

/// One mock's trail. Append-only: nothing removes or changes an entry (`/_admin/reset` leaves it alone).
#[derive(Debug)]
pub struct AuditTrail {
    clock: Clock,
    chain: Mutex<Chain>,
}

impl AuditTrail {
    pub fn new(clock: Clock) -> Self {
        Self { clock, chain: Mutex::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Chain> {
        // Appending is one push after the entry is complete, so a poisoned lock holds a whole chain.
        self.chain.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends an access that touched no state (a refusal before the backend, a token call).
    pub fn record(&self, draft: AccessDraft, status: u16) -> AuditEntry {
        self.lock().append(&self.clock, draft, status)
    }

    /// The entries after `since` (0: all), oldest first.
    pub fn entries(&self, since: u64) -> Vec<AuditEntry> {
        self.lock().entries(usize::try_from(since).unwrap_or(usize::MAX))
    }

    /// How many entries, and the last hash ([`GENESIS`] when empty).
    pub fn head(&self) -> (u64, String) {
        let chain = self.lock();
        (chain.lines.len() as u64, chain.head_hash())
    }

    /// Starts recording one request (`None`: a request that is no SCR operation, which is not recorded).
    pub fn recording(&self, draft: Option<AccessDraft>) -> Recording<'_> {
        Recording { trail: self, draft, section: None }
    }
}

/// One request being recorded. Holds the trail's lock from [`Recording::serialise`] until
/// [`Recording::finish`], so what the store sees in between is ordered like the trail. Synchronous code only:
/// never keep one across an `.await`.
pub struct Recording<'a> {
    trail: &'a AuditTrail,
    draft: Option<AccessDraft>,
    section: Option<MutexGuard<'a, Chain>>,
}

impl Recording<'_> {
    /// Called before the first look at the store: from here to [`Recording::finish`] no other recorded
    /// operation runs.
    pub fn serialise(&mut self) {
        if self.draft.is_some() && self.section.is_none() {
            self.section = Some(self.trail.lock());
        }
    }

    pub fn patient(&mut self, nhs_number: &str) {
        if let Some(d) = self.draft.as_mut() {
            d.patient = Some(nhs_number.to_owned());
        }
    }

    pub fn permission(&mut self, permission: PermissionToView) {
        if let Some(d) = self.draft.as_mut() {
            d.permission = Some(permission.as_str().to_owned());
        }
    }

    pub fn alert(&mut self, alert_type: &str, subtype: &str) {
        if let Some(d) = self.draft.as_mut() {
            d.alert = Some(AlertRaised { alert_type: alert_type.to_owned(), subtype: subtype.to_owned() });
        }
    }

    /// The X-Request-ID the answer carries.
    pub fn request_id(&mut self, request_id: &str) {
        if let Some(d) = self.draft.as_mut() {
            d.request_id = Some(request_id.to_owned());
        }
    }

    /// Appends the entry with the status answered, and lets other operations run.
    pub fn finish(mut self, status: u16) -> Option<AuditEntry> {
        let draft = self.draft.take()?;
        match self.section.take() {
            Some(mut chain) => Some(chain.append(&self.trail.clock, draft, status)),
            None => Some(self.trail.record(draft, status)),
        }
    }
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

    fn trail_of(n: usize) -> (AuditTrail, Vec<AuditEntry>) {
        let trail = AuditTrail::new(Clock::frozen_now());
        for i in 0..n {
            let mut draft = AccessDraft::new(Operation::GetScrId, "user-1");
            draft.patient = Some(format!("999000000{i}"));
            draft.request_id = Some(format!("00000000-0000-4000-8000-00000000000{i}"));
            trail.record(draft, 200);
        }
        let entries = trail.entries(0);
        (trail, entries)
    }

    #[test]
    fn a_fresh_chain_verifies_and_links_each_entry_to_the_last() {
        let (trail, entries) = trail_of(4);
        assert_eq!(verify(&entries), Ok(()));
        assert_eq!(entries[0].prev_hash, GENESIS);
        assert_eq!(entries[2].prev_hash, entries[1].hash);
        assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(trail.head(), (4, entries[3].hash.clone()));
        assert_eq!(trail.entries(3), entries[3..].to_vec());
        assert!(trail.entries(99).is_empty());
        assert_eq!(verify(&[]), Ok(()));
    }

    #[test]
    fn a_stored_entry_reads_back_as_it_was_appended() {
        let trail = AuditTrail::new(Clock::frozen_now());
        let mut draft = AccessDraft::new(Operation::SendAlert, "user-\"quoted\" \u{e9}");
        draft.role = Some("555254242102".into());
        draft.patient = Some("9990000018".into());
        draft.permission = Some("Yes".into());
        let appended = trail.record(draft, 201);
        let empty = trail.record(AccessDraft::new(Operation::Token, "app"), 400);
        assert_eq!(trail.entries(0), vec![appended.clone(), empty.clone()]);
        assert_eq!(appended.hash, appended.expected_hash());
        assert_eq!(empty.prev_hash, appended.hash);
        assert_eq!(verify(&trail.entries(0)), Ok(()));
    }

    #[test]
    fn edits_deletions_insertions_and_reordering_are_found_at_the_first_bad_entry() {
        let (_, entries) = trail_of(5);
        let mut edited = entries.clone();
        edited[2].status = 403;
        assert_eq!(verify(&edited).map_err(|t| t.seq), Err(3));
        assert!(verify(&edited).err().is_some_and(|t| t.reason.contains("edited")));

        // Editing and re-hashing one entry breaks the link of the next one.
        let mut rehashed = entries.clone();
        rehashed[1].who = "someone-else".into();
        rehashed[1].hash = rehashed[1].expected_hash();
        let t = verify(&rehashed).err();
        assert_eq!(t.as_ref().map(|t| t.seq), Some(3));
        assert!(t.is_some_and(|t| t.reason.contains("prev_hash is not the hash of entry 2")));

        let mut deleted = entries.clone();
        deleted.remove(1);
        assert_eq!(verify(&deleted).map_err(|t| t.seq), Err(3));

        let mut inserted = entries.clone();
        inserted.insert(2, entries[0].clone());
        assert_eq!(verify(&inserted).map_err(|t| t.seq), Err(1));

        let mut swapped = entries.clone();
        swapped.swap(1, 2);
        assert_eq!(verify(&swapped).map_err(|t| t.seq), Err(3));

        // Renumbering after a deletion still breaks the chain.
        let mut renumbered = deleted;
        for (i, e) in renumbered.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
        }
        assert_eq!(verify(&renumbered).map_err(|t| t.seq), Err(2));

        assert_eq!(verify(&entries[1..]).map_err(|t| t.seq), Err(2), "a trail must start at its beginning");
    }

    #[test]
    fn the_hash_covers_every_field_in_canonical_form() {
        let (_, entries) = trail_of(1);
        let e = &entries[0];
        let mut without = serde_json::to_value(e).unwrap_or(Value::Null);
        if let Some(m) = without.as_object_mut() {
            m.remove("hash");
        }
        let text = canonical_json(&without);
        assert!(text.starts_with(r#"{"alert":null,"at":""#), "{text}");
        assert!(text.contains(r#""operation":"get-scr-id""#), "{text}");
        let expected = format!("{:x}", Sha256::digest(format!("{GENESIS}{text}").as_bytes()));
        assert_eq!(e.hash, expected);
        assert_eq!(
            canonical_json(&serde_json::json!({"b":[{"d":1,"c":"x"}],"a":null})),
            r#"{"a":null,"b":[{"c":"x","d":1}]}"#
        );
    }

    #[test]
    fn json_lines_round_trip_and_bad_lines_are_named() {
        let (_, entries) = trail_of(3);
        let text = to_json_lines(&entries);
        assert_eq!(text.lines().count(), 3);
        assert_eq!(from_json_lines(&text), Ok(entries));
        let broken = text.replacen("\"seq\":2", "\"seq\":\"two\"", 1);
        assert_eq!(from_json_lines(&broken).map_err(|m| m.line), Err(2));
        let extra = text.replacen("\"seq\":3", "\"token\":\"x\",\"seq\":3", 1);
        assert_eq!(from_json_lines(&extra).map_err(|m| m.line), Err(3));
    }

    #[test]
    fn a_recording_appends_once_with_what_the_layers_learnt() {
        let trail = AuditTrail::new(Clock::frozen_now());
        let mut rec = trail.recording(Some(AccessDraft::new(Operation::SetPermission, "user-1")));
        rec.serialise();
        rec.patient("9990000018");
        rec.permission(PermissionToView::No);
        rec.request_id("A-B");
        let entry = rec.finish(201);
        assert_eq!(entry.as_ref().and_then(|e| e.permission.as_deref()), Some("No"));
        assert_eq!(trail.head().0, 1, "the lock was released and exactly one entry appended");
        assert!(trail.recording(None).finish(200).is_none(), "requests that are no operation are not recorded");
        let mut alert = trail.recording(Some(AccessDraft::new(Operation::SendAlert, OPEN_ACCESS)));
        alert.alert("1", "3");
        let raised = alert.finish(201).and_then(|e| e.alert);
        assert_eq!(raised, Some(AlertRaised { alert_type: "1".into(), subtype: "3".into() }));
        assert_eq!(verify(&trail.entries(0)), Ok(()));
    }

    #[test]
    fn the_token_client_is_named_by_app_never_by_key() {
        let apps = crate::identity::apps::AppRegistry::load(crate::identity::default_fixtures_dir().join("apps.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            token_client(&apps, b"grant_type=refresh_token&client_id=scr-assure-test-app-key"),
            "scr-assure-test"
        );
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"iss":"scr-assure-test-app-key"}"#);
        let body = format!("grant_type=client_credentials&client_assertion=e30.{claims}.sig");
        assert_eq!(token_client(&apps, body.as_bytes()), "scr-assure-test");
        assert_eq!(token_client(&apps, b"client_id=secret-looking-value"), UNREGISTERED_CLIENT);
        assert_eq!(token_client(&apps, b""), UNREGISTERED_CLIENT);
    }
}
