//! The patients a fresh stateful mock already holds, as a real environment would: built from the NHS UAT
//! fixtures so that their requests get the answers their responses record (reference §9).
//!
//! | NHS number | permission | SCR | from |
//! |---|---|---|---|
//! | 9995000180 | Yes | `FA60BE64-1F34-11EB-A2A8-000C29A364EB` | `uat/get_scr_id/success` |
//!
//! Everything else starts unknown: no SCR, no permission. Scenarios never rely on seed patients; they
//! allocate their own.

use super::state::{ScrStore, StoredScr};
use crate::clock::Clock;
use crate::scr::{payloads, PermissionToView};

pub const SEED_NHS_NUMBER: &str = "9995000180";
pub const SEED_SCR_ID: &str = "FA60BE64-1F34-11EB-A2A8-000C29A364EB";

/// Loads the seed patients into `store`.
pub fn seed(store: &ScrStore, clock: &Clock) -> Result<(), String> {
    store.set_consent(SEED_NHS_NUMBER, Some(PermissionToView::Yes));
    let document = payloads::upload_bundle(SEED_NHS_NUMBER, SEED_SCR_ID, None);
    let stored = StoredScr {
        id: SEED_SCR_ID.into(),
        document,
        stored_at: clock.timestamp(),
        replaces: None,
    };
    if store.store_scr(SEED_NHS_NUMBER, stored) {
        Ok(())
    } else {
        Err(format!("seed SCR id {SEED_SCR_ID} is already stored"))
    }
}
