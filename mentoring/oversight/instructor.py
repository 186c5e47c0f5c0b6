"""What an instructor follows: their consented students' progress, and coverage across the program."""

from dataclasses import dataclass

from sqlmodel import Session, select

from mentoring.access.policy import Actor, consented_student_ids
from mentoring.oversight import dashboard
from mentoring.oversight.dashboard import ListProgress
from mentoring.people import roster
from mentoring.progress.models import Assignment
from tasklists.documents import PRIORITIES


@dataclass
class Student:
    enrollment: roster.EnrollmentRow
    progress: list[ListProgress]


def students(db: Session, actor: Actor) -> list[Student]:
    """Consent-active students only; their active assignments' progress in a fixed number of queries."""
    rows = roster.students_of(db, actor)
    assignments = list(db.exec(select(Assignment).where(
        Assignment.mentee_id.in_(consented_student_ids(actor.person_id)), Assignment.ended_at.is_(None),
        Assignment.shop_id.in_([r.shop.id for r in rows])).order_by(Assignment.start_date)).all()) if rows else []
    progress = dashboard.progress_of(db, assignments)
    return [Student(r, [progress[a.id] for a in assignments
                        if a.mentee_id == r.mentee.id and a.shop_id == r.shop.id]) for r in rows]


@dataclass
class AreaRow:
    area_code: str
    area_title: str
    students: int  # students whose list has this area
    passing: dict[str, int]  # priority -> students meeting the rule for it
    passing_all: int
    # priority -> students whose list has tasks of it in this area; 0: there is nothing to meet ("no tasks"),
    # although the rule counts as met
    with_tasks: dict[str, int]


def program_coverage(found: list[Student]) -> list[AreaRow]:
    """Per area: how many students meet the rule for P-1, P-2 and P-3; what an accreditation visit asks for."""
    areas: dict[str, AreaRow] = {}
    for student in found:
        for p in student.progress:
            if p.report is None:
                continue
            for area in p.report.areas:
                row = areas.setdefault(area.area_code, AreaRow(area.area_code, area.area_title, 0,
                                                                dict.fromkeys(PRIORITIES, 0), 0,
                                                                dict.fromkeys(PRIORITIES, 0)))
                row.students += 1
                row.passing_all += area.passes
                for key, item in area.priorities.items():
                    row.passing[key] += item.passes
                    row.with_tasks[key] += item.total > 0
    return list(areas.values())
