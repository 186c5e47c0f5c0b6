"""Signed checkpoints of each organization's history (mentoring/trail/checkpoints.py says what they state).

Written by `mentoring audit checkpoint` (cron) and after records and credentials are issued, signed with
the organization's issuer key, published at /orgs/<id>/checkpoints.json and checked by `mentoring audit
verify`, against the database's own checkpoints and against a copy kept elsewhere."""

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from sqlmodel import Session, select

from exports import keys
from exports.models import AuditCheckpoint, IssuerKey
from mentoring.clock import utcnow
from mentoring.people.models import Organization
from mentoring.trail import checkpoints
from mentoring.trail.checkpoints import Finding, Stated

PUBLISHED = 100  # newest checkpoints in the public document


def _canonical(content: dict) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b64json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def statement_of(token: str) -> dict:
    """The statement without checking the signature: for continuing from it and for showing it."""
    return _b64json(token.split(".")[1])


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class BadSignature(Exception):
    """A checkpoint that its organization's key did not sign, or that cannot be read."""


def newest(db: Session, org_id: int) -> AuditCheckpoint | None:
    return db.exec(select(AuditCheckpoint).where(AuditCheckpoint.organization_id == org_id)
                   .order_by(AuditCheckpoint.number.desc())).first()


def write_checkpoint(db: Session, org_id: int, *, secret: str, base_url: str) -> AuditCheckpoint | None:
    """Sign what the organization's history is now; nothing when it is what the last checkpoint said.

    Call it at the start of a transaction of its own (after the issuing one commits): it first waits
    for every transaction writing audit entries, see mentoring.trail.checkpoints.hold_audit_writers. Raises
    BadSignature when the newest checkpoint is not genuine, and keys.KeyUnavailable."""
    checkpoints.hold_audit_writers(db)  # also keeps two first checkpoints from both making the key
    stored = keys.key_for(db, org_id, secret)
    signer = keys.signing_key(stored, secret)
    last = newest(db, org_id)
    try:  # continue only from a genuine checkpoint: a changed one would carry its change forward
        previous = verified_statement(db, last.token) if last else None
    except BadSignature as bad:
        raise BadSignature(f"the newest checkpoint (#{last.number}) of organization {org_id} is not genuine: {bad}; "
                           "run `mentoring audit verify`") from None
    now = utcnow().replace(microsecond=0)
    content = checkpoints.statement(
        db, org_id, number=last.number + 1 if last else 1, at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        through_id=checkpoints.newest_entry_id(db), previous=previous,
        previous_hash=token_hash(last.token) if last else "")
    if previous and checkpoints.same_history(previous, content):
        return None
    header = {"alg": keys.ALGORITHM, "typ": "JOSE", "kid": keys.verification_method(base_url, stored)}
    row = AuditCheckpoint(organization_id=org_id, number=content["number"], at=now,
                          token=jws.serialize_compact(header, _canonical(content), signer))
    db.add(row)
    db.flush()
    return row


def write_all(db: Session, *, secret: str, base_url: str) -> tuple[list[AuditCheckpoint], list[str]]:
    """A checkpoint of every organization whose history changed; one whose newest checkpoint is not genuine
    is left out and named, so that it does not hold up the others."""
    written, refused = [], []
    for org_id in db.exec(select(Organization.id).order_by(Organization.id)).all():
        try:
            row = write_checkpoint(db, org_id, secret=secret, base_url=base_url)
        except BadSignature as bad:
            refused.append(str(bad))
            continue
        if row is not None:
            written.append(row)
    return written, refused


def published(db: Session, org_id: int, limit: int = PUBLISHED) -> dict:
    """The public document, newest first: each statement, its signature and the key that made it.

    The key travels with the copy so that a copy kept elsewhere still verifies if the database's key is
    later replaced."""
    rows = db.exec(select(AuditCheckpoint).where(AuditCheckpoint.organization_id == org_id)
                   .order_by(AuditCheckpoint.number.desc()).limit(limit)).all()
    stored = keys.stored_key(db, org_id)
    signers = [keys.jwk_entry(k) for k in keys.keys_of(db, org_id) if k.algorithm == keys.ALGORITHM]
    return {"organization": org_id, "format": checkpoints.FORMAT, "key": keys.jwk_entry(stored) if stored else None,
            "keys": signers,  # every key that signed a checkpoint, current or retired by `mentoring keys rotate`
            "checkpoints": [{"number": r.number, "at": statement_of(r.token)["at"],
                             "kid": _b64json(r.token.split(".")[0]).get("kid", ""),
                             "statement": statement_of(r.token), "jws": r.token} for r in rows]}


# --- verifying -----------------------------------------------------------------------------------------

def _key_check(stored: IssuerKey) -> ECKey:
    key = keys.public_key(stored)
    if key.thumbprint() != stored.kid:  # the stored public key was swapped under the old key id
        raise BadSignature(f"the organization's stored public key does not match its key id {stored.kid}")
    return key


def _kid(token: str) -> str:
    try:
        return str(_b64json(token.split(".")[0]).get("kid", "")).rsplit("#", 1)[-1]
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise BadSignature("it cannot be read") from exc


def verified_statement(db: Session, token: str, saved_key: dict | None = None) -> dict:
    """The statement, if the organization's key signed it (the key kept with a saved copy, else the
    database's); BadSignature otherwise."""
    kid, org_id, stored = _kid(token), None, None
    if saved_key is not None:
        key = ECKey.import_key({k: saved_key[k] for k in ("kty", "crv", "x", "y") if k in saved_key})
        if key.thumbprint() != kid:
            raise BadSignature("it was not signed with the key saved with it")
    else:
        stored = keys.find_by_verification_method(db, kid)
        if stored is None:
            raise BadSignature("it was signed with a key this database does not hold")
        key, org_id = _key_check(stored), stored.organization_id
    try:
        content = json.loads(jws.deserialize_compact(token, key, algorithms=[keys.ALGORITHM]).payload)
    except (JoseError, ValueError, TypeError) as exc:
        raise BadSignature("its signature does not verify with the organization's published key: it was "
                           "changed or forged") from exc
    if not isinstance(content, dict) or content.get("format") != checkpoints.FORMAT:
        raise BadSignature("it is not a checkpoint")
    if org_id is not None and content.get("organization") != org_id:
        raise BadSignature("it is signed by another organization's key")
    if stored is not None and stored.revoked_from is not None:
        try:
            revoked = keys.revoked_for(stored, datetime.fromisoformat(str(content.get("at")).replace("Z", "+00:00")))
        except ValueError:
            revoked = True
        if revoked:
            raise BadSignature(keys.revocation_message(stored))
    return content


@dataclass
class Verification:
    findings: list[Finding] = field(default_factory=list)  # history that no longer matches a checkpoint
    problems: list[str] = field(default_factory=list)  # checkpoints themselves: forged, missing, rewritten
    warnings: list[str] = field(default_factory=list)
    checked: int = 0  # checkpoints whose signature verified
    newest: dict[int, AuditCheckpoint] = field(default_factory=dict)


def _label(names: dict[int, str], content: dict, saved: bool = False) -> str:
    org = names.get(content["organization"], f"organization {content['organization']}")
    return f"{'the saved copy of ' if saved else ''}checkpoint #{content['number']} of {org} ({content['at']})"


def verify(db: Session, saved: list[tuple[str, dict | None]] | None = None) -> Verification:
    """Check every checkpoint's signature and links, then the history against all of them and the saved copy."""
    result = Verification()
    names = dict(db.exec(select(Organization.id, Organization.name)).all())
    stated: list[Stated] = []
    stored_by_number: dict[tuple[int, int], str] = {}
    previous: AuditCheckpoint | None = None
    for row in db.exec(select(AuditCheckpoint).order_by(AuditCheckpoint.organization_id,
                                                        AuditCheckpoint.number)).all():
        org = names.get(row.organization_id, f"organization {row.organization_id}")
        stored_by_number[(row.organization_id, row.number)] = row.token
        if previous is not None and previous.organization_id != row.organization_id:
            previous = None
        try:
            content = verified_statement(db, row.token)
        except BadSignature as bad:
            result.problems.append(f"checkpoint #{row.number} of {org} is not genuine: {bad}")
            previous = row
            continue
        if content.get("number") != row.number or content.get("organization") != row.organization_id:
            result.problems.append(f"checkpoint #{row.number} of {org} holds the statement of checkpoint "
                                   f"#{content.get('number')}: checkpoints were moved")
        expected = (previous.number + 1, token_hash(previous.token)) if previous else (1, "")
        if (row.number, content.get("previous")) != expected:
            result.problems.append(f"checkpoint #{row.number} of {org} does not follow checkpoint "
                                   f"#{expected[0] - 1}: checkpoints in between were deleted or replaced")
        stated.append(Stated(_label(names, content), content))
        result.checked += 1
        result.newest[row.organization_id] = row
        previous = row
    replaced: set[int] = set()
    for token, saved_key in saved or []:
        try:
            content = verified_statement(db, token, saved_key)
        except BadSignature as bad:
            result.problems.append(f"a checkpoint of the saved copy is not genuine: {bad}")
            continue
        org, number = content["organization"], content["number"]
        where = names.get(org, f"organization {org}")
        held = {k.kid for k in keys.keys_of(db, org)}  # a rotated-out key is still held and published
        if saved_key is not None and saved_key.get("kid") not in held and org not in replaced:
            replaced.add(org)
            result.problems.append(f"the key of {where} in the database is not the one in the saved copy: "
                                   "it was replaced")
        ours = stored_by_number.get((org, number))
        if ours == token:
            continue
        result.problems.append(f"checkpoint #{number} of {where} " + (
            "is in the saved copy but no longer in the database: checkpoints were deleted" if ours is None else
            "in the database differs from the saved copy: the checkpoint table was rewritten"))
        stated.append(Stated(_label(names, content, saved=True), content))
    result.findings = checkpoints.compare(db, stated)
    for org_id, name in sorted(names.items()):
        if (org_id, 1) not in stored_by_number and checkpoints.chain_heads(db, org_id):
            result.warnings.append(f"{name} has no checkpoint yet: events can be deleted from the end of its "
                                   "chains unnoticed until `mentoring audit checkpoint` runs")
    return result


def saved_copy(document) -> list[tuple[str, dict | None]]:
    """The checkpoints of a copy kept elsewhere, each with the key published beside it: one published
    document (/orgs/<id>/checkpoints.json) or a list of them."""
    if isinstance(document, list):
        return [found for item in document for found in saved_copy(item)]
    if isinstance(document, dict) and isinstance(document.get("checkpoints"), list):
        key = document.get("key") if isinstance(document.get("key"), dict) else None
        by_kid = {k.get("kid"): k for k in document.get("keys") or [] if isinstance(k, dict)}
        entries = document["checkpoints"]
        if all(isinstance(e, dict) and isinstance(e.get("jws"), str) for e in entries):
            return [(e["jws"], by_kid.get(str(e.get("kid", "")).rsplit("#", 1)[-1], key)) for e in entries]
    raise ValueError("This is not a checkpoints document (expected the JSON of /orgs/<id>/checkpoints.json).")
