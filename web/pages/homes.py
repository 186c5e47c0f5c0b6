"""The page each role lands on, and a mentee's page."""

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlmodel import Session

from mentoring import board, policy, roster
from mentoring.policy import Actor
from web.render import page


@get("/manager", sync_to_thread=True)
def manager_home(db: NamedDependency[Session], actor: NamedDependency[Actor]) -> Response:
    policy.require_role(actor, "manager")
    shops = actor.orgs_where("manager")
    return page("homes/manager.html", shops=roster.organizations(db, shops),
                triads=roster.triads_at(db, shops), enrollments=roster.enrollments_at_shops(db, shops),
                recent=board.recent_signoffs(db, shops))


@get("/mentor", sync_to_thread=True)
def mentor_home(db: NamedDependency[Session], actor: NamedDependency[Actor]) -> Response:
    policy.require_role(actor, "mentor")
    return page("homes/mentor.html", cards=board.mentor_cards(db, actor))


@get("/me", sync_to_thread=True)
def mentee_home(db: NamedDependency[Session], actor: NamedDependency[Actor]) -> Response:
    policy.require_role(actor, "mentee")
    boards = [board.board(db, a) for a in board.assignments_of(db, actor.person_id)]
    return page("homes/mentee.html", triad=roster.triad_of(db, actor.person_id), boards=boards,
                next_up={b.assignment.id: board.up_next(b.rows, 3) for b in boards},
                enrollments=roster.enrollments_of(db, actor.person_id))


@get("/instructor", sync_to_thread=True)
def instructor_home(db: NamedDependency[Session], actor: NamedDependency[Actor]) -> Response:
    policy.require_role(actor, "instructor")
    return page("homes/instructor.html", students=roster.students_of(db, actor))


@get("/mentees/{mentee_id:int}", sync_to_thread=True)
def mentee_detail(db: NamedDependency[Session], actor: NamedDependency[Actor], mentee_id: FromPath[int]) -> Response:
    mentee = policy.get_mentee_for_viewer(db, actor, mentee_id)
    enrollments = [e for e in roster.enrollments_of(db, mentee_id)
                   if policy.can_see_enrollment(actor, e.enrollment)]
    return page("homes/mentee_detail.html", mentee=mentee, triad=roster.triad_of(db, mentee_id),
                enrollments=enrollments, assignments=board.assignments_of(db, mentee_id))


HANDLERS = [manager_home, mentor_home, mentee_home, instructor_home, mentee_detail]
