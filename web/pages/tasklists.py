"""Shop task lists: start from a template, customize a draft, publish, compare, export, import, assign."""

from dataclasses import dataclass
from typing import Annotated

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from sqlmodel import Session

from exports import case
from exports.sheet import blank_sheet
from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.errors import FormError, NotFound, parse_input
from mentoring.people import roster
from mentoring.progress import board, customize
from mentoring.progress.customize import AssignmentIn
from tasklists import files, shoplists, store
from tasklists.models import ShopTaskList, TaskListTemplate
from web.render import UPLOAD_BODY_BYTES, FormData, page, refused_page, submit

Db = NamedDependency[Session]
Me = NamedDependency[Actor]


# --- a shop's lists ------------------------------------------------------------------------

def _shop_page(db: Session, actor: Actor, shop, *, errors=None, form=None, status_code=200) -> Response:
    lists = customize.lists_at(db, shop.id)
    status = {}
    for task_list in lists:
        versions = shoplists.versions(db, task_list.id)
        status[task_list.id] = (versions[-1], shoplists.task_counts(db, [versions[-1].id]).get(versions[-1].id, 0))
    return page("tasklists/shop.html", status_code=status_code, shop=shop, lists=lists, status=status,
                templates=store.latest_templates(db), triads=roster.triads_at(db, {shop.id}),
                published=customize.published_versions_at(db, shop.id),
                assignments=customize.assignments_at(db, shop.id),
                errors=errors or {}, form=form or {})


@get("/shops/{shop_id:int}/tasklists", sync_to_thread=True)
def shop_lists(db: Db, actor: Me, shop_id: FromPath[int]) -> Response:
    shop = policy.get_shop_for_manager(db, actor, shop_id)
    return _shop_page(db, actor, shop)


@post("/shops/{shop_id:int}/tasklists", sync_to_thread=True)
def start_list(db: Db, actor: Me, shop_id: FromPath[int], data: FormData) -> Response:
    shop = policy.get_shop_for_manager(db, actor, shop_id)
    return submit(db, lambda: customize.start_list(db, actor, shop, template_id=data.get("template_id"),
                                                   level=str(data.get("level", "")), name=str(data.get("name", ""))),
                  done=lambda task_list: f"/tasklists/{task_list.id}",
                  failed=lambda e: _shop_page(db, actor, shop, errors=e.errors, form=data, status_code=400))


SHOWN_PROBLEMS = 50


@dataclass
class ImportForm:
    file: UploadFile
    import_name: str = ""


@post("/shops/{shop_id:int}/tasklists/import", sync_to_thread=True, request_max_body_size=UPLOAD_BODY_BYTES)
def import_list(db: Db, actor: Me, shop_id: FromPath[int],
                data: Annotated[ImportForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> Response:
    shop = policy.get_shop_for_manager(db, actor, shop_id)
    raw = data.file.file.read()
    try:
        doc = files.parse(raw, data.file.filename or "")
    except files.TaskListFileError as e:
        # The first problems, in line order, are enough to start fixing: a file broken on every line would
        # otherwise make a page many times its own size.
        return _shop_page(db, actor, shop, status_code=400,
                          errors={"file": f"{data.file.filename} was refused; nothing was imported."},
                          form={"problems": [str(p) for p in e.problems[:SHOWN_PROBLEMS]],
                                "more_problems": max(0, len(e.problems) - SHOWN_PROBLEMS)})
    return submit(db, lambda: customize.import_list(db, actor, shop, doc, data.import_name),
                  done=lambda task_list: f"/tasklists/{task_list.id}", failed=lambda e: _shop_page(
                      db, actor, shop, status_code=400,
                      errors={("import_name" if k == "name" else k): v for k, v in e.errors.items()}))


@post("/shops/{shop_id:int}/assignments", sync_to_thread=True)
def assign(db: Db, actor: Me, shop_id: FromPath[int], data: FormData) -> Response:
    shop = policy.get_shop_for_manager(db, actor, shop_id)
    return submit(db, lambda: customize.assign(db, actor, shop, parse_input(AssignmentIn, {
        **data, "target_date": data.get("target_date") or None})),
        done=f"/shops/{shop.id}/tasklists?done=assigned#assignments",
        failed=lambda e: _shop_page(db, actor, shop, errors=e.errors, form=data, status_code=400))


# --- one list ---------------------------------------------------------------------------------

def _sections(tasks):
    """Tasks grouped as [(area_code, area_title, [(section_key, section_title, [tasks])])], in list order."""
    areas: list = []
    for task in tasks:
        if not areas or areas[-1][0] != task.area_code:
            areas.append((task.area_code, task.area_title, []))
        sections = areas[-1][2]
        key = f"{task.area_code}.{task.section_code}"
        if not sections or sections[-1][0] != key:
            sections.append((key, task.section_title, []))
        sections[-1][2].append(task)
    return areas


def _version_for_view(db: Session, task_list: ShopTaskList, number: int | None):
    versions = shoplists.versions(db, task_list.id)
    if number is not None:
        return next((v for v in versions if v.number == number), versions[-1]), versions
    return versions[-1], versions


def _list_page(db: Session, task_list: ShopTaskList, *, errors=None, form=None, status_code=200) -> Response:
    version, versions = _version_for_view(db, task_list, None)
    tasks = shoplists.tasks(db, version.id)
    template = db.get(TaskListTemplate, task_list.template_id)
    return page("tasklists/list.html", status_code=status_code, task_list=task_list, version=version,
                versions=versions, template=template, areas=_sections(tasks), errors=errors or {}, form=form or {},
                published=any(not v.is_draft for v in versions),
                case_package=f"{case.ROOT}/CFPackages/{case.document_id(case.shop_list_key(task_list.id))}",
                applicable=sum(not t.not_applicable for t in tasks), total=len(tasks))


@get("/tasklists/{list_id:int}", sync_to_thread=True)
def list_page(db: Db, actor: Me, list_id: FromPath[int]) -> Response:
    return _list_page(db, customize.get_list(db, actor, list_id))


@get("/tasklists/{list_id:int}/tasks/{code:str}", sync_to_thread=True)
def task_editor(request: Request, db: Db, actor: Me, list_id: FromPath[int], code: FromPath[str],
                row: FromQuery[int] = 0) -> Response:
    """One task's changes: inline (HTMX) in place of its line, or as a page of its own without scripts."""
    task_list = customize.get_list(db, actor, list_id)
    version = shoplists.versions(db, task_list.id)[-1]
    task = next((t for t in shoplists.tasks(db, version.id) if t.code == code), None)
    if task is None:
        raise NotFound
    inline = bool(request.headers.get("hx-request"))
    if inline and row:
        return page("tasklists/_task_row.html", task_list=task_list, t=task, errors={})
    return page("tasklists/_task_edit.html" if inline else "tasklists/task.html", task_list=task_list,
                version=version, t=task, inline=inline, errors={})


@get("/tasklists/{list_id:int}/shop-tasks", sync_to_thread=True)
def add_task_form(request: Request, db: Db, actor: Me, list_id: FromPath[int], section: FromQuery[str] = ""
                  ) -> Response:
    """The form to add a shop task to one section, fetched only when asked for: inline, or as a page."""
    task_list = customize.get_list(db, actor, list_id)
    inline = bool(request.headers.get("hx-request"))
    return page("tasklists/_add_task.html" if inline else "tasklists/add_task.html", task_list=task_list,
                key=section[:40], inline=inline, errors={})


@post("/tasklists/{list_id:int}/not-applicable", sync_to_thread=True)
def bulk_not_applicable(db: Db, actor: Me, list_id: FromPath[int], data: FormData) -> Response:
    task_list = customize.get_list(db, actor, list_id)
    codes = data.get("codes", [])
    codes = [codes] if isinstance(codes, str) else list(codes)
    reason = str(data.get("na_reason", ""))
    return submit(db, lambda: customize.mark_not_applicable(db, actor, task_list, codes, reason),
                  done=f"/tasklists/{task_list.id}",
                  failed=lambda e: _list_page(db, task_list, errors=e.errors, form={"na_reason": reason},
                                              status_code=400))


def _after_change(request: Request, db: Session, task_list: ShopTaskList, task,
                  draft_before: int | None) -> Response | str:
    """After a change has committed: back to the task's section, or for HTMX the section itself."""
    section_key = f"{task.area_code}.{task.section_code}"
    version = shoplists.versions(db, task_list.id)[-1]
    if not request.headers.get("hx-request"):
        return f"/tasklists/{task_list.id}#sec-{section_key}"
    if draft_before != version.id:
        # A new draft began: the header and every section change, so HTMX reloads the page.
        return Response("", headers={"HX-Refresh": "true"})
    every = shoplists.tasks(db, version.id)
    tasks = [t for t in every if f"{t.area_code}.{t.section_code}" == section_key]
    return page("tasklists/_section.html", task_list=task_list, version=version, counts=_counts(every),
                section=(section_key, tasks[0].section_title if tasks else "", tasks), errors={})


def _counts(tasks) -> tuple[int, int]:
    """How many tasks apply, of all: the page header's figure, sent along with each changed section."""
    return sum(not t.not_applicable for t in tasks), len(tasks)


@post("/tasklists/{list_id:int}/tasks/{code:str}", sync_to_thread=True)
def change_task(request: Request, db: Db, actor: Me, list_id: FromPath[int], code: FromPath[str],
                data: FormData) -> Response:
    task_list = customize.get_list(db, actor, list_id)
    draft_id = getattr(shoplists.current_draft(db, task_list.id), "id", None)
    return submit(db, lambda: customize.edit_task(db, actor, task_list, code, str(data.get("change", "")), data),
                  done=lambda task: _after_change(request, db, task_list, task, draft_id),
                  failed=lambda e: _refused(request, db, task_list, e, code=code))


def _refused(request: Request, db: Session, task_list: ShopTaskList, error: FormError, *, code: str = "",
             section_key: str = "") -> Response:
    """HTMX gets the section back with the message beside the task; a plain form gets an error page."""
    message = " ".join(error.errors.values())
    version = shoplists.versions(db, task_list.id)[-1]
    tasks = shoplists.tasks(db, version.id)
    if not section_key:
        section_key = next((f"{t.area_code}.{t.section_code}" for t in tasks if t.code == code), "")
    in_section = [t for t in tasks if f"{t.area_code}.{t.section_code}" == section_key]
    if request.headers.get("hx-request") and in_section:
        return page("tasklists/_section.html", status_code=400, task_list=task_list, version=version,
                    section=(section_key, in_section[0].section_title, in_section), counts=_counts(tasks),
                    errors={"code": code or section_key, "message": message})
    return page("error.html", status_code=400, status=400, title="That change was not saved",
                detail=message, back=f"/tasklists/{task_list.id}#sec-{section_key}")


@post("/tasklists/{list_id:int}/shop-tasks", sync_to_thread=True)
def add_shop_task(request: Request, db: Db, actor: Me, list_id: FromPath[int], data: FormData) -> Response:
    task_list = customize.get_list(db, actor, list_id)
    draft_id = getattr(shoplists.current_draft(db, task_list.id), "id", None)
    return submit(db, lambda: customize.add_shop_task(db, actor, task_list, data),
                  done=lambda task: _after_change(request, db, task_list, task, draft_id),
                  failed=lambda e: _refused(request, db, task_list, e, section_key=str(data.get("section", ""))))


@post("/tasklists/{list_id:int}/rating", sync_to_thread=True)
def list_rating(db: Db, actor: Me, list_id: FromPath[int], data: FormData) -> Response:
    task_list = customize.get_list(db, actor, list_id)
    return submit(db, lambda: customize.set_list_rating(db, actor, task_list, data.get("required_rating")),
                  done=f"/tasklists/{task_list.id}",
                  failed=refused_page("The rating was not saved", f"/tasklists/{task_list.id}"))


@post("/tasklists/{list_id:int}/publish", sync_to_thread=True)
def publish(db: Db, actor: Me, list_id: FromPath[int]) -> Response:
    task_list = customize.get_list(db, actor, list_id)
    return submit(db, lambda: customize.publish(db, actor, task_list), done=f"/tasklists/{task_list.id}?published=1",
                  failed=refused_page("Not published", f"/tasklists/{task_list.id}"))


# --- assigning a published list to several mentees ----------------------------------------------

def _assign_page(db: Session, task_list: ShopTaskList, *, errors=None, form=None, status_code=200) -> Response:
    published = [v for v in shoplists.versions(db, task_list.id) if not v.is_draft]
    if not published:
        return page("error.html", status_code=400, status=400, title="Nothing to assign yet",
                    detail="Publish the list first; mentees are given a published version.",
                    back=f"/tasklists/{task_list.id}")
    start, target = customize.default_dates(task_list)
    form = form or {"version_id": str(published[-1].id), "start_date": start.isoformat(),
                    "target_date": target.isoformat(), "triad_ids": []}
    return page("tasklists/assign.html", status_code=status_code, task_list=task_list, published=published,
                default_weeks=(target - start).days // 7,
                triads=roster.triads_at(db, {task_list.shop_id}), errors=errors or {}, form=form)


@get("/tasklists/{list_id:int}/assign", sync_to_thread=True)
def assign_page(db: Db, actor: Me, list_id: FromPath[int]) -> Response:
    return _assign_page(db, customize.get_list(db, actor, list_id))


@post("/tasklists/{list_id:int}/assign", sync_to_thread=True)
def assign_several(db: Db, actor: Me, list_id: FromPath[int], data: FormData) -> Response:
    task_list = customize.get_list(db, actor, list_id)
    shop = policy.get_shop_for_manager(db, actor, task_list.shop_id)
    triad_ids = data.get("triad_ids", [])
    form = {**data, "triad_ids": [triad_ids] if isinstance(triad_ids, str) else list(triad_ids)}
    return submit(db, lambda: customize.assign_many(db, actor, shop, data.get("version_id"), form["triad_ids"],
                                                    data.get("start_date"), data.get("target_date")),
                  done=lambda made: f"/shops/{shop.id}/tasklists?assigned={len(made)}#assignments",
                  failed=lambda e: _assign_page(db, task_list, errors=e.errors, form=form, status_code=400))


# --- blank task sheets for paper ---------------------------------------------------------------

def _pdf(body: bytes, stem: str) -> Response:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in stem)
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{safe}.pdf"'})


@get("/tasklists/{list_id:int}/sheet.pdf", sync_to_thread=True)
def list_sheet(db: Db, actor: Me, list_id: FromPath[int]) -> Response:
    task_list = customize.get_list(db, actor, list_id)
    version, _ = _version_for_view(db, task_list, None)
    state = "draft" if version.is_draft else "published"
    return _pdf(blank_sheet(f"{task_list.name}: task sheet",
                            [f"Level {task_list.level} - version {version.number} ({state})",
                             "Mentee: ______________________________   Mentor: ______________________________"],
                            shoplists.tasks(db, version.id)),
                f"{task_list.name}-v{version.number}-sheet")


@get("/assignments/{assignment_id:int}/sheet.pdf", sync_to_thread=True)
def assignment_sheet(db: Db, actor: Me, assignment_id: FromPath[int]) -> Response:
    b = board.board(db, board.get_assignment(db, actor, assignment_id))
    return _pdf(blank_sheet(f"{b.mentee.full_name}: {b.task_list.name}",
                            [f"{b.shop.name} - level {b.task_list.level} - version {b.version.number}",
                             f"Started {b.assignment.start_date.isoformat()}"
                             + (f", target {b.assignment.target_date.isoformat()}" if b.assignment.target_date else ""),
                             "Mentor: ______________________________"],
                            [r.task for r in b.rows]),
                f"{b.mentee.full_name}-{b.task_list.name}-sheet")


@get("/tasklists/{list_id:int}/diff", sync_to_thread=True)
def diff_page(db: Db, actor: Me, list_id: FromPath[int]) -> Response:
    task_list = customize.get_list(db, actor, list_id)
    version, _ = _version_for_view(db, task_list, None)
    return page("tasklists/diff.html", task_list=task_list, version=version,
                template=db.get(TaskListTemplate, task_list.template_id),
                differences=shoplists.differences(db, task_list, version))


@get("/tasklists/{list_id:int}/export", sync_to_thread=True)
def export_list(db: Db, actor: Me, list_id: FromPath[int], fmt: FromQuery[str] = "csv") -> Response:
    task_list = customize.get_list(db, actor, list_id)
    version, _ = _version_for_view(db, task_list, None)
    doc = shoplists.version_doc(db, task_list, version, db.get(TaskListTemplate, task_list.template_id))
    return _download(doc, fmt, f"{task_list.name}-v{version.number}")


@get("/tasklists/templates", sync_to_thread=True)
def templates_page(db: Db, actor: Me) -> Response:
    policy.require_list_editor(actor)
    found = store.templates(db)
    packages = {s.template.id: f"{case.ROOT}/CFPackages/"
                f"{case.document_id(case.catalog_key(s.template.program, s.template.edition))}" for s in found}
    return page("tasklists/templates.html", templates=found, case_packages=packages)


@get("/tasklists/templates/{template_id:int}/export", sync_to_thread=True)
def export_template(db: Db, actor: Me, template_id: FromPath[int], fmt: FromQuery[str] = "csv") -> Response:
    policy.require_list_editor(actor)
    template = db.get(TaskListTemplate, template_id)
    if template is None:
        raise NotFound
    return _download(store.template_doc(db, template), fmt,
                     f"{template.program}-{template.edition}-v{template.version}")


def _download(doc, fmt: str, stem: str) -> Response:
    if fmt not in ("csv", "json"):
        raise NotFound
    body = files.to_csv(doc) if fmt == "csv" else files.to_json(doc)
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in stem)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{safe}.{fmt}"'})


HANDLERS = [shop_lists, start_list, import_list, assign, list_page, task_editor, add_task_form, bulk_not_applicable,
            assign_page, assign_several, list_sheet, assignment_sheet, change_task, add_shop_task, list_rating,
            publish, diff_page, export_list, templates_page, export_template]
