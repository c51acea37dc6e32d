//! The requirement catalogue (`features/requirements.toml`) and its link to the scenarios: every scenario
//! carries at least one requirement tag, every tag names a catalogued requirement, every requirement is
//! proved by at least one scenario. A run refuses to start otherwise (exit 2), naming file and line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// A tag that names a requirement: upper-case words joined by hyphens, e.g. `@SCRA-RET-001`.
static REQUIREMENT_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$").unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});

/// Whether a tag (without `@`) is a requirement id rather than a control tag such as `mock-only`.
pub fn is_requirement_tag(tag: &str) -> bool {
    REQUIREMENT_TAG.is_match(tag)
}

/// One requirement the harness proves.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub title: String,
    /// What the API must do.
    pub behaviour: String,
    /// Where the rule comes from: a reference section or specification file.
    pub source: String,
    /// The official SCAL id, only where it is publicly known (MSCA-SCR-103/104/105).
    #[serde(default)]
    pub scal: Option<String>,
    /// Why the scenarios of this requirement tagged `@status-only` can observe no more than a status (and an
    /// empty body): a service that ignored its input would pass them, and this says why nothing stronger can
    /// be asserted portably. `tests/dummy_service.rs` holds the suite to exactly these scenarios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_only: Option<String>,
    /// Every scenario that proves this requirement needs the embedded mock ([`needs_the_mock`]): the evidence
    /// proves the harness and the mock's reproduction of the NHS rule, never the NHS service itself. Not read
    /// from the catalogue: set by [`Catalogue::mark_mock_only`] from the features.
    #[serde(skip)]
    pub mock_only: bool,
}

/// The tag of a scenario whose outcome only a status can show (its requirement's `status_only` says why).
pub const STATUS_ONLY_TAG: &str = "status-only";
/// The tag of a scenario that needs the embedded mock (its admin routes, its clock, its identity service).
pub const MOCK_ONLY_TAG: &str = "mock-only";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    requirement: Vec<Requirement>,
}

/// All requirements, in catalogue order.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub path: PathBuf,
    pub requirements: Vec<Requirement>,
}

/// A problem with the features or the catalogue, located as `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Catalogue { path: PathBuf, message: String },
    #[error("{0}")]
    Feature(Problem),
}

impl Catalogue {
    pub fn load(path: &Path) -> Result<Self, RequirementsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| RequirementsError::Read { path: path.to_owned(), source })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, RequirementsError> {
        let file: CatalogueFile = toml::from_str(text)
            .map_err(|e| RequirementsError::Catalogue { path: path.to_owned(), message: e.to_string() })?;
        let mut seen = BTreeMap::new();
        for r in &file.requirement {
            if !is_requirement_tag(&r.id) {
                return Err(RequirementsError::Catalogue {
                    path: path.to_owned(),
                    message: format!("requirement id '{}' must be upper-case words joined by hyphens", r.id),
                });
            }
            if seen.insert(r.id.clone(), ()).is_some() {
                return Err(RequirementsError::Catalogue {
                    path: path.to_owned(),
                    message: format!("requirement id '{}' is defined twice", r.id),
                });
            }
        }
        Ok(Self { path: path.to_owned(), requirements: file.requirement })
    }

    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }

    /// Sets each requirement's `mock_only` from every scenario of the features (not only a run's selection).
    pub fn mark_mock_only(&mut self, scenarios: &[ScenarioInfo]) {
        for r in &mut self.requirements {
            r.mock_only = proved_only_on_mock(&r.id, scenarios);
        }
    }
}

/// Whether a scenario can run only on the embedded mock: `@mock-only` (it arranges or reads state through
/// `/_admin`, moves the virtual clock, or needs the mock identity service and CIS2 personas) or
/// `@open-access` (the backend without its gateway, which no NHS environment exposes). Client scenarios
/// (`@client`) are not counted: what they prove is the supplier's system, with the mock as the instrument.
pub fn needs_the_mock(scenario: &ScenarioInfo) -> bool {
    scenario.has_tag(MOCK_ONLY_TAG) || scenario.has_tag("open-access")
}

/// A requirement at least one scenario proves, every one of which needs the embedded mock ([`needs_the_mock`]).
pub fn proved_only_on_mock(id: &str, scenarios: &[ScenarioInfo]) -> bool {
    let mut proving = scenarios.iter().filter(|sc| sc.has_tag(id)).peekable();
    proving.peek().is_some() && proving.all(needs_the_mock)
}

/// A runnable scenario as written: each Examples row of an Outline is one.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioInfo {
    pub feature: String,
    pub file: PathBuf,
    pub name: String,
    /// Line of the scenario, or of its Examples row.
    pub line: usize,
    /// Feature, rule, scenario and Examples tags, without `@`.
    pub tags: Vec<String>,
}

impl ScenarioInfo {
    pub fn requirement_ids(&self) -> Vec<&str> {
        self.tags.iter().map(String::as_str).filter(|t| is_requirement_tag(t)).collect()
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// Every `.feature` file under `dir`, sorted.
pub fn feature_files(dir: &Path) -> Result<Vec<PathBuf>, RequirementsError> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| RequirementsError::Read { path: d.clone(), source })?;
        for entry in entries {
            let path = entry.map_err(|source| RequirementsError::Read { path: d.clone(), source })?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "feature") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Where the Gherkin parser stopped: `Error at LINE:COL: {"expected", …}` (its position is private).
static PARSE_POSITION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^Error at (\d+):(\d+): (.*)$").unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});
static QUOTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""((?:[^"\\]|\\.)*)""#).unwrap_or_else(|e| unreachable!("constant regex: {e}")));

/// Undoes Rust's `Debug` escaping of a string's content.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// A token the parser expected, readable: literals in backticks (`|`, `"""`), rule names as they are.
fn expected_token(debug_content: &str) -> String {
    let token = unescape(debug_content);
    match token.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(literal) => match unescape(literal).as_str() {
            "\n" => "end of line".to_owned(),
            literal => format!("`{literal}`"),
        },
        None => token,
    }
}

/// The line of the first table row whose cell count differs from its table's first row, at or before `limit`.
fn inconsistent_row(text: &str, limit: usize) -> Option<usize> {
    let mut width = None;
    for (i, line) in text.lines().take(limit).enumerate() {
        let trimmed = line.trim();
        if !trimmed.starts_with('|') {
            width = None;
            continue;
        }
        let cells = trimmed.matches('|').count() - trimmed.matches("\\|").count();
        match width {
            None => width = Some(cells),
            Some(w) if w != cells => return Some(i + 1),
            Some(_) => {}
        }
    }
    None
}

/// A Gherkin parse failure as a [`Problem`] at the line it is on, with what the parser complained of.
fn parse_problem(file: &Path, error: &cucumber::gherkin::ParseFileError) -> Problem {
    use cucumber::gherkin::{EnvError, ParseFileError};
    let at = |line: usize, message: String| Problem { file: file.to_owned(), line, message };
    let (env, source) = match error {
        ParseFileError::Reading { source, .. } => return at(1, format!("cannot read the feature file: {source}")),
        ParseFileError::Parsing { error: env, source, .. } => (env, source),
    };
    let text = source.to_string();
    let Some(caps) = PARSE_POSITION.captures(&text) else {
        return at(1, format!("not valid Gherkin: {text}"));
    };
    let number = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<usize>().ok()).unwrap_or(1);
    let (mut line, column) = (number(1), number(2));
    let mut expected: Vec<String> = QUOTED
        .captures_iter(caps.get(3).map_or("", |m| m.as_str()))
        .filter_map(|c| c.get(1).map(|m| expected_token(m.as_str())))
        .filter(|t| t != "_")
        .collect();
    expected.sort();
    expected.dedup();
    // The parser reports where it gave up, often the end of the file; the line at fault is found in the text.
    let content = std::fs::read_to_string(file).unwrap_or_default();
    let found = match env {
        Some(EnvError::UnknownKeyword(word)) => {
            let word = word.trim();
            content
                .lines()
                .take(line)
                .enumerate()
                .filter(|(_, l)| !word.is_empty() && l.trim_start().starts_with(word))
                .last()
                .map(|(i, _)| i + 1)
        }
        Some(EnvError::InconsistentCellCount(_)) => inconsistent_row(&content, line),
        _ => None,
    };
    let at_line = found.and_then(|l| content.lines().nth(l - 1)).map(str::trim).unwrap_or_default().to_owned();
    let mut message = match found {
        Some(l) => {
            line = l;
            "not valid Gherkin".to_owned()
        }
        None => format!("column {column}: not valid Gherkin"),
    };
    match env {
        Some(EnvError::InconsistentCellCount(_)) => {
            message.push_str(": this table row has a different number of cells from the table's first row");
            expected.clear();
        }
        Some(EnvError::UnknownKeyword(word)) if matches!(word.trim(), "\"\"\"" | "```") => {
            message.push_str(&format!(": the doc string opened here with {} is never closed", word.trim()));
            expected.clear();
        }
        Some(EnvError::UnknownKeyword(word)) if !at_line.is_empty() => {
            message.push_str(&format!(": unknown keyword `{}` in `{at_line}`", word.trim()));
        }
        Some(EnvError::UnknownKeyword(word)) => {
            message.push_str(&format!(": unknown keyword `{}`", word.trim()));
        }
        Some(other) => message.push_str(&format!(": {other}")),
        None => {}
    }
    expected.retain(|t| t != "unknown keyword");
    if !expected.is_empty() {
        message.push_str(&format!("; the parser expected {}", expected.join(" or ")));
    }
    at(line, message)
}

/// Parses one feature file; a parse failure names the file, the line and what the parser expected.
pub fn parse_feature(file: &Path) -> Result<cucumber::gherkin::Feature, RequirementsError> {
    cucumber::gherkin::Feature::parse_path(file, cucumber::gherkin::GherkinEnv::default())
        .map_err(|e| RequirementsError::Feature(parse_problem(file, &e)))
}

/// A feature's scenarios with the Rule each stands in (`None`: directly in the feature), in cucumber's order:
/// the feature's own, then each Rule's.
pub fn scenarios_in_order(
    feature: &cucumber::gherkin::Feature,
) -> impl Iterator<Item = (Option<&cucumber::gherkin::Rule>, &cucumber::gherkin::Scenario)> {
    feature
        .scenarios
        .iter()
        .map(|sc| (None, sc))
        .chain(feature.rules.iter().flat_map(|r| r.scenarios.iter().map(move |sc| (Some(r), sc))))
}

/// Parses every feature file under `dir` into its runnable scenarios.
pub fn scan_features(dir: &Path) -> Result<Vec<ScenarioInfo>, RequirementsError> {
    let mut scenarios = Vec::new();
    for file in feature_files(dir)? {
        let feature = parse_feature(&file)?;
        for (rule, sc) in scenarios_in_order(&feature) {
            // The order cucumber gives them: feature, rule, scenario, then the Examples'.
            let mut base_tags = feature.tags.clone();
            base_tags.extend(rule.iter().flat_map(|r| r.tags.iter().cloned()));
            base_tags.extend(sc.tags.iter().cloned());
            if sc.examples.is_empty() {
                scenarios.push(ScenarioInfo {
                    feature: feature.name.clone(),
                    file: file.clone(),
                    name: sc.name.clone(),
                    line: sc.position.line,
                    tags: base_tags,
                });
                continue;
            }
            for ex in &sc.examples {
                let mut tags = base_tags.clone();
                tags.extend(ex.tags.iter().cloned());
                let rows = ex.table.as_ref().map(|t| t.rows.iter().skip(1).count()).unwrap_or(0);
                for i in 0..rows {
                    // The same numbering cucumber gives an expanded row: the Examples line + row + 2.
                    scenarios.push(ScenarioInfo {
                        feature: feature.name.clone(),
                        file: file.clone(),
                        name: sc.name.clone(),
                        line: ex.position.line + i + 2,
                        tags: tags.clone(),
                    });
                }
            }
        }
    }
    Ok(scenarios)
}

/// Every reason the run must not start: untagged scenarios, unknown ids, uncovered requirements.
pub fn check(catalogue: &Catalogue, scenarios: &[ScenarioInfo]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for sc in scenarios {
        let ids = sc.requirement_ids();
        if ids.is_empty() {
            problems.push(Problem {
                file: sc.file.clone(),
                line: sc.line,
                message: format!("scenario '{}' carries no requirement tag (e.g. @SCRA-RET-001)", sc.name),
            });
        }
        if sc.has_tag(STATUS_ONLY_TAG)
            && !sc.requirement_ids().iter().any(|id| catalogue.get(id).is_some_and(|r| r.status_only.is_some()))
        {
            problems.push(Problem {
                file: sc.file.clone(),
                line: sc.line,
                message: format!(
                    "scenario '{}' is tagged @{STATUS_ONLY_TAG} but none of its requirements says why a status is all \
                     that can be observed (a `status_only` reason in {})",
                    sc.name,
                    catalogue.path.display()
                ),
            });
        }
        for id in ids {
            if catalogue.get(id).is_none() {
                problems.push(Problem {
                    file: sc.file.clone(),
                    line: sc.line,
                    message: format!(
                        "scenario '{}' names unknown requirement @{id}; add it to {} or fix the tag",
                        sc.name,
                        catalogue.path.display()
                    ),
                });
            }
        }
    }
    for r in &catalogue.requirements {
        if !scenarios.iter().any(|sc| sc.has_tag(&r.id)) {
            problems.push(Problem {
                file: catalogue.path.clone(),
                line: 1,
                message: format!("requirement {} ('{}') is proved by no scenario", r.id, r.title),
            });
        }
    }
    // One problem per place is enough: an Outline with 20 rows and no tag says it once.
    problems.dedup_by(|a, b| a.file == b.file && a.message == b.message);
    problems
}

/// Requirement → the scenarios that prove it, in catalogue order.
pub fn matrix<'a>(
    catalogue: &'a Catalogue,
    scenarios: &'a [ScenarioInfo],
) -> Vec<(&'a Requirement, Vec<&'a ScenarioInfo>)> {
    catalogue.requirements.iter().map(|r| (r, scenarios.iter().filter(|sc| sc.has_tag(&r.id)).collect())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        let text = r#"
[[requirement]]
id = "SCRA-RET-001"
title = "t"
behaviour = "b"
source = "s"

[[requirement]]
id = "SCRA-ALR-103"
title = "alert"
behaviour = "b"
source = "s"
scal = "MSCA-SCR-103"
"#;
        Catalogue::parse(Path::new("requirements.toml"), text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn scenario(line: usize, tags: &[&str]) -> ScenarioInfo {
        ScenarioInfo {
            feature: "F".into(),
            file: "features/x.feature".into(),
            name: format!("S{line}"),
            line,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    #[test]
    fn requirements_proved_only_by_mock_scenarios_are_marked() {
        let mut cat = catalogue();
        let scs = [
            scenario(1, &["SCRA-RET-001", "mock-only"]),
            scenario(2, &["SCRA-RET-001", "open-access"]),
            scenario(3, &["SCRA-ALR-103", "mock-only"]),
            scenario(4, &["SCRA-ALR-103"]),
        ];
        cat.mark_mock_only(&scs);
        assert!(cat.requirements[0].mock_only, "RET-001 runs only on the mock");
        assert!(!cat.requirements[1].mock_only, "ALR-103 has a portable scenario");
        assert!(!proved_only_on_mock("SCRA-XXX-1", &scs), "a requirement nothing proves is not 'mock-only'");
        cat.mark_mock_only(&scs[1..]);
        assert!(cat.requirements[0].mock_only && !cat.requirements[1].mock_only);
    }

    #[test]
    fn a_status_only_scenario_needs_a_reason_in_the_catalogue() {
        let mut cat = catalogue();
        let scs = [scenario(1, &["SCRA-RET-001", "status-only"]), scenario(2, &["SCRA-ALR-103"])];
        let problems = check(&cat, &scs);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].to_string().starts_with("features/x.feature:1:"), "{}", problems[0]);
        assert!(problems[0].message.contains("status_only"), "{}", problems[0]);
        cat.requirements[0].status_only = Some("no read operation".into());
        assert!(check(&cat, &scs).is_empty());
        let text = "[[requirement]]\nid=\"A-1\"\ntitle=\"\"\nbehaviour=\"\"\nsource=\"\"\nstatus_only=\"why\"\n";
        let parsed = Catalogue::parse(Path::new("r.toml"), text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.requirements[0].status_only.as_deref(), Some("why"));
        let smuggled = "[[requirement]]\nid=\"A-1\"\ntitle=\"\"\nbehaviour=\"\"\nsource=\"\"\nmock_only=true\n";
        assert!(Catalogue::parse(Path::new("r.toml"), smuggled).is_err(), "mock_only is computed, never declared");
    }

    #[test]
    fn requirement_tags_are_told_from_control_tags() {
        assert!(is_requirement_tag("SCRA-RET-001"));
        assert!(is_requirement_tag("MSCA-SCR-103"));
        assert!(!is_requirement_tag("mock-only"));
        assert!(!is_requirement_tag("sandbox"));
        assert!(!is_requirement_tag("SCRA"));
    }

    #[test]
    fn untagged_unknown_and_uncovered_are_reported_with_their_place() {
        let problems =
            check(&catalogue(), &[scenario(3, &["mock-only"]), scenario(9, &["SCRA-RET-001", "SCRA-XXX-9"])]);
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(text.iter().any(|t| t.starts_with("features/x.feature:3:") && t.contains("no requirement tag")));
        assert!(text.iter().any(|t| t.starts_with("features/x.feature:9:") && t.contains("@SCRA-XXX-9")));
        assert!(text.iter().any(|t| t.contains("SCRA-ALR-103") && t.contains("proved by no scenario")));
        assert_eq!(problems.len(), 3);
    }

    #[test]
    fn a_clean_suite_has_no_problems_and_a_full_matrix() {
        let cat = catalogue();
        let scs = [scenario(1, &["SCRA-RET-001"]), scenario(2, &["SCRA-ALR-103", "SCRA-RET-001"])];
        assert!(check(&cat, &scs).is_empty());
        let m = matrix(&cat, &scs);
        assert_eq!(m[0].1.len(), 2);
        assert_eq!(m[1].1.len(), 1);
    }

    #[test]
    fn a_malformed_feature_is_refused_at_the_line_the_parser_stopped() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("bad.feature");
        let text = "Feature: F\n  @SCRA-RET-001\n  Scenario: s\n    Given a step\n    | a | b |\n    | c |\n";
        std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
        let e = scan_features(dir.path()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.starts_with(&format!("{}:", file.display())), "{e}");
        assert!(e.starts_with(&format!("{}:6:", file.display())), "the row at fault: {e}");
        assert!(e.contains("not valid Gherkin") && e.contains("different number of cells"), "{e}");
        std::fs::write(&file, "Feature: F\n  Scenario: s\n    Given a step\n  Nonsense here\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let e = scan_features(dir.path()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.starts_with(&format!("{}:4:", file.display())) && e.contains("unknown keyword `Nons"), "{e}");
        assert_eq!(expected_token(r#"\"|\""#), "`|`");
        assert_eq!(expected_token(r#"\"\\\"\\\"\\\"\""#), "`\"\"\"`");
    }

    #[test]
    fn duplicate_and_malformed_ids_are_refused() {
        let dup = "[[requirement]]\nid=\"A-1\"\ntitle=\"\"\nbehaviour=\"\"\nsource=\"\"\n[[requirement]]\nid=\"A-1\"\ntitle=\"\"\nbehaviour=\"\"\nsource=\"\"\n";
        assert!(Catalogue::parse(Path::new("r.toml"), dup).is_err());
        let bad = "[[requirement]]\nid=\"lower-1\"\ntitle=\"\"\nbehaviour=\"\"\nsource=\"\"\n";
        assert!(Catalogue::parse(Path::new("r.toml"), bad).is_err());
    }
}
