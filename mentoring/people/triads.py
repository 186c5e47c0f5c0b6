"""Triads (mentee, mentor, manager) and school enrollments: the rules for starting, changing and ending them."""


from pydantic import BaseModel
from sqlmodel import Session, select

from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.clock import utcnow
from mentoring.errors import FormError, flush_unique
from mentoring.people.models import Enrollment, Organization, Person, Triad, TriadMentorChange
from mentoring.trail import audit

# --- triads ----------------------------------------------------------------------

class TriadIn(BaseModel):
    mentee_id: int
    mentor_id: int
    manager_id: int


def create_triad(db: Session, actor: Actor, shop: Organization, data: TriadIn) -> Triad:
    errors = _triad_role_errors(db, shop, data)
    if data.mentee_id == data.mentor_id:
        errors["mentor_id"] = "The mentor must be someone other than the mentee."
    if "mentee_id" not in errors and active_triad(db, data.mentee_id):
        errors["mentee_id"] = "This mentee is already in an active triad. End that triad first."
    if errors:
        raise FormError(errors)
    triad = Triad(shop_id=shop.id, **data.model_dump())
    db.add(triad)
    flush_unique(db, {"mentee_id": "This mentee is already in an active triad. End that triad first."})
    db.add(TriadMentorChange(triad_id=triad.id, mentor_id=data.mentor_id, changed_by_id=actor.person_id,
                             reason="Triad started"))
    audit.record(db, actor, "triad.create", triad, org_id=shop.id, **data.model_dump())
    return triad


def _triad_role_errors(db: Session, shop: Organization, data: TriadIn) -> dict[str, str]:
    errors = {}
    for field, role in (("mentee_id", "mentee"), ("mentor_id", "mentor"), ("manager_id", "manager")):
        if not policy.holds_role(db, getattr(data, field), shop.id, role):
            errors[field] = f"Choose a {role} of {shop.name}."
    return errors


def active_triad(db: Session, mentee_id: int) -> Triad | None:
    return db.exec(select(Triad).where(Triad.mentee_id == mentee_id, Triad.ended_at.is_(None))).first()


def change_mentor(db: Session, actor: Actor, triad: Triad, mentor_id: int, reason: str) -> None:
    shop = db.get(Organization, triad.shop_id)
    if triad.ended_at:
        raise FormError({"": "This triad has ended."})
    if not policy.holds_role(db, mentor_id, shop.id, "mentor"):
        raise FormError({"mentor_id": f"Choose a mentor of {shop.name}."})
    if mentor_id == triad.mentee_id:
        raise FormError({"mentor_id": "The mentor must be someone other than the mentee."})
    if mentor_id == triad.mentor_id:
        raise FormError({"mentor_id": "This person already mentors this triad."})
    reason = " ".join(reason.split())[:300]
    if not reason:
        raise FormError({"reason": "Say why the mentor changes; it is kept in the history."})
    now = utcnow()
    current = db.exec(select(TriadMentorChange).where(
        TriadMentorChange.triad_id == triad.id, TriadMentorChange.ended_at.is_(None))).first()
    if current:
        current.ended_at = now
        db.add(current)
    db.add(TriadMentorChange(triad_id=triad.id, mentor_id=mentor_id, started_at=now,
                             changed_by_id=actor.person_id, reason=reason))
    audit.record(db, actor, "triad.change_mentor", triad, org_id=shop.id,
                 old_mentor_id=triad.mentor_id, mentor_id=mentor_id, reason=reason)
    triad.mentor_id = mentor_id
    db.add(triad)


def change_manager(db: Session, actor: Actor, triad: Triad, manager_id: int) -> None:
    shop = db.get(Organization, triad.shop_id)
    if not policy.holds_role(db, manager_id, shop.id, "manager"):
        raise FormError({"manager_id": f"Choose a manager of {shop.name}."})
    audit.record(db, actor, "triad.change_manager", triad, org_id=shop.id,
                 old_manager_id=triad.manager_id, manager_id=manager_id)
    triad.manager_id = manager_id
    db.add(triad)


def end_triad(db: Session, actor: Actor, triad: Triad) -> None:
    if triad.ended_at:
        raise FormError({"": "This triad has already ended."})
    now = utcnow()
    triad.ended_at = now
    db.add(triad)
    for period in db.exec(select(TriadMentorChange).where(
            TriadMentorChange.triad_id == triad.id, TriadMentorChange.ended_at.is_(None))):
        period.ended_at = now
        db.add(period)
    audit.record(db, actor, "triad.end", triad, org_id=triad.shop_id)


def mentor_history(db: Session, triad_id: int) -> list[tuple[TriadMentorChange, Person]]:
    return list(db.exec(select(TriadMentorChange, Person)
                        .join(Person, Person.id == TriadMentorChange.mentor_id)
                        .where(TriadMentorChange.triad_id == triad_id)
                        .order_by(TriadMentorChange.started_at, TriadMentorChange.id)).all())


# --- enrollments -------------------------------------------------------------------

class EnrollmentIn(BaseModel):
    mentee_id: int
    school_id: int
    instructor_id: int
    consent_active: bool = False


def create_enrollment(db: Session, actor: Actor, shop: Organization, data: EnrollmentIn) -> Enrollment:
    errors = {}
    if not policy.holds_role(db, data.mentee_id, shop.id, "mentee"):
        errors["mentee_id"] = f"Choose a mentee of {shop.name}."
    school = db.get(Organization, data.school_id)
    if school is None or not school.is_school:
        errors["school_id"] = "Choose a school program."
    elif not policy.holds_role(db, data.instructor_id, school.id, "instructor"):
        errors["instructor_id"] = f"This person is not an instructor at {school.name}."
    if not errors and db.exec(select(Enrollment.id).where(
            Enrollment.mentee_id == data.mentee_id, Enrollment.school_id == data.school_id,
            Enrollment.ended_at.is_(None))).first():
        errors["mentee_id"] = f"This mentee is already enrolled at {school.name}."
    if errors:
        raise FormError(errors)
    enrollment = Enrollment(shop_id=shop.id, consent_changed_at=utcnow(),
                            consent_changed_by_id=actor.person_id, **data.model_dump())
    db.add(enrollment)
    flush_unique(db, {"mentee_id": f"This mentee is already enrolled at {school.name}."})
    audit.record(db, actor, "enrollment.create", enrollment, org_id=shop.id, **data.model_dump())
    return enrollment


def set_consent(db: Session, actor: Actor, enrollment: Enrollment, active: bool) -> None:
    """The shop's switch: while it is off, the instructor sees nothing of the student."""
    enrollment.consent_active = active
    enrollment.consent_changed_at = utcnow()
    enrollment.consent_changed_by_id = actor.person_id
    db.add(enrollment)
    audit.record(db, actor, "enrollment.consent", enrollment, org_id=enrollment.shop_id, active=active)


def end_enrollment(db: Session, actor: Actor, enrollment: Enrollment) -> None:
    if enrollment.ended_at:
        raise FormError({"": "This enrollment has already ended."})
    enrollment.ended_at = utcnow()
    enrollment.consent_active = False
    db.add(enrollment)
    audit.record(db, actor, "enrollment.end", enrollment, org_id=enrollment.shop_id)
