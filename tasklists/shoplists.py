"""Shaping a template into a shop's task list: not applicable, shop tasks, order, phases, ratings, publish."""

import json
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from tasklists.clock import utcnow
from tasklists.documents import PRIORITIES, TaskListDoc, TaskRow, is_shop_code
from tasklists.errors import FormError
from tasklists.models import ShopTask, ShopTaskList, ShopTaskListVersion, TaskListTemplate
from tasklists.store import template_tasks

RATINGS = range(1, 6)


def _clean(value: str, what: str, limit: int, *, required: bool = True) -> str:
    value = " ".join((value or "").split())
    if required and not value:
        raise FormError({what: "This cannot be empty."})
    if len(value) > limit:
        raise FormError({what: f"Keep it under {limit} characters."})
    return value


def _rating(value, field: str, *, allow_none: bool) -> int | None:
    if value in (None, "") and allow_none:
        return None
    try:
        rating = int(value)
    except (TypeError, ValueError):
        rating = 0
    if rating not in RATINGS:
        raise FormError({field: "Choose a rating from 1 to 5."})
    return rating


# --- lists and versions -------------------------------------------------------------

def start(db: Session, *, shop_id: int, template: TaskListTemplate, level: str, name: str,
          created_by_id: int | None) -> ShopTaskList:
    """A new shop list from a template at one level, as a draft version 1."""
    # "mlr" typed in a form, the API or a script means the standard's MLR.
    level = {lv.upper(): lv for lv in template.levels.split()}.get(level.strip().upper(), level)
    if level not in template.levels.split():
        raise FormError({"level": f"{template.title} {template.edition} has the levels {template.levels}."})
    task_list, version = _new_list(db, shop_id=shop_id, template=template, level=level, name=name,
                                   created_by_id=created_by_id)
    picked = [t for t in template_tasks(db, template.id) if level in t.levels.split()]
    db.add_all(ShopTask(version_id=version.id, template_task_id=t.id, position=i, area_code=t.area_code,
                        area_title=t.area_title, section_code=t.section_code, section_title=t.section_title,
                        code=t.code, statement=t.statement, priority=t.priority, levels=t.levels)
               for i, t in enumerate(picked))
    db.flush()
    return task_list


def _new_list(db: Session, *, shop_id: int, template: TaskListTemplate, level: str, name: str,
              created_by_id: int | None) -> tuple[ShopTaskList, ShopTaskListVersion]:
    """An empty list with its draft version 1; the name must be free at the shop."""
    name = _clean(name, "name", 120)
    if db.exec(select(ShopTaskList.id).where(ShopTaskList.shop_id == shop_id, ShopTaskList.name == name)).first():
        raise FormError({"name": "This shop already has a task list with that name."})
    task_list = ShopTaskList(shop_id=shop_id, template_id=template.id, level=level, name=name,
                             created_by_id=created_by_id)
    db.add(task_list)
    db.flush()
    version = ShopTaskListVersion(list_id=task_list.id, number=1)
    db.add(version)
    db.flush()
    return task_list, version


def versions(db: Session, list_id: int) -> list[ShopTaskListVersion]:
    return list(db.exec(select(ShopTaskListVersion).where(ShopTaskListVersion.list_id == list_id)
                        .order_by(ShopTaskListVersion.number)).all())


def latest_published(db: Session, list_id: int) -> ShopTaskListVersion | None:
    return next((v for v in reversed(versions(db, list_id)) if not v.is_draft), None)


def current_draft(db: Session, list_id: int) -> ShopTaskListVersion | None:
    return next((v for v in versions(db, list_id) if v.is_draft), None)


def editable_version(db: Session, list_id: int) -> ShopTaskListVersion:
    """The draft to change; after publishing, the next edit copies the published version into a new draft."""
    existing = versions(db, list_id)
    draft = next((v for v in existing if v.is_draft), None)
    if draft:
        return draft
    source = existing[-1]
    draft = ShopTaskListVersion(list_id=list_id, number=source.number + 1, required_rating=source.required_rating)
    db.add(draft)
    db.flush()
    db.add_all(ShopTask(**t.model_dump(exclude={"id", "version_id"}), version_id=draft.id)
               for t in tasks(db, source.id))
    db.flush()
    return draft


def tasks(db: Session, version_id: int) -> list[ShopTask]:
    return list(db.exec(select(ShopTask).where(ShopTask.version_id == version_id)
                        .order_by(ShopTask.position)).all())


def task_in_draft(db: Session, list_id: int, code: str) -> ShopTask:
    """The task with this code in the list's draft (made on first edit)."""
    draft = editable_version(db, list_id)
    task = db.exec(select(ShopTask).where(ShopTask.version_id == draft.id, ShopTask.code == code)).first()
    if task is None:
        raise FormError({"code": f"There is no task {code} in this list."})
    return task


def publish(db: Session, version: ShopTaskListVersion, *, published_by_id: int | None) -> None:
    if not version.is_draft:
        raise FormError({"": f"Version {version.number} is already published."})
    if not any(not t.not_applicable for t in tasks(db, version.id)):
        raise FormError({"": "Every task is marked not applicable; keep at least one before publishing."})
    version.published_at = utcnow()
    version.published_by_id = published_by_id
    db.add(version)


# --- editing a draft ---------------------------------------------------------------------

def set_not_applicable(db: Session, task: ShopTask, *, not_applicable: bool, reason: str = "") -> None:
    if not_applicable:
        if not reason.strip():
            raise FormError({"na_reason": f"Say why {task.code} does not apply at this shop."})
        task.na_reason = _clean(reason, "na_reason", 300)
    else:
        task.na_reason = ""
    task.not_applicable = not_applicable
    db.add(task)


def set_phase(db: Session, task: ShopTask, phase: str) -> None:
    task.phase = _clean(phase, "phase", 60, required=False)
    db.add(task)


def set_task_rating(db: Session, task: ShopTask, rating) -> None:
    task.required_rating = _rating(rating, "required_rating", allow_none=True)
    db.add(task)


def set_list_rating(db: Session, version: ShopTaskListVersion, rating) -> None:
    version.required_rating = _rating(rating, "required_rating", allow_none=False)
    db.add(version)


def move(db: Session, task: ShopTask, direction: str) -> None:
    """Swap a task with its neighbour in the same section ("up" or "down")."""
    if direction not in ("up", "down"):
        raise FormError({"direction": "Move a task up or down."})
    siblings = [t for t in tasks(db, task.version_id)
                if (t.area_code, t.section_code) == (task.area_code, task.section_code)]
    i = next(i for i, t in enumerate(siblings) if t.id == task.id)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(siblings):
        other = siblings[j]
        task.position, other.position = other.position, task.position
        db.add_all([task, other])


def add_shop_task(db: Session, version: ShopTaskListVersion, *, area_code: str, section_code: str,
                  statement: str, priority: str) -> ShopTask:
    """A task of the shop's own, placed at the end of a section, with an S. code."""
    statement = _clean(statement, "statement", 500)
    if priority not in PRIORITIES:
        raise FormError({"priority": "Choose P-1, P-2 or P-3."})
    current = tasks(db, version.id)
    section = [t for t in current if (t.area_code, t.section_code) == (area_code, section_code)]
    if not section:
        raise FormError({"section": "Choose a section of this list."})
    taken = {t.code for t in current}
    n = 1 + sum(1 for t in section if t.template_task_id is None)
    while f"S.{area_code}.{section_code}.{n}" in taken:
        n += 1
    after = section[-1].position
    for t in current:  # make room right after the section's last task
        if t.position > after:
            t.position += 1
            db.add(t)
    task = ShopTask(version_id=version.id, position=after + 1, area_code=area_code,
                    area_title=section[0].area_title, section_code=section_code,
                    section_title=section[0].section_title, code=f"S.{area_code}.{section_code}.{n}",
                    statement=statement, priority=priority, levels=section[0].levels)
    db.add(task)
    db.flush()
    return task


def remove_shop_task(db: Session, task: ShopTask) -> None:
    if task.template_task_id is not None:
        raise FormError({"": "Tasks from the standard cannot be removed; mark them not applicable instead."})
    db.delete(task)


# --- comparing and exporting ---------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    code: str
    statement: str
    change: str


def differences(db: Session, task_list: ShopTaskList, version: ShopTaskListVersion) -> list[Difference]:
    """What this version changes from the template at the list's level, in list order."""
    standard = [t for t in template_tasks(db, task_list.template_id) if task_list.level in t.levels.split()]
    rank = {t.code: i for i, t in enumerate(standard)}
    current = tasks(db, version.id)
    result = []
    for i, task in enumerate(current):
        if task.template_task_id is None:
            result.append(Difference(task.code, task.statement, f"Shop task added ({task.priority})"))
            continue
        if task.not_applicable:
            result.append(Difference(task.code, task.statement, f"Not applicable: {task.na_reason}"))
        previous = next((t for t in reversed(current[:i]) if t.template_task_id is not None
                         and (t.area_code, t.section_code) == (task.area_code, task.section_code)), None)
        if previous is not None and rank[previous.code] > rank[task.code]:
            result.append(Difference(task.code, task.statement, "Moved earlier in its section"))
        if task.phase:
            result.append(Difference(task.code, task.statement, f"Phase: {task.phase}"))
        if task.required_rating is not None:
            result.append(Difference(task.code, task.statement, f"Required rating {task.required_rating}"))
    return result


def task_counts(db: Session, version_ids: list[int]) -> dict[int, int]:
    if not version_ids:
        return {}
    return dict(db.exec(select(ShopTask.version_id, func.count()).where(
        ShopTask.version_id.in_(version_ids), ShopTask.not_applicable.is_(False))
        .group_by(ShopTask.version_id)).all())


def version_doc(db: Session, task_list: ShopTaskList, version: ShopTaskListVersion,
                template: TaskListTemplate) -> TaskListDoc:
    rows = tuple(TaskRow(t.area_code, t.area_title, t.section_code, t.section_title, t.code, t.statement,
                         t.priority, tuple(t.levels.split()), t.not_applicable, t.na_reason, t.phase,
                         t.required_rating) for t in tasks(db, version.id))
    return TaskListDoc(template.program, task_list.name, template.edition, tuple(template.levels.split()),
                       json.loads(template.coverage_rule), rows)


def import_list(db: Session, *, shop_id: int, doc: TaskListDoc, name: str, created_by_id: int | None
                ) -> ShopTaskList:
    """A shop list from a task-list file, as a draft: standard codes must exist in the edition's template."""
    template = db.exec(select(TaskListTemplate).where(
        TaskListTemplate.program == doc.program, TaskListTemplate.edition == doc.edition)
        .order_by(TaskListTemplate.version.desc())).first()
    if template is None:
        raise FormError({"file": f"There is no {doc.program} {doc.edition} template to build this list on."})
    standard = {t.code: t for t in template_tasks(db, template.id)}
    unknown = [r.code for r in doc.rows if not is_shop_code(r.code) and r.code not in standard]
    if unknown:
        raise FormError({"file": f"These codes are not in the {doc.edition} template: {', '.join(unknown[:10])}"})
    level = next((lv for lv in template.levels.split()
                  if all(lv in r.levels for r in doc.rows if not is_shop_code(r.code))), None)
    if level is None:
        raise FormError({"file": "The tasks do not share a level of the template."})
    task_list, version = _new_list(db, shop_id=shop_id, template=template, level=level, name=name,
                                   created_by_id=created_by_id)
    db.add_all(_imported_task(version.id, i, r, standard.get(r.code)) for i, r in enumerate(doc.rows))
    db.flush()
    return task_list


def _imported_task(version_id: int, position: int, row: TaskRow, standard) -> ShopTask:
    # A standard code keeps the standard's words and priority, whatever the file says.
    source = standard or row
    levels = standard.levels if standard else " ".join(row.levels)
    return ShopTask(version_id=version_id, position=position, area_code=row.area_code, area_title=row.area_title,
                    section_code=row.section_code, section_title=row.section_title, code=row.code,
                    statement=source.statement, priority=source.priority, levels=levels,
                    template_task_id=standard.id if standard else None, not_applicable=row.not_applicable,
                    na_reason=row.na_reason, phase=row.phase, required_rating=row.required_rating)
