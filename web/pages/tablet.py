"""Shop tablet mode: the shop screen, a mentor's PIN, and enrolling or revoking tablets."""

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.utils.scope.state import ScopeState
from sqlmodel import Session

from mentoring.access import policy, tablets
from mentoring.access.auth import LoginRefused
from mentoring.access.models import TabletDevice
from mentoring.access.policy import Actor
from mentoring.errors import FormError, NotFound
from mentoring.people.models import Person
from mentoring.progress import signoffs, tablet_offline, tablet_turns
from web import sessions
from web.deps import database_of, pin_limits, session_cookie_name, set_session_cookie, settings_of, tablet_cookie_name
from web.render import FormData, page, see_other, submit

Db = NamedDependency[Session]
Me = NamedDependency[Actor]
DEVICE_COOKIE_DAYS = 365
NO_STORE = {"Cache-Control": "no-store"}


def _device(request: Request, db: Session) -> TabletDevice:
    device = tablets.device_for(db, request.cookies.get(tablet_cookie_name(settings_of(request))))
    if device is None:
        raise NotFound
    return device


@get("/tablet", sync_to_thread=True)
def shop_screen(request: Request, db: Db, signed: FromQuery[str] = "") -> Response:
    device = tablets.device_for(db, request.cookies.get(tablet_cookie_name(settings_of(request))))
    if device is None:
        return page("tablet/not_enrolled.html", status_code=404)
    shown = signed.isascii() and signed.isdigit() and len(signed) < 12
    just_signed = tablet_turns.confirmation(db, device, int(signed)) if shown else None
    return page("tablet/shop.html", device=device, mentors=tablets.mentors_at(db, device.shop_id),
                just_signed=just_signed, ratings=signoffs.RATINGS)


@get("/tablet/mentors/{person_id:int}", sync_to_thread=True)
def pin_page(request: Request, db: Db, person_id: FromPath[int]) -> Response:
    device = _device(request, db)
    mentor = db.get(Person, person_id)
    if mentor is None or mentor not in tablets.mentors_at(db, device.shop_id):
        raise NotFound
    return page("tablet/pin.html", device=device, mentor=mentor, errors={})


@post("/tablet/mentors/{person_id:int}", sync_to_thread=True)
def unlock(request: Request, db: Db, person_id: FromPath[int], data: FormData) -> Response:
    device = _device(request, db)
    settings = settings_of(request)
    try:
        mentor = tablets.unlock(db, device, person_id, str(data.get("pin", "")), limits=pin_limits(settings),
                                secret=settings.secret_key, iterations=settings.offline_pin_iterations)
    except LoginRefused as refused:  # a wrong PIN is already counted (mentoring/access/lockout.py)
        response = page("tablet/pin.html", status_code=429 if refused.retry_after else 400, device=device,
                        mentor=db.get(Person, person_id), errors={"pin": refused.message})
        if refused.retry_after:
            response.headers["Retry-After"] = str(refused.retry_after)
        return response
    cookie = session_cookie_name(settings)
    sessions.end(db, request.cookies.get(cookie))
    token = sessions.start(db, mentor, ip=request.client.host if request.client else "",
                           user_agent=request.headers.get("user-agent", ""), tablet_id=device.id)
    db.commit()
    response = see_other("/mentor")
    set_session_cookie(response, settings, token)
    return response


@post("/tablet/done", sync_to_thread=True)
def done(request: Request, db: Db) -> Response:
    """The mentor hands the tablet back: end their turn."""
    cookie = session_cookie_name(settings_of(request))
    sessions.end(db, request.cookies.get(cookie))
    db.commit()
    response = see_other("/tablet")
    response.delete_cookie(cookie, path="/")
    return response


@get("/tablet/offline/snapshot", sync_to_thread=True)
def offline_snapshot(request: Request, db: Db, queued: FromQuery[str] = "") -> Response:
    """The tablet's copy for signing offline (mentoring/progress/tablet_offline.py); the tablet cookie only."""
    device = tablets.device_for(db, request.cookies.get(tablet_cookie_name(settings_of(request))))
    if device is None:
        return Response({"status": "not_enrolled", "detail": "This browser is not an enrolled shop tablet, or "
                         "its enrollment was revoked."}, status_code=404, headers=NO_STORE)
    try:
        with database_of(request).transaction() as writer:  # a GET: its own short write (see current_actor)
            tablets.seen(writer, writer.get(TabletDevice, device.id), queued)
    except FormError as e:
        return Response({"status": "invalid", "detail": str(e), "errors": e.errors}, status_code=400,
                        headers=NO_STORE)
    body = tablet_offline.snapshot(db, device, secret=settings_of(request).secret_key,
                                   csrf_token=ScopeState.from_scope(request.scope).csrf_token or "")
    return Response(body, headers=NO_STORE)


# --- managers enroll and revoke tablets -----------------------------------------------------------

@get("/shops/{shop_id:int}/tablets", sync_to_thread=True)
def tablets_page(db: Db, actor: Me, shop_id: FromPath[int]) -> Response:
    shop = policy.get_shop_for_manager(db, actor, shop_id)
    return page("tablet/manage.html", shop=shop, devices=tablets.tablets_at(db, shop.id), errors={}, form={})


@post("/shops/{shop_id:int}/tablets", sync_to_thread=True)
def enroll(request: Request, db: Db, actor: Me, shop_id: FromPath[int], data: FormData) -> Response:
    """Enroll the browser this is sent from as a shop tablet, and sign the manager out of it."""
    shop = policy.get_shop_for_manager(db, actor, shop_id)
    cookie = session_cookie_name(settings_of(request))

    def act() -> str:
        _, token = tablets.enroll(db, actor, shop, str(data.get("name", "")))
        sessions.end(db, request.cookies.get(cookie))
        return token

    def enrolled(token: str) -> Response:
        response = see_other("/tablet")
        response.set_cookie(tablet_cookie_name(settings_of(request)), token, httponly=True, samesite="lax",
                            path="/", secure=cookie.startswith("__Host-"), max_age=DEVICE_COOKIE_DAYS * 86400)
        response.delete_cookie(cookie, path="/")
        return response

    return submit(db, act, done=enrolled, failed=lambda e: page(
        "tablet/manage.html", status_code=400, shop=shop, devices=tablets.tablets_at(db, shop.id), errors=e.errors,
        form=data))


@post("/tablets/{device_id:int}/revoke", sync_to_thread=True)
def revoke(db: Db, actor: Me, device_id: FromPath[int], data: FormData) -> Response:
    """Revoke a tablet; one that last reported unsent signatures asks first (they would be refused)."""
    device = db.get(TabletDevice, device_id)
    if device is None:
        raise NotFound
    shop = policy.get_shop_for_manager(db, actor, device.shop_id)
    if tablets.revoke_warning(device) and data.get("confirm") != "yes":
        return page("tablet/revoke_confirm.html", device=device, shop=shop)
    tablets.revoke(db, actor, device)
    db.commit()
    return see_other(f"/shops/{device.shop_id}/tablets")


HANDLERS = [shop_screen, pin_page, unlock, done, offline_snapshot, tablets_page, enroll, revoke]
