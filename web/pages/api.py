"""JSON API for programs and HTMX. Errors answer with {"status_code", "detail", "errors"?}."""

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from pydantic import BaseModel
from sqlmodel import Session, select

from mentoring.access import policy
from mentoring.people.models import Person
from web.apidoc import SECURITY, errors
from web.pages.api_v1 import api_actor


class MeOut(BaseModel):
    id: int
    full_name: str
    roles: list[dict]
    home: str


class HealthOut(BaseModel):
    status: str


class MenteeOut(BaseModel):
    id: int
    full_name: str


@get("/api/me", sync_to_thread=True, security=SECURITY, responses=errors(401))
def api_me(request: Request, db: NamedDependency[Session]) -> MeOut:
    """Who the caller is: the token's person (with the token's organization only) or the signed-in person."""
    actor = api_actor(request, db)
    roles = [{"organization_id": org, "role": role} for org, role in sorted(actor.memberships)]
    return MeOut(id=actor.person_id, full_name=actor.name, roles=roles, home=policy.home_path(actor))


@get("/api/mentees", sync_to_thread=True, security=SECURITY, responses=errors(401))
def api_mentees(request: Request, db: NamedDependency[Session]) -> list[MenteeOut]:
    """The mentees the caller may see."""
    actor = api_actor(request, db)
    ids = policy.visible_mentee_ids(actor).subquery()
    rows = db.exec(select(Person).where(Person.id.in_(select(ids.c[0]))).order_by(Person.full_name)).all()
    return [MenteeOut(id=p.id, full_name=p.full_name) for p in rows]


@get("/healthz", sync_to_thread=True, exclude_from_csrf=True, responses={503: ResponseSpec(
    data_container=HealthOut, description="The database does not answer.")})
def healthz(request: Request) -> Response[HealthOut]:
    ok = request.app.state.database.ping()
    return Response({"status": "ok" if ok else "database unreachable"}, status_code=200 if ok else 503)


HANDLERS = [api_me, api_mentees, healthz]
