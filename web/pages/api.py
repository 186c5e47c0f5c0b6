"""JSON API for programs and HTMX. Errors answer with {"status_code", "detail", "errors"?}."""

from litestar import Request, Response, get
from litestar.di import NamedDependency
from pydantic import BaseModel
from sqlmodel import Session, select

from mentoring import policy
from mentoring.models import Person
from mentoring.policy import Actor


class MeOut(BaseModel):
    id: int
    full_name: str
    roles: list[dict]
    home: str


class MenteeOut(BaseModel):
    id: int
    full_name: str


@get("/api/me", sync_to_thread=True)
def api_me(actor: NamedDependency[Actor]) -> MeOut:
    roles = [{"organization_id": org, "role": role} for org, role in sorted(actor.memberships)]
    return MeOut(id=actor.person_id, full_name=actor.name, roles=roles, home=policy.home_path(actor))


@get("/api/mentees", sync_to_thread=True)
def api_mentees(db: NamedDependency[Session], actor: NamedDependency[Actor]) -> list[MenteeOut]:
    ids = policy.visible_mentee_ids(actor).subquery()
    rows = db.exec(select(Person).where(Person.id.in_(select(ids.c[0]))).order_by(Person.full_name)).all()
    return [MenteeOut(id=p.id, full_name=p.full_name) for p in rows]


@get("/healthz", sync_to_thread=True, exclude_from_csrf=True)
def healthz(request: Request) -> Response:
    ok = request.app.state.database.ping()
    return Response({"status": "ok" if ok else "database unreachable"}, status_code=200 if ok else 503)


HANDLERS = [api_me, api_mentees, healthz]
