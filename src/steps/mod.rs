//! Step definitions, by area. Each step parses its words and calls the domain ([`crate::scr`],
//! [`crate::runner::world`], [`crate::runner::checks`]); none holds logic of its own.
//! The vocabulary is documented in `docs/STEPS.md`.

pub mod alerts;
pub mod arrange;
pub mod assert;
pub mod client;
pub mod consent;
pub mod faults;
pub mod identity;
pub mod retrieve;
pub mod transport;
pub mod upload;

use crate::runner::world::{ScrWorld, StepFailure};

/// Checks a step's response status, for Given steps that must succeed to arrange state.
pub(crate) fn require_status(world: &ScrWorld, expected: u16, what: &str) -> Result<(), StepFailure> {
    let exchange = world.last()?;
    if exchange.response.status == expected {
        Ok(())
    } else {
        Err(StepFailure(format!(
            "could not {what}: expected HTTP {expected}, got {} {}",
            exchange.response.status, exchange.response.body
        )))
    }
}
