"""Templates in the database: load the catalog, import a file as a template, read one back."""

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from tasklists import catalog, files
from tasklists.documents import TaskListDoc, TaskRow
from tasklists.models import TaskListTemplate, TemplateTask


def content_hash(doc: TaskListDoc) -> str:
    return hashlib.sha256(files.to_json(doc).encode()).hexdigest()


def save_template(db: Session, doc: TaskListDoc, *, source: str) -> tuple[TaskListTemplate, bool]:
    """Store a template unless the newest version of that edition already has this content.

    Stored versions are never changed: assignments may point at them."""
    digest = content_hash(doc)
    latest = db.exec(select(TaskListTemplate).where(
        TaskListTemplate.program == doc.program, TaskListTemplate.edition == doc.edition)
        .order_by(TaskListTemplate.version.desc())).first()
    if latest and latest.content_hash == digest:
        return latest, False
    template = TaskListTemplate(
        program=doc.program, title=doc.title, edition=doc.edition, version=(latest.version + 1) if latest else 1,
        levels=" ".join(doc.levels), coverage_rule=json.dumps(doc.coverage_rule, sort_keys=True),
        content_hash=digest, source=source)
    db.add(template)
    db.flush()
    db.add_all(TemplateTask(template_id=template.id, position=i, area_code=r.area_code, area_title=r.area_title,
                            section_code=r.section_code, section_title=r.section_title, code=r.code,
                            statement=r.statement, priority=r.priority, levels=" ".join(r.levels))
               for i, r in enumerate(doc.rows))
    db.flush()
    return template, True


def load_catalog(db: Session) -> list[tuple[TaskListTemplate, bool]]:
    return [save_template(db, doc, source="catalog") for doc in catalog.load_all()]


def template_tasks(db: Session, template_id: int) -> list[TemplateTask]:
    return list(db.exec(select(TemplateTask).where(TemplateTask.template_id == template_id)
                        .order_by(TemplateTask.position)).all())


def template_doc(db: Session, template: TaskListTemplate) -> TaskListDoc:
    rows = tuple(TaskRow(t.area_code, t.area_title, t.section_code, t.section_title, t.code, t.statement,
                         t.priority, tuple(t.levels.split())) for t in template_tasks(db, template.id))
    return TaskListDoc(template.program, template.title, template.edition, tuple(template.levels.split()),
                       json.loads(template.coverage_rule), rows)


@dataclass(frozen=True)
class TemplateSummary:
    template: TaskListTemplate
    task_count: int


def templates(db: Session) -> list[TemplateSummary]:
    counts = dict(db.exec(select(TemplateTask.template_id, func.count()).group_by(TemplateTask.template_id)).all())
    rows = db.exec(select(TaskListTemplate).order_by(
        TaskListTemplate.program, TaskListTemplate.edition, TaskListTemplate.version)).all()
    return [TemplateSummary(t, counts.get(t.id, 0)) for t in rows]


def latest_templates(db: Session) -> list[TemplateSummary]:
    """The newest stored version of each program and edition: what a shop starts from."""
    latest: dict[tuple[str, str], TemplateSummary] = {}
    for summary in templates(db):
        latest[(summary.template.program, summary.template.edition)] = summary
    return list(latest.values())
