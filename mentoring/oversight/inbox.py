"""What waits for a person: tasks ready for their signature, reviews to sign, pay steps due."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlmodel import Session, select

from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.oversight import dashboard, flags, reviews
from mentoring.oversight.models import Review
from mentoring.people import invitations
from mentoring.people.models import Organization, Person, Triad
from mentoring.progress import board, hours
from mentoring.words import plural

REVIEW_NOTICE_DAYS = 7  # a review shows up this many days before it is due


@dataclass(frozen=True)
class Item:
    kind: str  # invitation | ready | review | pay | hours
    text: str
    link: str
    urgent: bool = False


def items_for(db: Session, actor: Actor, *, now: datetime | None = None, for_email: bool = False) -> list[Item]:
    now = now or flags.utcnow()
    items: list[Item] = []
    if actor.person_id is not None:
        for row in invitations.pending_for(db, actor.person_id):
            items.append(Item("invitation", f"{row.organization.name} invites you to join as "
                                            f"{row.invitation.role}: accept or decline", "/invitations", True))
    if actor.has_role("mentor"):
        for card in board.mentor_cards(db, actor):
            if card.ready and card.own:  # the mentee's own mentor is asked; others may sign, not nagged
                items.append(Item("ready", f"{card.mentee.full_name}: {plural(card.ready, 'task')} ready for sign-off",
                                  f"/assignments/{card.assignment.id}?status=ready"))
    items += _reviews(db, actor, now)
    items += _hours(db, actor, now)
    pay_shops = {s for s in actor.orgs_where("admin", "manager") if policy.can_see_pay_plan(actor, s)}
    if pay_shops:
        for row in dashboard.build(db, actor, pay_shops, now=now).rows:
            for step in row.steps_due:
                # Email leaves the system: it says that a step is due, never what the step is.
                what = "a pay step is due" if for_email else f"pay step due: {step.step.title} ({step.raise_text})"
                items.append(Item("pay", f"{row.row.mentee.full_name}: {what}", f"/mentees/{row.row.mentee.id}#pay",
                                  True))
    return items


def _hours(db: Session, actor: Actor, now: datetime) -> list[Item]:
    """OJL hours: entries waiting for the mentor's approval; the apprentice's last full week left empty."""
    items = [Item("hours", f"{w.mentee_name}: {plural(w.count, 'hours entry', 'hours entries')} waiting for your "
                           "approval", f"/triads/{w.triad_id}/hours?week={hours.week_start(w.oldest).isoformat()}")
             for w in hours.waiting_for(db, actor)]
    items += [Item("hours", f"No hours logged for the week of {week:%Y-%m-%d}: log them, or tell your mentor why",
                   f"/triads/{triad_id}/hours?week={week.isoformat()}", True)
              for triad_id, week in hours.missing_weeks(db, actor, now=now)]
    return items


def _reviews(db: Session, actor: Actor, now: datetime) -> list[Item]:
    """Reviews of the actor's own triads that still need their signature and are due soon or overdue.
    (Other managers of the shop may sign for the manager, but only the triad's manager is reminded.)"""
    triads = db.exec(select(Triad).where(Triad.ended_at.is_(None), or_(
        Triad.mentee_id == actor.person_id, Triad.mentor_id == actor.person_id,
        Triad.manager_id == actor.person_id))).all()
    if not triads:
        return []
    by_id = {t.id: t for t in triads}
    tz = dict(db.exec(select(Organization.id, Organization.timezone)
                      .where(Organization.id.in_({t.shop_id for t in triads}))).all())
    names = dict(db.exec(select(Person.id, Person.full_name).where(Person.id.in_({t.mentee_id for t in triads}))).all())
    items = []
    for view in reviews.reviews_where(db, Review.triad_id.in_(list(by_id))):
        triad = by_id[view.review.triad_id]
        party = reviews.party_of(actor, triad)
        today = flags.today_in(tz[triad.shop_id], now)
        if party is None or party in view.signatures or view.review.due_on > today + timedelta(REVIEW_NOTICE_DAYS):
            continue
        overdue = view.overdue(today)
        when = "overdue since" if overdue else "due"
        items.append(Item("review", f"{names[triad.mentee_id]}: {view.review.title}, {when} "
                                    f"{view.review.due_on:%Y-%m-%d}; your signature as {party}",
                          f"/reviews/{view.review.id}", overdue))
    return items
