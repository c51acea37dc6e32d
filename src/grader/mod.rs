//! The client-conformance grader: what a system under test (SUT) sent, judged against the SCR rules a client
//! must keep. Every check is a plain function over the scenario's slice of the mock's traffic journal
//! ([`TrafficEntry`], oldest first) and returns `Err` with what was wrong and which request shows it.
//!
//! The expectations come from the scenario's own words (literal codes, roles, counts pinned in the feature
//! from the NHS artefacts) and from the journal — never from the code that answered the SUT.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::mock::traffic::TrafficEntry;
use crate::scr::codes::BASE_PATH;

pub type Verdict = Result<(), String>;

/// `#12 GET /DocumentReference → 200`: how a finding names a request.
pub fn describe(e: &TrafficEntry) -> String {
    let path = e.path.strip_prefix(BASE_PATH).unwrap_or(&e.path);
    format!("#{} {} {} → {}", e.seq, e.method, path, e.status)
}

fn list(entries: &[&TrafficEntry]) -> String {
    if entries.is_empty() {
        return "none".into();
    }
    entries.iter().map(|e| describe(e)).collect::<Vec<_>>().join(", ")
}

/// Whether the request was to the SCR FHIR API (not the identity service).
pub fn is_scr(e: &TrafficEntry) -> bool {
    e.path.starts_with(BASE_PATH)
}

fn names(e: &TrafficEntry, nhs: &str) -> bool {
    e.patients.iter().any(|p| p == nhs)
}

/// The SCR requests of one operation about one patient.
pub fn about<'a>(entries: &'a [TrafficEntry], operation: &str, nhs: &str) -> Vec<&'a TrafficEntry> {
    entries.iter().filter(|e| e.operation == operation && names(e, nhs)).collect()
}

fn json(body: Option<&str>) -> Option<Value> {
    body.and_then(|b| serde_json::from_str(b).ok())
}

fn success(e: &TrafficEntry) -> bool {
    (200..300).contains(&e.status)
}

/// The SCR id and permission a `GET /DocumentReference` answer gave (`None` for an empty searchset or a refusal).
pub fn id_and_permission(e: &TrafficEntry) -> Option<(String, Option<String>)> {
    let body = json(e.response_body.as_deref())?;
    let resource = body.pointer("/entry/0/resource")?;
    let id = resource.pointer("/masterIdentifier/value").and_then(Value::as_str)?.to_owned();
    let permission = resource.pointer("/securityLabel/0/coding/0/code").and_then(Value::as_str).map(str::to_owned);
    Some((id, permission))
}

/// The SCR id a `GET /Bundle` asked for (`composition.identifier`).
pub fn requested_id(e: &TrafficEntry) -> Option<String> {
    let query = e.query.as_deref()?;
    let url = reqwest::Url::parse(&format!("http://query.invalid/?{query}")).ok()?;
    url.query_pairs().find(|(k, _)| k == "composition.identifier").map(|(_, v)| v.into_owned())
}

/// Every `GET /Bundle` about the patient came after a successful `GET /DocumentReference` about them, and
/// asked for exactly the id that answer gave (the latest, not a remembered one). At least one read happened.
pub fn read_latest_after_id(entries: &[TrafficEntry], nhs: &str) -> Verdict {
    let reads = about(entries, "get-scr", nhs);
    if reads.is_empty() {
        return Err(format!("the SUT never read the SCR document (GET /Bundle) of {nhs}"));
    }
    for read in reads {
        let before = entries
            .iter()
            .rev()
            .find(|e| e.seq < read.seq && e.operation == "get-scr-id" && names(e, nhs) && e.status == 200);
        let Some(lookup) = before else {
            return Err(format!(
                "{} read the document without first reading the SCR id and permission (GET /DocumentReference)",
                describe(read)
            ));
        };
        let latest = id_and_permission(lookup).map(|(id, _)| id);
        let asked = requested_id(read);
        if latest.is_none() || asked.as_deref().map(str::to_uppercase) != latest.as_deref().map(str::to_uppercase) {
            return Err(format!(
                "{} asked for SCR id {:?}, but the SCR id read just before ({}) was {:?}",
                describe(read),
                asked,
                describe(lookup),
                latest
            ));
        }
    }
    Ok(())
}

/// The SUT sent no `GET /Bundle` about the patient.
pub fn did_not_read(entries: &[TrafficEntry], nhs: &str) -> Verdict {
    match about(entries, "get-scr", nhs).as_slice() {
        [] => Ok(()),
        reads => Err(format!("the SUT read the SCR document of {nhs} when it must not: {}", list(reads))),
    }
}

/// The permission code a `$setPermission` body carried.
pub fn permission_sent(e: &TrafficEntry) -> Option<String> {
    let body = json(e.body.as_deref())?;
    let parts = body.pointer("/parameter/0/part")?.as_array()?;
    parts
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some("permissionCode"))
        .and_then(|p| p.pointer("/valueCoding/code"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The SUT recorded `code` with a successful `$setPermission` for the patient, and read the document (if at
/// all) only after that.
pub fn recorded_permission_before_read(entries: &[TrafficEntry], nhs: &str, code: &str) -> Verdict {
    let sets = about(entries, "set-permission", nhs);
    let Some(recorded) = sets.iter().find(|e| success(e) && permission_sent(e).as_deref() == Some(code)) else {
        let seen: Vec<String> = sets.iter().map(|e| format!("{} with {:?}", describe(e), permission_sent(e))).collect();
        return Err(format!(
            "the SUT did not record the patient's answer {code:?} with $setPermission for {nhs} (sent: {})",
            if seen.is_empty() { "none".into() } else { seen.join(", ") }
        ));
    };
    match about(entries, "get-scr", nhs).into_iter().find(|r| r.seq < recorded.seq) {
        Some(early) => Err(format!(
            "{} read the document before the answer was recorded ({})",
            describe(early),
            describe(recorded)
        )),
        None => Ok(()),
    }
}

/// The SUT sent no `$setPermission` for the patient.
pub fn recorded_no_permission(entries: &[TrafficEntry], nhs: &str) -> Verdict {
    match about(entries, "set-permission", nhs).as_slice() {
        [] => Ok(()),
        sets => Err(format!("the SUT changed the permission to view of {nhs}: {}", list(sets))),
    }
}

/// A privacy alert as the SUT sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSent {
    pub seq: u64,
    pub status: u16,
    pub alert_type: Option<String>,
    pub subtype: Option<String>,
    /// The `agent` identifiers by system: nhs-number, sds-user-id, ods-organization-code.
    pub agents: BTreeMap<String, String>,
}

/// The `POST /AuditEvent` requests about the patient, decoded.
pub fn alerts(entries: &[TrafficEntry], nhs: &str) -> Vec<AlertSent> {
    about(entries, "send-alert", nhs)
        .into_iter()
        .map(|e| {
            let body = json(e.body.as_deref()).unwrap_or(Value::Null);
            let text = |p: &str| body.pointer(p).and_then(Value::as_str).map(str::to_owned);
            let agents = body
                .get("agent")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| {
                    let system = a.pointer("/who/identifier/system").and_then(Value::as_str)?;
                    let value = a.pointer("/who/identifier/value").and_then(Value::as_str)?;
                    let short = system.rsplit('/').next().unwrap_or(system).to_owned();
                    Some((short, value.to_owned()))
                })
                .collect();
            AlertSent {
                seq: e.seq,
                status: e.status,
                alert_type: text("/type/code"),
                subtype: text("/subtype/0/code"),
                agents,
            }
        })
        .collect()
}

/// Who raises an alert: the clinician's SDS user id and their role profile ids.
#[derive(Debug, Clone, Copy)]
pub struct Clinician<'a> {
    pub user: &'a str,
    pub roles: &'a [String],
}

/// Exactly one privacy alert about the patient, accepted, with `alert_type` and a subtype among `subtypes`,
/// naming the patient and the clinician's user id, sent in one of the clinician's roles (its
/// `NHSD-Session-URID`, when sent; a missing header is SCRC-HDR-001's), raised before any read of the document.
pub fn one_alert(
    entries: &[TrafficEntry],
    nhs: &str,
    alert_type: &str,
    subtypes: &[&str],
    who: Clinician<'_>,
) -> Verdict {
    let user = who.user;
    let sent = alerts(entries, nhs);
    let [alert] = sent.as_slice() else {
        return Err(format!("expected exactly one privacy alert for {nhs}, the SUT sent {}", sent.len()));
    };
    if !(200..300).contains(&alert.status) {
        return Err(format!("the privacy alert (#{}) was refused with HTTP {}", alert.seq, alert.status));
    }
    if alert.alert_type.as_deref() != Some(alert_type)
        || !alert.subtype.as_deref().is_some_and(|s| subtypes.contains(&s))
    {
        return Err(format!(
            "the privacy alert (#{}) has type {:?} and subtype {:?}; this override needs type {alert_type:?} with \
             subtype {}",
            alert.seq,
            alert.alert_type,
            alert.subtype,
            subtypes.join(" or ")
        ));
    }
    if alert.agents.get("nhs-number").map(String::as_str) != Some(nhs) {
        return Err(format!(
            "the privacy alert (#{}) names patient {:?}, not {nhs}",
            alert.seq,
            alert.agents.get("nhs-number")
        ));
    }
    if alert.agents.get("sds-user-id").map(String::as_str) != Some(user) {
        return Err(format!(
            "the privacy alert (#{}) names user {:?}, not the clinician {user}",
            alert.seq,
            alert.agents.get("sds-user-id")
        ));
    }
    let sent_in = entries.iter().find(|e| e.seq == alert.seq).and_then(|e| e.header("nhsd-session-urid"));
    if let Some(role) = sent_in.filter(|r| !who.roles.iter().any(|x| x == r.trim())) {
        return Err(format!(
            "the privacy alert (#{}) was raised in role {role:?}, not one of the clinician's roles {:?}",
            alert.seq, who.roles
        ));
    }
    if let Some(read) = about(entries, "get-scr", nhs).into_iter().find(|r| r.seq < alert.seq) {
        return Err(format!(
            "{} read the document before the privacy alert (#{}) was raised",
            describe(read),
            alert.seq
        ));
    }
    Ok(())
}

/// No privacy alert about the patient.
pub fn no_alert(entries: &[TrafficEntry], nhs: &str) -> Verdict {
    match alerts(entries, nhs).as_slice() {
        [] => Ok(()),
        sent => Err(format!(
            "the SUT raised {} privacy alert(s) for {nhs} where none was due (#{})",
            sent.len(),
            sent.iter().map(|a| a.seq.to_string()).collect::<Vec<_>>().join(", #")
        )),
    }
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok() && s.len() == 36
}

/// Every SCR request carried `NHSD-Session-URID`, one of `roles`.
pub fn urid_one_of(entries: &[TrafficEntry], roles: &[&str]) -> Verdict {
    for e in entries.iter().filter(|e| is_scr(e)) {
        match e.header("nhsd-session-urid") {
            Some(v) if roles.contains(&v.trim()) => {}
            Some(v) => {
                return Err(format!(
                    "{} sent NHSD-Session-URID {v:?}, not one of the user's roles {roles:?}",
                    describe(e)
                ))
            }
            None => return Err(format!("{} sent no NHSD-Session-URID header", describe(e))),
        }
    }
    Ok(())
}

/// Identical requests (a re-send) may share an `X-Request-ID`; different ones may not.
fn request_fingerprint(e: &TrafficEntry) -> (String, String, Option<String>, Option<String>) {
    (e.method.clone(), e.path.clone(), e.query.clone(), e.body.clone())
}

/// Every SCR request carried an `X-Request-ID` that is a UUID, unique per request: only a re-send of the same
/// request (same method, path, query and body) may repeat one.
pub fn request_ids_unique(entries: &[TrafficEntry]) -> Verdict {
    let mut seen: BTreeMap<String, &TrafficEntry> = BTreeMap::new();
    for e in entries.iter().filter(|e| is_scr(e)) {
        let Some(id) = e.header("x-request-id") else {
            return Err(format!("{} sent no X-Request-ID", describe(e)));
        };
        if !is_uuid(id) {
            return Err(format!("{} sent X-Request-ID {id:?}, which is not a UUID", describe(e)));
        }
        let key = id.to_lowercase();
        if let Some(first) = seen.get(&key) {
            if request_fingerprint(first) != request_fingerprint(e) {
                return Err(format!(
                    "{} reused the X-Request-ID of a different request, {}: each request needs its own",
                    describe(e),
                    describe(first)
                ));
            }
        } else {
            seen.insert(key, e);
        }
    }
    Ok(())
}

/// Every `X-Correlation-ID` the SUT sent is a UUID.
pub fn correlation_ids_are_uuids(entries: &[TrafficEntry]) -> Verdict {
    for e in entries.iter().filter(|e| is_scr(e)) {
        if let Some(id) = e.header("x-correlation-id") {
            if !is_uuid(id) {
                return Err(format!("{} sent X-Correlation-ID {id:?}, which is not a UUID", describe(e)));
            }
        }
    }
    Ok(())
}

fn media_type(value: &str) -> String {
    value.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// Every SCR request accepted `media` (an `Accept` naming it, or `*/*`-free exact), and every POST declared it
/// as its `Content-Type`.
pub fn media_types(entries: &[TrafficEntry], media: &str) -> Verdict {
    for e in entries.iter().filter(|e| is_scr(e)) {
        let accepts = e.header("accept").is_some_and(|a| a.split(',').any(|m| media_type(m) == media));
        if !accepts {
            return Err(format!("{} sent Accept {:?}; the SCR API answers {media}", describe(e), e.header("accept")));
        }
        if e.method == "POST" && e.header("content-type").map(media_type).as_deref() != Some(media) {
            return Err(format!("{} sent Content-Type {:?}, not {media}", describe(e), e.header("content-type")));
        }
    }
    Ok(())
}

/// No request carried a secret-looking parameter in its query string.
pub fn no_secret_in_query(entries: &[TrafficEntry]) -> Verdict {
    match entries.iter().find(|e| !e.secret_in_query.is_empty()) {
        Some(e) => Err(format!("{} put a secret in its query string ({})", describe(e), e.secret_in_query.join(", "))),
        None => Ok(()),
    }
}

fn epoch(at: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(at).ok().map(|t| t.with_timezone(&Utc).timestamp())
}

fn wall_ms(e: &TrafficEntry) -> Option<i64> {
    DateTime::parse_from_rfc3339(&e.wall).ok().map(|t| t.with_timezone(&Utc).timestamp_millis())
}

/// The token requests.
pub fn token_requests(entries: &[TrafficEntry]) -> Vec<&TrafficEntry> {
    entries.iter().filter(|e| e.token_request.is_some()).collect()
}

/// Every client assertion the SUT sent is one the NHS identity service accepts and the SCAL asks for: RS512,
/// a `kid` (one of `kids` when any are given), `typ` JWT, `iss` = `sub`, `aud` the token URL, a `jti` never reused, and
/// an `exp` in the future at most 300 s after the request arrived (by the identity service's clock). At least
/// one assertion must have been sent.
pub fn assertions_acceptable(entries: &[TrafficEntry], token_url: &str, kids: &[String]) -> Verdict {
    let mut jtis: BTreeMap<String, u64> = BTreeMap::new();
    let mut count = 0;
    for e in token_requests(entries) {
        let Some(assertion) = e.token_request.as_ref().and_then(|t| t.assertion.as_ref()) else { continue };
        count += 1;
        let (h, c) = (&assertion.header, &assertion.claims);
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let at = describe(e);
        if s(h, "alg").as_deref() != Some("RS512") {
            return Err(format!("{at}: the client assertion is signed {:?}, not RS512", s(h, "alg")));
        }
        match s(h, "kid") {
            None => return Err(format!("{at}: the client assertion has no kid header")),
            Some(k) if !kids.is_empty() && !kids.contains(&k) => {
                return Err(format!("{at}: the client assertion names kid {k:?}, not a registered one {kids:?}"))
            }
            _ => {}
        }
        if s(h, "typ").is_none_or(|t| !t.eq_ignore_ascii_case("JWT")) {
            return Err(format!("{at}: the client assertion's typ is {:?}, not JWT", s(h, "typ")));
        }
        if s(c, "iss").is_none() || s(c, "iss") != s(c, "sub") {
            return Err(format!("{at}: the client assertion's iss and sub must both be the API key"));
        }
        let aud_ok = match c.get("aud") {
            Some(Value::String(a)) => a == token_url,
            Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(token_url)),
            _ => false,
        };
        if !aud_ok {
            return Err(format!(
                "{at}: the client assertion's aud is {:?}, not the token URL {token_url}",
                c.get("aud")
            ));
        }
        let Some(jti) = s(c, "jti") else { return Err(format!("{at}: the client assertion has no jti")) };
        if let Some(first) = jtis.insert(jti.clone(), e.seq) {
            return Err(format!("{at}: the client assertion reuses the jti {jti:?} of request #{first}"));
        }
        let (Some(exp), Some(now)) = (c.get("exp").and_then(Value::as_i64), epoch(&e.at)) else {
            return Err(format!("{at}: the client assertion's exp is missing or not a number"));
        };
        if exp - now > 300 {
            return Err(format!("{at}: the client assertion expires {} s after it was sent; at most 300 s", exp - now));
        }
        if exp <= now {
            return Err(format!("{at}: the client assertion had expired when it was sent ({} s ago)", now - exp));
        }
    }
    if count == 0 {
        return Err("the SUT sent no client assertion".into());
    }
    Ok(())
}

/// Every refresh token was presented at most once (rotation: the service issues a new one each time).
pub fn refresh_tokens_used_once(entries: &[TrafficEntry]) -> Verdict {
    let mut seen: BTreeMap<&str, u64> = BTreeMap::new();
    for e in token_requests(entries) {
        if let Some(fp) = e.token_request.as_ref().and_then(|t| t.refresh_token.as_deref()) {
            if let Some(first) = seen.insert(fp, e.seq) {
                return Err(format!(
                    "{} presented a refresh token already used in request #{first}; each refresh issues a new one, \
                     which must be used next",
                    describe(e)
                ));
            }
        }
    }
    Ok(())
}

/// The SUT renewed its token with a refresh token at least once.
pub fn refreshed(entries: &[TrafficEntry]) -> Verdict {
    let any = token_requests(entries)
        .iter()
        .any(|e| e.token_request.as_ref().is_some_and(|t| t.grant_type.as_deref() == Some("refresh_token")));
    if any {
        Ok(())
    } else {
        Err("the SUT never renewed its access token with the refresh token it was given".into())
    }
}

/// After an SCR request answered 401, the SUT obtained a new token before its next SCR request, and no more
/// than `max_unauthorised` of its SCR requests were answered 401 in all (one re-authentication, never a loop).
pub fn reauthenticated_once(entries: &[TrafficEntry], max_unauthorised: usize) -> Verdict {
    let refused: Vec<&TrafficEntry> = entries.iter().filter(|e| is_scr(e) && e.status == 401).collect();
    if refused.len() > max_unauthorised {
        return Err(format!(
            "{} SCR requests were answered 401 ({}); after a 401 a client re-authenticates once, then stops",
            refused.len(),
            list(&refused)
        ));
    }
    for r in &refused {
        let next_scr = entries.iter().find(|e| e.seq > r.seq && is_scr(e));
        if let Some(next) = next_scr {
            let renewed = entries.iter().any(|e| {
                e.seq > r.seq && e.seq < next.seq && e.token_request.as_ref().is_some_and(|t| t.issued.is_some())
            });
            let same_token = next.token.is_some() && next.token == r.token;
            if !renewed || same_token {
                return Err(format!(
                    "after {} the SUT sent {} without obtaining a new access token",
                    describe(r),
                    describe(next)
                ));
            }
        }
    }
    Ok(())
}

/// The SUT sent at most `n` requests of `operation` about the patient.
pub fn at_most(entries: &[TrafficEntry], operation: &str, nhs: &str, n: usize) -> Verdict {
    let sent = about(entries, operation, nhs);
    if sent.len() > n {
        return Err(format!(
            "the SUT sent {} {operation} requests for {nhs}, at most {n} allowed: {}",
            sent.len(),
            list(&sent)
        ));
    }
    Ok(())
}

/// The SUT sent at least `n` requests of `operation` about the patient.
pub fn at_least(entries: &[TrafficEntry], operation: &str, nhs: &str, n: usize) -> Verdict {
    let sent = about(entries, operation, nhs);
    if sent.len() < n {
        return Err(format!("the SUT sent {} {operation} request(s) for {nhs}, expected at least {n}", sent.len()));
    }
    Ok(())
}

/// After each 429 carrying `Retry-After`, the SUT's next request of that operation about the patient came no
/// sooner than the seconds it asked for (measured from the end of the 429's answer, by the machine's clock).
pub fn honoured_retry_after(entries: &[TrafficEntry], operation: &str, nhs: &str) -> Verdict {
    let sent = about(entries, operation, nhs);
    let mut checked = 0;
    for pair in sent.windows(2) {
        let (limited, next) = (pair[0], pair[1]);
        if limited.status != 429 {
            continue;
        }
        let Some(wait_s) = limited.response_header("retry-after").and_then(|v| v.trim().parse::<i64>().ok()) else {
            continue;
        };
        checked += 1;
        let (Some(a), Some(b)) = (wall_ms(limited), wall_ms(next)) else { continue };
        let gap = b - (a + limited.duration_ms as i64);
        if gap < wait_s * 1000 {
            return Err(format!(
                "{} came {gap} ms after the 429 of {}, which asked to wait {wait_s} s (Retry-After)",
                describe(next),
                describe(limited)
            ));
        }
    }
    if checked == 0 {
        return Err(format!("no retry after a 429 with Retry-After for {operation} of {nhs} was seen"));
    }
    Ok(())
}

/// Between consecutive requests of `operation` about the patient that followed a 5xx, the SUT waited at least
/// `min_ms` (back-off).
pub fn backed_off(entries: &[TrafficEntry], operation: &str, nhs: &str, min_ms: i64) -> Verdict {
    let sent = about(entries, operation, nhs);
    for pair in sent.windows(2) {
        let (failed, next) = (pair[0], pair[1]);
        if failed.status < 500 {
            continue;
        }
        let (Some(a), Some(b)) = (wall_ms(failed), wall_ms(next)) else { continue };
        let gap = b - (a + failed.duration_ms as i64);
        if gap < min_ms {
            return Err(format!(
                "{} came {gap} ms after {}: retries after a server error must back off (at least {min_ms} ms)",
                describe(next),
                describe(failed)
            ));
        }
    }
    Ok(())
}

/// The upload about the patient was sent more than once, every time with the same `X-Request-ID` and body
/// (a safe re-send).
pub fn resent_with_same_request_id(entries: &[TrafficEntry], nhs: &str) -> Verdict {
    let uploads = about(entries, "upload-scr", nhs);
    if uploads.len() < 2 {
        return Err(format!("the SUT did not re-send the upload for {nhs} ({} sent)", uploads.len()));
    }
    let ids: BTreeSet<Option<String>> =
        uploads.iter().map(|e| e.header("x-request-id").map(str::to_lowercase)).collect();
    if ids.len() != 1 {
        return Err(format!(
            "the re-sent upload for {nhs} changed its X-Request-ID ({}); a re-send must repeat it so the service can \
             tell it is the same request",
            list(&uploads)
        ));
    }
    let bodies: BTreeSet<Option<&str>> = uploads.iter().map(|e| e.body.as_deref()).collect();
    if bodies.len() != 1 {
        return Err(format!("the re-sent upload for {nhs} changed its body ({})", list(&uploads)));
    }
    Ok(())
}

/// The last upload's body about the patient.
pub fn last_upload(entries: &[TrafficEntry], nhs: &str) -> Result<Value, String> {
    let upload = about(entries, "upload-scr", nhs)
        .into_iter()
        .last()
        .ok_or_else(|| format!("the SUT sent no upload (POST /Bundle) for {nhs}"))?;
    if upload.body_truncated {
        return Err(format!("{} is too large to grade", describe(upload)));
    }
    json(upload.body.as_deref()).ok_or_else(|| format!("{} did not send a JSON body", describe(upload)))
}

/// The Composition of an upload Bundle.
fn composition(bundle: &Value) -> Option<&Value> {
    bundle
        .get("entry")?
        .as_array()?
        .iter()
        .filter_map(|e| e.get("resource"))
        .find(|r| r.get("resourceType").and_then(Value::as_str) == Some("Composition"))
}

/// The SUT's last upload for the patient names them (the Patient's NHS number) and passes FHIR R4 (the strict
/// schema, the StructureDefinition rules) and the SCR upload rules, NHS's own known deviations aside.
pub fn upload_valid(entries: &[TrafficEntry], nhs: &str, validator: &crate::fhir::schema::FhirValidator) -> Verdict {
    let bundle = last_upload(entries, nhs)?;
    // What NHS's own upload example does (`fhir::conformance::known_deviation`: no Composition.title, no
    // Condition.subject, the value set URL as clinicalStatus system) is not held against the supplier.
    let findings: Vec<_> =
        crate::fhir::conformance::check(validator, Some(crate::fhir::ScrPayload::UploadRequest), &bundle)
            .into_iter()
            .filter(|f| crate::fhir::conformance::known_deviation(f, &bundle).is_none())
            .collect();
    if let Some(first) = findings.first() {
        return Err(format!(
            "the SUT's upload for {nhs} is not a valid SCR upload: {first}{}",
            if findings.len() > 1 { format!(" (and {} more)", findings.len() - 1) } else { String::new() }
        ));
    }
    let named = bundle
        .get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("resource"))
        .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Patient"))
        .flat_map(|p| p.get("identifier").and_then(Value::as_array).into_iter().flatten())
        .any(|i| i.get("value").and_then(Value::as_str) == Some(nhs));
    if !named {
        return Err(format!("the SUT's upload for {nhs} does not name the patient (Patient.identifier)"));
    }
    Ok(())
}

/// The `relatesTo` `replaces` target of the SUT's last upload for the patient (`None`: it replaces nothing).
pub fn replaces(entries: &[TrafficEntry], nhs: &str) -> Result<Option<String>, String> {
    let bundle = last_upload(entries, nhs)?;
    let Some(comp) = composition(&bundle) else { return Err(format!("the SUT's upload for {nhs} has no Composition")) };
    Ok(comp
        .get("relatesTo")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| r.get("code").and_then(Value::as_str) == Some("replaces"))
        .and_then(|r| r.pointer("/targetIdentifier/value"))
        .and_then(Value::as_str)
        .map(str::to_owned))
}

/// The SUT's last upload for the patient `relatesTo` `replaces` the latest SCR id, read just before it.
pub fn upload_replaces_latest(entries: &[TrafficEntry], nhs: &str, latest: &str) -> Verdict {
    let target = replaces(entries, nhs)?;
    if target.as_deref().map(str::to_uppercase) != Some(latest.to_uppercase()) {
        return Err(format!(
            "the SUT's upload for {nhs} replaces {target:?}, but the latest SCR is {latest:?}: a GP Summary must \
             replace the SCR read just before it"
        ));
    }
    let upload = about(entries, "upload-scr", nhs).into_iter().last();
    let lookup_before = upload
        .map(|u| entries.iter().any(|e| e.seq < u.seq && e.operation == "get-scr-id" && names(e, nhs)))
        .unwrap_or(false);
    if !lookup_before {
        return Err(format!("the SUT uploaded for {nhs} without reading the latest SCR id first"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::traffic::{DecodedJwt, IssuedTokens, TokenRequestRecord};
    use serde_json::json;

    const NHS: &str = "9991000019";

    fn entry(seq: u64, operation: &str, status: u16) -> TrafficEntry {
        let (method, path) = match operation {
            "get-scr-id" => ("GET", "/DocumentReference"),
            "get-scr" => ("GET", "/Bundle"),
            "upload-scr" => ("POST", "/Bundle"),
            "set-permission" => ("POST", "/$setPermission"),
            "send-alert" => ("POST", "/AuditEvent"),
            _ => ("POST", "/oauth2/token"),
        };
        let scr = operation != "token";
        TrafficEntry {
            seq,
            at: "2026-12-04T15:00:00+00:00".into(),
            wall: format!("2026-12-04T15:00:{:02}.000Z", seq.min(59)),
            method: method.into(),
            path: if scr { format!("{BASE_PATH}{path}") } else { path.into() },
            query: None,
            operation: operation.into(),
            headers: vec![
                ("x-request-id".into(), uuid::Uuid::new_v4().to_string()),
                ("nhsd-session-urid".into(), "555254242102".into()),
                ("accept".into(), "application/fhir+json".into()),
                ("content-type".into(), "application/fhir+json".into()),
            ],
            body: None,
            body_truncated: false,
            status,
            response_headers: vec![],
            response_body: None,
            response_body_truncated: false,
            app: Some("sut".into()),
            user: Some("910000000001".into()),
            token: Some("t1".into()),
            session: Some("s1".into()),
            patients: if scr { vec![NHS.into()] } else { vec![] },
            secret_in_query: vec![],
            token_request: None,
            fault: None,
            duration_ms: 0,
        }
    }

    fn lookup(seq: u64, id: &str) -> TrafficEntry {
        let mut e = entry(seq, "get-scr-id", 200);
        e.response_body = Some(
            json!({"resourceType":"Bundle","entry":[{"resource":{"masterIdentifier":{"value":id},
                "securityLabel":[{"coding":[{"code":"Yes"}]}]}}]})
            .to_string(),
        );
        e
    }

    fn read(seq: u64, id: &str) -> TrafficEntry {
        let mut e = entry(seq, "get-scr", 200);
        e.query = Some(format!("composition.identifier={id}&composition.subject%3APatient.identifier=x%7C{NHS}"));
        e
    }

    #[test]
    fn a_read_must_follow_the_lookup_and_ask_for_its_id() {
        assert!(read_latest_after_id(&[lookup(1, "AB"), read(2, "ab")], NHS).is_ok());
        let e = read_latest_after_id(&[read(1, "AB")], NHS).err().unwrap_or_default();
        assert!(e.contains("without first reading"), "{e}");
        let e = read_latest_after_id(&[lookup(1, "NEW"), read(2, "OLD")], NHS).err().unwrap_or_default();
        assert!(e.contains("\"OLD\"") && e.contains("\"NEW\""), "{e}");
        assert!(read_latest_after_id(&[lookup(1, "A")], NHS).is_err(), "no read at all");
        assert!(did_not_read(&[lookup(1, "A")], NHS).is_ok());
        assert!(did_not_read(&[lookup(1, "A"), read(2, "A")], NHS).is_err());
    }

    fn set_permission(seq: u64, code: &str) -> TrafficEntry {
        let mut e = entry(seq, "set-permission", 201);
        e.body = Some(
            json!({"resourceType":"Parameters","parameter":[{"name":"setPermissions","part":[
                {"name":"nhsNumber","valueString":NHS},{"name":"permissionCode","valueCoding":{"code":code}}]}]})
            .to_string(),
        );
        e
    }

    #[test]
    fn the_answer_is_recorded_before_the_read() {
        assert!(recorded_permission_before_read(&[lookup(1, "A"), set_permission(2, "Yes"), read(3, "A")], NHS, "Yes")
            .is_ok());
        assert!(recorded_permission_before_read(&[lookup(1, "A"), read(2, "A"), set_permission(3, "Yes")], NHS, "Yes")
            .is_err());
        assert!(recorded_permission_before_read(&[set_permission(2, "No")], NHS, "Yes").is_err());
        assert!(recorded_permission_before_read(&[lookup(1, "A"), read(2, "A")], NHS, "Yes").is_err());
        assert!(recorded_no_permission(&[set_permission(2, "No")], NHS).is_err());
    }

    fn alert(seq: u64, t: &str, s: &str, user: &str) -> TrafficEntry {
        let mut e = entry(seq, "send-alert", 201);
        e.body = Some(
            json!({"resourceType":"AuditEvent","type":{"code":t},"subtype":[{"code":s}],"agent":[
                {"who":{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":NHS}}},
                {"who":{"identifier":{"system":"https://fhir.nhs.uk/Id/sds-user-id","value":user}}}]})
            .to_string(),
        );
        e
    }

    #[test]
    fn one_alert_with_a_permitted_pair_before_the_read() {
        let roles = vec!["555254242102".to_owned()];
        let who = |user| Clinician { user, roles: &roles };
        let good = [lookup(1, "A"), alert(2, "2", "5", "U"), read(3, "A")];
        assert!(one_alert(&good, NHS, "2", &["5"], who("U")).is_ok());
        let e = one_alert(&good, NHS, "2", &["1", "2", "3"], who("U")).err().unwrap_or_default();
        assert!(e.contains("subtype 1 or 2 or 3"), "{e}");
        assert!(one_alert(&good, NHS, "2", &["5"], who("OTHER")).is_err(), "wrong user");
        assert!(one_alert(&[lookup(1, "A"), read(2, "A")], NHS, "2", &["5"], who("U")).is_err(), "no alert");
        let twice = [alert(1, "2", "5", "U"), alert(2, "2", "5", "U")];
        assert!(one_alert(&twice, NHS, "2", &["5"], who("U")).is_err());
        let late = [lookup(1, "A"), read(2, "A"), alert(3, "2", "5", "U")];
        assert!(one_alert(&late, NHS, "2", &["5"], who("U")).err().unwrap_or_default().contains("before the privacy"));
        assert!(no_alert(&good, NHS).is_err() && no_alert(&[read(1, "A")], NHS).is_ok());
        let mut other_role = good.clone();
        other_role[1].headers[1].1 = "999999999999".into();
        let e = one_alert(&other_role, NHS, "2", &["5"], who("U")).err().unwrap_or_default();
        assert!(e.contains("not one of the clinician's roles"), "{e}");
    }

    #[test]
    fn headers_are_graded() {
        let mut a = lookup(1, "A");
        assert!(urid_one_of(std::slice::from_ref(&a), &["555254242102"]).is_ok());
        assert!(urid_one_of(std::slice::from_ref(&a), &["1"]).is_err());
        a.headers.retain(|(n, _)| n != "nhsd-session-urid");
        assert!(urid_one_of(std::slice::from_ref(&a), &["555254242102"]).err().unwrap_or_default().contains("no NHSD"));

        let (b, mut c) = (lookup(1, "A"), read(2, "A"));
        assert!(request_ids_unique(&[b.clone(), c.clone()]).is_ok());
        c.headers[0].1 = b.headers[0].1.clone();
        assert!(request_ids_unique(&[b.clone(), c]).is_err(), "a different request reused the id");
        let mut resend = b.clone();
        resend.seq = 3;
        assert!(request_ids_unique(&[b.clone(), resend]).is_ok(), "a re-send may repeat it");
        let mut not_uuid = b.clone();
        not_uuid.headers[0].1 = "abc".into();
        assert!(request_ids_unique(&[not_uuid]).is_err());

        let mut json_accept = b.clone();
        json_accept.headers[2].1 = "application/json".into();
        assert!(media_types(std::slice::from_ref(&b), "application/fhir+json").is_ok());
        assert!(media_types(&[json_accept], "application/fhir+json").is_err());
        let mut corr = b.clone();
        corr.headers.push(("x-correlation-id".into(), "corr-1".into()));
        assert!(correlation_ids_are_uuids(&[corr]).is_err());
        let mut leaky = b;
        leaky.secret_in_query = vec!["access_token".into()];
        assert!(no_secret_in_query(&[leaky]).is_err());
    }

    fn token(seq: u64, claims: Value, header: Value) -> TrafficEntry {
        let mut e = entry(seq, "token", 200);
        e.at = "2026-12-04T15:00:00+00:00".into();
        e.token_request = Some(TokenRequestRecord {
            grant_type: Some("urn:ietf:params:oauth:grant-type:token-exchange".into()),
            client_id: None,
            assertion: Some(DecodedJwt { header, claims }),
            subject_token: Some("s1".into()),
            refresh_token: None,
            issued: Some(IssuedTokens { access_token: format!("a{seq}"), refresh_token: None, expires_in: None }),
            error: None,
        });
        e
    }

    #[test]
    fn client_assertions_are_graded() {
        let now = epoch("2026-12-04T15:00:00+00:00").unwrap_or_default();
        let url = "http://127.0.0.1:1/oauth2/token";
        let claims = |jti: &str, exp: i64| json!({"iss":"k","sub":"k","aud":url,"jti":jti,"exp":exp});
        let header = json!({"alg":"RS512","kid":"k1","typ":"JWT"});
        let good =
            [token(1, claims("j1", now + 240), header.clone()), token(2, claims("j2", now + 300), header.clone())];
        assert!(assertions_acceptable(&good, url, &["k1".into()]).is_ok());
        assert!(assertions_acceptable(&good, url, &["k2".into()]).is_err());
        let far = [token(1, claims("j1", now + 301), header.clone())];
        assert!(assertions_acceptable(&far, url, &[]).err().unwrap_or_default().contains("301 s"));
        let reused = [token(1, claims("j", now + 60), header.clone()), token(2, claims("j", now + 60), header.clone())];
        assert!(assertions_acceptable(&reused, url, &[]).err().unwrap_or_default().contains("reuses the jti"));
        let rs256 = [token(1, claims("j1", now + 60), json!({"alg":"RS256","kid":"k1","typ":"JWT"}))];
        assert!(assertions_acceptable(&rs256, url, &[]).is_err());
        assert!(assertions_acceptable(&[], url, &[]).is_err(), "no assertion at all");
    }

    #[test]
    fn refresh_tokens_once_and_reauthentication_bounded() {
        let mut r1 = token(1, json!({}), json!({}));
        let mut r2 = token(3, json!({}), json!({}));
        for r in [&mut r1, &mut r2] {
            if let Some(t) = r.token_request.as_mut() {
                t.grant_type = Some("refresh_token".into());
                t.refresh_token = Some("R".into());
            }
        }
        assert!(refreshed(std::slice::from_ref(&r1)).is_ok());
        assert!(refresh_tokens_used_once(&[r1.clone(), r2]).is_err());
        assert!(refresh_tokens_used_once(std::slice::from_ref(&r1)).is_ok());

        let mut refused = lookup(1, "A");
        refused.status = 401;
        let mut renewed = token(2, json!({}), json!({}));
        if let Some(t) = renewed.token_request.as_mut() {
            t.assertion = None;
        }
        let mut retried = lookup(3, "A");
        retried.token = Some("t2".into());
        assert!(reauthenticated_once(&[refused.clone(), renewed.clone(), retried.clone()], 1).is_ok());
        assert!(reauthenticated_once(&[refused.clone(), retried.clone()], 1).is_err(), "no renewal");
        let mut again = refused.clone();
        again.seq = 4;
        assert!(reauthenticated_once(&[refused, renewed, retried, again], 1).is_err(), "a loop");
    }

    #[test]
    fn retries_are_paced() {
        let mut limited = lookup(1, "A");
        limited.status = 429;
        limited.response_headers = vec![("retry-after".into(), "1".into())];
        limited.wall = "2026-12-04T15:00:00.000Z".into();
        let mut soon = lookup(2, "A");
        soon.wall = "2026-12-04T15:00:00.200Z".into();
        let mut later = lookup(2, "A");
        later.wall = "2026-12-04T15:00:01.010Z".into();
        assert!(honoured_retry_after(&[limited.clone(), later], "get-scr-id", NHS).is_ok());
        assert!(honoured_retry_after(&[limited.clone(), soon.clone()], "get-scr-id", NHS).is_err());
        let mut failed = limited;
        failed.status = 503;
        assert!(backed_off(&[failed.clone(), soon.clone()], "get-scr-id", NHS, 100).is_ok());
        assert!(backed_off(&[failed, soon], "get-scr-id", NHS, 250).is_err());
        assert!(at_most(&[lookup(1, "A"), lookup(2, "A")], "get-scr-id", NHS, 1).is_err());
    }

    #[test]
    fn uploads_are_graded() {
        let bundle = crate::scr::payloads::upload_bundle(NHS, "C0FFEE00-0000-4000-8000-000000000001", Some("OLD"));
        let mut up = entry(2, "upload-scr", 201);
        up.body = Some(bundle.to_string());
        let entries = [lookup(1, "OLD"), up.clone()];
        assert_eq!(replaces(&entries, NHS), Ok(Some("OLD".into())));
        assert!(upload_replaces_latest(&entries, NHS, "old").is_ok());
        assert!(upload_replaces_latest(&entries, NHS, "NEWER").is_err());
        assert!(upload_replaces_latest(&[up.clone()], NHS, "OLD").is_err(), "no lookup before");
        let mut resend = up.clone();
        resend.seq = 3;
        assert!(resent_with_same_request_id(&[up.clone(), resend.clone()], NHS).is_ok());
        resend.headers[0].1 = uuid::Uuid::new_v4().to_string();
        assert!(resent_with_same_request_id(&[up, resend], NHS).is_err());
    }
}
