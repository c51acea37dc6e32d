#!/usr/bin/env python3
"""An example Summary Care Record (SCR) client, in Python with the standard library only.

It is a second system under test for scr-assure's client-conformance mode (docs/CLIENT.md §4): the harness
runs one action per process, e.g.

    python3 scr_client.py retrieve 9991000019
    python3 scr_client.py retrieve_with_answer 9991000019 yes
    python3 scr_client.py emergency_access 9991000019 emergency
    python3 scr_client.py upload 9991000019 gp-summary.json
    python3 scr_client.py rotate_key scr-assure-python-2

and reads the one JSON object it prints on stdout ({"outcome": ...}). The NHS side comes from the
SCR_ASSURE_* environment variables; tokens live in $SCR_ASSURE_SESSION_DIR/session.json between actions.
Progress goes to stderr (never a token, assertion or secret).

TEST-ONLY: the keys and the client secret beside this file were generated for this example and are worthless
anywhere else. A real system keeps its private key and client secret in a secret store.

Section numbers (§) are those of the SCR API reference scr-assure is built from.
"""

import argparse
import base64
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The app registration (sut.toml [app]); every file is found beside this script, whatever the working directory.
API_KEY = "scr-assure-python-example-key"
KEYS = {  # kid -> private key; the first is used until `rotate_key` switches
    "scr-assure-python-1": HERE / "sut-private-key.pem",
    "scr-assure-python-2": HERE / "sut-next-private-key.pem",
}
CLIENT_SECRET_FILE = HERE / "client-secret.txt"
ODS_CODE = "RBA"  # the clinician's organisation (the client-lane clinician's roles are at RBA)

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
GP_SUMMARY = "http://snomed.info/sct|196981000000101"
RFC4122 = "https://tools.ietf.org/html/rfc4122"
ACS_PERMISSION = "https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission"
FHIR_JSON = "application/fhir+json"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

TIMEOUT_S = 10  # connect and each read
MAX_BODY = 5 * 1024 * 1024  # a bigger answer is refused, not read
ATTEMPTS = 3  # per request, on 429 / 503 / 504 / a broken connection
BACKOFF_S = 0.5  # then doubled
MAX_RETRY_AFTER_S = 10

# Privacy alert per override reason (§4.5): (type, type display), (subtype, subtype display).
# A real UI lets the clinician pick the legal reason (subtype 1, 2 or 3) and the self-claimed one (1-4, 6).
ALERTS = {
    "emergency": (("2", "Access Alert"), ("5", "Access made in an emergency")),  # MSCA-SCR-104
    "legal": (("2", "Access Alert"), ("2", "Access required by statute")),  # MSCA-SCR-105
    "self-claimed": (("1", "Create LR (Self Claimed)"), ("4", "Self-Claim Emergency Access")),  # MSCA-SCR-103
}


class Failure(Exception):
    """Something the clinician is told as an error; the action still ran."""


def log(message):
    print(message, file=sys.stderr, flush=True)
    if os.environ.get("SCR_CLIENT_LOG"):  # optional: a file collecting every action's progress
        with open(os.environ["SCR_CLIENT_LOG"], "a", encoding="utf-8") as f:
            f.write(f"{now_iso()} {os.getpid()} {message}\n")


def now_iso():
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def read_secret(path):
    """The first line that is neither empty nor a # comment."""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()
    raise Failure(f"{path} holds no secret")


# ---- HTTP ------------------------------------------------------------------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # an API call never follows a redirect: the 3xx comes back as an answer


# Direct connections (add a ProxyHandler with your proxy here if you need one).
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())


def http_once(method, url, headers, body):
    """(status, headers, body bytes), or (None, None, reason) when no whole HTTP answer came."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        try:
            answer = OPENER.open(request, timeout=TIMEOUT_S)
        except urllib.error.HTTPError as error:  # 3xx/4xx/5xx: the body still says why
            answer = error
        with answer:
            data = answer.read(MAX_BODY + 1)
            if len(data) > MAX_BODY:
                return None, None, f"an answer larger than {MAX_BODY} bytes"
            return answer.getcode(), answer.headers, data
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        return None, None, str(getattr(error, "reason", error))  # refused, reset, timed out, garbled


def retry_after(headers):
    """The seconds a 429 asks to wait (a little more, never less; 1 s when it does not say)."""
    value = (headers or {}).get("Retry-After", "").strip()
    return (min(int(value), MAX_RETRY_AFTER_S) if value.isdigit() else 1) + 0.05


def send(method, url, headers, body=None):
    """One request, re-sent (same headers, same X-Request-ID, same body) after a 429 once Retry-After has
    passed, and after 503/504 or a broken connection with back-off; at most ATTEMPTS in all. `body` may be a
    function making a fresh body per attempt (token requests: each client assertion needs a new jti)."""
    name = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]
    for attempt in range(1, ATTEMPTS + 1):
        status, answer_headers, answer = http_once(method, url, headers, body() if callable(body) else body)
        log(f"{method} /{name} -> {status or answer}")
        if status not in (None, 429, 503, 504):
            return status, answer_headers, answer
        if attempt < ATTEMPTS:
            time.sleep(retry_after(answer_headers) if status == 429 else BACKOFF_S * 2 ** (attempt - 1))
    if status is None:
        raise Failure(f"no answer from {url}: {answer}")
    return status, answer_headers, answer


def fhir_json(status, headers, body, what):
    """The JSON object of a FHIR answer, or a Failure saying what came instead."""
    media = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if media not in (FHIR_JSON, "application/json"):
        raise Failure(f"{what}: HTTP {status} with Content-Type {media or 'none'}, not FHIR JSON")
    try:
        value = json.loads(body)
    except ValueError as error:
        raise Failure(f"{what}: HTTP {status} with a body that is not JSON ({error})") from None
    if not isinstance(value, dict):
        raise Failure(f"{what}: HTTP {status} with JSON that is not a resource")
    return value


def why(body):
    """What an error answer says: the OperationOutcome's text, or the identity service's error."""
    try:
        value = json.loads(body)
        if "issue" in value:
            issue = value["issue"][0]
            details = issue.get("details", {})
            display = (details.get("coding") or [{}])[0].get("display")
            return details.get("text") or issue.get("diagnostics") or display or ""
        return value.get("error_description", "")
    except (ValueError, LookupError, TypeError, AttributeError):
        return body[:200].decode("utf-8", "replace")


# ---- Session and tokens (§10.1, §10.2, §10.4) -----------------------------------------------------------


class Session:
    """Tokens and the signing key in use, kept across the actions of one scenario (one process each)."""

    def __init__(self, directory):
        self.path = Path(directory) / "session.json"
        try:
            self.data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.data = {}  # no session yet (or an unreadable one): sign in afresh

    def get(self, key, default=None):
        return self.data.get(key, default)

    def update(self, **values):
        self.data.update(values)
        self.data = {k: v for k, v in self.data.items() if v is not None}
        temp = self.path.with_suffix(".tmp")
        temp.write_text(json.dumps(self.data), encoding="utf-8")
        os.chmod(temp, 0o600)  # it holds tokens
        temp.replace(self.path)


class Auth:
    def __init__(self, env, session, app):
        self.env, self.session = env, session
        self.api_key, self.keys, self.secret_file = app.api_key, app.keys, app.client_secret_file

    def client_assertion(self):
        """RS512 JWT (§10.1): iss = sub = API key, aud = the token URL, a fresh jti, exp = now + 240 s."""
        kid = self.session.get("kid")
        kid = kid if kid in self.keys else next(iter(self.keys))
        header = {"alg": "RS512", "typ": "JWT", "kid": kid}
        claims = {
            "iss": self.api_key,
            "sub": self.api_key,
            "aud": self.env["SCR_ASSURE_TOKEN_URL"],
            "jti": str(uuid.uuid4()),
            "exp": int(time.time()) + 240,
        }
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signed = subprocess.run(
            ["openssl", "dgst", "-sha512", "-sign", str(self.keys[kid])],
            input=signing_input.encode("ascii"),
            capture_output=True,
            check=False,
        )
        if signed.returncode != 0:
            raise Failure(f"openssl could not sign the client assertion with {self.keys[kid]}")
        return f"{signing_input}.{b64url(signed.stdout)}"

    def token_request(self, form):
        """POST the form (a function of nothing) to the token URL; the answer's JSON, or None when refused."""
        url = self.env["SCR_ASSURE_TOKEN_URL"]
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        status, _, body = send("POST", url, headers, lambda: urllib.parse.urlencode(form()).encode())
        if status != 200:
            log(f"token request refused: HTTP {status} {why(body)}")
            return None
        try:
            return json.loads(body)
        except ValueError:
            raise Failure("the token answer is not JSON") from None

    def keep(self, answer):
        self.session.update(
            access_token=answer["access_token"],
            expires_at=int(time.time()) + int(answer.get("expires_in", "599")),
            refresh_token=answer.get("refresh_token"),
        )
        return answer["access_token"]

    def access_token(self):
        token = self.session.get("access_token")
        if token and self.session.get("expires_at", 0) > time.time() + 30:
            return token
        return self.renew()

    def renew(self):
        """A new access token: the refresh token first (each used once: it rotates), else token exchange."""
        refresh = self.session.get("refresh_token")
        self.session.update(access_token=None, refresh_token=None)  # used or broken: never presented again
        if refresh and self.secret_file:
            secret = read_secret(self.secret_file)
            answer = self.token_request(lambda: {
                "grant_type": "refresh_token",
                "client_id": self.api_key,
                "client_secret": secret,
                "refresh_token": refresh,
            })
            if answer:
                return self.keep(answer)
        answer = self.token_request(lambda: {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "subject_token": self.env["SCR_ASSURE_ID_TOKEN"],
            "client_assertion_type": JWT_BEARER,
            "client_assertion": self.client_assertion(),
        })
        if not answer:
            raise Failure("the identity service refused to sign the clinician in")
        return self.keep(answer)


# ---- The SCR API (§3.1, §4) -----------------------------------------------------------------------------


class Scr:
    def __init__(self, env, auth):
        self.env, self.auth = env, auth
        self.correlation_id = str(uuid.uuid4())  # one per action: ties its requests together

    def request(self, method, path, query=None, body=None):
        """An SCR request with its headers; a 401 renews the token once and re-sends, then gives up."""
        url = self.env["SCR_ASSURE_BASE_URL"].rstrip("/") + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {
            "Accept": FHIR_JSON,
            "NHSD-Session-URID": self.env["SCR_ASSURE_URID"],
            "X-Request-ID": str(uuid.uuid4()),  # one per request; a re-send repeats it
            "X-Correlation-ID": self.correlation_id,
        }
        data = None
        if body is not None:
            headers["Content-Type"] = FHIR_JSON
            data = json.dumps(body).encode("utf-8")
        for renewed in (False, True):
            token = self.auth.renew() if renewed else self.auth.access_token()
            headers["Authorization"] = f"Bearer {token}"
            status, answer_headers, answer = send(method, url, headers, data)
            if status != 401 or renewed:
                break
        if status == 401:
            raise Failure(f"{method} {path}: still not authorised after signing in again")
        return status, answer_headers, answer

    def latest(self, nhs):
        """GET /DocumentReference (§4.1): (SCR id, permission), (None, None) without an SCR, or 'forbidden'."""
        status, headers, body = self.request("GET", "/DocumentReference", {
            "patient": f"{NHS_NUMBER}|{nhs}",
            "type": GP_SUMMARY,
            "_sort": "date",
            "_count": "1",
        })
        if status == 403:
            return "forbidden"
        if status != 200:
            raise Failure(f"reading the SCR id failed: HTTP {status} {why(body)}")
        bundle = fhir_json(status, headers, body, "reading the SCR id")
        docs = [e.get("resource", {}) for e in bundle.get("entry", [])]
        docs = [d for d in docs if d.get("resourceType") == "DocumentReference"]
        if not docs:
            return None, None
        scr_id = docs[0].get("masterIdentifier", {}).get("value")
        if not scr_id:
            raise Failure("the DocumentReference has no SCR id (masterIdentifier)")
        codes = [c.get("code") for label in docs[0].get("securityLabel", []) for c in label.get("coding", [])
                 if c.get("system") == ACS_PERMISSION]
        return scr_id, (codes[0] if codes else "Ask")  # absent means Ask (§4.1)

    def read(self, nhs, scr_id):
        """GET /Bundle (§4.2) of exactly the id just read: what to show."""
        status, headers, body = self.request("GET", "/Bundle", {
            "composition.identifier": scr_id,
            "composition.subject:Patient.identifier": f"{NHS_NUMBER}|{nhs}",
        })
        if status == 403:
            return {"outcome": "no-consent"}
        if status != 200:
            raise Failure(f"reading the SCR failed: HTTP {status} {why(body)}")
        bundle = fhir_json(status, headers, body, "reading the SCR")
        entries = [e.get("resource", {}) for e in bundle.get("entry", [])]
        if bundle.get("resourceType") != "Bundle" or not entries:
            raise Failure(f"SCR {scr_id} is no longer the latest; open the record again")
        if entries[0].get("resourceType") != "Composition":
            raise Failure("the SCR document does not start with its Composition")
        return {"outcome": "displayed", "scr_id": scr_id}

    def set_permission(self, nhs, code):
        """POST /$setPermission (§4.4) with the patient's answer."""
        status, headers, body = self.request("POST", "/$setPermission", body={
            "resourceType": "Parameters",
            "parameter": [{"name": "setPermissions", "part": [
                {"name": "nhsNumber", "valueString": nhs},
                {"name": "permissionCode", "valueCoding": {"system": ACS_PERMISSION, "code": code}},
            ]}],
        })
        if status != 201:
            raise Failure(f"recording the patient's answer failed: HTTP {status} {why(body)}")

    def privacy_alert(self, nhs, scr_id, reason):
        """POST /AuditEvent (§4.5): the override, for this patient, user and SCR, before the read."""
        (type_code, type_display), (sub_code, sub_display) = ALERTS[reason]
        user = id_token_claims(self.env["SCR_ASSURE_ID_TOKEN"]).get("sub", "")

        def agent(system, value, **more):
            return {"who": {"identifier": {"system": system, "value": value}}, **more, "requestor": False}

        status, headers, body = self.request("POST", "/AuditEvent", body={
            "resourceType": "AuditEvent",
            "id": str(uuid.uuid4()).upper(),
            "extension": [{
                "url": "https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage",
                "valueString": f"Alert: Permission to view override {scr_id}",
            }],
            "type": {"system": "https://fhir.nhs.uk/CodeSystem/SCR-AlertType", "code": type_code,
                     "display": type_display},
            "subtype": [{"system": "https://fhir.nhs.uk/CodeSystem/SCR-AlertReason", "code": sub_code,
                         "display": sub_display}],
            "outcomeDesc": f"Permission to view overridden by the clinician ({reason})",
            "recorded": now_iso(),
            "agent": [
                agent(NHS_NUMBER, nhs),
                agent("https://fhir.nhs.uk/Id/ods-organization-code", ODS_CODE),
                agent("https://fhir.nhs.uk/Id/sds-user-id", user, role=[{"coding": [{
                    "system": "http://fhir.nhs.net/Id/sds-role-profile-id", "code": self.env["SCR_ASSURE_URID"]}]}]),
            ],
            "entity": [{"what": {"identifier": {"value": scr_id}}}],
        })
        if status != 201:
            raise Failure(f"the privacy alert was refused: HTTP {status} {why(body)}")

    def upload(self, bundle):
        status, headers, body = self.request("POST", "/Bundle", body=bundle)
        if status == 403:
            return False
        if status != 201:  # success is 201 with an empty body (§4.3)
            raise Failure(f"the upload was refused: HTTP {status} {why(body)}")
        return True


def id_token_claims(id_token):
    """The CIS2 id_token's claims (the user id is `sub`); the identity service verified its signature."""
    try:
        payload = id_token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        raise Failure("SCR_ASSURE_ID_TOKEN is not a JWT") from None


# ---- The actions (docs/CLIENT.md §4) --------------------------------------------------------------------


def retrieve(scr, nhs, answer=None, reason=None):
    """Open the SCR: id and permission first; No is final; anything else -- Ask, none, or the legacy Yes,
    which the spec says "must be treated the same as 'Ask'" (PartPermissionCode.yaml) -- is asked (answer),
    overridden (reason, with its privacy alert) or reported as consent-required."""
    latest = scr.latest(nhs)
    if latest == "forbidden":
        return {"outcome": "no-consent"}
    scr_id, permission = latest
    if scr_id is None:
        return {"outcome": "no-scr"}
    if permission == "No":
        return {"outcome": "no-consent"}
    # Ask, none, or the legacy Yes: the patient must be asked (or the clinician overrides).
    if reason:
        scr.privacy_alert(nhs, scr_id, reason)
    elif answer:
        scr.set_permission(nhs, "Yes" if answer == "yes" else "No")
        if answer != "yes":
            return {"outcome": "no-consent"}
    else:
        return {"outcome": "consent-required"}
    return scr.read(nhs, scr_id)


def upload(scr, nhs, bundle_file):
    """Send the GP Summary: fresh identifiers, replacing the SCR that is latest now."""
    try:
        bundle = json.loads(Path(bundle_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise Failure(f"cannot read the GP Summary {bundle_file}: {error}") from None
    resources = [e.get("resource", {}) for e in bundle.get("entry", [])]
    composition = next((r for r in resources if r.get("resourceType") == "Composition"), None)
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), {})
    if composition is None:
        raise Failure(f"{bundle_file} has no Composition")
    if not any(i.get("value") == nhs for i in patient.get("identifier", []) if i.get("system") == NHS_NUMBER):
        raise Failure(f"{bundle_file} is not the GP Summary of patient {nhs}")
    latest = scr.latest(nhs)
    if latest == "forbidden":
        return {"outcome": "no-consent"}
    scr_id = str(uuid.uuid4()).upper()
    bundle["identifier"] = {"system": RFC4122, "value": str(uuid.uuid4()).upper()}
    bundle["timestamp"] = now_iso()
    composition["identifier"] = {"system": RFC4122, "value": scr_id}
    composition.pop("relatesTo", None)
    if latest[0]:
        composition["relatesTo"] = [{"code": "replaces", "targetIdentifier": {"value": latest[0]}}]
    if not scr.upload(bundle):
        return {"outcome": "no-consent"}
    return {"outcome": "uploaded", "scr_id": scr_id}


def key_option(text):
    kid, _, path = text.partition("=")
    if not kid or not path:
        raise argparse.ArgumentTypeError("KID=PEM")
    return kid, Path(path).resolve()


def main(argv):
    parser = argparse.ArgumentParser(description="Example SCR client (a scr-assure system under test)")
    parser.add_argument("--api-key", default=API_KEY, help="the app's API key (client id)")
    parser.add_argument("--key", action="append", metavar="KID=PEM", type=key_option,
                        help="a signing key (repeatable; the first is used until rotate_key)")
    parser.add_argument("--client-secret-file", type=Path, default=CLIENT_SECRET_FILE)
    parser.add_argument("action", choices=["retrieve", "retrieve_with_answer", "emergency_access", "upload",
                                           "rotate_key"])
    parser.add_argument("params", nargs="*")
    args = parser.parse_args(argv)
    arity = {"retrieve": 1, "retrieve_with_answer": 2, "emergency_access": 2, "upload": 2, "rotate_key": 1}
    if len(args.params) != arity[args.action]:
        parser.error(f"{args.action} takes {arity[args.action]} parameter(s)")
    p = args.params
    if args.action == "retrieve_with_answer" and p[1] not in ("yes", "no"):
        parser.error("the answer is yes or no")
    if args.action == "emergency_access" and p[1] not in ALERTS:
        parser.error(f"the reason is one of {', '.join(ALERTS)}")

    env = {name: os.environ.get(name, "") for name in (
        "SCR_ASSURE_BASE_URL", "SCR_ASSURE_TOKEN_URL", "SCR_ASSURE_ID_TOKEN", "SCR_ASSURE_URID",
        "SCR_ASSURE_SESSION_DIR")}
    missing = [name for name, value in env.items() if not value]
    if missing:
        parser.error(f"missing environment: {', '.join(missing)}")
    session = Session(env["SCR_ASSURE_SESSION_DIR"])

    args.keys = dict(args.key) if args.key else KEYS
    if args.action == "rotate_key":
        if p[0] not in args.keys:
            return {"outcome": "error", "message": f"no private key for kid {p[0]}"}
        session.update(kid=p[0])  # client assertions are signed with it from now on
        return {"outcome": "done"}
    scr = Scr(env, Auth(env, session, args))
    if args.action == "retrieve":
        return retrieve(scr, p[0])
    if args.action == "retrieve_with_answer":
        return retrieve(scr, p[0], answer=p[1])
    if args.action == "emergency_access":
        return retrieve(scr, p[0], reason=p[1])
    return upload(scr, p[0], p[1])


if __name__ == "__main__":
    try:
        outcome = main(sys.argv[1:])
    except Failure as failure:
        outcome = {"outcome": "error", "message": str(failure)}
    except Exception as error:  # a bug: still one JSON object, and the traceback on stderr
        import traceback

        traceback.print_exc()
        print(json.dumps({"outcome": "error", "message": f"{type(error).__name__}: {error}"}))
        sys.exit(1)
    print(json.dumps(outcome))
