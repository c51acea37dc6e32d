//! `report.html`: one self-contained page of a run's evidence (see `report::model::Evidence`), written for an
//! assurance reader rather than a developer.
//!
//! The page is a minijinja template, `templates/report.html` (with `templates/report.css`), embedded at compile
//! time and rendered with HTML auto-escaping: every value from the run is escaped by the engine ([`escape`]:
//! `&`, `<`, `>`, `"`, `'`); the only markup is the template's own. This module turns the evidence into plain
//! page data ([`Page`]: anchors, links, labels) and knows no HTML.
//!
//! The page loads nothing: the CSS is inline, there are no scripts, fonts or images, and a Content Security
//! Policy forbids any load. Its only links are fragment links within the page and relative links to the
//! bundle's own `exchanges/…` and `sut/…` files; the base URL of the target is shown as text.
//!
//! Machine-checkable: `<main id="evidence">` carries the counts (`data-total`, `data-passed`, `data-failed`,
//! `data-flaky`, `data-not-run`, `data-verdict`, and the requirement counts); every scenario of the run is one
//! `class="scenario"` element with `data-verdict` and an `id` derived from its location; every scenario that
//! did not run is one `class="not-run"` element with `data-kind`; every requirement row is a
//! `class="requirement"` element with `data-id` and `data-verdict`; every SCAL row a `class="scal-row"`; every
//! exchange's validation verdict a `class="validation"` element with `data-conformant`. A failed scenario's
//! exchange details (verdict, headers, bodies) are rendered once, in the failures section (`id="ex-…"`); its entry
//! in the list of every scenario keeps the exchange's row and links there (`class="detail-link"`).
//!
//! Client conformance (`summary.run.sut` set): a "System under test" section (`id="sut"`) names the SUT and
//! says what its verdicts prove, then goes requirement by requirement (`class="sut-requirement"`): each client
//! scenario proving it (`class="sut-scenario"`, `data-verdict`), the actions the SUT was asked to run with
//! what it reported (`class="sut-action"`), and the requests it sent (`class="sut-request"`, `data-seq`,
//! `data-status`) with their bodies in collapsed `<details>`.
//!
//! Citations: each requirement's `source` is shown as the catalogue words it, and the section "How to read the
//! sources" (`id="citations"`) says what each cited source is (the reference's sections by title, the NHS
//! repositories and their abbreviations), since a reader of the bundle has none of those files.

use std::collections::{HashMap, HashSet};

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde::Serialize;

use super::model::{
    Evidence, ExchangeDetail, ExchangeRef, NotRun, RunSettings, RunSummary, ScenarioView, SutActionView, SutFacts,
    SutRequestRef, SutView, Verdict,
};

/// Escapes text for HTML element content and for double- or single-quoted attribute values (the engine's
/// auto-escaping uses it for every value).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A fragment identifier made only of ASCII letters, digits, `-` and `_` (anything else becomes `-`).
fn sanitise_id(prefix: &str, raw: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + raw.len());
    out.push_str(prefix);
    for c in raw.chars() {
        out.push(if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' });
    }
    out
}

/// Characters percent-encoded in a relative link's path segment.
const SEGMENT: &AsciiSet =
    &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'<').add(b'>').add(b'?').add(b'`').add(b'{').add(b'}');

/// The `href` of an exchange file when it is a plain relative path inside the bundle; `None` for anything
/// that could point elsewhere (absolute paths, schemes, `..`, backslashes), which is then shown as text only.
fn relative_href(file: &str) -> Option<String> {
    let safe = !file.is_empty()
        && !file.starts_with('/')
        && !file.contains('\\')
        && !file.contains(':')
        && file.split('/').all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if !safe {
        return None;
    }
    let encoded: Vec<String> = file.split('/').map(|s| utf8_percent_encode(s, SEGMENT).to_string()).collect();
    Some(encoded.join("/"))
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed",
        Verdict::Unproved => "unproved",
    }
}

fn run_verdict(s: &RunSummary) -> (&'static str, &'static str, &'static str) {
    if s.run.interrupted {
        return ("interrupted", "INTERRUPTED", "⚠");
    }
    match s.verdict {
        Verdict::Passed => ("passed", "PASSED", "✔"),
        Verdict::Failed => ("failed", "FAILED", "✘"),
        Verdict::Unproved => ("unproved", "UNPROVED", "–"),
    }
}

fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{}.{:02} s", ms / 1000, (ms % 1000) / 10)
    } else {
        format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

fn is_flaky(s: &ScenarioView) -> bool {
    s.verdict == Verdict::Passed && (s.attempts > 1 || !s.earlier_failures.is_empty())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Anchors of the page: one per scenario (by index into `evidence.scenarios`), by location for links.
struct Anchors {
    scenario: Vec<String>,
    by_location: HashMap<String, String>,
    requirements: HashSet<String>,
}

impl Anchors {
    fn new(evidence: &Evidence) -> Self {
        let mut used: HashSet<String> = HashSet::new();
        let mut scenario = Vec::with_capacity(evidence.scenarios.len());
        let mut by_location = HashMap::new();
        for s in &evidence.scenarios {
            let base = sanitise_id("scenario-", &s.location);
            let mut id = base.clone();
            let mut n = 2;
            while !used.insert(id.clone()) {
                id = format!("{base}-{n}");
                n += 1;
            }
            by_location.entry(s.location.clone()).or_insert_with(|| id.clone());
            scenario.push(id);
        }
        let requirements = evidence.requirements.iter().map(|r| r.id.clone()).collect();
        Anchors { scenario, by_location, requirements }
    }

    fn failure_of(scenario_id: &str) -> String {
        format!("failure-{}", scenario_id.trim_start_matches("scenario-"))
    }

    /// The detail of a failed scenario's exchange `index` (from 0), shown once, in the failures section.
    fn exchange_of(scenario_id: &str, index: usize) -> String {
        format!("ex-{}-{}", scenario_id.trim_start_matches("scenario-"), index + 1)
    }

    /// A requirement id, linked to its row of the matrix when it has one.
    fn requirement_link(&self, id: &str) -> Link {
        Link {
            text: id.to_owned(),
            href: self.requirements.contains(id).then(|| format!("#{}", sanitise_id("req-", id))),
        }
    }

    fn requirement_links(&self, ids: &[String]) -> Vec<Link> {
        ids.iter().map(|id| self.requirement_link(id)).collect()
    }
}

/// Text, and where it leads (an in-page fragment or a relative file of the bundle) when it leads anywhere.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub text: String,
    pub href: Option<String>,
}

/// A file of the bundle: linked when its path is safe, else shown as text.
fn file_link(file: &str) -> Link {
    Link { text: file.to_owned(), href: relative_href(file) }
}

/// How much of one body the page shows; the whole body is in the scenario's `sut/…` or `exchanges/…` file.
const BODY_SHOWN: usize = 64 * 1024;

/// A body as the page shows it: at most [`BODY_SHOWN`] characters, and where the whole is when shortened.
#[derive(Debug, Clone, Serialize)]
pub struct Body {
    pub text: String,
    pub shortened_in: Option<Link>,
}

fn shown_body(body: &str, file: &str) -> Body {
    match body.char_indices().nth(BODY_SHOWN) {
        None => Body { text: body.to_owned(), shortened_in: None },
        Some((cut, _)) => Body { text: body[..cut].to_owned(), shortened_in: Some(file_link(file)) },
    }
}

fn header_lines(headers: &[(String, String)]) -> String {
    headers.iter().map(|(n, v)| format!("{n}: {v}")).collect::<Vec<_>>().join("\n")
}

/// What the page shows of the run: plain data, every text as recorded (the template escapes it).
#[derive(Serialize)]
pub struct Page<'a> {
    verdict_class: &'static str,
    verdict_text: &'static str,
    verdict_mark: &'static str,
    summary: &'a RunSummary,
    settings: &'a RunSettings,
    /// The features and catalogue files that differ from those shipped in this build (`None`: as shipped).
    features_drift: Option<String>,
    filtered: Option<String>,
    facts: Vec<(&'static str, String, bool)>,
    requirement_counts: [usize; 4],
    requirements: Vec<RequirementPage>,
    scal: Option<Vec<ScalPage>>,
    sut: Option<SutSection>,
    failures: Vec<ScenarioPage>,
    scenarios: Vec<ScenarioPage>,
    not_run: Vec<NotRunPage>,
    not_run_counts: Vec<(&'static str, usize)>,
    citations: Vec<Citation>,
    reference_sections: Vec<(&'static str, &'static str)>,
}

#[derive(Serialize)]
struct RequirementPage {
    id: String,
    anchor: String,
    scal: Option<String>,
    title: String,
    behaviour: String,
    /// The citation as the catalogue words it.
    source: String,
    verdict: &'static str,
    /// Whether only `@mock-only` scenarios prove it (another room's marker; `false` until the model has it).
    mock_only: bool,
    scenarios: Vec<(Link, String, &'static str)>,
}

#[derive(Serialize)]
struct ScalPage {
    row: String,
    title: String,
    requirements: Vec<Link>,
    verdict: &'static str,
}

#[derive(Serialize)]
struct ScenarioPage {
    anchor: String,
    failure_anchor: String,
    name: String,
    feature: String,
    location: String,
    verdict: &'static str,
    flaky: bool,
    duration: String,
    attempts: usize,
    requirements: Vec<Link>,
    tags: Vec<String>,
    failing: Option<(String, String)>,
    /// Said when the failure is not the product's (`transport`, `harness`).
    not_the_product: Option<String>,
    earlier: Vec<(String, String)>,
    steps: Vec<(String, String, String, Option<String>)>,
    summary_label: String,
    exchanges: Vec<ExchangePage>,
    /// Client scenarios: how many actions and requests, and the anchor of the full block.
    sut_summary: Option<(String, String, String)>,
}

#[derive(Serialize)]
struct ExchangePage {
    /// When it was sent, by the wall clock; `clock_at` is the run's clock beside it (virtual on a mock run).
    wall_at: String,
    clock_at: String,
    step: Option<String>,
    at_failure: bool,
    method: String,
    url: String,
    status: u16,
    request_id: Option<String>,
    correlation_id: Option<String>,
    file: Link,
    detail: Option<ExchangeDetailPage>,
    /// The `id` of the detail row (a failed scenario's exchange, in the failures section).
    detail_anchor: Option<String>,
    /// Where the detail is shown instead (a failed scenario's exchange, in the list of every scenario):
    /// `#ex-…`, the detail row in the failures section.
    detail_elsewhere: Option<String>,
}

#[derive(Serialize)]
struct ExchangeDetailPage {
    duration: String,
    request_headers: String,
    request_body: Option<Body>,
    response_headers: String,
    response_body: Option<Body>,
    validation: Option<super::model::ValidationView>,
}

#[derive(Serialize)]
struct NotRunPage {
    name: String,
    feature: String,
    location: String,
    kind: &'static str,
    reason: String,
    requirements: Vec<Link>,
}

#[derive(Serialize)]
struct SutSection {
    facts: SutFacts,
    statement: String,
    any_client: bool,
    requirements: Vec<SutRequirementPage>,
    unproving: Vec<SutScenarioPage>,
}

#[derive(Serialize)]
struct SutRequirementPage {
    id: String,
    verdict: &'static str,
    link: Link,
    title: String,
    scenarios: Vec<SutScenarioPage>,
}

#[derive(Serialize)]
struct SutScenarioPage {
    /// The anchor of the full block, set the first time the scenario appears.
    anchor: Option<String>,
    /// Later appearances: the anchor of the full block above.
    full_above: Option<String>,
    scenario_anchor: String,
    name: String,
    location: String,
    verdict: &'static str,
    failing: Option<(String, String)>,
    has_sut: bool,
    file: Option<Link>,
    actions: Vec<SutActionPage>,
    requests: Vec<SutRequestPage>,
    bodies: bool,
}

#[derive(Serialize)]
struct SutActionPage {
    action: String,
    outcome_word: String,
    params: Vec<(String, String)>,
    reported: Option<String>,
    failure: Option<String>,
    facts: Vec<String>,
    attended: Option<super::model::AttendedView>,
    stdout: String,
    stderr: String,
}

#[derive(Serialize)]
struct SutRequestPage {
    seq: u64,
    status: u16,
    fault: Option<String>,
    request: String,
    operation: String,
    request_id: Option<String>,
    headers: String,
    request_body: Option<Body>,
    request_body_truncated: bool,
    response_body: Option<Body>,
}

/// One kind of cited source, in words.
#[derive(Serialize)]
struct Citation {
    key: &'static str,
    meaning: &'static str,
}

/// What each kind of citation in the catalogue's `source` refers to (the reader of the bundle has none of the
/// files): the keys of the reference's §0, said in words.
const CITATIONS: &[(&str, &str)] = &[
    (
        "scr-api.md §N",
        "scr-assure's reference description of the SCR FHIR API and its surroundings, written from the NHS's \
         public sources and read with them; §N is its section N (titles below). Where it and the NHS source \
         disagree, the NHS source wins.",
    ),
    (
        "J/…",
        "a Java source file of the SCR backend (the Spring adaptor that is both the live backend and the \
         sandbox), in the NHS's public GitHub repository NHSDigital/summary-care-record-api, under \
         docker/service/src/main/java/uk/nhs/adaptors/scr/.",
    ),
    (
        "IT/…",
        "an integration-test fixture of that repository (a request or the expected response of an NHS test), \
         under docker/service/src/integration-test/resources/.",
    ),
    (
        "spec …",
        "the OpenAPI specification of the SCR FHIR API in that repository (specification/), the text the NHS \
         publishes as the API's documentation.",
    ),
    (
        "proxies/…, policies/…, mock-spine/…, specification/…",
        "files of that repository: the Apigee proxy and its policies (the live gateway's behaviour), the mock of \
         Spine used by the NHS tests, the specification.",
    ),
    (
        "IDS …",
        "the NHS API Platform's identity service (OAuth2), GitHub repository NHSDigital/identity-service-api: its \
         Apigee proxy, JavaScript validators and end-to-end tests (test_*.py).",
    ),
    (
        "…Test, …Tests, …UAT.test…, test_….py",
        "a named NHS test (JUnit or pytest) in the repository cited with it, asserting the behaviour.",
    ),
    (
        "derived",
        "not stated by the NHS source but derived from it (library wording, configuration read but not \
         executed); the requirement says what it was derived from.",
    ),
];

/// The sections of the reference (`scr-api.md`) a citation may name, by number and title.
const REFERENCE_SECTIONS: &[(&str, &str)] = &[
    ("§1", "Environments and base URLs"),
    ("§2", "Architecture: what answers which part of a request"),
    ("§3", "Cross-cutting request and response rules"),
    ("§3.1", "Headers a client sends"),
    ("§3.2", "Headers the Apigee proxy adds before the backend"),
    ("§3.3", "Response headers"),
    ("§3.4", "Generic error responses produced by the backend"),
    ("§3.5", "Errors produced by the live Apigee proxy"),
    ("§4.1", "GET /DocumentReference: latest SCR id and consent status"),
    ("§4.2", "GET /Bundle: read the SCR (GP Summary)"),
    ("§4.3", "POST /Bundle: upload the GP Summary"),
    ("§4.4", "POST /$setPermission: set the patient's SCR consent"),
    ("§4.5", "POST /AuditEvent: privacy alert"),
    ("§4.6", "Housekeeping endpoints"),
    ("§5", "Spine detected-issue codes and their HTTP statuses"),
    ("§6", "Sandbox canned behaviour"),
    ("§7", "Consent, permission to view and the alert flow"),
    ("§8", "Codes, identifiers and profiles"),
    ("§9", "What the NHS's own tests check"),
    ("§10", "NHS API Platform OAuth2 (identity service), §10.1–§10.8 its flows, lifetimes, scopes and role resolution"),
    ("§11", "CIS2 ID token and userinfo claims"),
    ("§12", "SCAL (Supplier Conformance Assessment List): what is public"),
];

fn failing_step(s: &ScenarioView) -> Option<(String, String)> {
    if let Some(f) = &s.failure {
        return Some(f.clone());
    }
    s.steps.iter().find(|st| st.status == "failed").map(|st| {
        (format!("{} {}", st.keyword.trim(), st.text), st.error.clone().unwrap_or_else(|| "no reason recorded".into()))
    })
}

fn exchange_page(x: &ExchangeRef, failing_step: Option<&str>) -> ExchangePage {
    let body = |b: &Option<String>| b.as_deref().filter(|b| !b.is_empty()).map(|b| shown_body(b, &x.file));
    ExchangePage {
        wall_at: x.wall_at.clone(),
        clock_at: x.clock_at.clone(),
        step: x.step.clone(),
        at_failure: matches!((failing_step, x.step.as_deref()), (Some(f), Some(s)) if f.trim() == s.trim()),
        method: x.method.clone(),
        url: x.url.clone(),
        status: x.status,
        request_id: x.request_id.clone(),
        correlation_id: x.correlation_id.clone(),
        file: file_link(&x.file),
        detail: x.detail.as_ref().map(|d: &ExchangeDetail| ExchangeDetailPage {
            duration: duration(d.duration_ms),
            request_headers: header_lines(&d.request_headers),
            request_body: body(&d.request_body),
            response_headers: header_lines(&d.response_headers),
            response_body: body(&d.response_body),
            validation: d.validation.clone(),
        }),
        detail_anchor: None,
        detail_elsewhere: None,
    }
}

fn scenario_page(s: &ScenarioView, anchor: &str, anchors: &Anchors, sut_anchor: Option<&String>) -> ScenarioPage {
    let failing = failing_step(s);
    let failing_for_exchanges = if s.verdict == Verdict::Failed { failing.as_ref().map(|f| f.0.clone()) } else { None };
    ScenarioPage {
        anchor: anchor.to_owned(),
        failure_anchor: Anchors::failure_of(anchor),
        name: s.name.clone(),
        feature: s.feature.clone(),
        location: s.location.clone(),
        verdict: verdict_word(s.verdict),
        flaky: is_flaky(s),
        duration: duration(s.duration_ms),
        attempts: s.attempts,
        requirements: anchors.requirement_links(&s.requirements),
        tags: s.tags.iter().map(|t| format!("@{}", t.trim_start_matches('@'))).collect(),
        failing,
        not_the_product: match s.failure_kind.as_deref() {
            Some("transport") => Some(
                "A transport fault: no HTTP answer came (timeout, reset, refused connection). It says nothing of the \
                 product's behaviour; the run could not observe it."
                    .to_owned(),
            ),
            Some("harness") => Some(
                "A harness error (an undefined step, a broken hook): it says nothing of the product's behaviour."
                    .to_owned(),
            ),
            _ => None,
        },
        earlier: s.earlier_failures.clone(),
        steps: s
            .steps
            .iter()
            .map(|st| (st.status.clone(), st.keyword.trim().to_owned(), st.text.clone(), st.error.clone()))
            .collect(),
        summary_label: format!(
            "{} and {}",
            plural(s.steps.len(), "step", "steps"),
            plural(s.exchanges.len(), "exchange", "exchanges")
        ),
        exchanges: s.exchanges.iter().map(|x| exchange_page(x, failing_for_exchanges.as_deref())).collect(),
        sut_summary: match (&s.sut, sut_anchor) {
            (Some(sut), Some(id)) => Some((
                plural(sut.actions.len(), "action", "actions"),
                plural(sut.requests.len(), "request", "requests"),
                id.clone(),
            )),
            _ => None,
        },
    }
}

/// Whether a scenario grades the system under test (`@client`).
fn is_client(s: &ScenarioView) -> bool {
    s.sut.is_some() || s.tags.iter().any(|t| t.trim_start_matches('@') == "client")
}

/// The plain statement of what the verdicts of the client scenarios prove.
fn sut_statement(f: &SutFacts) -> String {
    if f.reference_client {
        "These verdicts grade scr-assure's bundled reference client: they prove the grader, not a supplier's \
         product."
            .to_owned()
    } else {
        format!("These verdicts grade {} {} against the embedded mock playing the NHS services.", f.name, f.version)
    }
}

fn sut_action_page(a: &SutActionView) -> SutActionPage {
    let outcome_word = a.outcome.as_ref().and_then(|o| o.get("outcome")).and_then(|o| o.as_str());
    let mut facts = Vec::new();
    if !a.command.is_empty() {
        facts.push(format!("command {}", a.command.join(" ")));
    }
    if let Some(code) = a.exit_code {
        facts.push(format!("exit code {code}"));
    }
    facts.push(format!("{} from {}", duration(a.duration_ms), a.started));
    SutActionPage {
        action: a.action.clone(),
        outcome_word: outcome_word.unwrap_or(if a.failure.is_some() { "failure" } else { "" }).to_owned(),
        params: a.params.clone(),
        reported: a.outcome.as_ref().map(|o| serde_json::to_string(o).unwrap_or_default()),
        failure: a.failure.clone(),
        facts,
        attended: a.attended.clone(),
        stdout: a.stdout_excerpt.clone(),
        stderr: a.stderr_excerpt.clone(),
    }
}

fn sut_request_page(x: &SutRequestRef) -> SutRequestPage {
    SutRequestPage {
        seq: x.seq,
        status: x.status,
        fault: x.fault.clone(),
        request: format!("{} {}", x.method, x.target()),
        operation: x.operation.clone(),
        request_id: x.request_id.clone(),
        headers: header_lines(&x.headers),
        request_body: x.request_body.as_deref().map(|b| shown_body(b, &x.file)),
        request_body_truncated: x.request_body_truncated,
        response_body: x.response_body.as_deref().map(|b| shown_body(b, &x.file)),
    }
}

/// One client scenario under a requirement: the first time it appears in full (with an anchor and the
/// bodies), later only its actions and request lines with a link to the full block.
fn sut_scenario_page(
    evidence: &Evidence,
    i: usize,
    anchors: &Anchors,
    full: &mut HashMap<usize, String>,
) -> SutScenarioPage {
    let s = &evidence.scenarios[i];
    let sid = &anchors.scenario[i];
    let first = s.sut.is_some() && !full.contains_key(&i);
    let id = format!("sut-{}", sid.trim_start_matches("scenario-"));
    let full_above = if first { None } else { full.get(&i).cloned() };
    if first {
        full.insert(i, id.clone());
    }
    let sut: Option<&SutView> = s.sut.as_ref();
    SutScenarioPage {
        anchor: first.then_some(id),
        full_above,
        scenario_anchor: sid.clone(),
        name: s.name.clone(),
        location: s.location.clone(),
        verdict: verdict_word(s.verdict),
        failing: if s.verdict == Verdict::Failed { failing_step(s) } else { None },
        has_sut: sut.is_some(),
        file: sut.filter(|_| first).map(|v| file_link(&v.file)),
        actions: sut.map(|v| v.actions.iter().map(sut_action_page).collect()).unwrap_or_default(),
        requests: sut.map(|v| v.requests.iter().map(sut_request_page).collect()).unwrap_or_default(),
        bodies: first,
    }
}

/// The "System under test" section; also returns, by scenario index, the anchor of each scenario's full block.
fn sut_section(evidence: &Evidence, facts: &SutFacts, anchors: &Anchors) -> (SutSection, HashMap<usize, String>) {
    let client: Vec<usize> = (0..evidence.scenarios.len()).filter(|&i| is_client(&evidence.scenarios[i])).collect();
    let mut full: HashMap<usize, String> = HashMap::new();
    let mut requirements = Vec::new();
    for r in &evidence.requirements {
        let proving: Vec<usize> =
            client.iter().copied().filter(|&i| evidence.scenarios[i].requirements.contains(&r.id)).collect();
        if proving.is_empty() {
            continue;
        }
        let scenarios = proving.into_iter().map(|i| sut_scenario_page(evidence, i, anchors, &mut full)).collect();
        requirements.push(SutRequirementPage {
            id: r.id.clone(),
            verdict: verdict_word(r.verdict),
            link: anchors.requirement_link(&r.id),
            title: r.title.clone(),
            scenarios,
        });
    }
    let unproving: Vec<usize> = client
        .iter()
        .copied()
        .filter(|&i| {
            let s = &evidence.scenarios[i];
            !s.requirements.iter().any(|id| evidence.requirements.iter().any(|r| &r.id == id))
        })
        .collect();
    let unproving = unproving.into_iter().map(|i| sut_scenario_page(evidence, i, anchors, &mut full)).collect();
    let section = SutSection {
        facts: facts.clone(),
        statement: sut_statement(facts),
        any_client: !client.is_empty(),
        requirements,
        unproving,
    };
    (section, full)
}

fn not_run_page(n: &NotRun, anchors: &Anchors) -> NotRunPage {
    NotRunPage {
        name: n.name.clone(),
        feature: n.feature.clone(),
        location: n.location(),
        kind: n.kind.as_str(),
        reason: n.reason.clone(),
        requirements: anchors.requirement_links(&n.requirements()),
    }
}

/// The page data of the evidence.
pub fn page(evidence: &Evidence) -> Page<'_> {
    let anchors = Anchors::new(evidence);
    let s = &evidence.summary;
    let (verdict_class, verdict_text, verdict_mark) = run_verdict(s);
    let req_count = |v: Verdict| evidence.requirements.iter().filter(|r| r.verdict == v).count();
    let (sut, sut_anchors) = match &s.run.sut {
        Some(facts) => {
            let (section, anchors) = sut_section(evidence, facts, &anchors);
            (Some(section), anchors)
        }
        None => (None, HashMap::new()),
    };
    // Failed scenarios first, whatever order the evidence came in (it should already be so).
    let mut order: Vec<usize> = (0..evidence.scenarios.len()).collect();
    order.sort_by_key(|&i| evidence.scenarios[i].verdict != Verdict::Failed);
    // A failed scenario's exchanges are shown in full (validation, headers, bodies) once, in the failures
    // section; its entry in the list of every scenario keeps each exchange's row and links to the detail.
    let scenarios: Vec<ScenarioPage> = order
        .iter()
        .map(|&i| {
            let mut page = scenario_page(&evidence.scenarios[i], &anchors.scenario[i], &anchors, sut_anchors.get(&i));
            if evidence.scenarios[i].verdict == Verdict::Failed {
                for (n, x) in page.exchanges.iter_mut().enumerate() {
                    if x.detail.take().is_some() {
                        x.detail_elsewhere = Some(format!("#{}", Anchors::exchange_of(&anchors.scenario[i], n)));
                    }
                }
            }
            page
        })
        .collect();
    let failures = order
        .iter()
        .filter(|&&i| evidence.scenarios[i].verdict == Verdict::Failed)
        .map(|&i| {
            let mut page = scenario_page(&evidence.scenarios[i], &anchors.scenario[i], &anchors, None);
            for (n, x) in page.exchanges.iter_mut().enumerate() {
                x.detail_anchor = x.detail.is_some().then(|| Anchors::exchange_of(&anchors.scenario[i], n));
            }
            page
        })
        .collect();
    let mut facts = vec![("Target", s.run.target.clone(), false), ("Base URL", s.run.base_url.clone(), true)];
    if let Some(ods) = &s.run.ods_code {
        facts.push(("ODS code", ods.clone(), false));
    }
    if let Some(asid) = &s.run.asid {
        facts.push(("ASID", asid.clone(), false));
    }
    facts.extend([
        ("Tool version", format!("scr-assure {}", s.tool_version), false),
        ("Git commit", s.git_commit.clone().unwrap_or_else(|| "not known".into()), true),
        ("Started (UTC)", s.run.started_at.clone(), false),
        ("Finished (UTC)", s.run.finished_at.clone(), false),
        ("Run id", s.run.run_id.clone(), true),
    ]);
    let mut not_run_counts: Vec<(&'static str, usize)> = Vec::new();
    for n in &s.run.not_run {
        match not_run_counts.iter_mut().find(|(k, _)| *k == n.kind.as_str()) {
            Some((_, c)) => *c += 1,
            None => not_run_counts.push((n.kind.as_str(), 1)),
        }
    }
    Page {
        verdict_class,
        verdict_text,
        verdict_mark,
        summary: s,
        settings: &s.run.settings,
        features_drift: (!s.run.settings.features_drift.is_empty()).then(|| s.run.settings.features_drift.to_string()),
        filtered: s.run.settings.filtered(),
        facts,
        requirement_counts: [
            evidence.requirements.len(),
            req_count(Verdict::Passed),
            req_count(Verdict::Failed),
            req_count(Verdict::Unproved),
        ],
        requirements: evidence
            .requirements
            .iter()
            .map(|r| RequirementPage {
                id: r.id.clone(),
                anchor: sanitise_id("req-", &r.id),
                scal: r.scal.clone(),
                title: r.title.clone(),
                behaviour: r.behaviour.clone(),
                source: r.source.clone(),
                verdict: verdict_word(r.verdict),
                mock_only: r.mock_only,
                scenarios: r
                    .scenarios
                    .iter()
                    .map(|(location, name, v)| {
                        let href = anchors.by_location.get(location).map(|id| format!("#{id}"));
                        (Link { text: name.clone(), href }, location.clone(), verdict_word(*v))
                    })
                    .collect(),
            })
            .collect(),
        scal: evidence.scal_rows.as_ref().map(|rows| {
            rows.iter()
                .map(|r| ScalPage {
                    row: r.row.clone(),
                    title: r.title.clone(),
                    requirements: anchors.requirement_links(&r.requirements),
                    verdict: verdict_word(r.verdict),
                })
                .collect()
        }),
        sut,
        failures,
        scenarios,
        not_run: s.run.not_run.iter().map(|n| not_run_page(n, &anchors)).collect(),
        not_run_counts,
        citations: CITATIONS.iter().map(|(key, meaning)| Citation { key, meaning }).collect(),
        reference_sections: REFERENCE_SECTIONS.to_vec(),
    }
}

/// The template engine with the page's templates (embedded at compile time) and HTML auto-escaping through
/// [`escape`].
fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_formatter(|out, state, value| {
        if matches!(state.auto_escape(), minijinja::AutoEscape::Html) && !value.is_safe() {
            if value.is_undefined() || value.is_none() {
                return Ok(());
            }
            let text = match value.kind() {
                // Attributes such as `data-conformant` read `true` / `false`, as the data says.
                minijinja::value::ValueKind::Bool => value.is_true().to_string(),
                _ => value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string()),
            };
            return out.write_str(&escape(&text)).map_err(minijinja::Error::from);
        }
        minijinja::escape_formatter(out, state, value)
    });
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            // A broken template is a build defect; the page then says so (render_checked returns the error).
            tracing::error!("template {name}: {e}");
        }
    }
    env
}

/// The page's templates, by name (the `.html` one auto-escapes).
const TEMPLATES: &[(&str, &str)] = &[
    ("report.html", include_str!("../../templates/report.html")),
    ("report.css", include_str!("../../templates/report.css")),
];

/// Renders the page, or says why it could not.
pub fn render_checked(evidence: &Evidence) -> Result<String, super::ReportError> {
    let env = environment();
    let err = |e: minijinja::Error| super::ReportError::Render { what: "report.html", message: format!("{e:#}") };
    env.get_template("report.html").map_err(err)?.render(page(evidence)).map_err(err)
}

/// Renders the page. The templates are part of the program (a test renders them), so a failure is a defect of
/// the build: the page then says so in plain text rather than missing from the bundle.
pub fn render(evidence: &Evidence) -> String {
    render_checked(evidence).unwrap_or_else(|e| {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>report.html could not be \
             rendered</title></head><body><p>{}</p></body></html>\n",
            escape(&e.to_string())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{ExchangeRef, RequirementRow, RunFacts, RunSummary, ScalRow, ScenarioView, StepView};

    fn scenario(feature: &str, name: &str, location: &str, verdict: Verdict, attempts: usize) -> ScenarioView {
        let failed = verdict == Verdict::Failed;
        ScenarioView {
            feature: feature.into(),
            name: name.into(),
            location: location.into(),
            verdict,
            duration_ms: 42,
            attempts,
            requirements: vec!["SCRA-ALR-001".into()],
            tags: vec!["SCRA-ALR-001".into(), "serial".into()],
            failure: failed.then(|| {
                (
                    r#"Then the response status is 200"#.to_string(),
                    "expected 200, got 422 <OperationOutcome> \"INVALID_VALUE\" | 'x' & y".to_string(),
                )
            }),
            failure_kind: failed.then(|| "product".to_owned()),
        earlier_failures: if attempts > 1 {
                vec![("When I request the SCR id".into(), "timeout after 30 s".into())]
            } else {
                vec![]
            },
            steps: vec![
                StepView { keyword: "When".into(), text: "I request the SCR id".into(), status: "passed".into(), error: None },
                StepView {
                    keyword: "Then".into(),
                    text: "the response status is 200".into(),
                    status: if failed { "failed".into() } else { "passed".into() },
                    error: failed.then(|| "expected 200, got 422".to_string()),
                },
            ],
            exchanges: vec![ExchangeRef {
                wall_at: "2025-01-01T12:00:01.250Z".into(),
                clock_at: "2025-01-01T12:00:00+00:00".into(),
                file: format!("exchanges/0001-{}-1.json", location.replace(['/', ':'], "_")),
                step: Some("When I request the SCR id".into()),
                method: "GET".into(),
                url: "https://int.api.service.nhs.uk/summary-care-record/FHIR/R4/DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number|9990000018&type=\"x\"".into(),
                status: if failed { 422 } else { 200 },
                request_id: Some("60E0B220-8136-4CA5-AE46-1D97EF59D068".into()),
                correlation_id: Some("corr-1".into()),
                detail: None,
            }],
            sut: None,
        }
    }

    fn sample(scal: bool) -> Evidence {
        let scenarios = vec![
            scenario(
                "Retrieve SCR id",
                "a <script>alert(1)</script> fails",
                "features/retrieve.feature:12",
                Verdict::Failed,
                2,
            ),
            scenario("Retrieve SCR id", "plain", "features/retrieve.feature:5", Verdict::Passed, 1),
            scenario("Retrieve SCR id", "flaky one", "features/retrieve.feature:20", Verdict::Passed, 2),
        ];
        Evidence {
            summary: RunSummary {
                scope: "This run used the NHS integration environment (INT) with real authentication.".into(),
                run: RunFacts {
                    run_id: "20250101T000000Z-abcd".into(),
                    target: "int".into(),
                    base_url: "https://int.api.service.nhs.uk/summary-care-record/FHIR/R4".into(),
                    ods_code: Some("A12345".into()),
                    asid: Some("200000000001".into()),
                    started_at: "2025-01-01T00:00:00Z".into(),
                    finished_at: "2025-01-01T00:00:03Z".into(),
                    interrupted: false,
                    incomplete: None,
                    sut: None,
                    settings: Default::default(),
                    not_run: Vec::new(),
                },
                tool_version: "0.1.0".into(),
                git_commit: Some("742f055".into()),
                verdict: Verdict::Failed,
                total: 3,
                passed: 2,
                failed: 1,
                flaky: 1,
            },
            requirements: vec![
                RequirementRow {
                    mock_only: false,
                    id: "SCRA-ALR-001".into(),
                    title: "Allergies \"are\" <shown>".into(),
                    behaviour: "The system shows allergies".into(),
                    source: "SCR API spec §3".into(),
                    scal: Some("SCAL-12".into()),
                    verdict: Verdict::Failed,
                    scenarios: vec![
                        (
                            "features/retrieve.feature:12".into(),
                            "a <script>alert(1)</script> fails".into(),
                            Verdict::Failed,
                        ),
                        ("features/retrieve.feature:5".into(), "plain".into(), Verdict::Passed),
                    ],
                },
                RequirementRow {
                    mock_only: true,
                    id: "SCRA-ALR-002".into(),
                    title: "Not run".into(),
                    behaviour: String::new(),
                    source: "spec".into(),
                    scal: None,
                    verdict: Verdict::Unproved,
                    scenarios: vec![],
                },
            ],
            scenarios,
            scal_rows: scal.then(|| {
                vec![
                    ScalRow {
                        row: "4.1".into(),
                        title: "Allergies".into(),
                        requirements: vec!["SCRA-ALR-001".into()],
                        verdict: Verdict::Failed,
                    },
                    ScalRow {
                        row: "4.2".into(),
                        title: "Unmapped <row>".into(),
                        requirements: vec![],
                        verdict: Verdict::Unproved,
                    },
                ]
            }),
            run_exchanges: Vec::new(),
        }
    }

    fn attr(html: &str, name: &str) -> Option<String> {
        let main = &html[html.find("<main id=\"evidence\"")?..];
        let main = &main[..main.find('>')?];
        let key = format!(" {name}=\"");
        let start = main.find(&key)? + key.len();
        Some(main[start..].split('"').next()?.to_string())
    }

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        assert_eq!(escape("plain | text ✔"), "plain | text ✔");
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn ids_are_sanitised() {
        assert_eq!(sanitise_id("scenario-", "features/a b.feature:12"), "scenario-features-a-b-feature-12");
        assert_eq!(sanitise_id("req-", "SCRA-ALR_001\"><"), "req-SCRA-ALR_001---");
    }

    #[test]
    fn counts_in_the_data_attributes_equal_the_summary() {
        let e = sample(false);
        let html = render(&e);
        assert_eq!(attr(&html, "data-total").as_deref(), Some("3"));
        assert_eq!(attr(&html, "data-passed").as_deref(), Some("2"));
        assert_eq!(attr(&html, "data-failed").as_deref(), Some("1"));
        assert_eq!(attr(&html, "data-flaky").as_deref(), Some("1"));
        assert_eq!(attr(&html, "data-verdict").as_deref(), Some("failed"));
        assert_eq!(html.matches("class=\"scenario\"").count(), e.summary.total);
        assert_eq!(html.matches("Proved only on the embedded mock").count(), 1, "only ALR-002 is mock-only");
        assert!(html.contains(
            "<time>2025-01-01T12:00:01.250Z</time><br><span class=\"small\">run clock 2025-01-01T12:00:00+00:00</span>"
        ));
        assert_eq!(html.matches("class=\"scenario\" id=\"scenario-").count(), 3);
        assert_eq!(html.matches("data-verdict=\"failed\" data-location").count(), 1);
        assert_eq!(html.matches("<tr class=\"requirement\"").count(), 2);
        assert!(html.contains(r#"data-id="SCRA-ALR-002" data-verdict="unproved""#));
        assert!(html.contains(">✘</span> FAILED</p>"));
    }

    #[test]
    fn failures_come_first() {
        let mut e = sample(false);
        e.scenarios.reverse(); // the renderer does not rely on the order it is given
        let html = render(&e);
        let failures = html.find("id=\"failures\"").unwrap_or(usize::MAX);
        let all = html.find("id=\"scenarios\"").unwrap_or(0);
        assert!(failures < all, "the failures section comes before the list of every scenario");
        let list = &html[all..];
        let first_failed = list.find("data-verdict=\"failed\"").unwrap_or(usize::MAX);
        let first_passed = list.find("data-verdict=\"passed\"").unwrap_or(0);
        assert!(first_failed < first_passed, "failed scenarios lead the list");
        let section = &html[failures..all];
        assert!(section.contains("class=\"failure\""));
        assert!(section.contains("Then the response status is 200"));
        assert!(section.contains("timeout after 30 s"), "earlier attempts are shown");
        assert!(section.contains("60E0B220-8136-4CA5-AE46-1D97EF59D068") && section.contains("corr-1"));
        assert!(section.contains(r#"href="exchanges/0001-features_retrieve.feature_12-1.json""#));
    }

    #[test]
    fn every_text_is_escaped() {
        let html = render(&sample(true));
        assert!(!html.contains("<script"), "no script element, escaped or not");
        assert!(html.contains("a &lt;script&gt;alert(1)&lt;/script&gt; fails"));
        assert!(html.contains("&lt;OperationOutcome&gt; &quot;INVALID_VALUE&quot; | &#39;x&#39; &amp; y"));
        assert!(html.contains("Allergies &quot;are&quot; &lt;shown&gt;"));
        assert!(html.contains("Unmapped &lt;row&gt;"));
        assert!(html.contains("nhs-number|9990000018&amp;type=&quot;x&quot;"));
    }

    #[test]
    fn nothing_is_loaded_from_the_network() {
        let html = render(&sample(true));
        assert!(!html.contains("src="), "no element loads a resource");
        for (i, _) in html.match_indices("href=\"") {
            let target = &html[i + 6..];
            assert!(
                target.starts_with('#') || target.starts_with("exchanges/"),
                "only in-page and relative exchange links: {}",
                &target[..target.len().min(80)]
            );
        }
        assert!(!html.contains("url("), "no CSS loads");
        assert!(!html.contains("@import"));
        // The base URL is shown as text, not as a link.
        assert!(html.contains("<code>https://int.api.service.nhs.uk/summary-care-record/FHIR/R4</code>"));
        assert!(html.contains("default-src 'none'"));
    }

    #[test]
    fn unsafe_exchange_files_are_not_links() {
        assert_eq!(relative_href("exchanges/a b#1.json").as_deref(), Some("exchanges/a%20b%231.json"));
        assert_eq!(relative_href("https://example.org/x"), None);
        assert_eq!(relative_href("/etc/passwd"), None);
        assert_eq!(relative_href("exchanges/../../x"), None);
        assert_eq!(relative_href("javascript:alert(1)"), None);
        assert_eq!(relative_href(""), None);
    }

    #[test]
    fn the_scal_section_appears_only_with_scal_rows() {
        let without = render(&sample(false));
        assert!(!without.contains("id=\"scal\"") && !without.contains("class=\"scal-row\""));
        let with = render(&sample(true));
        assert!(with.contains("id=\"scal\""));
        assert_eq!(with.matches("<tr class=\"scal-row\"").count(), 2);
        let uncovered = &with[with.find("id=\"scal-uncovered\"").unwrap_or(0)..];
        assert!(uncovered.contains(r#"data-row="4.2""#) && !uncovered.contains(r#"data-row="4.1""#));
        assert!(uncovered.contains("no harness requirement is mapped to it"));
    }

    #[test]
    fn interrupted_and_passing_runs_say_so() {
        let mut e = sample(false);
        e.summary.run.interrupted = true;
        e.summary.run.incomplete = Some("interrupted by SIGTERM <now>".into());
        let html = render(&e);
        assert!(html.contains("INTERRUPTED") && html.contains("data-verdict=\"interrupted\""));
        assert!(html.contains("Incomplete evidence: interrupted by SIGTERM &lt;now&gt;."), "the reason, escaped");
        e.summary.run.interrupted = false;
        e.summary.run.incomplete = None;
        e.summary.verdict = Verdict::Passed;
        e.scenarios.retain(|s| s.verdict == Verdict::Passed);
        let html = render(&e);
        assert!(html.contains("PASSED") && html.contains("No scenario failed."));
    }

    #[test]
    fn duplicate_locations_get_distinct_ids() {
        let mut e = sample(false);
        let copy = e.scenarios[1].clone();
        e.scenarios.push(copy);
        let html = render(&e);
        assert!(html.contains("id=\"scenario-features-retrieve-feature-5\""));
        assert!(html.contains("id=\"scenario-features-retrieve-feature-5-2\""));
    }

    /// Two client scenarios built from records the way a run builds them: one passed (proving two
    /// requirements), one failed; the SUT's name carries markup.
    fn client_evidence(reference_client: bool) -> Evidence {
        use crate::report::evidence::{build, client_record};
        use crate::report::model::SutFacts;
        use crate::requirements::Catalogue;
        use crate::runner::recorder::Status;

        let catalogue = Catalogue::parse(
            std::path::Path::new("requirements.toml"),
            "[[requirement]]\nid = \"SCRC-WFL-001\"\ntitle = \"The SUT reads <permitted> SCRs\"\nbehaviour = \"b\"\n\
             source = \"s\"\n\n[[requirement]]\nid = \"SCRC-HDR-001\"\ntitle = \"Headers\"\nbehaviour = \"b\"\n\
             source = \"s\"\n\n[[requirement]]\nid = \"SCRA-ALR-001\"\ntitle = \"Not a client one\"\n\
             behaviour = \"b\"\nsource = \"s\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut passed = client_record();
        passed.tags.push("SCRC-HDR-001".into());
        let mut failed = client_record();
        failed.line = 20;
        failed.name = "the SUT <b>fails</b>".into();
        failed.status = Status::Failed;
        failed.failure =
            Some(("Then the SUT displayed the SCR".into(), "expected displayed, got <script>x</script>".into()));
        let facts = RunFacts {
            run_id: "20260101T000000Z-c11e47".into(),
            target: "mock".into(),
            sut: Some(SutFacts {
                name: if reference_client {
                    "scr-assure reference client".into()
                } else {
                    "Example <GP> System".into()
                },
                version: "4.2.0".into(),
                driver: "command".into(),
                file: (!reference_client).then(|| "suppliers/sut.toml".into()),
                reference_client,
            }),
            ..RunFacts::default()
        };
        build(&[passed, failed], &catalogue, None, &facts)
    }

    fn section<'a>(html: &'a str, id: &str) -> &'a str {
        let start = html.find(&format!("<section id=\"{id}\"")).unwrap_or_else(|| panic!("no section {id}"));
        let end = html[start..].find("</section>").map_or(html.len(), |e| start + e);
        &html[start..end]
    }

    #[test]
    fn the_sut_section_names_the_sut_and_says_what_its_verdicts_prove() {
        let html = render(&client_evidence(false));
        let sut = section(&html, "sut");
        assert!(html.contains(r##"<a href="#sut">System under test</a>"##), "in the contents");
        assert!(sut.contains("<td>Example &lt;GP&gt; System</td>") && sut.contains("<td>4.2.0</td>"));
        assert!(sut.contains("<td>command</td>") && sut.contains("<code>suppliers/sut.toml</code>"));
        assert!(sut.contains(
            "These verdicts grade Example &lt;GP&gt; System 4.2.0 against the embedded mock playing the NHS services."
        ));
        assert!(!sut.contains("reference client"));
        let html = render(&client_evidence(true));
        let sut = section(&html, "sut");
        assert!(sut.contains(
            "These verdicts grade scr-assure&#39;s bundled reference client: they prove the grader, not a supplier&#39;s \
             product."
        ));
        assert!(sut.contains("data-reference-client=\"true\"") && sut.contains("none: the bundled reference client"));
        assert!(!sut.contains("against the embedded mock"));
    }

    #[test]
    fn the_sut_section_goes_from_requirement_to_verdict_to_the_requests_that_prove_it() {
        let html = render(&client_evidence(false));
        let sut = section(&html, "sut");
        let blocks: Vec<&str> = sut.split("<article class=\"sut-requirement\"").skip(1).collect();
        assert_eq!(blocks.len(), 2, "the two client requirements, not the other one");
        let wfl = blocks[0];
        assert!(wfl.starts_with(r#" data-id="SCRC-WFL-001" data-verdict="failed">"#), "{}", &wfl[..80]);
        assert!(wfl.contains("The SUT reads &lt;permitted&gt; SCRs"));
        assert_eq!(wfl.matches("<div class=\"sut-scenario\"").count(), 2);
        assert!(wfl.contains(r#"data-location="features/client/workflow.feature:20" data-verdict="failed""#));
        assert!(wfl.contains("expected displayed, got &lt;script&gt;x&lt;/script&gt;"), "why it failed");
        assert!(wfl.contains(r#"data-action="retrieve" data-outcome="displayed""#));
        assert!(wfl.contains(r#"data-action="upload" data-outcome="failure""#));
        assert!(wfl.contains("the tester did not confirm `upload` within 3 s"));
        assert!(wfl.contains("Instruction to the tester: In Example GP System, upload the GP Summary"));
        assert!(wfl.contains("The tester did not confirm."));
        assert!(wfl.contains("<pre>fetching token\nreading SCR</pre>"), "what the SUT printed");
        assert_eq!(wfl.matches(r#"<tr class="sut-request" data-seq="3" data-status="200">"#).count(), 2);
        assert_eq!(wfl.matches(r#"<tr class="sut-request fault" data-seq="4" data-status="503">"#).count(), 2);
        assert!(wfl.contains(
            "<code>GET /DocumentReference?patient=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9991000019</code>"
        ));
        assert!(wfl.contains("<code>60E0B220-8136-4CA5-AE46-1D97EF59D068</code>"));
        assert!(wfl.contains("<code>unavailable</code>"), "the fault that answered");
        assert!(wfl.contains(r#"href="sut/0001-features_client_workflow.feature_7.json""#));
        assert!(wfl.contains(r#"href="sut/0002-features_client_workflow.feature_20.json""#));
        // The bodies, pretty-printed, collapsed.
        assert!(wfl.contains("<details><summary>Request and response of #3</summary>"));
        assert!(wfl.contains(
            "<pre>{\n  &quot;resourceType&quot;: &quot;Bundle&quot;,\n  &quot;type&quot;: &quot;searchset&quot;"
        ));
        assert!(wfl.contains("authorization: Bearer [REDACTED]"));
        // The passed scenario proves a second requirement: listed again, its full block (anchor, bodies) once.
        let hdr = blocks[1];
        assert!(hdr.starts_with(r#" data-id="SCRC-HDR-001" data-verdict="passed">"#));
        assert!(hdr.contains(r##"Shown in full <a href="#sut-features-client-workflow-feature-7">above</a>"##));
        assert!(hdr.contains(r#"data-seq="3""#) && !hdr.contains("<summary>Request and response"));
        assert_eq!(html.matches("id=\"sut-features-client-workflow-feature-7\"").count(), 1);
        // Every scenario's entry leads to its block.
        let all = section(&html, "scenarios");
        assert!(all.contains(
            r##"System under test: 2 actions and 3 requests — <a href="#sut-features-client-workflow-feature-7">"##
        ));
    }

    #[test]
    fn a_hostile_sut_outcome_stays_text() {
        let html = render(&client_evidence(false));
        assert!(!html.contains("<script"), "no script element, escaped or not");
        assert!(!html.contains("<b>fails"));
        let reported = html.find("Reported: <code>{").map(|i| &html[i..]).unwrap_or_default();
        let reported = &reported[..reported.find("</code>").unwrap_or(0)];
        assert!(
            reported.contains("&quot;message&quot;:&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;"),
            "{reported}"
        );
        assert!(reported.contains("&quot;outcome&quot;:&quot;displayed&quot;"), "{reported}");
        for (i, _) in html.match_indices("href=\"") {
            let target = &html[i + 6..];
            assert!(
                target.starts_with('#') || target.starts_with("exchanges/") || target.starts_with("sut/"),
                "only in-page and relative bundle links: {}",
                &target[..target.len().min(80)]
            );
        }
    }

    #[test]
    fn the_sut_section_appears_only_for_a_run_with_a_sut() {
        let html = render(&sample(false));
        assert!(!html.contains("id=\"sut\"") && !html.contains("href=\"#sut\"") && !html.contains("sut/"));
        let mut e = sample(false);
        e.summary.run.sut = client_evidence(false).summary.run.sut;
        let html = render(&e);
        assert!(section(&html, "sut").contains("No client scenario ran."));
    }

    #[test]
    fn long_bodies_are_shortened_on_the_page() {
        let body = "x".repeat(BODY_SHOWN + 10);
        let shown = shown_body(&body, "sut/0001-a.json");
        assert_eq!(shown.text, "x".repeat(BODY_SHOWN));
        assert_eq!(shown.shortened_in.and_then(|l| l.href).as_deref(), Some("sut/0001-a.json"));
        let short = shown_body("é<", "f");
        assert_eq!((short.text.as_str(), short.shortened_in.is_none()), ("é<", true));
    }

    /// The sample with a hostile exchange (headers, bodies, findings) on its failed scenario and two scenarios
    /// that did not run, one of them named with markup.
    fn hostile() -> Evidence {
        use crate::report::model::{ExchangeDetail, NotRun, NotRunKind, ValidationView};
        let mut e = sample(false);
        e.scenarios[0].exchanges[0].detail = Some(ExchangeDetail {
            duration_ms: 12,
            request_headers: vec![("x-request-id".into(), "<script>alert('h')</script>".into())],
            request_body: Some("{\n  \"resourceType\": \"<script>alert(3)</script>\"\n}".into()),
            response_headers: vec![("content-type".into(), "application/fhir+json".into())],
            response_body: Some("</pre><script>alert(4)</script>".into()),
            validation: Some(ValidationView {
                request: "UploadRequest conformant".into(),
                response: "not conformant (1 finding(s))".into(),
                conformant: false,
                findings: vec!["response /issue/0/code: \"<b>bad</b>\" is not one of the codes".into()],
                tolerated: vec!["response /meta: known <NHS> deviation".into()],
            }),
        });
        e.summary.run.not_run = vec![
            NotRun {
                feature: "Retrieve SCR id".into(),
                name: "a <script>alert(5)</script> not run".into(),
                file: "features/retrieve.feature".into(),
                line: 40,
                tags: vec!["SCRA-ALR-001".into()],
                kind: NotRunKind::Filtered,
                reason: "filtered out: --tags '@x' does not select it".into(),
            },
            NotRun {
                feature: "Retrieve SCR id".into(),
                name: "later".into(),
                file: "features/retrieve.feature".into(),
                line: 50,
                tags: vec![],
                kind: NotRunKind::NotReached,
                reason: "not reached: the run stopped at the first failure (--fail-fast)".into(),
            },
        ];
        e
    }

    #[test]
    fn the_template_escapes_every_value_so_hostile_text_renders_inert() {
        let html = render_checked(&hostile()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!html.contains("<script"), "no script element, escaped or not");
        assert!(!html.contains("<b>bad"), "no markup from a finding");
        assert!(html.contains("&lt;/pre&gt;&lt;script&gt;alert(4)&lt;/script&gt;"), "the response body, as text");
        assert!(html.contains("x-request-id: &lt;script&gt;alert(&#39;h&#39;)&lt;/script&gt;"), "a header, as text");
        assert!(html.contains("a &lt;script&gt;alert(5)&lt;/script&gt; not run"), "a not-run name, as text");
        assert!(html.contains("known &lt;NHS&gt; deviation"));
    }

    #[test]
    fn exchanges_show_their_bodies_pretty_printed_and_their_validation_verdict() {
        let html = render(&hostile());
        let failures = section(&html, "failures");
        assert!(failures.contains(r#"<div class="validation" data-conformant="false">"#), "{failures}");
        assert!(failures.contains("request UploadRequest conformant; response not conformant (1 finding(s)); 1 known NHS deviation(s) tolerated."));
        assert!(failures
            .contains("<li>response /issue/0/code: &quot;&lt;b&gt;bad&lt;/b&gt;&quot; is not one of the codes</li>"));
        assert!(failures.contains("<details><summary>Request and response (422, 12 ms)</summary>"), "collapsed");
        assert!(failures.contains(
            "<pre>{\n  &quot;resourceType&quot;: &quot;&lt;script&gt;alert(3)&lt;/script&gt;&quot;\n}</pre>"
        ));
        // An exchange recorded without detail (an older record) shows no verdict.
        assert!(!render(&sample(false)).contains("class=\"validation\""));
    }

    #[test]
    fn a_failed_scenarios_exchange_details_are_shown_once_and_linked_from_the_list() {
        let mut evidence = hostile();
        // A passing scenario's exchange keeps its detail in the list (it has no failure to show it in).
        evidence.scenarios[1].exchanges[0].detail =
            Some(ExchangeDetail { request_body: Some("{\"passing\": \"body\"}".into()), ..ExchangeDetail::default() });
        let html = render_checked(&evidence).unwrap_or_else(|e| panic!("{e}"));
        let body = "{\n  &quot;resourceType&quot;: &quot;&lt;script&gt;alert(3)&lt;/script&gt;&quot;\n}";
        assert_eq!(html.matches(body).count(), 1, "the failed scenario's request body, once");
        assert_eq!(html.matches("<details><summary>Request and response (422, 12 ms)</summary>").count(), 1);
        assert_eq!(html.matches("class=\"validation\"").count(), 1, "its validation verdict, once");
        let failures = section(&html, "failures");
        assert!(failures.contains(body), "shown in the failures section");
        let target = attr_of_first(failures, "<tr class=\"exchange-detail\" id=\"", '"').unwrap_or_default();
        assert_eq!(target, "ex-features-retrieve-feature-12-1", "{failures}");
        let list = section(&html, "scenarios");
        assert!(!list.contains(body), "not repeated in the list of every scenario");
        let link = format!(r##"<a class="detail-link" href="#{target}">"##);
        assert_eq!(list.matches(&link).count(), 1, "the list links to it: {list}");
        assert_eq!(html.matches(&format!("id=\"{target}\"")).count(), 1, "the link target exists, once");
        assert_eq!(list.matches("&quot;passing&quot;: &quot;body&quot;").count(), 1, "a passing one's detail stays");
        // The list still shows the failed scenario's exchange row itself.
        assert!(list.contains("<td>422</td>"), "{list}");
    }

    /// The text after the first `prefix` in `html`, up to `end`.
    fn attr_of_first(html: &str, prefix: &str, end: char) -> Option<String> {
        let rest = &html[html.find(prefix)? + prefix.len()..];
        Some(rest[..rest.find(end)?].to_owned())
    }

    #[test]
    fn scenarios_not_run_are_listed_with_their_reason() {
        let html = render(&hostile());
        assert_eq!(attr(&html, "data-not-run").as_deref(), Some("2"));
        let not_run = section(&html, "not-run");
        assert!(
            not_run.contains("<h2>Not run (2)</h2>") && not_run.contains("1 filtered, 1 not-reached."),
            "{not_run}"
        );
        assert!(not_run
            .contains(r#"<li class="not-run" data-kind="filtered" data-location="features/retrieve.feature:40">"#));
        assert!(not_run.contains(": filtered out: --tags &#39;@x&#39; does not select it</li>"), "{not_run}");
        assert!(not_run.contains(r##"<a href="#req-SCRA-ALR-001"><code>SCRA-ALR-001</code></a>"##), "{not_run}");
        assert_eq!(html.matches("class=\"scenario\"").count(), 3, "not-run scenarios are not counted as run");
        assert!(section(&render(&sample(false)), "not-run").contains("Every scenario of the features ran."));
    }

    #[test]
    fn citations_are_explained_in_the_page() {
        let html = render(&sample(false));
        let citations = section(&html, "citations");
        assert!(html.contains(r#"<td class="source">SCR API spec §3</td>"#), "the source as the catalogue words it");
        for key in ["scr-api.md §N", "J/…", "IT/…", "IDS …", "spec …"] {
            assert!(citations.contains(&format!("<dt><code>{key}</code></dt>")), "{key}: {citations}");
        }
        assert!(citations.contains("NHSDigital/summary-care-record-api"), "{citations}");
        assert!(citations.contains("<th scope=\"row\">§4.3</th><td>POST /Bundle: upload the GP Summary</td>"));
    }

    #[test]
    fn a_transport_fault_is_not_presented_as_the_products_failure() {
        let mut e = sample(false);
        let html = render(&e);
        assert!(!html.contains("not-the-product"), "a product failure is the product's");
        e.scenarios[0].failure_kind = Some("transport".into());
        let html = render(&e);
        let failures = section(&html, "failures");
        assert!(failures.contains(r#"data-kind="not-the-product""#), "{failures}");
        assert!(failures.contains("A transport fault: no HTTP answer came"), "{failures}");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(42), "42 ms");
        assert_eq!(duration(1234), "1.23 s");
        assert_eq!(duration(125_000), "2 min 05 s");
    }
}
