//! The state of one scenario: its patients, the headers it changed, and every exchange it made.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use reqwest::Method;
use serde_json::Value;

use super::context::{self, Lane, RunContext};
use crate::client::{ClientError, Exchange, HeaderValue, ScrClient, ScrRequest, TransportFault};
use crate::fhir::conformance;
use crate::fhir::schema::FhirValidator;
use crate::identity::client::TokenOutcome;
use crate::scr::codes::{BASE_PATH, FHIR_JSON};
use crate::secret::Secret;

/// Why a step failed; its `Display` is what the reports show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure(pub String);

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StepFailure {}

impl From<String> for StepFailure {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for StepFailure {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

pub type StepResult = Result<(), StepFailure>;

/// Which access token later SCR requests carry.
#[derive(Debug, Clone, Default)]
pub enum TokenChoice {
    /// The run's default token (on the main lane), or an inert placeholder where no token is checked.
    #[default]
    Default,
    /// No `Authorization` header at all.
    Absent,
    /// `Authorization: Bearer <text>` with a literal the scenario chose.
    Literal(Secret),
    /// A token this scenario obtained (user-restricted or application-restricted).
    Held { token: Secret, user_restricted: bool },
}

/// A patient of this scenario.
#[derive(Debug, Clone, Default)]
pub struct Patient {
    pub nhs_number: String,
    /// SCR id of the latest successful upload (or bound with a Given).
    pub scr: Option<String>,
    /// The id before the latest upload.
    pub previous_scr: Option<String>,
    /// The body of the latest upload this scenario saw accepted (201), for comparing with the document read back.
    pub uploaded: Option<Value>,
}

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{(nhs|scr|scr-lower|previous-scr):([^}]+)\}|\{(uuid|UUID|base-path)\}")
        .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});

/// Headers every request carries unless the scenario changes them.
pub const X_REQUEST_ID: &str = "X-Request-ID";
pub const X_CORRELATION_ID: &str = "X-Correlation-ID";
pub const SESSION_URID: &str = "NHSD-Session-URID";

#[derive(cucumber::World)]
#[world(init = Self::new)]
pub struct ScrWorld {
    ctx: Arc<RunContext>,
    /// Which server this scenario talks to (from its tags).
    pub lane: Lane,
    /// `file:line` of the scenario (or its Examples row).
    pub location: String,
    /// This scenario's client clock error in seconds (positive: fast); tokens it mints are dated with it.
    pub skew_seconds: i64,
    patients: BTreeMap<String, Patient>,
    /// Header changes in the order the scenario made them: `Some(value)` sets, `None` removes.
    header_changes: Vec<(String, Option<String>)>,
    /// Every exchange of the scenario, oldest first.
    pub exchanges: Vec<Exchange>,
    /// The access token later SCR requests carry.
    pub token: TokenChoice,
    /// The identity service's latest answer to this scenario.
    pub token_outcome: Option<TokenOutcome>,
    /// Every refresh token this scenario was given, oldest first.
    pub refresh_tokens: Vec<Secret>,
    /// The `jti` of the latest client assertion this scenario minted.
    pub last_jti: Option<String>,
    /// The latest `/oauth2/userinfo` answer.
    pub userinfo: Option<(u16, serde_json::Value)>,
    /// The scenario sends non-conformant requests on purpose (its verdicts are kept but do not fail it).
    pub deliberately_invalid: bool,
    /// The next request is built non-conformant on purpose (a change, a raw body, another media type).
    pub next_request_deliberate: bool,
    /// Headers the next request alone carries, over the defaults and the scenario's changes.
    pub next_headers: Vec<(String, String)>,
    /// The latest request that failed below HTTP (timeout, reset, refused redirect …): its fault and message.
    pub transport_failure: Option<(TransportFault, String)>,
    /// Mock-only admin routes to `DELETE` when the scenario ends, whatever its outcome (faults it armed, the
    /// rate limit it turned on).
    pub cleanups: Vec<String>,
    /// Client scenarios: what the system under test was asked and did.
    pub sut: SutState,
}

/// A client scenario's view of the system under test.
#[derive(Default)]
pub struct SutState {
    /// The folder the SUT may keep its session in between this scenario's actions (removed with the World).
    session_dir: Option<tempfile::TempDir>,
    /// The CIS2 id_token handed to the SUT, and its fingerprint (how the journal names the SUT's session).
    id_token: Option<Secret>,
    pub session: Option<String>,
    pub actions: Vec<crate::sut::ActionReport>,
    /// The SUT's traffic in this scenario, as of the latest fetch.
    pub traffic: Vec<crate::mock::traffic::TrafficEntry>,
}

impl fmt::Debug for ScrWorld {
    /// Only what helps to read a failure; secrets live in the context and are typed anyway.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScrWorld")
            .field("lane", &self.lane)
            .field("skew_seconds", &self.skew_seconds)
            .field("patients", &self.patients)
            .field("header_changes", &self.header_changes)
            .field("exchanges", &self.exchanges.len())
            .field("token", &self.token)
            .finish()
    }
}

impl ScrWorld {
    fn new() -> Result<Self, StepFailure> {
        let ctx = context::current().ok_or("no run in progress: scenarios are started by `scr-assure run`")?;
        Ok(Self {
            ctx,
            lane: Lane::Main,
            location: String::new(),
            skew_seconds: 0,
            patients: BTreeMap::new(),
            header_changes: Vec::new(),
            exchanges: Vec::new(),
            token: TokenChoice::Default,
            token_outcome: None,
            refresh_tokens: Vec::new(),
            last_jti: None,
            userinfo: None,
            deliberately_invalid: false,
            next_request_deliberate: false,
            next_headers: Vec::new(),
            transport_failure: None,
            cleanups: Vec::new(),
            sut: SutState::default(),
        })
    }

    pub fn ctx(&self) -> &RunContext {
        &self.ctx
    }

    fn client(&self) -> &ScrClient {
        &self.ctx.endpoint(self.lane).client
    }

    /// The patient behind an alias, allocating a fresh NHS number on first use.
    pub fn patient(&mut self, alias: &str) -> Result<&mut Patient, StepFailure> {
        if !self.patients.contains_key(alias) {
            let nhs = self.ctx.patients.next().ok_or("the test NHS number range is exhausted")?;
            self.patients.insert(alias.to_owned(), Patient { nhs_number: nhs.to_string(), ..Patient::default() });
        }
        self.patients.get_mut(alias).ok_or_else(|| StepFailure(format!("patient '{alias}' vanished")))
    }

    /// Binds an alias to a fixed NHS number (sandbox scenarios).
    pub fn bind_patient(&mut self, alias: &str, nhs_number: &str) {
        self.patients.insert(alias.to_owned(), Patient { nhs_number: nhs_number.to_owned(), ..Patient::default() });
    }

    pub fn nhs(&mut self, alias: &str) -> Result<String, StepFailure> {
        Ok(self.patient(alias)?.nhs_number.clone())
    }

    /// The current SCR id of a patient.
    pub fn scr(&mut self, alias: &str) -> Result<String, StepFailure> {
        self.patient(alias)?
            .scr
            .clone()
            .ok_or_else(|| StepFailure(format!("patient '{alias}' has no SCR in this scenario yet")))
    }

    /// Records a new current SCR id, keeping the old one as the previous.
    pub fn set_scr(&mut self, alias: &str, id: String) -> StepResult {
        let patient = self.patient(alias)?;
        patient.previous_scr = patient.scr.replace(id);
        Ok(())
    }

    /// Replaces every placeholder of `docs/STEPS.md` in `text`.
    pub fn substitute(&mut self, text: &str) -> Result<String, StepFailure> {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        let matches: Vec<_> = PLACEHOLDER.captures_iter(text).collect();
        for caps in matches {
            let Some(whole) = caps.get(0) else { continue };
            out.push_str(&text[last..whole.start()]);
            let value = match (
                caps.get(1).map(|m| m.as_str()),
                caps.get(2).map(|m| m.as_str()),
                caps.get(3).map(|m| m.as_str()),
            ) {
                (Some("nhs"), Some(alias), _) => self.nhs(alias)?,
                (Some("scr"), Some(alias), _) => self.scr(alias)?,
                (Some("scr-lower"), Some(alias), _) => self.scr(alias)?.to_lowercase(),
                (Some("previous-scr"), Some(alias), _) => self
                    .patient(alias)?
                    .previous_scr
                    .clone()
                    .ok_or_else(|| StepFailure(format!("patient '{alias}' has no previous SCR")))?,
                (_, _, Some("uuid")) => uuid::Uuid::new_v4().to_string(),
                (_, _, Some("UUID")) => uuid::Uuid::new_v4().to_string().to_uppercase(),
                (_, _, Some("base-path")) => BASE_PATH.to_owned(),
                _ => whole.as_str().to_owned(),
            };
            out.push_str(&value);
            last = whole.end();
        }
        out.push_str(&text[last..]);
        Ok(out)
    }

    /// What snapshots replace by placeholders: the server's origin and this scenario's patients and SCR ids.
    pub fn snapshot_replacements(&self) -> Vec<(String, String)> {
        let base = self.client().base_url();
        let origin = base.strip_suffix(BASE_PATH).unwrap_or(base).to_owned();
        let mut out = vec![(origin, "[origin]".to_owned())];
        for (alias, p) in &self.patients {
            out.push((p.nhs_number.clone(), format!("[nhs:{alias}]")));
            if let Some(id) = &p.scr {
                out.push((id.clone(), format!("[scr:{alias}]")));
                out.push((id.to_lowercase(), format!("[scr-lower:{alias}]")));
            }
            if let Some(id) = &p.previous_scr {
                out.push((id.clone(), format!("[previous-scr:{alias}]")));
            }
        }
        out
    }

    /// Sets (or with `None` removes) a header on every later request of the scenario.
    pub fn change_header(&mut self, name: &str, value: Option<String>) {
        self.header_changes.push((name.to_owned(), value));
    }

    /// The `Authorization` value of the next request, if any.
    async fn authorization(&self) -> Result<Option<Secret>, StepFailure> {
        let token = match &self.token {
            TokenChoice::Absent => return Ok(None),
            TokenChoice::Literal(t) | TokenChoice::Held { token: t, .. } => t.clone(),
            TokenChoice::Default => match (self.lane, &self.ctx.auth) {
                (Lane::Client, _) => {
                    let lane = self.client_lane()?;
                    lane.auth.default_token(&lane.clock).await.map_err(|e| {
                        StepFailure(format!("cannot obtain the harness's access token on the client lane: {e}"))
                    })?
                }
                (Lane::Main, Some(auth)) => auth
                    .default_token(&self.ctx.clock)
                    .await
                    .map_err(|e| StepFailure(format!("cannot obtain the run's default access token: {e}")))?,
                _ => self.ctx.access_token.clone(),
            },
        };
        Ok(Some(Secret::new(format!("Bearer {}", token.expose()))))
    }

    /// The headers of the next request: the defaults, then the scenario's changes.
    async fn request_headers(&self, method: &Method) -> Result<Vec<(String, HeaderValue)>, StepFailure> {
        let mut headers: Vec<(String, HeaderValue)> = vec![
            (X_REQUEST_ID.into(), HeaderValue::Plain(uuid::Uuid::new_v4().to_string())),
            (X_CORRELATION_ID.into(), HeaderValue::Plain(uuid::Uuid::new_v4().to_string())),
        ];
        headers.push((SESSION_URID.into(), HeaderValue::Plain(self.ctx.session_urid.clone())));
        if let Some(auth) = self.authorization().await? {
            headers.push(("Authorization".into(), HeaderValue::Secret(auth)));
        }
        headers.push(("Accept".into(), HeaderValue::Plain(FHIR_JSON.into())));
        if *method == Method::POST {
            headers.push(("Content-Type".into(), HeaderValue::Plain(FHIR_JSON.into())));
        }
        for (name, change) in &self.header_changes {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            if let Some(value) = change {
                let value = if crate::secret::is_secret_header(name) {
                    HeaderValue::Secret(Secret::new(value.clone()))
                } else {
                    HeaderValue::Plain(value.clone())
                };
                headers.push((name.clone(), value));
            }
        }
        Ok(headers)
    }

    /// Sends a request to the scenario's target and keeps the exchange.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: Option<&str>,
    ) -> Result<&Exchange, StepFailure> {
        let mut headers = self.request_headers(&method).await?;
        let content_type = content_type.map(|ct| ("Content-Type".to_owned(), ct.to_owned()));
        for (name, value) in content_type.into_iter().chain(std::mem::take(&mut self.next_headers)) {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
            headers.push((name, HeaderValue::Plain(value)));
        }
        let request = ScrRequest { method, path: path.to_owned(), headers, body };
        self.transport_failure = None;
        let mut exchange = match self.client().send(request).await {
            Ok(exchange) => exchange,
            Err(e) => return Err(self.transport_failed(e)),
        };
        let deliberate = self.deliberately_invalid || std::mem::take(&mut self.next_request_deliberate);
        let validator =
            FhirValidator::shared().map_err(|e| StepFailure(format!("cannot load the FHIR schema: {e}")))?;
        let verdict = conformance::assess(
            validator,
            &exchange.request.method,
            path,
            exchange.request.body.as_deref(),
            deliberate,
            exchange.response.status,
            &exchange.response.body,
        );
        let failure = verdict.failure();
        exchange.conformance = Some(verdict);
        self.exchanges.push(exchange);
        if let Some(why) = failure {
            return Err(StepFailure(why));
        }
        self.last()
    }

    /// Keeps a transport failure (and the exchange of a refused redirect) and turns it into the step's failure.
    fn transport_failed(&mut self, e: ClientError) -> StepFailure {
        let message = e.to_string();
        self.transport_failure = Some((e.fault(), message.clone()));
        if let ClientError::RedirectRefused { exchange, .. } = e {
            self.exchanges.push(*exchange);
        }
        // Marked, so that the reports tell it from the product's failure (a JUnit `<error>`).
        StepFailure(format!("{}{message}", super::recorder::TRANSPORT_MARK))
    }

    /// Sends like [`ScrWorld::send`], but a request that gets no HTTP answer does not fail the step: the failure
    /// is kept in `transport_failure` for a Then step.
    pub async fn try_send(&mut self, method: Method, path: &str, body: Option<Vec<u8>>) -> StepResult {
        let outcome = self.send(method, path, body, None).await.map(|_| ());
        match outcome {
            Err(_) if self.transport_failure.is_some() => Ok(()),
            other => other,
        }
    }

    /// POSTs a JSON body.
    pub async fn post_json(&mut self, path: &str, body: &Value) -> Result<&Exchange, StepFailure> {
        self.send(Method::POST, path, Some(body.to_string().into_bytes()), None).await
    }

    /// The latest exchange.
    pub fn last(&self) -> Result<&Exchange, StepFailure> {
        self.exchanges.last().ok_or_else(|| StepFailure("no request has been sent in this scenario".into()))
    }

    /// One exchange with a mock-only admin route (`/_admin/...`), JSON body if any.
    async fn admin_exchange(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Exchange, StepFailure> {
        let origin = self
            .ctx
            .endpoint(self.lane)
            .admin_origin
            .as_deref()
            .ok_or("this step needs the embedded mock's admin routes: tag the scenario @mock-only")?;
        let client = self.ctx.admin_client(origin).map_err(|e| StepFailure(e.to_string()))?;
        let headers = match body {
            Some(_) => vec![("Content-Type".to_owned(), HeaderValue::Plain("application/json".to_owned()))],
            None => vec![],
        };
        let request = ScrRequest {
            method,
            path: format!("/_admin{path}"),
            headers,
            body: body.map(|b| b.to_string().into_bytes()),
        };
        client.send(request).await.map_err(|e| StepFailure(e.to_string()))
    }

    /// Sends a request to a mock-only admin route (`/_admin/...`); returns the status and the JSON body (null
    /// when empty).
    pub async fn admin_send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), StepFailure> {
        let exchange = self.admin_exchange(method, path, body).await?;
        let status = exchange.response.status;
        if exchange.response.body.is_empty() {
            return Ok((status, Value::Null));
        }
        let json = serde_json::from_str(&exchange.response.body)
            .map_err(|e| StepFailure(format!("admin route {path} answered {status}: not JSON ({e})")))?;
        Ok((status, json))
    }

    /// Undoes what the scenario arranged on the mock (its `cleanups`); failures are only logged.
    pub async fn clean_up(&mut self) {
        for path in std::mem::take(&mut self.cleanups) {
            if let Err(e) = self.admin_send(Method::DELETE, &path, None).await {
                tracing::warn!("cleaning up {path} after the scenario failed: {e}");
            }
        }
    }

    /// The client lane (client scenarios only).
    pub fn client_lane(&self) -> Result<&context::ClientLane, StepFailure> {
        self.ctx.client.as_ref().ok_or_else(|| {
            StepFailure("this step needs the client lane: tag the scenario @client and run against the mock".into())
        })
    }

    /// Runs one action of the system under test, with this scenario's session folder and clinician id_token,
    /// then fetches the SUT's traffic. The action's report is kept whatever happened; a driver failure
    /// (missing program, timeout, no JSON …) fails the step with its message.
    pub async fn sut_action(
        &mut self,
        action: crate::sut::Action,
        params: Vec<(&str, String)>,
        instruction: String,
    ) -> Result<&crate::sut::ActionReport, StepFailure> {
        self.sut_session_dir()?;
        let lane = self.ctx.client.as_ref().ok_or("this step needs the client lane: tag the scenario @client")?;
        if self.sut.id_token.is_none() {
            let token = lane
                .auth
                .id_token(&lane.persona, lane.clock.now(), 0, vec![], None)
                .map_err(|e| StepFailure(format!("cannot mint the clinician's CIS2 id_token: {e}")))?;
            self.sut.session = Some(token.0.fingerprint());
            self.sut.id_token = Some(token.0);
        }
        let (Some(dir), Some(id_token)) = (&self.sut.session_dir, &self.sut.id_token) else {
            return Err("the SUT's session was not set up".into());
        };
        let env = crate::sut::ActionEnv {
            base_url: lane.endpoint.client.base_url().to_owned(),
            token_url: lane.token_url(),
            authorize_url: format!("{}/oauth2/authorize", lane.origin),
            userinfo_url: format!("{}/oauth2/userinfo", lane.origin),
            id_token: id_token.clone(),
            urid: lane.urid.clone(),
            session_dir: dir.path().to_owned(),
            scenario: self.location.clone(),
        };
        let request = crate::sut::ActionRequest {
            action,
            params: params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            env,
            instruction,
        };
        let report = crate::sut::run_action(&lane.sut, &request).await;
        self.sut.actions.push(report);
        self.refresh_sut_traffic().await?;
        let report = self.sut.actions.last().ok_or("the action's report vanished")?;
        if let Some(failure) = &report.failure {
            return Err(StepFailure(format!("the SUT could not be driven: {failure}")));
        }
        Ok(report)
    }

    /// The scenario's session folder for the SUT, made on first use.
    fn sut_session_dir(&mut self) -> Result<std::path::PathBuf, StepFailure> {
        if self.sut.session_dir.is_none() {
            let lane = self.client_lane()?;
            let dir = tempfile::Builder::new()
                .prefix("scenario-")
                .tempdir_in(lane.sessions.path())
                .map_err(|e| StepFailure(format!("cannot make the SUT's session folder: {e}")))?;
            self.sut.session_dir = Some(dir);
        }
        self.sut.session_dir.as_ref().map(|d| d.path().to_owned()).ok_or_else(|| "no session folder".into())
    }

    /// Writes a file the SUT is handed (e.g. the GP Summary to upload) into the scenario's session folder.
    pub fn sut_file(&mut self, name: &str, bytes: &[u8]) -> Result<std::path::PathBuf, StepFailure> {
        let path = self.sut_session_dir()?.join(name);
        std::fs::write(&path, bytes).map_err(|e| StepFailure(format!("cannot write {}: {e}", path.display())))?;
        Ok(path)
    }

    /// The latest action's outcome.
    pub fn sut_outcome(&self) -> Result<&crate::sut::SutOutcome, StepFailure> {
        let report = self.sut.actions.last().ok_or("the SUT has not been asked to do anything in this scenario")?;
        report.result().map_err(StepFailure)
    }

    /// Fetches the SUT's traffic of this scenario from the client lane's journal: the SUT app's requests that
    /// belong to this scenario's CIS2 session or name one of its patients.
    pub async fn refresh_sut_traffic(&mut self) -> StepResult {
        let lane = self.client_lane()?;
        let app = lane.app_name.clone();
        // Filtered by the mock: this scenario's CIS2 session, and each of its patients (the journal of a whole
        // run is large; a scenario's slice is small).
        let mut queries: Vec<String> =
            self.sut.session.iter().map(|s| format!("/traffic?app={app}&session={s}")).collect();
        queries.extend(self.patients.values().map(|p| format!("/traffic?app={app}&patient={}", p.nhs_number)));
        let mut by_seq = std::collections::BTreeMap::new();
        for path in queries {
            let found = self.admin_get(&path).await?;
            let entries: Vec<crate::mock::traffic::TrafficEntry> = serde_json::from_value(found).map_err(|e| {
                StepFailure(format!("the client lane's traffic journal is not what the grader reads: {e}"))
            })?;
            by_seq.extend(entries.into_iter().map(|e| (e.seq, e)));
        }
        self.sut.traffic = by_seq.into_values().collect();
        Ok(())
    }

    /// What the SUT did in this scenario, for the reports (taken once, when the scenario ends; the traffic as
    /// fetched after its last action).
    pub fn take_sut_evidence(&mut self) -> Option<context::SutEvidence> {
        if self.sut.actions.is_empty() {
            return None;
        }
        Some(context::SutEvidence {
            actions: std::mem::take(&mut self.sut.actions),
            traffic: std::mem::take(&mut self.sut.traffic),
        })
    }

    /// GETs a mock-only admin route (`/_admin/...`) and parses its JSON.
    pub async fn admin_get(&self, path: &str) -> Result<Value, StepFailure> {
        let exchange = self.admin_exchange(Method::GET, path, None).await?;
        super::checks::json_body(&exchange.response).map_err(|e| StepFailure(format!("admin route {path}: {e}")))
    }
}
