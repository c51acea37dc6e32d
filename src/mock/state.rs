//! What the stateful mock remembers: each patient's permission to view and SCR history, and every privacy
//! alert received. Safe under concurrent scenarios: one lock per store, never held across an `.await`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scr::alert::PrivacyAlert;
use crate::scr::permission::ConsentState;

/// One uploaded GP Summary, immutable once stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredScr {
    /// The SCR id: the upper-cased `Composition.identifier` of the upload.
    pub id: String,
    /// The Bundle as uploaded.
    pub document: Value,
    pub stored_at: String,
    /// The SCR id this upload declared it replaces (`Composition.relatesTo`), if any.
    pub replaces: Option<String>,
}

/// A patient as Spine (PDS + ACS + PSIS) would know them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PatientRecord {
    /// The ACS View assertion; `None` when ACS holds none (reported as `Ask`).
    pub consent: ConsentState,
    /// Every SCR uploaded, oldest first; the last one is the current SCR.
    pub documents: Vec<StoredScr>,
}

impl PatientRecord {
    pub fn current(&self) -> Option<&StoredScr> {
        self.documents.last()
    }
}

/// A privacy alert as the mock recorded it: the alert plus who sent it and when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedAlert {
    pub alert: PrivacyAlert,
    /// The `NHSD-Session-URID` of the request.
    pub session_urid: String,
    pub received_at: String,
}

/// All mutable state of one mock instance.
#[derive(Debug, Default)]
pub struct ScrStore {
    patients: Mutex<HashMap<String, PatientRecord>>,
    alerts: Mutex<Vec<RecordedAlert>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-written record (every update is one assignment),
    // so a poisoned lock is still safe to use.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ScrStore {
    /// A copy of the patient's record (an unknown patient has no SCR and no consent).
    pub fn patient(&self, nhs_number: &str) -> PatientRecord {
        lock(&self.patients)
            .get(nhs_number)
            .cloned()
            .unwrap_or_default()
    }

    pub fn set_consent(&self, nhs_number: &str, consent: ConsentState) {
        lock(&self.patients)
            .entry(nhs_number.to_owned())
            .or_default()
            .consent = consent;
    }

    /// Whether any patient already holds an SCR with this id (Spine rejects a duplicate event id).
    pub fn scr_id_exists(&self, id: &str) -> bool {
        lock(&self.patients)
            .values()
            .any(|p| p.documents.iter().any(|d| d.id == id))
    }

    /// Stores a new SCR, which becomes the patient's current one. Returns `false` (and stores nothing) when
    /// the id is already taken — checked and stored under one lock, so concurrent uploads cannot both win.
    pub fn store_scr(&self, nhs_number: &str, scr: StoredScr) -> bool {
        let mut patients = lock(&self.patients);
        if patients
            .values()
            .any(|p| p.documents.iter().any(|d| d.id == scr.id))
        {
            return false;
        }
        patients
            .entry(nhs_number.to_owned())
            .or_default()
            .documents
            .push(scr);
        true
    }

    pub fn record_alert(&self, alert: RecordedAlert) {
        lock(&self.alerts).push(alert);
    }

    /// Alerts received, optionally only those about one patient.
    pub fn alerts(&self, nhs_number: Option<&str>) -> Vec<RecordedAlert> {
        lock(&self.alerts)
            .iter()
            .filter(|a| nhs_number.is_none_or(|n| a.alert.nhs_number == n))
            .cloned()
            .collect()
    }

    /// Forgets everything.
    pub fn reset(&self) {
        lock(&self.patients).clear();
        lock(&self.alerts).clear();
    }
}
