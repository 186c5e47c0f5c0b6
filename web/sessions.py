"""Server-side sessions: any process can serve any request, and logout ends the session everywhere."""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, delete, update
from sqlmodel import Session, select

from mentoring.access.models import TabletDevice
from mentoring.clock import utcnow
from mentoring.people.models import Person
from mentoring.progress.tablet_turns import SigningWindow
from web.models import WebSession

TOUCH_EVERY = timedelta(seconds=60)  # write last_seen at most once a minute


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(db: Session, person: Person, *, ip: str, user_agent: str, tablet_id: int | None = None) -> str:
    """Create a session and return the token for the cookie (256 random bits)."""
    token = secrets.token_urlsafe(32)
    db.add(WebSession(id=_digest(token), person_id=person.id, ip=ip[:64], user_agent=user_agent[:300],
                      tablet_id=tablet_id))
    return token


def idle_for(session: WebSession) -> float:
    return (utcnow() - session.last_seen_at).total_seconds()


# No session object needs updating after these (synchronize_session=False), which saves the ORM a search.
_END = delete(WebSession).where(WebSession.id == bindparam("session_id")).execution_options(synchronize_session=False)
_TOUCH = (update(WebSession).where(WebSession.id == bindparam("session_id"))
          .values(last_seen_at=bindparam("now")).execution_options(synchronize_session=False))


def end(db: Session, token: str | None) -> None:
    if token:
        db.exec(_END, params={"session_id": _digest(token)})


def window_of(db: Session, token: str | None) -> SigningWindow | None:
    """The multi-sign window of this tablet turn, if its first signature opened one."""
    return window_of_session(db.get(WebSession, _digest(token))) if token else None


def window_of_session(session: WebSession | None) -> SigningWindow | None:
    if session is None or session.window_mentee_id is None:
        return None
    return SigningWindow(session.window_mentee_id, session.window_until)


def keep_window(db: Session, token: str, window: SigningWindow) -> None:
    db.exec(update(WebSession).where(WebSession.id == _digest(token))
            .values(window_mentee_id=window.mentee_id, window_until=window.until)
            .execution_options(synchronize_session=False))


def end_all_for(db: Session, person_id: int) -> None:
    db.exec(delete(WebSession).where(WebSession.person_id == person_id))


# Every request runs this, and composing a statement costs about as much as running it: built once.
_LIVE = (select(WebSession, Person, TabletDevice).join(Person, Person.id == WebSession.person_id)
         .outerjoin(TabletDevice, TabletDevice.id == WebSession.tablet_id)
         .where(WebSession.id == bindparam("session_id")))


def lookup(db: Session, token: str | None, *, idle: timedelta, absolute: timedelta
           ) -> tuple[WebSession, Person, TabletDevice | None] | None:
    """The live session, its person and, for a turn on a shop tablet, that tablet (in one query);
    None when missing, expired or the person is inactive."""
    if not token:
        return None
    row = db.exec(_LIVE, params={"session_id": _digest(token)}).first()
    if row is None:
        return None
    session, person, device = row
    now = utcnow()
    if not person.is_active or now - session.last_seen_at > idle or now - session.created_at > absolute:
        return None
    return session, person, device


def needs_touch(session: WebSession) -> bool:
    return utcnow() - session.last_seen_at > TOUCH_EVERY


def touch(db: Session, session_id: str) -> None:
    db.exec(_TOUCH, params={"session_id": session_id, "now": utcnow()})


def purge_expired(db: Session, *, idle: timedelta, absolute: timedelta) -> int:
    now = utcnow()
    result = db.exec(delete(WebSession).where(
        (WebSession.last_seen_at < now - idle) | (WebSession.created_at < now - absolute)))
    return result.rowcount or 0
