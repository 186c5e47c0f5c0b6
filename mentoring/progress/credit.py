"""Credit for prior learning: tasks of an assignment credited from verified evidence another issuer signed.

exports/prior.py verifies the evidence; this module decides what may be credited and records it. A credited
task counts as achieved (signoffs.achieved reads TaskState.credited_from, filled here by `apply_credits`)
until the mentor's re-check fails, which withdraws the credit: the row goes, the audit log keeps who, when,
why, the issuer and the evidence's SHA-256."""

from collections.abc import Iterable

from sqlmodel import Session, select

from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.clock import utcnow
from mentoring.errors import Forbidden, FormError
from mentoring.progress.models import Assignment, PriorCredit
from mentoring.progress.signoffs import TaskState, tasks_of
from mentoring.trail import audit

SOURCES = ("credential", "school_csv")


def credits_of(db: Session, assignment_id: int) -> dict[str, PriorCredit]:
    """The assignment's standing credits by task code."""
    rows = db.exec(select(PriorCredit).where(PriorCredit.assignment_id == assignment_id)
                   .order_by(PriorCredit.id)).all()
    return {r.task_code: r for r in rows}


def apply_credits(db: Session, assignment_id: int, states: dict[str, TaskState]) -> dict[str, TaskState]:
    """Mark credited tasks in `states` (made where missing), so that signoffs.achieved counts them."""
    return mark_credited(states, credited_by_assignment(db, [assignment_id]).get(assignment_id, {}))


def credited_by_assignment(db: Session, assignment_ids: list[int]) -> dict[int, dict[str, str]]:
    """The standing credits of several assignments in one query: {assignment id: {task code: issuer}}."""
    found: dict[int, dict[str, str]] = {}
    for aid, code, name, issuer in db.exec(
            select(PriorCredit.assignment_id, PriorCredit.task_code, PriorCredit.issuer_name, PriorCredit.issuer_id)
            .where(PriorCredit.assignment_id.in_(assignment_ids)).order_by(PriorCredit.id)).all():
        found.setdefault(aid, {})[code] = name or issuer
    return found


def mark_credited(states: dict[str, TaskState], credited: dict[str, str]) -> dict[str, TaskState]:
    for code, issuer in credited.items():
        (states.get(code) or states.setdefault(code, TaskState(code))).credited_from = issuer
    return states


def creditable(db: Session, assignment: Assignment, offered: Iterable[str]) -> list:
    """The tasks of the assignment's list that the evidence names, not marked not-applicable: what the
    manager may tick (the shop's list decides, whatever else the evidence holds)."""
    offered = set(offered)
    return [t for t in tasks_of(db, assignment) if t.code in offered and not t.not_applicable]


def credit_tasks(db: Session, actor: Actor, assignment: Assignment, *, chosen: Iterable[str], offered: Iterable[str],
                 source: str, issuer_name: str, issuer_id: str, evidence: str, sha256: str) -> list[PriorCredit]:
    """Credit the chosen tasks from one piece of verified evidence. Only a manager or admin of the shop."""
    if not policy.can_issue_records(actor, assignment.shop_id):
        raise Forbidden
    if source not in SOURCES:
        raise FormError({"": "Unknown kind of evidence."})
    if assignment.ended_at is not None:
        raise FormError({"": "This assignment has ended; nothing more can be credited on it."})
    allowed = {t.code for t in creditable(db, assignment, offered)}
    chosen = [c for c in dict.fromkeys(chosen) if c]
    if not chosen:
        raise FormError({"codes": "Tick at least one task to credit."})
    wrong = [c for c in chosen if c not in allowed]
    if wrong:
        raise FormError({"codes": f"{wrong[0]} is not a task of this list that the evidence names."})
    have = credits_of(db, assignment.id)
    rows = []
    for code in chosen:
        if code in have:
            continue  # credited already, from this or other evidence: the first credit stands
        row = PriorCredit(assignment_id=assignment.id, task_code=code, source=source, issuer_name=issuer_name[:200],
                          issuer_id=issuer_id[:300], evidence=evidence, evidence_sha256=sha256,
                          credited_by_id=actor.person_id, credited_at=utcnow())
        db.add(row)
        db.flush()
        audit.record(db, actor, "prior.credit", row, org_id=assignment.shop_id, task=code, source=source,
                     issuer=issuer_id, sha256=sha256)
        rows.append(row)
    if not rows:
        raise FormError({"codes": "Every ticked task is credited already."})
    return rows


def recheck(db: Session, actor: Actor, credit: PriorCredit, assignment: Assignment, *, passed: bool,
            reason: str = "") -> None:
    """The mentor watched the task done: a pass records who and when; a fail withdraws the credit."""
    reason = (reason or "").strip()
    if passed:
        credit.rechecked_by_id, credit.rechecked_at = actor.person_id, utcnow()
        db.add(credit)
        audit.record(db, actor, "prior.recheck", credit, org_id=assignment.shop_id, task=credit.task_code,
                     passed=True)
        return
    if not reason:
        raise FormError({"reason": "Say what the re-check showed; the credit is withdrawn."})
    if len(reason) > 300:
        raise FormError({"reason": "Keep it under 300 characters."})
    audit.record(db, actor, "prior.withdraw", credit, org_id=assignment.shop_id, task=credit.task_code,
                 issuer=credit.issuer_id, sha256=credit.evidence_sha256, reason=reason)
    db.delete(credit)
