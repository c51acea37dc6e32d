//! What the stateful mock remembers: each patient's permission to view and SCR history, and every privacy
//! alert received. Safe under concurrent scenarios: one lock per store, never held across an `.await`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use super::operation::Operation;
use super::spine::ArrangedAnswer;
use crate::scr::alert::PrivacyAlert;
use crate::scr::permission::ConsentState;

/// One uploaded GP Summary, immutable once stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredScr {
    /// The SCR id: the upper-cased `Composition.identifier` of the upload.
    pub id: String,
    /// The Bundle as uploaded, as compact JSON text: a parsed `Value` costs about ten times its text in memory,
    /// which a long-lived mock taking thousands of uploads cannot afford. Parsed again when read.
    pub document: String,
    pub stored_at: String,
    /// The SCR id this upload declared it replaces (`Composition.relatesTo`), if any.
    pub replaces: Option<String>,
}

/// A patient as Spine (PDS + ACS + PSIS) would know them.
#[derive(Debug, Clone, Default)]
pub struct PatientRecord {
    /// The ACS View assertion; `None` when ACS holds none (reported as `Ask`).
    pub consent: ConsentState,
    /// Every SCR uploaded, oldest first; the last one is the current SCR. Shared, so reading a patient
    /// never copies documents.
    pub documents: Vec<Arc<StoredScr>>,
}

impl PatientRecord {
    pub fn current(&self) -> Option<&StoredScr> {
        self.documents.last().map(Arc::as_ref)
    }
}

/// What every read and upload asks first: the permission and the current SCR id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientSummary {
    pub consent: ConsentState,
    pub current_scr: Option<String>,
}

/// A privacy alert as the mock recorded it: the alert plus who sent it and when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedAlert {
    pub alert: PrivacyAlert,
    /// The `NHSD-Session-URID` of the request.
    pub session_urid: String,
    /// The CIS2 user id of the access token, when the gateway verified one.
    #[serde(default)]
    pub user_id: Option<String>,
    pub received_at: String,
}

/// All mutable state of one mock instance.
#[derive(Debug, Default)]
pub struct ScrStore {
    patients: Mutex<Patients>,
    alerts: Mutex<Vec<RecordedAlert>>,
    /// Spine answers arranged through `/_admin/spine`, oldest first; each is used once.
    spine_answers: Mutex<Vec<ArrangedAnswer>>,
}

#[derive(Debug, Default)]
struct Patients {
    by_nhs_number: HashMap<String, PatientRecord>,
    /// Every SCR id held, for Spine's duplicate-event check.
    scr_ids: HashSet<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-written record (every update is one assignment),
    // so a poisoned lock is still safe to use.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ScrStore {
    /// The patient's record (an unknown patient has no SCR and no consent); documents are shared, not copied.
    pub fn patient(&self, nhs_number: &str) -> PatientRecord {
        lock(&self.patients).by_nhs_number.get(nhs_number).cloned().unwrap_or_default()
    }

    /// The permission and current SCR id, without touching the documents.
    pub fn summary(&self, nhs_number: &str) -> PatientSummary {
        let patients = lock(&self.patients);
        let record = patients.by_nhs_number.get(nhs_number);
        PatientSummary {
            consent: record.and_then(|p| p.consent),
            current_scr: record.and_then(|p| p.current()).map(|d| d.id.clone()),
        }
    }

    /// One of the patient's SCRs by id.
    pub fn document(&self, nhs_number: &str, scr_id: &str) -> Option<Arc<StoredScr>> {
        let patients = lock(&self.patients);
        patients.by_nhs_number.get(nhs_number)?.documents.iter().find(|d| d.id == scr_id).cloned()
    }

    pub fn set_consent(&self, nhs_number: &str, consent: ConsentState) {
        lock(&self.patients).by_nhs_number.entry(nhs_number.to_owned()).or_default().consent = consent;
    }

    /// Stores a new SCR, which becomes the patient's current one. Returns `false` (and stores nothing) when
    /// the id is already taken — checked and stored under one lock, so concurrent uploads cannot both win.
    pub fn store_scr(&self, nhs_number: &str, scr: StoredScr) -> bool {
        let mut patients = lock(&self.patients);
        if !patients.scr_ids.insert(scr.id.clone()) {
            return false;
        }
        patients.by_nhs_number.entry(nhs_number.to_owned()).or_default().documents.push(Arc::new(scr));
        true
    }

    pub fn record_alert(&self, alert: RecordedAlert) {
        lock(&self.alerts).push(alert);
    }

    /// Alerts received, optionally only those about one patient.
    pub fn alerts(&self, nhs_number: Option<&str>) -> Vec<RecordedAlert> {
        lock(&self.alerts).iter().filter(|a| nhs_number.is_none_or(|n| a.alert.nhs_number == n)).cloned().collect()
    }

    /// Arranges Spine's answer to the next request of `answer.operation` about `answer.nhs_number`.
    pub fn arrange_spine_answer(&self, answer: ArrangedAnswer) {
        lock(&self.spine_answers).push(answer);
    }

    /// Takes (uses up) the oldest Spine answer arranged for this operation and patient, if any.
    pub fn take_spine_answer(&self, operation: Operation, nhs_number: &str) -> Option<ArrangedAnswer> {
        let mut answers = lock(&self.spine_answers);
        let index = answers.iter().position(|a| a.operation == operation && a.nhs_number == nhs_number)?;
        Some(answers.remove(index))
    }

    /// The Spine answers still arranged.
    pub fn spine_answers(&self) -> Vec<ArrangedAnswer> {
        lock(&self.spine_answers).clone()
    }

    /// Forgets the arranged Spine answers (only those about one patient when given); returns how many.
    pub fn clear_spine_answers(&self, nhs_number: Option<&str>) -> usize {
        let mut answers = lock(&self.spine_answers);
        let before = answers.len();
        answers.retain(|a| nhs_number.is_some_and(|n| a.nhs_number != n));
        before - answers.len()
    }

    /// Forgets everything.
    pub fn reset(&self) {
        *lock(&self.patients) = Patients::default();
        lock(&self.alerts).clear();
        lock(&self.spine_answers).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scr(id: &str) -> StoredScr {
        StoredScr { id: id.into(), document: "null".into(), stored_at: String::new(), replaces: None }
    }

    #[test]
    fn the_latest_upload_is_current_and_ids_are_unique_across_patients() {
        let store = ScrStore::default();
        assert!(store.store_scr("1", scr("A")));
        assert!(store.store_scr("1", scr("B")));
        assert!(!store.store_scr("2", scr("A")), "an id is unique across patients");
        assert_eq!(store.summary("1").current_scr.as_deref(), Some("B"));
        assert!(store.document("1", "A").is_some() && store.document("2", "A").is_none());
        store.reset();
        assert_eq!(store.summary("1"), PatientSummary { consent: None, current_scr: None });
        assert!(store.store_scr("2", scr("A")), "reset forgets the ids too");
    }

    #[test]
    fn an_arranged_spine_answer_is_used_once_for_its_operation_and_patient() {
        use super::super::spine::{DetectedIssue, SpineAnswer};
        let store = ScrStore::default();
        let answer = |nhs: &str, code: &str| ArrangedAnswer {
            operation: Operation::GetScrId,
            nhs_number: nhs.into(),
            answer: SpineAnswer::DetectedIssues(vec![DetectedIssue {
                code: code.into(),
                display: "x".into(),
                error: true,
            }]),
        };
        store.arrange_spine_answer(answer("1", "401"));
        store.arrange_spine_answer(answer("1", "502"));
        store.arrange_spine_answer(answer("2", "410"));
        assert_eq!(store.take_spine_answer(Operation::GetScr, "1"), None, "another operation");
        assert_eq!(store.take_spine_answer(Operation::GetScrId, "1"), Some(answer("1", "401")), "oldest first");
        assert_eq!(store.take_spine_answer(Operation::GetScrId, "1"), Some(answer("1", "502")));
        assert_eq!(store.take_spine_answer(Operation::GetScrId, "1"), None, "each is used once");
        assert_eq!(store.clear_spine_answers(Some("3")), 0);
        assert_eq!(store.clear_spine_answers(Some("2")), 1);
        assert!(store.spine_answers().is_empty());
    }
}
