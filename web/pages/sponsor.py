"""Registered apprenticeships for the sponsor: the completion certificate and the sponsor CSV exports."""

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlmodel import Session

from exports import certificate, sponsor
from mentoring.access import policy
from mentoring.access.policy import Actor
from web.deps import settings_of
from web.render import FormData, page, submit

Db = NamedDependency[Session]
Me = NamedDependency[Actor]
NO_STORE = {"Cache-Control": "private, no-store"}


def _file(name: str, media_type: str, data: bytes) -> Response:
    return Response(data, status_code=200, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"', **NO_STORE})


@post("/assignments/{assignment_id:int}/records/certificate", sync_to_thread=True, include_in_schema=False)
def certificate_pdf(request: Request, db: Db, actor: Me, assignment_id: FromPath[int], data: FormData) -> Response:
    """A POST, like the record's export: it issues (or reuses) a certificate."""
    assignment = policy.get_assignment_for_exporter(db, actor, assignment_id)
    paper = "a4" if data.get("paper") == "a4" else "letter"
    return submit(db, lambda: certificate.export_certificate(db, actor, assignment, paper=paper,
                                                             base_url=settings_of(request).base_url.rstrip("/")),
                  done=lambda exported: _file(exported.name, exported.media_type, exported.data),
                  failed=lambda e: page("records/certificate_refused.html", status_code=400,
                                        message=e.errors.get("", ""), assignment_id=assignment.id))


@get("/apprenticeships/{apprenticeship_id:int}/sponsor.csv", sync_to_thread=True, include_in_schema=False)
def apprentice_csv(db: Db, actor: Me, apprenticeship_id: FromPath[int]) -> Response:
    app = policy.get_apprenticeship_for_sponsor_export(db, actor, apprenticeship_id)
    exported = sponsor.apprentice_file(db, app)
    return _file(exported.name, "text/csv; charset=utf-8", exported.data)


@get("/shops/{shop_id:int}/sponsor", sync_to_thread=True, include_in_schema=False)
def sponsor_page(db: Db, actor: Me, shop_id: FromPath[int]) -> Response:
    shop = policy.get_shop_for_sponsor_export(db, actor, shop_id)
    return page("manage/sponsor.html", shop=shop, occupations=sponsor.occupations(db, shop.id),
                sponsor_notice=sponsor.NOTICE, columns=sponsor.COLUMNS)


@get("/shops/{shop_id:int}/sponsor.csv", sync_to_thread=True, include_in_schema=False)
def program_csv(db: Db, actor: Me, shop_id: FromPath[int], occupation: FromQuery[str] = "") -> Response:
    shop = policy.get_shop_for_sponsor_export(db, actor, shop_id)
    exported = sponsor.program_file(db, shop, occupation[:120])
    return _file(exported.name, "text/csv; charset=utf-8", exported.data)


HANDLERS = [certificate_pdf, apprentice_csv, sponsor_page, program_csv]
