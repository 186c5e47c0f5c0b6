"""The manager's dashboard: every triad of the manager's shops with progress, coverage, flags and pay steps.

A fixed number of queries whatever the number of mentees: each kind of row is read once for all triads,
as plain columns, and put together in Python."""

import json
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, func
from sqlmodel import Session, select

from mentoring import lru
from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.oversight import flags, payplan, reviews, wages
from mentoring.oversight.models import PayStep, PayStepDecision, Review, ShopDashboardSettings
from mentoring.people import roster
from mentoring.people.models import Organization, Triad
from mentoring.progress import credit
from mentoring.progress.models import Apprenticeship, Assignment, PriorCredit, ProgressEvent
from mentoring.progress.signoffs import achieved, task_states
from tasklists.coverage import CoverageReport, Tally
from tasklists.models import ShopTask, ShopTaskList, ShopTaskListVersion, TaskListTemplate

SORTS = ("name", "progress", "ready", "last", "stalled")
READ_KINDS = ("signoff", "revoke", "ready", "practice")  # what decides a task's status and the stalled clock


@dataclass(frozen=True, slots=True)
class LightTask:
    code: str
    priority: str
    area_code: str
    area_title: str
    not_applicable: bool
    required_rating: int | None


class _EventRow(NamedTuple):
    """The columns of an event the dashboard's replay needs: a whole shop's events pass through it whenever
    its progress is not cached, and named tuples cost far less to make than ORM objects."""

    assignment_id: int
    seq: int
    task_code: str
    kind: str
    rating: int | None
    minutes: int | None
    at: datetime


_EVENT_ROWS = (select(*(getattr(ProgressEvent, c) for c in _EventRow._fields))
               .where(ProgressEvent.assignment_id.in_(bindparam("ids", expanding=True)),
                      ProgressEvent.kind.in_(READ_KINDS))
               .order_by(ProgressEvent.assignment_id, ProgressEvent.seq))


@dataclass(slots=True)
class AreaProgress:
    code: str
    title: str
    done: int
    total: int
    percent: int = field(init=False)  # share signed, rounded down

    def __post_init__(self) -> None:
        self.percent = self.done * 100 // self.total if self.total else 0


@dataclass
class ListProgress:
    """Where one assignment stands: per area, against the coverage rule, and what waits for a signature."""

    assignment_id: int | None = None
    areas: list[AreaProgress] = field(default_factory=list)
    report: CoverageReport | None = None
    rule_met: dict[str, bool] = field(default_factory=dict)  # per priority: does every area meet the rule?
    ready: int = 0
    signed: int = 0
    applicable: int = 0
    last_signoff: datetime | None = None
    last_progress_at: datetime | None = None  # the newest practice, request or sign-off: the stalled clock
    signoff_times: list[datetime] = field(default_factory=list)  # sorted; for the progress-over-time chart

    def take(self, other: "ListProgress") -> None:
        """Copy another (cached, shared) result's figures; the lists are shared and must not be changed."""
        for name in _LIST_FIELDS:
            setattr(self, name, getattr(other, name))

    @property
    def percent(self) -> int:
        return self.signed * 100 // self.applicable if self.applicable else 0


_LIST_FIELDS = [f.name for f in fields(ListProgress)]


@dataclass
class TriadStatus(ListProgress):
    row: "TriadLine | None" = None
    last_progress: date | None = None
    stalled: bool = False
    idle_days: int = 0
    overdue_reviews: list[reviews.ReviewView] = field(default_factory=list)
    next_review: reviews.ReviewView | None = None
    steps: list[payplan.StepView] = field(default_factory=list)
    shares: list[int | None] = field(default_factory=list)  # % signed per area of Dashboard.areas; None: not listed

    @property
    def steps_due(self) -> list[payplan.StepView]:
        return [s for s in self.steps if s.status == "due"]

    @property
    def upcoming_steps(self) -> list[payplan.StepView]:
        return [s for s in self.steps if s.status in ("due", "planned", "deferred")]


@dataclass
class Dashboard:
    shops: list[Organization]
    today: date
    stalled_days: dict[int, int]
    rows: list[TriadStatus]
    workload: list[tuple[str, int, int]]  # mentor name, pending sign-offs, mentees
    areas: list[tuple[str, str]]  # (code, title) over all lists, in list order
    weekly: list[tuple[date, int]]  # week start, tasks signed that week (all triads)

    @property
    def flagged(self) -> dict[str, int]:
        return {"stalled": sum(r.stalled for r in self.rows),
                "overdue": sum(bool(r.overdue_reviews) for r in self.rows),
                "pay": sum(bool(r.steps_due) for r in self.rows),
                "ready": sum(r.ready for r in self.rows)}


def stalled_days_of(db: Session, shop_ids: set[int]) -> dict[int, int]:
    found = dict(db.exec(select(ShopDashboardSettings.shop_id, ShopDashboardSettings.stalled_after_days)
                         .where(ShopDashboardSettings.shop_id.in_(shop_ids))).all())
    return {s: found.get(s, flags.DEFAULT_STALLED_DAYS) for s in shop_ids}


def set_stalled_days(db: Session, actor: Actor, shop: Organization, days) -> None:
    from mentoring.errors import FormError
    from mentoring.trail import audit

    try:
        days = int(days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= 365:
        raise FormError({"stalled_days": "Enter a number of days between 1 and 365."})
    current = db.get(ShopDashboardSettings, shop.id) or ShopDashboardSettings(shop_id=shop.id)
    current.stalled_after_days = days
    db.add(current)
    db.flush()
    audit.record(db, actor, "dashboard.stalled_days", shop, org_id=shop.id, days=days)


def build(db: Session, actor: Actor, shop_ids: set[int], *, now: datetime | None = None) -> Dashboard:
    shops = roster.organizations(db, shop_ids)
    tz = {s.id: s.timezone for s in shops}
    now = now or flags.utcnow()
    today = flags.today_in(shops[0].timezone, now) if shops else now.date()
    days = stalled_days_of(db, shop_ids)
    rows = [TriadStatus(row=r) for r in _triad_lines(db, shop_ids, {s.id: s for s in shops})]
    triad_ids = select(Triad.id).where(Triad.shop_id.in_(shop_ids), Triad.ended_at.is_(None))

    # The newest active assignment of each triad, with what its cached progress is keyed by.
    assignments = {a.triad_id: a for a in db.exec(
        _heads(Assignment.triad_id.in_(triad_ids), Assignment.ended_at.is_(None))).all()}
    progress = _progress_of(db, list(assignments.values()))

    review_views = reviews.reviews_where(db, Review.triad_id.in_(triad_ids), light=True)
    pay_shops = {s for s in shop_ids if policy.can_see_pay_plan(actor, s)}
    # Plain columns, not ORM objects: enough for step_views and the page, and far cheaper for a whole shop.
    steps = db.exec(select(PayStep.id, PayStep.shop_id, PayStep.mentee_id, PayStep.title, PayStep.amount_cents,
                           PayStep.percent_tenths, PayStep.milestone, PayStep.milestone_area,
                           PayStep.milestone_percent, PayStep.milestone_date, PayStep.milestone_hours)
                    .where(PayStep.shop_id.in_(pay_shops),
                           PayStep.mentee_id.in_(select(Triad.mentee_id).where(Triad.id.in_(triad_ids))))).all()
    decisions = db.exec(select(PayStepDecision.id, PayStepDecision.pay_step_id, PayStepDecision.decision,
                               PayStepDecision.deferred_until)
                        .where(PayStepDecision.pay_step_id.in_(select(PayStep.id)
                                                               .where(PayStep.shop_id.in_(pay_shops))))
                        ).all() if pay_shops else []

    reviews_by_triad: dict[int, list[reviews.ReviewView]] = {}
    for v in review_views:
        reviews_by_triad.setdefault(v.review.triad_id, []).append(v)
    steps_by_mentee: dict[int, list] = {}
    for step in steps:
        steps_by_mentee.setdefault(step.mentee_id, []).append(step)
    facts = {}
    for shop_id in pay_shops:  # approved hours and credentials, only for mentees with such a trigger
        facts.update(wages.facts_of(db, shop_id, [s.mentee_id for s in steps
                                                  if s.milestone in wages.KINDS and s.shop_id == shop_id]))
    decisions_by_step: dict[int, list] = {}
    for d in decisions:
        decisions_by_step.setdefault(d.pay_step_id, []).append(d)
    area_order: dict[str, str] = {}
    for status in rows:
        triad = status.row.triad
        shop_today = flags.today_in(tz[triad.shop_id], now)
        assignment = assignments.get(triad.id)
        start = flags.local_date(triad.started_at, tz[triad.shop_id])
        if assignment is not None:
            start = max(start, assignment.start_date)
            status.take(progress[assignment.id])
            for a in status.areas:
                area_order.setdefault(a.code, a.title)
            if status.last_progress_at is not None:
                start = max(start, flags.local_date(status.last_progress_at, tz[triad.shop_id]))
        status.last_progress = start
        status.idle_days = (shop_today - start).days
        status.stalled = flags.is_stalled(start, shop_today, days[triad.shop_id])
        mine = reviews_by_triad.get(triad.id, [])
        status.overdue_reviews = [v for v in mine if v.overdue(shop_today)]
        status.next_review = next((v for v in mine if not v.complete), None)
        if triad.shop_id in pay_shops:
            mine_steps = steps_by_mentee.get(triad.mentee_id, [])
            status.steps = payplan.step_views(mine_steps, [d for st in mine_steps for d in decisions_by_step.get(
                st.id, [])], {triad.mentee_id: status.report}, shop_today, facts)
    # The heat map's cells, one per area of every list in view.
    for status in rows:
        shares = {a.code: a.percent for a in status.areas}
        status.shares = [shares.get(code) for code in area_order]

    workload: dict[int, list] = {}
    for status in rows:
        entry = workload.setdefault(status.row.mentor.id, [status.row.mentor.full_name, 0, 0])
        entry[1] += status.ready
        entry[2] += 1
    return Dashboard(shops, today, days, rows, sorted((tuple(w) for w in workload.values()), key=lambda w: -w[1]),
                     list(area_order.items()),
                     _weekly([r.signoff_times for r in rows], today, tz[shops[0].id] if shops else "UTC"))


# Progress of an assignment depends only on its list version (published versions never change) and its events,
# which are only ever appended and hash-chained: the newest event's number and hash identify it completely. So each
# process keeps what it computed and reads again only the assignments that gained events. Nothing here is
# needed by another process; a new process simply computes everything once.
_CACHE = lru.LRU(20_000)


@dataclass(frozen=True, slots=True)
class Named:
    id: int
    full_name: str


@dataclass(frozen=True, slots=True)
class TriadRef:
    """The triad columns the dashboard uses (a Triad model object costs several times more to make)."""

    id: int
    shop_id: int
    mentee_id: int
    mentor_id: int
    manager_id: int
    started_at: datetime
    apprenticeship_id: int | None = None  # registered apprenticeship (issue #18); None: informal mentoring


@dataclass(frozen=True, slots=True)
class TriadLine:
    """What the dashboard shows of a triad, read as plain columns (ORM rows of five tables cost a lot more)."""

    triad: TriadRef
    shop: Organization
    mentee: Named
    mentor: Named
    manager: Named


def _triad_lines(db: Session, shop_ids: set[int], shops: dict[int, Organization]) -> list[TriadLine]:
    mentee, mentor, manager = roster.Mentee, roster.Mentor, roster.Manager
    rows = db.exec(select(Triad.id, Triad.shop_id, Triad.mentee_id, Triad.mentor_id, Triad.manager_id,
                          Triad.started_at, mentee.full_name, mentor.full_name, manager.full_name, Apprenticeship.id)
                   .join(mentee, mentee.id == Triad.mentee_id).join(mentor, mentor.id == Triad.mentor_id)
                   .join(manager, manager.id == Triad.manager_id)
                   .outerjoin(Apprenticeship, Apprenticeship.triad_id == Triad.id)
                   .where(Triad.shop_id.in_(shop_ids), Triad.ended_at.is_(None)).order_by(mentee.full_name)).all()
    return [TriadLine(TriadRef(tid, shop, me, mo, ma, started, app), shops[shop],
                      Named(me, me_name), Named(mo, mo_name), Named(ma, ma_name))
            for tid, shop, me, mo, ma, started, me_name, mo_name, ma_name, app in rows]


def _heads(*conditions) -> Select:
    """Assignments (matching `conditions`) with the number and hash of their newest event (None before the
    first): the progress cache's key, oldest start first.

    Each is looked up per assignment, through the (assignment_id, seq) index, newest first. Grouping every
    event of the shop costs several milliseconds for 100 mentees, and so does a join to the newest event,
    which PostgreSQL plans as a pass over all of them."""
    def newest(column):
        return (select(column).where(ProgressEvent.assignment_id == Assignment.id)
                .order_by(ProgressEvent.seq.desc()).limit(1).scalar_subquery())

    def credits(aggregate):  # credits for prior learning change coverage without an event
        return select(aggregate).where(PriorCredit.assignment_id == Assignment.id).scalar_subquery()

    return (select(Assignment.id, Assignment.created_at, Assignment.version_id, Assignment.triad_id,
                   Assignment.start_date, newest(ProgressEvent.seq).label("seq"),
                   newest(ProgressEvent.hash).label("hash"), credits(func.count(PriorCredit.id)).label("credits"),
                   credits(func.max(PriorCredit.id)).label("credit_last"))
            .where(*conditions).order_by(Assignment.start_date, Assignment.id))


def _progress_of(db: Session, heads: list) -> dict[int, "ListProgress"]:
    """Progress by assignment id, in three queries for any number of assignments: the rules, tasks and events
    of those not cached under their newest event (rows of _heads)."""
    # The newest event's hash stands for the whole chain; created_at tells apart rows of a wiped database.
    keys = {h.id: (h.id, h.created_at, h.version_id, h.seq, h.hash, h.credits, h.credit_last) for h in heads}
    result = {aid: hit for aid, key in keys.items() if (hit := _CACHE.get(key)) is not None}
    missed = [h for h in heads if h.id not in result]
    version_ids = sorted({h.version_id for h in missed})
    rules = {vid: (rating, json.loads(rule)) for vid, rating, rule in db.exec(
        select(ShopTaskListVersion.id, ShopTaskListVersion.required_rating, TaskListTemplate.coverage_rule)
        .join(ShopTaskList, ShopTaskList.id == ShopTaskListVersion.list_id)
        .join(TaskListTemplate, TaskListTemplate.id == ShopTaskList.template_id)
        .where(ShopTaskListVersion.id.in_(version_ids))).all()}
    tasks: dict[int, list[LightTask]] = {}
    for vid, *cols in db.exec(select(ShopTask.version_id, ShopTask.code, ShopTask.priority, ShopTask.area_code,
                                     ShopTask.area_title, ShopTask.not_applicable, ShopTask.required_rating)
                              .where(ShopTask.version_id.in_(version_ids)).order_by(ShopTask.position)).all():
        tasks.setdefault(vid, []).append(LightTask(*cols))
    events: dict[int, list[_EventRow]] = {}
    for row in map(_EventRow._make, db.exec(_EVENT_ROWS, params={"ids": [h.id for h in missed]})):
        events.setdefault(row.assignment_id, []).append(row)
    tallies = {vid: Tally(tasks.get(vid, [])) for vid in version_ids}
    with_credits = [h.id for h in missed if h.credits]
    credited = credit.credited_by_assignment(db, with_credits) if with_credits else {}
    for h in missed:
        found = ListProgress(assignment_id=h.id)
        rating, rule = rules[h.version_id]
        _progress(found, tasks.get(h.version_id, []), rating, rule, tallies[h.version_id], events.get(h.id, []),
                  credited.get(h.id, {}))
        _CACHE.put(keys[h.id], found)
        result[h.id] = found
    return result


def progress_of(db: Session, assignments: list[Assignment]) -> dict[int, "ListProgress"]:
    """Progress of several assignments, keyed by assignment id, in a fixed number of queries."""
    return _progress_of(db, db.exec(_heads(Assignment.id.in_([a.id for a in assignments]))).all())


def _progress(status: "ListProgress", tasks: list[LightTask], default_rating: int, rule: dict, tally: Tally,
              events: list, credited: dict[str, str]) -> None:
    """Where one assignment stands, from its events (READ_KINDS, in chain order) replayed by
    signoffs.task_states and its credits for prior learning; signoffs.achieved decides what coverage counts."""
    states = credit.mark_credited(task_states(events), credited)
    status.signoff_times = sorted(e.at for e in events if e.kind == "signoff")
    status.last_progress_at = max((e.at for e in events if e.kind in flags.PROGRESS_KINDS), default=None)
    codes: set[str] = set()  # achieved
    counts: dict[str, list] = {}  # area code -> [title, done, total]
    for t in tasks:
        if t.not_applicable:
            continue
        area = counts.get(t.area_code) or counts.setdefault(t.area_code, [t.area_title, 0, 0])
        area[2] += 1
        state = states.get(t.code)
        if state is None:
            continue
        if state.status == "ready":
            status.ready += 1
        elif state.status == "signed":
            area[1] += 1
            status.signed += 1
            if status.last_signoff is None or state.signoff.at > status.last_signoff:
                status.last_signoff = state.signoff.at
            if achieved(t, state, default_rating):
                codes.add(t.code)
        elif achieved(t, state, default_rating):  # credited for prior learning, not signed here
            area[1] += 1
            codes.add(t.code)
    status.areas = [AreaProgress(code, title, done, total) for code, (title, done, total) in counts.items()]
    status.applicable = sum(a.total for a in status.areas)
    status.report = report = tally.report(codes, rule)
    status.rule_met = {p: all(a.priorities[p].passes for a in report.areas) for p in report.overall.priorities}


def _weekly(times: list[list[datetime]], today: date, tz: str, weeks: int = 12) -> list[tuple[date, int]]:
    """Sign-offs per local week (Monday to Sunday) for the last `weeks` weeks, this week last; `times` holds
    each assignment's sign-off moments, sorted."""
    first = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    zone = ZoneInfo(tz)
    # Week boundaries as instants, so each sign-off is placed by one comparison search, not a time-zone sum;
    # the older sign-offs, most of them, are skipped by one search per assignment.
    edges = [datetime.combine(first + timedelta(weeks=i), time.min, zone).astimezone(UTC) for i in range(weeks + 1)]
    counts = [0] * weeks
    for moments in times:
        for m in moments[bisect_left(moments, edges[0]):]:
            i = bisect_right(edges, m) - 1
            if i < weeks:
                counts[i] += 1
    return [(first + timedelta(weeks=i), c) for i, c in enumerate(counts)]


def area_totals(rows: list[ListProgress]) -> list[tuple[str, str, int, int]]:
    """Per area over the given rows: (code, title, tasks signed, tasks)."""
    totals: dict[str, list] = {}
    for r in rows:
        for a in r.areas:
            entry = totals.setdefault(a.code, [a.code, a.title, 0, 0])
            entry[2] += a.done
            entry[3] += a.total
    return [tuple(t) for t in totals.values()]


def sort_and_filter(rows: list[TriadStatus], *, sort: str = "name", flag: str = "", mentor: str = "",
                    q: str = "") -> list[TriadStatus]:
    if flag == "stalled":
        rows = [r for r in rows if r.stalled]
    elif flag == "overdue":
        rows = [r for r in rows if r.overdue_reviews]
    elif flag == "pay":
        rows = [r for r in rows if r.steps_due]
    elif flag == "ready":
        rows = [r for r in rows if r.ready]
    if mentor.isdigit():
        rows = [r for r in rows if r.row.mentor.id == int(mentor)]
    words = q.lower().split()
    if words:
        rows = [r for r in rows if all(w in r.row.mentee.full_name.lower() for w in words)]
    keys = {
        "name": lambda r: r.row.mentee.full_name,
        "progress": lambda r: (-(r.signed / r.applicable if r.applicable else -1), r.row.mentee.full_name),
        "ready": lambda r: (-r.ready, r.row.mentee.full_name),
        "last": lambda r: (r.last_signoff is not None, r.last_signoff or datetime.min, r.row.mentee.full_name),
        "stalled": lambda r: (-r.idle_days, r.row.mentee.full_name),
    }
    return sorted(rows, key=keys.get(sort, keys["name"]))
