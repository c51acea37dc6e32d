//! A cucumber writer that records each scenario's outcome (for the reports) and prints progress: one line
//! per finished scenario, failures with their step and reason, then the summary. It knows nothing of the
//! report formats; [`crate::report`] renders what it records.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use cucumber::{cli, event, parser, Event, Writer};
use serde::Serialize;

use super::context::RunContext;
use crate::client::Exchange;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
}

/// Whose a scenario's failure is: the product's (an expectation of the scenario not met: a JUnit `<failure>`), or
/// the transport's or the harness's (no answer came, a step is undefined, a hook broke: a JUnit `<error>`, which
/// says nothing of the product).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    Product,
    Transport,
    Harness,
}

/// How a step's failure message says the request got no HTTP answer (set by `ScrWorld` from the client's
/// [`crate::client::TransportFault`]): such a failure is the transport's, not the product's.
pub const TRANSPORT_MARK: &str = "transport fault: ";

impl FailureKind {
    /// The kind of a failing step's reason.
    pub fn of_reason(reason: &str) -> Self {
        if reason.starts_with(TRANSPORT_MARK) {
            Self::Transport
        } else {
            Self::Product
        }
    }

    /// Whether JUnit reports it as an `<error>` (the harness's or the transport's) rather than a `<failure>`.
    pub fn is_error(self) -> bool {
        self != Self::Product
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub keyword: String,
    pub text: String,
    pub status: Status,
    pub error: Option<String>,
}

/// What happened to one scenario (one Examples row of an Outline is one scenario).
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioRecord {
    pub feature: String,
    /// Feature file, relative to the working directory where possible.
    pub file: PathBuf,
    pub name: String,
    pub line: usize,
    pub tags: Vec<String>,
    pub status: Status,
    pub steps: Vec<StepRecord>,
    /// The failing step and why.
    pub failure: Option<(String, String)>,
    /// Whose the failure is (set with `failure`).
    pub failure_kind: Option<FailureKind>,
    /// Failures of earlier attempts (`--retry`), oldest first: the scenario appears once, its reruns recorded.
    pub earlier_failures: Vec<(String, String)>,
    #[serde(skip)]
    pub started: Option<SystemTime>,
    pub duration: Duration,
    pub attempts: usize,
    /// How many attempts `--retry` allows (1 without it).
    pub max_attempts: usize,
    pub exchanges: Vec<Exchange>,
    /// For each exchange, the index in `steps` of the step that sent it.
    pub exchange_steps: Vec<Option<usize>>,
    /// Client scenarios: what the system under test was asked, reported and sent.
    pub sut: Option<super::context::SutEvidence>,
    /// When each step started (wall time), to place exchanges in their steps.
    #[serde(skip)]
    step_starts: Vec<SystemTime>,
}

impl ScenarioRecord {
    /// The record of a scenario with no steps yet, passed, one attempt: for reporters and their tests, which
    /// fill in the rest.
    pub fn new(feature: &str, file: impl Into<PathBuf>, name: &str, line: usize, tags: Vec<String>) -> Self {
        Self {
            feature: feature.to_owned(),
            file: file.into(),
            name: name.to_owned(),
            line,
            tags,
            status: Status::Passed,
            steps: Vec::new(),
            failure: None,
            failure_kind: None,
            earlier_failures: Vec::new(),
            started: None,
            duration: Duration::ZERO,
            attempts: 1,
            max_attempts: 1,
            exchanges: Vec::new(),
            exchange_steps: Vec::new(),
            sut: None,
            step_starts: Vec::new(),
        }
    }

    /// Whether the scenario passed only after failing (a flaky scenario).
    pub fn is_flaky(&self) -> bool {
        self.status == Status::Passed && !self.earlier_failures.is_empty()
    }

    /// `file:line`
    pub fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }

    /// `attempt 2/3` when the run retries failed scenarios (`--retry`), else nothing.
    pub fn attempt_label(&self) -> Option<String> {
        (self.max_attempts > 1).then(|| format!("attempt {}/{}", self.attempts, self.max_attempts))
    }

    /// Records the first failure of the scenario (a later one does not replace it).
    fn fail(&mut self, step: String, reason: String, kind: FailureKind) {
        self.status = Status::Failed;
        if self.failure.is_none() {
            self.failure = Some((step, reason));
            self.failure_kind = Some(kind);
        }
    }

    /// The step of each exchange: the last step that started before it was sent.
    fn place_exchanges(&mut self) {
        self.exchange_steps = self
            .exchanges
            .iter()
            .map(|x| {
                let sent = x.sent_at?;
                self.step_starts.iter().rposition(|start| *start <= sent)
            })
            .collect();
    }
}

/// Where the recorder keeps its results; the caller holds a clone to read them after the run.
pub type Records = Arc<Mutex<Vec<ScenarioRecord>>>;

pub struct Recorder<Out: Write> {
    records: Records,
    in_progress: Vec<ScenarioRecord>,
    ctx: Arc<RunContext>,
    out: Out,
    /// On a terminal: a progress bar with counts (failures still printed above it); otherwise plain lines.
    progress: Option<indicatif::ProgressBar>,
    counts: (usize, usize),
}

impl<Out: Write> Recorder<Out> {
    pub fn new(records: Records, ctx: Arc<RunContext>, out: Out) -> Self {
        Self { records, in_progress: Vec::new(), ctx, out, progress: None, counts: (0, 0) }
    }

    /// Shows a progress bar of `total` scenarios instead of a line per passing scenario.
    pub fn with_progress_bar(mut self, total: usize) -> Self {
        let bar = indicatif::ProgressBar::new(total as u64);
        let style = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} scenarios  {msg}  [{elapsed}]");
        if let Ok(style) = style {
            bar.set_style(style);
        }
        self.progress = Some(bar);
        self
    }

    fn find(&mut self, file: &PathBuf, line: usize) -> Option<&mut ScenarioRecord> {
        self.in_progress.iter_mut().find(|r| &r.file == file && r.line == line)
    }

    fn on_scenario(
        &mut self,
        feature: &cucumber::gherkin::Feature,
        scenario: &cucumber::gherkin::Scenario,
        ev: event::RetryableScenario<super::world::ScrWorld>,
        at: SystemTime,
    ) {
        let file = relative(feature.path.clone().unwrap_or_default());
        let line = scenario.position.line;
        match ev.event {
            event::Scenario::Started => {
                let mut tags = feature.tags.clone();
                tags.extend(scenario.tags.iter().cloned());
                tags.dedup();
                let attempts = ev.retries.map_or(1, |r| r.current + 1);
                let max_attempts = ev.retries.map_or(1, |r| r.current + r.left + 1);
                self.in_progress.retain(|r| !(r.file == file && r.line == line));
                // A retry: the earlier attempt's record gives way, its failure kept as a rerun.
                let mut earlier_failures = Vec::new();
                if attempts > 1 {
                    let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Some(pos) = records.iter().position(|r| r.file == file && r.line == line) {
                        let previous = records.remove(pos);
                        earlier_failures = previous.earlier_failures;
                        earlier_failures.extend(previous.failure);
                    }
                }
                self.in_progress.push(ScenarioRecord {
                    feature: feature.name.clone(),
                    file,
                    name: scenario.name.clone(),
                    line,
                    tags,
                    status: Status::Passed,
                    steps: Vec::new(),
                    failure: None,
                    failure_kind: None,
                    earlier_failures,
                    started: Some(at),
                    duration: Duration::ZERO,
                    attempts,
                    max_attempts,
                    exchanges: Vec::new(),
                    exchange_steps: Vec::new(),
                    sut: None,
                    step_starts: Vec::new(),
                });
            }
            event::Scenario::Step(step, ev) | event::Scenario::Background(step, ev) => {
                let Some(record) = self.find(&file, line) else {
                    return;
                };
                let label = format!("{}{}", step.keyword, step.value);
                match ev {
                    event::Step::Started => record.step_starts.push(at),
                    event::Step::Passed(..) => record.steps.push(StepRecord {
                        keyword: step.keyword.trim().to_owned(),
                        text: step.value.clone(),
                        status: Status::Passed,
                        error: None,
                    }),
                    event::Step::Skipped => {
                        let reason = "step is not defined (see docs/STEPS.md for the vocabulary)".to_owned();
                        record.steps.push(StepRecord {
                            keyword: step.keyword.trim().to_owned(),
                            text: step.value.clone(),
                            status: Status::Skipped,
                            error: Some(reason.clone()),
                        });
                        record.fail(label, reason, FailureKind::Harness);
                    }
                    event::Step::Failed(_, _, _, err) => {
                        let reason = step_error(&err);
                        record.steps.push(StepRecord {
                            keyword: step.keyword.trim().to_owned(),
                            text: step.value.clone(),
                            status: Status::Failed,
                            error: Some(reason.clone()),
                        });
                        let kind = FailureKind::of_reason(&reason);
                        record.fail(label, reason, kind);
                    }
                }
            }
            event::Scenario::Hook(kind, event::Hook::Failed(_, info)) => {
                let Some(record) = self.find(&file, line) else {
                    return;
                };
                record.fail(format!("{kind:?} hook"), panic_text(&info), FailureKind::Harness);
            }
            event::Scenario::Finished => {
                let Some(pos) = self.in_progress.iter().position(|r| r.file == file && r.line == line) else {
                    return;
                };
                let mut record = self.in_progress.remove(pos);
                record.duration = record.started.and_then(|s| at.duration_since(s).ok()).unwrap_or_default();
                let key = (feature.path.clone().unwrap_or_default(), line);
                record.exchanges = self.ctx.exchanges.take(&key);
                record.sut = self.ctx.sut_log.take(&key);
                record.place_exchanges();
                self.print_scenario(&record);
                self.records.lock().unwrap_or_else(PoisonError::into_inner).push(record);
            }
            _ => {}
        }
    }

    fn print_scenario(&mut self, r: &ScenarioRecord) {
        // A failed attempt that will be retried is shown, but counted only once its last attempt ends.
        let final_attempt = r.status == Status::Passed || r.attempts >= r.max_attempts;
        match (final_attempt, r.status) {
            (false, _) => {}
            (true, Status::Passed) => self.counts.0 += 1,
            (true, _) => self.counts.1 += 1,
        }
        if let Some(bar) = &self.progress {
            if final_attempt {
                bar.inc(1);
            }
            bar.set_message(format!("{} passed, {} failed", self.counts.0, self.counts.1));
            if r.status != Status::Passed {
                let (step, reason) = r.failure.clone().unwrap_or_default();
                bar.println(format!(
                    "FAIL {}:{}  {}{}\n     step: {step}\n     {}",
                    r.file.display(),
                    r.line,
                    r.name,
                    attempt_suffix(r),
                    reason.replace('\n', "\n     ")
                ));
            }
            return;
        }
        let mark = match r.status {
            Status::Passed => "ok  ",
            Status::Failed => "FAIL",
            Status::Skipped => "skip",
        };
        let _ = writeln!(self.out, "{mark} {}:{}  {}{}", r.file.display(), r.line, r.name, attempt_suffix(r));
        if let Some((step, reason)) = &r.failure {
            let _ = writeln!(self.out, "     step: {step}");
            for line in reason.lines() {
                let _ = writeln!(self.out, "     {line}");
            }
        }
    }
}

/// `  (attempt 2/3)` on a progress or failure line when the run retries (`, retrying` when another comes).
fn attempt_suffix(r: &ScenarioRecord) -> String {
    match r.attempt_label() {
        Some(label) if r.status == Status::Failed && r.attempts < r.max_attempts => format!("  ({label}, retrying)"),
        Some(label) => format!("  ({label})"),
        None => String::new(),
    }
}

/// The path relative to the current directory, when it is below it.
pub fn relative_path(path: &std::path::Path) -> PathBuf {
    relative(path.to_owned())
}

fn relative(path: PathBuf) -> PathBuf {
    std::env::current_dir().ok().and_then(|cwd| path.strip_prefix(cwd).ok().map(PathBuf::from)).unwrap_or(path)
}

fn panic_text(info: &event::Info) -> String {
    if let Some(s) = info.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = info.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "the step panicked with a non-text payload".to_owned()
    }
}

fn step_error(err: &event::StepError) -> String {
    match err {
        event::StepError::Panic(info) => panic_text(info),
        other => other.to_string(),
    }
}

impl<Out: Write> Writer<super::world::ScrWorld> for Recorder<Out> {
    type Cli = cli::Empty;

    async fn handle_event(
        &mut self,
        event: parser::Result<Event<event::Cucumber<super::world::ScrWorld>>>,
        _: &Self::Cli,
    ) {
        let Ok(event) = event else {
            if let Err(e) = event {
                let _ = writeln!(self.out, "feature error: {e}");
            }
            return;
        };
        let (value, meta) = event.split();
        match value {
            event::Cucumber::Feature(f, event::Feature::Scenario(sc, ev)) => self.on_scenario(&f, &sc, ev, meta.at),
            event::Cucumber::Feature(f, event::Feature::Rule(_, event::Rule::Scenario(sc, ev))) => {
                self.on_scenario(&f, &sc, ev, meta.at)
            }
            event::Cucumber::Finished => {
                if let Some(bar) = &self.progress {
                    bar.finish();
                }
            }
            _ => {}
        }
    }
}

impl<Out: Write> cucumber::writer::NonTransforming for Recorder<Out> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_without_an_http_answer_is_the_transports() {
        let reason = format!("{TRANSPORT_MARK}http://127.0.0.1:9/_ping: the connection was reset");
        assert_eq!(FailureKind::of_reason(&reason), FailureKind::Transport);
        assert!(FailureKind::of_reason(&reason).is_error() && FailureKind::Harness.is_error());
        assert_eq!(FailureKind::of_reason("expected HTTP 404, got 200"), FailureKind::Product);
        assert!(!FailureKind::Product.is_error());
    }

    #[test]
    fn attempts_are_labelled_only_when_the_run_retries() {
        let mut r = ScenarioRecord::new("F", "f.feature", "s", 3, vec![]);
        assert_eq!((r.attempt_label(), attempt_suffix(&r)), (None, String::new()));
        r.max_attempts = 3;
        r.status = Status::Failed;
        assert_eq!(attempt_suffix(&r), "  (attempt 1/3, retrying)");
        r.attempts = 3;
        assert_eq!(attempt_suffix(&r), "  (attempt 3/3)");
    }
}
