"""Request-scoped dependencies: the database session and the signed-in actor."""

from collections.abc import AsyncIterator
from datetime import timedelta

from litestar import Request
from litestar.concurrency import sync_to_thread
from litestar.exceptions import NotAuthorizedException
from sqlalchemy import event
from sqlmodel import Session

from mentoring.access import tablets, throttle
from mentoring.access.auth import Attempt, SignInLimits
from mentoring.access.policy import Actor, load_actor
from mentoring.access.throttle import Limits
from web import sessions
from web.db import Database
from web.settings import Settings

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
TABLET_COOKIE = "mentoring_tablet"  # the tablet cookie's name over plain http


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def database_of(request: Request) -> Database:
    return request.app.state.database


def is_https(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


# The __Host- prefix pins a cookie to this host and path (no subdomain can set or read it), but
# browsers accept it only with Secure, which needs HTTPS; plain-http installs use the bare names.
def session_cookie_name(settings: Settings) -> str:
    return "__Host-mentoring" if is_https(settings) else "mentoring_session"


def tablet_cookie_name(settings: Settings) -> str:
    return "__Host-mentoring_tablet" if is_https(settings) else TABLET_COOKIE


def csrf_cookie_name(settings: Settings) -> str:
    return "__Host-csrftoken" if is_https(settings) else "csrftoken"


def device_cookie_name(settings: Settings) -> str:
    return "__Host-mentoring_device" if is_https(settings) else "mentoring_device"


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def pin_limits(settings: Settings) -> Limits:
    return Limits(settings.login_lock_after, settings.login_lock_max_minutes)


def sign_in_limits(settings: Settings) -> SignInLimits:
    return SignInLimits(account=pin_limits(settings),
                        address=Limits(settings.login_address_lock_after, settings.login_lock_max_minutes))


def attempt_of(request: Request, email: str) -> Attempt:
    """A password attempt from this request: its address and, for a browser trusted for this email, the
    id in its device cookie."""
    settings = settings_of(request)
    nonce = throttle.device_nonce(settings.secret_key, email, request.cookies.get(device_cookie_name(settings)))
    return Attempt(address=client_address(request), device=nonce)


def remember_device(request: Request, response, email: str) -> None:
    """After a successful sign-in: this browser is trusted for this account (see mentoring/access/throttle.py)."""
    settings = settings_of(request)
    name = device_cookie_name(settings)
    value = throttle.remember_device(settings.secret_key, email, request.cookies.get(name))
    response.set_cookie(name, value, httponly=True, samesite="lax", path="/", secure=name.startswith("__Host-"),
                        max_age=throttle.DEVICE_DAYS * 86400)


def set_session_cookie(response, settings: Settings, token: str) -> None:
    name = session_cookie_name(settings)
    response.set_cookie(name, token, httponly=True, samesite="lax", path="/", secure=name.startswith("__Host-"),
                        max_age=settings.session_max_hours * 3600)


async def provide_db(request: Request) -> AsyncIterator[Session]:
    """One session per request. Writers start with the write lock on SQLite; handlers commit.

    Async only so that closing it (a rollback if the handler did not commit) runs on the event loop and
    never waits for a worker thread: those may all be queued for the write lock this session holds."""
    with database_of(request).session(write=request.method not in SAFE_METHODS) as db:
        db.info["request_state"] = request.state
        yield db


@event.listens_for(Session, "before_commit")
def _touch_with_the_write(db: Session) -> None:
    """A write request's session clock moves in the request's own transaction, not in one of its own."""
    state = db.info.get("request_state")
    session_id = state.pop("touch_session", None) if state is not None else None
    if session_id:
        sessions.touch(db, session_id)


def current_actor(request: Request) -> Actor | None:
    """The signed-in person, read in a short session of its own.

    It must not start the request's transaction: on SQLite that takes the write lock, and a lock taken in
    one worker thread but released only after the handler ran in another can deadlock a small thread pool."""
    settings, database = settings_of(request), database_of(request)
    with database.session() as db:
        found = sessions.lookup(
            db, request.cookies.get(session_cookie_name(settings)),
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_max_hours),
        )
        if found is None:
            return None
        session, person, device = found
        if session.tablet_id is not None:
            # A turn on a shop tablet: only on that tablet, and only until a minute passes without a tap.
            if (not tablets.holds(device, request.cookies.get(tablet_cookie_name(settings)))
                    or sessions.idle_for(session) > tablets.IDLE_SECONDS):
                return None
            request.state.tablet_name = device.name
            request.state.signing_window = sessions.window_of_session(session)
        actor = load_actor(db, person, request.client.host if request.client else "")
    # Tablet turns time out after a minute, so their clock is kept to within a few seconds.
    if sessions.needs_touch(session) or (session.tablet_id is not None and sessions.idle_for(session) > 5):
        if request.method in SAFE_METHODS:
            with database.transaction() as writer:
                sessions.touch(writer, session.id)
        else:  # the request writes anyway: see _touch_with_the_write
            request.state.touch_session = session.id
    return actor


def note_viewer(request: Request) -> None:
    """On a public page, a signed-in visitor keeps the menu (base.html reads request.state.actor)."""
    actor = current_actor(request)
    if actor is not None:
        request.state.actor = actor


async def show_menu(request: Request) -> None:
    """before_request of public pages: see note_viewer."""
    await sync_to_thread(note_viewer, request)


def provide_actor(request: Request) -> Actor:
    actor = current_actor(request)
    if actor is None:
        raise NotAuthorizedException("Sign in to continue.")
    request.state.actor = actor  # for the navigation in base.html
    return actor
