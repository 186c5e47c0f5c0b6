"""The versioned JSON API, /api/v1, and the admin pages that issue its tokens.

Programs authenticate with `Authorization: Bearer mtk_…`; a token acts with its person's roles in the
token's organization only. Without a token the signed-in cookie session is used, so HTMX can call the same
endpoints; a cookie-authenticated write must then carry the CSRF token in `x-csrftoken`.
Errors answer {"status_code", "detail", "errors"?}.
"""

import base64
import secrets
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Literal

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException, ValidationException
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody
from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints
from sqlmodel import Session, select

from mentoring.access import apitokens, policy
from mentoring.access.models import ApiToken
from mentoring.access.policy import Actor
from mentoring.access.throttle import Limits
from mentoring.errors import FormError
from mentoring.people import roster
from mentoring.people.models import Organization, Person
from mentoring.progress import board, evidence, signoffs
from mentoring.progress.models import Assignment, ProgressEvent
from tasklists.models import ShopTaskList, ShopTaskListVersion
from web.apidoc import SECURITY, errors
from web.deps import SAFE_METHODS, csrf_cookie_name, current_actor, database_of, pin_limits, settings_of
from web.render import FormData, page, see_other, submit

Db = NamedDependency[Session]
Me = NamedDependency[Actor]

DEVICE = "api"
PHOTO_BASE64_CHARS = -(-evidence.MAX_PHOTO_BYTES // 3) * 4
# A photo travels base64 inside the JSON: 4/3 of its size, plus the rest of the event.
EVENT_BODY_BYTES = PHOTO_BASE64_CHARS + 64 * 1024
TAGS = ["API v1"]


# --- authentication -------------------------------------------------------------------------

def _bearer(request: Request) -> str | None:
    """The raw token of an `Authorization: Bearer …` header; None when there is no such header."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _unauthorized(detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail, headers={"WWW-Authenticate": 'Bearer realm="api"'})


def api_actor(request: Request, db: Session) -> Actor:
    """The actor of a Bearer token, else of the session cookie; 401 when neither is valid."""
    raw = _bearer(request)
    if raw is None:
        actor = current_actor(request)
        if actor is None:
            raise _unauthorized("Send an API token (Authorization: Bearer mtk_…) or sign in.")
        return actor
    ip = request.client.host if request.client else ""
    if request.method in SAFE_METHODS:
        # Readers hold no write lock: record the token's use in a short transaction of its own.
        token = apitokens.find_token(db, raw)
        actor = apitokens.actor_of(db, token, ip) if token else None
        if actor is not None and apitokens.needs_touch(token):
            with database_of(request).transaction() as writer:
                apitokens.touch(writer, token.id)
    else:
        actor = apitokens.actor_for_token(db, raw, ip)  # use recorded with the change
    if actor is None:
        raise _unauthorized("That API token is unknown or revoked.")
    return actor


def _issued_here(token: str, secret: str) -> str | None:
    """The random part of a CSRF token this server signed (Litestar's form: 64 hex characters, then their
    HMAC under the app secret), or None for a token made up elsewhere."""
    raw, mac = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
    expected = generate_csrf_hash(raw, secret)
    return raw if len(raw) == CSRF_SECRET_LENGTH and secrets.compare_digest(mac.encode(), expected.encode()) else None


def _require_csrf_without_token(request: Request) -> None:
    """The POST handlers skip the CSRF middleware; a cookie-authenticated call must still prove its origin, by
    the same test the middleware makes: header and cookie carry the same token, and this server signed it.
    (Equality alone would let a page that can plant a cookie, e.g. from a sibling subdomain, pick both.)"""
    if _bearer(request) is not None:
        return
    settings = settings_of(request)
    header = _issued_here(request.headers.get("x-csrftoken", ""), settings.secret_key)
    cookie = _issued_here(request.cookies.get(csrf_cookie_name(settings), ""), settings.secret_key)
    if header is None or cookie is None or not secrets.compare_digest(header, cookie):
        raise PermissionDeniedException("CSRF token missing or wrong: send the csrftoken cookie's value in "
                                        "x-csrftoken, or authenticate with an API token.")


def _assignment(db: Session, actor: Actor, assignment_id: int) -> Assignment:
    """Every object is reached through its assignment: the policy, then the token's organization."""
    return apitokens.check_scope(db, actor, board.get_assignment(db, actor, assignment_id))


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- response models --------------------------------------------------------------------------

class PersonRef(BaseModel):
    id: int
    full_name: str


class OrganizationRef(BaseModel):
    id: int
    name: str


class TriadOut(BaseModel):
    id: int
    shop: OrganizationRef
    mentee: PersonRef
    mentor: PersonRef
    manager: PersonRef
    started_at: datetime
    ended_at: datetime | None


class TaskListRef(BaseModel):
    id: int
    name: str
    level: str
    version_id: int
    version: int = Field(description="The published version number the assignment is pinned to.")


class AssignmentOut(BaseModel):
    id: int
    triad_id: int
    shop: OrganizationRef
    mentee: PersonRef
    task_list: TaskListRef
    start_date: date
    target_date: date | None
    ended_at: datetime | None


class AssignmentDetailOut(AssignmentOut):
    counts: dict[str, int] = Field(description="Applicable tasks per status: not_started, practicing, ready, "
                                               "signed.")


class SignoffOut(BaseModel):
    event_seq: int
    signed_by: str = Field(description="The signer's printed name at signing time.")
    signed_at: datetime = Field(description="Server time, UTC.")
    meaning: str
    rating: int | None


class CountersignOut(BaseModel):
    event_seq: int
    signed_by: str
    signed_at: datetime
    meaning: str


class TaskOut(BaseModel):
    code: str
    statement: str
    area_code: str
    section_code: str
    priority: str
    phase: str
    not_applicable: bool
    status: Literal["not_started", "practicing", "ready", "signed"]
    practice_minutes: int
    signoff: SignoffOut | None
    countersignatures: list[CountersignOut]


class EventOut(BaseModel):
    seq: int
    task_code: str
    kind: str
    actor_name: str
    at: datetime
    meaning: str
    rating: int | None
    minutes: int | None
    note: str
    reason: str
    ro_number: str
    vin: str
    device: str
    hash: str
    prev_hash: str


# What a new event needs depends on its kind: one model per kind, told apart by `kind`, so that the schema states
# each kind's required fields and their limits, and a body the schema accepts passes the API's own validation.
# strict: a number sent as a string is refused, as the schema says. What no schema can know is still checked by
# the rules (the PIN, the VIN's check digit, the photo's content, the task's state) and answers 422 or 409.
Strict = ConfigDict(strict=True)
TaskCode = Annotated[str, Field(min_length=1, max_length=40, description="The task's code, e.g. I.A.1.")]
Note = Annotated[str, Field(max_length=1000)]
# Litestar puts a pattern in the schema only from StringConstraints, not from Field(pattern=...).
NOT_BLANK = r"[^\s\x1c-\x1f]"  # at least one character the server does not trim away
BASE64 = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


class _OnTask(BaseModel):
    """What every kind of event names: the task, by its code on the assignment's list."""
    model_config = Strict
    task_code: TaskCode


class PracticeIn(_OnTask):
    kind: Literal["practice"]
    hours: float = Field(ge=0.1, le=12, allow_inf_nan=False, description="Hours practised, 0.1 to 12.")
    note: Note = Field(default="", description="What was practised.")


class ReadyIn(_OnTask):
    kind: Literal["ready"]


class PhotoIn(BaseModel):
    model_config = Strict
    content_type: Literal["image/jpeg", "image/png"] = Field(
        description="What the photo is; the server checks it against the photo's content.")
    data_base64: Annotated[str, StringConstraints(min_length=4, max_length=PHOTO_BASE64_CHARS, pattern=BASE64)] = (
        Field(json_schema_extra={"contentEncoding": "base64"},
              description=f"The photo file, base64 (standard alphabet, padded); at most "
                          f"{evidence.MAX_PHOTO_BYTES // (1024 * 1024)} MB once decoded. It is re-encoded without "
                          "its metadata (location, camera) before it is stored."))


class SignoffIn(_OnTask):
    kind: Literal["signoff"]
    rating: int = Field(ge=1, le=5, description="1 Cannot perform yet … 5 Can teach others.")
    pin: str = Field(min_length=1, max_length=64, description="The signer's sign-off PIN: the second factor.")
    note: Note = ""
    ro_number: Annotated[str, StringConstraints(max_length=30, pattern=r"^[A-Za-z0-9/-]*$")] = Field(
        default="", description="Repair-order number: letters, digits, '-' and '/'.")
    vin: Annotated[str, StringConstraints(pattern=r"^([A-HJ-NPR-Za-hj-npr-z0-9]{17})?$")] = Field(
        default="", description="Vehicle identification number, 17 characters; the check digit is checked for "
                                "North American VINs.")
    photo: PhotoIn | None = Field(default=None, description="A photo of the work, signed with the event.")


class CountersignIn(_OnTask):
    kind: Literal["countersign"]


class RevokeIn(_OnTask):
    kind: Literal["revoke"]
    reason: Annotated[str, StringConstraints(max_length=300, pattern=NOT_BLANK)] = Field(
        description="Why the sign-off is revoked; kept with the record.")


class CommentIn(_OnTask):
    kind: Literal["comment"]
    note: Annotated[str, StringConstraints(max_length=1000, pattern=NOT_BLANK)]


class EventIn(RootModel[Annotated[PracticeIn | ReadyIn | SignoffIn | CountersignIn | RevokeIn | CommentIn,
                                   Field(discriminator="kind")]]):
    """One model around the union: Litestar reads a request body into one model, not into a union of them."""


class AlreadySignedOut(BaseModel):
    status_code: int
    detail: str
    signed_by: str
    signed_at: datetime


def _event_out(e: ProgressEvent | signoffs.EventView) -> EventOut:
    return EventOut(seq=e.seq, task_code=e.task_code, kind=e.kind, actor_name=e.actor_name, at=_utc(e.at),
                    meaning=e.meaning, rating=e.rating, minutes=e.minutes, note=e.note, reason=e.reason,
                    ro_number=e.ro_number, vin=e.vin, device=e.device, hash=e.hash, prev_hash=e.prev_hash)


def _person(p: Person) -> PersonRef:
    return PersonRef(id=p.id, full_name=p.full_name)


def _org(o: Organization) -> OrganizationRef:
    return OrganizationRef(id=o.id, name=o.name)


def _assignment_out(a: Assignment, mentee: Person, shop: Organization, version: ShopTaskListVersion,
                    task_list: ShopTaskList) -> AssignmentOut:
    return AssignmentOut(id=a.id, triad_id=a.triad_id, shop=_org(shop), mentee=_person(mentee),
                         task_list=TaskListRef(id=task_list.id, name=task_list.name, level=task_list.level,
                                               version_id=version.id, version=version.number),
                         start_date=a.start_date, target_date=a.target_date, ended_at=_utc(a.ended_at))


# --- reading ------------------------------------------------------------------------------------

def _visible_triads(db: Session, actor: Actor) -> list[roster.TriadRow]:
    return roster.triads_visible_to(db, actor)  # who sees which triad: policy.triad_visible


@get("/api/v1/triads", sync_to_thread=True, tags=TAGS, security=SECURITY, responses=errors(401))
def list_triads(request: Request, db: Db) -> list[TriadOut]:
    """Active triads the caller may see."""
    actor = api_actor(request, db)
    return [TriadOut(id=r.triad.id, shop=_org(r.shop), mentee=_person(r.mentee), mentor=_person(r.mentor),
                     manager=_person(r.manager), started_at=_utc(r.triad.started_at),
                     ended_at=_utc(r.triad.ended_at)) for r in _visible_triads(db, actor)]


def _assignment_rows(db: Session):
    return (select(Assignment, Person, Organization, ShopTaskListVersion, ShopTaskList)
            .join(Person, Person.id == Assignment.mentee_id)
            .join(Organization, Organization.id == Assignment.shop_id)
            .join(ShopTaskListVersion, ShopTaskListVersion.id == Assignment.version_id)
            .join(ShopTaskList, ShopTaskList.id == ShopTaskListVersion.list_id))


@get("/api/v1/assignments", sync_to_thread=True, tags=TAGS, security=SECURITY, responses=errors(400, 401, 422))
def list_assignments(request: Request, db: Db, include_ended: FromQuery[bool] = False) -> list[AssignmentOut]:
    """Assignments of the mentees the caller may see; ended ones only with include_ended=true."""
    actor = api_actor(request, db)
    ids = policy.visible_mentee_ids(actor).subquery()
    query = _assignment_rows(db).where(Assignment.mentee_id.in_(select(ids.c[0])), policy.assignment_visible(actor))
    if not include_ended:
        query = query.where(Assignment.ended_at.is_(None))
    rows = db.exec(query.order_by(Person.full_name, Assignment.start_date, Assignment.id)).all()
    return [_assignment_out(*row) for row in rows if apitokens.in_scope(db, actor, row[0])]


@get("/api/v1/assignments/{assignment_id:int}", sync_to_thread=True, tags=TAGS, security=SECURITY,
     responses=errors(401, 404))
def assignment_detail(request: Request, db: Db, assignment_id: FromPath[int]) -> AssignmentDetailOut:
    actor = api_actor(request, db)
    assignment = _assignment(db, actor, assignment_id)
    b = board.board(db, assignment)
    out = _assignment_out(assignment, b.mentee, b.shop, b.version, b.task_list)
    return AssignmentDetailOut(**out.model_dump(), counts=b.counts())


@get("/api/v1/assignments/{assignment_id:int}/tasks", sync_to_thread=True, tags=TAGS, security=SECURITY,
     responses=errors(401, 404))
def assignment_tasks(request: Request, db: Db, assignment_id: FromPath[int]) -> list[TaskOut]:
    """The assignment's tasks in list order, each with its state derived from the events."""
    actor = api_actor(request, db)
    b = board.board(db, _assignment(db, actor, assignment_id))
    tasks = []
    for row in b.rows:
        t, s = row.task, row.state
        signoff = None
        if s.signoff is not None:
            signoff = SignoffOut(event_seq=s.signoff.seq, signed_by=s.signoff.actor_name,
                                 signed_at=_utc(s.signoff.at), meaning=s.signoff.meaning, rating=s.signoff.rating)
        tasks.append(TaskOut(
            code=t.code, statement=t.statement, area_code=t.area_code, section_code=t.section_code,
            priority=t.priority, phase=t.phase, not_applicable=t.not_applicable, status=s.status,
            practice_minutes=s.minutes, signoff=signoff,
            countersignatures=[CountersignOut(event_seq=c.seq, signed_by=c.actor_name, signed_at=_utc(c.at),
                                              meaning=c.meaning) for c in s.countersigns]))
    return tasks


@get("/api/v1/assignments/{assignment_id:int}/events", sync_to_thread=True, tags=TAGS, security=SECURITY,
     responses=errors(400, 401, 404, 422))
def assignment_events(request: Request, db: Db, assignment_id: FromPath[int], task_code: FromQuery[str] = "",
                      after_seq: FromQuery[int] = 0) -> list[EventOut]:
    """Every event of the hash chain in order; filter by task_code, or fetch only those after after_seq."""
    actor = api_actor(request, db)
    assignment = _assignment(db, actor, assignment_id)
    return [_event_out(e) for e in signoffs.events_of(db, assignment.id)
            if e.seq > after_seq and (not task_code or e.task_code == task_code)]


# --- writing ------------------------------------------------------------------------------------

def _on_already_signed(_request: Request, exc: signoffs.AlreadySigned) -> Response:
    body = AlreadySignedOut(status_code=409, detail=str(exc), signed_by=exc.event.actor_name,
                            signed_at=_utc(exc.event.at))
    return Response(body.model_dump(mode="json"), status_code=409)


def _on_invalid_body(_request: Request, exc: ValidationException) -> Response:
    """Body validation answers like a FormError: 422 with one message per field."""
    errors: dict[str, str] = {}
    kinds = ("practice", "ready", "signoff", "countersign", "revoke", "comment")
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            key, message = str(item.get("key", "")), str(item.get("message", "Invalid value"))
            # An event's fields are reported under its kind ("signoff.rating"); a kind of no known event as "".
            key = key.partition(".")[2] if key.startswith(tuple(k + "." for k in kinds)) else key
            key = "kind" if not key and "'kind'" in message else key
            errors.setdefault(key, message)
    return Response({"status_code": 422, "detail": "The request body is not valid.", "errors": errors},
                    status_code=422)


def _add_event(db: Session, actor: Actor, assignment: Assignment, data, photo, pins: Limits) -> ProgressEvent:
    aid, code = assignment.id, data.task_code
    match data:
        case PracticeIn():
            return signoffs.log_practice(db, actor, aid, code, hours=data.hours, note=data.note, device=DEVICE)
        case ReadyIn():
            return signoffs.request_signoff(db, actor, aid, code, device=DEVICE)
        case SignoffIn():
            # No shared tablet here: the PIN is always the second factor.
            return signoffs.sign_off(db, actor, aid, code, rating=data.rating, pin=data.pin, device=DEVICE,
                                     evidence=evidence.Evidence(note=data.note, ro_number=data.ro_number,
                                                                vin=data.vin, photo=photo),
                                     pin_limits=pins)
        case CountersignIn():
            return signoffs.countersign(db, actor, aid, code, device=DEVICE)
        case RevokeIn():
            return signoffs.revoke(db, actor, aid, code, reason=data.reason, device=DEVICE)
        case CommentIn():
            return signoffs.comment(db, actor, aid, code, note=data.note, device=DEVICE)
    raise FormError({"kind": "Unknown kind."})  # pragma: no cover - the union allows only the kinds above


def _check_signer_before_photo(request: Request, assignment_id: int) -> None:
    """Who may sign here, checked before a photo is decoded (far costlier than these lookups), in a read session
    of its own: on SQLite the request's own session holds the write lock once the token's use is recorded, and
    no decode should run under it. add_event checks everything again with the change."""
    with database_of(request).session() as reader:
        raw = _bearer(request)
        if raw is None:
            actor = current_actor(request)
        else:
            token = apitokens.find_token(reader, raw)
            actor = apitokens.actor_of(reader, token) if token else None
        if actor is None:
            raise _unauthorized("Send an API token (Authorization: Bearer mtk_…) or sign in.")
        _require_csrf_without_token(request)
        signoffs.get_assignment_to_sign(reader, actor, _assignment(reader, actor, assignment_id).id)


def _store_photo(request: Request, photo: PhotoIn) -> evidence.StoredPhoto:
    raw = base64.b64decode(photo.data_base64)  # the schema's pattern admits only well-formed base64
    stored = evidence.store_photo(raw, Path(settings_of(request).upload_dir), gate=request.app.state.photo_gate)
    if stored.content_type != photo.content_type:
        evidence.delete_photo(Path(settings_of(request).upload_dir), stored)
        raise FormError({"photo.content_type": f"The photo is {stored.content_type}, not {photo.content_type}."})
    return stored


def _busy(exc: evidence.PhotoBusy) -> Response:
    return Response({"status_code": 503, "detail": " ".join(exc.errors.values()), "errors": exc.errors},
                    status_code=503, headers={"Retry-After": str(exc.retry_after)})


@post("/api/v1/assignments/{assignment_id:int}/events", sync_to_thread=True, tags=TAGS, status_code=201,
      exclude_from_csrf=True, request_max_body_size=EVENT_BODY_BYTES,
      exception_handlers={signoffs.AlreadySigned: _on_already_signed, ValidationException: _on_invalid_body},
      security=SECURITY, responses={**errors(400, 401, 403, 404, 413, 422, 429, 503),
                                   409: ResponseSpec(data_container=AlreadySignedOut,
                                                     description="Someone signed the task first.")})
def add_event(request: Request, db: Db, assignment_id: FromPath[int], data: JSONBody[EventIn]) -> EventOut:
    """Add one progress event under the same rules as the pages; `kind` says which fields it takes.

    A sign-off needs the signer's PIN and may carry a photo (base64 in the JSON). A request the schema accepts
    can still be refused with 422 for what only the server knows: a wrong PIN, a VIN whose check digit is wrong,
    a file that is not a JPEG or PNG photo, a task not applicable at the shop or not in a state for this kind."""
    data = data.root
    folder = Path(settings_of(request).upload_dir)
    stored = None
    if isinstance(data, SignoffIn) and data.photo is not None:
        _check_signer_before_photo(request, assignment_id)
        try:
            stored = _store_photo(request, data.photo)
        except evidence.PhotoBusy as busy:
            return _busy(busy)
    try:
        actor = api_actor(request, db)
        _require_csrf_without_token(request)
        assignment = _assignment(db, actor, assignment_id)
        event = _add_event(db, actor, assignment, data, stored, pin_limits(request.app.state.settings))
        db.commit()
    except BaseException:  # nothing was written (the session is rolled back when the request ends)
        if stored:
            evidence.delete_photo(folder, stored)
        raise
    return _event_out(event)


# --- admin pages: issuing and revoking tokens -----------------------------------------------------

def _tokens_page(db: Session, org: Organization, *, status_code: int = 200, errors=None, form=None,
                 created: ApiToken | None = None, raw: str = "") -> Response:
    members = {row.person.id: row.person for row in roster.members_of(db, org.id) if row.person.is_active}
    response = page("admin/tokens.html", status_code=status_code, org=org, rows=apitokens.tokens_of_org(db, org.id),
                    people=sorted(members.values(), key=lambda p: p.full_name), errors=errors or {},
                    form=form or {}, created=created, raw_token=raw)
    response.headers["Cache-Control"] = "no-store"
    return response


@get("/admin/orgs/{org_id:int}/tokens", sync_to_thread=True, include_in_schema=False)
def tokens_page(db: Db, actor: Me, org_id: FromPath[int]) -> Response:
    return _tokens_page(db, policy.get_org_for_admin(db, actor, org_id))


@post("/admin/orgs/{org_id:int}/tokens", sync_to_thread=True, include_in_schema=False)
def token_create(db: Db, actor: Me, org_id: FromPath[int], data: FormData) -> Response:
    org = policy.get_org_for_admin(db, actor, org_id)
    form = {"person_id": str(data.get("person_id", "")), "name": str(data.get("name", ""))}
    person_id = int(form["person_id"]) if form["person_id"].isdigit() else None
    # Done is a page, not a redirect: the new token is shown this once and never stored.
    return submit(db, lambda: apitokens.create_token(db, actor, org, person_id, form["name"]),
                  done=lambda made: _tokens_page(db, org, status_code=201, created=made[0], raw=made[1]),
                  failed=lambda e: _tokens_page(db, org, status_code=400, errors=e.errors, form=form))


@post("/admin/tokens/{token_id:int}/revoke", sync_to_thread=True, include_in_schema=False)
def token_revoke(db: Db, actor: Me, token_id: FromPath[int]) -> Response:
    token = apitokens.get_token_for_revoker(db, actor, token_id)
    apitokens.revoke_token(db, actor, token)
    db.commit()
    # The owner (not an admin there) revokes from their account page and goes back to it.
    admin = policy.can_administer(actor, token.organization_id)
    return see_other(f"/admin/orgs/{token.organization_id}/tokens" if admin else "/account?saved=token")


HANDLERS = [list_triads, list_assignments, assignment_detail, assignment_tasks, assignment_events, add_event,
            tokens_page, token_create, token_revoke]
