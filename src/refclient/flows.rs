//! The actions of docs/CLIENT.md §4 as a well-behaved clinical system performs them (reference §4.1–§4.5,
//! §7), each defect changing only its own line.

use reqwest::Method;
use serde_json::Value;

use super::bodies::{self, AlertAuthor, OverrideReason, ScrIdAnswer};
use super::client::{Client, FlowError, ScrRequest};
use super::defects::Defect;
use super::session::KeyChoice;
use super::transport::{query_value, Answer};
use super::{Action, Outcome};

const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

/// Runs `action`; `bundle` is the upload's Bundle file, already read. Every failure is an `error` outcome.
pub async fn run(client: &mut Client, action: &Action, bundle: Option<&Value>) -> Outcome {
    let result = match action {
        Action::Retrieve { nhs_number } => retrieve(client, nhs_number, None).await,
        Action::RetrieveWithAnswer { nhs_number, yes } => retrieve(client, nhs_number, Some(*yes)).await,
        Action::EmergencyAccess { nhs_number, reason } => emergency_access(client, nhs_number, *reason).await,
        Action::Upload { nhs_number, .. } => match bundle {
            Some(bundle) => upload(client, nhs_number, bundle).await,
            None => Err(FlowError::Local("no Bundle to upload".into())),
        },
        Action::RotateKey { kid } => rotate_key(client, kid).await,
    };
    result.unwrap_or_else(|e| Outcome::error(e.to_string()))
}

/// `GET /DocumentReference` with the exact query of reference §4.1.
fn get_scr_id(nhs: &str) -> ScrRequest {
    ScrRequest {
        method: Method::GET,
        target: format!(
            "/DocumentReference?patient={}&type={}&_sort=date&_count=1",
            query_value(&format!("{NHS_NUMBER_SYSTEM}|{nhs}")),
            query_value("http://snomed.info/sct|196981000000101"),
        ),
        body: None,
        upload: false,
        what: "GET /DocumentReference".into(),
    }
}

/// `GET /Bundle` for one SCR id (reference §4.2).
fn get_scr(nhs: &str, scr_id: &str) -> ScrRequest {
    ScrRequest {
        method: Method::GET,
        target: format!(
            "/Bundle?composition.identifier={}&composition.subject:Patient.identifier={}",
            query_value(scr_id),
            query_value(&format!("{NHS_NUMBER_SYSTEM}|{nhs}")),
        ),
        body: None,
        upload: false,
        what: "GET /Bundle".into(),
    }
}

fn post(target: &str, body: Vec<u8>, upload: bool) -> ScrRequest {
    ScrRequest {
        method: Method::POST,
        target: target.to_owned(),
        body: Some(body),
        upload,
        what: format!("POST {target}"),
    }
}

/// A 200's body, provided it is served as `application/fhir+json`.
fn fhir_body<'a>(what: &str, answer: &'a Answer) -> Result<&'a [u8], FlowError> {
    if answer.is_fhir_json() {
        return Ok(&answer.body);
    }
    let served = answer.media_type.as_deref().unwrap_or("no Content-Type");
    Err(FlowError::BadAnswer {
        what: what.to_owned(),
        reason: format!(
            "HTTP 200 served as {served}, not application/fhir+json: {}",
            bodies::describe_error(&answer.body)
        ),
    })
}

fn unexpected(what: &str, answer: &Answer) -> FlowError {
    FlowError::Unexpected { what: what.to_owned(), status: answer.status, detail: bodies::describe_error(&answer.body) }
}

/// The outcome of reading the SCR the latest id names.
enum Found {
    /// 403: the patient dissents.
    Forbidden,
    /// An empty searchset.
    NoScr,
    Scr {
        scr_id: String,
        permission: Option<String>,
    },
    /// `shows-partial-data`: a 200 whose body is not the expected JSON, reported as displayed.
    PartialData(Outcome),
}

/// `GET /DocumentReference` and its reading; remembers the id seen in the session.
async fn find_scr(client: &mut Client, nhs: &str) -> Result<Found, FlowError> {
    let request = get_scr_id(nhs);
    let answer = client.scr(&request).await?;
    match answer.status {
        403 => Ok(Found::Forbidden),
        200 => {
            let read = fhir_body(&request.what, &answer).and_then(|body| {
                bodies::read_scr_id(body)
                    .map_err(|e| FlowError::BadAnswer { what: request.what.clone(), reason: e.to_string() })
            });
            match read {
                Ok(ScrIdAnswer::NoScr) => Ok(Found::NoScr),
                Ok(ScrIdAnswer::Found { scr_id, permission }) => {
                    client.session.scr_ids.insert(nhs.to_owned(), scr_id.clone());
                    Ok(Found::Scr { scr_id, permission })
                }
                Err(_) if client.has(Defect::ShowsPartialData) => {
                    let remembered = client.session.scr_ids.get(nhs).cloned();
                    Ok(Found::PartialData(Outcome::displayed(remembered)))
                }
                Err(e) => Err(e),
            }
        }
        _ => Err(unexpected(&request.what, &answer)),
    }
}

/// `GET /Bundle` for `scr_id` → `displayed`, or `no-consent` on a 403.
async fn read(client: &mut Client, nhs: &str, scr_id: &str) -> Result<Outcome, FlowError> {
    let request = get_scr(nhs, scr_id);
    let answer = client.scr(&request).await?;
    match answer.status {
        403 => Ok(Outcome::no_consent()),
        200 => {
            let document = fhir_body(&request.what, &answer).and_then(|body| {
                bodies::read_document(body)
                    .map_err(|e| FlowError::BadAnswer { what: request.what.clone(), reason: e.to_string() })
            });
            match document {
                Ok(true) => Ok(Outcome::displayed(Some(scr_id.to_owned()))),
                Ok(false) => Err(FlowError::BadAnswer {
                    what: request.what,
                    reason: format!("an empty Bundle: no document for SCR id {scr_id}"),
                }),
                Err(_) if client.has(Defect::ShowsPartialData) => Ok(Outcome::displayed(Some(scr_id.to_owned()))),
                Err(e) => Err(e),
            }
        }
        _ => Err(unexpected(&request.what, &answer)),
    }
}

/// `reads-despite-dissent`: after a 403, read anyway (the remembered id, else any id).
async fn read_despite_dissent(
    client: &mut Client,
    nhs: &str,
    remembered: Option<String>,
) -> Result<Outcome, FlowError> {
    let id = remembered.unwrap_or_else(|| uuid::Uuid::new_v4().to_string().to_uppercase());
    read(client, nhs, &id).await
}

fn is(permission: Option<&str>, code: &str) -> bool {
    permission.is_some_and(|p| p.eq_ignore_ascii_case(code))
}

/// The latest SCR id and permission to view, or the outcome that ends the action there (dissent, no SCR, an
/// answer that is not the expected JSON).
async fn lookup(
    client: &mut Client,
    nhs: &str,
    remembered: Option<String>,
) -> Result<Result<(String, Option<String>), Outcome>, FlowError> {
    Ok(match find_scr(client, nhs).await? {
        Found::Forbidden if client.has(Defect::ReadsDespiteDissent) => {
            Err(read_despite_dissent(client, nhs, remembered).await?)
        }
        Found::Forbidden => Err(Outcome::no_consent()),
        Found::NoScr => Err(Outcome::no_scr()),
        Found::PartialData(outcome) => Err(outcome),
        Found::Scr { scr_id, permission } => Ok((scr_id, permission)),
    })
}

/// `retrieve` (`answer` None) and `retrieve_with_answer`.
async fn retrieve(client: &mut Client, nhs: &str, answer: Option<bool>) -> Result<Outcome, FlowError> {
    let remembered = client.session.scr_ids.get(nhs).cloned();
    let (latest, permission) = match lookup(client, nhs, remembered.clone()).await? {
        Ok(found) => found,
        Err(outcome) => return Ok(outcome),
    };
    let target = match remembered {
        Some(old) if client.has(Defect::StaleScrId) => old,
        _ => latest,
    };
    let permission = permission.as_deref();
    if is(permission, "No") {
        return Ok(Outcome::no_consent());
    }
    // `Ask`, the legacy `Yes` ("if it is encountered it must be treated the same as 'Ask'", spec
    // PartPermissionCode.yaml), or no permission recorded: the patient must be asked.
    match answer {
        None => Ok(Outcome::consent_required()),
        Some(true) => {
            if !client.has(Defect::SkipsSetPermission) {
                set_permission(client, nhs, "Yes").await?;
            }
            if client.has(Defect::AlertWhenPermitted) {
                raise_alert(client, nhs, &target, OverrideReason::Emergency).await?;
            }
            read(client, nhs, &target).await
        }
        Some(false) => {
            set_permission(client, nhs, "No").await?;
            if client.has(Defect::ReadsDespiteNo) {
                return read(client, nhs, &target).await;
            }
            Ok(Outcome::no_consent())
        }
    }
}

/// `POST /$setPermission` (reference §4.4): 201 or an error.
async fn set_permission(client: &mut Client, nhs: &str, code: &str) -> Result<(), FlowError> {
    let body = serde_json::to_vec(&bodies::set_permission(nhs, code)).map_err(|e| FlowError::Local(e.to_string()))?;
    let request = post("/$setPermission", body, false);
    let answer = client.scr(&request).await?;
    match answer.status {
        201 => Ok(()),
        _ => Err(unexpected(&request.what, &answer)),
    }
}

/// `POST /AuditEvent` for `reason` (reference §4.5, §7): 201 or an error.
async fn raise_alert(client: &mut Client, nhs: &str, scr_id: &str, reason: OverrideReason) -> Result<(), FlowError> {
    let user_id = client.user_id()?;
    let subtype_reason = if client.has(Defect::WrongSubtype) { reason.other() } else { reason };
    let author = AlertAuthor { user_id: &user_id, role_id: &client.conn.urid, ods_code: &client.conn.ods_code };
    let event = bodies::audit_event(
        nhs,
        scr_id,
        reason.alert_type(),
        subtype_reason.alert_subtype(),
        &author,
        &client.clock.timestamp(),
        reason.as_str(),
    );
    let body = serde_json::to_vec(&event).map_err(|e| FlowError::Local(e.to_string()))?;
    let request = post("/AuditEvent", body, false);
    let answer = client.scr(&request).await?;
    match answer.status {
        201 => Ok(()),
        _ => Err(unexpected(&request.what, &answer)),
    }
}

/// `emergency_access`: a dissent (403 or `No`) is not overridden; otherwise (`Ask`, the legacy `Yes` — treated
/// as `Ask` — or none) the privacy alert for the reason is raised, then the SCR read.
async fn emergency_access(client: &mut Client, nhs: &str, reason: OverrideReason) -> Result<Outcome, FlowError> {
    let remembered = client.session.scr_ids.get(nhs).cloned();
    let (latest, permission) = match lookup(client, nhs, remembered.clone()).await? {
        Ok(found) => found,
        Err(outcome) => return Ok(outcome),
    };
    let permission = permission.as_deref();
    if is(permission, "No") {
        return Ok(Outcome::no_consent());
    }
    if !client.has(Defect::NoAlert) {
        raise_alert(client, nhs, &latest, reason).await?;
    }
    read(client, nhs, &latest).await
}

/// `upload`: read the latest SCR id, then send the Bundle with fresh identifiers replacing it.
async fn upload(client: &mut Client, nhs: &str, bundle: &Value) -> Result<Outcome, FlowError> {
    let remembered = client.session.scr_ids.get(nhs).cloned();
    let latest = match find_scr(client, nhs).await? {
        Found::Forbidden => return Ok(Outcome::no_consent()),
        Found::NoScr => None,
        Found::PartialData(outcome) => return Ok(outcome),
        Found::Scr { scr_id, .. } => Some(scr_id),
    };
    let replaces = match remembered {
        Some(old) if client.has(Defect::StaleRelatesTo) => Some(old),
        _ => latest,
    };
    let prepared = bodies::prepare_upload(
        bundle,
        replaces.as_deref(),
        &client.clock.timestamp(),
        client.has(Defect::InvalidBundle),
    )
    .map_err(|e| FlowError::Local(e.to_string()))?;
    let request = post("/Bundle", prepared.body, true);
    let answer = client.scr(&request).await?;
    match answer.status {
        201 if answer.body.iter().all(u8::is_ascii_whitespace) && client.has(Defect::Empty201AsError) => {
            Err(FlowError::BadAnswer { what: request.what, reason: "HTTP 201 with an empty body".into() })
        }
        201 => {
            client.session.scr_ids.insert(nhs.to_owned(), prepared.scr_id.clone());
            Ok(Outcome::uploaded(prepared.scr_id))
        }
        403 => Ok(Outcome::no_consent()),
        _ => Err(unexpected(&request.what, &answer)),
    }
}

/// `rotate_key`: sign with `--next-key` under `kid` from now on, proved at once by a token exchange signed
/// with it (the session keeps the old key when the identity service refuses the new one).
async fn rotate_key(client: &mut Client, kid: &str) -> Result<Outcome, FlowError> {
    let before = (client.session.key, client.session.kid.clone());
    if !client.has(Defect::NoKeyRotation) {
        client.session.key = KeyChoice::Next;
        client.session.kid = Some(kid.to_owned());
    }
    if let Err(e) = client.exchange().await {
        (client.session.key, client.session.kid) = before;
        return Err(FlowError::Local(format!(
            "the rotation key {kid} was not accepted, the old key stays in use: {e}"
        )));
    }
    Ok(Outcome::done())
}
