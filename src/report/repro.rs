//! `scr-assure repro "<scenario>"`: one archive a tester attaches to a service-desk ticket — the scenario's
//! feature text, the clock and skew settings, its redacted exchanges and their correlation ids — taken from
//! the evidence bundle at `reports/latest` (exchanges there are already redacted).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ReportError;

/// A scenario of the latest bundle, found by name or `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub location: String,
    pub name: String,
    pub result: String,
}

fn read_json(path: &Path) -> Result<Value, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Write { path: path.to_owned(), source })?;
    serde_json::from_str(&text).map_err(|e| ReportError::Input {
        path: path.to_owned(),
        line: 1,
        message: e.to_string(),
    })
}

/// The scenarios of the bundle whose name or location matches `wanted` (exact name, or `file:line`).
pub fn find(bundle: &Path, wanted: &str) -> Result<Vec<Found>, ReportError> {
    let manifest = read_json(&bundle.join("manifest.json"))?;
    Ok(manifest["scenarios"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|s| s["name"] == wanted || s["location"] == wanted)
                .map(|s| Found {
                    location: s["location"].as_str().unwrap_or("").to_owned(),
                    name: s["name"].as_str().unwrap_or("").to_owned(),
                    result: s["result"].as_str().unwrap_or("").to_owned(),
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Clock and skew steps among the scenario's steps as run (`the client clock is …`, `… seconds pass`).
fn clock_steps<'a>(steps: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    steps
        .into_iter()
        .map(str::trim)
        .filter(|l| l.contains("client clock is") || l.ends_with("seconds pass"))
        .map(str::to_owned)
        .collect()
}

/// Writes the archive for one scenario of `bundle` to `output`.
pub fn write_archive(bundle: &Path, scenario: &Found, output: &Path) -> Result<PathBuf, ReportError> {
    let manifest = read_json(&bundle.join("manifest.json"))?;
    let zip_err = |e: zip::result::ZipError| ReportError::Render { what: "repro archive", message: e.to_string() };
    let io_err = |source| ReportError::Write { path: output.to_owned(), source };
    let (file, line) = scenario.location.rsplit_once(':').unwrap_or((&scenario.location, "0"));
    let line: usize = line.parse().unwrap_or(0);
    let feature_text = std::fs::read_to_string(file).unwrap_or_default();

    // The scenario's exchanges: files of the bundle whose scenario location is this one.
    let mut exchanges: Vec<(String, Value)> = Vec::new();
    if let Some(files) = manifest["files"].as_object() {
        for rel in files.keys().filter(|k| k.starts_with("exchanges/")) {
            let doc = read_json(&bundle.join(rel))?;
            if doc["scenario"]["location"] == scenario.location.as_str() {
                exchanges.push((rel.clone(), doc));
            }
        }
    }
    let ids: Vec<String> = exchanges
        .iter()
        .map(|(_, d)| {
            format!(
                "  {} {} -> {}  X-Request-ID {}  X-Correlation-ID {}",
                d["exchange"]["request"]["method"].as_str().unwrap_or(""),
                d["exchange"]["request"]["url"].as_str().unwrap_or(""),
                d["exchange"]["response"]["status"],
                d["x_request_id"].as_str().unwrap_or("-"),
                d["x_correlation_id"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    let clock = if manifest["target"] == "mock" {
        "virtual: harness and mock share one clock that moves only when a step says time passes"
    } else {
        "real time"
    };
    let entry = manifest["scenarios"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["location"] == scenario.location.as_str()))
        .cloned()
        .unwrap_or_default();
    let steps: Vec<&str> =
        entry["steps"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let skew = clock_steps(steps.iter().copied());
    let readme = format!(
        "scr-assure reproduction of one scenario\n\n\
         Scenario: {}\nLocation: {}\nResult:   {}\nRun:      {} ({} to {})\nTarget:   {} {}\nTool:     scr-assure {} (commit {})\n\
         Clock:    {clock}\nSkew and time steps of this scenario:\n{}\n\n\
         Exchanges (redacted; the correlation ids let the service desk find them in their logs):\n{}\n\n\
         Steps as run:\n{}\n\n\
         Files: scenario.feature (the feature file; the scenario is at line {line}), exchanges/*.json.\n\
         Secrets (tokens, assertions, keys, API keys, client secrets) are redacted at the source and are not here.\n",
        scenario.name,
        scenario.location,
        scenario.result,
        manifest["run_id"].as_str().unwrap_or(""),
        manifest["started_at"].as_str().unwrap_or(""),
        manifest["finished_at"].as_str().unwrap_or(""),
        manifest["target"].as_str().unwrap_or(""),
        manifest["base_url"].as_str().unwrap_or(""),
        manifest["version"].as_str().unwrap_or(""),
        manifest["git_commit"].as_str().unwrap_or("unknown"),
        if skew.is_empty() { "  (none: the client clock is right)".to_owned() } else { skew.iter().map(|s| format!("  {s}")).collect::<Vec<_>>().join("\n") },
        if ids.is_empty() { "  (none)".to_owned() } else { ids.join("\n") },
        steps.iter().map(|s| format!("  {s}")).collect::<Vec<_>>().join("\n"),
    );

    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("README.txt", options).map_err(zip_err)?;
        zip.write_all(readme.as_bytes()).map_err(io_err)?;
        zip.start_file("scenario.feature", options).map_err(zip_err)?;
        zip.write_all(feature_text.as_bytes()).map_err(io_err)?;
        for (rel, doc) in &exchanges {
            zip.start_file(rel.as_str(), options).map_err(zip_err)?;
            let bytes = serde_json::to_vec_pretty(doc)
                .map_err(|e| ReportError::Render { what: "repro archive", message: e.to_string() })?;
            zip.write_all(&bytes).map_err(io_err)?;
        }
        zip.finish().map_err(zip_err)?;
    }
    super::write_atomic(output, buffer.get_ref())?;
    Ok(output.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_steps_are_picked_from_the_steps() {
        let steps = ["Given the client clock is 15 seconds fast", "When I request a token", "When 600 seconds pass"];
        assert_eq!(clock_steps(steps), vec!["Given the client clock is 15 seconds fast", "When 600 seconds pass"]);
    }
}
