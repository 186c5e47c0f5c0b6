"""The page each role lands on, and a mentee's page."""

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlmodel import Session

from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.people import roster
from mentoring.progress import apprenticeship, board, hours, offline_sync
from web.pages import manage
from web.render import page


@get("/manager", sync_to_thread=True)
def manager_home(db: NamedDependency[Session], actor: NamedDependency[Actor], sort: FromQuery[str] = "name",
                 flag: FromQuery[str] = "", mentor: FromQuery[str] = "", q: FromQuery[str] = "") -> Response:
    """The manager lands on the dashboard (web/pages/manage.py)."""
    return manage.dashboard_page(db, actor, sort=sort, flag=flag, mentor=mentor, q=q)


@get("/mentor", sync_to_thread=True)
def mentor_home(db: NamedDependency[Session], actor: NamedDependency[Actor]) -> Response:
    policy.require_role(actor, "mentor")
    return page("homes/mentor.html", cards=board.mentor_cards(db, actor),
                offline_conflicts=offline_sync.open_of_mentor(db, actor), hours_lines=hours.board(db, mentor=actor))


@get("/me", sync_to_thread=True)
def mentee_home(db: NamedDependency[Session], actor: NamedDependency[Actor]) -> Response:
    policy.require_role(actor, "mentee")
    boards = [board.board(db, a) for a in board.assignments_of(db, actor.person_id)]
    triad = roster.triad_of(db, actor.person_id)
    return page("homes/mentee.html", triad=triad, boards=boards,
                apprentice=triad is not None and apprenticeship.apprenticeship_of(db, triad.triad.id) is not None,
                next_up={b.assignment.id: board.up_next(b.rows, 3) for b in boards},
                enrollments=roster.enrollments_of(db, actor.person_id),
                shared_plan=manage.shared_pay_plan(db, actor, actor.person_id))


@get("/instructor", sync_to_thread=True)
def instructor_home(db: NamedDependency[Session], actor: NamedDependency[Actor]) -> Response:
    return manage.instructor_page(db, actor)


@get("/mentees/{mentee_id:int}", sync_to_thread=True)
def mentee_detail(db: NamedDependency[Session], actor: NamedDependency[Actor], mentee_id: FromPath[int]) -> Response:
    return manage.mentee_page(db, actor, mentee_id)


HANDLERS = [manager_home, mentor_home, mentee_home, instructor_home, mentee_detail]
