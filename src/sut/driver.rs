//! Running one action through the SUT's driver: a command per action (argv template, no shell), an HTTP hook,
//! or a tester at the terminal (attended). Every path ends within `action_timeout` with an [`ActionReport`]:
//! an outcome, or an [`ActionFailure`] saying why there is none. Nothing secret reaches the report: the
//! id_token goes to the SUT through environment variables (or the hook's `env`), and everything the SUT printed
//! is redacted (secret JSON members and form fields, anything shaped like a JWT, and the id_token itself).

use std::fmt;
use std::io::Write;
use std::sync::{Arc, LazyLock, Mutex as StdMutex};
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

use super::config::{render, DriverKind};
use super::{ActionFailure, ActionReport, ActionRequest, AttendedRecord, SutConfig, SutOutcome};
use crate::secret::{redact_body, REDACTED};

/// How much of stdout and of stderr is kept: the last bytes, where the outcome is (the rest is read and dropped,
/// so the SUT never blocks on a pipe).
pub const OUTPUT_CAP: usize = 1024 * 1024;

/// How many characters of stdout/stderr/a hook's body an excerpt keeps.
pub const EXCERPT_CHARS: usize = 2000;

/// The http driver's connect timeout (capped by `action_timeout`).
pub const HOOK_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The attended driver's terminal: where instructions are written and confirmations read. Cloning shares it;
/// one action holds it at a time.
#[derive(Clone)]
pub struct Attended {
    inner: Arc<tokio::sync::Mutex<AttendedIo>>,
}

struct AttendedIo {
    input: Box<dyn AsyncBufRead + Send + Unpin>,
    output: Box<dyn Write + Send>,
}

impl fmt::Debug for Attended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Attended")
    }
}

impl Attended {
    /// A terminal reading `input` and writing to `output` (tests inject both).
    pub fn new(input: impl AsyncBufRead + Send + Unpin + 'static, output: impl Write + Send + 'static) -> Self {
        Self {
            inner: Arc::new(tokio::sync::Mutex::new(AttendedIo { input: Box::new(input), output: Box::new(output) })),
        }
    }

    /// The process's terminal: stdin, and stderr (stdout stays for results). One shared handle, so that input
    /// buffered for one action is not lost to the next.
    pub fn stdio() -> Self {
        static STDIO: LazyLock<Attended> =
            LazyLock::new(|| Attended::new(BufReader::new(tokio::io::stdin()), std::io::stderr()));
        STDIO.clone()
    }
}

/// Runs `request` through `config`'s driver; never panics, never hangs past `action_timeout`.
pub async fn run_action(config: &SutConfig, request: &ActionRequest) -> ActionReport {
    let started = now_rfc3339();
    let start = Instant::now();
    let mut report = ActionReport {
        action: request.action,
        params: request.params.clone(),
        command: Vec::new(),
        started,
        duration_ms: 0,
        exit_code: None,
        stdout_excerpt: String::new(),
        stderr_excerpt: String::new(),
        outcome: None,
        failure: None,
        attended: None,
    };
    let redactor = Redactor::new(request.env.id_token.expose());
    match config.driver {
        DriverKind::Command => run_command(config, request, &redactor, &mut report).await,
        DriverKind::Http => run_http(config, request, &redactor, &mut report).await,
        DriverKind::Attended => run_attended(config, request, &redactor, &mut report).await,
    }
    report.duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}

fn now_rfc3339() -> String {
    chrono::DateTime::<chrono::Utc>::from(crate::clock::wall_time())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn seconds(d: Duration) -> u64 {
    // The message says "within N s": round a fraction up, so 0.3 s reads as 1 s rather than 0 s.
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Removes what must not be kept from what the SUT printed.
pub(crate) struct Redactor {
    id_token: String,
}

static JWT_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?")
        .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});

impl Redactor {
    pub(crate) fn new(id_token: &str) -> Self {
        Self { id_token: id_token.trim().to_owned() }
    }

    /// The exact id_token and anything shaped like a JWT replaced, without touching the rest.
    fn scrub(&self, text: &str) -> String {
        let text =
            if self.id_token.is_empty() { text.to_owned() } else { text.replace(self.id_token.as_str(), REDACTED) };
        JWT_LIKE.replace_all(&text, REDACTED).into_owned()
    }

    /// At most [`EXCERPT_CHARS`] characters of `text` (the last one `…` when cut), secrets redacted.
    pub(crate) fn excerpt(&self, text: &str) -> String {
        let redacted = self.scrub(&redact_body(&self.scrub(text)));
        if redacted.chars().count() <= EXCERPT_CHARS {
            return redacted;
        }
        let head: String = redacted.chars().take(EXCERPT_CHARS - 1).collect();
        format!("{head}…")
    }

    /// A JSON value with secret members and the id_token removed from every string.
    fn value(&self, value: &Value) -> Value {
        let redacted = redact_body(&value.to_string());
        let mut value = serde_json::from_str(&redacted).unwrap_or_else(|_| value.clone());
        self.scrub_value(&mut value);
        value
    }

    fn scrub_value(&self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.scrub(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_value(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.scrub_value(v)),
            _ => {}
        }
    }
}

/// What the SUT's output says: an outcome, or why not.
enum Parsed {
    Outcome(SutOutcome),
    NoJson,
    Malformed(String),
    NoOutcome,
}

/// The SUT's answer: the last non-empty line that is a JSON object, else the whole text as one JSON value
/// (a pretty-printed object after log lines counts too), which must be an object with a string `outcome`.
fn parse_output(text: &str, redactor: &Redactor) -> Parsed {
    let as_object = |s: &str| match serde_json::from_str::<Value>(s.trim()) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    };
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let object = lines.iter().rev().find_map(|l| as_object(l)).or_else(|| as_object(text)).or_else(|| {
        // An object spread over the last lines, after log lines: from the last line that opens one.
        let starts = text.match_indices('\n').map(|(i, _)| i + 1);
        std::iter::once(0)
            .chain(starts)
            .filter(|i| text[*i..].trim_start().starts_with('{'))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .find_map(|i| as_object(&text[i..]))
    });
    let Some(object) = object else {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Parsed::NoJson;
        }
        let looks_like_json =
            trimmed.starts_with('{') || trimmed.starts_with('[') || lines.iter().any(|l| l.starts_with('{'));
        if !looks_like_json {
            return Parsed::NoJson;
        }
        let reason = match serde_json::from_str::<Value>(trimmed) {
            Ok(other) => format!("a JSON {} where an object was expected", json_type(&other)),
            Err(_) => {
                let candidate = lines.iter().rev().find(|l| l.starts_with('{')).copied().unwrap_or(trimmed);
                match serde_json::from_str::<Value>(candidate) {
                    Err(e) => e.to_string(),
                    Ok(other) => format!("a JSON {} where an object was expected", json_type(&other)),
                }
            }
        };
        return Parsed::Malformed(reason);
    };
    outcome_of(object, redactor)
}

fn outcome_of(object: Map<String, Value>, redactor: &Redactor) -> Parsed {
    let Some(outcome) = object.get("outcome").and_then(Value::as_str) else { return Parsed::NoOutcome };
    let string = |name: &str| object.get(name).and_then(Value::as_str).map(|s| redactor.scrub(s));
    Parsed::Outcome(SutOutcome {
        outcome: redactor.scrub(outcome),
        scr_id: string("scr_id"),
        message: string("message"),
        raw: redactor.value(&Value::Object(object.clone())),
    })
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

// ---------------------------------------------------------------------------------------------------------
// command

async fn run_command(config: &SutConfig, request: &ActionRequest, redactor: &Redactor, report: &mut ActionReport) {
    let action = request.action.as_str().to_owned();
    let Some(template) = config.actions.get(&request.action) else {
        report.failure = Some(ActionFailure::NotConfigured { action, file: config.describe_file() });
        return;
    };
    let mut argv = Vec::with_capacity(template.len());
    for element in template {
        match render(element, &request.params) {
            Ok(rendered) => argv.push(rendered),
            Err(parameter) => {
                report.command = template.clone();
                report.failure = Some(ActionFailure::MissingParameter { action, parameter });
                return;
            }
        }
    }
    report.command = argv.clone();
    let Some((program, args)) = argv.split_first() else {
        report.failure = Some(ActionFailure::NotConfigured { action, file: config.describe_file() });
        return;
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .envs(request.env.variables(request.action));
    if let Some(dir) = config.work_dir() {
        command.current_dir(dir);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            report.failure =
                Some(ActionFailure::NotExecutable { action, program: program.clone(), reason: e.to_string() });
            return;
        }
    };
    let mut stdout = Captured::spawn(child.stdout.take());
    let mut stderr = Captured::spawn(child.stderr.take());
    let deadline = tokio::time::Instant::now() + config.action_timeout;
    let status = match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(Ok(status)) => Some(status),
        Ok(Err(e)) => {
            // Waiting itself failed (rare): stop the process and say so.
            let _ = child.start_kill();
            let _ = child.wait().await;
            stdout.stop();
            stderr.stop();
            report.failure = Some(ActionFailure::NotExecutable {
                action,
                program: program.clone(),
                reason: format!("waiting for it failed: {e}"),
            });
            return;
        }
        Err(_) => None,
    };
    let Some(status) = status else {
        // Too slow: kill it and reap it, so nothing is left running.
        let _ = child.start_kill();
        let _ = child.wait().await;
        stdout.stop();
        stderr.stop();
        report.stdout_excerpt = redactor.excerpt(&stdout.text());
        report.stderr_excerpt = redactor.excerpt(&stderr.text());
        report.failure = Some(ActionFailure::TimedOut { action, seconds: seconds(config.action_timeout) });
        return;
    };
    // The process ended; its output ends with it unless something it started still holds the pipes.
    let _ = tokio::time::timeout_at(deadline, async {
        stdout.finished().await;
        stderr.finished().await;
    })
    .await;
    stdout.stop();
    stderr.stop();
    let (out, err) = (stdout.text(), stderr.text());
    report.exit_code = status.code();
    report.stdout_excerpt = redactor.excerpt(&out);
    report.stderr_excerpt = redactor.excerpt(&err);
    let status_text = match status.code() {
        Some(code) => code.to_string(),
        None => format!("{status} (killed by a signal)"),
    };
    match parse_output(&out, redactor) {
        Parsed::Outcome(outcome) => report.outcome = Some(outcome),
        _ if !status.success() => {
            report.failure =
                Some(ActionFailure::Failed { action, status: status_text, stderr: report.stderr_excerpt.clone() })
        }
        Parsed::NoJson => {
            report.failure =
                Some(ActionFailure::NoJson { action, status: status_text, stdout: report.stdout_excerpt.clone() })
        }
        Parsed::Malformed(reason) => {
            report.failure = Some(ActionFailure::MalformedJson {
                action,
                reason: redactor.scrub(&reason),
                stdout: report.stdout_excerpt.clone(),
            })
        }
        Parsed::NoOutcome => {
            report.failure = Some(ActionFailure::NoOutcome { action, stdout: report.stdout_excerpt.clone() })
        }
    }
}

/// A pipe read into a capped buffer by its own task.
struct Captured {
    buffer: Arc<StdMutex<Vec<u8>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Captured {
    fn spawn(pipe: Option<impl AsyncRead + Unpin + Send + 'static>) -> Self {
        let buffer = Arc::new(StdMutex::new(Vec::new()));
        let task = pipe.map(|mut pipe| {
            let buffer = Arc::clone(&buffer);
            tokio::spawn(async move {
                let mut chunk = [0u8; 8192];
                loop {
                    match pipe.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let mut kept = buffer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                            kept.extend_from_slice(&chunk[..n]);
                            // Keep the last OUTPUT_CAP bytes (the outcome is the last line), trimming in
                            // batches so that a chatty SUT costs linear time.
                            if kept.len() > 2 * OUTPUT_CAP {
                                let excess = kept.len() - OUTPUT_CAP;
                                kept.drain(..excess);
                            }
                        }
                    }
                }
            })
        });
        Self { buffer, task }
    }

    /// Waits until the pipe is closed.
    async fn finished(&mut self) {
        if let Some(task) = self.task.as_mut() {
            let _ = task.await;
            self.task = None;
        }
    }

    fn stop(&self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }

    /// What was kept: the last [`OUTPUT_CAP`] bytes.
    fn text(&self) -> String {
        let kept = self.buffer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let from = kept.len().saturating_sub(OUTPUT_CAP);
        String::from_utf8_lossy(&kept[from..]).into_owned()
    }
}

// ---------------------------------------------------------------------------------------------------------
// http

async fn run_http(config: &SutConfig, request: &ActionRequest, redactor: &Redactor, report: &mut ActionReport) {
    let action = request.action.as_str().to_owned();
    let Some(url) = config.http_url.clone() else {
        report.failure = Some(ActionFailure::HookUnreachable {
            action,
            url: String::new(),
            reason: format!("{} names no [http] url", config.describe_file()),
        });
        return;
    };
    report.command = vec!["POST".to_owned(), url.clone()];
    let env: Map<String, Value> =
        request.env.variables(request.action).into_iter().map(|(k, v)| (k.to_owned(), Value::String(v))).collect();
    let body = json!({ "action": request.action.as_str(), "params": request.params, "env": env });
    let options = crate::client::ClientOptions {
        connect_timeout: HOOK_CONNECT_TIMEOUT.min(config.action_timeout),
        read_timeout: config.action_timeout,
        deadline: config.action_timeout,
        max_response_bytes: OUTPUT_CAP as u64,
    };
    let client = match crate::client::http_client(&options) {
        Ok(c) => c,
        Err(e) => {
            report.failure = Some(ActionFailure::HookUnreachable { action, url, reason: e.to_string() });
            return;
        }
    };
    let sent = client.post(&url).header("content-type", "application/json").body(body.to_string());
    let response = match crate::client::fetch(sent, &options, &url).await {
        Ok(r) => r,
        Err(e) => {
            use crate::client::TransportFault as F;
            let reason = redactor.scrub(&e.to_string());
            report.failure = Some(match e.fault() {
                F::ReadTimeout => ActionFailure::TimedOut { action, seconds: seconds(config.action_timeout) },
                F::BodyTooLarge => ActionFailure::MalformedJson {
                    action,
                    reason: format!("the hook's answer is larger than {OUTPUT_CAP} bytes"),
                    stdout: String::new(),
                },
                _ => ActionFailure::HookUnreachable { action, url, reason },
            });
            return;
        }
    };
    let text = String::from_utf8_lossy(&response.body).into_owned();
    report.stdout_excerpt = redactor.excerpt(&text);
    if response.status != 200 {
        report.failure = Some(ActionFailure::HookStatus {
            action,
            url,
            status: response.status,
            body: report.stdout_excerpt.clone(),
        });
        return;
    }
    let parsed = match serde_json::from_str::<Value>(text.trim()) {
        Ok(Value::Object(object)) => outcome_of(object, redactor),
        Ok(other) => Parsed::Malformed(format!("a JSON {} where an object was expected", json_type(&other))),
        Err(_) if text.trim().is_empty() => Parsed::NoJson,
        Err(e) => Parsed::Malformed(e.to_string()),
    };
    match parsed {
        Parsed::Outcome(outcome) => report.outcome = Some(outcome),
        Parsed::NoJson => {
            report.failure =
                Some(ActionFailure::NoJson { action, status: "HTTP 200".into(), stdout: report.stdout_excerpt.clone() })
        }
        Parsed::Malformed(reason) => {
            report.failure =
                Some(ActionFailure::MalformedJson { action, reason, stdout: report.stdout_excerpt.clone() })
        }
        Parsed::NoOutcome => {
            report.failure = Some(ActionFailure::NoOutcome { action, stdout: report.stdout_excerpt.clone() })
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// attended

async fn run_attended(config: &SutConfig, request: &ActionRequest, redactor: &Redactor, report: &mut ActionReport) {
    let action = request.action.as_str().to_owned();
    report.command = vec!["attended".to_owned()];
    let terminal = config.attended_io.clone().unwrap_or_else(Attended::stdio);
    let mut io = terminal.inner.lock().await;
    let mut prompt = format!("\n=== {} — action `{}` ===\n{}\n", config.name, request.action, request.instruction);
    for name in request.action.parameters() {
        if let Some(value) = request.params.get(*name) {
            prompt.push_str(&format!("  {name}: {value}\n"));
        }
    }
    prompt.push_str(&format!(
        "Press Enter when done (or type the outcome as JSON, e.g. {{\"outcome\": \"displayed\"}}); \
         {} s to answer.\n> ",
        seconds(config.action_timeout)
    ));
    // The tester's terminal failing to take the prompt is not the SUT's failure: carry on and wait.
    let _ = io.output.write_all(prompt.as_bytes()).and_then(|()| io.output.flush());
    let mut record =
        AttendedRecord { instruction: request.instruction.clone(), confirmation: None, confirmed_at: None };
    let mut line = String::new();
    let read = tokio::time::timeout(config.action_timeout, io.input.read_line(&mut line)).await;
    let confirmed = matches!(read, Ok(Ok(n)) if n > 0);
    if !confirmed {
        report.attended = Some(record);
        report.failure = Some(ActionFailure::NotConfirmed { action, seconds: seconds(config.action_timeout) });
        return;
    }
    let typed = line.trim().to_owned();
    record.confirmation = Some(redactor.scrub(&typed));
    record.confirmed_at = Some(now_rfc3339());
    report.attended = Some(record);
    report.stdout_excerpt = redactor.excerpt(&typed);
    let parsed = match serde_json::from_str::<Value>(&typed) {
        Ok(Value::Object(object)) => outcome_of(object, redactor),
        _ => outcome_of(Map::from_iter([("outcome".to_owned(), json!("done"))]), redactor),
    };
    match parsed {
        Parsed::Outcome(outcome) => report.outcome = Some(outcome),
        _ => report.failure = Some(ActionFailure::NoOutcome { action, stdout: report.stdout_excerpt.clone() }),
    }
}
