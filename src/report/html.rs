//! `report.html`: one self-contained page of a run's evidence (see `report::model::Evidence`).

use super::model::Evidence;

/// Renders the page.
pub fn render(evidence: &Evidence) -> String {
    let _ = evidence;
    String::new()
}
