"""Sign-in, sign-out and the person's own account."""

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from sqlmodel import Session

from mentoring.access import apitokens
from mentoring.access.auth import LoginRefused, authenticate, confirm_password, replace_password, replace_pin
from mentoring.access.policy import Actor, home_path, load_actor
from mentoring.errors import FormError
from mentoring.people import invitations
from mentoring.people.models import Person
from mentoring.trail import audit
from web import sessions
from web.deps import (
    attempt_of,
    client_address,
    current_actor,
    remember_device,
    session_cookie_name,
    set_session_cookie,
    settings_of,
    sign_in_limits,
    tablet_cookie_name,
)
from web.render import FormData, form_error, page, see_other, submit


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: "//evil.example" would leave the site.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@get("/", sync_to_thread=True)
def index(request: Request, db: NamedDependency[Session]) -> Redirect:
    actor = current_actor(request)
    if actor:
        return Redirect(home_path(actor))
    return Redirect("/tablet" if request.cookies.get(tablet_cookie_name(settings_of(request))) else "/login")


@get("/login", sync_to_thread=True)
def login_page(request: Request, db: NamedDependency[Session], next: FromQuery[str | None] = None) -> Response:
    actor = current_actor(request)
    if actor:
        return Redirect(_safe_next(next) or home_path(actor))
    return page("auth/login.html", form={"next": next or ""}, errors={})


@post("/login", sync_to_thread=True)
def login(request: Request, db: NamedDependency[Session], data: FormData) -> Response:
    settings = settings_of(request)
    email = str(data.get("email", ""))
    try:
        person = authenticate(db, email, str(data.get("password", "")), limits=sign_in_limits(settings),
                              attempt=attempt_of(request, email))
    except LoginRefused as refused:  # a wrong password is already counted (mentoring/access/lockout.py)
        return _refused("auth/login.html", refused, data)
    cookie = session_cookie_name(settings)
    sessions.end(db, request.cookies.get(cookie))  # a new session id at every sign-in
    token = sessions.start(db, person, ip=client_address(request), user_agent=request.headers.get("user-agent", ""))
    actor = load_actor(db, person, client_address(request))
    audit.record(db, actor, "session.login", person)
    db.commit()
    response = see_other(_safe_next(data.get("next")) or home_path(actor))
    set_session_cookie(response, settings, token)
    remember_device(request, response, person.email)
    return response


def _refused(template: str, refused: LoginRefused, data, field: str = "", **context) -> Response:
    response = form_error(template, FormError({field: refused.message}), data, **context)
    if refused.retry_after:
        response.status_code = 429
        response.headers["Retry-After"] = str(refused.retry_after)
    return response


def _confirm_current_password(request: Request, db: Session, actor: Actor, person: Person, data
                              ) -> Response | None:
    """The answer to send when the current password is refused (wrong, or locked), else None."""
    context = {"person": person, **_account(db, actor)}
    try:
        confirm_password(db, person, str(data.get("current_password", "")),
                         limits=sign_in_limits(settings_of(request)), attempt=attempt_of(request, person.email))
    except LoginRefused as refused:
        return _refused("auth/account.html", refused, data, "current_password", **context)
    except FormError as e:  # already counted, like a wrong password at sign-in
        return form_error("auth/account.html", e, data, **context)
    return None


@post("/logout", sync_to_thread=True)
def logout(request: Request, db: NamedDependency[Session]) -> Response:
    cookie = session_cookie_name(settings_of(request))
    sessions.end(db, request.cookies.get(cookie))
    db.commit()
    response = see_other("/login")
    response.delete_cookie(cookie, path="/")
    return response


def _account(db: Session, actor: Actor) -> dict:
    return {"invitations": invitations.pending_for(db, actor.person_id),
            "tokens": apitokens.tokens_of_person(db, actor.person_id)}


@get("/account", sync_to_thread=True)
def account_page(db: NamedDependency[Session], actor: NamedDependency[Actor]) -> Response:
    return page("auth/account.html", person=db.get(Person, actor.person_id), errors={}, form={},
                **_account(db, actor))


# --- invitations to organizations ---------------------------------------------------

@get("/invitations", sync_to_thread=True)
def invitations_page(db: NamedDependency[Session], actor: NamedDependency[Actor]) -> Response:
    return page("auth/invitations.html", rows=invitations.pending_for(db, actor.person_id), errors={})


def _answer(db: Session, actor: Actor, invitation_id: int, answer) -> Response:
    invitation = invitations.get_for_invitee(db, actor, invitation_id)
    return submit(db, lambda: answer(db, actor, invitation), done="/invitations?answered=1",
                  failed=lambda e: page("auth/invitations.html", status_code=409, errors=e.errors,
                                        rows=invitations.pending_for(db, actor.person_id)))


@post("/invitations/{invitation_id:int}/accept", sync_to_thread=True)
def invitation_accept(db: NamedDependency[Session], actor: NamedDependency[Actor],
                      invitation_id: FromPath[int]) -> Response:
    return _answer(db, actor, invitation_id, invitations.accept)


@post("/invitations/{invitation_id:int}/decline", sync_to_thread=True)
def invitation_decline(db: NamedDependency[Session], actor: NamedDependency[Actor],
                       invitation_id: FromPath[int]) -> Response:
    return _answer(db, actor, invitation_id, invitations.decline)


@post("/account/password", sync_to_thread=True)
def change_password(request: Request, db: NamedDependency[Session], actor: NamedDependency[Actor],
                    data: FormData) -> Response:
    person = db.get(Person, actor.person_id)
    refused = _confirm_current_password(request, db, actor, person, data)
    if refused:
        return refused

    def act() -> str:
        if data.get("password") != data.get("password_again"):
            raise FormError({"password_again": "The two new passwords differ."})
        replace_password(db, person, str(data.get("password", "")))
        # Other browsers signed in with the old password are signed out.
        sessions.end_all_for(db, person.id)
        audit.record(db, actor, "person.password", person)
        return sessions.start(db, person, ip=actor.ip, user_agent=request.headers.get("user-agent", ""))

    def signed_in_again(token: str) -> Response:
        response = see_other("/account?saved=password")
        set_session_cookie(response, settings_of(request), token)
        return response

    return submit(db, act, done=signed_in_again, failed=_account_form(db, actor, person, data))


@post("/account/pin", sync_to_thread=True)
def change_pin(request: Request, db: NamedDependency[Session], actor: NamedDependency[Actor],
               data: FormData) -> Response:
    person = db.get(Person, actor.person_id)
    refused = _confirm_current_password(request, db, actor, person, data)
    if refused:
        return refused

    def act() -> None:
        replace_pin(db, person, str(data.get("pin", "")))
        audit.record(db, actor, "person.pin", person)

    return submit(db, act, done="/account?saved=pin", failed=_account_form(db, actor, person, data))


def _account_form(db: Session, actor: Actor, person: Person, data):
    """`failed` for the forms on the account page."""
    return lambda e: form_error("auth/account.html", e, data, person=person, **_account(db, actor))


# --- the emailed link that lets an invited person choose their password ---------------------------

def _welcome_page(db: Session, invitation, *, errors: dict, status_code: int = 200) -> Response:
    from mentoring.people.models import Organization
    return page("auth/welcome.html", status_code=status_code, invitation=invitation,
                person=db.get(Person, invitation.person_id), org=db.get(Organization, invitation.organization_id),
                errors=errors, form={})


@get("/welcome/{token:str}", sync_to_thread=True)
def welcome_page(db: NamedDependency[Session], token: FromPath[str]) -> Response:
    return _welcome_page(db, invitations.by_link(db, token), errors={})


@post("/welcome/{token:str}", sync_to_thread=True)
def welcome_set_password(db: NamedDependency[Session], token: FromPath[str], data: FormData) -> Response:
    """Anyone holding the link (a 256-bit secret, sent only to the invited email) sets the password once."""
    invitation = invitations.by_link(db, token)
    return submit(db, lambda: invitations.accept_with_password(db, invitation, str(data.get("password", "")),
                                                               str(data.get("password_again", ""))),
                  done="/login?done=password-set",
                  failed=lambda e: _welcome_page(db, invitation, errors=e.errors, status_code=400))


HANDLERS = [welcome_page, welcome_set_password, index, login_page, login, logout, account_page, change_password,
            change_pin, invitations_page, invitation_accept, invitation_decline]
