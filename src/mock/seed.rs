//! The patients a fresh stateful mock already holds, as a real environment would: `fixtures/mock/seed.json`,
//! built from the NHS UAT fixtures so that their requests get the answers their responses record
//! (reference §9). Each seeded SCR document is the NHS example upload for that patient and id.
//!
//! Scenarios never rely on seed patients; they allocate their own. `scr-assure mock --no-seed` starts empty.

use serde::Deserialize;

use super::state::{ScrStore, StoredScr};
use crate::clock::Clock;
use crate::scr::{payloads, PermissionToView};

const SEED: &str = include_str!("../../fixtures/mock/seed.json");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeedFile {
    patients: Vec<SeedPatient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeedPatient {
    nhs_number: String,
    permission: Option<PermissionToView>,
    /// Oldest first; the last is the current SCR.
    #[serde(default)]
    scr_ids: Vec<String>,
}

/// Loads the seed patients into `store`.
pub fn seed(store: &ScrStore, clock: &Clock) -> Result<(), String> {
    let file: SeedFile = serde_json::from_str(SEED).map_err(|e| format!("fixtures/mock/seed.json: {e}"))?;
    for p in file.patients {
        store.set_consent(&p.nhs_number, p.permission);
        let mut previous: Option<String> = None;
        for id in p.scr_ids {
            let document = payloads::upload_bundle(&p.nhs_number, &id, previous.as_deref());
            let stored = StoredScr {
                id: id.clone(),
                document: document.to_string(),
                stored_at: clock.timestamp(),
                replaces: previous,
            };
            if !store.store_scr(&p.nhs_number, stored) {
                return Err(format!("fixtures/mock/seed.json: SCR id {id} is seeded twice"));
            }
            previous = Some(id);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_holds_the_uat_patient() {
        let store = ScrStore::default();
        assert_eq!(seed(&store, &Clock::system()), Ok(()));
        let p = store.patient("9995000180");
        assert_eq!(p.consent, Some(PermissionToView::Yes));
        assert_eq!(p.current().map(|s| s.id.as_str()), Some("FA60BE64-1F34-11EB-A2A8-000C29A364EB"));
    }
}
