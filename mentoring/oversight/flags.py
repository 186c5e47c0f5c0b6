"""The dashboard's flags as plain rules: stalled, review overdue, pay step due. Dates are the shop's local dates."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from mentoring.clock import utcnow
from tasklists.coverage import CoverageReport

DEFAULT_STALLED_DAYS = 14
PROGRESS_KINDS = ("practice", "ready", "signoff")  # what counts as moving forward; comments do not


def local_date(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def today_in(tz: str, now: datetime | None = None) -> date:
    return local_date(now or utcnow(), tz)


def is_stalled(last_progress: date, today: date, days: int) -> bool:
    """Stalled once `days` whole days have passed since the last day with progress."""
    return (today - last_progress).days >= days


def is_review_overdue(due_on: date, today: date, complete: bool) -> bool:
    """Overdue from the day after it was due, until all parties have signed."""
    return not complete and today > due_on


def milestone_reached(milestone: str, *, area: str = "", percent: int | None = None, on: date | None = None,
                      report: CoverageReport | None = None, today: date, hours: int | None = None,
                      ojl_minutes: int | None = None, credentials: frozenset[str] | None = None) -> bool:
    """`ojl_minutes`: approved OJL minutes (credited included); `credentials`: achievement keys ("area:V", …) of the
    mentee's credentials that stand (not revoked). None: not known, so not reached."""
    if milestone == "date":
        return on is not None and today >= on
    if milestone == "ojl_hours":
        return ojl_minutes is not None and hours is not None and ojl_minutes >= hours * 60
    if milestone == "credential":
        return bool(credentials) and (not area or f"area:{area}" in credentials)
    if report is None:
        return False
    if milestone == "area_p1":
        found = next((a for a in report.areas if a.area_code == area), None)
        p1 = found.priorities["P-1"] if found else None
        return bool(p1 and p1.total and p1.achieved == p1.total)
    if milestone == "coverage":
        total = sum(p.total for p in report.overall.priorities.values())
        done = sum(p.achieved for p in report.overall.priorities.values())
        return bool(total) and percent is not None and done * 100 >= percent * total
    return False


def pay_step_status(reached: bool, last_decision: str | None, deferred_until: date | None, today: date) -> str:
    """applied | planned (milestone not reached) | deferred | due. A deferral ends on its `until` day."""
    if last_decision == "applied":
        return "applied"
    if not reached:
        return "planned"
    if last_decision == "deferred" and (deferred_until is None or today < deferred_until):
        return "deferred"
    return "due"
