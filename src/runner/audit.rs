//! The embedded mocks' audit trails for the evidence bundle: fetched over HTTP (`GET <origin>/_admin/audit`)
//! at the end of a mock-target run, like any client would — the runner never reads mock state directly.

use crate::client::{fetch as fetch_bounded, http_client, ClientOptions};
use crate::mock::audit::AuditEntry;
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
    let http = http_client(options);
    let mut out = Vec::new();
    for (lane, origin) in lanes {
        let trail = match &http {
            Ok(http) => fetch(http, options, origin).await,
            Err(e) => Err(format!("no HTTP client: {e}")),
        };
        out.push(LaneAudit { lane: lane.clone(), trail });
    }
    AuditEvidence::Lanes(out)
}

async fn fetch(http: &reqwest::Client, options: &ClientOptions, origin: &str) -> Result<Vec<AuditEntry>, String> {
    let url = format!("{origin}/_admin/audit");
    let response = fetch_bounded(http.get(&url), options, &url).await.map_err(|e| e.to_string())?;
    if !(200..300).contains(&response.status) {
        return Err(format!("GET {url} answered {}", response.status));
    }
    serde_json::from_slice(&response.body).map_err(|e| format!("GET {url}: not an audit trail: {e}"))
}
