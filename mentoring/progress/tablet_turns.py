"""A mentor's turn on a shop tablet: the shop's multi-sign window and the confirmation after a signature.

The rule (21 CFR Part 11 as a benchmark): within one continuous session the first signing needs two
identification components, later ones at least one. A tablet turn starts with two: the tablet itself (enrolled
by a manager) plus the mentor's name and PIN. With the shop's window off, every signature ends the turn, so each
one is made with both. With it on, the turn's first signature opens a short window in which the same mentor,
in the same continuous turn, signs more tasks of the same mentee without the PIN: later signings of one session,
which keep the signer's own turn (opened with the PIN) as their component. The window never moves to another
mentee, is not extended by the signatures in it, and ends with "Done", a minute without a tap, or its minutes.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from mentoring import clock
from mentoring.access.models import TabletDevice
from mentoring.errors import FormError
from mentoring.people.models import Organization, Person
from mentoring.progress.models import Assignment, ProgressEvent
from tasklists.models import ShopTask

WINDOW_MINUTES = range(2, 11)  # what a shop may choose
CONFIRMATION_SECONDS = 120  # the shop screen shows a signature this long after it was made on that tablet


@dataclass(frozen=True)
class SigningWindow:
    """Kept with the turn: until when this turn signs this mentee's tasks without the PIN."""

    mentee_id: int
    until: datetime


def check_window(shop: Organization, mentee_id: int, window: SigningWindow) -> None:
    """Refuse a PIN-free signature outside the window: option off, window over, or another mentee."""
    if not shop.tablet_window:
        raise FormError({"": f"{shop.name} asks for the PIN with every signature. Tap Done, then your name "
                             "and PIN."})
    if clock.utcnow() > window.until:
        raise FormError({"": "Your minutes for signing without the PIN are over. Tap Done, then your name and "
                             "PIN to sign again."})
    if mentee_id != window.mentee_id:
        raise FormError({"": "Without the PIN you can sign only for the mentee you just signed for. Tap Done, "
                             "then your name and PIN to sign for someone else."})


def window_after(db: Session, event: ProgressEvent, window: SigningWindow | None) -> SigningWindow | None:
    """What the turn keeps after a tablet signature: the open window, a new one, or None (the turn ends)."""
    assignment = db.get(Assignment, event.assignment_id)
    shop = db.get(Organization, assignment.shop_id)
    if not shop.tablet_window:
        return None
    if window is not None:  # signatures within the window do not extend it
        return window
    return SigningWindow(assignment.mentee_id, event.at + timedelta(minutes=shop.tablet_window_minutes))


@dataclass(frozen=True)
class Confirmation:
    signer: str
    code: str
    statement: str
    mentee: str
    rating: int
    at: datetime
    in_window: bool
    timezone: str


def confirmation(db: Session, device: TabletDevice, event_id: int) -> Confirmation | None:
    """A signature just made on this tablet, for the shop screen; None for anything else or anything older.

    The shop screen needs no sign-in, so it shows only what was signed at this tablet in the last minutes:
    what anyone standing at it could have watched."""
    row = db.exec(select(ProgressEvent, Assignment, Person, ShopTask, Organization)
                  .join(Assignment, Assignment.id == ProgressEvent.assignment_id)
                  .join(Person, Person.id == Assignment.mentee_id)
                  .join(Organization, Organization.id == Assignment.shop_id)
                  .join(ShopTask, (ShopTask.version_id == Assignment.version_id)
                        & (ShopTask.code == ProgressEvent.task_code))
                  .where(ProgressEvent.id == event_id, ProgressEvent.kind == "signoff",
                         Assignment.shop_id == device.shop_id)).first()
    if row is None:
        return None
    event, _, mentee, task, shop = row
    if event.device != f"shop tablet: {device.name}" or clock.utcnow() - event.at > timedelta(
            seconds=CONFIRMATION_SECONDS):
        return None
    return Confirmation(event.actor_name, task.code, task.statement, mentee.full_name, event.rating, event.at,
                        event.in_window, shop.timezone)
