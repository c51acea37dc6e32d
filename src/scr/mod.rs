//! The SCR domain: codes, exact error texts, NHS numbers, permission to view, privacy alerts, the
//! validation rules of the backend (reference §4) and builders of valid payloads. Shared by the mock (which
//! enforces the rules) and the steps (which build requests and assert the answers); knows nothing of either.

pub mod alert;
pub mod codes;
pub mod nhs_number;
pub mod outcome;
pub mod patch;
pub mod payloads;
pub mod permission;
pub mod texts;
pub mod validate;

pub use nhs_number::NhsNumber;
pub use outcome::{IssueCode, ScrError};
pub use permission::PermissionToView;
