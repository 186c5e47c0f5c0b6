"""Shop task lists for managers and admins: who may change them, and the audit of each change."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, field_validator
from sqlmodel import Session, select

from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.clock import utcnow
from mentoring.errors import FormError, NotFound
from mentoring.people.models import Organization, Triad
from mentoring.progress.models import Assignment
from mentoring.trail import audit
from tasklists import shoplists
from tasklists.documents import TaskListDoc
from tasklists.models import ShopTask, ShopTaskList, ShopTaskListVersion, TaskListTemplate


def get_list(db: Session, actor: Actor, list_id: int) -> ShopTaskList:
    task_list = db.get(ShopTaskList, list_id)
    if task_list is None:
        raise NotFound
    policy.get_shop_for_manager(db, actor, task_list.shop_id)
    return task_list


def lists_at(db: Session, shop_id: int) -> list[ShopTaskList]:
    return list(db.exec(select(ShopTaskList).where(ShopTaskList.shop_id == shop_id)
                        .order_by(ShopTaskList.name)).all())


def start_list(db: Session, actor: Actor, shop: Organization, *, template_id, level: str, name: str
               ) -> ShopTaskList:
    template = db.get(TaskListTemplate, _int(template_id, "template_id"))
    if template is None:
        raise FormError({"template_id": "Choose a task list to start from."})
    task_list = shoplists.start(db, shop_id=shop.id, template=template, level=level, name=name,
                                created_by_id=actor.person_id)
    audit.record(db, actor, "tasklist.start", task_list, org_id=shop.id, template_id=template.id, level=task_list.level)
    return task_list


def import_list(db: Session, actor: Actor, shop: Organization, doc: TaskListDoc, name: str) -> ShopTaskList:
    task_list = shoplists.import_list(db, shop_id=shop.id, doc=doc, name=name or doc.title,
                                      created_by_id=actor.person_id)
    audit.record(db, actor, "tasklist.import", task_list, org_id=shop.id, rows=len(doc.rows))
    return task_list


def edit_task(db: Session, actor: Actor, task_list: ShopTaskList, code: str, change: str, form: dict
              ) -> ShopTask:
    """Apply one change to a task of the list's draft; a published list gets a new draft first."""
    task = shoplists.task_in_draft(db, task_list.id, code)
    if change == "not_applicable":
        shoplists.set_not_applicable(db, task, not_applicable=True, reason=str(form.get("na_reason", "")))
    elif change == "applicable":
        shoplists.set_not_applicable(db, task, not_applicable=False)
    elif change == "phase":
        shoplists.set_phase(db, task, str(form.get("phase", "")))
    elif change == "rating":
        shoplists.set_task_rating(db, task, form.get("required_rating"))
    elif change in ("up", "down"):
        shoplists.move(db, task, change)
    elif change == "remove":
        shoplists.remove_shop_task(db, task)
    else:
        raise FormError({"": "Unknown change."})
    audit.record(db, actor, f"tasklist.task.{change}", task_list, org_id=task_list.shop_id, code=code,
                 **{k: str(v) for k, v in form.items() if k in ("na_reason", "phase", "required_rating")})
    return task


def mark_not_applicable(db: Session, actor: Actor, task_list: ShopTaskList, codes: list[str], reason: str
                        ) -> list[ShopTask]:
    """Mark several tasks not applicable with one reason; each is audited as if marked on its own."""
    codes = list(dict.fromkeys(c for c in codes if c))
    if not codes:
        raise FormError({"codes": "Pick at least one task with the box on its line."})
    if not reason.strip():
        raise FormError({"na_reason": "Say why the picked tasks do not apply at this shop."})
    marked = []
    for code in codes:
        try:
            marked.append(edit_task(db, actor, task_list, code, "not_applicable", {"na_reason": reason}))
        except FormError as e:
            raise FormError({("codes" if k == "code" else k): v for k, v in e.errors.items()}) from None
    return marked


def add_shop_task(db: Session, actor: Actor, task_list: ShopTaskList, form: dict) -> ShopTask:
    area_code, _, section_code = str(form.get("section", "")).partition(".")
    draft = shoplists.editable_version(db, task_list.id)
    task = shoplists.add_shop_task(db, draft, area_code=area_code, section_code=section_code,
                                   statement=str(form.get("statement", "")), priority=str(form.get("priority", "")))
    audit.record(db, actor, "tasklist.task.add", task_list, org_id=task_list.shop_id, code=task.code)
    return task


def set_list_rating(db: Session, actor: Actor, task_list: ShopTaskList, rating) -> None:
    draft = shoplists.editable_version(db, task_list.id)
    shoplists.set_list_rating(db, draft, rating)
    audit.record(db, actor, "tasklist.rating", task_list, org_id=task_list.shop_id, rating=str(rating))


def publish(db: Session, actor: Actor, task_list: ShopTaskList) -> ShopTaskListVersion:
    draft = shoplists.current_draft(db, task_list.id)
    if draft is None:
        raise FormError({"": "There are no unpublished changes."})
    shoplists.publish(db, draft, published_by_id=actor.person_id)
    audit.record(db, actor, "tasklist.publish", task_list, org_id=task_list.shop_id, version=draft.number)
    return draft


# --- assignments -------------------------------------------------------------------------

class AssignmentIn(BaseModel):
    triad_id: int | None = None  # blank: assign() asks to choose one
    version_id: int | None = None
    start_date: date | None = None  # blank: today at the shop
    target_date: date | None = None

    @field_validator("triad_id", "version_id", "start_date", "target_date", mode="before")
    @classmethod
    def _blank_is_none(cls, value):
        return None if isinstance(value, str) and not value.strip() else value


def published_versions_at(db: Session, shop_id: int) -> list[tuple[ShopTaskList, ShopTaskListVersion]]:
    return list(db.exec(select(ShopTaskList, ShopTaskListVersion)
                        .join(ShopTaskListVersion, ShopTaskListVersion.list_id == ShopTaskList.id)
                        .where(ShopTaskList.shop_id == shop_id, ShopTaskListVersion.published_at.is_not(None))
                        .order_by(ShopTaskList.name, ShopTaskListVersion.number.desc())).all())


def assign(db: Session, actor: Actor, shop: Organization, data: AssignmentIn) -> Assignment:
    """Give a mentee a published version; the assignment keeps that version whatever is edited later."""
    triad = db.get(Triad, data.triad_id) if data.triad_id else None
    errors = {}
    if triad is None or triad.shop_id != shop.id or triad.ended_at is not None:
        errors["triad_id"] = "Choose an active triad of this shop."
    version = db.get(ShopTaskListVersion, data.version_id) if data.version_id else None
    task_list = db.get(ShopTaskList, version.list_id) if version else None
    if version is None or task_list.shop_id != shop.id or version.is_draft:
        errors["version_id"] = "Choose a published task list of this shop."
    start = data.start_date or utcnow().astimezone(ZoneInfo(shop.timezone)).date()
    if data.target_date and data.target_date < start:
        errors["target_date"] = "The target date comes after the start date."
    if not errors and db.exec(select(Assignment.id).join(ShopTaskListVersion).where(
            Assignment.mentee_id == triad.mentee_id, Assignment.ended_at.is_(None),
            ShopTaskListVersion.list_id == task_list.id)).first():
        errors["version_id"] = "This mentee already works on this task list."
    if errors:
        raise FormError(errors)
    assignment = Assignment(triad_id=triad.id, mentee_id=triad.mentee_id, shop_id=shop.id, version_id=version.id,
                            start_date=start, target_date=data.target_date, created_by_id=actor.person_id)
    db.add(assignment)
    db.flush()
    audit.record(db, actor, "assignment.create", assignment, org_id=shop.id, version_id=version.id,
                 mentee_id=triad.mentee_id)
    return assignment


# Until a shop sets its own, a target date this far after the start, by level: long enough to meet the
# level's tasks at a few sign-offs a week. The manager sees it in the form and can change it.
TARGET_WEEKS = {"MLR": 52, "AST": 78, "MAST": 104}
DEFAULT_TARGET_WEEKS = 52
MAX_AT_ONCE = 200


def default_dates(task_list: ShopTaskList, start: date | None = None) -> tuple[date, date]:
    start = start or utcnow().date()
    return start, start + timedelta(weeks=TARGET_WEEKS.get(task_list.level.upper(), DEFAULT_TARGET_WEEKS))


def _date(value, field: str) -> date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FormError({field: "Give the date as year-month-day, for example 2026-09-01."}) from None


def assign_many(db: Session, actor: Actor, shop: Organization, version_id, triad_ids: list, start_date="",
                target_date="") -> list[Assignment]:
    """Give several mentees the same published version at once, all or none. Blank dates take the defaults
    (start today, target by level); a refusal names each mentee's problem under `triad_<id>`."""
    version = db.get(ShopTaskListVersion, _int(version_id, "version_id"))
    task_list = db.get(ShopTaskList, version.list_id) if version else None
    if task_list is None or task_list.shop_id != shop.id or version.is_draft:
        raise FormError({"version_id": "Choose a published task list of this shop."})
    ids = list(dict.fromkeys(_int(t, "triad_ids") for t in triad_ids))
    if not ids:
        raise FormError({"triad_ids": "Pick at least one mentee."})
    if len(ids) > MAX_AT_ONCE:  # a shop's roster is far smaller; this only bounds a forged form's work
        raise FormError({"triad_ids": f"Pick at most {MAX_AT_ONCE} mentees at once."})
    start = _date(start_date, "start_date")
    target = _date(target_date, "target_date")
    start, default_target = default_dates(task_list, start)
    data = {"version_id": version.id, "start_date": start, "target_date": target or default_target}
    errors, made = {}, []
    for triad_id in ids:
        try:
            made.append(assign(db, actor, shop, AssignmentIn(triad_id=triad_id, **data)))
        except FormError as e:
            if "target_date" in e.errors:
                raise FormError({"target_date": e.errors["target_date"]}) from None
            if "triad_id" in e.errors:  # not one of the shop's active triads listed on the form
                errors["triad_ids"] = e.errors["triad_id"]
            else:
                errors[f"triad_{triad_id}"] = " ".join(e.errors.values())
    if errors:
        raise FormError(errors)
    return made


def assignments_at(db: Session, shop_id: int):
    return db.exec(select(Assignment, ShopTaskList, ShopTaskListVersion)
                   .join(ShopTaskListVersion, ShopTaskListVersion.id == Assignment.version_id)
                   .join(ShopTaskList, ShopTaskList.id == ShopTaskListVersion.list_id)
                   .where(Assignment.shop_id == shop_id, Assignment.ended_at.is_(None))
                   .order_by(Assignment.created_at)).all()


def _int(value, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FormError({field: "Choose one from the list."}) from None
