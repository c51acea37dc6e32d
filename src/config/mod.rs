//! Configuration read from files: a site's settings for a real environment (`site.rs`).

pub mod check;
pub mod site;
