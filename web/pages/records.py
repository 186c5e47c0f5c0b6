"""Completion records and credentials: export, issue, revoke, bulk export, published keys and public verification."""

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from litestar import Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import File
from sqlmodel import Session

from exports import baking, bulk, checkpoints, credentials, keys, record, service, statuslist, verify
from exports.models import CompletionRecord, ExportJob, IssuedCredential
from mentoring.access import disclosure, policy, throttle
from mentoring.access.policy import Actor
from mentoring.errors import FormError, NotFound
from mentoring.people.models import Organization
from mentoring.progress import apprenticeship, board
from web.apidoc import errors
from web.deps import client_address, database_of, settings_of, show_menu
from web.render import UPLOAD_BODY_BYTES, FormData, checkbox, page, see_other, submit

Db = NamedDependency[Session]
Me = NamedDependency[Actor]
PUBLIC_TAGS = ["Published keys and revocation list"]
PUBLIC_JSON = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}
log = logging.getLogger("mentoring.records")


def _base(request: Request) -> str:
    return settings_of(request).base_url.rstrip("/")


def _anchor(request: Request, db: Session, org_id: int) -> None:
    """After an issue has committed: a signed checkpoint of the history the record or credential states.

    In a transaction of its own, because a checkpoint first waits for every other writer of audit entries
    (mentoring.trail.checkpoints.hold_audit_writers). The issue stands even if no checkpoint can be signed: the
    next `mentoring audit checkpoint` reports why."""
    try:
        checkpoints.write_checkpoint(db, org_id, secret=settings_of(request).secret_key, base_url=_base(request))
        db.commit()
    except (keys.KeyUnavailable, checkpoints.BadSignature) as exc:
        db.rollback()
        log.warning("no checkpoint after an issue for organization %s: %s", org_id, exc)


def _records_page(request: Request, db: Session, actor: Actor, assignment, *, errors=None, status_code: int = 200):
    b = board.board(db, assignment)
    records = record.records_of(db, assignment.id)
    return page("records/assignment.html", status_code=status_code, b=b, records=records,
                creds=credentials.credentials_of(db, assignment.id), errors=errors or {},
                coverage=board.coverage_of(db, b), can_issue=policy.can_issue_records(actor, assignment.shop_id),
                is_mentee=actor.person_id == assignment.mentee_id, base_url=_base(request),
                registered=apprenticeship.apprenticeship_of(db, assignment.triad_id) is not None)


@get("/assignments/{assignment_id:int}/records", sync_to_thread=True, include_in_schema=False)
def records_page(request: Request, db: Db, actor: Me, assignment_id: FromPath[int]) -> Response:
    assignment = policy.get_assignment_for_exporter(db, actor, assignment_id)
    return _records_page(request, db, actor, assignment)


@post("/assignments/{assignment_id:int}/records/export", sync_to_thread=True, include_in_schema=False)
def export_file(request: Request, db: Db, actor: Me, assignment_id: FromPath[int], data: FormData) -> Response:
    """A POST: exporting issues (or reuses) a record, which is a change of state."""
    assignment = policy.get_assignment_for_exporter(db, actor, assignment_id)
    fmt, paper = str(data.get("format", "pdf")), str(data.get("paper", "letter"))
    if fmt not in service.FORMATS or paper not in ("letter", "a4"):
        return _records_page(request, db, actor, assignment, errors={"format": "Choose PDF, CSV or JSON."},
                             status_code=400)
    exported = service.export_record(db, actor, assignment, fmt, base_url=_base(request), paper=paper)
    db.commit()
    _anchor(request, db, assignment.shop_id)
    return Response(exported.data, status_code=200, media_type=exported.media_type, headers={
        "Content-Disposition": f'attachment; filename="{exported.name}"', "Cache-Control": "private, no-store"})


@post("/assignments/{assignment_id:int}/records/disclosure", sync_to_thread=True, include_in_schema=False)
def choose_disclosure(db: Db, actor: Me, assignment_id: FromPath[int], data: FormData) -> Response:
    assignment = policy.get_assignment_for_exporter(db, actor, assignment_id)
    disclosure.choose_rating_disclosure(db, actor, assignment, checkbox(data, "show_ratings"))
    db.commit()
    return see_other(f"/assignments/{assignment.id}/records")


@post("/assignments/{assignment_id:int}/credentials", sync_to_thread=True, include_in_schema=False)
def issue(request: Request, db: Db, actor: Me, assignment_id: FromPath[int]) -> Response:
    assignment = policy.get_assignment_for_exporter(db, actor, assignment_id)
    policy.require_record_issuer(actor, assignment.shop_id)

    def act():
        try:
            credentials.issue_credentials(db, actor, assignment, base_url=_base(request),
                                          secret=settings_of(request).secret_key)
        except keys.KeyUnavailable as e:  # the form says why, as for any other refusal
            raise FormError({"": str(e)}) from e

    def anchored(_):
        _anchor(request, db, assignment.shop_id)
        return f"/assignments/{assignment.id}/records"

    return submit(db, act, done=anchored, failed=lambda e: _records_page(
        request, db, actor, assignment, errors=e.errors, status_code=400))


def _credential_for(db: Session, actor: Actor, credential_id: int) -> IssuedCredential:
    cred = db.get(IssuedCredential, credential_id)
    if cred is None:
        raise NotFound
    policy.get_assignment_for_exporter(db, actor, cred.assignment_id)
    return cred


@get("/credentials/{credential_id:int}/download", sync_to_thread=True, include_in_schema=False)
def download_credential(request: Request, db: Db, actor: Me, credential_id: FromPath[int]) -> Response:
    """?format=di (the default: JSON with a Data Integrity proof, for wallets) or ?format=jwt (VC-JWT)."""
    cred = _credential_for(db, actor, credential_id)
    content, media_type, name = credentials.credential_file(cred, request.query_params.get("format"))
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"})


def _badge(request: Request, db: Session, actor: Actor, credential_id: int, image: str) -> Response:
    """?proof=jwt (the default) or ?proof=di: which form of the credential is baked in."""
    cred = _credential_for(db, actor, credential_id)  # who may have it, before any drawing
    data, media_type, name = baking.badge_file(cred, image, request.query_params.get("proof", baking.PROOFS[0]))
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"})


@get("/credentials/{credential_id:int}/badge.png", sync_to_thread=True, include_in_schema=False)
def badge_png(request: Request, db: Db, actor: Me, credential_id: FromPath[int]) -> Response:
    """The credential baked into a PNG badge (Open Badges 3.0, baked badge)."""
    return _badge(request, db, actor, credential_id, "png")


@get("/credentials/{credential_id:int}/badge.svg", sync_to_thread=True, include_in_schema=False)
def badge_svg(request: Request, db: Db, actor: Me, credential_id: FromPath[int]) -> Response:
    """The credential baked into an SVG badge."""
    return _badge(request, db, actor, credential_id, "svg")


@post("/credentials/{credential_id:int}/revoke", sync_to_thread=True, include_in_schema=False)
def revoke_credential(request: Request, db: Db, actor: Me, credential_id: FromPath[int], data: FormData) -> Response:
    cred = _credential_for(db, actor, credential_id)
    policy.require_record_issuer(actor, cred.issuer_id)
    assignment = policy.get_assignment_for_exporter(db, actor, cred.assignment_id)
    return submit(db, lambda: credentials.revoke_credential(db, actor, cred, str(data.get("reason", ""))),
                  done=f"/assignments/{assignment.id}/records",
                  failed=lambda e: _records_page(request, db, actor, assignment, errors=e.errors, status_code=400))


@post("/records/{record_id:int}/revoke", sync_to_thread=True, include_in_schema=False)
def revoke_record(request: Request, db: Db, actor: Me, record_id: FromPath[int], data: FormData) -> Response:
    found = db.get(CompletionRecord, record_id)
    if found is None:
        raise NotFound
    assignment = policy.get_assignment_for_exporter(db, actor, found.assignment_id)
    policy.require_record_issuer(actor, found.shop_id)
    return submit(db, lambda: record.revoke_record(db, actor, found, str(data.get("reason", ""))),
                  done=f"/assignments/{assignment.id}/records",
                  failed=lambda e: _records_page(request, db, actor, assignment, errors=e.errors, status_code=400))


# --- public verification --------------------------------------------------------------------

def _verdict_page(db: Session, verdict: verify.Verdict | None, status_code: int = 200, **context) -> Response:
    # Strangers read this page: it gets the public view of the record, never the whole record.
    shown = verify.public_record(db, verdict.record) if verdict and verdict.record else None
    return page("records/verify.html", status_code=status_code, verdict=verdict, shown=shown, **context)


@get("/verify", sync_to_thread=True, include_in_schema=False, before_request=show_menu)
def verify_form(db: Db) -> Response:
    return _verdict_page(db, None)


def _spend_verify_budget(request: Request) -> int | None:
    settings = settings_of(request)
    # Its own short transaction, so the count stays whatever the check then finds.
    with database_of(request).transaction() as db:
        return throttle.spend(db, throttle.verify_key(client_address(request)), budget=settings.verify_per_minute,
                              per=timedelta(minutes=1))


async def verify_budget(request: Request) -> Response | None:
    """Anyone may check records, but not by the thousand: each client address has a budget per minute.
    Runs before the body is read, so a refused upload costs one indexed upsert."""
    await show_menu(request)
    wait = await sync_to_thread(_spend_verify_budget, request)
    if wait is None:
        return None
    response = page("error.html", status_code=429, status=429, title="Too many checks", back="/verify",
                    detail=f"Many records were checked from your address in the last minute. Try again in {wait} "
                           "seconds.")
    response.headers["Retry-After"] = str(wait)
    return response


@get("/verify/{code:str}", sync_to_thread=True, include_in_schema=False, before_request=verify_budget)
def verify_code(db: Db, code: FromPath[str]) -> Response:
    verdict = verify.verify_record_code(db, code)
    return _verdict_page(db, verdict, status_code=200 if verdict.authentic else 404)


@dataclass
class VerifyForm:
    text: str = ""
    file: UploadFile | None = None


MAX_UPLOAD = verify.MAX_FILE_BYTES


@post("/verify", sync_to_thread=True, include_in_schema=False, before_request=verify_budget,
      request_max_body_size=UPLOAD_BODY_BYTES)
def verify_upload(db: Db, data: Annotated[VerifyForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> Response:
    """Anyone may check a file or a pasted credential or code; nothing is stored."""
    raw = data.file.file.read(MAX_UPLOAD + 1) if data.file is not None and data.file.filename else b""
    text = (data.text or "").strip()
    if len(raw) > MAX_UPLOAD:
        return _verdict_page(db, None, 400, errors={"file": "That file is larger than any record we issue."})
    if not raw and not text:
        return _verdict_page(db, None, 400, errors={"text": "Paste a credential or a code, or choose a file."})
    if raw:
        verdict = verify.verify_bytes(db, raw)
    elif verify.CODE_PATTERN.fullmatch(record.normalize_code(text)):
        verdict = verify.verify_record_code(db, text)
    else:
        verdict = verify.verify_bytes(db, text.encode())
    # A file that is none of the things we verify (or an image with no readable credential) is refused as such.
    return _verdict_page(db, verdict, 422 if verdict.kind == "unknown" else 200, errors={})


# --- published keys and the revocation list ------------------------------------------------------

@get("/.well-known/jwks.json", sync_to_thread=True, tags=PUBLIC_TAGS)
def all_keys(request: Request, db: Db) -> Response:
    return Response(keys.jwks(db, _base(request)), headers=PUBLIC_JSON)


def _org(db: Session, org_id: int) -> Organization:
    org = db.get(Organization, org_id) if 0 < org_id < 2**31 else None  # ids are 32-bit on PostgreSQL
    if org is None:
        raise NotFound
    return org


@get("/orgs/{org_id:int}/jwks.json", sync_to_thread=True, tags=PUBLIC_TAGS, responses=errors(404))
def org_keys(request: Request, db: Db, org_id: FromPath[int]) -> Response:
    _org(db, org_id)
    return Response(keys.jwks(db, _base(request), org_id), headers=PUBLIC_JSON)


@get("/orgs/{org_id:int}/did.json", sync_to_thread=True, tags=PUBLIC_TAGS, responses=errors(404),
     media_type="application/did+json")  # the schema names the type the document is served as
def did_document(request: Request, db: Db, org_id: FromPath[int]) -> Response:
    _org(db, org_id)
    published = keys.keys_of(db, org_id)
    if not published:
        raise NotFound
    return Response(keys.did_document(_base(request), org_id, published), media_type="application/did+json",
                    headers=PUBLIC_JSON)


@get("/orgs/{org_id:int}/checkpoints.json", sync_to_thread=True, tags=PUBLIC_TAGS, responses=errors(404))
def published_checkpoints(db: Db, org_id: FromPath[int]) -> Response:
    """Signed checkpoints of the organization's history, newest first, for copies kept elsewhere."""
    _org(db, org_id)
    return Response(checkpoints.published(db, org_id), headers={**PUBLIC_JSON, "Cache-Control": "public, max-age=60"})


@get("/orgs/{org_id:int}/credentials/revocations.json", sync_to_thread=True, tags=PUBLIC_TAGS, responses=errors(404))
def revocations(request: Request, db: Db, org_id: FromPath[int]) -> Response:
    _org(db, org_id)
    return Response(credentials.revocation_list(db, _base(request), org_id),
                    headers={**PUBLIC_JSON, "Cache-Control": "public, max-age=60"})


@get("/orgs/{org_id:int}/credentials/status-list.json", sync_to_thread=True, tags=PUBLIC_TAGS,
     responses=errors(404))
def status_list(request: Request, db: Db, org_id: FromPath[int]) -> Response:
    """The organization's W3C Bitstring Status List credential, signed (eddsa-rdfc-2022); a set bit is a revoked
    credential."""
    _org(db, org_id)
    found = statuslist.status_list_credential(db, _base(request), org_id, settings_of(request).secret_key)
    if found is None:
        raise NotFound
    return Response(found, headers={**PUBLIC_JSON, "Cache-Control": "public, max-age=60"})


# --- bulk export ------------------------------------------------------------------------------

def _job_for(db: Session, actor: Actor, job_id: int) -> ExportJob:
    job = db.get(ExportJob, job_id)
    if job is None or not policy.can_issue_records(actor, job.shop_id):
        raise NotFound
    return job


def _bulk_page(db: Session, shop: Organization, *, errors=None, status_code: int = 200) -> Response:
    return page("records/bulk.html", status_code=status_code, shop=shop, jobs=bulk.jobs_of(db, shop.id),
                count=len(bulk.assignments_to_export(db, shop.id)), errors=errors or {})


@get("/shops/{shop_id:int}/exports", sync_to_thread=True, include_in_schema=False)
def bulk_page(db: Db, actor: Me, shop_id: FromPath[int]) -> Response:
    return _bulk_page(db, policy.get_shop_for_record_issuer(db, actor, shop_id))


@post("/shops/{shop_id:int}/exports", sync_to_thread=True, include_in_schema=False)
def bulk_start(request: Request, db: Db, actor: Me, shop_id: FromPath[int]) -> Response:
    shop = policy.get_shop_for_record_issuer(db, actor, shop_id)
    return submit(db, lambda: bulk.start_job(db, actor, shop), done=lambda job: _run_export(request, actor, job),
                  failed=lambda e: _bulk_page(db, shop, errors=e.errors, status_code=429))


def _run_export(request: Request, actor: Actor, job: ExportJob) -> str:
    """Once the job is committed: work through it in a thread of this process; its page shows how far it got."""
    settings = settings_of(request)
    worker = threading.Thread(target=bulk.run_job, name=f"export-{job.id}", daemon=True,
                              args=(database_of(request).transaction, job.id, actor, _export_dir(settings),
                                    _base(request), settings.secret_key))
    _running.add(worker)
    worker.start()
    return f"/exports/{job.id}"


_running: set[threading.Thread] = set()  # this process's export threads, only so that shutdown can wait


def wait_for_exports(_app=None) -> None:
    """On shutdown, let running exports finish before the database goes away (their progress is in it)."""
    for worker in list(_running):
        worker.join(60)
        _running.discard(worker)


def _export_dir(settings) -> Path:
    return Path(settings.data_dir) / "exports"


@get("/exports/{job_id:int}", sync_to_thread=True, include_in_schema=False)
def job_page(db: Db, actor: Me, job_id: FromPath[int]) -> Response:
    job = _job_for(db, actor, job_id)
    return page("records/job.html", job=job, shop=db.get(Organization, job.shop_id))


@get("/exports/{job_id:int}/progress", sync_to_thread=True, include_in_schema=False)
def job_progress(db: Db, actor: Me, job_id: FromPath[int]) -> Response:
    return page("records/_job_progress.html", job=_job_for(db, actor, job_id))


@get("/exports/{job_id:int}/download", sync_to_thread=True, include_in_schema=False)
def job_download(request: Request, db: Db, actor: Me, job_id: FromPath[int]) -> File:
    job = _job_for(db, actor, job_id)
    path = _export_dir(settings_of(request)) / job.file_name
    if job.status != "done" or not path.exists():
        raise NotFound
    shop = db.get(Organization, job.shop_id)
    return File(path, filename=f"completion-records-shop-{shop.id}-{job.id}.zip", media_type="application/zip",
                headers={"Cache-Control": "private, no-store"})


HANDLERS = [records_page, export_file, choose_disclosure, issue, download_credential, badge_png, badge_svg,
            revoke_credential, revoke_record, verify_form, verify_code, verify_upload, all_keys, org_keys, did_document,
            revocations, status_list, bulk_page, bulk_start, job_page, job_progress, job_download,
            published_checkpoints]
