"""The wage schedule of a registered apprenticeship: pay steps set against the apprentice's progress.

Two triggers read facts outside the coverage report: approved on-the-job hours (totalled only by
apprenticeship.approved_hours) and credentials issued to the mentee. Credentials are rows of the exports layer,
which this layer may not import; the few columns needed are read through a lightweight table clause instead.
Everything here is pay: read only through policy.pay_plan_access."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import column, table
from sqlmodel import Session, select

from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.oversight import flags
from mentoring.oversight.models import PayStep, PayStepDecision
from mentoring.people.models import Organization, Triad
from mentoring.progress import apprenticeship
from mentoring.progress.models import Apprenticeship, HoursEntry

KINDS = ("ojl_hours", "credential")

_credentials = table("issuedcredential", column("mentee_id"), column("issuer_id"), column("achievement_key"),
                     column("issued_at"), column("revoked_at"))


@dataclass(frozen=True)
class Facts:
    ojl_minutes: int | None  # None: no registered apprenticeship
    credentials: frozenset[str]  # achievement keys of credentials that stand ("area:V", "level:MLR", …)
    first_issued: dict  # achievement key -> the first day a credential with it was issued


def facts_of(db: Session, shop_id: int, mentee_ids: list[int]) -> dict[int, Facts]:
    """Approved OJL minutes and standing credentials of these mentees at one shop."""
    if not mentee_ids:
        return {}
    apps = db.exec(select(Triad.mentee_id, Apprenticeship.id).join(Apprenticeship, Apprenticeship.triad_id == Triad.id)
                   .where(Triad.shop_id == shop_id, Triad.mentee_id.in_(mentee_ids))).all()
    minutes = {m: sum(apprenticeship.approved_hours(db, a).values()) for m, a in apps}
    creds: dict[int, dict[str, date]] = {}
    for mentee_id, key, issued_at in db.execute(
            select(_credentials.c.mentee_id, _credentials.c.achievement_key, _credentials.c.issued_at)
            .where(_credentials.c.issuer_id == shop_id, _credentials.c.mentee_id.in_(mentee_ids),
                   _credentials.c.revoked_at.is_(None))).all():
        day = issued_at.date() if hasattr(issued_at, "date") else date.fromisoformat(str(issued_at)[:10])
        mine = creds.setdefault(mentee_id, {})
        mine[key] = min(mine.get(key, day), day)
    return {m: Facts(minutes.get(m), frozenset(creds.get(m, {})), creds.get(m, {})) for m in mentee_ids}


@dataclass
class ScheduleRow:
    step: PayStep
    trigger: str
    rate: str
    progress: str  # e.g. "1,020 of 1,000 h" or "area V: 8 of 10 P-1 tasks"
    status: str  # applied | planned | deferred | due
    due_on: date | None  # the day the trigger was reached, where the history says so
    applied_on: date | None


def _due_on_hours(db: Session, app: Apprenticeship, total: int, threshold: int) -> date | None:
    """The day of the approval that carried the total over the threshold; practice time and credit count as
    there from the start. Walks approvals newest first, taking each back until the total falls below."""
    if total < threshold:
        return None
    running = total
    for minutes, decided_at in db.exec(select(HoursEntry.minutes, HoursEntry.decided_at).where(
            HoursEntry.apprenticeship_id == app.id, HoursEntry.state == "approved")
            .order_by(HoursEntry.decided_at.desc(), HoursEntry.id.desc())).all():
        if running - minutes < threshold:
            return decided_at.date() if decided_at else None
        running -= minutes
    return app.start_date


def schedule_of(db: Session, actor: Actor, triad: Triad, report, today: date | None = None) -> list[ScheduleRow] | None:
    """The manager's table of a registered apprenticeship's wage steps; None for anyone else, or no program."""
    if policy.pay_plan_access(actor, triad.shop_id, triad.mentee_id) != "all":
        return None
    app = apprenticeship.apprenticeship_of(db, triad.id)
    if app is None:
        return None
    from mentoring.oversight import payplan  # payplan imports this module for the two triggers

    today = today or flags.today_in(db.get(Organization, triad.shop_id).timezone)
    steps = list(db.exec(select(PayStep).where(PayStep.shop_id == triad.shop_id, PayStep.mentee_id == triad.mentee_id)
                         .order_by(PayStep.id)).all())
    decisions = list(db.exec(select(PayStepDecision).where(
        PayStepDecision.pay_step_id.in_([s.id for s in steps]))).all()) if steps else []
    fact = facts_of(db, triad.shop_id, [triad.mentee_id])[triad.mentee_id]
    total = fact.ojl_minutes or 0
    rows = []
    for view in payplan.step_views(steps, decisions, {triad.mentee_id: report}, today, {triad.mentee_id: fact}):
        step = view.step
        applied = next((d for d in reversed(view.decisions) if d.decision == "applied"), None)
        due_on, progress = None, ""
        if step.milestone == "ojl_hours":
            progress = f"{total / 60:,.0f} of {step.milestone_hours:,} h"
            due_on = _due_on_hours(db, app, total, (step.milestone_hours or 0) * 60)
        elif step.milestone == "credential":
            days = [d for k, d in fact.first_issued.items() if not step.milestone_area or
                    k == f"area:{step.milestone_area}"]
            due_on = min(days, default=None)
            progress = f"issued {due_on:%Y-%m-%d}" if due_on else "not yet issued"
        elif step.milestone == "date":
            due_on = step.milestone_date if step.milestone_date and step.milestone_date <= today else None
            progress = f"{(step.milestone_date - today).days} days to go" if not due_on else "date reached"
        elif report is not None and step.milestone == "coverage":
            total_tasks = sum(p.total for p in report.overall.priorities.values())
            done = sum(p.achieved for p in report.overall.priorities.values())
            progress = f"{done * 100 // total_tasks if total_tasks else 0} % of {step.milestone_percent} %"
        elif report is not None and step.milestone == "area_p1":
            area = next((a for a in report.areas if a.area_code == step.milestone_area), None)
            p1 = area.priorities["P-1"] if area else None
            progress = f"{p1.achieved} of {p1.total} P-1 tasks" if p1 else "area not on the list"
        rows.append(ScheduleRow(step, view.milestone_text, view.raise_text, progress, view.status,
                                due_on if view.status != "planned" else None,
                                (applied.effective_on or applied.at.date()) if applied else None))
    return rows
