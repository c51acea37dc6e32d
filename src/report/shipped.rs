//! The features shipped in this build, and how a run's own differ: `build.rs` embeds the sha256 of every
//! `features/**/*.feature` and of `features/requirements.toml` (by path below `features/`); a run hashes the
//! files it reads and [`drift`] compares the two, so the evidence says whether it ran the suite as shipped.

use std::collections::BTreeMap;
use std::path::Path;

use super::model::FeatureDrift;

include!(concat!(env!("OUT_DIR"), "/shipped_features.rs"));

/// The path of `path` below `features` with `/` separators; the catalogue is always `requirements.toml`.
fn key(path: &Path, features: &Path, requirements: &Path) -> String {
    if path == requirements {
        return "requirements.toml".to_owned();
    }
    let rel = path.strip_prefix(features).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// How `inputs` (sha256 by path as the run read them, feature files under `features` and the catalogue at
/// `requirements`) differ from `shipped` (normally [`SHIPPED`]).
pub fn drift(
    features: &Path,
    requirements: &Path,
    inputs: &BTreeMap<String, String>,
    shipped: &[(&str, &str)],
) -> FeatureDrift {
    let ran: BTreeMap<String, &str> =
        inputs.iter().map(|(p, sha)| (key(Path::new(p), features, requirements), sha.as_str())).collect();
    let shipped: BTreeMap<&str, &str> = shipped.iter().copied().collect();
    let mut drift = FeatureDrift::default();
    for (path, sha) in &ran {
        match shipped.get(path.as_str()) {
            None => drift.added.push(path.clone()),
            Some(s) if s != sha => drift.changed.push(path.clone()),
            Some(_) => {}
        }
    }
    drift.missing = shipped.keys().filter(|p| !ran.contains_key(**p)).map(|p| (*p).to_owned()).collect();
    drift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_holds_every_shipped_feature_and_the_catalogue() {
        assert!(SHIPPED.iter().any(|(p, _)| *p == "requirements.toml"));
        assert!(SHIPPED.iter().filter(|(p, _)| p.ends_with(".feature")).count() > 10);
        assert!(SHIPPED.iter().all(|(p, sha)| !p.contains('\\') && sha.len() == 64));
    }

    #[test]
    fn drift_names_changed_added_and_missing_files() {
        let shipped = [("a/one.feature", "11"), ("b/two.feature", "22"), ("requirements.toml", "33")];
        let inputs: BTreeMap<String, String> = [
            ("/tmp/f/a/one.feature", "11"),
            ("/tmp/f/b/two.feature", "2X"),
            ("/tmp/f/c/new.feature", "44"),
            ("/elsewhere/catalogue.toml", "33"),
        ]
        .into_iter()
        .map(|(p, s)| (p.to_owned(), s.to_owned()))
        .collect();
        let d = drift(Path::new("/tmp/f"), Path::new("/elsewhere/catalogue.toml"), &inputs, &shipped);
        assert_eq!(d.changed, ["b/two.feature"]);
        assert_eq!(d.added, ["c/new.feature"]);
        assert!(d.missing.is_empty());
        assert!(!d.is_empty());
        let only_one: BTreeMap<String, String> = [("/tmp/f/a/one.feature".to_owned(), "11".to_owned())].into();
        let d = drift(Path::new("/tmp/f"), Path::new("/tmp/f/requirements.toml"), &only_one, &shipped);
        assert_eq!(d.missing, ["b/two.feature", "requirements.toml"]);
        let same: BTreeMap<String, String> =
            shipped.iter().map(|(p, s)| (format!("features/{p}"), (*s).to_owned())).collect();
        assert!(drift(Path::new("features"), Path::new("features/requirements.toml"), &same, &shipped).is_empty());
    }
}
