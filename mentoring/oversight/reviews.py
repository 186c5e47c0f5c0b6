"""Reviews: 30-, 60- and 90-day check-ins and custom ones, each signed "reviewed" by manager, mentor and mentee."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from pydantic import BaseModel, field_validator
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.errors import Forbidden, FormError, NotFound, parse_input
from mentoring.oversight import flags
from mentoring.oversight.models import Review, ReviewSignature
from mentoring.people.models import Organization, Triad
from mentoring.trail import audit

PARTIES = ("manager", "mentor", "mentee")
STANDARD = (("30", 30), ("60", 60), ("90", 90))
MEANING = "reviewed"


@dataclass
class ReviewView:
    review: Review
    signatures: dict[str, ReviewSignature] = field(default_factory=dict)  # by party

    @property
    def complete(self) -> bool:
        return all(p in self.signatures for p in PARTIES)

    def overdue(self, today: date) -> bool:
        return flags.is_review_overdue(self.review.due_on, today, self.complete)

    def waiting_for(self) -> list[str]:
        return [p for p in PARTIES if p not in self.signatures]


class CustomReviewIn(BaseModel):
    title: str
    due_on: date

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, v):
        v = " ".join(str(v or "").split())
        if not v:
            raise ValueError("Give the review a title.")
        if len(v) > 120:
            raise ValueError("Keep the title under 120 characters.")
        return v


def schedule_standard(db: Session, actor: Actor, triad: Triad) -> list[Review]:
    """The 30-, 60- and 90-day check-ins, counted from the triad's start in the shop's time zone; once each."""
    if not policy.can_manage_shop(actor, triad.shop_id):
        raise NotFound
    start = flags.local_date(triad.started_at, db.get(Organization, triad.shop_id).timezone)
    have = set(db.exec(select(Review.kind).where(Review.triad_id == triad.id)).all())
    created = []
    for kind, days in STANDARD:
        if kind in have:
            continue
        review = Review(shop_id=triad.shop_id, triad_id=triad.id, mentee_id=triad.mentee_id,
                        title=f"{days}-day check-in", kind=kind, due_on=start + timedelta(days=days),
                        created_by_id=actor.person_id)
        db.add(review)
        db.flush()
        audit.record(db, actor, "review.create", review, org_id=triad.shop_id, kind=kind)
        created.append(review)
    if not created:
        raise FormError({"": "The 30-, 60- and 90-day check-ins are already scheduled."})
    return created


def add_custom(db: Session, actor: Actor, triad: Triad, data: dict) -> Review:
    if not policy.can_manage_shop(actor, triad.shop_id):
        raise NotFound
    form = parse_input(CustomReviewIn, data)
    review = Review(shop_id=triad.shop_id, triad_id=triad.id, mentee_id=triad.mentee_id, title=form.title,
                    kind="custom", due_on=form.due_on, created_by_id=actor.person_id)
    db.add(review)
    db.flush()
    audit.record(db, actor, "review.create", review, org_id=triad.shop_id, kind="custom")
    return review


def party_of(actor: Actor, triad: Triad) -> str | None:
    """Which signature line is the actor's: their own role in the triad, else manager for the shop's managers."""
    if actor.person_id == triad.mentee_id:
        return "mentee"
    if actor.person_id == triad.mentor_id:
        return "mentor"
    if actor.person_id == triad.manager_id or policy.can_approve(actor, triad.shop_id):
        return "manager"  # a manager of the shop, not an admin who is not one
    return None


def get_review(db: Session, actor: Actor, review_id: int) -> tuple[Review, Triad]:
    review = db.get(Review, review_id)
    triad = db.get(Triad, review.triad_id) if review else None
    if review is None or not policy.can_see_reviews(actor, triad):
        raise NotFound
    return review, triad


def sign(db: Session, actor: Actor, review: Review, triad: Triad, note: str) -> ReviewSignature:
    party = party_of(actor, triad)
    if party is None:  # the caller could see the review (get_review), but is not one of its parties
        raise Forbidden("A review is signed by the triad's mentee, mentor and manager.")
    note = (note or "").strip()
    if len(note) > 2000:
        raise FormError({"note": "Keep the note under 2000 characters."})
    if db.exec(select(ReviewSignature.id).where(ReviewSignature.review_id == review.id,
                                                ReviewSignature.party == party)).first():
        raise FormError({"": f"The {party} has already signed this review."})
    signature = ReviewSignature(review_id=review.id, party=party, person_id=actor.person_id, signer_name=actor.name,
                                meaning=MEANING, note=note)
    db.add(signature)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        raise FormError({"": f"The {party} has already signed this review."}) from None
    audit.record(db, actor, "review.sign", review, org_id=review.shop_id, party=party)
    return signature


def views(reviews: list[Review], signatures: list[ReviewSignature]) -> list[ReviewView]:
    by_id = {r.id: ReviewView(r) for r in reviews}
    for s in signatures:
        if s.review_id in by_id:
            by_id[s.review_id].signatures[s.party] = s
    return sorted(by_id.values(), key=lambda v: (v.review.due_on, v.review.id))


def reviews_where(db: Session, *conditions, light: bool = False) -> list[ReviewView]:
    """Two queries, whatever the number of reviews. `light` reads plain columns (no notes, no ORM objects):
    enough to know who has signed, and several times cheaper for a shop's hundreds of reviews."""
    ids = select(Review.id).where(*conditions)
    if light:
        reviews = list(db.exec(select(Review.id, Review.triad_id, Review.mentee_id, Review.title, Review.kind,
                                      Review.due_on).where(*conditions)).all())
        signatures = list(db.exec(select(ReviewSignature.review_id, ReviewSignature.party)
                                  .where(ReviewSignature.review_id.in_(ids))).all())
    else:
        reviews = list(db.exec(select(Review).where(*conditions)).all())
        signatures = list(db.exec(select(ReviewSignature).where(ReviewSignature.review_id.in_(ids))).all())
    return views(reviews, signatures)


def reviews_kept_from(db: Session, actor: Actor, mentee_id: int, shops: set[int] | None) -> int:
    """How many of the mentee's reviews at the shops the actor follows (None: all) the actor may not read.

    An instructor or another mentor of the shop sees that such reviews exist, not what they say: the page
    then does not claim there are none."""
    triads = db.exec(select(Triad).where(Triad.mentee_id == mentee_id)).all()
    hidden = [t.id for t in triads if (shops is None or t.shop_id in shops) and not policy.can_see_reviews(actor, t)]
    if not hidden:
        return 0
    return db.exec(select(func.count()).select_from(Review).where(Review.triad_id.in_(hidden))).one()


def reviews_of_mentee(db: Session, actor: Actor, mentee_id: int) -> list[ReviewView]:
    """The reviews the actor may read, of every triad the mentee has been in."""
    triads = db.exec(select(Triad).where(Triad.mentee_id == mentee_id)).all()
    visible = [t.id for t in triads if policy.can_see_reviews(actor, t)]
    return reviews_where(db, Review.triad_id.in_(visible)) if visible else []
