"""A new shop's first steps, ticked from what the database holds: the checklist on an empty dashboard."""

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from mentoring.access.models import TabletDevice
from mentoring.people import roster
from mentoring.people.models import Organization, Triad
from mentoring.progress.models import Assignment
from tasklists.models import ShopTaskList, ShopTaskListVersion


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    ready: bool  # what it needs exists, so the step can be taken now
    needs: str  # what to do first, when not ready
    link: str


def checklist(db: Session, shop: Organization) -> list[Step]:
    """Add people → start triads → build and publish a list → assign it → enroll the tablet → add the school."""
    def count(query) -> int:
        return db.exec(query).one()

    roles = roster.role_counts(db, shop.id)
    people = all(roles.get(r) for r in ("mentee", "mentor", "manager"))
    triads = count(select(func.count()).select_from(Triad).where(Triad.shop_id == shop.id))
    published = count(select(func.count()).select_from(ShopTaskListVersion)
                      .join(ShopTaskList, ShopTaskList.id == ShopTaskListVersion.list_id)
                      .where(ShopTaskList.shop_id == shop.id, ShopTaskListVersion.published_at.is_not(None)))
    assigned = count(select(func.count()).select_from(Assignment).where(Assignment.shop_id == shop.id))
    tablets = count(select(func.count()).select_from(TabletDevice).where(TabletDevice.shop_id == shop.id))
    enrolled = roster.enrollment_count(db, shop.id)
    s = shop.id
    return [
        Step("people", "Add a mentee, a mentor and a manager", people, True, "",
             f"/admin/orgs/{s}/members/new"),
        Step("triad", "Start a triad", triads > 0, people, "Add a mentee, a mentor and a manager first.",
             f"/admin/orgs/{s}/triads/new"),
        Step("list", "Build and publish a task list", published > 0, True, "", f"/shops/{s}/tasklists"),
        Step("assign", "Assign the list to a mentee", assigned > 0, triads > 0 and published > 0,
             "Start a triad and publish a list first.", f"/shops/{s}/tasklists#assignments"),
        Step("tablet", "Enroll the shop tablet", tablets > 0, True, "", f"/shops/{s}/tablets"),
        Step("school", "Enroll a student with their school (if any)", enrolled > 0, bool(roles.get("mentee")),
             "Add a mentee first.", f"/admin/orgs/{s}/enrollments/new"),
    ]


def is_complete(steps: list[Step]) -> bool:
    return all(step.done for step in steps)
