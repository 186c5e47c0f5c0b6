"""The OJL hours ledger: the apprentice's week (phone first), approval by the mentor or a manager, the ledger."""

from datetime import date, timedelta

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlmodel import Session

from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.errors import FormError
from mentoring.progress import apprenticeship, hours
from web.render import FormData, page, submit

Db = NamedDependency[Session]
Me = NamedDependency[Actor]


def _week_param(ledger: hours.Ledger, week: str) -> date:
    try:
        return hours.week_start(date.fromisoformat(week))
    except ValueError:
        return hours.week_start(hours.today_at(ledger.shop))


def week_page(db: Session, actor: Actor, triad_id: int, week: str = "", *, errors=None, form=None,
              status_code: int = 200) -> Response:
    ledger = hours.ledger_of(db, actor, triad_id)
    start, today = _week_param(ledger, week), hours.today_at(ledger.shop)
    w = hours.week_of(db, ledger, start)
    can_log = policy.can_log_hours(actor, ledger.triad)
    days = [d.day for d in w.days if ledger.app.start_date <= d.day <= today]
    return page("hours/week.html", status_code=status_code, ledger=ledger, week=w, today=today,
                previous=start - timedelta(days=7), next=start + timedelta(days=7) if start + timedelta(days=7) <= today
                else None, can_log=can_log, can_approve=policy.can_approve_hours(actor, ledger.triad),
                summary=apprenticeship.hours_summary(db, ledger.app), hours_text=hours.hours_text,
                day_options=[(d.isoformat(), f"{d:%a %Y-%m-%d}") for d in days],
                area_options=[(p.area_code, f"{p.area_code} {p.title}") for p in ledger.processes],
                errors=errors or {}, form=form or {"day": min(today, start + timedelta(days=6)).isoformat(),
                                                   "area": ledger.processes[0].area_code if ledger.processes else ""})


@get("/triads/{triad_id:int}/hours", sync_to_thread=True)
def hours_week(db: Db, actor: Me, triad_id: FromPath[int], week: FromQuery[str] = "") -> Response:
    return week_page(db, actor, triad_id, week)


@get("/triads/{triad_id:int}/hours/ledger", sync_to_thread=True)
def hours_ledger(db: Db, actor: Me, triad_id: FromPath[int]) -> Response:
    ledger = hours.ledger_of(db, actor, triad_id)
    entries = hours.entries_of(db, ledger.app.id)
    return page("hours/ledger.html", ledger=ledger, entries=sorted(entries, key=lambda e: e.seq),
                by_id={e.id: e for e in entries}, corrected_by={e.corrects_id: e for e in entries if e.corrects_id},
                summary=apprenticeship.hours_summary(db, ledger.app), hours_text=hours.hours_text,
                can_log=policy.can_log_hours(actor, ledger.triad))


def _back(triad_id: int, day) -> str:
    try:
        return f"/triads/{triad_id}/hours?week={hours.week_start(date.fromisoformat(str(day))).isoformat()}"
    except ValueError:
        return f"/triads/{triad_id}/hours"


def _refused(db: Session, actor: Actor, triad_id: int, week, data: dict):
    return lambda e: week_page(db, actor, triad_id, str(week or ""), errors=e.errors, form=data, status_code=400)


@post("/triads/{triad_id:int}/hours", sync_to_thread=True)
def log_hours(db: Db, actor: Me, triad_id: FromPath[int], data: FormData) -> Response:
    return submit(db, lambda: hours.log_hours(db, actor, triad_id, day=data.get("day"), area=data.get("area"),
                                              hours=data.get("hours"), ro_number=data.get("ro_number", ""),
                                              note=data.get("note", "")),
                  done=lambda e: _back(triad_id, e.day), failed=_refused(db, actor, triad_id, data.get("day"), data))


@post("/triads/{triad_id:int}/hours/same-as-yesterday", sync_to_thread=True)
def same_as_yesterday(db: Db, actor: Me, triad_id: FromPath[int], data: FormData) -> Response:
    return submit(db, lambda: hours.same_as_yesterday(db, actor, triad_id, day=data.get("day")),
                  done=_back(triad_id, data.get("day")), failed=_refused(db, actor, triad_id, data.get("day"), {}))


@post("/triads/{triad_id:int}/hours/approve-week", sync_to_thread=True)
def approve_week(db: Db, actor: Me, triad_id: FromPath[int], data: FormData) -> Response:
    return submit(db, lambda: hours.approve_week(db, actor, triad_id, week=data.get("week")),
                  done=_back(triad_id, data.get("week")), failed=_refused(db, actor, triad_id, data.get("week"), {}))


def _decision(db: Session, actor: Actor, entry_id: int, data: dict, decide) -> Response:
    entry, ledger = hours.get_entry(db, actor, entry_id)  # 404 before anything else for those who may not see it
    triad_id, day = ledger.triad.id, entry.day

    def failed(e: FormError) -> Response:
        form = {"entry": entry_id, "reason": data.get("reason", ""), "day": day.isoformat()}
        return week_page(db, actor, triad_id, day.isoformat(), errors=e.errors, form=form, status_code=400)
    return submit(db, decide, done=_back(triad_id, day), failed=failed)


@post("/hours/{hours_entry_id:int}/approve", sync_to_thread=True)
def approve(db: Db, actor: Me, hours_entry_id: FromPath[int]) -> Response:
    return _decision(db, actor, hours_entry_id, {}, lambda: hours.approve(db, actor, hours_entry_id))


@post("/hours/{hours_entry_id:int}/return", sync_to_thread=True)
def return_entry(db: Db, actor: Me, hours_entry_id: FromPath[int], data: FormData) -> Response:
    return _decision(db, actor, hours_entry_id, data,
                     lambda: hours.return_entry(db, actor, hours_entry_id, reason=data.get("reason", "")))


@post("/hours/{hours_entry_id:int}/correct", sync_to_thread=True)
def correct(db: Db, actor: Me, hours_entry_id: FromPath[int], data: FormData) -> Response:
    entry, ledger = hours.get_entry(db, actor, hours_entry_id)
    return submit(db, lambda: hours.correct(db, actor, hours_entry_id, area=data.get("area"), hours=data.get("hours"),
                                            ro_number=data.get("ro_number", ""), note=data.get("note", "")),
                  done=_back(ledger.triad.id, entry.day),
                  failed=_refused(db, actor, ledger.triad.id, entry.day.isoformat(), {**data, "entry": entry.id}))


HANDLERS = [hours_week, hours_ledger, log_hours, same_as_yesterday, approve_week, approve, return_entry, correct]
