//! Prints the `POST /Bundle` body scr-assure uploads (`scr::payloads::upload_bundle`, compact JSON) with
//! Postman-style placeholders where it varies: `{{nhsNumber}}` (the patient), `{{compositionId}}` (the SCR id)
//! and `{{bundleId}}` (`Bundle.identifier`). `benches/newman/run.sh` puts it in the Postman collection and
//! `benches/load/run.sh` gives it to wrk, so the load generators upload exactly what the harness uploads.
//!
//! ```text
//! cargo run --release --example upload_template > upload.json
//! ```

use scr_assure::scr::payloads;
use serde_json::json;

fn main() {
    let mut body = payloads::upload_bundle("{{nhsNumber}}", "{{compositionId}}", None);
    body["identifier"]["value"] = json!("{{bundleId}}");
    println!("{body}");
}
