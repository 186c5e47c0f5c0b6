"""Read models for the task pages: a mentee's list with states, filters, and what comes next."""

import json
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import bindparam, or_
from sqlmodel import Session, select

from mentoring import lru
from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.errors import NotFound
from mentoring.people.models import Organization, Person, Triad
from mentoring.progress import credit
from mentoring.progress.models import Assignment, ProgressEvent
from mentoring.progress.signoffs import TaskState, achieved, events_of, task_states, task_states_by_assignment
from tasklists.coverage import CoverageReport, coverage
from tasklists.models import ShopTask, ShopTaskList, ShopTaskListVersion, TaskListTemplate

STATUSES = ("ready", "not_started", "practicing", "signed")


# Read-only copies for the task pages, which read a few hundred tasks and their events per request:
# named tuples are built from a result row at C speed, and their fields read faster than the ORM's
# instrumented attributes.
class TaskView(NamedTuple):
    code: str
    statement: str
    priority: str
    area_code: str
    area_title: str
    section_code: str
    section_title: str
    position: int
    phase: str
    not_applicable: bool
    na_reason: str
    required_rating: int | None


_TASK_VIEWS = (select(*(getattr(ShopTask, c) for c in TaskView._fields))
               .where(ShopTask.version_id == bindparam("version")).order_by(ShopTask.position))


def task_views(db: Session, version_id: int) -> list[TaskView]:
    return list(map(TaskView._make, db.exec(_TASK_VIEWS, params={"version": version_id})))


# A published version never changes (edits go to a new draft), so each process reads its tasks once. The key
# carries the publication time as well: a restored or rebuilt database may give the same id to another version.
_PUBLISHED = lru.LRU(256)


def tasks_of_version(db: Session, version: ShopTaskListVersion) -> list[TaskView]:
    """The version's tasks in list order; callers must not change the list (it may be shared)."""
    if version.published_at is None:
        return task_views(db, version.id)
    key = (version.id, version.published_at)
    found = _PUBLISHED.get(key)
    if found is None:
        found = task_views(db, version.id)
        _PUBLISHED.put(key, found)
    return found


@dataclass(frozen=True)
class Row:
    task: TaskView
    state: TaskState


@dataclass
class Board:
    assignment: Assignment
    mentee: Person
    shop: Organization
    task_list: ShopTaskList
    version: ShopTaskListVersion
    rows: list[Row]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for r in self.rows:
            if not r.task.not_applicable:
                counts[r.state.status] += 1
        return counts

    def phases(self) -> list[str]:
        return sorted({r.task.phase for r in self.rows if r.task.phase})


def get_assignment(db: Session, actor: Actor, assignment_id: int) -> Assignment:
    assignment = db.get(Assignment, assignment_id)
    if assignment is None or not policy.can_view_mentee(db, actor, assignment.mentee_id, assignment.shop_id):
        raise NotFound
    return assignment


def board(db: Session, assignment: Assignment) -> Board:
    """A fixed number of queries whatever the list's length: the header objects, the events, and the tasks
    (once per process for a published version)."""
    version = db.get(ShopTaskListVersion, assignment.version_id)
    tasks = tasks_of_version(db, version)
    states = credit.apply_credits(db, assignment.id, task_states(events_of(db, assignment.id)))
    return Board(assignment, db.get(Person, assignment.mentee_id), db.get(Organization, assignment.shop_id),
                 db.get(ShopTaskList, version.list_id), version,
                 [Row(t, states.get(t.code, TaskState(t.code))) for t in tasks])


def _matches(task: TaskView, word: str) -> bool:
    """A word matches whole parts of the task code ("II.A" finds II.A.1 but not III.A.1 or VII.A.1, "V" finds
    area V), or any part of the statement; a word with a dot is a code only."""
    code = f".{task.code.lower()}."
    if f".{word.strip('.')}." in code:
        return True
    return "." not in word and word in task.statement.lower()


def filtered(rows: list[Row], *, q: str = "", status: str = "", priority: str = "", phase: str = "") -> list[Row]:
    words = q.lower().split()
    result = []
    for r in rows:
        if words and not all(_matches(r.task, w) for w in words):
            continue
        if status and (r.task.not_applicable or r.state.status != status):
            continue
        if priority and r.task.priority != priority:
            continue
        if phase and r.task.phase != phase:
            continue
        result.append(r)
    return result


def up_next(rows: list[Row], limit: int = 5) -> list[Row]:
    """What a mentee works on next: tasks in practice, then untouched tasks in list order, phases first."""
    open_rows = [r for r in rows if not r.task.not_applicable and r.state.status in ("practicing", "not_started")]
    open_rows.sort(key=lambda r: (r.state.status != "practicing", not r.task.phase, r.task.position))
    return open_rows[:limit]


@dataclass(frozen=True)
class MenteeCard:
    assignment: Assignment
    mentee: Person
    list_name: str
    ready: int
    signed: int
    own: bool = True  # the mentor's own triad; False: another mentor's mentee whom the shop lets them sign


def mentor_cards(db: Session, actor: Actor) -> list[MenteeCard]:
    """The mentees the mentor may sign for (policy.may_sign), with how many tasks wait for a signature; one
    query for the counts. This is also what a mentor sees on a shop tablet after entering their PIN."""
    shops = actor.orgs_where("mentor")
    if not shops:
        return []
    # The query narrows by the same terms as policy.may_sign, which then decides for each row.
    found = db.exec(select(Assignment, Person, ShopTaskList, Triad, Organization)
                    .join(Triad, Triad.id == Assignment.triad_id)
                    .join(Organization, Organization.id == Assignment.shop_id)
                    .join(Person, Person.id == Assignment.mentee_id)
                    .join(ShopTaskListVersion, ShopTaskListVersion.id == Assignment.version_id)
                    .join(ShopTaskList, ShopTaskList.id == ShopTaskListVersion.list_id)
                    .where(Assignment.shop_id.in_(shops), Triad.ended_at.is_(None), Assignment.ended_at.is_(None),
                           or_(Triad.mentor_id == actor.person_id, Organization.any_mentor_signs.is_(True)))
                    .order_by(Person.full_name)).all()
    rows = [(a, mentee, task_list, triad.mentor_id == actor.person_id)
            for a, mentee, task_list, triad, shop in found if policy.may_sign(actor, a, triad, shop)]
    ids = [a.id for a, _, _, _ in rows]
    events = db.exec(select(ProgressEvent).where(ProgressEvent.assignment_id.in_(ids))).all() if ids else []
    by_assignment = task_states_by_assignment(events)
    cards = []
    for assignment, mentee, task_list, own in rows:
        states = by_assignment.get(assignment.id, {}).values()
        cards.append(MenteeCard(assignment, mentee, task_list.name, sum(s.status == "ready" for s in states),
                                sum(s.status == "signed" for s in states), own))
    cards.sort(key=lambda c: (not c.own, -c.ready, c.mentee.full_name))
    return cards


def assignments_of(db: Session, mentee_id: int) -> list[Assignment]:
    return list(db.exec(select(Assignment).where(Assignment.mentee_id == mentee_id, Assignment.ended_at.is_(None))
                        .order_by(Assignment.start_date)).all())


@dataclass(frozen=True)
class RecentSignoff:
    event: ProgressEvent
    mentee: Person
    statement: str


def recent_signoffs(db: Session, shop_ids: set[int], limit: int = 15) -> list[RecentSignoff]:
    # The newest events first, then their tasks: joining tasks before the LIMIT made PostgreSQL read every
    # sign-off of the shop (a second for 100 mentees on MAST lists).
    newest = (select(ProgressEvent.id).join(Assignment, Assignment.id == ProgressEvent.assignment_id)
              .where(Assignment.shop_id.in_(shop_ids), ProgressEvent.kind.in_(["signoff", "countersign", "revoke"]))
              .order_by(ProgressEvent.at.desc(), ProgressEvent.id.desc()).limit(limit).subquery())
    rows = db.exec(select(ProgressEvent, Person, ShopTask)
                   .join(newest, newest.c.id == ProgressEvent.id)
                   .join(Assignment, Assignment.id == ProgressEvent.assignment_id)
                   .join(Person, Person.id == Assignment.mentee_id)
                   .join(ShopTask, (ShopTask.version_id == Assignment.version_id)
                         & (ShopTask.code == ProgressEvent.task_code))
                   .order_by(ProgressEvent.at.desc(), ProgressEvent.id.desc())).all()
    return [RecentSignoff(e, p, t.statement) for e, p, t in rows]


def coverage_of(db: Session, b: Board) -> CoverageReport:
    """Per area and priority, tasks signed at or above their required rating, against the edition's rule."""
    template = db.get(TaskListTemplate, b.task_list.template_id)
    codes = {r.task.code for r in b.rows if achieved(r.task, r.state, b.version.required_rating)}
    return coverage([r.task for r in b.rows], codes, json.loads(template.coverage_rule))
