//! The steps the features use, checked against the step definitions before anything runs. A step that no
//! definition matches, or that more than one matches, is a broken feature of the harness, not a finding about
//! the product: cucumber would only discover it mid-run and report the scenario as failed against the target.
//! So the run refuses to start (exit 2), naming each `file:line` and the step as written.
//!
//! Matching is cucumber's own ([`cucumber::step::Collection::find`] over [`ScrWorld::collection`]), on the
//! same step texts cucumber would run: backgrounds included, Scenario Outline placeholders filled in from each
//! Examples row.

use std::path::Path;

use cucumber::gherkin::{Examples, Feature, Scenario, Step};
use cucumber::World as _;

use super::world::ScrWorld;
use crate::requirements::{self, Problem, RequirementsError};

/// How a step fares against the definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepMatch {
    One,
    None,
    /// More than one definition matches: cucumber's list of them.
    Ambiguous(String),
}

/// Every step under `dir` that the harness's step definitions do not match exactly once.
pub fn unmatched_steps(dir: &Path) -> Result<Vec<Problem>, RequirementsError> {
    let collection = ScrWorld::collection();
    check_features(dir, |step| match collection.find(step) {
        Ok(Some(_)) => StepMatch::One,
        Ok(None) => StepMatch::None,
        Err(e) => StepMatch::Ambiguous(e.to_string().replace('\n', " ")),
    })
}

/// [`unmatched_steps`] with any matcher.
pub fn check_features(dir: &Path, find: impl Fn(&Step) -> StepMatch) -> Result<Vec<Problem>, RequirementsError> {
    let mut problems = Vec::new();
    for file in requirements::feature_files(dir)? {
        let feature = requirements::parse_feature(&file)?;
        for (step, row_line) in steps_as_run(&feature) {
            let why = match find(&step) {
                StepMatch::One => continue,
                StepMatch::None => "no step definition matches it (see docs/STEPS.md for the vocabulary)".to_owned(),
                StepMatch::Ambiguous(which) => format!("more than one step definition matches it: {which}"),
            };
            let row = row_line.map(|l| format!(" (Examples row at line {l})")).unwrap_or_default();
            problems.push(Problem {
                file: file.clone(),
                line: step.position.line,
                message: format!("{} {}{row}: {why}", step.keyword.trim(), step.value),
            });
        }
    }
    problems.dedup();
    Ok(problems)
}

/// Every step of a feature as cucumber would run it, with the line of the Examples row it came from.
fn steps_as_run(feature: &Feature) -> Vec<(Step, Option<usize>)> {
    let mut out = Vec::new();
    let mut scenario_steps = |background: &[&Step], sc: &Scenario| {
        let steps = background.iter().copied().chain(&sc.steps);
        if sc.examples.is_empty() {
            out.extend(steps.map(|s| (s.clone(), None)));
            return;
        }
        for ex in &sc.examples {
            for (line, row) in example_rows(ex) {
                for s in background.iter().copied().chain(&sc.steps) {
                    let mut s = s.clone();
                    for (name, value) in &row {
                        s.value = s.value.replace(&format!("<{name}>"), value);
                    }
                    out.push((s, Some(line)));
                }
            }
        }
    };
    let background: Vec<&Step> = feature.background.iter().flat_map(|b| &b.steps).collect();
    for sc in &feature.scenarios {
        scenario_steps(&background, sc);
    }
    for rule in &feature.rules {
        let mut with_rule = background.clone();
        with_rule.extend(rule.background.iter().flat_map(|b| &b.steps));
        for sc in &rule.scenarios {
            scenario_steps(&with_rule, sc);
        }
    }
    out
}

/// The rows of an Examples table as (line, header → value), numbered as cucumber numbers them.
fn example_rows(ex: &Examples) -> Vec<(usize, Vec<(String, String)>)> {
    let Some(table) = &ex.table else { return Vec::new() };
    let Some((header, rows)) = table.rows.split_first() else { return Vec::new() };
    rows.iter()
        .enumerate()
        .map(|(i, row)| (ex.position.line + i + 2, header.iter().cloned().zip(row.iter().cloned()).collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("t.feature"), text).unwrap_or_else(|e| panic!("{e}"));
        dir
    }

    const FEATURE: &str = r#"Feature: T
  Background:
    Given a patient "B" with no SCR

  @SCRA-TST-001
  Scenario: one
    Given a patient "A" with no SCR
    When I request the SCR id for patient "A"
    Then the response statuss is 200

  @SCRA-TST-001
  Scenario Outline: many
    Then the response status is <status>
    And <thing> happens

    Examples:
      | status | thing     |
      | 200    | nothing   |
      | 404    | something |
"#;

    #[test]
    fn undefined_steps_are_listed_with_their_place_and_text() {
        let dir = features(FEATURE);
        let problems = unmatched_steps(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let file = dir.path().join("t.feature");
        let at = |line: usize| format!("{}:{line}: ", file.display());
        assert_eq!(text.len(), 3, "{text:#?}");
        assert!(text[0].starts_with(&at(9)) && text[0].contains("Then the response statuss is 200"), "{text:#?}");
        assert!(text[0].contains("no step definition matches"), "{text:#?}");
        assert!(text[1].starts_with(&at(14)) && text[1].contains("And nothing happens (Examples row at line 18)"));
        assert!(text[2].starts_with(&at(14)) && text[2].contains("And something happens (Examples row at line 19)"));
    }

    #[test]
    fn the_harness_features_use_only_defined_steps() {
        let problems = unmatched_steps(Path::new("features")).unwrap_or_else(|e| panic!("{e}"));
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn ambiguous_steps_are_problems_too() {
        let dir = features("Feature: T\n  Scenario: s\n    Given anything\n");
        let problems = check_features(dir.path(), |_| StepMatch::Ambiguous("two regexes".into()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].to_string().contains("Given anything: more than one step definition matches it: two"));
        let none = check_features(dir.path(), |_| StepMatch::One).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.is_empty());
    }
}
