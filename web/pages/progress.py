"""A mentee's task list, a task's page, and the events people add: practice, ready, sign-off and the rest."""

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import File
from sqlmodel import Session, select

from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.errors import FormError, NotFound
from mentoring.progress import board, evidence, signoffs, tablet_turns
from mentoring.progress.models import Assignment, EvidencePhoto, ProgressEvent
from web import sessions
from web.deps import database_of, pin_limits, session_cookie_name, settings_of
from web.render import UPLOAD_BODY_BYTES, FormData, page, see_other, submit

Db = NamedDependency[Session]
Me = NamedDependency[Actor]


def device_of(request: Request) -> str:
    tablet = request.state.get("tablet_name")
    return f"shop tablet: {tablet}" if tablet else "personal device"


@get("/assignments/{assignment_id:int}", sync_to_thread=True)
def board_page(request: Request, db: Db, actor: Me, assignment_id: FromPath[int], q: FromQuery[str] = "",
               status: FromQuery[str] = "", priority: FromQuery[str] = "", phase: FromQuery[str] = "") -> Response:
    assignment = board.get_assignment(db, actor, assignment_id)
    b = board.board(db, assignment)
    rows = board.filtered(b.rows, q=q, status=status, priority=priority, phase=phase)
    context = dict(b=b, rows=rows, filters={"q": q, "status": status, "priority": priority, "phase": phase},
                   can_sign=policy.may_sign_assignment(db, actor, assignment),
                   is_mentee=actor.person_id == assignment.mentee_id)
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "task-rows":
        return page("progress/_rows.html", **context)
    return page("progress/board.html", next_up=board.up_next(b.rows), coverage=board.coverage_of(db, b), **context)


def _task_page(db: Session, actor: Actor, assignment: Assignment, code: str, *, errors=None, form=None,
               status_code: int = 200) -> Response:
    b = board.board(db, assignment)
    row = next((r for r in b.rows if r.task.code == code), None)
    if row is None:
        raise NotFound
    photos = db.exec(select(EvidencePhoto).where(EvidencePhoto.event_id.in_([e.id for e in row.state.events]))
                     ).all() if row.state.events else []
    return page("progress/task.html", status_code=status_code, b=b, row=row, errors=errors or {},
                form=form or {"rating": str(signoffs.DEFAULT_RATING)}, ratings=signoffs.RATINGS,
                photos={p.event_id: p for p in photos},
                can_sign=policy.may_sign_assignment(db, actor, assignment),
                is_mentee=actor.person_id == assignment.mentee_id,
                can_approve=policy.can_approve(actor, assignment.shop_id),
                countersign_as=policy.countersign_role(db, actor, assignment, row.state.signoff.actor_id)
                if row.state.signoff else None)


@get("/assignments/{assignment_id:int}/tasks/{code:str}", sync_to_thread=True)
def task_page(db: Db, actor: Me, assignment_id: FromPath[int], code: FromPath[str]) -> Response:
    return _task_page(db, actor, board.get_assignment(db, actor, assignment_id), code)


@dataclass
class SignOffForm:
    rating: str = ""
    pin: str = ""
    note: str = ""
    ro_number: str = ""
    vin: str = ""
    photo: UploadFile | None = None
    kept_photo: str = ""  # the ticket of a photo kept from a refused try (see _keep)


@post("/assignments/{assignment_id:int}/tasks/{code:str}/signoff", sync_to_thread=True,
      request_max_body_size=UPLOAD_BODY_BYTES)
def sign_off(request: Request, db: Db, actor: Me, assignment_id: FromPath[int], code: FromPath[str],
             data: Annotated[SignOffForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> Response:
    # With a photo, who may sign is checked before it is read: 404/403 cost two lookups, a decode up to a few
    # hundred ms and MBs. In a short read session of its own, so that on SQLite no decode runs while this request
    # holds the write lock. Without one there is nothing costly to guard, and signoffs.sign_off checks under the
    # lock either way (the check's own session would add about a third to a plain sign-off's server time).
    has_photo = data.photo is not None and bool(data.photo.filename)
    if has_photo:
        with database_of(request).session() as reader:
            signoffs.get_assignment_to_sign(reader, actor, assignment_id)
    folder = Path(settings_of(request).upload_dir)
    stored = []  # the photo kept on disk, deleted again unless the sign-off commits
    on_tablet = bool(request.state.get("tablet_name"))
    cookie = session_cookie_name(settings_of(request))
    window = sessions.window_of(db, request.cookies.get(cookie)) if on_tablet else None
    secret, owner = settings_of(request).secret_key, _photo_owner(request, actor, assignment_id, code)

    def act() -> tuple[ProgressEvent, object]:
        if has_photo:
            stored.append(evidence.store_photo(data.photo.file, folder, gate=request.app.state.photo_gate))
        elif data.kept_photo:
            stored.append(evidence.kept_photo(folder, data.kept_photo, secret=secret, owner=owner))
        event = signoffs.sign_off(
            db, actor, assignment_id, code, rating=data.rating, pin=None if on_tablet else data.pin,
            evidence=evidence.Evidence(note=data.note, ro_number=data.ro_number, vin=data.vin,
                                       photo=stored[0] if stored else None),
            device=device_of(request), pin_limits=pin_limits(settings_of(request)), window=window)
        return event, _end_turn(request, db, event, window) if on_tablet else None

    def refused(e: FormError) -> Response:
        form = {k: v for k, v in vars(data).items() if k not in ("pin", "photo")}
        # The photo waits for the corrected form: a mentor at the car should not have to take it again.
        keep = stored and not isinstance(e, signoffs.AlreadySigned)
        form["kept_photo"] = evidence.keep_photo(folder, stored.pop(), secret=secret, owner=owner) if keep else ""
        _discard(folder, stored)
        return _task_refused(db, actor, board.get_assignment(db, actor, assignment_id), code, e, form)

    def signed(outcome: tuple[ProgressEvent, object]) -> str | Response:
        event, kept = outcome
        if not on_tablet or kept:  # back to the list; in a multi-sign window the mentor's turn goes on
            return f"/assignments/{assignment_id}?signed={code}"
        response = see_other(f"/tablet?signed={event.id}")  # the shop screen confirms what was signed
        response.delete_cookie(cookie, path="/")
        return response

    try:
        return submit(db, act, done=signed, failed=refused)
    except Exception:
        db.rollback()
        _discard(folder, stored)
        raise


def _photo_owner(request: Request, actor: Actor, assignment_id: int, code: str) -> str:
    """Who a kept photo's ticket is good for: this signer, in this sign-in, for this task."""
    session = request.cookies.get(session_cookie_name(settings_of(request)), "")
    return f"{actor.person_id}|{session}|{assignment_id}|{code}"


def _end_turn(request: Request, db: Session, event: ProgressEvent, window):
    """A signature on a shared tablet ends the mentor's turn, in the same transaction, unless the shop's
    multi-sign window keeps it open for this mentee; returns that window, or None."""
    cookie = request.cookies.get(session_cookie_name(settings_of(request)))
    kept = tablet_turns.window_after(db, event, window)
    if kept:
        sessions.keep_window(db, cookie, kept)
    else:
        sessions.end(db, cookie)
    return kept


def _task_refused(db: Session, actor: Actor, assignment: Assignment, code: str, error: FormError,
                  form: dict | None = None) -> Response:
    """The task page again with the messages: 409 if someone signed first, 503 if no photo could be read in
    time, otherwise 400 with what was typed."""
    if isinstance(error, signoffs.AlreadySigned):
        return _task_page(db, actor, assignment, code, errors=error.errors, status_code=409)
    busy = isinstance(error, evidence.PhotoBusy)
    response = _task_page(db, actor, assignment, code, errors=error.errors, form=form,
                          status_code=503 if busy else 400)
    if busy:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _discard(folder: Path, stored: list) -> None:
    for photo in stored:
        evidence.delete_photo(folder, photo)
    stored.clear()


def _event_action(request: Request, db: Session, actor: Actor, assignment_id: int, code: str, data: dict,
                  action) -> Response:
    assignment = board.get_assignment(db, actor, assignment_id)
    return submit(db, lambda: action(assignment), done=f"/assignments/{assignment.id}/tasks/{code}",
                  failed=lambda e: _task_refused(db, actor, assignment, code, e, data))


@post("/assignments/{assignment_id:int}/tasks/{code:str}/ready", sync_to_thread=True)
def ready(request: Request, db: Db, actor: Me, assignment_id: FromPath[int], code: FromPath[str],
          data: FormData) -> Response:
    return _event_action(request, db, actor, assignment_id, code, data, lambda a: signoffs.request_signoff(
        db, actor, a.id, code, device=device_of(request)))


@post("/assignments/{assignment_id:int}/tasks/{code:str}/practice", sync_to_thread=True)
def practice(request: Request, db: Db, actor: Me, assignment_id: FromPath[int], code: FromPath[str],
             data: FormData) -> Response:
    return _event_action(request, db, actor, assignment_id, code, data, lambda a: signoffs.log_practice(
        db, actor, a.id, code, hours=data.get("hours", ""), note=str(data.get("note", "")),
        day=str(data.get("day", "")), device=device_of(request)))


@post("/assignments/{assignment_id:int}/tasks/{code:str}/countersign", sync_to_thread=True)
def countersign(request: Request, db: Db, actor: Me, assignment_id: FromPath[int], code: FromPath[str],
                data: FormData) -> Response:
    return _event_action(request, db, actor, assignment_id, code, data, lambda a: signoffs.countersign(
        db, actor, a.id, code, device=device_of(request)))


@post("/assignments/{assignment_id:int}/tasks/{code:str}/revoke", sync_to_thread=True)
def revoke(request: Request, db: Db, actor: Me, assignment_id: FromPath[int], code: FromPath[str],
           data: FormData) -> Response:
    return _event_action(request, db, actor, assignment_id, code, data, lambda a: signoffs.revoke(
        db, actor, a.id, code, reason=str(data.get("reason", "")), device=device_of(request)))


@post("/assignments/{assignment_id:int}/tasks/{code:str}/comment", sync_to_thread=True)
def comment(request: Request, db: Db, actor: Me, assignment_id: FromPath[int], code: FromPath[str],
            data: FormData) -> Response:
    return _event_action(request, db, actor, assignment_id, code, data, lambda a: signoffs.comment(
        db, actor, a.id, code, note=str(data.get("note", "")), device=device_of(request)))


@get("/photos/{photo_id:int}", sync_to_thread=True)
def photo(request: Request, db: Db, actor: Me, photo_id: FromPath[int], thumb: FromQuery[bool] = False) -> File:
    """Evidence photos are served only to people who may see the mentee."""
    found = db.exec(select(EvidencePhoto, ProgressEvent).join(ProgressEvent)
                    .where(EvidencePhoto.id == photo_id)).first()
    if found is None:
        raise NotFound
    stored, event = found
    board.get_assignment(db, actor, event.assignment_id)
    name = stored.thumb_name if thumb else stored.stored_name
    return File(Path(settings_of(request).upload_dir) / name, media_type="image/jpeg" if thumb
                else stored.content_type, content_disposition_type="inline",
                headers={"Cache-Control": "private, no-store"})


HANDLERS = [board_page, task_page, sign_off, ready, practice, countersign, revoke, comment, photo]


def _group_page(db: Session, actor: Actor, code: str, *, form: dict, results=None, errors=None,
                turn_ended: bool = False, status_code: int = 200) -> Response:
    return page("progress/group.html", status_code=status_code, code=code, ratings=signoffs.RATINGS,
                errors=errors or {}, results=results, form=form, turn_ended=turn_ended,
                candidates=[] if turn_ended else signoffs.group_candidates(db, actor, code))


@get("/group-signoff", sync_to_thread=True)
def group_page(db: Db, actor: Me, code: FromQuery[str] = "") -> Response:
    policy.require_role(actor, "mentor")
    return _group_page(db, actor, code.strip(), form={"rating": str(signoffs.DEFAULT_RATING)})


@post("/group-signoff", sync_to_thread=True)
def group_sign(request: Request, db: Db, actor: Me, data: FormData) -> Response:
    policy.require_role(actor, "mentor")
    code = str(data.get("code", "")).strip()
    picked = data.get("assignment_ids", [])
    ids = [int(i) for i in (picked if isinstance(picked, list) else [picked]) if str(i).isdigit()]
    on_tablet = bool(request.state.get("tablet_name"))
    cookie = session_cookie_name(settings_of(request))

    def act() -> tuple[list, bool]:
        results = signoffs.sign_off_group(
            db, actor, ids, code, rating=data.get("rating"), pin=None if on_tablet else str(data.get("pin", "")),
            note=str(data.get("note", "")), device=device_of(request), pin_limits=pin_limits(settings_of(request)),
            window=sessions.window_of(db, request.cookies.get(cookie)) if on_tablet else None)
        # As after a single sign-off: once anything is signed on a shop tablet the mentor's turn ends, in the
        # same transaction, so whoever picks the tablet up next must tap their own name and enter their own PIN.
        turn_ended = on_tablet and any(r.event is not None for r in results)
        if turn_ended:
            sessions.end(db, request.cookies.get(cookie))
        return results, turn_ended

    def signed(outcome: tuple[list, bool]) -> Response:
        results, turn_ended = outcome
        response = _group_page(db, actor, code, form={"rating": data.get("rating")}, results=results,
                               turn_ended=turn_ended)
        if turn_ended:
            response.delete_cookie(cookie, path="/")
        return response

    def refused(e: FormError) -> Response:
        return _group_page(db, actor, code, form={k: v for k, v in data.items() if k != "pin"}, errors=e.errors,
                           status_code=400)

    return submit(db, act, done=signed, failed=refused)


HANDLERS += [group_page, group_sign]
