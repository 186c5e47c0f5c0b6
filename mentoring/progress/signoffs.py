"""Progress events: append-only, hash-chained per assignment; a task's state is derived from them."""

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, or_
from sqlmodel import Session, select

from mentoring import clock
from mentoring.access import auth, policy
from mentoring.access.lockout import LoginRefused
from mentoring.access.policy import Actor
from mentoring.access.throttle import Limits
from mentoring.clock import utcnow
from mentoring.errors import Forbidden, FormError, NotFound
from mentoring.people.models import Organization, Person, Triad
from mentoring.progress.evidence import Evidence, normalize_ro, normalize_vin
from mentoring.progress.models import Assignment, EvidencePhoto, ProgressEvent
from mentoring.progress.tablet_turns import SigningWindow, check_window
from mentoring.trail import audit
from tasklists.models import ShopTask

SIGNED_MEANING = "performed and observed"
COUNTERSIGN_MEANINGS = {"manager": "approved by manager", "instructor": "verified by instructor"}
RATINGS = {
    1: "Cannot perform yet",
    2: "Performs with help",
    3: "Performs with limited supervision",
    4: "Performs on their own",
    5: "Can teach others",
}
DEFAULT_RATING = 3


class AlreadySigned(FormError):
    """Someone signed this task first; the second signer gets who and when (a page answers 409, not 400)."""

    def __init__(self, event: ProgressEvent):
        self.event = event
        message = f"Already signed by {event.actor_name} at {event.at:%Y-%m-%d %H:%M} UTC."
        super().__init__({"": message})
        self.args = (message,)  # str() is the sentence alone, as the API and group results show it


# --- state --------------------------------------------------------------------------------

@dataclass(slots=True)
class TaskState:
    code: str
    status: str = "not_started"  # not_started | practicing | ready | signed
    signoff: ProgressEvent | None = None
    countersigns: list[ProgressEvent] = field(default_factory=list)
    revoked: list[tuple[ProgressEvent, ProgressEvent]] = field(default_factory=list)  # (sign-off, its revoke)
    minutes: int = 0
    last_at: datetime | None = None
    events: list[ProgressEvent] = field(default_factory=list)
    credited_from: str = ""  # the issuer, when the task is credited for prior learning (progress/credit.py)


def task_states(events: Iterable[ProgressEvent]) -> dict[str, TaskState]:
    """Replay events in chain order; a revoke undoes the sign-off and its countersignatures.

    The one replay: the task page, the dashboard, records and pay steps all read task states from here. Any
    objects with the event's fields will do (the dashboard passes light rows of the kinds it needs)."""
    states: dict[str, TaskState] = {}
    for e in sorted(events, key=lambda e: e.seq):
        s = states.get(e.task_code)
        if s is None:  # not setdefault: a TaskState per event costs the dashboard more than the replay
            s = states[e.task_code] = TaskState(e.task_code)
        s.events.append(e)
        s.last_at = e.at
        if e.kind == "practice":
            s.minutes += e.minutes or 0
            if s.status == "not_started":
                s.status = "practicing"
        elif e.kind == "ready" and s.status != "signed":
            s.status = "ready"
        elif e.kind == "signoff":
            s.status, s.signoff, s.countersigns = "signed", e, []
        elif e.kind == "countersign" and s.status == "signed":
            s.countersigns.append(e)
        elif e.kind == "revoke" and s.status == "signed":
            s.revoked.append((s.signoff, e))
            s.status = "practicing" if s.minutes else "not_started"
            s.signoff, s.countersigns = None, []
    return states


def task_states_by_assignment(events: Iterable[ProgressEvent]) -> dict[int, dict[str, TaskState]]:
    """task_states for the events of several assignments at once, keyed by assignment id."""
    chains: dict[int, list[ProgressEvent]] = {}
    for e in events:
        chains.setdefault(e.assignment_id, []).append(e)
    return {assignment_id: task_states(chain) for assignment_id, chain in chains.items()}


def achieved(task, state: TaskState | None, default_rating: int) -> bool:
    """What coverage, records, credentials and pay steps count: the task is signed at or above its required
    rating (the list's default where the task sets none), or it is credited for prior learning from verified
    evidence and no re-check has withdrawn that (states where credit.apply_credits marked it). `task` is any
    row with `required_rating`."""
    if state is None:
        return False
    if state.credited_from:
        return True
    return state.signoff is not None and state.signoff.rating >= (task.required_rating or default_rating)


def achieved_codes(tasks: Iterable, states: dict[str, TaskState], default_rating: int) -> set[str]:
    """The codes of the achieved tasks among `tasks`."""
    return {t.code for t in tasks if achieved(t, states.get(t.code), default_rating)}


# Read-only copies of events, for the pages and the API that read a whole chain: named tuples are built from a
# result row at C speed, and their fields read faster than the ORM's instrumented attributes.
EventView = NamedTuple("EventView", [(c.name, c.type.python_type) for c in ProgressEvent.__table__.columns])
_EVENTS = (select(*ProgressEvent.__table__.columns)
           .where(ProgressEvent.assignment_id == bindparam("assignment")).order_by(ProgressEvent.seq))


def events_of(db: Session, assignment_id: int) -> list[EventView]:
    """An assignment's events in chain order, with the fields of ProgressEvent."""
    return list(map(EventView._make, db.exec(_EVENTS, params={"assignment": assignment_id})))


def tasks_of(db: Session, assignment: Assignment) -> list[ShopTask]:
    return list(db.exec(select(ShopTask).where(ShopTask.version_id == assignment.version_id)
                        .order_by(ShopTask.position)).all())


# --- the hash chain -------------------------------------------------------------------------

def canonical(e: ProgressEvent, photo_hashes: Iterable[str] = ()) -> bytes:
    content = {
        "assignment_id": e.assignment_id, "seq": e.seq, "task_code": e.task_code, "kind": e.kind,
        "actor_id": e.actor_id, "actor_name": e.actor_name, "at": e.at.isoformat(), "meaning": e.meaning,
        "rating": e.rating, "minutes": e.minutes, "note": e.note, "ro_number": e.ro_number, "vin": e.vin,
        "reason": e.reason, "device": e.device, "photos": sorted(photo_hashes), "prev_hash": e.prev_hash,
    }
    # Fields added later enter the hash only when set, so that the hashes of older events stay the same.
    if e.in_window:
        content["in_window"] = True
    if e.practiced_on:
        content["practiced_on"] = e.practiced_on.isoformat()
    if getattr(e, "device_time", None):  # signed offline: the tablet's clock at the signature
        content["device_time"] = e.device_time.isoformat()
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(e: ProgressEvent, photo_hashes: Iterable[str] = ()) -> str:
    return hashlib.sha256(canonical(e, photo_hashes)).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    assignment_id: int
    event_id: int
    seq: int
    problem: str


def verify_chains(db: Session) -> list[BrokenLink]:
    """Recompute every chain; report the first broken link of each assignment."""
    photos: dict[int, list[str]] = {}
    for event_id, digest in db.exec(select(EvidencePhoto.event_id, EvidencePhoto.sha256)).all():
        photos.setdefault(event_id, []).append(digest)
    broken, previous, expected_seq = [], {}, {}
    for e in db.exec(select(ProgressEvent).order_by(ProgressEvent.assignment_id, ProgressEvent.seq)).all():
        chain = e.assignment_id
        if chain in {b.assignment_id for b in broken}:
            continue
        problem = None
        if e.seq != expected_seq.get(chain, 1):
            problem = f"expected event number {expected_seq.get(chain, 1)}, found {e.seq} (an event is missing)"
        elif e.prev_hash != previous.get(chain, ""):
            problem = "does not point at the event before it"
        elif event_hash(e, photos.get(e.id, ())) != e.hash:
            problem = "its content no longer matches its hash (changed after it was written)"
        if problem:
            broken.append(BrokenLink(chain, e.id, e.seq, problem))
        previous[chain], expected_seq[chain] = e.hash, e.seq + 1
    return broken


# --- writing events ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """Everything about one task of an assignment a rule needs, read under the assignment's lock."""

    assignment: Assignment
    triad: Triad
    shop: Organization
    task: ShopTask
    state: TaskState
    last: ProgressEvent | None  # the chain's newest event, whatever its task


# Built once, with bound parameters: composing a statement costs about as much as running it.
_CONTEXT = (select(Assignment, Triad, Organization, ShopTask)
            .join(Triad, Triad.id == Assignment.triad_id)
            .join(Organization, Organization.id == Assignment.shop_id)
            .join(ShopTask, (ShopTask.version_id == Assignment.version_id) & (ShopTask.code == bindparam("code")))
            .where(Assignment.id == bindparam("assignment"))
            .with_for_update(of=Assignment))
# The task's own events, and the chain's newest event whatever its task (the next one links to it).
_TASK_EVENTS_AND_NEWEST = select(ProgressEvent).where(
    ProgressEvent.assignment_id == bindparam("assignment"),
    or_(ProgressEvent.task_code == bindparam("code"),
        ProgressEvent.seq == select(func.max(ProgressEvent.seq))
        .where(ProgressEvent.assignment_id == bindparam("assignment")).scalar_subquery()))


def _context(db: Session, assignment_id: int, code: str) -> Context:
    """Two queries whatever the list's length: this runs on every sign-off.

    FOR UPDATE on the assignment serialises its writers on PostgreSQL, and the events are read only
    once that lock is held; on SQLite the request already holds the write lock (BEGIN IMMEDIATE)."""
    row = db.exec(_CONTEXT, params={"assignment": assignment_id, "code": code}).first()
    if row is None:
        raise NotFound
    assignment, triad, shop, task = row
    events = db.exec(_TASK_EVENTS_AND_NEWEST, params={"assignment": assignment_id, "code": code}).all()
    last = max(events, key=lambda e: e.seq, default=None)
    state = task_states(e for e in events if e.task_code == code).get(code, TaskState(code))
    return Context(assignment, triad, shop, task, state, last)


def _append(db: Session, actor: Actor, ctx: Context, kind: str, *, device: str = "", photo_hashes=(),
            at: datetime | None = None, **fields) -> ProgressEvent:
    last = ctx.last
    event = ProgressEvent(assignment_id=ctx.assignment.id, seq=(last.seq + 1) if last else 1,
                          task_code=ctx.task.code, kind=kind, actor_id=actor.person_id, actor_name=actor.name,
                          at=at or utcnow(), device=device, ip=actor.ip, prev_hash=last.hash if last else "", hash="",
                          **fields)
    event.hash = event_hash(event, photo_hashes)
    db.add(event)
    db.flush()
    audit.record(db, actor, f"event.{kind}", event, org_id=ctx.shop.id, assignment_id=ctx.assignment.id,
                 task=ctx.task.code, **({"in_window": True} if event.in_window else {}))
    return event


def _visible(db: Session, actor: Actor, ctx: Context) -> None:
    if not policy.can_view_mentee(db, actor, ctx.assignment.mentee_id, ctx.assignment.shop_id):
        raise NotFound


def _applicable(ctx: Context) -> None:
    if ctx.task.not_applicable:
        raise FormError({"": f"{ctx.task.code} is marked not applicable at this shop, so it cannot be signed "
                             f"or worked on ({ctx.task.na_reason})."})


def _text(value: str, limit: int, field_name: str) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise FormError({field_name: f"Keep it under {limit} characters."})
    return value


PRACTICE_DAYS_BACK = 14  # practice is logged for today or one of the days before, up to this many


def practice_days(timezone: str) -> tuple[date, date]:
    """The first and last day practice may be logged for today, in the shop's time zone."""
    today = clock.utcnow().astimezone(ZoneInfo(timezone)).date()
    return today - timedelta(days=PRACTICE_DAYS_BACK), today


def _practice_day(value, shop: Organization) -> date | None:
    if value in (None, ""):
        return None
    first, today = practice_days(shop.timezone)
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value).strip())
    except ValueError:
        raise FormError({"day": "Enter the day as a date, e.g. " + today.isoformat() + "."}) from None
    if day > today:
        raise FormError({"day": "Practice is logged for today or a day before, not the future."})
    if day < first:
        raise FormError({"day": f"Practice is logged for the last {PRACTICE_DAYS_BACK} days only."})
    return day


def log_practice(db: Session, actor: Actor, assignment_id: int, code: str, *, hours, note: str = "",
                 device: str = "", at: datetime | None = None, day=None) -> ProgressEvent:
    """`day` is the day practised (today or up to 14 days before, in the shop's time zone); empty: not given."""
    ctx = _context(db, assignment_id, code)
    _visible(db, actor, ctx)
    if actor.person_id not in (ctx.assignment.mentee_id, ctx.triad.mentor_id):
        raise Forbidden("Practice is logged by the mentee or their mentor.")
    _applicable(ctx)
    try:
        minutes = round(float(str(hours).replace(",", ".")) * 60)
    except (ValueError, OverflowError):  # not a number, or "inf"/"1e400"; NaN fails the range test below
        minutes = 0
    if not 1 <= minutes <= 12 * 60:
        raise FormError({"hours": "Enter the hours practised, between 0.1 and 12."})
    practiced_on = _practice_day(day, ctx.shop)
    return _append(db, actor, ctx, "practice", minutes=minutes, note=_text(note, 1000, "note"), device=device, at=at,
                   practiced_on=practiced_on)


def request_signoff(db: Session, actor: Actor, assignment_id: int, code: str, *, device: str = "",
                    at: datetime | None = None) -> ProgressEvent:
    ctx = _context(db, assignment_id, code)
    _visible(db, actor, ctx)
    if actor.person_id != ctx.assignment.mentee_id:
        raise Forbidden("Only the mentee marks a task ready for sign-off.")
    _applicable(ctx)
    if ctx.state.status == "signed":
        raise AlreadySigned(ctx.state.signoff)
    if ctx.state.status == "ready":
        raise FormError({"": f"{code} is already waiting for sign-off."})
    return _append(db, actor, ctx, "ready", device=device, at=at)


@dataclass(frozen=True)
class Offline:
    """A sign-off made offline on a shop tablet and sent later (progress/offline_sync.py): what the event keeps
    of it, and the sync's own check, run under the assignment's lock before the rules of sign_off."""

    device_time: datetime
    tablet_id: int
    idempotency_key: str
    check: Callable[[Context], None]


def sign_off(db: Session, actor: Actor, assignment_id: int, code: str, *, rating, pin: str | None,
             evidence: Evidence = Evidence(), device: str = "", at: datetime | None = None,
             pin_limits: Limits = Limits(), window: SigningWindow | None = None,
             offline: Offline | None = None) -> ProgressEvent:
    """Record a mentor's signature with its evidence; the photo's row is written with the event, whose hash
    covers the photo's. pin=None means the caller already checked two factors (shop tablet; offline, the PIN's
    proof), or, with a `window`, that this is a later signing in a tablet turn's multi-sign window
    (tablet_turns.py).

    `at` is for loading history (the demo); pages and the API always sign at the server's time, and so does a
    sync: an offline sign-off's `at` is when it arrived, its `device_time` when it was signed."""

    if pin is not None:  # before the lock: hashing the PIN is the slow part
        check_signing_pin(db, actor, pin, limits=pin_limits)
    ctx = _context(db, assignment_id, code)
    _visible(db, actor, ctx)  # those who may not see the assignment learn nothing about it
    if not policy.may_sign(actor, ctx.assignment, ctx.triad, ctx.shop):
        raise Forbidden(_who_signs(ctx.shop))
    stamp = {}
    if offline is not None:
        offline.check(ctx)
        stamp = dict(device_time=offline.device_time, tablet_id=offline.tablet_id,
                     idempotency_key=offline.idempotency_key)
    if ctx.triad.ended_at is not None or ctx.assignment.ended_at is not None:
        raise FormError({"": "This assignment has ended; its tasks can no longer be signed."})
    if window is not None:
        check_window(ctx.shop, ctx.assignment.mentee_id, window)
    _applicable(ctx)
    if ctx.state.status == "signed":
        raise AlreadySigned(ctx.state.signoff)
    _safety_first(db, ctx)
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = 0
    if rating not in RATINGS:
        raise FormError({"rating": "Choose a rating from 1 to 5."})
    fields = dict(rating=rating, meaning=SIGNED_MEANING, note=_text(evidence.note, 1000, "note"),
                  ro_number=normalize_ro(evidence.ro_number), vin=normalize_vin(evidence.vin),
                  in_window=window is not None, **stamp)
    photo = evidence.photo
    event = _append(db, actor, ctx, "signoff", device=device, photo_hashes=[photo.sha256] if photo else [], at=at,
                    **fields)
    if photo:
        db.add(EvidencePhoto(event_id=event.id, stored_name=photo.stored_name, thumb_name=photo.thumb_name,
                             content_type=photo.content_type, size=photo.size, sha256=photo.sha256))
        db.flush()
    return event


def _who_signs(shop: Organization) -> str:
    if shop.any_mentor_signs:
        return f"Only a mentor of {shop.name} signs its mentees' tasks, and never their own."
    return f"At {shop.name} only the mentee's own mentor signs their tasks."


def check_signing_pin(db: Session, actor: Actor, pin: str, *, limits: Limits = Limits()) -> None:
    """The PIN is the second factor of every signature on a personal device, under the PIN lockout: a wrong
    one is counted (and committed) before the FormError, so refusing the form does not undo the count."""
    person = db.get(Person, actor.person_id)
    if person.pin_hash is None:
        raise FormError({"pin": "Set a sign-off PIN on your account page first."})
    try:
        right = auth.try_pin(db, person, pin or "", limits=limits)
    except LoginRefused as locked:
        raise FormError({"pin": locked.message}) from None
    if not right:
        raise FormError({"pin": "That PIN is not right."})


def _safety_first(db: Session, ctx: Context) -> None:
    if not ctx.shop.safety_first or ctx.task.area_code == "0":
        return
    safety = db.exec(select(ShopTask.code).where(ShopTask.version_id == ctx.assignment.version_id,
                                                 ShopTask.area_code == "0", ShopTask.not_applicable.is_(False))
                     .order_by(ShopTask.position)).all()
    states = task_states(db.exec(select(ProgressEvent).where(ProgressEvent.assignment_id == ctx.assignment.id,
                                                             ProgressEvent.task_code.in_(safety))).all())
    waiting = [code for code in safety if states.get(code, TaskState(code)).status != "signed"]
    if waiting:
        raise FormError({"": f"{ctx.shop.name} signs the safety tasks first; still open: {', '.join(waiting[:5])}"
                             + ("…" if len(waiting) > 5 else "") + "."})


def get_assignment_to_sign(db: Session, actor: Actor, assignment_id: int) -> Assignment:
    """sign_off's checks of who signs, for a handler to make before it reads a photo or other evidence.

    Decoding a photo costs far more than these lookups, so nobody who may not sign here can make the server
    do it: 404 for those who may not see the mentee, 403 for those who see it but may not sign. sign_off
    makes the same checks again, under the assignment's lock."""
    assignment = db.get(Assignment, assignment_id)
    if assignment is None or not policy.can_view_mentee(db, actor, assignment.mentee_id, assignment.shop_id):
        raise NotFound
    if not policy.may_sign_assignment(db, actor, assignment):
        raise Forbidden(_who_signs(db.get(Organization, assignment.shop_id)))
    return assignment


def countersign(db: Session, actor: Actor, assignment_id: int, code: str, *, device: str = "",
                at: datetime | None = None) -> ProgressEvent:
    ctx = _context(db, assignment_id, code)
    _visible(db, actor, ctx)
    signoff = ctx.state.signoff
    role = policy.countersign_role(db, actor, ctx.assignment, signoff.actor_id if signoff else None)
    if role is None:
        if signoff is not None and signoff.actor_id == actor.person_id:
            raise Forbidden("Nobody countersigns their own sign-off; a second signature needs a second person.")
        raise Forbidden("Countersigning is for the shop's managers and the student's instructor.")
    meaning = COUNTERSIGN_MEANINGS[role]
    if ctx.state.status != "signed":
        raise FormError({"": f"{code} has no sign-off to countersign."})
    if any(e.meaning == meaning for e in ctx.state.countersigns):
        raise FormError({"": f"{code} is already {meaning}."})
    return _append(db, actor, ctx, "countersign", meaning=meaning, device=device, at=at)


def revoke(db: Session, actor: Actor, assignment_id: int, code: str, *, reason: str, device: str = ""
           ) -> ProgressEvent:
    ctx = _context(db, assignment_id, code)
    _visible(db, actor, ctx)
    manager = policy.can_approve(actor, ctx.shop.id)
    refused = Forbidden("A sign-off is revoked by the mentor who gave it or a manager.")
    if not (manager or "mentor" in actor.roles_in(ctx.shop.id)):
        raise refused
    if ctx.state.status != "signed":
        raise FormError({"": f"{code} has no sign-off to revoke."})
    if not manager and ctx.state.signoff.actor_id != actor.person_id:
        raise refused
    reason = _text(reason, 300, "reason")
    if not reason:
        raise FormError({"reason": "Say why the sign-off is revoked; the reason is kept with the record."})
    return _append(db, actor, ctx, "revoke", reason=reason, device=device)


def comment(db: Session, actor: Actor, assignment_id: int, code: str, *, note: str, device: str = ""
            ) -> ProgressEvent:
    ctx = _context(db, assignment_id, code)
    _visible(db, actor, ctx)
    note = _text(note, 1000, "note")
    if not note:
        raise FormError({"note": "Write the comment first."})
    return _append(db, actor, ctx, "comment", note=note, device=device)


@dataclass(frozen=True)
class GroupResult:
    assignment_id: int
    mentee_name: str
    event: ProgressEvent | None
    refusal: str = ""


def sign_off_group(db: Session, actor: Actor, assignment_ids: list[int], code: str, *, rating, pin: str | None,
                   note: str = "", device: str = "", pin_limits: Limits = Limits(),
                   window: SigningWindow | None = None) -> list[GroupResult]:
    """After a group demonstration: one task signed for several mentees, each as its own event.

    A mentee who cannot be signed (already signed, not applicable…) is reported and the others go ahead;
    every check runs before anything is written, so a refusal leaves nothing behind."""
    if not assignment_ids:
        raise FormError({"assignment_ids": "Pick at least one mentee."})
    if pin is not None:
        check_signing_pin(db, actor, pin, limits=pin_limits)
    results = []
    for assignment_id in sorted(set(assignment_ids)):
        assignment = db.get(Assignment, assignment_id)
        name = db.get(Person, assignment.mentee_id).full_name if assignment else "?"
        try:
            event = sign_off(db, actor, assignment_id, code, rating=rating, pin=None, evidence=Evidence(note=note),
                             device=device, window=window)  # in a tablet turn's window: its mentee only
            results.append(GroupResult(assignment_id, name, event))
        except (AlreadySigned, FormError, NotFound, Forbidden) as refused:
            message = str(refused)
            if isinstance(refused, FormError):
                message = " ".join(refused.errors.values())
            elif isinstance(refused, NotFound):  # nor may its mentee's name leak
                name, message = "?", "not a mentee you can sign for"
            results.append(GroupResult(assignment_id, name, None, message))
    return results


def group_candidates(db: Session, actor: Actor, code: str) -> list[tuple[Assignment, Person, TaskState]]:
    """Active assignments the actor may sign (policy.may_sign) whose list holds this task, applicable there."""
    shops = actor.orgs_where("mentor")
    if not shops or not code:
        return []
    # The query narrows by the same terms as policy.may_sign, which then decides for each row.
    rows = db.exec(select(Assignment, Person, Triad, Organization)
                   .join(Person, Person.id == Assignment.mentee_id)
                   .join(Triad, Triad.id == Assignment.triad_id)
                   .join(Organization, Organization.id == Assignment.shop_id)
                   .join(ShopTask, (ShopTask.version_id == Assignment.version_id) & (ShopTask.code == code))
                   .where(Assignment.shop_id.in_(shops), Assignment.ended_at.is_(None), Triad.ended_at.is_(None),
                          or_(Triad.mentor_id == actor.person_id, Organization.any_mentor_signs.is_(True)),
                          ShopTask.not_applicable.is_(False), Assignment.mentee_id != actor.person_id)
                   .order_by(Person.full_name)).all()
    rows = [(a, mentee) for a, mentee, triad, shop in rows if policy.may_sign(actor, a, triad, shop)]
    ids = [a.id for a, _ in rows]
    events = db.exec(select(ProgressEvent).where(ProgressEvent.assignment_id.in_(ids),
                                                 ProgressEvent.task_code == code)).all() if ids else []
    states = task_states_by_assignment(events)
    return [(assignment, mentee, states.get(assignment.id, {}).get(code, TaskState(code)))
            for assignment, mentee in rows]
