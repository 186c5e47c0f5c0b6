"""Open Badges 3.0 AchievementCredentials and a CLR 2.0 transcript, signed as VC-JWT (OB 3.0 section 8.2).

One credential per area whose coverage rule is met and one per level when every area meets it. The
shop is both issuer and `source`; ratings go in `result`, ASE codes in `achievement.alignment`, and each
evidence entry points at the sign-off on the record's public verification page."""

import base64
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from joserfc import jws
from joserfc.errors import JoseError
from jsonschema import Draft201909Validator, FormatChecker
from sqlmodel import Session, select

from exports import case, dataintegrity, keys, statuslist
from exports.models import IssuedCredential
from exports.record import content_of, issue_record
from mentoring.access.policy import Actor
from mentoring.clock import utcnow
from mentoring.errors import FormError
from mentoring.people.models import Organization, Person
from mentoring.progress.models import Assignment
from mentoring.trail import audit
from tasklists.documents import is_shop_code

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CLR_CONTEXT = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
# Defines 1EdTechJsonSchemaValidator2019 (credentialSchema.type), which the OB context does not: without it
# verifier-core's JSON-LD safe mode refuses the Data Integrity form ("relative @type reference").
OB_EXTENSIONS_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
OB_SCHEMA = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
ASE_URL = "https://www.aseeducationfoundation.org/"
RATING_SCALE = "urn:x-workplace-mentoring:result:task-rating"
AREA_STATUS = "urn:x-workplace-mentoring:result:area-coverage"
SCHEMA_DIR = Path(__file__).parent / "schemas"


class _Registry(jws.JWSRegistry):
    # A transcript of a whole MAST list runs to megabytes; joserfc's default refuses payloads over 128 kB.
    max_payload_length = 8 * 1024 * 1024


@cache
def _validator() -> Draft201909Validator:
    schema = json.loads((SCHEMA_DIR / "achievementcredential.schema.json").read_text())
    return Draft201909Validator(schema, format_checker=FormatChecker())


def schema_errors(credential: dict) -> list[str]:
    """Where the credential breaks the official OB 3.0 AchievementCredential JSON Schema."""
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
            for e in _validator().iter_errors(credential)]


@dataclass(frozen=True)
class Earned:
    key: str  # area:<code> | level:<level>
    kind: str  # area | level
    name: str
    area: dict | None


def earned(content: dict) -> list[Earned]:
    """Areas whose coverage rule is met with at least one standard task in them, then the level if all are."""
    level = content["task_list"]["level"]
    found = []
    for cov in content["coverage"]["areas"]:
        standard = sum(p["total"] for p in cov["priorities"].values())
        if cov["passes"] and standard:
            area = next(a for a in content["areas"] if a["code"] == cov["code"])
            found.append(Earned(f"area:{cov['code']}", "area", f"{cov['title']} ({level})", area))
    if content["coverage"]["passes"] and found:
        found.append(Earned(f"level:{level}", "level", f"{level} complete", None))
    return found


def _alignment(code: str, name: str, framework: str, kind: str, tl: dict, base_url: str, record_url: str) -> dict:
    """Areas and standard tasks point at their item of the catalog's CASE framework (exports/case.py); a level at
    the framework itself; a shop's own task, which no public framework holds, at its sign-off in the record."""
    if kind == "ASELevel":
        target_type, url = f"ext:{kind}", case.catalog_document_uri(base_url, tl["program"], tl["edition"])
    elif is_shop_code(code):
        target_type, url = "ext:ShopTask", f"{record_url}#task-{code}"
    else:
        target_type = "CFItem"
        url = case.catalog_item_uri(base_url, tl["program"], tl["edition"], "area" if kind == "ASETaskArea" else "task",
                                    code)
    return {"type": ["Alignment"], "targetCode": code, "targetName": name[:200], "targetFramework": framework,
            "targetType": target_type, "targetUrl": url}


def _profile(base_url: str, shop: dict) -> dict:
    return {"id": keys.did_of(base_url, shop["id"]), "type": ["Profile"], "name": shop["name"], "url": base_url}


def _identifiers(mentee_name: str, email: str) -> list[dict]:
    salt = secrets.token_hex(8)
    digest = hashlib.sha256((email.lower() + salt).encode()).hexdigest()
    return [{"type": "IdentityObject", "identityType": "name", "hashed": False, "identityHash": mentee_name},
            {"type": "IdentityObject", "identityType": "emailAddress", "hashed": True,
             "identityHash": f"sha256${digest}", "salt": salt}]


def build_credential(content: dict, item: Earned, *, credential_id: str, base_url: str, record_code: str,
                     email: str, valid_from: datetime, status_index: int) -> dict:
    tl = content["task_list"]
    framework = f"ASE Education Foundation {tl['title']} {tl['edition']}"
    shop = _profile(base_url, content["shop"])
    base = f"urn:x-workplace-mentoring:achievement:{tl['program']}:{tl['edition']}:{tl['level']}"
    record_url = f"{base_url}/verify/{record_code}"
    where = (tl, base_url, record_url)
    rule = content["rule"]
    criteria = (f"Signed off by a mentor at a rating of {tl['required_rating']} or higher on at least "
                f"{rule['P-1']}% of P-1, {rule['P-2']}% of P-2 and {rule['P-3']}% of P-3 tasks")
    if item.kind == "area":
        area = item.area
        achievement = {
            "id": f"{base}:area:{area['code']}", "type": ["Achievement"], "achievementType": "Competency",
            "name": item.name, "humanCode": area["code"],
            "description": f"Area {area['code']} ({area['title']}) of the {tl['title']} {tl['edition']} task list "
                           f"at level {tl['level']}, practised and signed off at {content['shop']['name']}.",
            "criteria": {"narrative": criteria + " in this area."},
            "alignment": [_alignment(area["code"], area["title"], framework, "ASETaskArea", *where)]
                         + [_alignment(t["code"], t["statement"], framework, "ASETask", *where)
                            for t in area["tasks"] if t["status"] == "signed"],
            "resultDescription": [{"id": RATING_SCALE, "type": ["ResultDescription"], "name": "Task rating",
                                   "resultType": "RubricScore", "valueMin": "1", "valueMax": "5",
                                   "requiredValue": str(tl["required_rating"])}],
        }
        signed = [t for t in area["tasks"] if t["status"] == "signed"]
        results = [{"type": ["Result"], "resultDescription": RATING_SCALE, "value": str(t["rating"]),
                    "alignment": [_alignment(t["code"], t["statement"], framework, "ASETask", *where)]} for t in signed]
        evidence = [{"id": f"{record_url}#task-{t['code']}", "type": ["Evidence"], "name": f"Sign-off of {t['code']}",
                     "genre": "Sign-off", "narrative": _narrative(t)} for t in signed]
    else:
        areas = content["coverage"]["areas"]
        achievement = {
            "id": f"{base}:level", "type": ["Achievement"], "achievementType": "Certificate",
            "name": item.name, "humanCode": tl["level"],
            "description": f"Every area of the {tl['title']} {tl['edition']} task list at level {tl['level']} "
                           f"meets the coverage rule, signed off at {content['shop']['name']}.",
            "criteria": {"narrative": criteria + " in every area."},
            "alignment": [_alignment(tl["level"], f"{tl['title']} {tl['level']}", framework, "ASELevel", *where)]
                         + [_alignment(a["code"], a["title"], framework, "ASETaskArea", *where) for a in areas],
            "resultDescription": [{"id": AREA_STATUS, "type": ["ResultDescription"], "name": "Area coverage",
                                   "resultType": "Status"}],
        }
        results = [{"type": ["Result"], "resultDescription": AREA_STATUS, "status": "Completed",
                    "alignment": [_alignment(a["code"], a["title"], framework, "ASETaskArea", *where)]} for a in areas]
        evidence = [{"id": record_url, "type": ["Evidence"], "name": "Completion record",
                     "genre": "Completion record", "narrative": "The shop's record of every sign-off."}]
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT, OB_EXTENSIONS_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"{item.name}: {content['mentee']['name']}",
        "issuer": shop,
        "validFrom": valid_from.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": _identifiers(content["mentee"]["name"], email),
            "achievement": achievement,
            "source": shop,
            "result": results,
            "activityStartDate": f"{content['assignment']['start_date']}T00:00:00Z",
        },
        "evidence": evidence,
        "credentialStatus": statuslist.entry(base_url, content["shop"]["id"], status_index),
        "credentialSchema": [{"id": OB_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }


def _narrative(t: dict) -> str:
    text = f"Rated {t['rating']} of 5 by {t['signed_by']} ({t['meaning']}) on {t['signed_at'][:10]}."
    for c in t["countersigns"]:
        text += f" Countersigned by {c['by']} ({c['meaning']}) on {c['at'][:10]}."
    return text


def revocation_list_url(base_url: str, org_id: int) -> str:
    return f"{base_url}/orgs/{org_id}/credentials/revocations.json"


def sign(credential: dict, stored_key: keys.IssuerKey, secret: str, base_url: str) -> str:
    """A compact JWS whose payload is the credential plus the JWT claims OB 3.0 maps onto it."""
    valid_from = datetime.fromisoformat(credential["validFrom"].replace("Z", "+00:00"))
    payload = {**credential, "iss": credential["issuer"]["id"], "jti": credential["id"],
               "nbf": int(valid_from.timestamp())}
    header = {"alg": keys.ALGORITHM, "typ": "JWT", "kid": keys.verification_method(base_url, stored_key)}
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return jws.serialize_compact(header, body, keys.signing_key(stored_key, secret))


def sign_di(credential: dict, stored_key: keys.IssuerKey, secret: str, base_url: str, created: str = "") -> str:
    """The credential with an embedded eddsa-rdfc-2022 proof by the organization's Ed25519 key, as JSON."""
    try:
        signed = dataintegrity.add_proof(credential, keys.ed25519_private(stored_key, secret),
                                         verification_method=keys.verification_method(base_url, stored_key),
                                         created=created or credential["validFrom"])
    except dataintegrity.ProofError as exc:  # never hand out a proof that wallets would reject
        raise FormError({"": f"The credential cannot carry a Data Integrity proof: {exc}"}) from exc
    signed["proof"] = [signed["proof"]]  # the OB 3.0 and CLR 2.0 schemas want an array, as their test vectors use
    return json.dumps(signed, ensure_ascii=False, indent=2)


def credential_file(cred: IssuedCredential, fmt: str | None) -> tuple[str, str, str]:
    """(content, media type, file name) of an issued credential in the form the mentee chose; with no choice,
    the wallet form if the credential has one."""
    fmt = fmt or ("di" if cred.di_json else "jwt")
    stem = f"{cred.kind}-{cred.achievement_key.replace(':', '-')}-{cred.uuid[:8]}"
    if fmt == "jwt":
        return cred.token, "application/vc+jwt", stem + ".jwt"
    if fmt != "di":
        raise FormError({"format": "Choose the file for wallets or the VC-JWT."})
    if not cred.di_json:
        raise FormError({"format": "This credential has no wallet file yet: a manager's next “Issue or update "
                                   "credentials” adds it. The VC-JWT is available now."})
    return cred.di_json, "application/vc", stem + ".json"


def payload_of(token: str) -> dict:
    """The payload without checking the signature: for showing what a stored credential says."""
    return json.loads(_b64(token.split(".")[1]))


# --- issuing and revoking -------------------------------------------------------------------

def active_credentials(db: Session, assignment_id: int) -> list[IssuedCredential]:
    return list(db.exec(select(IssuedCredential).where(IssuedCredential.assignment_id == assignment_id,
                                                       IssuedCredential.revoked_at.is_(None))
                        .order_by(IssuedCredential.id)).all())


def credentials_of(db: Session, assignment_id: int) -> list[IssuedCredential]:
    return list(db.exec(select(IssuedCredential).where(IssuedCredential.assignment_id == assignment_id)
                        .order_by(IssuedCredential.id.desc())).all())


def issue_credentials(db: Session, actor: Actor, assignment: Assignment, *, base_url: str, secret: str
                      ) -> list[IssuedCredential]:
    """Bring the assignment's credentials up to date and return the active ones.

    A credential stays valid while its achievement is still met; one whose area no longer meets the rule
    (a sign-off was revoked) is revoked. The transcript is reissued whenever the set it bundles changes."""
    record = issue_record(db, actor, assignment)
    content = content_of(record)
    email = db.get(Person, assignment.mentee_id).email
    stored_key = keys.key_for(db, assignment.shop_id, secret)
    di_key = keys.current_key(db, assignment.shop_id, secret, keys.EDDSA)  # also signs the status list
    now = utcnow().replace(microsecond=0)
    wanted = {e.key: e for e in earned(content)}
    active = {c.achievement_key: c for c in active_credentials(db, assignment.id)}
    _add_wallet_forms(db, list(active.values()), di_key, secret, base_url)
    for key, cred in active.items():
        if key != "transcript" and key not in wanted:
            _revoke(db, actor, cred, "The achievement is no longer met: a sign-off it relied on was revoked.")
    changed = False
    for key, item in wanted.items():
        if key in active:
            continue
        credential_id = f"urn:uuid:{uuid.uuid4()}"
        index = statuslist.allocate_index(db, assignment.shop_id)
        credential = build_credential(content, item, credential_id=credential_id, base_url=base_url,
                                      record_code=record.code, email=email, valid_from=now, status_index=index)
        problems = schema_errors(credential)
        if problems:  # never hand out a credential that verifiers would reject
            raise FormError({"": "The credential does not pass the Open Badges schema: " + problems[0]})
        row = IssuedCredential(uuid=credential_id.removeprefix("urn:uuid:"), assignment_id=assignment.id,
                               mentee_id=assignment.mentee_id, issuer_id=assignment.shop_id, kind=item.kind,
                               achievement_key=key, name=credential["name"][:200],
                               token=sign(credential, stored_key, secret, base_url), issued_at=now,
                               di_json=sign_di(credential, di_key, secret, base_url),
                               issued_by_id=actor.person_id, status_index=index)
        db.add(row)
        db.flush()
        audit.record(db, actor, "credential.issue", row, org_id=assignment.shop_id, achievement=key)
        changed = True
    current = [c for c in active_credentials(db, assignment.id) if c.kind != "transcript"]
    transcript = active.get("transcript")
    if transcript and (changed or len(current) != len(active) - 1):
        _revoke(db, actor, transcript, "Replaced by a newer transcript.")
        transcript = None
    if current and transcript is None:
        _transcript(db, actor, assignment, content, current, email=email, stored_key=stored_key, di_key=di_key,
                    base_url=base_url, secret=secret, now=now)
    return active_credentials(db, assignment.id)


def _add_wallet_forms(db: Session, creds: list[IssuedCredential], di_key, secret: str, base_url: str) -> None:
    """Credentials issued before the Data Integrity form existed get it, over exactly what their VC-JWT says."""
    if all(c.di_json for c in creds):
        return
    forms: dict[str, dict] = {}
    created = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    for cred in sorted(creds, key=lambda c: c.kind == "transcript"):  # a transcript bundles the others' forms
        if not cred.di_json:
            try:
                credential = _strip_claims(payload_of(cred.token))
            except (ValueError, IndexError):  # not a token we can read: nothing to sign again
                continue
            if cred.kind == "transcript":
                subject = credential["credentialSubject"]
                subject["verifiableCredential"] = [forms.get(v.get("id"), v) for v in subject["verifiableCredential"]]
            try:
                cred.di_json = sign_di(credential, di_key, secret, base_url, created=created)
            except FormError:  # made before its contexts defined every term (the extensions context): JWT only
                continue
            db.add(cred)
        forms[f"urn:uuid:{cred.uuid}"] = json.loads(cred.di_json)


def _transcript(db: Session, actor: Actor, assignment: Assignment, content: dict, creds: list[IssuedCredential],
                *, email: str, stored_key, di_key, base_url: str, secret: str, now: datetime) -> IssuedCredential:
    """A CLR 2.0 ClrCredential bundling the mentee's achievement credentials, signed the same way."""
    bundled = [_strip_claims(payload_of(c.token)) for c in creds]
    credential_id = f"urn:uuid:{uuid.uuid4()}"
    index = statuslist.allocate_index(db, assignment.shop_id)
    shop = _profile(base_url, content["shop"])
    clr = {
        "@context": [VC_CONTEXT, CLR_CONTEXT, OB_CONTEXT, OB_EXTENSIONS_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", "ClrCredential"],
        "name": f"Transcript: {content['mentee']['name']}, {content['task_list']['name']}",
        "issuer": shop,
        "validFrom": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "credentialSubject": {
            "type": ["ClrSubject"],
            "identifier": _identifiers(content["mentee"]["name"], email),
            "achievement": [c["credentialSubject"]["achievement"] for c in bundled],
            "verifiableCredential": bundled,
        },
        "credentialStatus": statuslist.entry(base_url, content["shop"]["id"], index),
    }
    row = IssuedCredential(uuid=credential_id.removeprefix("urn:uuid:"), assignment_id=assignment.id,
                           mentee_id=assignment.mentee_id, issuer_id=assignment.shop_id, kind="transcript",
                           achievement_key="transcript", name=clr["name"][:200],
                           token=sign(clr, stored_key, secret, base_url), issued_at=now, issued_by_id=actor.person_id,
                           status_index=index)
    if all(c.di_json for c in creds):
        # The wallet form bundles each credential with its own proof, so each one in it can be checked alone.
        subject = {**clr["credentialSubject"], "verifiableCredential": [json.loads(c.di_json) for c in creds]}
        row.di_json = sign_di({**clr, "credentialSubject": subject}, di_key, secret, base_url)
    db.add(row)
    db.flush()
    audit.record(db, actor, "credential.issue", row, org_id=assignment.shop_id, achievement="transcript")
    return row


def _strip_claims(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k not in ("iss", "jti", "nbf", "sub", "exp")}


def _revoke(db: Session, actor: Actor, cred: IssuedCredential, reason: str) -> None:
    cred.revoked_at, cred.revoked_by_id, cred.revoked_reason = utcnow(), actor.person_id, reason
    db.add(cred)
    audit.record(db, actor, "credential.revoke", cred, org_id=cred.issuer_id, reason=reason)


def revoke_credential(db: Session, actor: Actor, cred: IssuedCredential, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise FormError({"reason": "Say why the credential is revoked; verifiers will read it."})
    if len(reason) > 300:
        raise FormError({"reason": "Keep it under 300 characters."})
    if cred.revoked_at is not None:
        raise FormError({"": "This credential is already revoked."})
    _revoke(db, actor, cred, reason)


def revocation_list(db: Session, base_url: str, org_id: int) -> dict:
    """The 1EdTech revocation list verifiers fetch from credentialStatus.id: ids only, since revocationReason
    is optional and the shop's free-text reasons are not for strangers."""
    rows = db.exec(select(IssuedCredential).where(IssuedCredential.issuer_id == org_id,
                                                  IssuedCredential.revoked_at.is_not(None))
                   .order_by(IssuedCredential.revoked_at)).all()
    return {"id": revocation_list_url(base_url, org_id), "issuer": keys.did_of(base_url, org_id),
            "revokedCredentials": [{"id": f"urn:uuid:{c.uuid}"} for c in rows]}


# --- verifying ------------------------------------------------------------------------------

@dataclass
class CredentialCheck:
    authentic: bool
    status: str  # current | revoked | not-yet-valid | expired | invalid | untrusted (signing key revoked)
    message: str
    name: str = ""
    issuer: str = ""
    subject: str = ""
    issued: str = ""
    problems: list[str] | None = None


def verify_token(db: Session, token: str) -> CredentialCheck:
    """Signature against the issuer's published key, the OB 3.0 schema, the status list and the dates."""
    token = "".join(token.split())
    if token.count(".") != 2:
        return CredentialCheck(False, "invalid", "This is not a signed credential (a VC-JWT has three parts).")
    try:
        header = json.loads(_b64(token.split(".")[0]))
        stored_key = keys.find_by_verification_method(db, str(header.get("kid", "")))
    except (ValueError, TypeError, AttributeError):
        return CredentialCheck(False, "invalid", "The credential's header cannot be read; it was damaged or changed.")
    if stored_key is None or stored_key.algorithm != keys.ALGORITHM:
        return CredentialCheck(False, "invalid", "The credential was not signed with a key published here.")
    try:
        payload = json.loads(jws.deserialize_compact(token, keys.public_key(stored_key),
                                                     registry=_Registry(algorithms=[keys.ALGORITHM])).payload)
    except (JoseError, ValueError, TypeError):
        return CredentialCheck(False, "invalid", "The signature does not match: the credential was changed after "
                                                 "it was issued, or it is not genuine.")
    return _check_content(db, payload, stored_key, kept=lambda row: row.token == token)


def verify_document(db: Session, document: dict) -> CredentialCheck:
    """The Data Integrity form: the embedded proof against the issuer's published Ed25519 key, then the same
    checks as a VC-JWT (schema, status list, dates)."""
    try:
        proof = dataintegrity.proof_of(document)
    except dataintegrity.ProofError as exc:
        return CredentialCheck(False, "invalid", str(exc))
    stored_key = keys.find_by_verification_method(db, proof["verificationMethod"])
    if stored_key is None or stored_key.algorithm != keys.EDDSA:
        return CredentialCheck(False, "invalid", "The credential was not signed with a key published here.")
    try:
        dataintegrity.verify_proof(document, keys.ed25519_public(stored_key))
    except dataintegrity.ProofError as exc:
        return CredentialCheck(False, "invalid", str(exc))
    return _check_content(db, document, stored_key,
                          kept=lambda row: bool(row.di_json) and json.loads(row.di_json) == document)


def _check_content(db: Session, payload: dict, stored_key: keys.IssuerKey, *, kept) -> CredentialCheck:
    """What a genuine signature leaves to check: issuer, schema, the issuer's copy, the signing key's state,
    revocation and dates. `kept(row)` tells whether this is exactly the copy the issuer stored."""
    issuer_org = stored_key.organization_id
    org = db.get(Organization, issuer_org)
    name = payload.get("name", "")
    subject = next((i.get("identityHash", "") for i in payload.get("credentialSubject", {}).get("identifier", [])
                    if i.get("identityType") == "name"), "")
    check = CredentialCheck(True, "current", "", name=name, issuer=org.name if org else "", subject=subject,
                            issued=str(payload.get("validFrom", ""))[:10])
    if not str(payload.get("issuer", {}).get("id", "")).endswith(f":orgs:{issuer_org}"):
        return _bad(check, "The credential names an issuer other than the one whose key signed it.")
    if "ClrCredential" not in payload.get("type", []):
        problems = schema_errors(_strip_claims(payload))
        if problems:
            check.problems = problems
            return _bad(check, "The credential does not follow the Open Badges 3.0 schema.")
    row = db.exec(select(IssuedCredential).where(
        IssuedCredential.uuid == str(payload.get("id", "")).removeprefix("urn:uuid:"))).first()
    if row is None:
        return _bad(check, "No credential with this id was issued here.")
    if stored_key.revoked_from is not None:
        try:
            signed_at = datetime.fromisoformat(str(payload.get("validFrom", "")).replace("Z", "+00:00"))
        except ValueError:
            signed_at = None
        # Whoever holds a compromised key can backdate, so "signed before" counts only for the very copy
        # the issuer kept.
        if signed_at is None or keys.revoked_for(stored_key, signed_at) or not kept(row):
            check.authentic, check.status = False, "untrusted"
            check.message = keys.revocation_message(stored_key)
            return check
    now = utcnow()
    if row.revoked_at is not None:
        check.status = "revoked"
        check.message = f"Revoked by the issuer on {row.revoked_at:%Y-%m-%d}."  # the free-text reason stays private
    elif datetime.fromisoformat(payload["validFrom"].replace("Z", "+00:00")) > now:
        check.status, check.message = "not-yet-valid", "The credential is not valid yet."
    elif payload.get("validUntil") and datetime.fromisoformat(payload["validUntil"].replace("Z", "+00:00")) < now:
        check.status, check.message = "expired", "The credential has expired."
    else:
        check.message = "Authentic and current: signed by the issuer and not revoked."
    if stored_key.revoked_from is not None:
        check.message += " " + keys.revoked_before_message(stored_key)
    return check


def _bad(check: CredentialCheck, message: str) -> CredentialCheck:
    check.authentic, check.status, check.message = False, "invalid", message
    return check


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
