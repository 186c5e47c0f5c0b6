"""Registered apprenticeships: the program of a triad, its work-process schedule, and the one place that totals
on-the-job learning (OJL) hours and classroom hours (RTI).

A triad without an Apprenticeship row is informal mentoring. OJL minutes of an area are the approved ledger
entries, plus practice time already logged on that area's tasks since the program started, plus credit for
prior learning by the shop's rule."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, select

from mentoring import clock
from mentoring.people.models import Organization
from mentoring.progress.models import (
    Apprenticeship,
    Assignment,
    HoursEntry,
    PriorCredit,
    ProgressEvent,
    RtiRecord,
    WorkProcess,
)
from tasklists.models import ShopTask

KINDS = {"time": "Time-based", "competency": "Competency-based", "hybrid": "Hybrid"}
STATUSES = ("active", "completed", "cancelled", "transferred")
CREDIT_RULES = {"none": "No credit", "hours_per_task": "Hours per credited task",
                "percent": "Percent of the term when every task is credited"}


def apprenticeship_of(db: Session, triad_id: int) -> Apprenticeship | None:
    return db.exec(select(Apprenticeship).where(Apprenticeship.triad_id == triad_id)).first()


def work_processes(db: Session, apprenticeship_id: int) -> list[WorkProcess]:
    return list(db.exec(select(WorkProcess).where(WorkProcess.apprenticeship_id == apprenticeship_id)
                        .order_by(WorkProcess.position)).all())


def _assignments(db: Session, app: Apprenticeship) -> list[Assignment]:
    return list(db.exec(select(Assignment).where(Assignment.triad_id == app.triad_id).order_by(Assignment.id)).all())


def _areas_by_task(db: Session, version_ids: set[int]) -> dict[tuple[int, str], str]:
    """(version id, task code) -> area code, for the versions the triad's assignments use."""
    if not version_ids:
        return {}
    rows = db.exec(select(ShopTask.version_id, ShopTask.code, ShopTask.area_code)
                   .where(ShopTask.version_id.in_(version_ids))).all()
    return {(v, c): a for v, c, a in rows}


def _practice_minutes(db: Session, app: Apprenticeship, assignments: list[Assignment]) -> dict[str, int]:
    """Practice time on the triad's tasks, from the program's start day on, per area."""
    if not assignments:
        return {}
    areas = _areas_by_task(db, {a.version_id for a in assignments})
    version_of = {a.id: a.version_id for a in assignments}
    rows = db.exec(select(ProgressEvent.assignment_id, ProgressEvent.task_code, ProgressEvent.minutes,
                          ProgressEvent.practiced_on, ProgressEvent.at)
                   .where(ProgressEvent.assignment_id.in_(list(version_of)), ProgressEvent.kind == "practice")).all()
    out: dict[str, int] = {}
    for assignment_id, code, minutes, practiced_on, at in rows:
        if (practiced_on or at.date()) < app.start_date:
            continue
        area = areas.get((version_of[assignment_id], code))
        if area:
            out[area] = out.get(area, 0) + (minutes or 0)
    return out


def credited_minutes(db: Session, app: Apprenticeship) -> dict[str, int]:
    """Credit for prior learning, per area, by the shop's rule: hours per credited task, or a percent of the
    term scaled by the share of the list's tasks that are credited (split across areas by their credited tasks)."""
    if app.credit_rule not in ("hours_per_task", "percent") or app.credit_value <= 0:
        return {}
    assignments = _assignments(db, app)
    if not assignments:
        return {}
    current = next((a for a in reversed(assignments) if a.ended_at is None), assignments[-1])
    areas = _areas_by_task(db, {current.version_id})
    applicable = db.exec(select(func.count()).select_from(ShopTask).where(
        ShopTask.version_id == current.version_id, ShopTask.not_applicable.is_(False))).one() or 1
    codes = set(db.exec(select(PriorCredit.task_code).where(PriorCredit.assignment_id == current.id)).all())
    per_area: dict[str, int] = {}
    for code in codes:
        area = areas.get((current.version_id, code))
        if area:
            per_area[area] = per_area.get(area, 0) + 1
    if app.credit_rule == "hours_per_task":
        return {a: n * app.credit_value * 60 for a, n in per_area.items()}
    # percent: credit_value % of the term when all tasks are credited, each credited task its equal share
    per_task = app.term_hours * 60 * min(app.credit_value, 100) / 100 / applicable
    return {a: round(n * per_task) for a, n in per_area.items()}


def _entry_minutes(db: Session, apprenticeship_id: int, state: str) -> dict[int, int]:
    rows = db.exec(select(HoursEntry.work_process_id, func.sum(HoursEntry.minutes))
                   .where(HoursEntry.apprenticeship_id == apprenticeship_id, HoursEntry.state == state)
                   .group_by(HoursEntry.work_process_id)).all()
    return {wp: int(m or 0) for wp, m in rows}


def approved_hours(db: Session, apprenticeship_id: int) -> dict[str, int]:
    """Minutes of OJL per area code: approved entries (superseded ones excluded), practice time on the area's
    tasks, and credited prior learning. The one place that totals hours."""
    app = db.get(Apprenticeship, apprenticeship_id)
    return _totals(db, app, work_processes(db, app.id))[0] if app is not None else {}


def _totals(db: Session, app: Apprenticeship, processes: list[WorkProcess]) -> tuple[dict[str, int], dict[str, int]]:
    """approved_hours, and the credited minutes by area inside it."""
    out = {wp.area_code: 0 for wp in processes}
    approved = _entry_minutes(db, app.id, "approved")
    for wp in processes:
        out[wp.area_code] += approved.get(wp.id, 0)
    credited = credited_minutes(db, app)
    for extra in (_practice_minutes(db, app, _assignments(db, app)), credited):
        for area, minutes in extra.items():
            out[area] = out.get(area, 0) + minutes
    return out, credited


@dataclass
class ProcessLine:
    work_process_id: int
    area_code: str
    title: str
    target_hours: int
    approved_minutes: int
    pending_minutes: int

    @property
    def approved_hours(self) -> float:
        return round(self.approved_minutes / 60, 1)

    @property
    def pending_hours(self) -> float:
        return round(self.pending_minutes / 60, 1)


@dataclass
class HoursSummary:
    lines: list[ProcessLine] = field(default_factory=list)
    this_week_minutes: int = 0
    total_minutes: int = 0  # approved OJL, practice and credit included
    pending_minutes: int = 0
    credited_minutes: int = 0
    term_hours: int = 0
    rti_hours: int = 0

    @property
    def total_hours(self) -> float:
        return round(self.total_minutes / 60, 1)

    @property
    def remaining_hours(self) -> float:
        """Hours of the term still to serve, after approved hours and credit."""
        return max(0.0, round(self.term_hours - self.total_minutes / 60, 1))

    @property
    def this_week_hours(self) -> float:
        return round(self.this_week_minutes / 60, 1)


def today_in(timezone: str, now: datetime | None = None) -> date:
    """Today in the shop's time zone: it decides which day and week hours belong to."""
    return (now or clock.utcnow()).astimezone(ZoneInfo(timezone)).date()


def week_start(day: date) -> date:
    """The Monday of the day's week."""
    return day - timedelta(days=day.weekday())


def hours_summary(db: Session, app: Apprenticeship) -> HoursSummary:
    processes = work_processes(db, app.id)
    totals, credited = _totals(db, app, processes)
    pending = _entry_minutes(db, app.id, "pending")
    lines = [ProcessLine(wp.id, wp.area_code, wp.title, wp.target_hours, totals.get(wp.area_code, 0),
                         pending.get(wp.id, 0)) for wp in processes]
    shop = db.get(Organization, app.shop_id)
    monday = week_start(today_in(shop.timezone if shop else "UTC"))
    week = db.exec(select(func.sum(HoursEntry.minutes)).where(
        HoursEntry.apprenticeship_id == app.id, HoursEntry.state.in_(("pending", "approved")),
        HoursEntry.day >= monday, HoursEntry.day < monday + timedelta(days=7))).one()
    return HoursSummary(lines=lines, this_week_minutes=int(week or 0),
                        total_minutes=sum(totals.values()), pending_minutes=sum(pending.values()),
                        credited_minutes=sum(credited.values()), term_hours=app.term_hours,
                        rti_hours=rti_total(db, app.id))


def rti_total(db: Session, apprenticeship_id: int) -> int:
    total = db.exec(select(func.sum(RtiRecord.hours)).where(RtiRecord.apprenticeship_id == apprenticeship_id)).one()
    return int(total or 0)


def rti_records(db: Session, apprenticeship_id: int) -> list[RtiRecord]:
    return list(db.exec(select(RtiRecord).where(RtiRecord.apprenticeship_id == apprenticeship_id)
                        .order_by(RtiRecord.recorded_at, RtiRecord.id)).all())
