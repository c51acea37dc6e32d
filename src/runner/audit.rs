//! The embedded mocks' audit trails for the evidence bundle: fetched over HTTP (`GET <origin>/_admin/audit`)
//! at the end of a mock-target run, like any client would — the runner never reads mock state directly.

use crate::audit::AuditEntry;
use crate::client::{fetch as fetch_bounded, http_client, ClientOptions};
use crate::report::evidence::{AuditEvidence, LaneAudit};

use super::TargetKind;

/// Why a run against a real environment has no `audit/`.
pub const NOT_RECORDED: &str =
    "the sandbox and INT keep their own audit; scr-assure records none for them (mock target only)";

/// The trails of the mocks at `lanes` (lane name, origin), one [`LaneAudit`] each, failures included.
pub async fn collect(target: TargetKind, lanes: &[(String, String)], options: &ClientOptions) -> AuditEvidence {
    if target != TargetKind::Mock {
        return AuditEvidence::NotRecorded { reason: NOT_RECORDED.into() };
    }
    let mut out = Vec::new();
    for (lane, origin) in lanes {
        out.push(LaneAudit { lane: lane.clone(), trail: fetch_trail(origin, options).await });
    }
    AuditEvidence::Lanes(out)
}

/// A mock's whole trail, `GET <origin>/_admin/audit`, through the harness's bounded client (the run's bundle
/// and `scr-assure audit export` both read it this way).
pub async fn fetch_trail(origin: &str, options: &ClientOptions) -> Result<Vec<AuditEntry>, String> {
    let http = http_client(options).map_err(|e| format!("no HTTP client: {e}"))?;
    let url = format!("{origin}/_admin/audit");
    let response = fetch_bounded(http.get(&url), options, &url).await.map_err(|e| e.to_string())?;
    if !(200..300).contains(&response.status) {
        return Err(format!("GET {url} answered {}", response.status));
    }
    serde_json::from_slice(&response.body).map_err(|e| format!("GET {url}: not an audit trail: {e}"))
}
