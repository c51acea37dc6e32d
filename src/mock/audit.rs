//! The mock's audit trail: one append-only, hash-chained entry per access to an SCR operation (refusals
//! included) and per call of the token endpoint — who, with which role, about which patient, which operation,
//! the permission to view in force (or set), the privacy alert raised, the status answered and the
//! X-Request-ID. Never a token, an assertion or a key: `who` is a CIS2 user id, a registered app's *name*, or
//! `open-access`.
//!
//! The entry type, its hash chain and `verify` are the shared format of [`crate::audit`] (re-exported here);
//! this module keeps a mock's trail and records its accesses.
//!
//! Ordering: an operation that reads or changes the store takes the trail's lock ([`Recording::serialise`])
//! *before* it touches the store and appends its entry before letting go, so the trail's order is the order
//! in which the store saw the operations. Replaying the trail's state-changing requests serially gives the
//! same state (the load test `tests/mock_load.rs` checks exactly that). Lock order: the trail, then the store.

use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::http::HeaderMap;
use base64::Engine as _;
use serde_json::Value;

use crate::audit::hash_of;
pub use crate::audit::{
    canonical_json, from_json_lines, to_json_lines, verify, AlertRaised, AuditEntry, Malformed, Tamper, FORMAT_VERSION,
    GENESIS, OPEN_ACCESS, UNREGISTERED_CLIENT, UNVERIFIED,
};

use super::operation::Operation;
use crate::clock::Clock;
use crate::identity::apps::AppRegistry;
use crate::identity::rules::Form;
use crate::scr::PermissionToView;

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
            wall: Some(crate::clock::wall_timestamp()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

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
        assert!(text.contains(r#""wall":""#), "format 2: the wall time is hashed too: {text}");
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
