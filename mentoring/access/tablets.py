"""Shared shop tablets: enrolled by a manager, used by mentors who tap their name and enter their PIN."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_
from sqlmodel import Session, select

from mentoring.access import auth, offline, policy
from mentoring.access.auth import LoginRefused
from mentoring.access.models import TabletDevice
from mentoring.access.policy import Actor
from mentoring.access.throttle import Limits
from mentoring.clock import utcnow
from mentoring.errors import FormError, NotFound
from mentoring.people.models import Organization, Person
from mentoring.trail import audit

IDLE_SECONDS = 60  # a tablet returns to the shop screen after a minute without a tap


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def enroll(db: Session, actor: Actor, shop: Organization, name: str) -> tuple[TabletDevice, str]:
    """Return the device and the token for its cookie (256 random bits; only the hash is stored)."""
    name = " ".join((name or "").split())
    if not name or len(name) > 60:
        raise FormError({"name": "Name the tablet, e.g. 'Bay 3' (up to 60 characters)."})
    token = secrets.token_urlsafe(32)
    device = TabletDevice(shop_id=shop.id, name=name, token_hash=_digest(token), enrolled_by_id=actor.person_id)
    db.add(device)
    db.flush()
    audit.record(db, actor, "tablet.enroll", device, org_id=shop.id, name=name)
    return device, token


def revoke(db: Session, actor: Actor, device: TabletDevice) -> None:
    device.revoked_at = utcnow()
    db.add(device)
    offline.forget(db, device_id=device.id)
    audit.record(db, actor, "tablet.revoke", device, org_id=device.shop_id)


MAX_QUEUED = 100_000  # a count beyond this is not a tablet's report


def seen(db: Session, device: TabletDevice, queued: str | int | None = None) -> None:
    """The tablet fetched its offline copy (or synced): when, and how many signatures it says it holds unsent.
    Without a count, the last one reported stands."""
    device.last_seen_at = utcnow()
    if queued is not None and queued != "":
        text = str(queued).strip()
        if not (text.isascii() and text.isdigit() and int(text) <= MAX_QUEUED):
            raise FormError({"queued": f"queued is a count of unsent signatures, 0 to {MAX_QUEUED}."})
        device.queued_count = int(text)
    db.add(device)


def device_for(db: Session, token: str | None) -> TabletDevice | None:
    if not token:
        return None
    device = db.exec(select(TabletDevice).where(TabletDevice.token_hash == _digest(token))).first()
    return device if device and device.revoked_at is None else None


def holds(device: TabletDevice | None, token: str | None) -> bool:
    """Whether the tablet cookie's token belongs to this (enrolled, not revoked) device."""
    return bool(device and token and device.revoked_at is None
                and hmac.compare_digest(device.token_hash, _digest(token)))


STALE_AFTER = timedelta(days=1)  # a tablet not seen for this long is shown on the manager's dashboard


@dataclass(frozen=True)
class TabletCheck:
    """A shop tablet a manager should look at: not seen for a day, or holding signatures it has not sent."""

    device: TabletDevice
    shop: Organization
    stale: bool
    unsent: int


def needing_attention(db: Session, shop_ids: set[int], *, now: datetime | None = None) -> list[TabletCheck]:
    """The shops' enrolled tablets that have not fetched their offline copy (or synced) for a day (or since
    they were enrolled, a day ago or more), or that last reported unsent signatures; one query."""
    if not shop_ids:
        return []
    cutoff = (now or utcnow()) - STALE_AFTER
    rows = db.exec(select(TabletDevice, Organization).join(Organization, Organization.id == TabletDevice.shop_id)
                   .where(TabletDevice.shop_id.in_(sorted(shop_ids)), TabletDevice.revoked_at.is_(None),
                          or_(TabletDevice.queued_count > 0,
                              func.coalesce(TabletDevice.last_seen_at, TabletDevice.enrolled_at) < cutoff))
                   .order_by(Organization.name, TabletDevice.name)).all()
    return [TabletCheck(device, shop, (device.last_seen_at or device.enrolled_at) < cutoff, device.queued_count)
            for device, shop in rows]


def revoke_warning(device: TabletDevice) -> bool:
    """Whether revoking asks first: the tablet last said it holds signatures not yet sent, which sync would
    refuse once it is revoked."""
    return device.revoked_at is None and device.queued_count > 0


def tablets_at(db: Session, shop_id: int) -> list[TabletDevice]:
    return list(db.exec(select(TabletDevice).where(TabletDevice.shop_id == shop_id)
                        .order_by(TabletDevice.enrolled_at)).all())


def mentors_at(db: Session, shop_id: int) -> list[Person]:
    return [p for p in policy.people_with_role(db, shop_id, "mentor") if p.is_active]


def unlock(db: Session, device: TabletDevice, person_id: int, pin: str, *, limits: Limits, secret: str = "",
           iterations: int = offline.DEFAULT_ITERATIONS) -> Person:
    """Second factor on the tablet: the mentor's PIN, under the lockout (raises LoginRefused). With the app
    secret, the right PIN also gives the pair its offline verifier when it has none (mentoring/access/offline.py)."""
    person = db.get(Person, person_id)
    if person is None or person not in mentors_at(db, device.shop_id):
        raise NotFound
    if not auth.try_pin(db, person, pin, limits=limits):
        raise LoginRefused("That PIN is not right.")
    if secret:
        offline.ensure(db, device, person.id, pin, secret=secret, iterations=iterations)
    return person
