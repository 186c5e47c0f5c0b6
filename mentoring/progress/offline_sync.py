"""Sign-offs made offline on a shop tablet, sent when the network is back (issue #15).

A tablet queues each signature with an idempotency key, its clock time, the task's version it saw and a proof
made with the mentor's PIN-derived key (mentoring/access/offline.py). At sync the server checks, in this order
and before any photo is decoded: the tablet, the mentor, the proof, the photo's hash; then, under the
assignment's lock, whether the key was seen before and whether the task changed meanwhile. An event that finds
the task signed, revoked or countersigned elsewhere is kept as an OfflineConflict for the mentor or a manager to
settle; every other one goes through signoffs.sign_off, the rules of an online sign-off.
"""

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from sqlmodel import Session, func, select

from mentoring.access import offline, policy, tablets
from mentoring.access.models import TabletDevice
from mentoring.access.policy import Actor
from mentoring.clock import utcnow
from mentoring.errors import Forbidden, FormError, NotFound
from mentoring.people.models import Person
from mentoring.progress import signoffs
from mentoring.progress.evidence import Evidence, StoredPhoto
from mentoring.progress.models import Assignment, OfflineConflict, ProgressEvent
from mentoring.trail import audit
from tasklists.models import ShopTask

_UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_LIMITS = {"task_code": 40, "note": 1000, "ro_number": 60, "vin": 40}
# What makes a task "changed on another device" since the version the tablet saw: a signature given, taken
# back or countersigned. Practice, "ready" and comments do not: the mentor's observation still stands.
CHANGES = frozenset({"signoff", "revoke", "countersign"})


class Refused(Exception):
    """403: the tablet, the mentor or the proof does not hold; nothing is stored but an audit entry."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OfflineEvent:
    """One queued sign-off as sent: `fields` are exactly the canonical event's, as the tablet signed them."""

    fields: dict
    device_time: datetime
    proof: str

    def __getattr__(self, name: str):
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(name) from None

    def canonical(self) -> bytes:
        return offline.canonical_event(self.fields)


def parse(form: dict) -> OfflineEvent:
    """The sent fields, checked for shape only (FormError, 422); the rules come later, from sign_off."""
    errors, fields = {}, {}
    for key in offline.CANONICAL_KEYS:
        value = form.get(key)
        if not isinstance(value, str):  # missing, sent twice, or a file
            errors[key] = "Send this field once, as text (it may be empty where the contract allows)."
            continue
        if key in offline.INT_FIELDS:
            if not (value.isascii() and value.isdigit() and len(value) <= 12):
                errors[key] = "A whole number is expected."
                continue
            fields[key] = int(value)
        else:
            if len(value) > _LIMITS.get(key, 64):
                errors[key] = "Too long."
            fields[key] = value
    if not _UUID4.fullmatch(fields.get("idempotency_key", "")):
        errors["idempotency_key"] = "A UUID version 4 in lower case is expected."
    if fields.get("photo_sha256") and not _HEX64.fullmatch(fields["photo_sha256"]):
        errors["photo_sha256"] = "The SHA-256 of the photo in lower-case hex, or nothing, is expected."
    if not fields.get("task_code", "").strip():
        errors["task_code"] = "Fill this in."
    proof = form.get("proof", "")
    if not (isinstance(proof, str) and _HEX64.fullmatch(proof)):
        errors["proof"] = "The proof is 64 lower-case hex digits."
    device_time = _device_time(fields.get("device_time", ""))
    if device_time is None:
        errors["device_time"] = "An ISO 8601 time in UTC is expected, e.g. 2026-12-02T17:30:00.000Z."
    if errors:
        raise FormError(errors)
    return OfflineEvent(fields, device_time, proof)


def _device_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset().total_seconds() != 0:
        return None
    return moment.astimezone(UTC)


def admit(db: Session, device: TabletDevice | None, event: OfflineEvent, *, secret: str) -> Person:
    """Checks that cost a few lookups and one HMAC, before the photo is read: the tablet (the cookie's, not
    revoked, the one named in the event), the mentor (a mentor at its shop) and the proof made with their PIN."""
    if device is None:
        raise Refused("This browser is not an enrolled shop tablet, or the tablet was revoked.")
    if event.device_id != device.id:
        raise Refused("The event was made on another tablet.")
    mentor = db.get(Person, event.mentor_id)
    if mentor is None or mentor not in tablets.mentors_at(db, device.shop_id):
        raise Refused("The signer is not a mentor at this shop.")
    verifier = offline.verifier_for(db, device.id, mentor.id)
    if verifier is None:
        raise Refused("This tablet no longer holds the mentor's offline PIN (the PIN changed or the tablet was "
                      "revoked): the mentor signs again online.")
    if not offline.proof_ok(verifier, event.canonical(), event.proof, secret=secret):
        raise Refused("The PIN used to sign this on the tablet is not right.")
    return mentor


def photo_matches(event: OfflineEvent, upload: BinaryIO | None) -> None:
    """The photo's bytes are those the mentor signed (their hash is in the proof): 422 otherwise."""
    if upload is None:
        if event.photo_sha256:
            raise FormError({"photo": "The photo named by photo_sha256 is missing."})
        return
    digest = hashlib.sha256()
    upload.seek(0)
    while chunk := upload.read(1 << 20):
        digest.update(chunk)
    upload.seek(0)
    if not hmac.compare_digest(digest.hexdigest(), event.photo_sha256):
        raise FormError({"photo": "The photo is not the one that was signed (its SHA-256 differs)."})


def seen(db: Session, key: str) -> dict | None:
    """What an idempotency key was stored as: {"event_id": …} or {"conflict_id": …}; None if never seen."""
    event_id = db.exec(select(ProgressEvent.id).where(ProgressEvent.idempotency_key == key)).first()
    if event_id is not None:
        return {"event_id": event_id}
    conflict_id = db.exec(select(OfflineConflict.id).where(OfflineConflict.idempotency_key == key)).first()
    return {"conflict_id": conflict_id} if conflict_id is not None else None


class Duplicate(Exception):
    def __init__(self, found: dict):
        self.found = found


class _Changed(Exception):
    def __init__(self, ctx: signoffs.Context):
        self.ctx = ctx


def _check(db: Session, event: OfflineEvent):
    def check(ctx: signoffs.Context) -> None:
        # Under the assignment's lock: a second copy of the event sent at the same time waits here, then
        # finds the first one.
        if found := seen(db, event.idempotency_key):
            raise Duplicate(found)
        ids = {e.id for e in ctx.state.events}
        if event.base_version and event.base_version not in ids:
            raise FormError({"base_version": "This is not a version of this task."})
        since = [e for e in ctx.state.events if e.id > event.base_version]
        if ctx.state.status == "signed" or any(e.kind in CHANGES for e in since):
            raise _Changed(ctx)
    return check


def sync(db: Session, device_id: int, mentor_id: int, event: OfflineEvent, photo: StoredPhoto | None,
         *, ip: str = "") -> ProgressEvent | OfflineConflict:
    """Sign as an online sign-off would (the mentor's rights now, the shop's rules), or keep the event as a
    conflict. Raises Duplicate, FormError (the rules refuse), Refused (the mentor may no longer sign here).

    The tablet and the mentor were admitted (admit) just before, in a read of their own."""
    device, mentor = db.get(TabletDevice, device_id), db.get(Person, mentor_id)
    if device is None or device.revoked_at is not None or mentor is None:
        raise Refused("The tablet was revoked.")
    actor = policy.load_actor(db, mentor, ip)
    stamp = signoffs.Offline(device_time=event.device_time, tablet_id=device.id,
                             idempotency_key=event.idempotency_key, check=_check(db, event))
    evidence = Evidence(note=event.note, ro_number=event.ro_number, vin=event.vin, photo=photo)
    try:
        return signoffs.sign_off(db, actor, event.assignment_id, event.task_code, rating=event.rating, pin=None,
                                 evidence=evidence, device=f"shop tablet: {device.name}", offline=stamp)
    except _Changed as changed:
        return _keep_conflict(db, actor, device, event, photo, changed.ctx)
    except (NotFound, Forbidden) as refused:
        raise Refused(str(refused) or "The mentor may not sign this mentee's tasks.") from None


def _keep_conflict(db: Session, actor: Actor, device: TabletDevice, event: OfflineEvent,
                   photo: StoredPhoto | None, ctx: signoffs.Context) -> OfflineConflict:
    conflict = OfflineConflict(
        shop_id=ctx.shop.id, assignment_id=ctx.assignment.id, task_code=ctx.task.code, mentor_id=actor.person_id,
        mentor_name=actor.name, tablet_id=device.id, tablet_name=device.name,
        idempotency_key=event.idempotency_key, device_time=event.device_time, received_at=utcnow(),
        base_version=event.base_version, rating=event.rating, note=event.note.strip()[:1000],
        ro_number=event.ro_number.strip()[:30], vin=event.vin.strip()[:17],
        server_state=json.dumps(_state_of(ctx, event.base_version), sort_keys=True),
        **(_photo_fields(photo) if photo else {}))
    db.add(conflict)
    db.flush()
    audit.record(db, actor, "offline.conflict", conflict, org_id=ctx.shop.id, assignment_id=ctx.assignment.id,
                 task=ctx.task.code, tablet_id=device.id, base_version=event.base_version)
    return conflict


def _photo_fields(photo: StoredPhoto) -> dict:
    return dict(photo_name=photo.stored_name, photo_thumb=photo.thumb_name, photo_type=photo.content_type,
                photo_size=photo.size, photo_sha256=photo.sha256)


def _event_summary(e) -> dict:
    return {"id": e.id, "kind": e.kind, "actor": e.actor_name, "at": e.at.isoformat(), "rating": e.rating,
            "meaning": e.meaning, "reason": e.reason, "device": e.device}


def _state_of(ctx: signoffs.Context, base_version: int) -> dict:
    s = ctx.state
    return {"status": s.status, "signoff": _event_summary(s.signoff) if s.signoff else None,
            "countersigns": [_event_summary(e) for e in s.countersigns],
            "since": [_event_summary(e) for e in s.events if e.id > base_version],
            "newest_version": s.events[-1].id if s.events else 0}


def refusal(db: Session, device_id: int | None, reason: str, form: dict, *, status: int) -> None:
    """The audit entry a refused event leaves (nothing else of it is stored)."""
    device = db.get(TabletDevice, device_id) if device_id else None
    shown = {k: str(form.get(k, ""))[:80] for k in ("idempotency_key", "device_id", "mentor_id", "assignment_id",
                                                    "task_code")}
    audit.record(db, None, "offline.refused", device or _UnknownTablet(), org_id=device.shop_id if device else None,
                 reason=reason[:300], status=status, **shown)


class _UnknownTablet:
    id = ""


# --- conflicts: who sees them and what becomes of them ----------------------------------------------------

@dataclass(frozen=True)
class ConflictView:
    conflict: OfflineConflict
    mentee_name: str
    statement: str
    state: dict  # the server's side when the event arrived
    now: signoffs.TaskState  # and now
    choices: tuple[str, ...]


RESOLUTIONS = {
    "kept": "Keep the record as it is",
    "noted": "Add this observation to the task's history",
    "signed": "Sign the task with this sign-off",
}


def open_counts(db: Session, shop_ids: set[int]) -> dict[int, int]:
    """Open conflicts per shop, for the manager's dashboard."""
    if not shop_ids:
        return {}
    return dict(db.exec(select(OfflineConflict.shop_id, func.count()).where(
        OfflineConflict.shop_id.in_(sorted(shop_ids)), OfflineConflict.resolved_at.is_(None))
        .group_by(OfflineConflict.shop_id)).all())


def open_of_mentor(db: Session, actor: Actor) -> dict[int, int]:
    """A mentor's own open conflicts per shop, for their home page."""
    return dict(db.exec(select(OfflineConflict.shop_id, func.count()).where(
        OfflineConflict.mentor_id == actor.person_id, OfflineConflict.resolved_at.is_(None))
        .group_by(OfflineConflict.shop_id)).all())


def conflicts_at(db: Session, actor: Actor, shop_id: int) -> list[OfflineConflict]:
    """Open ones first, newest first; a mentor sees their own, a manager all of the shop's."""
    query = select(OfflineConflict).where(OfflineConflict.shop_id == shop_id)
    if not policy.sees_all_offline_conflicts(actor, shop_id):
        query = query.where(OfflineConflict.mentor_id == actor.person_id)
    return list(db.exec(query.order_by(OfflineConflict.resolved_at.is_not(None), OfflineConflict.id.desc())).all())


def view(db: Session, actor: Actor, conflict: OfflineConflict) -> ConflictView:
    assignment = db.get(Assignment, conflict.assignment_id)
    now = signoffs.task_states(signoffs.events_of(db, assignment.id)).get(
        conflict.task_code, signoffs.TaskState(conflict.task_code))
    statement = db.exec(select(ShopTask.statement).where(ShopTask.version_id == assignment.version_id,
                                                         ShopTask.code == conflict.task_code)).first()
    choices = () if conflict.resolved_at else tuple(
        c for c in RESOLUTIONS
        if c != "signed" or (now.status != "signed" and policy.may_sign_from_offline_conflict(actor, conflict)))
    return ConflictView(conflict, db.get(Person, assignment.mentee_id).full_name, statement or "",
                        json.loads(conflict.server_state), now, choices)


def resolve(db: Session, actor: Actor, conflict: OfflineConflict, choice: str) -> OfflineConflict:
    """Settle a conflict, once. "kept": the record stays as it is; "noted": the offline observation goes into
    the task's history as a comment, the sign-off on record untouched; "signed" (the mentor, while the task is
    not signed now): the offline sign-off is recorded, at the server's time, with its device time and photo."""
    if conflict.resolved_at is not None:
        raise FormError({"": "This conflict is settled already."})
    if choice not in view(db, actor, conflict).choices:
        raise FormError({"choice": "Choose one of the offered ways to settle it."})
    event = None
    if choice == "noted":
        event = signoffs.comment(db, actor, conflict.assignment_id, conflict.task_code, note=_observation(conflict),
                                 device=f"offline sign-off from {conflict.tablet_name}"[:80])
    elif choice == "signed":
        photo = StoredPhoto(conflict.photo_name, conflict.photo_thumb, conflict.photo_type, conflict.photo_size,
                            conflict.photo_sha256) if conflict.photo_name else None
        try:
            event = signoffs.sign_off(
                db, actor, conflict.assignment_id, conflict.task_code, rating=conflict.rating, pin=None,
                evidence=Evidence(note=conflict.note, ro_number=conflict.ro_number, vin=conflict.vin, photo=photo),
                device=f"shop tablet: {conflict.tablet_name}", offline=signoffs.Offline(
                    device_time=conflict.device_time, tablet_id=conflict.tablet_id, idempotency_key=None,
                    check=lambda ctx: None))
        except (NotFound, Forbidden) as refused:
            raise FormError({"": str(refused) or "You may no longer sign this mentee's tasks."}) from None
    conflict.resolved_at, conflict.resolved_by_id, conflict.resolution = utcnow(), actor.person_id, choice
    conflict.resolution_event_id = event.id if event else None
    db.add(conflict)
    audit.record(db, actor, "offline.resolve", conflict, org_id=conflict.shop_id, choice=choice,
                 assignment_id=conflict.assignment_id, task=conflict.task_code,
                 **({"event_id": event.id} if event else {}))
    return conflict


def _observation(c: OfflineConflict) -> str:
    text = (f"Offline sign-off by {c.mentor_name} on {c.tablet_name}, {c.device_time:%Y-%m-%d %H:%M} UTC by the "
            f"tablet's clock, rating {c.rating} ({signoffs.RATINGS.get(c.rating, '?')}); not recorded as a "
            "sign-off because the task had changed meanwhile.")
    extras = [f"RO {c.ro_number}" if c.ro_number else "", f"VIN {c.vin}" if c.vin else "",
              f"Note: {c.note}" if c.note else ""]
    return " ".join([text, *filter(None, extras)])[:1000]
