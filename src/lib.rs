//! scr-assure: a conformance and assurance harness for the NHS England Summary Care Record FHIR API.
//!
//! The rooms (see `docs/ARCHITECTURE.md`): [`scr`] is the domain shared by everything; [`mock`] is the
//! embedded mock SCR service; [`client`] talks HTTP to any target; [`runner`] and [`steps`] run the Gherkin
//! scenarios; [`requirements`] is the catalogue; [`report`] writes the evidence; [`clock`] is the one source
//! of time; [`secret`] keeps credentials out of every output. Client conformance (`docs/CLIENT.md`): [`sut`]
//! describes and drives the supplier's system, [`grader`] judges what it sent, and [`refclient`] is the bundled
//! reference client with its deliberate defects.

pub mod audit;
pub mod client;
pub mod clock;
pub mod config;
pub mod fhir;
pub mod grader;
pub mod identity;
pub mod mock;
pub mod refclient;
pub mod report;
pub mod requirements;
pub mod runner;
pub mod scr;
pub mod secret;
pub mod snapshot;
pub mod steps;
pub mod sut;
