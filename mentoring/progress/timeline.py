"""A mentee's story for the people who follow them: events in order, and hours practised per area."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from mentoring.oversight.models import Review, ReviewSignature
from mentoring.progress.models import Assignment, ProgressEvent
from tasklists.models import ShopTask

KIND_TEXT = {"practice": "practised", "ready": "asked for sign-off on", "signoff": "signed off",
             "countersign": "countersigned", "revoke": "revoked the sign-off of", "comment": "commented on"}


@dataclass(frozen=True)
class Moment:
    at: datetime
    who: str
    text: str
    link: str = ""


def _at_shops(shops: set[int] | None) -> list:
    """None: every shop (the mentee's own view); otherwise only the shops the viewer may see."""
    return [] if shops is None else [Assignment.shop_id.in_(sorted(shops))]


def timeline(db: Session, mentee_id: int, *, review_ids: list[int], limit: int = 60,
             shops: set[int] | None = None) -> list[Moment]:
    """Newest first: progress events of the mentee's assignments and signatures on reviews the viewer may read."""
    rows = db.exec(select(ProgressEvent.at, ProgressEvent.actor_name, ProgressEvent.kind, ProgressEvent.task_code,
                          ProgressEvent.assignment_id, ProgressEvent.rating, ProgressEvent.minutes,
                          ProgressEvent.meaning)
                   .join(Assignment, Assignment.id == ProgressEvent.assignment_id)
                   .where(Assignment.mentee_id == mentee_id, *_at_shops(shops))
                   .order_by(ProgressEvent.at.desc(), ProgressEvent.id.desc()).limit(limit)).all()
    moments = []
    for at, who, kind, code, assignment_id, rating, minutes, meaning in rows:
        extra = ""
        if kind == "signoff":
            extra = f" (rating {rating})"
        elif kind == "practice" and minutes:
            extra = f" ({minutes / 60:.1f} h)"
        elif kind == "countersign":
            extra = f" ({meaning})"
        moments.append(Moment(at, who, f"{KIND_TEXT.get(kind, kind)} {code}{extra}",
                              f"/assignments/{assignment_id}/tasks/{code}"))
    if review_ids:
        for sig, title, review_id in db.exec(
                select(ReviewSignature, Review.title, Review.id).join(Review, Review.id == ReviewSignature.review_id)
                .where(Review.id.in_(review_ids))).all():
            moments.append(Moment(sig.at, sig.signer_name, f"signed the {title} as {sig.party} ({sig.meaning})",
                                  f"/reviews/{review_id}"))
    moments.sort(key=lambda m: m.at, reverse=True)
    return moments[:limit]


@dataclass(frozen=True)
class AreaHours:
    area_code: str
    area_title: str
    minutes: int
    tasks: int


def hours_by_area(db: Session, mentee_id: int, shops: set[int] | None = None) -> list[AreaHours]:
    """Practice logged per area over all the mentee's assignments; one grouped query."""
    rows = db.exec(select(ShopTask.area_code, ShopTask.area_title, func.sum(ProgressEvent.minutes),
                          func.count(func.distinct(ProgressEvent.task_code)))
                   .join(Assignment, Assignment.id == ProgressEvent.assignment_id)
                   .join(ShopTask, (ShopTask.version_id == Assignment.version_id)
                         & (ShopTask.code == ProgressEvent.task_code))
                   .where(Assignment.mentee_id == mentee_id, ProgressEvent.kind == "practice", *_at_shops(shops))
                   .group_by(ShopTask.area_code, ShopTask.area_title)
                   .order_by(ShopTask.area_code)).all()
    return [AreaHours(code, title, int(minutes or 0), count) for code, title, minutes, count in rows]
