//! A bounded concurrent load on the stateful mock over loopback, checked against the mock's own audit trail:
//! 32 clients mix reads, uploads, consent changes and privacy alerts over four shared patients (so requests
//! collide), each request with its own X-Request-ID. Afterwards:
//! (a) every request the clients sent is in the trail exactly once, with the status the client saw — nothing
//!     lost, nothing invented;
//! (b) replaying the state-changing requests serially, in trail order, against a fresh mock gives every one
//!     the same status and leaves every patient in the same state (permission, SCR ids in order, alerts);
//! (c) every answer — reads included — is what a serial model predicts at its trail position;
//! (d) the chain verifies, and an edited entry does not.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use scr_assure::clock::Clock;
use scr_assure::mock::audit::{self, AuditEntry};
use scr_assure::mock::operation::Operation;
use scr_assure::mock::{self, MockConfig, Profile, RunningMock};
use scr_assure::scr::{payloads, NhsNumber};

const CLIENTS: u64 = 32;
const REQUESTS_PER_CLIENT: usize = 20;
const FHIR_JSON: &str = "application/fhir+json";
const URID: &str = "555254240100";
const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
/// Permitted alert type/subtype pairs (reference §4.5).
const ALERTS: [(&str, &str); 5] = [("1", "1"), ("1", "3"), ("1", "6"), ("2", "5"), ("2", "2")];

/// A tiny xorshift64*: deterministic per client, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What a client asked.
#[derive(Debug, Clone)]
enum Ask {
    ScrId { nhs: String },
    Scr { nhs: String, id: String },
    Upload { nhs: String, id: String, body: String },
    Permission { nhs: String, code: String, body: String },
    Alert { nhs: String, alert_type: String, subtype: String, body: String },
}

impl Ask {
    fn nhs(&self) -> &str {
        match self {
            Self::ScrId { nhs }
            | Self::Scr { nhs, .. }
            | Self::Upload { nhs, .. }
            | Self::Permission { nhs, .. }
            | Self::Alert { nhs, .. } => nhs,
        }
    }

    fn operation(&self) -> Operation {
        match self {
            Self::ScrId { .. } => Operation::GetScrId,
            Self::Scr { .. } => Operation::GetScr,
            Self::Upload { .. } => Operation::UploadScr,
            Self::Permission { .. } => Operation::SetPermission,
            Self::Alert { .. } => Operation::SendAlert,
        }
    }

    fn changes_state(&self) -> bool {
        matches!(self, Self::Upload { .. } | Self::Permission { .. } | Self::Alert { .. })
    }
}

/// What the client saw.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// 200 searchset with no SCR.
    Empty,
    /// 200 DocumentReference: the SCR id and the permission label.
    ScrId { id: String, permission: String },
    /// 200 document whose Composition carries this SCR id.
    Document { id: String },
    /// Any other answer: the status only.
    Status(u16),
}

#[derive(Debug, Clone)]
struct Sent {
    request_id: String,
    ask: Ask,
    status: u16,
    seen: Seen,
}

async fn send(http: &reqwest::Client, base: &str, ask: &Ask, request_id: &str) -> (u16, Seen) {
    let (method, url, body) = match ask {
        Ask::ScrId { nhs } => (Method::GET, format!("{base}/DocumentReference?patient={NHS_SYSTEM}|{nhs}"), None),
        Ask::Scr { nhs, id } => (
            Method::GET,
            format!(
                "{base}/Bundle?composition.identifier={id}&composition.subject:Patient.identifier={NHS_SYSTEM}|{nhs}"
            ),
            None,
        ),
        Ask::Upload { body, .. } => (Method::POST, format!("{base}/Bundle"), Some(body.clone())),
        Ask::Permission { body, .. } => (Method::POST, format!("{base}/$setPermission"), Some(body.clone())),
        Ask::Alert { body, .. } => (Method::POST, format!("{base}/AuditEvent"), Some(body.clone())),
    };
    let mut request = http
        .request(method, &url)
        .header("X-Request-ID", request_id)
        .header("X-Correlation-ID", uuid::Uuid::new_v4().to_string())
        .header("NHSD-Session-URID", URID)
        .header("Authorization", "Bearer load-test");
    if let Some(body) = body {
        request = request.header("Content-Type", FHIR_JSON).body(body);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status();
    let text = response.text().await.unwrap_or_else(|e| panic!("{url}: reading the body: {e}"));
    if status != StatusCode::OK {
        return (status.as_u16(), Seen::Status(status.as_u16()));
    }
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"));
    let first = &body["entry"][0]["resource"];
    let seen = match (body["total"].as_u64(), first["resourceType"].as_str()) {
        (Some(0), _) => Seen::Empty,
        (_, Some("DocumentReference")) => Seen::ScrId {
            id: first["masterIdentifier"]["value"].as_str().unwrap_or_default().to_owned(),
            permission: first["securityLabel"][0]["coding"][0]["code"].as_str().unwrap_or_default().to_owned(),
        },
        (_, Some("Composition")) => {
            Seen::Document { id: first["identifier"]["value"].as_str().unwrap_or_default().to_owned() }
        }
        _ => panic!("{url}: unexpected 200 body: {text}"),
    };
    (200, seen)
}

/// One client's random request, over the shared patients and the SCR ids anyone has tried (patient, id).
fn next_ask(rng: &mut Rng, patients: &[String], tried: &Mutex<Vec<(String, String)>>) -> Ask {
    let nhs = rng.pick(patients).clone();
    let known = || tried.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let fresh_id = || uuid::Uuid::new_v4().to_string().to_uppercase();
    match rng.below(100) {
        0..=19 => Ask::ScrId { nhs },
        20..=39 => {
            // Mostly the id last tried for this patient (often its latest SCR), else any id tried, else a new one.
            let ids = known();
            let own: Vec<&String> = ids.iter().filter(|(n, _)| *n == nhs).map(|(_, id)| id).collect();
            let id = match (rng.below(10), own.last()) {
                (0..=5, Some(last)) => (*last).clone(),
                (6..=8, _) if !ids.is_empty() => rng.pick(&ids).1.clone(),
                _ => fresh_id(),
            };
            Ask::Scr { nhs, id }
        }
        40..=64 => {
            let ids = known();
            // One upload in six reuses an id someone tried: Spine's duplicate-event NACK.
            let id = if !ids.is_empty() && rng.below(6) == 0 {
                rng.pick(&ids).1.clone()
            } else {
                let id = fresh_id();
                tried.lock().unwrap_or_else(PoisonError::into_inner).push((nhs.clone(), id.clone()));
                id
            };
            let body = payloads::upload_bundle(&nhs, &id, None).to_string();
            Ask::Upload { nhs, id, body }
        }
        65..=84 => {
            let code = match rng.below(20) {
                0..=8 => "Yes",
                9..=15 => "Ask",
                _ => "No",
            };
            let body = payloads::set_permission(&nhs, code).to_string();
            Ask::Permission { nhs, code: code.to_owned(), body }
        }
        _ => {
            let (alert_type, subtype) = *rng.pick(&ALERTS);
            let body = payloads::privacy_alert(&nhs, alert_type, subtype, &fresh_id()).to_string();
            Ask::Alert { nhs, alert_type: alert_type.into(), subtype: subtype.into(), body }
        }
    }
}

/// A patient as a serial model of Spine sees them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ModelPatient {
    permission: Option<String>,
    scr_ids: Vec<String>,
    alerts: Vec<(String, String)>,
}

/// The serial model: what a request gets, and what it changes, at its position.
#[derive(Debug, Default)]
struct Model {
    patients: BTreeMap<String, ModelPatient>,
    held_ids: HashSet<String>,
}

impl Model {
    /// The answer a request gets, applying its change; and the permission the trail should record.
    fn apply(&mut self, ask: &Ask) -> (u16, Seen, Option<String>) {
        let patient = self.patients.entry(ask.nhs().to_owned()).or_default();
        let dissent = patient.permission.as_deref() == Some("No");
        let shown = patient.permission.clone().unwrap_or_else(|| "Ask".into());
        let latest = patient.scr_ids.last().cloned();
        match ask {
            Ask::ScrId { .. } | Ask::Scr { .. } if dissent => (403, Seen::Status(403), Some("No".into())),
            Ask::ScrId { .. } => match latest {
                None => (200, Seen::Empty, None),
                Some(id) => (200, Seen::ScrId { id, permission: shown.clone() }, Some(shown)),
            },
            Ask::Scr { id, .. } => match latest {
                None => (200, Seen::Empty, None),
                Some(latest) if &latest == id => (200, Seen::Document { id: latest }, Some(shown)),
                Some(_) => (200, Seen::Empty, Some(shown)),
            },
            Ask::Upload { .. } if dissent => (403, Seen::Status(403), Some("No".into())),
            Ask::Upload { id, .. } => {
                let permission = latest.is_some().then_some(shown);
                if self.held_ids.insert(id.clone()) {
                    patient.scr_ids.push(id.clone());
                    (201, Seen::Status(201), permission)
                } else {
                    (400, Seen::Status(400), permission)
                }
            }
            Ask::Permission { code, .. } => {
                patient.permission = Some(code.clone());
                (201, Seen::Status(201), Some(code.clone()))
            }
            Ask::Alert { alert_type, subtype, .. } => {
                patient.alerts.push((alert_type.clone(), subtype.clone()));
                (201, Seen::Status(201), None)
            }
        }
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap_or_else(|e| panic!("an HTTP client builds: {e}"))
}

async fn start_mock() -> RunningMock {
    let config = MockConfig { seed: false, clock: Clock::frozen_now(), ..MockConfig::loopback(Profile::Stateful) };
    mock::start(config).await.unwrap_or_else(|e| panic!("the mock starts on 127.0.0.1: {e}"))
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    let response = http.get(url).send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    response.json().await.unwrap_or_else(|e| panic!("{url}: not JSON: {e}"))
}

/// A patient's state as the mock's admin routes show it: permission, SCR ids in order, alerts' type/subtype.
async fn state_of(http: &reqwest::Client, origin: &str, nhs: &str) -> ModelPatient {
    let patient = get_json(http, &format!("{origin}/_admin/patients/{nhs}")).await;
    let alerts = get_json(http, &format!("{origin}/_admin/alerts?nhs={nhs}")).await;
    ModelPatient {
        permission: patient["permission"].as_str().map(str::to_owned),
        scr_ids: patient["scrIds"]
            .as_array()
            .map(|ids| ids.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default(),
        alerts: alerts
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|a| {
                        let field = |k: &str| a["alert"][k].as_str().unwrap_or_default().to_owned();
                        (field("alert_type"), field("alert_subtype"))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

async fn trail_of(http: &reqwest::Client, origin: &str) -> Vec<AuditEntry> {
    let value = get_json(http, &format!("{origin}/_admin/audit")).await;
    serde_json::from_value(value).unwrap_or_else(|e| panic!("the trail is a JSON array of entries: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_leave_a_trail_that_a_serial_replay_reproduces() {
    let started = std::time::Instant::now();
    let mock = start_mock().await;
    let (base, origin) = (mock.base_url(), mock.origin());
    let patients: Vec<String> =
        (999_400_000..).filter_map(NhsNumber::from_stem).take(4).map(|n| n.to_string()).collect();
    let tried: Arc<Mutex<Vec<(String, String)>>> = Arc::default();

    // Load: 32 clients at once, each with its own seeded generator.
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (base, patients, tried, http) = (base.clone(), patients.clone(), tried.clone(), http());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(0x5C2A_0000 + client);
            let mut sent = Vec::new();
            for _ in 0..REQUESTS_PER_CLIENT {
                let ask = next_ask(&mut rng, &patients, &tried);
                let request_id = uuid::Uuid::new_v4().to_string().to_uppercase();
                let (status, seen) = send(&http, &base, &ask, &request_id).await;
                sent.push(Sent { request_id, ask, status, seen });
            }
            sent
        }));
    }
    let mut sent: HashMap<String, Sent> = HashMap::new();
    for task in tasks {
        for s in task.await.unwrap_or_else(|e| panic!("a client task panicked: {e}")) {
            sent.insert(s.request_id.clone(), s);
        }
    }
    let total = CLIENTS as usize * REQUESTS_PER_CLIENT;
    assert_eq!(sent.len(), total, "every request had its own X-Request-ID");
    let http = http();
    let trail = trail_of(&http, &origin).await;

    // (a) Nothing lost, nothing invented: one entry per request, with the status the client saw.
    assert_eq!(trail.len(), total, "one audit entry per request");
    let mut seen_ids = HashSet::new();
    for entry in &trail {
        let id = entry.request_id.as_deref().unwrap_or_else(|| panic!("entry {} has no X-Request-ID", entry.seq));
        assert!(seen_ids.insert(id.to_owned()), "entry {}: request {id} recorded twice", entry.seq);
        let s = sent.get(id).unwrap_or_else(|| panic!("entry {}: request {id} was never sent", entry.seq));
        assert_eq!(entry.status, s.status, "entry {}: the trail claims another status than the client saw", entry.seq);
        assert_eq!(entry.operation, s.ask.operation(), "entry {}", entry.seq);
        assert_eq!(entry.patient.as_deref(), Some(s.ask.nhs()), "entry {}", entry.seq);
        assert_eq!(
            (entry.who.as_str(), entry.role.as_deref()),
            (audit::OPEN_ACCESS, Some(URID)),
            "entry {}",
            entry.seq
        );
    }
    let accepted = sent.values().filter(|s| (200..300).contains(&s.status)).count();
    let refused = total - accepted;
    let statuses: BTreeMap<u16, usize> = sent.values().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(s.status).or_default() += 1;
        m
    });
    // The mix really collided: dissent refusals and duplicate NACKs happened, as did documents read.
    assert!(statuses.contains_key(&403) && statuses.contains_key(&400), "statuses: {statuses:?}");
    let documents = sent.values().filter(|s| matches!(s.seen, Seen::Document { .. })).count();
    assert!(documents > 5, "reads returned documents: {documents}");
    assert!(accepted > total / 2 && refused > 0, "accepted {accepted}, refused {refused}");

    // (c) Every answer is what the serial model gives at the request's trail position.
    let mut model = Model::default();
    for entry in &trail {
        let s = &sent[entry.request_id.as_deref().unwrap_or_default()];
        let (status, seen, permission) = model.apply(&s.ask);
        assert_eq!(
            (status, &seen),
            (s.status, &s.seen),
            "entry {} ({:?}): the answer differs from the serial model's",
            entry.seq,
            s.ask.operation()
        );
        if s.ask.operation() != Operation::SendAlert {
            assert_eq!(entry.permission, permission, "entry {}: the permission recorded", entry.seq);
        }
        if let Ask::Alert { alert_type, subtype, .. } = &s.ask {
            let raised = entry.alert.as_ref().map(|a| (a.alert_type.as_str(), a.subtype.as_str()));
            assert_eq!(raised, Some((alert_type.as_str(), subtype.as_str())), "entry {}", entry.seq);
        }
    }
    for nhs in &patients {
        let live = state_of(&http, &origin, nhs).await;
        assert_eq!(live, model.patients.get(nhs).cloned().unwrap_or_default(), "patient {nhs}: mock vs model");
    }

    // (b) The state-changing requests replayed serially in trail order on a fresh mock: same answers, same state.
    let fresh = start_mock().await;
    let replay_http = http.clone();
    let mut replayed = 0;
    for entry in &trail {
        let s = &sent[entry.request_id.as_deref().unwrap_or_default()];
        if !s.ask.changes_state() {
            continue;
        }
        let (status, _) =
            send(&replay_http, &fresh.base_url(), &s.ask, &uuid::Uuid::new_v4().to_string().to_uppercase()).await;
        assert_eq!(status, s.status, "entry {} replayed: {:?} answered differently", entry.seq, s.ask.operation());
        replayed += 1;
    }
    assert!(replayed > total / 3, "replayed {replayed} state changes");
    for nhs in &patients {
        let (live, again) = (state_of(&http, &origin, nhs).await, state_of(&http, &fresh.origin(), nhs).await);
        assert_eq!(live, again, "patient {nhs}: the load's state differs from the serial replay's");
        assert!(!live.scr_ids.is_empty(), "patient {nhs} got uploads");
    }

    // (d) The chain verifies, over HTTP and here; an edited entry does not.
    let verdict = get_json(&http, &format!("{origin}/_admin/audit/verify")).await;
    assert_eq!((verdict["valid"].as_bool(), verdict["entries"].as_u64()), (Some(true), Some(total as u64)));
    assert_eq!(audit::verify(&trail), Ok(()));
    let mut tampered = trail.clone();
    tampered[total / 2].who = "someone-else".into();
    let tamper = audit::verify(&tampered).err();
    assert_eq!(tamper.map(|t| t.seq), Some(total as u64 / 2 + 1), "the edited entry is named");
    let mut dropped = trail.clone();
    dropped.remove(10);
    assert_eq!(audit::verify(&dropped).err().map(|t| t.seq), Some(12), "a deletion is found at the next entry");

    fresh.shutdown().await;
    mock.shutdown().await;
    eprintln!(
        "load: {total} requests ({accepted} accepted, {statuses:?}, {documents} documents read), {replayed} replayed, in {:?}",
        started.elapsed()
    );
}
