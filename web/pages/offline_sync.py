"""Offline sign-offs arriving from shop tablets, and the conflicts the mentor or a manager settles."""

from pathlib import Path
from typing import Annotated, Any

from litestar import MediaType, Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import File
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from mentoring.access import policy, tablets
from mentoring.access.policy import Actor
from mentoring.errors import FormError
from mentoring.progress import evidence, offline_sync
from mentoring.progress.models import OfflineConflict
from web.deps import client_address, database_of, settings_of, tablet_cookie_name
from web.render import UPLOAD_BODY_BYTES, page, refused_page, see_other, submit

Db = NamedDependency[Session]
Me = NamedDependency[Actor]
MultiPart = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]


def _answer(status_code: int, status: str, **body) -> Response:
    return Response({"status": status, **body}, status_code=status_code, media_type=MediaType.JSON,
                    headers={"Cache-Control": "no-store"})


def _enrolled(request: Request) -> bool:
    with database_of(request).session() as db:
        return tablets.device_for(db, request.cookies.get(tablet_cookie_name(settings_of(request)))) is not None


async def enrolled_tablet(request: Request) -> Response | None:
    """Runs before the body (up to a photo's size) is read: a browser that is not an enrolled tablet is refused
    at once, and leaves nothing in the audit log."""
    if await sync_to_thread(_enrolled, request):
        return None
    return _answer(403, "refused", detail="This browser is not an enrolled shop tablet, or it was revoked.")


@post("/tablet/offline/events", sync_to_thread=True, request_max_body_size=UPLOAD_BODY_BYTES,
      before_request=enrolled_tablet)
def receive(request: Request, db: Db, data: MultiPart) -> Response:
    """One queued sign-off (see OFFLINE_CONTRACT in mentoring/progress/offline_sync.py for the checks)."""
    upload = data.get("photo")
    upload = upload if isinstance(upload, UploadFile) and upload.file.seek(0, 2) else None
    device_id = None
    try:
        # Checks first, in a read session of their own: on SQLite no photo is decoded under the write lock.
        with database_of(request).session() as reader:
            device = tablets.device_for(reader, request.cookies.get(tablet_cookie_name(settings_of(request))))
            device_id = device.id if device else None
            if device is None:
                raise offline_sync.Refused("This browser is not an enrolled shop tablet, or it was revoked.")
            event = offline_sync.parse(data)
            mentor = offline_sync.admit(reader, device, event, secret=settings_of(request).secret_key)
            # The proof covers photo_sha256, so a resent event is known before its photo is hashed again.
            if found := offline_sync.seen(reader, event.idempotency_key):
                return _answer(200, "duplicate", **found)
            offline_sync.photo_matches(event, upload.file if upload else None)
    except offline_sync.Refused as refused:
        return _refuse(db, device_id, data, 403, "refused", refused.reason)
    except FormError as bad:
        return _refuse(db, device_id, data, 422, "invalid", str(bad), errors=bad.errors)
    return _store(request, db, device_id, mentor.id, event, upload)


def _refuse(db: Session, device_id: int | None, data: dict, status_code: int, status: str, detail: str,
            **extra) -> Response:
    db.rollback()
    offline_sync.refusal(db, device_id, detail, data, status=status_code)
    db.commit()
    return _answer(status_code, status, detail=detail, **extra)


def _store(request: Request, db: Session, device_id: int, mentor_id: int, event, upload) -> Response:
    folder = Path(settings_of(request).upload_dir)
    photo = None
    try:
        if upload is not None:
            photo = evidence.store_photo(upload.file, folder, gate=request.app.state.photo_gate)
        outcome = offline_sync.sync(db, device_id, mentor_id, event, photo, ip=client_address(request))
        db.commit()
    except offline_sync.Duplicate as duplicate:
        return _undo(db, folder, photo, _answer(200, "duplicate", **duplicate.found))
    except IntegrityError:  # the same key committed by a request running alongside (PostgreSQL)
        db.rollback()
        found = offline_sync.seen(db, event.idempotency_key)
        if found is None:
            raise
        return _undo(db, folder, photo, _answer(200, "duplicate", **found))
    except offline_sync.Refused as refused:
        return _undo(db, folder, photo, _refuse(db, device_id, event.fields, 403, "refused", refused.reason))
    except FormError as bad:
        busy = isinstance(bad, evidence.PhotoBusy)
        answer = _refuse(db, device_id, event.fields, 503 if busy else 422, "busy" if busy else "invalid", str(bad),
                         errors=bad.errors)
        return _undo(db, folder, photo, answer)
    except Exception:
        db.rollback()
        if photo:
            evidence.delete_photo(folder, photo)
        raise
    if isinstance(outcome, OfflineConflict):
        return _answer(409, "conflict", conflict_id=outcome.id,
                       detail="The task changed on another device; this sign-off is kept for the mentor or a "
                              "manager to settle.")
    return _answer(201, "stored", event_id=outcome.id, received_at=outcome.at.isoformat())


def _undo(db: Session, folder: Path, photo, answer: Response) -> Response:
    db.rollback()
    if photo:
        evidence.delete_photo(folder, photo)
    return answer


# --- conflicts ------------------------------------------------------------------------------------------

@get("/shops/{shop_id:int}/offline-conflicts", sync_to_thread=True)
def conflicts_page(db: Db, actor: Me, shop_id: FromPath[int]) -> Response:
    shop = policy.get_shop_for_offline_conflicts(db, actor, shop_id)
    return page("tablet/conflicts.html", shop=shop, conflicts=offline_sync.conflicts_at(db, actor, shop.id))


@get("/offline-conflicts/{conflict_id:int}", sync_to_thread=True)
def conflict_page(db: Db, actor: Me, conflict_id: FromPath[int], done: FromQuery[str] = "") -> Response:
    conflict = policy.get_offline_conflict(db, actor, conflict_id)
    return page("tablet/conflict.html", v=offline_sync.view(db, actor, conflict), choices=offline_sync.RESOLUTIONS,
                ratings=offline_sync.signoffs.RATINGS, settled=done == "1", errors={})


@post("/offline-conflicts/{conflict_id:int}", sync_to_thread=True)
def resolve(db: Db, actor: Me, conflict_id: FromPath[int],
            data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]) -> Response:
    conflict = policy.get_offline_conflict(db, actor, conflict_id)
    return submit(db, lambda: offline_sync.resolve(db, actor, conflict, str(data.get("choice", ""))),
                  done=f"/offline-conflicts/{conflict_id}?done=1",
                  failed=refused_page("This conflict could not be settled", f"/offline-conflicts/{conflict_id}"))


@get("/offline-conflicts/{conflict_id:int}/photo", sync_to_thread=True)
def conflict_photo(request: Request, db: Db, actor: Me, conflict_id: FromPath[int],
                   thumb: FromQuery[bool] = False) -> Response:
    conflict = policy.get_offline_conflict(db, actor, conflict_id)
    if not conflict.photo_name:
        return see_other(f"/offline-conflicts/{conflict_id}")
    name = conflict.photo_thumb if thumb else conflict.photo_name
    return File(Path(settings_of(request).upload_dir) / name, content_disposition_type="inline",
                media_type="image/jpeg" if thumb else conflict.photo_type,
                headers={"Cache-Control": "private, no-store"})


HANDLERS = [receive, conflicts_page, conflict_page, resolve, conflict_photo]
