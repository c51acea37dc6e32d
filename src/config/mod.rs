//! Configuration read from files: a site's settings for a real environment (`site.rs`), the readiness
//! checklist (`check.rs`) and the production guard every configured URL passes (`guard.rs`).

pub mod check;
pub mod guard;
pub mod site;
