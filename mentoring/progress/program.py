"""Setting a triad's program (informal mentoring or a registered apprenticeship with its work-process schedule)
and recording classroom hours (RTI). Totals live in apprenticeship.py."""

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, select

from mentoring import clock
from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.errors import FormError
from mentoring.people.models import Triad
from mentoring.progress.apprenticeship import CREDIT_RULES, KINDS, STATUSES, apprenticeship_of, work_processes
from mentoring.progress.models import Apprenticeship, Assignment, HoursEntry, RtiRecord, WorkProcess
from mentoring.trail import audit
from tasklists.models import ShopTask

MAX_TERM_HOURS = 20000  # ten years of full-time work: anything above is a typing slip


@dataclass
class Area:
    code: str
    title: str
    tasks: int


def current_assignment(db: Session, triad_id: int) -> Assignment | None:
    return db.exec(select(Assignment).where(Assignment.triad_id == triad_id, Assignment.ended_at.is_(None))
                   .order_by(Assignment.id.desc())).first()


def list_areas(db: Session, assignment: Assignment | None) -> list[Area]:
    """The areas of the assigned list in list order, with how many applicable tasks each holds."""
    if assignment is None:
        return []
    areas: dict[str, Area] = {}
    for code, title, na in db.exec(select(ShopTask.area_code, ShopTask.area_title, ShopTask.not_applicable)
                                   .where(ShopTask.version_id == assignment.version_id)
                                   .order_by(ShopTask.position)).all():
        area = areas.setdefault(code, Area(code, title, 0))
        area.tasks += 0 if na else 1
    return list(areas.values())


def default_split(term_hours: int, weights: list[int]) -> list[int]:
    """Split the term across areas in proportion to their task counts, in whole hours that add up to the term
    (largest remainders get the leftover hours; ties go to the earlier area)."""
    if not weights:
        return []
    if sum(weights) == 0:
        weights = [1] * len(weights)
    total = sum(weights)
    exact = [term_hours * w / total for w in weights]
    hours = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - hours[i]), i))
    for i in order[:term_hours - sum(hours)]:
        hours[i] += 1
    return hours


def schedule_rows(db: Session, triad: Triad, app: Apprenticeship | None) -> list[dict]:
    """The rows the program form shows: saved work processes, then areas of the list not yet in them."""
    listed = list_areas(db, current_assignment(db, triad.id))
    counts = {a.code: a.tasks for a in listed}
    rows = [{"code": wp.area_code, "title": wp.title, "target": wp.target_hours, "tasks": counts.get(wp.area_code, 0)}
            for wp in (work_processes(db, app.id) if app else [])]
    seen = {r["code"] for r in rows}
    areas = [a for a in listed if a.code not in seen]
    # A new program shows blank targets (the term is split on saving); a saved one shows its own numbers.
    for area in areas:
        rows.append({"code": area.code, "title": area.title, "target": None, "tasks": area.tasks})
    return rows


def form_of(db: Session, triad: Triad) -> dict:
    app = apprenticeship_of(db, triad.id)
    if app is None:
        return {"kind": "informal", "status": "active", "credit_rule": "none", "credit_value": "0"}
    form = {name: getattr(app, name) for name in (
        "kind", "registration_number", "occupation", "occupation_code", "start_date", "term_hours",
        "probation_hours", "credit_rule", "credit_value", "status", "status_date")}
    for wp in work_processes(db, app.id):
        form["target_" + wp.area_code] = wp.target_hours
    return form


def _int(data: dict, name: str, errors: dict, low: int, high: int, message: str, default: int | None = None) -> int:
    raw = str(data.get(name, "") or "").strip().replace(",", "")
    if not raw and default is not None:
        return default
    try:
        value = int(raw)
    except ValueError:
        errors[name] = message
        return 0
    if not low <= value <= high:
        errors[name] = message
    return value


def _date(data: dict, name: str, errors: dict) -> date | None:
    raw = str(data.get(name, "") or "").strip()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "Enter a date, e.g. 2026-09-01."
        return None


def _text(data: dict, name: str, errors: dict, limit: int, required: bool, label: str) -> str:
    value = str(data.get(name, "") or "").strip()
    if required and not value:
        errors[name] = f"Enter the {label}."
    elif len(value) > limit:
        errors[name] = f"Keep it under {limit} characters."
    return value


def save_program(db: Session, actor: Actor, triad: Triad, data: dict) -> Apprenticeship | None:
    """Make the triad informal mentoring or a registered apprenticeship, from the program form."""
    kind = str(data.get("kind", "") or "")
    app = apprenticeship_of(db, triad.id)
    if kind == "informal":
        if app is None:
            return None
        _drop(db, actor, app)
        return None
    if kind not in KINDS:
        raise FormError({"kind": "Choose informal mentoring or one of the registered apprenticeship types."})
    if triad.ended_at is not None and app is None:
        raise FormError({"kind": "This triad has ended; a new program starts with a new triad."})
    errors: dict[str, str] = {}
    fields = {
        "kind": kind,
        "registration_number": _text(data, "registration_number", errors, 40, True, "registration number"),
        "occupation": _text(data, "occupation", errors, 120, True, "occupation"),
        "occupation_code": _text(data, "occupation_code", errors, 20, False, "occupation code"),
        "start_date": _date(data, "start_date", errors),
        "term_hours": _int(data, "term_hours", errors, 1, MAX_TERM_HOURS,
                           f"Enter the term in whole OJL hours, 1 to {MAX_TERM_HOURS}, e.g. 8000."),
        "probation_hours": _int(data, "probation_hours", errors, 0, MAX_TERM_HOURS,
                                "Enter the probationary period in whole hours, e.g. 500."),
        "credit_rule": str(data.get("credit_rule", "none") or "none"),
        "credit_value": _int(data, "credit_value", errors, 0, MAX_TERM_HOURS,
                             "Enter a whole number, 0 or more.", default=0),
        "status": str(data.get("status", "active") or "active"),
        "status_date": _date(data, "status_date", errors) if data.get("status_date") else None,
    }
    if fields["credit_rule"] not in CREDIT_RULES:
        errors["credit_rule"] = "Choose how prior learning reduces the term."
    elif fields["credit_rule"] == "percent" and fields["credit_value"] > 100:
        errors["credit_value"] = "A percent of the term is at most 100."
    if fields["status"] not in STATUSES:
        errors["status"] = "Choose active, completed, cancelled or transferred."
    if "term_hours" not in errors and "probation_hours" not in errors \
            and fields["probation_hours"] >= fields["term_hours"]:
        errors["probation_hours"] = "The probationary period must be shorter than the term."
    if fields["status_date"] is None:
        fields["status_date"] = fields["start_date"] if fields["status"] == "active" and not app \
            else clock.utcnow().date()
    elif fields["start_date"] and fields["status_date"] < fields["start_date"]:
        errors["status_date"] = "The status date cannot be before the start date."
    rows = schedule_rows(db, triad, app)
    if not rows:
        errors["kind"] = "Assign a task list to this triad first: its areas make the work-process schedule."
    targets = _targets(data, rows, fields["term_hours"], errors)
    if errors:
        raise FormError(errors)
    return _store(db, actor, triad, app, fields, rows, targets)


def _targets(data: dict, rows: list[dict], term: int, errors: dict) -> list[int]:
    """Target hours per area as typed; all blank means the default split of the term."""
    raw = [str(data.get("target_" + r["code"], "") or "").strip() for r in rows]
    if not any(raw):
        return default_split(term, [r.get("tasks", 1) for r in rows])
    targets = [_int(data, "target_" + r["code"], errors, 0, MAX_TERM_HOURS, "Enter whole hours, 0 or more.")
               for r in rows]
    if not any(k.startswith("target_") for k in errors) and "term_hours" not in errors and sum(targets) != term:
        errors["schedule"] = (f"The work processes add up to {sum(targets)} hours but the term is {term}. "
                              "Make them equal, or clear every target to split the term by task counts.")
    return targets


def _store(db, actor, triad, app, fields, rows, targets) -> Apprenticeship:
    created = app is None
    if created:
        app = Apprenticeship(triad_id=triad.id, shop_id=triad.shop_id, created_by_id=actor.person_id, **fields)
    else:
        before = {k: getattr(app, k) for k in fields}
        for k, v in fields.items():
            setattr(app, k, v)
    db.add(app)
    db.flush()
    existing = {wp.area_code: wp for wp in work_processes(db, app.id)}
    for position, (row, target) in enumerate(zip(rows, targets, strict=True)):
        wp = existing.get(row["code"]) or WorkProcess(apprenticeship_id=app.id, area_code=row["code"],
                                                     title=row["title"][:200], target_hours=0, position=position)
        wp.target_hours, wp.position = target, position
        db.add(wp)
    detail = fields | {"schedule": dict(zip([r["code"] for r in rows], targets,
                                                                        strict=True))}
    if not created:
        detail["before"] = before
    audit.record(db, actor, "apprenticeship.create" if created else "apprenticeship.update", app,
                 org_id=triad.shop_id, **detail)
    return app


def _drop(db: Session, actor: Actor, app: Apprenticeship) -> None:
    """Back to informal mentoring: only while nothing was recorded under the program; after that its records
    are kept and the status (cancelled, transferred) says it ended."""
    if db.exec(select(HoursEntry.id).where(HoursEntry.apprenticeship_id == app.id)).first() is not None or \
            db.exec(select(RtiRecord.id).where(RtiRecord.apprenticeship_id == app.id)).first() is not None:
        raise FormError({"kind": "Hours or classroom terms are recorded under this apprenticeship, so it stays on "
                                 "record. Set its status to cancelled or transferred instead."})
    audit.record(db, actor, "apprenticeship.delete", app, org_id=app.shop_id,
                 registration_number=app.registration_number)
    for wp in work_processes(db, app.id):
        db.delete(wp)
    db.flush()
    db.delete(app)


def record_rti(db: Session, actor: Actor, app: Apprenticeship, data: dict) -> RtiRecord:
    """One term of classroom hours and its course result, by the consented instructor or, when the school shares
    none, the shop's manager (policy.rti_recorder decides and names the school)."""
    school_id = policy.rti_school(db, actor, app)
    errors: dict[str, str] = {}
    term = _text(data, "term", errors, 40, True, "term, e.g. Fall 2026")
    course = _text(data, "course", errors, 120, True, "course")
    hours = _int(data, "hours", errors, 1, 1000, "Enter the classroom hours of the term, 1 to 1000.")
    result = _text(data, "result", errors, 20, False, "result")
    if errors:
        raise FormError(errors)
    rec = RtiRecord(apprenticeship_id=app.id, term=term, course=course, hours=hours, result=result,
                    school_id=school_id, recorded_by_id=actor.person_id, recorded_by_name=actor.name)
    db.add(rec)
    db.flush()
    audit.record(db, actor, "rti.record", rec, org_id=app.shop_id, apprenticeship_id=app.id, term=term,
                 course=course, hours=hours, result=result, school_id=school_id)
    return rec
