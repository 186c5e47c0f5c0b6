"""What strangers who verify a mentee's records may read beyond the record's facts: the mentee decides.

The public verification page shows who, where, what was achieved, when, who signed and what their signature
meant, and the status (exports/verify.py `public_record`). Ratings are the mentee's to share: off until the
mentee turns them on, and nobody else may turn them on for them."""

from sqlmodel import Session

from mentoring.access.policy import Actor
from mentoring.errors import Forbidden
from mentoring.people.models import Person
from mentoring.progress.models import Assignment
from mentoring.trail import audit


def shows_ratings(db: Session, mentee_id: int) -> bool:
    person = db.get(Person, mentee_id)
    return bool(person and person.show_ratings_to_verifiers)


def choose_rating_disclosure(db: Session, actor: Actor, assignment: Assignment, shown: bool) -> None:
    """The mentee of the assignment, and only they, choose whether verifiers see their ratings."""
    if actor.person_id is None or actor.person_id != assignment.mentee_id:
        raise Forbidden("Only the mentee chooses what people who verify their records can see.")
    person = db.get(Person, assignment.mentee_id)
    if person.show_ratings_to_verifiers == shown:
        return
    person.show_ratings_to_verifiers = shown
    db.add(person)
    audit.record(db, actor, "person.disclosure", person, org_id=assignment.shop_id, show_ratings=shown)
