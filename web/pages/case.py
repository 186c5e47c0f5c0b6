"""Task lists as CASE 1.1 frameworks, read-only at the CASE REST paths (exports/case.py builds them).

The built-in catalog is public, so that schools and state systems can align to it and badge alignments resolve;
a shop's published lists are answered only to that shop's managers and admins (policy.case_shop_ids)."""

import hashlib
import json

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlmodel import Session

from exports import case
from mentoring.access import policy
from web.deps import current_actor, settings_of

Db = NamedDependency[Session]
ROOT = case.ROOT
PUBLIC = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}
PRIVATE = {"Cache-Control": "private, no-cache", "Vary": "Cookie"}


def _visible(request: Request, db: Session) -> tuple[list[case.Framework], bool]:
    """Who asks decides which frameworks are looked at at all, before any is built."""
    shop_ids = policy.case_shop_ids(current_actor(request))
    return case.frameworks(db, settings_of(request).base_url, shop_ids), bool(shop_ids)


def _answer(request: Request, body, private: bool) -> Response:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    tag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {**(PRIVATE if private else PUBLIC), "ETag": tag}
    if tag in request.headers.get("if-none-match", ""):
        return Response(content=b"", status_code=304, headers=headers)
    return Response(content=data, media_type="application/json", headers=headers)


def _missing(sourced_id: str) -> Response:
    return Response(case.not_found(sourced_id), status_code=404, media_type="application/json")


@get(f"{ROOT}/CFDocuments", sync_to_thread=True)
def cf_documents(request: Request, db: Db) -> Response:
    found, private = _visible(request, db)
    return _answer(request, {"CFDocuments": [f.package["CFDocument"] for f in found]}, private)


def _framework(request: Request, db: Session, sourced_id: str, answer) -> Response:
    """A framework the caller may read, answered as `answer(framework)`; the CASE 404 body otherwise."""
    if not case.is_sourced_id(sourced_id) or (framework := case.find_document(_visible(request, db)[0],
                                                                              sourced_id)) is None:
        return _missing(sourced_id)
    return _answer(request, answer(framework), framework.source.shop_id is not None)


@get(f"{ROOT}/CFDocuments/{{sourced_id:str}}", sync_to_thread=True)
def cf_document(request: Request, db: Db, sourced_id: FromPath[str]) -> Response:
    return _framework(request, db, sourced_id, case.document_of)


@get(f"{ROOT}/CFPackages/{{sourced_id:str}}", sync_to_thread=True)
def cf_package(request: Request, db: Db, sourced_id: FromPath[str]) -> Response:
    return _framework(request, db, sourced_id, lambda framework: framework.body)


def _member(request: Request, db: Session, collection: str, sourced_id: str) -> Response:
    if not case.is_sourced_id(sourced_id) or (found := case.find_member(_visible(request, db)[0], collection,
                                                                         sourced_id)) is None:
        return _missing(sourced_id)
    framework, member = found
    return _answer(request, member, framework.source.shop_id is not None)


@get(f"{ROOT}/CFItems/{{sourced_id:str}}", sync_to_thread=True)
def cf_item(request: Request, db: Db, sourced_id: FromPath[str]) -> Response:
    return _member(request, db, "CFItems", sourced_id)


@get(f"{ROOT}/CFAssociations/{{sourced_id:str}}", sync_to_thread=True)
def cf_association(request: Request, db: Db, sourced_id: FromPath[str]) -> Response:
    return _member(request, db, "CFAssociations", sourced_id)


HANDLERS = [cf_documents, cf_document, cf_package, cf_item, cf_association]
