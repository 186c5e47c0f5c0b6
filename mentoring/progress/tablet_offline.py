"""The copy a shop tablet keeps for signing without the network (GET /tablet/offline/snapshot).

For each mentor of the tablet's shop: their offline PIN verifier on this tablet (mentoring/access/offline.py)
and the mentees they may sign for (policy.may_sign, the rule of the online pages), with each mentee's
published task list and every task's status. Only what the signing screens show: no notes, no evidence, no
pay plans, no reviews. A fixed number of queries whatever the lists' length (tasks of a published version are
read once per process; board.tasks_of_version)."""

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam
from sqlmodel import Session, select

from mentoring import clock
from mentoring.access import offline, policy, tablets
from mentoring.access.models import OfflineVerifier, TabletDevice
from mentoring.access.policy import Actor
from mentoring.people.models import Organization, Person, Triad
from mentoring.progress.board import tasks_of_version
from mentoring.progress.models import Assignment, ProgressEvent
from mentoring.progress.signoffs import RATINGS, TaskState, task_states_by_assignment
from tasklists.models import ShopTaskList, ShopTaskListVersion

# What a shop needs: 30 mentees on MAST lists (about 372 tasks each) make a copy of about 1.5 MB.
MAX_MENTEES = 30
PIN_ATTEMPTS = 5  # wrong offline PINs for one mentor before the tablet stops asking …
LOCKOUT_SECONDS = 300  # … for this long (a speed bump for someone at the tablet, not a defence: README)


class _EventRow(NamedTuple):
    """The columns the replay needs: a whole shop's events pass through here on every snapshot."""

    id: int
    assignment_id: int
    seq: int
    task_code: str
    kind: str
    rating: int | None
    minutes: int | None
    at: datetime


_EVENTS = (select(*(getattr(ProgressEvent, c) for c in _EventRow._fields))
           .where(ProgressEvent.assignment_id.in_(bindparam("ids", expanding=True))))


@dataclass(frozen=True)
class _Candidate:
    assignment: Assignment
    mentee: Person
    task_list: ShopTaskList
    triad: Triad


def _candidates(db: Session, shop_id: int) -> list[_Candidate]:
    """The shop's active assignments; policy.may_sign then decides for each mentor."""
    rows = db.exec(select(Assignment, Person, ShopTaskList, Triad)
                   .join(Triad, Triad.id == Assignment.triad_id)
                   .join(Person, Person.id == Assignment.mentee_id)
                   .join(ShopTaskListVersion, ShopTaskListVersion.id == Assignment.version_id)
                   .join(ShopTaskList, ShopTaskList.id == ShopTaskListVersion.list_id)
                   .where(Assignment.shop_id == shop_id, Assignment.ended_at.is_(None), Triad.ended_at.is_(None),
                          ShopTaskListVersion.published_at.is_not(None))
                   .order_by(Person.full_name, Assignment.id)).all()
    return [_Candidate(*row) for row in rows]


def _task(task, state: TaskState) -> dict:
    signoff = state.signoff
    return {"code": task.code, "statement": task.statement, "priority": task.priority, "status": state.status,
            "rating": signoff.rating if signoff is not None else None, "applicable": not task.not_applicable,
            "version": state.events[-1].id if state.events else 0}


def _areas(tasks, states: dict[str, TaskState]) -> list[dict]:
    areas: dict[str, dict] = {}
    for t in tasks:
        area = areas.get(t.area_code)
        if area is None:
            area = areas[t.area_code] = {"code": t.area_code, "title": t.area_title, "tasks": []}
        area["tasks"].append(_task(t, states.get(t.code) or TaskState(t.code)))
    return list(areas.values())


def snapshot(db: Session, device: TabletDevice, *, secret: str, csrf_token: str = "",
             limit: int = MAX_MENTEES) -> dict:
    """The tablet's copy (the JSON of docs in OFFLINE_CONTRACT / README). At most `limit` mentee entries in
    all, counted over every mentor (a mentee whom two mentors may sign counts twice: the copy's size is what
    the cap bounds); each mentor's own mentees come before those the shop lets any mentor sign."""
    shop = db.get(Organization, device.shop_id)
    mentors = tablets.mentors_at(db, shop.id)
    verifiers = {v.person_id: v for v in db.exec(select(OfflineVerifier)
                                                 .where(OfflineVerifier.device_id == device.id)).all()}
    candidates = _candidates(db, shop.id)

    # A mentor's turn on this tablet signs what policy.may_sign lets them sign at this shop.
    chosen: dict[int, list[tuple[bool, _Candidate]]] = {}
    for mentor in mentors:
        actor = Actor(mentor.id, mentor.full_name, memberships=frozenset({(shop.id, "mentor")}))
        chosen[mentor.id] = [(c.triad.mentor_id == mentor.id, c) for c in candidates
                             if policy.may_sign(actor, c.assignment, c.triad, shop)]
    # Own mentees first (in mentor order), then the others, until the cap.
    ordered = sorted(((not own, i, mentor_id, c) for i, (mentor_id, pairs) in enumerate(chosen.items())
                      for own, c in pairs), key=lambda x: (x[0], x[1]))
    kept = ordered[:limit]
    kept_ids = {(mentor_id, c.assignment.id) for _, _, mentor_id, c in kept}

    assignment_ids = sorted({c.assignment.id for _, _, _, c in kept})
    versions = {v.id: v for v in db.exec(select(ShopTaskListVersion).where(
        ShopTaskListVersion.id.in_({c.assignment.version_id for _, _, _, c in kept}))).all()} if kept else {}
    events = db.exec(_EVENTS, params={"ids": assignment_ids}).all() if assignment_ids else []
    states = task_states_by_assignment(_EventRow._make(e) for e in events)
    by_id = {c.assignment.id: c.assignment for _, _, _, c in kept}
    # One list of areas per assignment, shared by the mentors who may sign it.
    areas_of = {a.id: _areas(tasks_of_version(db, versions[a.version_id]), states.get(a.id, {}))
                for a in by_id.values()}

    mentor_entries = []
    for mentor in mentors:
        mentees = [{"assignment_id": c.assignment.id, "name": c.mentee.full_name, "list_title": c.task_list.name,
                    "areas": areas_of[c.assignment.id]}
                   for own, c in sorted(chosen[mentor.id], key=lambda p: not p[0])
                   if (mentor.id, c.assignment.id) in kept_ids]
        mentor_entries.append({"id": mentor.id, "name": mentor.full_name,
                               "verifier": offline.public(verifiers.get(mentor.id), secret), "mentees": mentees})
    left_out = len(ordered) - len(kept)
    return {
        "device": {"id": device.id, "name": device.name, "shop_id": shop.id, "shop_name": shop.name},
        "generated_at": clock.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "csrf_token": csrf_token,
        "limits": {"max_mentees": limit, "pin_attempts": PIN_ATTEMPTS, "lockout_seconds": LOCKOUT_SECONDS},
        "capped": left_out > 0,
        "left_out": left_out,
        "ratings": [{"value": value, "label": label} for value, label in RATINGS.items()],
        "mentors": mentor_entries,
    }
