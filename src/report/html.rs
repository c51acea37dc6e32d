//! `report.html`: one self-contained page of a run's evidence (see `report::model::Evidence`), written for an
//! assurance reader rather than a developer.
//!
//! The page loads nothing: the CSS is inline, there are no scripts, fonts or images, and a Content Security
//! Policy forbids any load. Its only links are fragment links within the page and relative links to the
//! bundle's own `exchanges/…` and `sut/…` files; the base URL of the target is shown as text. Every piece of
//! text from the run goes through [`escape`].
//!
//! Machine-checkable: `<main id="evidence">` carries the counts (`data-total`, `data-passed`, `data-failed`,
//! `data-flaky`, `data-verdict`, and the requirement counts); every scenario of the run is one
//! `class="scenario"` element with `data-verdict` and an `id` derived from its location; every requirement row
//! is a `class="requirement"` element with `data-id` and `data-verdict`; every SCAL row a `class="scal-row"`.
//!
//! Client conformance (`summary.run.sut` set): a "System under test" section (`id="sut"`) names the SUT and
//! says what its verdicts prove, then goes requirement by requirement (`class="sut-requirement"`): each client
//! scenario proving it (`class="sut-scenario"`, `data-verdict`), the actions the SUT was asked to run with
//! what it reported (`class="sut-action"`), and the requests it sent (`class="sut-request"`, `data-seq`,
//! `data-status`) with their bodies in collapsed `<details>`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use super::model::{
    Evidence, ExchangeRef, RequirementRow, RunSummary, ScalRow, ScenarioView, StepView, SutActionView, SutFacts,
    SutRequestRef, SutView, Verdict,
};

/// Escapes text for HTML element content and for double- or single-quoted attribute values.
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

fn verdict_mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "✔",
        Verdict::Failed => "✘",
        Verdict::Unproved => "–",
    }
}

/// A verdict badge: colour and a mark for the eye, the word for everyone (and for screen readers).
fn badge(v: Verdict) -> String {
    let w = verdict_word(v);
    format!(r#"<span class="badge v-{w}"><span aria-hidden="true">{}</span> {w}</span>"#, verdict_mark(v))
}

fn step_badge(status: &str) -> String {
    let (class, mark) = match status {
        "passed" => ("v-passed", "✔"),
        "failed" => ("v-failed", "✘"),
        _ => ("v-skipped", "○"),
    };
    format!(r#"<span class="badge {class}"><span aria-hidden="true">{mark}</span> {}</span>"#, escape(status))
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

    /// A requirement id, linked to its row of the matrix when it has one.
    fn requirement_link(&self, id: &str) -> String {
        if self.requirements.contains(id) {
            format!(r##"<a href="#{}"><code>{}</code></a>"##, sanitise_id("req-", id), escape(id))
        } else {
            format!("<code>{}</code>", escape(id))
        }
    }

    fn requirement_links(&self, ids: &[String]) -> String {
        if ids.is_empty() {
            return r#"<span class="none">none</span>"#.into();
        }
        ids.iter().map(|id| self.requirement_link(id)).collect::<Vec<_>>().join(", ")
    }
}

const STYLE: &str = r#"
:root { --green: #007f3b; --red: #d5281b; --grey: #4c6272; --amber: #ffb81c; --blue: #005eb8; --ink: #212b32;
  --line: #d8dde0; --pale: #f0f4f5; }
* { box-sizing: border-box; }
html { font-family: Arial, "Helvetica Neue", Helvetica, sans-serif; color: var(--ink); background: #fff;
  font-size: 16px; line-height: 1.45; }
body { margin: 0; }
main { max-width: 78rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.9rem; margin: 0 0 .5rem; }
h2 { font-size: 1.45rem; margin: 2.2rem 0 .6rem; padding-bottom: .25rem; border-bottom: 2px solid var(--blue); }
h3 { font-size: 1.15rem; margin: 0 0 .5rem; }
h4 { font-size: 1rem; margin: .9rem 0 .3rem; }
a { color: var(--blue); }
code, pre { font-family: "Courier New", Courier, monospace; font-size: .9em; }
code { overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word; background: var(--pale);
  border-left: 4px solid var(--grey); padding: .5rem .75rem; margin: .3rem 0; }
pre.reason { border-left-color: var(--red); }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
caption { text-align: left; font-weight: bold; padding: .3rem 0; }
th, td { border: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top; }
thead th { background: var(--pale); }
th[scope=row] { background: var(--pale); width: 14rem; font-weight: bold; }
td { overflow-wrap: anywhere; }
.matrix th[scope=row] code, .matrix td:nth-child(2) code { overflow-wrap: normal; white-space: nowrap; }
.verdict { font-size: 2.6rem; font-weight: bold; margin: .2rem 0 .8rem; padding: .3rem 1rem; display: inline-block;
  border: 4px solid; border-radius: 4px; letter-spacing: .05em; }
.verdict.v-passed { color: var(--green); }
.verdict.v-failed { color: var(--red); }
.verdict.v-interrupted, .verdict.v-unproved { color: #8a5a00; }
.counts { display: flex; flex-wrap: wrap; gap: .6rem; margin: 0 0 1rem; padding: 0; }
.counts div { border: 1px solid var(--line); padding: .4rem .9rem; min-width: 7rem; }
.counts dt { font-size: .85rem; color: var(--grey); }
.counts dd { margin: 0; font-size: 1.6rem; font-weight: bold; }
.note { border-left: 6px solid var(--amber); background: #fff9e6; padding: .5rem .9rem; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 3px; font-size: .85rem; font-weight: bold;
  white-space: nowrap; border: 1px solid transparent; }
.v-passed.badge { background: var(--green); color: #fff; }
.v-failed.badge { background: var(--red); color: #fff; }
.v-unproved.badge, .v-skipped.badge { background: #e8edee; color: var(--ink); border-color: var(--grey); }
.badge.flaky { background: var(--amber); color: var(--ink); }
.none { color: var(--grey); font-style: italic; }
.small { font-size: .88rem; color: var(--grey); }
ul.plain { list-style: none; padding: 0; margin: 0; }
ul.plain li { margin: .1rem 0; }
nav ul { display: flex; flex-wrap: wrap; gap: 1.2rem; list-style: none; padding: 0; }
.failure { border: 2px solid var(--red); border-left-width: 8px; padding: .8rem 1rem; margin: 1rem 0; }
ol.scenarios { list-style: none; padding: 0; margin: 0; }
li.scenario { border: 1px solid var(--line); border-left: 6px solid var(--grey); padding: .5rem .8rem;
  margin: .45rem 0; }
li.scenario[data-verdict=passed] { border-left-color: var(--green); }
li.scenario[data-verdict=failed] { border-left-color: var(--red); }
li.scenario .meta { display: flex; flex-wrap: wrap; gap: .2rem 1.4rem; margin: .3rem 0; font-size: .9rem; }
li.scenario .meta dt { display: inline; color: var(--grey); }
li.scenario .meta dd { display: inline; margin: 0 0 0 .3rem; }
ol.steps { padding-left: 1.4rem; }
ol.steps li { margin: .2rem 0; }
details { margin: .3rem 0; }
summary { cursor: pointer; color: var(--blue); }
tr.at-failure td { background: #fdecea; }
.filter { margin: .3rem 0 .8rem; }
#scenarios:has(#only-failed:checked) li.scenario[data-verdict=passed] { display: none; }
h5 { font-size: .9rem; margin: .6rem 0 .2rem; }
article.sut-requirement { border-top: 1px solid var(--line); padding-top: .6rem; margin-top: 1.2rem; }
.sut-scenario { border-left: 6px solid var(--grey); padding: .2rem 0 .2rem .8rem; margin: .8rem 0; }
.sut-scenario[data-verdict=passed] { border-left-color: var(--green); }
.sut-scenario[data-verdict=failed] { border-left-color: var(--red); }
ol.sut-actions { padding-left: 1.4rem; }
ol.sut-actions li { margin: .35rem 0; }
tr.sut-request.fault td { background: #fff9e6; }
table.sut-requests td:nth-child(6) code { overflow-wrap: normal; white-space: nowrap; }
footer { margin-top: 2.5rem; border-top: 1px solid var(--line); padding-top: .6rem; }
@media print {
  @page { size: A4; margin: 14mm; }
  html { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  nav, .filter { display: none; }
  #scenarios li.scenario { display: block !important; }
  a { color: inherit; text-decoration: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  details::details-content { content-visibility: visible; display: block; }
  summary { color: inherit; }
  h2, h3, h4 { break-after: avoid; }
  tr, li.scenario, pre { break-inside: avoid; }
  .failure { break-inside: auto; }
}
"#;

/// Renders the page.
pub fn render(evidence: &Evidence) -> String {
    let anchors = Anchors::new(evidence);
    let s = &evidence.summary;
    let (verdict_class, verdict_text, verdict_mark) = run_verdict(s);
    let req_count = |v: Verdict| evidence.requirements.iter().filter(|r| r.verdict == v).count();

    let mut out = String::with_capacity(16 * 1024 + evidence.scenarios.len() * 2048);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; \
         base-uri 'none'; form-action 'none'\">\n",
    );
    out.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    let _ = writeln!(
        out,
        "<title>SCR FHIR API conformance evidence: {verdict_text} ({}, run {})</title>",
        escape(&s.run.target),
        escape(&s.run.run_id)
    );
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(
        out,
        r#"<main id="evidence" data-run-id="{}" data-verdict="{verdict_class}" data-total="{}" data-passed="{}" data-failed="{}" data-flaky="{}" data-interrupted="{}" data-requirements="{}" data-requirements-passed="{}" data-requirements-failed="{}" data-requirements-unproved="{}">"#,
        escape(&s.run.run_id),
        s.total,
        s.passed,
        s.failed,
        s.flaky,
        s.run.interrupted,
        evidence.requirements.len(),
        req_count(Verdict::Passed),
        req_count(Verdict::Failed),
        req_count(Verdict::Unproved),
    );

    header(&mut out, s, verdict_class, verdict_text, verdict_mark);
    out.push_str("<nav aria-label=\"Contents\"><ul>\n<li><a href=\"#requirements\">Requirement matrix</a></li>\n");
    if evidence.scal_rows.is_some() {
        out.push_str("<li><a href=\"#scal\">SCAL rows</a></li>\n");
    }
    if s.run.sut.is_some() {
        out.push_str("<li><a href=\"#sut\">System under test</a></li>\n");
    }
    out.push_str("<li><a href=\"#failures\">Failures</a></li>\n<li><a href=\"#scenarios\">Every scenario</a></li>\n");
    out.push_str("</ul></nav>\n");

    requirement_matrix(&mut out, evidence, &anchors);
    if let Some(rows) = &evidence.scal_rows {
        scal_section(&mut out, rows, &anchors);
    }
    let sut_anchors = match &s.run.sut {
        Some(facts) => sut_section(&mut out, evidence, facts, &anchors),
        None => HashMap::new(),
    };

    // Failed scenarios first, whatever order the evidence came in (it should already be so).
    let mut order: Vec<usize> = (0..evidence.scenarios.len()).collect();
    order.sort_by_key(|&i| evidence.scenarios[i].verdict != Verdict::Failed);
    failures(&mut out, evidence, &order, &anchors);
    scenarios(&mut out, evidence, &order, &anchors, &sut_anchors);

    let _ = writeln!(
        out,
        "<footer class=\"small\"><p>Written by scr-assure {}{}. The exchange files (redacted HTTP requests and \
         responses) are in the <code>exchanges/</code> folder next to this page; <code>junit.xml</code>, \
         <code>traceability.csv</code> and <code>manifest.json</code> hold the same results for machines.{}</p>\
         </footer>",
        escape(&s.tool_version),
        s.git_commit.as_deref().map(|c| format!(" (commit {})", escape(c))).unwrap_or_default(),
        if s.run.sut.is_some() {
            " What the system under test was asked, reported and sent (its redacted traffic) is in the \
             <code>sut/</code> folder, one file per client scenario."
        } else {
            ""
        }
    );
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn header(out: &mut String, s: &RunSummary, class: &str, text: &str, mark: &str) {
    out.push_str("<header>\n<h1>SCR FHIR API conformance evidence</h1>\n");
    let _ = writeln!(
        out,
        r#"<p class="verdict v-{class}" role="status"><span aria-hidden="true">{mark}</span> {text}</p>"#
    );
    let _ = writeln!(
        out,
        "<p class=\"note\" id=\"scope\" data-target=\"{}\">{}</p>",
        escape(&s.run.target),
        escape(&s.scope)
    );
    match s.run.settings.filtered() {
        Some(how) => {
            let _ = writeln!(
                out,
                "<p class=\"note\" id=\"filtered\">A filtered run, not the whole suite as shipped: {}.</p>",
                escape(&how)
            );
        }
        None => {
            out.push_str("<p class=\"note\" id=\"filtered\" data-filtered=\"no\">The whole suite, unfiltered.</p>\n")
        }
    }
    let st = &s.run.settings;
    let _ = writeln!(
        out,
        "<details id=\"settings\"><summary>How this run was made</summary><dl class=\"settings\">\
         <div><dt>Target</dt><dd>{} ({})</dd></div><div><dt>Tags</dt><dd>{}</dd></div>\
         <div><dt>Name filter</dt><dd>{}</dd></div><div><dt>Snapshots</dt><dd>{}</dd></div>\
         <div><dt>Retries</dt><dd>{}</dd></div><div><dt>Fail fast</dt><dd>{}</dd></div>\
         <div><dt>Concurrency</dt><dd>{}</dd></div><div><dt>Features</dt><dd>{} ({} files hashed; sha256 of each \
         in manifest.json)</dd></div><div><dt>Catalogue</dt><dd>{}</dd></div></dl></details>",
        escape(&s.run.target),
        escape(&s.run.base_url),
        escape(st.tags.as_deref().unwrap_or("none")),
        escape(st.name.as_deref().unwrap_or("none")),
        escape(&st.snapshots),
        st.retries,
        if st.fail_fast { "yes" } else { "no" },
        st.concurrency,
        escape(&st.features),
        st.inputs.len(),
        escape(&st.requirements),
    );
    if s.run.interrupted {
        out.push_str(
            "<p class=\"note\">The run was interrupted before it finished: only the scenarios that finished are \
             reported, and this evidence is incomplete.</p>\n",
        );
    }
    if let Some(why) = &s.run.incomplete {
        let _ = writeln!(out, "<p class=\"note\" id=\"incomplete\">Incomplete evidence: {}.</p>", escape(why));
    }
    let _ = writeln!(
        out,
        "<dl class=\"counts\">\n<div><dt>Scenarios</dt><dd>{}</dd></div>\n<div><dt>Passed</dt><dd>{}</dd></div>\n\
         <div><dt>Failed</dt><dd>{}</dd></div>\n<div><dt>Flaky (passed on a retry)</dt><dd>{}</dd></div>\n</dl>",
        s.total, s.passed, s.failed, s.flaky
    );
    out.push_str("<table class=\"facts\">\n<caption>About this run</caption>\n<tbody>\n");
    let mut fact = |label: &str, value: Option<&str>, code: bool| {
        if let Some(v) = value {
            let v = if code { format!("<code>{}</code>", escape(v)) } else { escape(v) };
            let _ = writeln!(out, "<tr><th scope=\"row\">{label}</th><td>{v}</td></tr>");
        }
    };
    fact("Target", Some(&s.run.target), false);
    fact("Base URL", Some(&s.run.base_url), true);
    fact("ODS code", s.run.ods_code.as_deref(), false);
    fact("ASID", s.run.asid.as_deref(), false);
    fact("Tool version", Some(&format!("scr-assure {}", s.tool_version)), false);
    fact("Git commit", Some(s.git_commit.as_deref().unwrap_or("not known")), true);
    fact("Started (UTC)", Some(&s.run.started_at), false);
    fact("Finished (UTC)", Some(&s.run.finished_at), false);
    fact("Run id", Some(&s.run.run_id), true);
    out.push_str("</tbody>\n</table>\n</header>\n");
}

fn requirement_matrix(out: &mut String, evidence: &Evidence, anchors: &Anchors) {
    let count = |v: Verdict| evidence.requirements.iter().filter(|r| r.verdict == v).count();
    out.push_str("<section id=\"requirements\">\n<h2>Requirement matrix</h2>\n");
    let _ = writeln!(
        out,
        "<p>{}: {} passed, {} failed, {} unproved. A requirement passes when every scenario proving it passed; it \
         is unproved when no scenario of this run proved it.</p>",
        plural(evidence.requirements.len(), "requirement", "requirements"),
        count(Verdict::Passed),
        count(Verdict::Failed),
        count(Verdict::Unproved)
    );
    if evidence.requirements.is_empty() {
        out.push_str("<p class=\"none\">No requirements.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<table class=\"matrix\">\n<thead><tr><th scope=\"col\">Requirement</th><th scope=\"col\">SCAL id</th>\
         <th scope=\"col\">Title</th><th scope=\"col\">Source</th><th scope=\"col\">Verdict</th>\
         <th scope=\"col\">Proved by</th></tr></thead>\n<tbody>\n",
    );
    for r in &evidence.requirements {
        requirement_row(out, r, anchors);
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn requirement_row(out: &mut String, r: &RequirementRow, anchors: &Anchors) {
    let w = verdict_word(r.verdict);
    let _ = write!(
        out,
        r#"<tr class="requirement" id="{}" data-id="{}" data-verdict="{w}"><th scope="row"><code>{}</code></th><td>{}</td><td>{}"#,
        sanitise_id("req-", &r.id),
        escape(&r.id),
        escape(&r.id),
        r.scal
            .as_deref()
            .map(|s| format!("<code>{}</code>", escape(s)))
            .unwrap_or_else(|| "<span class=\"none\">—</span>".into()),
        escape(&r.title),
    );
    if !r.behaviour.is_empty() {
        let _ = write!(out, "<div class=\"small\">{}</div>", escape(&r.behaviour));
    }
    let _ = write!(out, "</td><td>{}</td><td>{}</td><td>", escape(&r.source), badge(r.verdict));
    if r.scenarios.is_empty() {
        out.push_str("<span class=\"none\">no scenario in this run</span>");
    } else {
        out.push_str("<ul class=\"plain\">");
        for (location, name, verdict) in &r.scenarios {
            let label = format!("{} <span class=\"small\">({})</span>", escape(name), escape(location));
            match anchors.by_location.get(location) {
                Some(id) => {
                    let _ = write!(out, r##"<li>{} <a href="#{id}">{label}</a></li>"##, badge(*verdict));
                }
                None => {
                    let _ = write!(out, "<li>{} {label}</li>", badge(*verdict));
                }
            }
        }
        out.push_str("</ul>");
    }
    out.push_str("</td></tr>\n");
}

fn scal_section(out: &mut String, rows: &[ScalRow], anchors: &Anchors) {
    out.push_str("<section id=\"scal\">\n<h2>SCAL rows</h2>\n");
    let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count();
    let _ = writeln!(
        out,
        "<p>The supplier's SCAL, row by row, with the harness requirements mapped to each: {} — {} passed, {} \
         failed, {} unproved.</p>",
        plural(rows.len(), "row", "rows"),
        count(Verdict::Passed),
        count(Verdict::Failed),
        count(Verdict::Unproved)
    );
    out.push_str(
        "<table class=\"scal\">\n<thead><tr><th scope=\"col\">SCAL row</th><th scope=\"col\">Title</th>\
         <th scope=\"col\">Harness requirements</th><th scope=\"col\">Verdict</th></tr></thead>\n<tbody>\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            r#"<tr class="scal-row" data-row="{}" data-verdict="{}"><th scope="row">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(&r.row),
            verdict_word(r.verdict),
            escape(&r.row),
            escape(&r.title),
            anchors.requirement_links(&r.requirements),
            badge(r.verdict)
        );
    }
    out.push_str("</tbody>\n</table>\n");
    let uncovered: Vec<&ScalRow> = rows.iter().filter(|r| r.verdict == Verdict::Unproved).collect();
    out.push_str("<h3 id=\"scal-uncovered\">SCAL rows no scenario covers</h3>\n");
    if uncovered.is_empty() {
        out.push_str("<p>None: every SCAL row is covered by at least one scenario of this run.</p>\n");
    } else {
        out.push_str("<ul class=\"uncovered\">\n");
        for r in uncovered {
            let why = if r.requirements.is_empty() {
                "no harness requirement is mapped to it".to_string()
            } else {
                format!("no scenario of this run proved {}", anchors.requirement_links(&r.requirements))
            };
            let _ = writeln!(
                out,
                r#"<li class="uncovered-row" data-row="{}"><strong>{}</strong> {} — {} {why}</li>"#,
                escape(&r.row),
                escape(&r.row),
                escape(&r.title),
                badge(Verdict::Unproved)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

/// How much of one body the page shows; the whole body is in the scenario's `sut/…` file.
const BODY_SHOWN: usize = 64 * 1024;

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
        format!(
            "These verdicts grade {} {} against the embedded mock playing the NHS services.",
            escape(&f.name),
            escape(&f.version)
        )
    }
}

/// A link to a file of the bundle when its path is safe, else the path as text.
fn file_link(file: &str) -> String {
    match relative_href(file) {
        Some(href) => format!(r#"<a href="{}"><code>{}</code></a>"#, escape(&href), escape(file)),
        None => format!("<code>{}</code>", escape(file)),
    }
}

/// The "System under test" section; returns, by scenario index, the anchor of each scenario's full block.
fn sut_section(out: &mut String, evidence: &Evidence, facts: &SutFacts, anchors: &Anchors) -> HashMap<usize, String> {
    let _ = writeln!(out, r#"<section id="sut" data-reference-client="{}">"#, facts.reference_client);
    out.push_str("<h2>System under test</h2>\n");
    out.push_str("<table class=\"facts\">\n<caption>The system the client scenarios graded</caption>\n<tbody>\n");
    let _ = writeln!(out, "<tr><th scope=\"row\">Name</th><td>{}</td></tr>", escape(&facts.name));
    let _ = writeln!(out, "<tr><th scope=\"row\">Version</th><td>{}</td></tr>", escape(&facts.version));
    let _ = writeln!(out, "<tr><th scope=\"row\">Driver</th><td>{}</td></tr>", escape(&facts.driver));
    let file = match (&facts.file, facts.reference_client) {
        (Some(f), _) => format!("<code>{}</code>", escape(f)),
        (None, true) => "none: the bundled reference client".to_owned(),
        (None, false) => "<span class=\"none\">not recorded</span>".to_owned(),
    };
    let _ = writeln!(out, "<tr><th scope=\"row\">SUT file</th><td>{file}</td></tr>\n</tbody>\n</table>");
    let _ = writeln!(out, "<p class=\"note\" id=\"sut-statement\">{}</p>", sut_statement(facts));

    let client: Vec<usize> = (0..evidence.scenarios.len()).filter(|&i| is_client(&evidence.scenarios[i])).collect();
    let mut full: HashMap<usize, String> = HashMap::new();
    if client.is_empty() {
        out.push_str("<p class=\"none\">No client scenario ran.</p>\n</section>\n");
        return full;
    }
    out.push_str(
        "<p>Requirement by requirement: its verdict, the client scenarios proving it, what the system under test \
         was asked to do and reported, and the requests it sent (status, X-Request-ID; the redacted bodies \
         under each request). The whole record of each scenario is its <code>sut/</code> file.</p>\n",
    );
    for r in &evidence.requirements {
        let proving: Vec<usize> =
            client.iter().copied().filter(|&i| evidence.scenarios[i].requirements.contains(&r.id)).collect();
        if proving.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            r#"<article class="sut-requirement" data-id="{}" data-verdict="{}">"#,
            escape(&r.id),
            verdict_word(r.verdict)
        );
        let _ = writeln!(out, "<h3>{} {} {}</h3>", badge(r.verdict), anchors.requirement_link(&r.id), escape(&r.title));
        for i in proving {
            sut_scenario(out, evidence, i, anchors, &mut full);
        }
        out.push_str("</article>\n");
    }
    let unproving: Vec<usize> = client
        .iter()
        .copied()
        .filter(|&i| {
            let s = &evidence.scenarios[i];
            !s.requirements.iter().any(|id| evidence.requirements.iter().any(|r| &r.id == id))
        })
        .collect();
    if !unproving.is_empty() {
        out.push_str("<article class=\"sut-requirement\" data-id=\"\">\n<h3>Client scenarios of no requirement</h3>\n");
        for i in unproving {
            sut_scenario(out, evidence, i, anchors, &mut full);
        }
        out.push_str("</article>\n");
    }
    out.push_str("</section>\n");
    full
}

/// One client scenario under a requirement: the first time it appears in full (with an anchor and the
/// bodies), later only its actions and request lines with a link to the full block.
fn sut_scenario(out: &mut String, evidence: &Evidence, i: usize, anchors: &Anchors, full: &mut HashMap<usize, String>) {
    let s = &evidence.scenarios[i];
    let sid = &anchors.scenario[i];
    // Only a scenario with SUT evidence has a full block (and an anchor), the first time it appears.
    let first = s.sut.is_some() && !full.contains_key(&i);
    let id = format!("sut-{}", sid.trim_start_matches("scenario-"));
    let _ = writeln!(
        out,
        r#"<div class="sut-scenario"{} data-location="{}" data-verdict="{}">"#,
        if first { format!(r#" id="{id}""#) } else { String::new() },
        escape(&s.location),
        verdict_word(s.verdict)
    );
    let _ = writeln!(
        out,
        r##"<h4>{} <a href="#{sid}">{}</a> <span class="small">({})</span></h4>"##,
        badge(s.verdict),
        escape(&s.name),
        escape(&s.location)
    );
    if s.verdict == Verdict::Failed {
        if let Some((step, reason)) = failing_step(s) {
            let _ = writeln!(
                out,
                "<p>Failed at <code>{}</code>:</p>\n<pre class=\"reason\">{}</pre>",
                escape(&step),
                escape(&reason)
            );
        }
    }
    let Some(sut) = &s.sut else {
        out.push_str("<p class=\"none\">The system under test was not asked to act in this scenario.</p>\n</div>\n");
        return;
    };
    if first {
        full.insert(i, id);
        let _ = writeln!(out, "<p class=\"small\">The whole record: {}</p>", file_link(&sut.file));
    } else if let Some(id) = full.get(&i) {
        let _ = writeln!(out, r##"<p class="small">Shown in full <a href="#{id}">above</a>.</p>"##);
    }
    sut_actions(out, sut);
    sut_requests(out, sut, first);
    out.push_str("</div>\n");
}

fn sut_actions(out: &mut String, sut: &SutView) {
    if sut.actions.is_empty() {
        out.push_str("<p class=\"none\">No actions.</p>\n");
        return;
    }
    let _ = writeln!(out, "<h5>Actions ({})</h5>\n<ol class=\"sut-actions\">", sut.actions.len());
    for a in &sut.actions {
        sut_action(out, a);
    }
    out.push_str("</ol>\n");
}

fn sut_action(out: &mut String, a: &SutActionView) {
    let outcome_word = a.outcome.as_ref().and_then(|o| o.get("outcome")).and_then(|o| o.as_str());
    let _ = write!(
        out,
        r#"<li class="sut-action" data-action="{}" data-outcome="{}"><strong><code>{}</code></strong>"#,
        escape(&a.action),
        escape(outcome_word.unwrap_or(if a.failure.is_some() { "failure" } else { "" })),
        escape(&a.action)
    );
    for (k, v) in &a.params {
        let _ = write!(out, " {}=<code>{}</code>", escape(k), escape(v));
    }
    match (&a.outcome, &a.failure) {
        (Some(o), _) => {
            let json = serde_json::to_string(o).unwrap_or_default();
            let _ = write!(out, "<div>Reported: <code>{}</code></div>", escape(&json));
        }
        (None, Some(f)) => {
            let _ = write!(out, "<div>No outcome:</div><pre class=\"reason\">{}</pre>", escape(f));
        }
        (None, None) => out.push_str("<div class=\"none\">No outcome recorded.</div>"),
    }
    let mut facts = Vec::new();
    if !a.command.is_empty() {
        facts.push(format!("command <code>{}</code>", escape(&a.command.join(" "))));
    }
    if let Some(code) = a.exit_code {
        facts.push(format!("exit code {code}"));
    }
    facts.push(format!("{} from {}", duration(a.duration_ms), escape(&a.started)));
    let _ = write!(out, "<div class=\"small\">{}</div>", facts.join("; "));
    if let Some(at) = &a.attended {
        let _ = write!(out, "<div>Instruction to the tester: {}</div>", escape(&at.instruction));
        match &at.confirmation {
            Some(c) => {
                let when = at.confirmed_at.as_deref().map(|t| format!(" at {}", escape(t))).unwrap_or_default();
                let said = if c.is_empty() { "(Enter)".to_owned() } else { format!("<q>{}</q>", escape(c)) };
                let _ = write!(out, "<div>The tester confirmed{when}: {said}</div>");
            }
            None => out.push_str("<div>The tester did not confirm.</div>"),
        }
    }
    if !a.stdout_excerpt.trim().is_empty() || !a.stderr_excerpt.trim().is_empty() {
        out.push_str("<details><summary>What the SUT printed</summary>");
        for (label, text) in [("stdout", &a.stdout_excerpt), ("stderr", &a.stderr_excerpt)] {
            if !text.trim().is_empty() {
                let _ = write!(out, "<h5>{label}</h5><pre>{}</pre>", escape(text));
            }
        }
        out.push_str("</details>");
    }
    out.push_str("</li>\n");
}

/// A body as shown on the page: at most [`BODY_SHOWN`] characters, escaped.
fn shown_body(body: &str, file: &str) -> String {
    match body.char_indices().nth(BODY_SHOWN) {
        None => format!("<pre>{}</pre>", escape(body)),
        Some((cut, _)) => format!(
            "<pre>{}</pre><p class=\"small\">Shortened here; the whole body is in {}.</p>",
            escape(&body[..cut]),
            file_link(file)
        ),
    }
}

fn sut_request_bodies(out: &mut String, x: &SutRequestRef) {
    let _ = write!(out, "<details><summary>Request and response of #{}</summary>", x.seq);
    if !x.headers.is_empty() {
        let headers: Vec<String> = x.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        let _ = write!(out, "<h5>Request headers</h5><pre>{}</pre>", escape(&headers.join("\n")));
    }
    match &x.request_body {
        Some(b) => {
            out.push_str("<h5>Request body</h5>");
            out.push_str(&shown_body(b, &x.file));
            if x.request_body_truncated {
                out.push_str("<p class=\"small\">The mock recorded only the first 1 MiB of this body.</p>");
            }
        }
        None => out.push_str("<h5>Request body</h5><p class=\"none\">empty</p>"),
    }
    match &x.response_body {
        Some(b) => {
            out.push_str("<h5>Response body</h5>");
            out.push_str(&shown_body(b, &x.file));
        }
        None => out.push_str("<h5>Response body</h5><p class=\"none\">empty</p>"),
    }
    out.push_str("</details>");
}

fn sut_requests(out: &mut String, sut: &SutView, bodies: bool) {
    if sut.requests.is_empty() {
        out.push_str("<p class=\"none\">The SUT sent no request.</p>\n");
        return;
    }
    let _ = writeln!(out, "<h5>Requests the SUT sent ({})</h5>", sut.requests.len());
    let _ = writeln!(
        out,
        "<table class=\"sut-requests\">\n<thead><tr><th scope=\"col\">#</th><th scope=\"col\">Request</th>\
         <th scope=\"col\">Operation</th><th scope=\"col\">Status</th><th scope=\"col\">X-Request-ID</th>\
         <th scope=\"col\">Fault</th></tr></thead>\n<tbody>"
    );
    for x in &sut.requests {
        let dash = || "<span class=\"none\">—</span>".to_owned();
        let _ = write!(
            out,
            r#"<tr class="sut-request{}" data-seq="{}" data-status="{}"><td>{}</td><td><code>{} {}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"#,
            if x.fault.is_some() { " fault" } else { "" },
            x.seq,
            x.status,
            x.seq,
            escape(&x.method),
            escape(&x.target()),
            escape(&x.operation),
            x.status,
            x.request_id.as_deref().map(|v| format!("<code>{}</code>", escape(v))).unwrap_or_else(dash),
            x.fault.as_deref().map(|v| format!("<code>{}</code>", escape(v))).unwrap_or_else(dash),
        );
        out.push_str("</tr>\n");
        // The bodies on a row of their own, below the request, collapsed.
        if bodies {
            out.push_str("<tr class=\"sut-bodies\"><td></td><td colspan=\"5\">");
            sut_request_bodies(out, x);
            out.push_str("</td></tr>\n");
        }
    }
    out.push_str("</tbody>\n</table>\n");
}

fn exchanges_table(out: &mut String, exchanges: &[ExchangeRef], failing_step: Option<&str>) {
    if exchanges.is_empty() {
        out.push_str("<p class=\"none\">No HTTP exchanges.</p>\n");
        return;
    }
    out.push_str(
        "<table class=\"exchanges\">\n<thead><tr><th scope=\"col\">Step</th><th scope=\"col\">Request</th>\
         <th scope=\"col\">Status</th><th scope=\"col\">X-Request-ID</th><th scope=\"col\">X-Correlation-ID</th>\
         <th scope=\"col\">Exchange file</th></tr></thead>\n<tbody>\n",
    );
    for x in exchanges {
        let at_failure = matches!((failing_step, x.step.as_deref()), (Some(f), Some(s)) if f.trim() == s.trim());
        let id_cell = |v: &Option<String>| {
            v.as_deref()
                .map(|v| format!("<code>{}</code>", escape(v)))
                .unwrap_or_else(|| "<span class=\"none\">—</span>".into())
        };
        let file = match relative_href(&x.file) {
            Some(href) => format!(r#"<a href="{}"><code>{}</code></a>"#, escape(&href), escape(&x.file)),
            None => format!("<code>{}</code>", escape(&x.file)),
        };
        let _ = writeln!(
            out,
            "<tr{}><td>{}{}</td><td><code>{} {}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{file}</td></tr>",
            if at_failure { " class=\"at-failure\"" } else { "" },
            x.step.as_deref().map(escape).unwrap_or_else(|| "<span class=\"none\">—</span>".into()),
            if at_failure { " <strong>(the failing step)</strong>" } else { "" },
            escape(&x.method),
            escape(&x.url),
            x.status,
            id_cell(&x.request_id),
            id_cell(&x.correlation_id),
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// The failing step and the reason: the recorded failure, else the first failed step of the transcript.
fn failing_step(s: &ScenarioView) -> Option<(String, String)> {
    if let Some(f) = &s.failure {
        return Some(f.clone());
    }
    s.steps.iter().find(|st| st.status == "failed").map(|st| {
        (format!("{} {}", st.keyword.trim(), st.text), st.error.clone().unwrap_or_else(|| "no reason recorded".into()))
    })
}

/// The failures of earlier attempts (retries), oldest first.
fn earlier_attempts(out: &mut String, earlier: &[(String, String)]) {
    if earlier.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h4>Earlier failed attempts ({})</h4>\n<ol class=\"earlier\">", earlier.len());
    for (step, reason) in earlier {
        let _ = writeln!(
            out,
            "<li><pre class=\"step\">{}</pre><pre class=\"reason\">{}</pre></li>",
            escape(step),
            escape(reason)
        );
    }
    out.push_str("</ol>\n");
}

fn failures(out: &mut String, evidence: &Evidence, order: &[usize], anchors: &Anchors) {
    let failed: Vec<usize> =
        order.iter().copied().filter(|&i| evidence.scenarios[i].verdict == Verdict::Failed).collect();
    out.push_str("<section id=\"failures\">\n");
    let _ = writeln!(out, "<h2>Failures ({})</h2>", failed.len());
    if failed.is_empty() {
        out.push_str("<p>No scenario failed.</p>\n</section>\n");
        return;
    }
    for i in failed {
        let s = &evidence.scenarios[i];
        let sid = &anchors.scenario[i];
        let _ = writeln!(
            out,
            r#"<article class="failure" id="{}" data-location="{}">"#,
            Anchors::failure_of(sid),
            escape(&s.location)
        );
        let _ = writeln!(
            out,
            "<h3>{} {} <span class=\"small\">— {}</span></h3>",
            badge(Verdict::Failed),
            escape(&s.name),
            escape(&s.feature)
        );
        let _ = writeln!(
            out,
            "<table class=\"facts\"><tbody>\n<tr><th scope=\"row\">Feature</th><td>{}</td></tr>\n\
             <tr><th scope=\"row\">Location</th><td><code>{}</code></td></tr>\n\
             <tr><th scope=\"row\">Requirements</th><td>{}</td></tr>\n\
             <tr><th scope=\"row\">Attempts</th><td>{}</td></tr>\n</tbody></table>",
            escape(&s.feature),
            escape(&s.location),
            anchors.requirement_links(&s.requirements),
            s.attempts
        );
        let failing = failing_step(s);
        match &failing {
            Some((step, reason)) => {
                let _ = writeln!(
                    out,
                    "<h4>Failing step</h4>\n<pre class=\"step\">{}</pre>\n<h4>Reason</h4>\n<pre class=\"reason\">{}</pre>",
                    escape(step),
                    escape(reason)
                );
            }
            None => out.push_str("<p class=\"none\">The failing step was not recorded.</p>\n"),
        }
        earlier_attempts(out, &s.earlier_failures);
        out.push_str("<h4>Exchanges</h4>\n");
        exchanges_table(out, &s.exchanges, failing.as_ref().map(|(step, _)| step.as_str()));
        let _ = writeln!(out, r##"<p><a href="#{sid}">Every step of this scenario</a></p>"##);
        out.push_str("</article>\n");
    }
    out.push_str("</section>\n");
}

fn steps_list(out: &mut String, steps: &[StepView]) {
    if steps.is_empty() {
        out.push_str("<p class=\"none\">No steps recorded.</p>\n");
        return;
    }
    out.push_str("<ol class=\"steps\">\n");
    for st in steps {
        let _ = write!(
            out,
            "<li>{} <strong>{}</strong> {}",
            step_badge(&st.status),
            escape(st.keyword.trim()),
            escape(&st.text)
        );
        if let Some(e) = &st.error {
            let _ = write!(out, "<pre class=\"reason\">{}</pre>", escape(e));
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ol>\n");
}

fn scenarios(
    out: &mut String,
    evidence: &Evidence,
    order: &[usize],
    anchors: &Anchors,
    sut_anchors: &HashMap<usize, String>,
) {
    out.push_str("<section id=\"scenarios\">\n");
    let _ = writeln!(out, "<h2>Every scenario ({})</h2>", evidence.scenarios.len());
    out.push_str(
        "<p class=\"filter\"><input type=\"checkbox\" id=\"only-failed\"> <label for=\"only-failed\">Show only \
         failed scenarios</label></p>\n<ol class=\"scenarios\">\n",
    );
    for &i in order {
        let s = &evidence.scenarios[i];
        let sid = &anchors.scenario[i];
        let _ = writeln!(
            out,
            r#"<li class="scenario" id="{sid}" data-verdict="{}" data-location="{}" data-attempts="{}">"#,
            verdict_word(s.verdict),
            escape(&s.location),
            s.attempts
        );
        let flaky = if is_flaky(s) {
            r#" <span class="badge flaky"><span aria-hidden="true">⚠</span> flaky: passed on a retry</span>"#
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<h3>{}{flaky} {} <span class=\"small\">— {}</span></h3>",
            badge(s.verdict),
            escape(&s.name),
            escape(&s.feature)
        );
        let _ = write!(
            out,
            "<dl class=\"meta\"><div><dt>Location</dt><dd><code>{}</code></dd></div>\
             <div><dt>Requirements</dt><dd>{}</dd></div><div><dt>Duration</dt><dd>{}</dd></div>\
             <div><dt>Attempts</dt><dd>{}</dd></div>",
            escape(&s.location),
            anchors.requirement_links(&s.requirements),
            duration(s.duration_ms),
            s.attempts
        );
        if !s.tags.is_empty() {
            let tags: Vec<String> =
                s.tags.iter().map(|t| format!("<code>@{}</code>", escape(t.trim_start_matches('@')))).collect();
            let _ = write!(out, "<div><dt>Tags</dt><dd>{}</dd></div>", tags.join(" "));
        }
        out.push_str("</dl>\n");
        if s.verdict == Verdict::Failed {
            let _ = writeln!(out, r##"<p><a href="#{}">The failure, in detail</a></p>"##, Anchors::failure_of(sid));
        }
        let _ = writeln!(
            out,
            "<details><summary>{} and {}</summary>",
            plural(s.steps.len(), "step", "steps"),
            plural(s.exchanges.len(), "exchange", "exchanges")
        );
        if let (Some(sut), Some(id)) = (&s.sut, sut_anchors.get(&i)) {
            let _ = writeln!(
                out,
                r##"<p>System under test: {} and {} — <a href="#{id}">what it was asked, reported and sent</a></p>"##,
                plural(sut.actions.len(), "action", "actions"),
                plural(sut.requests.len(), "request", "requests")
            );
        }
        steps_list(out, &s.steps);
        earlier_attempts(out, &s.earlier_failures);
        let failing = if s.verdict == Verdict::Failed { failing_step(s).map(|(step, _)| step) } else { None };
        exchanges_table(out, &s.exchanges, failing.as_deref());
        out.push_str("</details>\n</li>\n");
    }
    out.push_str("</ol>\n</section>\n");
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
            "These verdicts grade scr-assure's bundled reference client: they prove the grader, not a supplier's \
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
        assert!(shown.contains(&format!("<pre>{}</pre>", "x".repeat(BODY_SHOWN))));
        assert!(shown.contains(r#"the whole body is in <a href="sut/0001-a.json">"#));
        assert_eq!(shown_body("é<", "f"), "<pre>é&lt;</pre>");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(42), "42 ms");
        assert_eq!(duration(1234), "1.23 s");
        assert_eq!(duration(125_000), "2 min 05 s");
    }
}
