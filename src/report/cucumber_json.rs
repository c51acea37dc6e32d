//! `cucumber.json` completed: cucumber's JSON writer records only what ran, and gives every Examples row of an
//! Outline the same `id`. [`complete`] reads what it wrote and, from the feature files themselves:
//!
//! - gives each Examples row a unique `id`: cucumber's `feature/scenario` id, then `;<examples-name>;row-<n>`
//!   (`n` counts the rows of all the Examples of that Outline, from 1);
//! - lists the steps after a failing step (which cucumber never reports) as `skipped`;
//! - adds every scenario that did not run ([`NotRun`]) as a `scenario` element whose steps are all `skipped`,
//!   its reason as the first step's `result.error_message` and its tags;
//! - makes each feature's `uri` absolute (cucumber writes it relative to the working directory).
//!
//! Anything it cannot parse is left as it was; only JSON that is not cucumber's is an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cucumber::gherkin;
use serde_json::{json, Value};

use super::model::NotRun;
use super::ReportError;
use crate::runner::recorder::ScenarioRecord;

/// One scenario of a feature file as cucumber runs it (an Examples row is one): its steps, the Background's
/// before them.
#[derive(Debug, Clone)]
struct Planned {
    /// The line cucumber gives it: the scenario's, or its Examples row's.
    line: usize,
    name: String,
    keyword: String,
    rule: Option<String>,
    /// For an Examples row: the Examples' name (`examples` when it has none) and the row's number (from 1).
    row: Option<(String, usize)>,
    background: Vec<PlannedStep>,
    steps: Vec<PlannedStep>,
    /// Scenario and Examples tags (without the feature's), without `@` (as cucumber writes them).
    tags: Vec<String>,
}

#[derive(Debug, Clone)]
struct PlannedStep {
    keyword: String,
    text: String,
    line: usize,
}

fn err(message: String) -> ReportError {
    ReportError::Render { what: "cucumber.json", message }
}

/// A kebab-case fragment, as cucumber makes its ids: lower case, words joined by `-`.
fn kebab(text: &str) -> String {
    let mut out = String::new();
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&word.to_lowercase());
    }
    out
}

fn steps_of(steps: &[gherkin::Step], values: Option<(&[String], &[String])>) -> Vec<PlannedStep> {
    steps
        .iter()
        .map(|s| {
            let mut text = s.value.clone();
            if let Some((header, row)) = values {
                for (name, value) in header.iter().zip(row) {
                    text = text.replace(&format!("<{name}>"), value);
                }
            }
            PlannedStep { keyword: s.keyword.clone(), text, line: s.position.line }
        })
        .collect()
}

/// The scenarios of a feature file, by the line cucumber gives each.
fn plan(feature: &gherkin::Feature) -> BTreeMap<usize, Planned> {
    let mut planned = BTreeMap::new();
    let feature_bg = feature.background.as_ref().map(|b| b.steps.as_slice()).unwrap_or_default();
    for (rule, sc) in crate::requirements::scenarios_in_order(feature) {
        let rule_bg = rule.and_then(|r| r.background.as_ref()).map(|b| b.steps.as_slice()).unwrap_or_default();
        let tags: Vec<String> = sc.tags.clone();
        let base = |line: usize, row: Option<(String, usize)>, values: Option<(&[String], &[String])>, tags| {
            let mut background = steps_of(feature_bg, None);
            background.extend(steps_of(rule_bg, None));
            Planned {
                line,
                name: sc.name.clone(),
                keyword: sc.keyword.clone(),
                rule: rule.map(|r| r.name.clone()),
                row,
                background,
                steps: steps_of(&sc.steps, values),
                tags,
            }
        };
        if sc.examples.is_empty() {
            planned.insert(sc.position.line, base(sc.position.line, None, None, tags.clone()));
            continue;
        }
        let mut n = 0;
        for ex in &sc.examples {
            let name = ex.name.as_deref().map(kebab).filter(|n| !n.is_empty()).unwrap_or_else(|| "examples".into());
            let mut row_tags = tags.clone();
            row_tags.extend(ex.tags.iter().cloned());
            let Some(table) = &ex.table else { continue };
            let Some(header) = table.rows.first() else { continue };
            for (i, row) in table.rows.iter().skip(1).enumerate() {
                n += 1;
                // The same numbering cucumber gives an expanded row: the Examples line + row + 2.
                let line = ex.position.line + i + 2;
                planned.insert(line, base(line, Some((name.clone(), n)), Some((header, row)), row_tags.clone()));
            }
        }
    }
    planned
}

/// The file behind a feature's `uri` (absolute, or relative to the working directory).
fn absolute(uri: &str) -> PathBuf {
    let path = Path::new(uri);
    if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_owned())
    }
}

/// The feature file behind cucumber's `uri`. cucumber strips the working directory from a path, then any leading
/// `/`, so an absolute path outside the working directory comes out relative (`/tmp/x.feature` as
/// `tmp/x.feature`): the file the run knows that ends with it is the one.
fn resolve(uri: &str, known: &[PathBuf]) -> PathBuf {
    let plain = absolute(uri);
    if known.contains(&plain) {
        return plain;
    }
    let suffix = format!("/{}", uri.trim_start_matches('/'));
    known.iter().find(|k| k.display().to_string().ends_with(&suffix)).cloned().unwrap_or(plain)
}

fn step_json(s: &PlannedStep, error: Option<&str>) -> Value {
    let mut result = json!({ "status": "skipped" });
    if let Some(e) = error {
        result["error_message"] = json!(e);
    }
    json!({ "keyword": s.keyword, "line": s.line, "name": s.text, "result": result })
}

/// The id of a planned scenario, from cucumber's own (`feature/scenario`) and, for an Examples row, its name and
/// number.
fn unique_id(cucumber_id: &str, p: &Planned) -> String {
    match &p.row {
        Some((examples, n)) => format!("{cucumber_id};{examples};row-{n}"),
        None => cucumber_id.to_owned(),
    }
}

/// A `scenario` element for a scenario that did not run (or whose Background failed before it started): every
/// step skipped, the first one saying why.
fn skipped_element(feature_name: &str, p: &Planned, why: &str) -> Value {
    let base = format!(
        "{}{}/{}",
        kebab(feature_name),
        p.rule.as_deref().map(|r| format!("/{}", kebab(r))).unwrap_or_default(),
        kebab(&p.name)
    );
    let steps: Vec<Value> =
        p.background.iter().chain(&p.steps).enumerate().map(|(i, s)| step_json(s, (i == 0).then_some(why))).collect();
    json!({
        "keyword": p.keyword,
        "type": "scenario",
        "id": unique_id(&base, p),
        "line": p.line,
        "name": match &p.rule { Some(r) => format!("{r} {}", p.name), None => p.name.clone() },
        "tags": p.tags.iter().map(|t| json!({ "name": t, "line": p.line })).collect::<Vec<_>>(),
        "steps": steps,
    })
}

/// Completes cucumber's JSON (see the module's documentation).
pub fn complete(json: &[u8], records: &[ScenarioRecord], not_run: &[NotRun]) -> Result<Vec<u8>, ReportError> {
    let mut features: Vec<Value> =
        serde_json::from_slice(json).map_err(|e| err(format!("cucumber's JSON cannot be read: {e}")))?;
    // The scenarios that ran, and those that did not, by feature file.
    let mut ran: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for r in records {
        ran.entry(absolute(&r.file.display().to_string())).or_default().push(r.line);
    }
    let mut skipped: BTreeMap<PathBuf, Vec<&NotRun>> = BTreeMap::new();
    for n in not_run {
        skipped.entry(absolute(&n.file)).or_default().push(n);
    }
    let mut parsed: BTreeMap<PathBuf, gherkin::Feature> = BTreeMap::new();
    let mut parse = |path: &Path| -> Option<gherkin::Feature> {
        if !parsed.contains_key(path) {
            let feature = crate::requirements::parse_feature(path).ok()?;
            parsed.insert(path.to_owned(), feature);
        }
        parsed.get(path).cloned()
    };
    let known: Vec<PathBuf> = ran.keys().chain(skipped.keys()).cloned().collect();
    let mut seen = std::collections::BTreeSet::new();
    for feature in &mut features {
        let Some(uri) = feature["uri"].as_str().map(str::to_owned) else { continue };
        let path = resolve(&uri, &known);
        feature["uri"] = json!(path.display().to_string());
        seen.insert(path.clone());
        let Some(gherkin) = parse(&path) else { continue };
        let planned = plan(&gherkin);
        let name = feature["name"].as_str().unwrap_or(&gherkin.name).to_owned();
        let Some(elements) = feature["elements"].as_array_mut() else { continue };
        let mut with_scenario = std::collections::BTreeSet::new();
        for element in elements.iter_mut() {
            let Some(p) = element["line"].as_u64().and_then(|l| planned.get(&(l as usize))) else { continue };
            let id = element["id"].as_str().unwrap_or_default().to_owned();
            element["id"] = json!(unique_id(&id, p));
            let is_background = element["type"] == "background";
            if !is_background {
                with_scenario.insert(p.line);
            }
            let expected = if is_background { &p.background } else { &p.steps };
            if let Some(steps) = element["steps"].as_array_mut() {
                // cucumber stops reporting at a failing step: the rest were skipped.
                for s in expected.iter().skip(steps.len()) {
                    steps.push(step_json(s, None));
                }
            }
        }
        // A scenario whose Background failed has no scenario element: its steps were skipped.
        for line in ran.get(&path).into_iter().flatten().filter(|l| !with_scenario.contains(l)) {
            if let Some(p) = planned.get(line) {
                let mut element = skipped_element(&name, p, "skipped: the Background failed");
                element["steps"] = json!(p.steps.iter().map(|s| step_json(s, None)).collect::<Vec<_>>());
                elements.push(element);
            }
        }
        for n in skipped.get(&path).into_iter().flatten() {
            if let Some(p) = planned.get(&n.line) {
                elements.push(skipped_element(&name, p, &n.reason));
            }
        }
        elements.sort_by_key(|e| e["line"].as_u64().unwrap_or(0));
    }
    // Features none of whose scenarios ran.
    for (path, list) in &skipped {
        if seen.contains(path) {
            continue;
        }
        let Some(gherkin) = parse(path) else { continue };
        let planned = plan(&gherkin);
        let elements: Vec<Value> = list
            .iter()
            .filter_map(|n| planned.get(&n.line).map(|p| skipped_element(&gherkin.name, p, &n.reason)))
            .collect();
        features.push(json!({
            "uri": path.display().to_string(),
            "keyword": gherkin.keyword,
            "name": gherkin.name,
            "tags": gherkin.tags.iter().map(|t| json!({ "name": t, "line": gherkin.position.line })).collect::<Vec<_>>(),
            "elements": elements,
        }));
    }
    serde_json::to_vec(&features).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::NotRunKind;

    const FEATURE: &str = "@SCRA-TST-001\nFeature: Sample <one>\n\n  Background:\n    Given a patient \"A\"\n\n  \
        Scenario: plain\n    When I ask\n    Then it answers\n    And it is logged\n\n  Scenario Outline: rows\n    \
        When I ask for <what>\n    Then I get <status>\n\n    Examples: Good ones\n      | what | status |\n      \
        | a    | 200    |\n      | b    | 201    |\n\n    Examples:\n      | what | status |\n      | c    | 404    |\n";

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("sample.feature");
        std::fs::write(&path, FEATURE).unwrap_or_else(|e| panic!("{e}"));
        (dir, path)
    }

    fn step(keyword: &str, name: &str, status: &str) -> Value {
        json!({ "keyword": keyword, "line": 1, "name": name, "result": { "status": status } })
    }

    #[test]
    fn rows_get_unique_ids_failed_steps_are_followed_by_skipped_ones_and_not_run_scenarios_appear() {
        let (_dir, path) = setup();
        let uri = path.display().to_string();
        let background = |line: usize| {
            json!({ "keyword": "Background", "type": "background", "id": "sample-one/rows",
            "line": line, "name": "", "tags": [], "steps": [step("Given ", "a patient \"A\"", "passed")] })
        };
        // As cucumber writes it: the plain scenario failed at its first step; two rows ran with one id.
        let written = json!([{ "uri": uri, "keyword": "Feature", "name": "Sample <one>", "tags": [], "elements": [
            { "keyword": "Background", "type": "background", "id": "sample-one/plain", "line": 7, "name": "",
              "tags": [], "steps": [step("Given ", "a patient \"A\"", "passed")] },
            { "keyword": "Scenario", "type": "scenario", "id": "sample-one/plain", "line": 7, "name": "plain",
              "tags": [], "steps": [step("When ", "I ask", "failed")] },
            background(18),
            { "keyword": "Scenario Outline", "type": "scenario", "id": "sample-one/rows", "line": 18, "name": "rows",
              "tags": [], "steps": [step("When ", "I ask for a", "passed"), step("Then ", "I get 200", "passed")] },
            background(19),
            { "keyword": "Scenario Outline", "type": "scenario", "id": "sample-one/rows", "line": 19, "name": "rows",
              "tags": [], "steps": [step("When ", "I ask for b", "passed"), step("Then ", "I get 201", "passed")] },
        ]}]);
        let records: Vec<ScenarioRecord> = [7, 18, 19]
            .into_iter()
            .map(|line| ScenarioRecord::new("Sample <one>", path.clone(), "x", line, vec![]))
            .collect();
        let not_run = [NotRun {
            feature: "Sample <one>".into(),
            name: "rows".into(),
            file: uri.clone(),
            line: 23,
            tags: vec!["SCRA-TST-001".into()],
            kind: NotRunKind::Filtered,
            reason: "filtered out: --tags '@x' does not select it".into(),
        }];
        let bytes = serde_json::to_vec(&written).unwrap_or_default();
        let done = complete(&bytes, &records, &not_run).unwrap_or_else(|e| panic!("{e}"));
        let doc: Value = serde_json::from_slice(&done).unwrap_or_else(|e| panic!("{e}"));
        let elements = doc[0]["elements"].as_array().cloned().unwrap_or_default();
        let scenarios: Vec<&Value> = elements.iter().filter(|e| e["type"] == "scenario").collect();
        let ids: Vec<&str> = scenarios.iter().filter_map(|e| e["id"].as_str()).collect();
        assert_eq!(
            ids,
            [
                "sample-one/plain",
                "sample-one/rows;good-ones;row-1",
                "sample-one/rows;good-ones;row-2",
                "sample-one/rows;examples;row-3"
            ]
        );
        let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "every scenario element has its own id");
        let plain: Vec<(String, String)> = scenarios[0]["steps"]
            .as_array()
            .map(|s| {
                s.iter()
                    .map(|s| {
                        (
                            s["name"].as_str().unwrap_or("").to_owned(),
                            s["result"]["status"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            plain,
            [
                ("I ask".into(), "failed".into()),
                ("it answers".into(), "skipped".into()),
                ("it is logged".into(), "skipped".into())
            ]
        );
        let not_run = scenarios[3];
        assert_eq!(not_run["line"], 23);
        let steps = not_run["steps"].as_array().cloned().unwrap_or_default();
        assert_eq!(steps.len(), 3, "the Background's step and the row's two");
        assert!(steps.iter().all(|s| s["result"]["status"] == "skipped"));
        assert_eq!(steps[2]["name"], "I get 404", "the row's values in the step text");
        assert_eq!(steps[0]["result"]["error_message"], "filtered out: --tags '@x' does not select it");
        assert_eq!(doc[0]["uri"], uri.as_str());
        assert_eq!(
            resolve(uri.trim_start_matches('/'), std::slice::from_ref(&path)),
            path,
            "cucumber's stripped absolute path"
        );
    }

    #[test]
    fn a_feature_none_of_whose_scenarios_ran_is_added_and_relative_uris_become_absolute() {
        let (_dir, path) = setup();
        let not_run = [NotRun {
            feature: "Sample <one>".into(),
            name: "plain".into(),
            file: path.display().to_string(),
            line: 7,
            tags: vec![],
            kind: NotRunKind::NotApplicable,
            reason: "not applicable".into(),
        }];
        let written = json!([{ "uri": "features/elsewhere.feature", "keyword": "Feature", "name": "E", "tags": [],
            "elements": [] }]);
        let done = complete(&serde_json::to_vec(&written).unwrap_or_default(), &[], &not_run)
            .unwrap_or_else(|e| panic!("{e}"));
        let doc: Value = serde_json::from_slice(&done).unwrap_or_else(|e| panic!("{e}"));
        assert!(doc[0]["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with('/') && u.ends_with("features/elsewhere.feature")));
        assert_eq!(doc[1]["name"], "Sample <one>");
        assert_eq!(doc[1]["elements"][0]["id"], "sample-one/plain");
        assert_eq!(doc[1]["elements"][0]["steps"][0]["result"]["error_message"], "not applicable");
        assert!(complete(b"not json", &[], &[]).is_err());
    }
}
