"""Registered apprenticeship pages: the program form on a triad, and the OJL/RTI page with classroom terms."""

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlmodel import Session

from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.people import roster
from mentoring.people.models import Organization, Person, Triad
from mentoring.progress import apprenticeship, program
from web.render import FormData, page, submit

Db = NamedDependency[Session]
Me = NamedDependency[Actor]


def _program_page(db: Session, triad: Triad, *, form: dict, errors: dict, status_code: int = 200) -> Response:
    app = apprenticeship.apprenticeship_of(db, triad.id)
    return page("admin/program_form.html", status_code=status_code, row=roster.triad_row(db, triad.id), app=app,
                rows=program.schedule_rows(db, triad, app), form=form, errors=errors, kinds=apprenticeship.KINDS,
                statuses=apprenticeship.STATUSES, credit_rules=apprenticeship.CREDIT_RULES)


@get("/admin/triads/{triad_id:int}/program", sync_to_thread=True)
def program_form(db: Db, actor: Me, triad_id: FromPath[int]) -> Response:
    triad = policy.get_triad_for_program(db, actor, triad_id)
    return _program_page(db, triad, form=program.form_of(db, triad), errors={})


@post("/admin/triads/{triad_id:int}/program", sync_to_thread=True)
def program_save(db: Db, actor: Me, triad_id: FromPath[int], data: FormData) -> Response:
    triad = policy.get_triad_for_program(db, actor, triad_id)
    form = {k: v for k, v in data.items() if k != "_csrf_token"}
    return submit(db, lambda: program.save_program(db, actor, triad, data),
                  done=f"/admin/triads/{triad.id}?done=program-saved",
                  failed=lambda e: _program_page(db, triad, form=form, errors=e.errors, status_code=400))


def _apprenticeship_page(db: Session, actor: Actor, app, *, form: dict, errors: dict,
                         status_code: int = 200) -> Response:
    triad = db.get(Triad, app.triad_id)
    return page("progress/apprenticeship.html", status_code=status_code, app=app, triad=triad,
                mentee=db.get(Person, triad.mentee_id), shop=db.get(Organization, app.shop_id),
                kinds=apprenticeship.KINDS, summary=apprenticeship.hours_summary(db, app),
                terms=apprenticeship.rti_records(db, app.id), may_record=policy.may_record_rti(db, actor, app),
                can_manage=policy.can_manage_shop(actor, app.shop_id), form=form, errors=errors)


@get("/apprenticeships/{app_id:int}", sync_to_thread=True)
def apprenticeship_detail(db: Db, actor: Me, app_id: FromPath[int]) -> Response:
    app = policy.get_apprenticeship_for_viewer(db, actor, app_id)
    return _apprenticeship_page(db, actor, app, form={}, errors={})


@post("/apprenticeships/{app_id:int}/rti", sync_to_thread=True)
def rti_add(db: Db, actor: Me, app_id: FromPath[int], data: FormData) -> Response:
    app = policy.get_apprenticeship_for_viewer(db, actor, app_id)
    form = {k: v for k, v in data.items() if k != "_csrf_token"}
    return submit(db, lambda: program.record_rti(db, actor, app, data), done=f"/apprenticeships/{app.id}#rti",
                  failed=lambda e: _apprenticeship_page(db, actor, app, form=form, errors=e.errors, status_code=400))


HANDLERS = [program_form, program_save, apprenticeship_detail, rti_add]
