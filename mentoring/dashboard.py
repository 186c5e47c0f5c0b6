"""The manager's dashboard: every triad of the manager's shops with progress, coverage, flags and pay steps.

A fixed number of queries whatever the number of mentees: each kind of row is read once for all triads,
as plain columns, and put together in Python."""

import json
import threading
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func
from sqlmodel import Session, select

from mentoring import flags, payplan, policy, reviews, roster
from mentoring.models import (
    Assignment,
    Organization,
    PayStep,
    PayStepDecision,
    ProgressEvent,
    Review,
    ShopDashboardSettings,
    Triad,
)
from mentoring.policy import Actor
from tasklists.coverage import CoverageReport, Tally
from tasklists.models import ShopTask, ShopTaskList, ShopTaskListVersion, TaskListTemplate

SORTS = ("name", "progress", "ready", "last", "stalled")
HEAT = ((90, "#1e7b34"), (75, "#4f9d5d"), (50, "#9cc8a0"), (25, "#d7e9d5"), (1, "#eef5ec"), (0, "#f4f4f4"))


@dataclass(frozen=True, slots=True)
class LightTask:
    code: str
    priority: str
    area_code: str
    area_title: str
    not_applicable: bool
    required_rating: int | None


@dataclass
class AreaProgress:
    code: str
    title: str
    done: int
    total: int

    @property
    def percent(self) -> int:
        return self.done * 100 // self.total if self.total else 0

    @property
    def heat(self) -> str:
        """The chart colour for this share: darker green as more is signed."""
        return next(colour for floor, colour in HEAT if self.percent >= floor)


@dataclass
class ListProgress:
    """Where one assignment stands: per area, against the coverage rule, and what waits for a signature."""

    assignment_id: int | None = None
    areas: list[AreaProgress] = field(default_factory=list)
    report: CoverageReport | None = None
    ready: int = 0
    signed: int = 0
    applicable: int = 0
    last_signoff: datetime | None = None
    signoff_times: list[datetime] = field(default_factory=list)  # for the progress-over-time chart

    def take(self, other: "ListProgress") -> None:
        """Copy another (cached, shared) result's figures; the lists are shared and must not be changed."""
        for name in ("assignment_id", "areas", "report", "ready", "signed", "applicable", "last_signoff",
                     "signoff_times"):
            setattr(self, name, getattr(other, name))

    @property
    def percent(self) -> int:
        return self.signed * 100 // self.applicable if self.applicable else 0

    @property
    def area_map(self) -> dict[str, AreaProgress]:
        return {a.code: a for a in self.areas}

    @property
    def rule_met(self) -> dict[str, bool]:
        """Per priority: does every area meet the rule? (The dashboard colours P-1/P-2/P-3 by it.)"""
        if self.report is None:
            return {}
        return {p: all(a.priorities[p].passes for a in self.report.areas) for p in self.report.overall.priorities}


@dataclass
class TriadStatus(ListProgress):
    row: "TriadLine | None" = None
    last_progress: date | None = None
    stalled: bool = False
    idle_days: int = 0
    overdue_reviews: list[reviews.ReviewView] = field(default_factory=list)
    next_review: reviews.ReviewView | None = None
    steps: list[payplan.StepView] = field(default_factory=list)

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
    from mentoring import audit
    from mentoring.errors import FormError

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

    # The newest active assignment of each triad.
    assignments = {a.triad_id: a for a in db.exec(
        select(Assignment).where(Assignment.triad_id.in_(triad_ids), Assignment.ended_at.is_(None))
        .order_by(Assignment.start_date, Assignment.id)).all()}
    assignment_ids = select(Assignment.id).where(Assignment.triad_id.in_(triad_ids), Assignment.ended_at.is_(None))
    progress, last_progress = _progress_of(db, list(assignments.values()), assignment_ids)

    review_views = reviews.reviews_where(db, Review.triad_id.in_(triad_ids), light=True)
    pay_shops = {s for s in shop_ids if policy.can_see_pay_plan(actor, s)}
    steps = list(db.exec(select(PayStep).where(PayStep.shop_id.in_(pay_shops),
                                               PayStep.mentee_id.in_(select(Triad.mentee_id)
                                                                     .where(Triad.id.in_(triad_ids))))).all())
    decisions = list(db.exec(select(PayStepDecision).where(PayStepDecision.pay_step_id.in_(
        select(PayStep.id).where(PayStep.shop_id.in_(pay_shops))))).all()) if pay_shops else []

    reviews_by_triad: dict[int, list[reviews.ReviewView]] = {}
    for v in review_views:
        reviews_by_triad.setdefault(v.review.triad_id, []).append(v)
    steps_by_mentee: dict[int, list[PayStep]] = {}
    for step in steps:
        steps_by_mentee.setdefault(step.mentee_id, []).append(step)
    decisions_by_step: dict[int, list[PayStepDecision]] = {}
    for d in decisions:
        decisions_by_step.setdefault(d.pay_step_id, []).append(d)
    area_order: dict[str, str] = {}
    signed_at: list[datetime] = []
    for status in rows:
        triad = status.row.triad
        shop_today = flags.today_in(tz[triad.shop_id], now)
        assignment = assignments.get(triad.id)
        start = flags.local_date(triad.started_at, tz[triad.shop_id])
        if assignment is not None:
            status.assignment_id = assignment.id
            start = max(start, assignment.start_date)
            status.take(progress[assignment.id])
            for a in status.areas:
                area_order.setdefault(a.code, a.title)
            signed_at += status.signoff_times
            if assignment.id in last_progress:
                start = max(start, flags.local_date(last_progress[assignment.id], tz[triad.shop_id]))
        status.last_progress = start
        status.idle_days = (shop_today - start).days
        status.stalled = flags.is_stalled(start, shop_today, days[triad.shop_id])
        mine = reviews_by_triad.get(triad.id, [])
        status.overdue_reviews = [v for v in mine if v.overdue(shop_today)]
        status.next_review = next((v for v in mine if not v.complete), None)
        if triad.shop_id in pay_shops:
            mine_steps = steps_by_mentee.get(triad.mentee_id, [])
            status.steps = payplan.step_views(mine_steps, [d for st in mine_steps for d in decisions_by_step.get(
                st.id, [])], {triad.mentee_id: status.report}, shop_today)

    workload: dict[int, list] = {}
    for status in rows:
        entry = workload.setdefault(status.row.mentor.id, [status.row.mentor.full_name, 0, 0])
        entry[1] += status.ready
        entry[2] += 1
    return Dashboard(shops, today, days, rows, sorted((tuple(w) for w in workload.values()), key=lambda w: -w[1]),
                     list(area_order.items()), _weekly(signed_at, today, tz[shops[0].id] if shops else "UTC"))


# Progress of an assignment depends only on its list version (published versions never change) and its events,
# which are only ever appended and hash-chained: the newest event's number and hash identify it completely. So each
# process keeps what it computed and reads again only the assignments that gained events. Nothing here is
# needed by another process; a new process simply computes everything once.
_CACHE: OrderedDict[tuple, "ListProgress"] = OrderedDict()
_CACHE_SIZE = 20_000
_CACHE_LOCK = threading.Lock()


def _cached(key):
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
        return found


def _remember(key, value) -> None:
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)


@dataclass(frozen=True, slots=True)
class Named:
    id: int
    full_name: str


@dataclass(frozen=True, slots=True)
class TriadLine:
    """What the dashboard shows of a triad, read as plain columns (ORM rows of five tables cost a lot more)."""

    triad: Triad
    shop: Organization
    mentee: Named
    mentor: Named
    manager: Named


def _triad_lines(db: Session, shop_ids: set[int], shops: dict[int, Organization]) -> list[TriadLine]:
    mentee, mentor, manager = roster.Mentee, roster.Mentor, roster.Manager
    rows = db.exec(select(Triad.id, Triad.shop_id, Triad.mentee_id, Triad.mentor_id, Triad.manager_id,
                          Triad.started_at, mentee.full_name, mentor.full_name, manager.full_name)
                   .join(mentee, mentee.id == Triad.mentee_id).join(mentor, mentor.id == Triad.mentor_id)
                   .join(manager, manager.id == Triad.manager_id)
                   .where(Triad.shop_id.in_(shop_ids), Triad.ended_at.is_(None)).order_by(mentee.full_name)).all()
    return [TriadLine(Triad(id=tid, shop_id=shop, mentee_id=me, mentor_id=mo, manager_id=ma, started_at=started),
                      shops[shop], Named(me, me_name), Named(mo, mo_name), Named(ma, ma_name))
            for tid, shop, me, mo, ma, started, me_name, mo_name, ma_name in rows]


def _progress_of(db: Session, assignments: list[Assignment], assignment_ids) -> tuple[dict, dict]:
    """Progress (by assignment id) and the last day with progress, in four queries for any number of
    assignments: the newest event of each, then the rules, tasks and events of those that changed."""
    newest = (select(ProgressEvent.assignment_id.label("aid"), func.max(ProgressEvent.seq).label("seq"),
                     func.max(case((ProgressEvent.kind.in_(flags.PROGRESS_KINDS), ProgressEvent.at))).label("last"))
              .where(ProgressEvent.assignment_id.in_(assignment_ids)).group_by(ProgressEvent.assignment_id)
              .subquery())
    heads = {aid: (seq, digest, last) for aid, seq, digest, last in db.exec(
        select(newest.c.aid, newest.c.seq, ProgressEvent.hash, newest.c.last)
        .join(ProgressEvent, (ProgressEvent.assignment_id == newest.c.aid) & (ProgressEvent.seq == newest.c.seq))
    ).all()}
    # The newest event's hash stands for the whole chain; created_at tells apart rows of a wiped database.
    keys = {a.id: (a.id, a.created_at, a.version_id, *heads.get(a.id, (0, "", None))[:2]) for a in assignments}
    result = {aid: hit for aid, key in keys.items() if (hit := _cached(key)) is not None}
    missed = [a for a in assignments if a.id not in result]
    version_ids = sorted({a.version_id for a in missed})
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
    events: dict[int, list] = {}
    # Only the events that decide "signed" and "ready", in chain order.
    for e in db.exec(select(ProgressEvent.assignment_id, ProgressEvent.task_code, ProgressEvent.kind,
                            ProgressEvent.rating, ProgressEvent.at)
                     .where(ProgressEvent.assignment_id.in_([a.id for a in missed]),
                            ProgressEvent.kind.in_(["signoff", "revoke", "ready"]))
                     .order_by(ProgressEvent.assignment_id, ProgressEvent.seq)).all():
        events.setdefault(e.assignment_id, []).append(e)
    tallies = {vid: Tally(tasks.get(vid, [])) for vid in version_ids}
    for a in missed:
        found = ListProgress(assignment_id=a.id)
        rating, rule = rules[a.version_id]
        _progress(found, tasks.get(a.version_id, []), rating, rule, tallies[a.version_id], events.get(a.id, []))
        _remember(keys[a.id], found)
        result[a.id] = found
    last_day = {aid: _aware(last) for aid, (_, _, last) in heads.items() if last is not None}
    return result, last_day


def progress_of(db: Session, assignments: list[Assignment]) -> dict[int, "ListProgress"]:
    """Progress of several assignments, keyed by assignment id, in a fixed number of queries."""
    return _progress_of(db, assignments, [a.id for a in assignments])[0]


def _aware(moment: datetime) -> datetime:
    # func.max() hands back what the driver gives: SQLite loses the time zone of the stored UTC value.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _progress(status: "ListProgress", tasks: list[LightTask], default_rating: int, rule: dict, tally: Tally,
              events: list) -> None:
    """Replay the sign-off, revoke and ready events in chain order, as progress.task_states does for these
    three kinds (a test holds the two together), without building a full state per task."""
    signed: dict[str, tuple[int, datetime]] = {}
    ready: set[str] = set()
    for e in events:
        if e.kind == "signoff":
            signed[e.task_code] = (e.rating, e.at)
            ready.discard(e.task_code)
            status.signoff_times.append(e.at)
        elif e.kind == "revoke":
            signed.pop(e.task_code, None)
        elif e.kind == "ready" and e.task_code not in signed:
            ready.add(e.task_code)
    achieved = set()
    areas: dict[str, AreaProgress] = {}
    for t in tasks:
        if t.not_applicable:
            continue
        area = areas.get(t.area_code) or areas.setdefault(t.area_code, AreaProgress(t.area_code, t.area_title, 0, 0))
        area.total += 1
        if t.code in ready:
            status.ready += 1
        elif (found := signed.get(t.code)) is not None:
            area.done += 1
            status.signed += 1
            if found[0] >= (t.required_rating or default_rating):
                achieved.add(t.code)
            if status.last_signoff is None or found[1] > status.last_signoff:
                status.last_signoff = found[1]
    status.applicable = sum(a.total for a in areas.values())
    status.areas = list(areas.values())
    status.report = tally.report(achieved, rule)


def _weekly(moments: list[datetime], today: date, tz: str, weeks: int = 12) -> list[tuple[date, int]]:
    """Sign-offs per local week (Monday to Sunday) for the last `weeks` weeks, this week last."""
    first = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    zone = ZoneInfo(tz)
    # Week boundaries as instants, so each sign-off is placed by one comparison search, not a time-zone sum.
    edges = [datetime.combine(first + timedelta(weeks=i), time.min, zone).astimezone(UTC) for i in range(weeks + 1)]
    counts = [0] * weeks
    for m in moments:
        i = bisect_right(edges, m if m.tzinfo else m.replace(tzinfo=UTC)) - 1
        if 0 <= i < weeks:
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
