"""The on-the-job learning (OJL) hours ledger of a registered apprenticeship.

The apprentice logs hours per day and work process; the triad's mentor or a shop manager approves or returns them.
The logged facts of an entry are immutable and chained by hash per apprenticeship (like progress events); the
decision is written onto the row and into the audit log. An approved entry is locked: a correction is a new entry
pointing at it (corrects_id), which supersedes it once approved. Totals are computed in apprenticeship.py only."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from mentoring import clock
from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.errors import Forbidden, FormError, NotFound
from mentoring.people.models import Organization, Person, Triad
from mentoring.progress import apprenticeship
from mentoring.progress.apprenticeship import today_in, week_start
from mentoring.progress.models import Apprenticeship, HoursEntry, WorkProcess
from mentoring.trail import audit

LIVE = ("pending", "approved")  # entries that count toward a day's total
MAX_DAY_MINUTES = 24 * 60
SAME_AS_LOOKBACK = 7  # "same as yesterday" copies the newest day with hours among this many before


# --- the hash chain ---------------------------------------------------------------------------------

def canonical(e: HoursEntry) -> bytes:
    """The logged facts. The decision is not part of it: it is recorded on the row and in the audit log."""
    content = {
        "apprenticeship_id": e.apprenticeship_id, "seq": e.seq, "work_process_id": e.work_process_id,
        "day": e.day.isoformat(), "minutes": e.minutes, "ro_number": e.ro_number, "note": e.note,
        "logged_by_id": e.logged_by_id, "logged_by_name": e.logged_by_name, "logged_at": e.logged_at.isoformat(),
        "corrects_id": e.corrects_id, "prev_hash": e.prev_hash,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(e: HoursEntry) -> str:
    return hashlib.sha256(canonical(e)).hexdigest()


@dataclass(frozen=True)
class BrokenHours:
    apprenticeship_id: int
    entry_id: int
    seq: int
    problem: str


def verify_chains(db: Session) -> list[BrokenHours]:
    """Recompute every apprenticeship's hours chain; report the first broken link of each. A decision that
    breaks the ledger's rules (an approval without an approver, a superseded entry no approved correction
    replaces) is reported too."""
    entries = db.exec(select(HoursEntry).order_by(HoursEntry.apprenticeship_id, HoursEntry.seq)).all()
    replaced = {e.corrects_id for e in entries if e.corrects_id and e.state in ("approved", "superseded")}
    broken, previous, expected = [], {}, {}
    for e in entries:
        chain = e.apprenticeship_id
        if chain in {b.apprenticeship_id for b in broken}:
            continue
        problem = None
        if e.seq != expected.get(chain, 1):
            problem = f"expected entry number {expected.get(chain, 1)}, found {e.seq} (an entry is missing)"
        elif e.prev_hash != previous.get(chain, ""):
            problem = "does not point at the entry before it"
        elif entry_hash(e) != e.hash:
            problem = "its content no longer matches its hash (changed after it was written)"
        elif e.state in ("approved", "returned", "superseded") and not e.decided_by_id:
            problem = f"is {e.state} but names nobody who decided it"
        elif e.state == "superseded" and e.id not in replaced:
            problem = "is marked superseded but no approved correction replaces it"
        elif e.state not in ("pending", "approved", "returned", "superseded"):
            problem = f"has an unknown state {e.state!r}"
        if problem:
            broken.append(BrokenHours(chain, e.id, e.seq, problem))
        previous[chain], expected[chain] = e.hash, e.seq + 1
    return broken


# --- reading -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ledger:
    """A triad's apprenticeship as the hours pages need it."""

    triad: Triad
    app: Apprenticeship
    shop: Organization
    mentee: Person
    processes: list[WorkProcess]


def ledger_of(db: Session, actor: Actor, triad_id: int) -> Ledger:
    """The triad's ledger, when the actor may see it; 404 for a triad that is not theirs or has no apprenticeship."""
    triad = policy.get_triad_for_hours(db, actor, triad_id)
    return _ledger(db, triad)


def _ledger(db: Session, triad: Triad, *, lock: bool = False) -> Ledger:
    query = select(Apprenticeship).where(Apprenticeship.triad_id == triad.id)
    app = db.exec(query.with_for_update() if lock else query).first()
    if app is None:
        raise NotFound
    processes = list(db.exec(select(WorkProcess).where(WorkProcess.apprenticeship_id == app.id)
                             .order_by(WorkProcess.position, WorkProcess.id)).all())
    return Ledger(triad, app, db.get(Organization, triad.shop_id), db.get(Person, triad.mentee_id), processes)


def today_at(shop: Organization) -> date:
    return today_in(shop.timezone)


def entries_of(db: Session, apprenticeship_id: int, first: date | None = None, last: date | None = None
               ) -> list[HoursEntry]:
    query = select(HoursEntry).where(HoursEntry.apprenticeship_id == apprenticeship_id)
    if first is not None:
        query = query.where(HoursEntry.day >= first)
    if last is not None:
        query = query.where(HoursEntry.day <= last)
    return list(db.exec(query.order_by(HoursEntry.day, HoursEntry.seq)).all())


@dataclass
class Day:
    day: date
    entries: list[HoursEntry] = field(default_factory=list)

    @property
    def minutes(self) -> int:
        return sum(e.minutes for e in self.entries if e.state in LIVE)


@dataclass
class Week:
    start: date
    days: list[Day]

    @property
    def minutes(self) -> int:
        return sum(d.minutes for d in self.days)

    @property
    def pending(self) -> list[HoursEntry]:
        return [e for d in self.days for e in d.entries if e.state == "pending"]


def week_of(db: Session, ledger: Ledger, start: date) -> Week:
    start = week_start(start)
    found = entries_of(db, ledger.app.id, start, start + timedelta(days=6))
    days = [Day(start + timedelta(days=i)) for i in range(7)]
    for e in found:
        days[(e.day - start).days].entries.append(e)
    return Week(start, days)


def hours_text(minutes: int) -> str:
    """Hours as people write them: 8, 7.5, 7.25."""
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".")


# --- writing -----------------------------------------------------------------------------------------

def _minutes(value) -> int:
    try:
        minutes = round(float(str(value).replace(",", ".").strip()) * 60)
    except (ValueError, OverflowError):  # not a number, or "inf"; NaN fails the range test below
        minutes = 0
    if not 0 < minutes <= MAX_DAY_MINUTES:
        raise FormError({"hours": "Enter the hours worked, more than 0 and at most 24 (e.g. 7.5)."})
    return minutes


def _day(value, ledger: Ledger) -> date:
    today = today_at(ledger.shop)
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise FormError({"day": f"Enter the day as a date, e.g. {today.isoformat()}."}) from None
    if day > today:
        raise FormError({"day": "Hours are logged for today or a day before, not the future."})
    if day < ledger.app.start_date:
        raise FormError({"day": f"The apprenticeship started on {ledger.app.start_date.isoformat()}; "
                                "hours before then are not part of it."})
    return day


def _process(ledger: Ledger, area) -> WorkProcess:
    found = next((p for p in ledger.processes if p.area_code == str(area or "").strip()), None)
    if found is None:
        raise FormError({"area": "Choose one of this apprenticeship's work processes."})
    return found


def _text(value, limit: int, name: str) -> str:
    value = str(value or "").strip()
    if len(value) > limit:
        raise FormError({name: f"Keep it under {limit} characters."})
    return value


def _day_total(db: Session, app_id: int, day: date, *, without: int | None = None) -> int:
    query = select(func.coalesce(func.sum(HoursEntry.minutes), 0)).where(
        HoursEntry.apprenticeship_id == app_id, HoursEntry.day == day, HoursEntry.state.in_(LIVE))
    if without is not None:
        query = query.where(HoursEntry.id != without)
    return db.exec(query).one()


def _check_day_total(db: Session, ledger: Ledger, day: date, minutes: int, *, without: int | None = None) -> None:
    already = _day_total(db, ledger.app.id, day, without=without)
    if already + minutes > MAX_DAY_MINUTES:
        raise FormError({"hours": f"{day:%a %Y-%m-%d} already has {hours_text(already)} h logged; a day holds "
                                  "at most 24 hours."})


def _writable(db: Session, actor: Actor, triad_id: int) -> Ledger:
    """The ledger, locked for writing (FOR UPDATE on the apprenticeship serialises its chain on PostgreSQL), when
    the actor is its apprentice."""
    triad = policy.get_triad_for_hours(db, actor, triad_id)
    if not policy.can_log_hours(actor, triad):
        raise Forbidden("Hours are logged by the apprentice.")
    ledger = _ledger(db, triad, lock=True)
    if ledger.app.status != "active":
        raise FormError({"": f"This apprenticeship is {ledger.app.status}; no more hours are logged."})
    return ledger


def _append(db: Session, actor: Actor, ledger: Ledger, **facts) -> HoursEntry:
    last = db.exec(select(HoursEntry).where(HoursEntry.apprenticeship_id == ledger.app.id)
                   .order_by(HoursEntry.seq.desc()).limit(1)).first()
    entry = HoursEntry(apprenticeship_id=ledger.app.id, seq=(last.seq + 1) if last else 1, state="pending",
                       logged_by_id=actor.person_id, logged_by_name=actor.name, logged_at=clock.utcnow(),
                       prev_hash=last.hash if last else "", hash="", **facts)
    entry.hash = entry_hash(entry)
    db.add(entry)
    db.flush()
    audit.record(db, actor, "hours.logged", entry, org_id=ledger.shop.id, triad_id=ledger.triad.id,
                 day=entry.day, minutes=entry.minutes, corrects_id=entry.corrects_id)
    return entry


def log_hours(db: Session, actor: Actor, triad_id: int, *, day, area, hours, ro_number: str = "",
              note: str = "") -> HoursEntry:
    ledger = _writable(db, actor, triad_id)
    process, minutes, when = _process(ledger, area), _minutes(hours), _day(day, ledger)
    _check_day_total(db, ledger, when, minutes)
    return _append(db, actor, ledger, work_process_id=process.id, day=when, minutes=minutes,
                   ro_number=_text(ro_number, 30, "ro_number"), note=_text(note, 1000, "note"))


def same_as_yesterday(db: Session, actor: Actor, triad_id: int, *, day) -> list[HoursEntry]:
    """Copy the previous working day's hours (the newest day with hours in the week before) onto `day`."""
    ledger = _writable(db, actor, triad_id)
    when = _day(day, ledger)
    if _day_total(db, ledger.app.id, when):
        raise FormError({"day": f"{when:%a %Y-%m-%d} already has hours; add to it with the form instead."})
    before = [e for e in entries_of(db, ledger.app.id, when - timedelta(days=SAME_AS_LOOKBACK),
                                    when - timedelta(days=1)) if e.state in LIVE]
    if not before:
        raise FormError({"day": "No hours in the week before to copy; log this day with the form."})
    source = max(e.day for e in before)
    return [_append(db, actor, ledger, work_process_id=e.work_process_id, day=when, minutes=e.minutes,
                    ro_number=e.ro_number, note=e.note) for e in before if e.day == source]


def correct(db: Session, actor: Actor, entry_id: int, *, area, hours, ro_number: str = "", note: str = ""
            ) -> HoursEntry:
    """A correction of an approved entry: a new pending entry pointing at it; the old one stays as it was until
    the correction is approved."""
    old = _entry(db, entry_id)
    ledger = _writable(db, actor, _triad_of(db, old))
    if old.state != "approved":
        raise FormError({"": "Only approved hours are corrected; a pending entry waits for its decision, and a "
                             "returned one is logged again."})
    if db.exec(select(HoursEntry.id).where(HoursEntry.corrects_id == old.id, HoursEntry.state == "pending")).first():
        raise FormError({"": "A correction of this entry is already waiting for approval."})
    process, minutes = _process(ledger, area), _minutes(hours)
    _check_day_total(db, ledger, old.day, minutes, without=old.id)
    return _append(db, actor, ledger, work_process_id=process.id, day=old.day, minutes=minutes,
                   ro_number=_text(ro_number, 30, "ro_number"), note=_text(note, 1000, "note"), corrects_id=old.id)


def _entry(db: Session, entry_id: int) -> HoursEntry:
    entry = db.get(HoursEntry, entry_id)
    if entry is None:
        raise NotFound
    return entry


def _triad_of(db: Session, entry: HoursEntry) -> int:
    return db.exec(select(Apprenticeship.triad_id).where(Apprenticeship.id == entry.apprenticeship_id)).one()


def get_entry(db: Session, actor: Actor, entry_id: int) -> tuple[HoursEntry, Ledger]:
    """An entry and its ledger, when the actor may see them; otherwise 404."""
    entry = _entry(db, entry_id)
    return entry, ledger_of(db, actor, _triad_of(db, entry))


def _approver(db: Session, actor: Actor, triad_id: int) -> Ledger:
    triad = policy.get_triad_for_hours(db, actor, triad_id)
    if not policy.can_approve_hours(actor, triad):
        raise Forbidden("Hours are approved by the apprentice's mentor or a manager of the shop.")
    return _ledger(db, triad, lock=True)


def _decide(db: Session, actor: Actor, ledger: Ledger, entry: HoursEntry, state: str, reason: str = "") -> None:
    db.refresh(entry)  # read again under the apprenticeship's lock: a decision made meanwhile wins
    if entry.state != "pending":
        raise FormError({"": f"This entry is already {entry.state}"
                             + (f" by {entry.decided_by_name}." if entry.decided_by_name else ".")})
    entry.state, entry.return_reason = state, reason
    entry.decided_by_id, entry.decided_by_name, entry.decided_at = actor.person_id, actor.name, clock.utcnow()
    db.add(entry)
    if state == "approved" and entry.corrects_id:
        old = db.get(HoursEntry, entry.corrects_id)
        old.state = "superseded"
        db.add(old)
        audit.record(db, actor, "hours.superseded", old, org_id=ledger.shop.id, by_entry=entry.id)
    audit.record(db, actor, f"hours.{state}", entry, org_id=ledger.shop.id, triad_id=ledger.triad.id,
                 **({"reason": reason} if reason else {}))


def approve(db: Session, actor: Actor, entry_id: int) -> HoursEntry:
    entry = _entry(db, entry_id)
    ledger = _approver(db, actor, _triad_of(db, entry))
    _decide(db, actor, ledger, entry, "approved")
    return entry


def return_entry(db: Session, actor: Actor, entry_id: int, *, reason: str) -> HoursEntry:
    entry = _entry(db, entry_id)
    ledger = _approver(db, actor, _triad_of(db, entry))
    reason = _text(reason, 300, "reason")
    if not reason:
        raise FormError({"reason": "Say why the hours go back, so that the apprentice can fix them."})
    _decide(db, actor, ledger, entry, "returned", reason)
    return entry


def approve_week(db: Session, actor: Actor, triad_id: int, *, week) -> int:
    """Approve every pending entry of the week that starts on (or contains) `week`; how many were approved."""
    ledger = _approver(db, actor, triad_id)
    try:
        start = week_start(week if isinstance(week, date) else date.fromisoformat(str(week or "").strip()))
    except ValueError:
        raise FormError({"week": "Choose a week."}) from None
    pending = [e for e in entries_of(db, ledger.app.id, start, start + timedelta(days=6)) if e.state == "pending"]
    if not pending:
        raise FormError({"week": f"Nothing waits for approval in the week of {start:%Y-%m-%d}."})
    for e in pending:
        _decide(db, actor, ledger, e, "approved")
    return len(pending)


# --- reminders (the inbox and the digest) ---------------------------------------------------------------

@dataclass(frozen=True)
class Waiting:
    triad_id: int
    mentee_name: str
    count: int
    oldest: date


def waiting_for(db: Session, actor: Actor) -> list[Waiting]:
    """Entries awaiting the actor's approval as the mentor of the triad (others who may approve are not nagged)."""
    if actor.person_id is None:
        return []
    rows = db.exec(select(Triad.id, Triad.shop_id, Person.full_name, func.count(HoursEntry.id),
                          func.min(HoursEntry.day))
                   .join(Apprenticeship, Apprenticeship.triad_id == Triad.id)
                   .join(HoursEntry, HoursEntry.apprenticeship_id == Apprenticeship.id)
                   .join(Person, Person.id == Triad.mentee_id)
                   .where(Triad.mentor_id == actor.person_id, Triad.ended_at.is_(None),
                          HoursEntry.state == "pending")
                   .group_by(Triad.id, Triad.shop_id, Person.full_name).order_by(Person.full_name)).all()
    return [Waiting(t, name, n, oldest) for t, shop, name, n, oldest in rows if "mentor" in actor.roles_in(shop)]


def missing_weeks(db: Session, actor: Actor, *, now: datetime | None = None) -> list[tuple[int, date]]:
    """(triad id, week start) of the last full week, when the actor is an active apprentice who logged no hours
    in it (a week that began before the apprenticeship is not asked for)."""
    if actor.person_id is None:
        return []
    found = []
    for triad, app, shop in db.exec(select(Triad, Apprenticeship, Organization)
                                    .join(Apprenticeship, Apprenticeship.triad_id == Triad.id)
                                    .join(Organization, Organization.id == Triad.shop_id)
                                    .where(Triad.mentee_id == actor.person_id, Triad.ended_at.is_(None),
                                           Apprenticeship.status == "active")).all():
        last_week = week_start(today_in(shop.timezone, now)) - timedelta(days=7)
        if last_week < app.start_date:
            continue
        logged = db.exec(select(HoursEntry.id).where(
            HoursEntry.apprenticeship_id == app.id, HoursEntry.state.in_(LIVE), HoursEntry.day >= last_week,
            HoursEntry.day < last_week + timedelta(days=7)).limit(1)).first()
        if logged is None:
            found.append((triad.id, last_week))
    return found


# --- the dashboard and the mentor's home -------------------------------------------------------------

@dataclass(frozen=True)
class BoardLine:
    triad_id: int
    mentee_name: str
    summary: "apprenticeship.HoursSummary"
    waiting: int  # entries waiting for approval


def board(db: Session, *, shop_ids: set[int] | None = None, mentor: Actor | None = None) -> list[BoardLine]:
    """Hours this week against the schedule, and entries waiting, per active apprenticeship of the given shops
    (a manager's dashboard) or of the mentor's own triads (their home). Totals come from hours_summary."""
    query = (select(Triad, Apprenticeship, Person.full_name).join(Apprenticeship, Apprenticeship.triad_id == Triad.id)
             .join(Person, Person.id == Triad.mentee_id).where(Triad.ended_at.is_(None)))
    if mentor is not None:
        query = query.where(Triad.mentor_id == mentor.person_id,
                            Triad.shop_id.in_(sorted(mentor.orgs_where("mentor"))))
    else:
        query = query.where(Triad.shop_id.in_(sorted(shop_ids or ())))
    rows = db.exec(query.order_by(Person.full_name, Triad.id)).all()
    if not rows:
        return []
    waiting = dict(db.exec(select(HoursEntry.apprenticeship_id, func.count(HoursEntry.id))
                           .where(HoursEntry.apprenticeship_id.in_([app.id for _, app, _ in rows]),
                                  HoursEntry.state == "pending").group_by(HoursEntry.apprenticeship_id)).all())
    return [BoardLine(triad.id, name, apprenticeship.hours_summary(db, app), waiting.get(app.id, 0))
            for triad, app, name in rows]
