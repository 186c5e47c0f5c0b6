"""Read-only questions about who works with whom, for home pages and admin lists."""

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from mentoring.access import policy
from mentoring.access.policy import Actor, consented_student_ids
from mentoring.people.models import Enrollment, Membership, Organization, Person, Triad

Mentee, Mentor, Manager, Instructor = (aliased(Person) for _ in range(4))
School = aliased(Organization)


@dataclass(frozen=True)
class TriadRow:
    triad: Triad
    shop: Organization
    mentee: Person
    mentor: Person
    manager: Person


@dataclass(frozen=True)
class EnrollmentRow:
    enrollment: Enrollment
    mentee: Person
    shop: Organization
    school: Organization
    instructor: Person


def _triads():
    return (select(Triad, Organization, Mentee, Mentor, Manager)
            .join(Organization, Organization.id == Triad.shop_id)
            .join(Mentee, Mentee.id == Triad.mentee_id)
            .join(Mentor, Mentor.id == Triad.mentor_id)
            .join(Manager, Manager.id == Triad.manager_id)
            .order_by(Mentee.full_name))


def _enrollments():
    return (select(Enrollment, Mentee, Organization, School, Instructor)
            .join(Mentee, Mentee.id == Enrollment.mentee_id)
            .join(Organization, Organization.id == Enrollment.shop_id)
            .join(School, School.id == Enrollment.school_id)
            .join(Instructor, Instructor.id == Enrollment.instructor_id)
            .order_by(Mentee.full_name))


def triads_at(db: Session, shop_ids: set[int], *, include_ended: bool = False) -> list[TriadRow]:
    query = _triads().where(Triad.shop_id.in_(shop_ids))
    if not include_ended:
        query = query.where(Triad.ended_at.is_(None))
    return [TriadRow(*row) for row in db.exec(query).all()]


def triads_mentored_by(db: Session, mentor_id: int) -> list[TriadRow]:
    query = _triads().where(Triad.mentor_id == mentor_id, Triad.ended_at.is_(None))
    return [TriadRow(*row) for row in db.exec(query).all()]


def triad_of(db: Session, mentee_id: int) -> TriadRow | None:
    row = db.exec(_triads().where(Triad.mentee_id == mentee_id, Triad.ended_at.is_(None))).first()
    return TriadRow(*row) if row else None


def triads_visible_to(db: Session, actor: Actor) -> list[TriadRow]:
    """The active triads the policy lets this actor list, by shop, mentee and id."""
    rows = [TriadRow(*row) for row in db.exec(_triads().where(policy.triad_visible(actor))).all()]
    return sorted(rows, key=lambda r: (r.shop.name, r.mentee.full_name, r.triad.id))


def triad_row(db: Session, triad_id: int) -> TriadRow:
    return TriadRow(*db.exec(_triads().where(Triad.id == triad_id)).one())


def enrollments_at_shops(db: Session, shop_ids: set[int], *, include_ended: bool = False
                         ) -> list[EnrollmentRow]:
    query = _enrollments().where(Enrollment.shop_id.in_(shop_ids))
    if not include_ended:
        query = query.where(Enrollment.ended_at.is_(None))
    return [EnrollmentRow(*row) for row in db.exec(query).all()]


def enrollments_of(db: Session, mentee_id: int) -> list[EnrollmentRow]:
    query = _enrollments().where(Enrollment.mentee_id == mentee_id, Enrollment.ended_at.is_(None))
    return [EnrollmentRow(*row) for row in db.exec(query).all()]


def students_of(db: Session, actor: Actor) -> list[EnrollmentRow]:
    """An instructor's students, only while the shop's consent is on."""
    query = _enrollments().where(Enrollment.instructor_id == actor.person_id,
                                 Enrollment.consent_active.is_(True), Enrollment.ended_at.is_(None),
                                 Enrollment.mentee_id.in_(consented_student_ids(actor.person_id)))
    return [EnrollmentRow(*row) for row in db.exec(query).all()]


@dataclass(frozen=True)
class MemberRow:
    membership: Membership
    person: Person


def members_of(db: Session, org_id: int) -> list[MemberRow]:
    rows = db.exec(select(Membership, Person).join(Person, Person.id == Membership.person_id)
                   .where(Membership.organization_id == org_id)
                   .order_by(Person.full_name, Membership.role)).all()
    return [MemberRow(*row) for row in rows]


def schools(db: Session) -> list[Organization]:
    return list(db.exec(select(Organization).where(Organization.kind == "school")
                        .order_by(Organization.name)).all())


def partner_schools(db: Session, shop_id: int) -> list[Organization]:
    """School programs this shop recorded (accounts.add_partner_school)."""
    return list(db.exec(select(Organization).where(Organization.kind == "school",
                                                   Organization.created_by_org_id == shop_id)
                        .order_by(Organization.name)).all())


def organizations(db: Session, ids: set[int]) -> list[Organization]:
    return list(db.exec(select(Organization).where(Organization.id.in_(ids))
                        .order_by(Organization.name)).all())


def all_organizations(db: Session) -> list[Organization]:
    return list(db.exec(select(Organization).order_by(Organization.name)).all())


def memberships_of(db: Session, person_id: int) -> list[tuple[Membership, Organization]]:
    return list(db.exec(select(Membership, Organization)
                        .join(Organization, Organization.id == Membership.organization_id)
                        .where(Membership.person_id == person_id)
                        .order_by(Organization.name)).all())




def role_counts(db: Session, org_id: int) -> dict[str, int]:
    """How many people hold each role at an organization."""
    return dict(db.exec(select(Membership.role, func.count()).where(Membership.organization_id == org_id)
                        .group_by(Membership.role)).all())


def enrollment_count(db: Session, shop_id: int) -> int:
    return db.exec(select(func.count()).select_from(Enrollment).where(Enrollment.shop_id == shop_id)).one()


def roles_by_person(db: Session) -> dict[int, dict[str, list[str]]]:
    """Every person's roles, by organization name: {person_id: {org name: [role, …]}}."""
    roles: dict[int, dict[str, list[str]]] = {}
    for person_id, org_name, role in db.exec(
            select(Membership.person_id, Organization.name, Membership.role)
            .join(Organization, Organization.id == Membership.organization_id)
            .order_by(Organization.name, Membership.role)).all():
        roles.setdefault(person_id, {}).setdefault(org_name, []).append(role)
    return roles
