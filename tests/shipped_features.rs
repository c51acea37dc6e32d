//! "Shipped features": a run records whether its feature files and catalogue are byte for byte those shipped
//! in this build (the manifest `build.rs` embeds), and a run on edited features is marked like a filtered one —
//! in manifest.json, the JUnit properties and report.html. Real runs of one scenario on copies of `features/`.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scr-assure");
const TAG: &str = "@SCRA-ALR-001";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Runs the one scenario of [`TAG`] on `features`; the bundle's manifest, the JUnit text and report.html.
fn run(features: &Path, reports: &Path) -> (serde_json::Value, String, String) {
    let out = Command::new(BIN)
        .args(["run", "-q", "--tags", TAG, "--features"])
        .arg(features)
        .arg("--reports")
        .arg(reports)
        .output()
        .expect("the binary runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = reports.join("latest");
    let manifest = serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).expect("manifest"))
        .expect("manifest is JSON");
    let junit = std::fs::read_to_string(reports.join("junit.xml")).expect("junit.xml");
    let html = std::fs::read_to_string(bundle.join("report.html")).expect("report.html");
    (manifest, junit, html)
}

#[test]
fn a_run_on_edited_features_says_which_files_differ_from_the_shipped_ones() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("features");
    let dir = tempfile::tempdir().expect("temp dir");

    // An unedited copy is the suite as shipped (filtered by --tags only).
    let same = dir.path().join("same");
    copy_dir(&shipped, &same);
    let (manifest, junit, _) = run(&same, &dir.path().join("reports-same"));
    assert_eq!(manifest["features_shipped"], serde_json::json!(true), "{}", manifest["settings"]);
    assert_eq!(manifest["settings"]["features_drift"]["changed"], serde_json::json!([]));
    assert!(junit.contains("<property name=\"features_shipped\" value=\"true\"/>"), "{junit}");
    assert!(!manifest["filtered"].as_str().unwrap_or_default().contains("not as shipped"), "{}", manifest["filtered"]);

    // One feature edited (a comment is enough), one added (a removed one shows as `missing`: see `report::shipped`'s unit test).
    let edited = dir.path().join("edited");
    copy_dir(&shipped, &edited);
    let target = edited.join("identity/refresh.feature");
    let text = std::fs::read_to_string(&target).expect("a shipped feature");
    std::fs::write(&target, format!("# edited\n{text}")).expect("edit");
    std::fs::create_dir_all(edited.join("extra")).expect("mkdir");
    std::fs::write(edited.join("extra/copy.feature"), text).expect("add");
    let (manifest, junit, html) = run(&edited, &dir.path().join("reports-edited"));
    assert_eq!(manifest["features_shipped"], serde_json::json!(false));
    let drift = &manifest["settings"]["features_drift"];
    assert_eq!(drift["changed"], serde_json::json!(["identity/refresh.feature"]), "{drift}");
    assert_eq!(drift["added"], serde_json::json!(["extra/copy.feature"]), "{drift}");
    assert_eq!(drift["missing"], serde_json::json!([]), "{drift}");
    let filtered = manifest["filtered"].as_str().unwrap_or_default();
    assert!(
        filtered.contains(
            "features not as shipped in this build (changed identity/refresh.feature; added extra/copy.feature)"
        ),
        "{filtered}"
    );
    assert!(junit.contains("<property name=\"features_shipped\" value=\"false\"/>"), "{junit}");
    assert!(
        junit.contains("name=\"features_drift\" value=\"changed identity/refresh.feature; added extra/copy.feature\""),
        "{junit}"
    );
    assert!(
        html.contains("A filtered run, not the whole suite as shipped") && html.contains("features not as shipped")
    );
    assert!(
        html.contains(
            "<dd id=\"features-shipped\">no: changed identity/refresh.feature; added extra/copy.feature</dd>"
        ),
        "report.html's settings say which files differ"
    );
}
