"""The completion record: a read model of one assignment, issued as a snapshot with a verification code.

The snapshot's content is canonical JSON; its SHA-256 is printed on every copy. Nothing here reads
pay-plan or tool notes: records are school-facing."""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from exports.models import CompletionRecord, RecordFile
from mentoring.access.policy import Actor
from mentoring.clock import utcnow
from mentoring.errors import FormError
from mentoring.people.models import Enrollment, Organization, Person, Triad, TriadMentorChange
from mentoring.progress import board
from mentoring.progress.models import Assignment
from mentoring.progress.signoffs import RATINGS
from mentoring.trail import audit
from tasklists.models import TaskListTemplate

FORMAT = "workplace-mentoring/completion-record@1"
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: read aloud and typed from paper


def new_code() -> str:
    """16 characters, about 78 bits: printed on paper, so grouped for reading; unguessable all the same."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def normalize_code(code: str) -> str:
    raw = "".join(c for c in code.upper() if c.isalnum())
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def canonical(content: dict) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(content: dict) -> str:
    return hashlib.sha256(canonical(content)).hexdigest()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def build_content(db: Session, assignment: Assignment) -> dict:
    """Everything the record states, from the stored events; the same history gives the same content."""
    b = board.board(db, assignment)
    report = board.coverage_of(db, b)
    template = db.get(TaskListTemplate, b.task_list.template_id)
    triad = db.get(Triad, assignment.triad_id)
    mentors = db.exec(select(TriadMentorChange, Person).join(Person, Person.id == TriadMentorChange.mentor_id)
                      .where(TriadMentorChange.triad_id == triad.id).order_by(TriadMentorChange.started_at)).all()
    mentor_rows = [{"name": p.full_name, "from": _iso(c.started_at), "to": _iso(c.ended_at)} for c, p in mentors]
    if not mentor_rows:
        mentor_rows = [{"name": db.get(Person, triad.mentor_id).full_name, "from": _iso(triad.started_at), "to": None}]
    schools = db.exec(select(Organization.name, Person.full_name)
                      .join(Enrollment, Enrollment.school_id == Organization.id)
                      .join(Person, Person.id == Enrollment.instructor_id)
                      .where(Enrollment.mentee_id == assignment.mentee_id, Enrollment.shop_id == assignment.shop_id,
                             Enrollment.ended_at.is_(None)).order_by(Organization.name)).all()
    areas: dict[str, dict] = {}
    signed_at = []
    for row in b.rows:
        if row.task.not_applicable:
            continue
        area = areas.setdefault(row.task.area_code, {"code": row.task.area_code, "title": row.task.area_title,
                                                     "tasks": []})
        area["tasks"].append(_task(row))
        if row.state.signoff:
            signed_at.append(row.state.signoff.at)
    last_event = max((e.at for r in b.rows for e in r.state.events), default=None)
    return {
        "format": FORMAT,
        "shop": {"id": b.shop.id, "name": b.shop.name, "timezone": b.shop.timezone},
        "mentee": {"id": b.mentee.id, "name": b.mentee.full_name},
        "mentors": mentor_rows,
        "manager": db.get(Person, triad.manager_id).full_name,
        "schools": [{"school": s, "instructor": i} for s, i in schools],
        "task_list": {"name": b.task_list.name, "program": template.program, "title": template.title,
                      "edition": template.edition, "level": b.task_list.level, "version": b.version.number,
                      "required_rating": b.version.required_rating},
        "assignment": {"id": assignment.id, "start_date": assignment.start_date.isoformat(),
                       "target_date": assignment.target_date.isoformat() if assignment.target_date else None},
        "first_signoff": _iso(min(signed_at, default=None)),
        "last_signoff": _iso(max(signed_at, default=None)),
        "as_of": _iso(last_event),
        "rule": json.loads(template.coverage_rule),
        "coverage": {
            "passes": report.passes,
            "areas": [_area_coverage(a) for a in report.areas],
            "overall": _area_coverage(report.overall),
        },
        "areas": list(areas.values()),
        "ratings": {str(k): v for k, v in RATINGS.items()},
    }


def _area_coverage(a) -> dict:
    return {"code": a.area_code, "title": a.area_title, "passes": a.passes,
            "priorities": {p: {"total": c.total, "achieved": c.achieved, "required": c.required,
                               "percent": c.percent, "passes": c.passes} for p, c in a.priorities.items()}}


def _task(row) -> dict:
    state = row.state
    revocations = [{"signed_by": signed.actor_name, "signed_at": _iso(signed.at), "rating": signed.rating,
                    "by": e.actor_name, "at": _iso(e.at), "reason": e.reason} for signed, e in state.revoked]
    s = state.signoff
    status = "signed" if s else ("revoked" if revocations else "open")
    return {
        "code": row.task.code, "statement": row.task.statement, "priority": row.task.priority, "status": status,
        "rating": s.rating if s else None, "signed_at": _iso(s.at) if s else None,
        "signed_by": s.actor_name if s else None, "meaning": s.meaning if s else None,
        "countersigns": [{"by": c.actor_name, "meaning": c.meaning, "at": _iso(c.at)} for c in state.countersigns],
        "revocations": revocations,
    }


# --- issuing -------------------------------------------------------------------------------------

def issue_record(db: Session, actor: Actor, assignment: Assignment) -> CompletionRecord:
    """The current record of the assignment: the last one issued when nothing changed, else a new one that
    supersedes it."""
    return issue_current(db, actor, assignment, "record", build_content(db, assignment))


def issue_current(db: Session, actor: Actor, assignment: Assignment, kind: str, content: dict) -> CompletionRecord:
    """The assignment's current record of `kind` ("record", "certificate"): the last one when its content is
    unchanged, else a new one that supersedes it. Kinds never supersede each other."""
    digest = content_hash(content)
    latest = db.exec(select(CompletionRecord).where(CompletionRecord.assignment_id == assignment.id,
                                                    CompletionRecord.kind == kind,
                                                    CompletionRecord.superseded_at.is_(None),
                                                    CompletionRecord.revoked_at.is_(None))
                     .order_by(CompletionRecord.id.desc()).with_for_update()).first()
    if latest is not None and latest.content_hash == digest:
        return latest
    now = utcnow()
    if latest is not None:
        latest.superseded_at = now
        db.add(latest)
    record = CompletionRecord(code=new_code(), kind=kind, assignment_id=assignment.id, mentee_id=assignment.mentee_id,
                              shop_id=assignment.shop_id, content=canonical(content).decode(), content_hash=digest,
                              issued_at=now, issued_by_id=actor.person_id)
    db.add(record)
    db.flush()
    audit.record(db, actor, f"{kind}.issue", record, org_id=assignment.shop_id, assignment_id=assignment.id,
                 code=record.code)
    return record


def remember_file(db: Session, record: CompletionRecord, kind: str, data: bytes) -> str:
    """Keep the file's SHA-256 so that the file itself verifies later; the same bytes are kept once."""
    digest = hashlib.sha256(data).hexdigest()
    if db.exec(select(RecordFile.id).where(RecordFile.sha256 == digest)).first() is None:
        db.add(RecordFile(record_id=record.id, kind=kind, sha256=digest))
        db.flush()
    return digest


def revoke_record(db: Session, actor: Actor, record: CompletionRecord, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise FormError({"reason": "Say why the record is withdrawn; verifiers will read it."})
    if len(reason) > 300:
        raise FormError({"reason": "Keep it under 300 characters."})
    if record.revoked_at is not None:
        raise FormError({"": "This record is already revoked."})
    record.revoked_at, record.revoked_by_id, record.revoked_reason = utcnow(), actor.person_id, reason
    db.add(record)
    audit.record(db, actor, "record.revoke", record, org_id=record.shop_id, code=record.code, reason=reason)


def content_of(record: CompletionRecord) -> dict:
    return json.loads(record.content)


def records_of(db: Session, assignment_id: int) -> list[CompletionRecord]:
    return list(db.exec(select(CompletionRecord).where(CompletionRecord.assignment_id == assignment_id)
                        .order_by(CompletionRecord.id.desc())).all())


def find_record(db: Session, code: str) -> CompletionRecord | None:
    return db.exec(select(CompletionRecord).where(CompletionRecord.code == normalize_code(code))).first()


@dataclass(frozen=True)
class RecordStatus:
    status: str  # current | superseded | changed | revoked
    message: str


def status_of(db: Session, record: CompletionRecord) -> RecordStatus:
    if record.revoked_at is not None:
        # The reason is free text for the shop's own pages; whoever verifies learns only that it was withdrawn.
        return RecordStatus("revoked", f"Withdrawn by the shop on {record.revoked_at:%Y-%m-%d}.")
    if record.superseded_at is not None:
        return RecordStatus("superseded", f"A newer record of this mentee's progress was issued on "
                                          f"{record.superseded_at:%Y-%m-%d}; ask the shop for the current one.")
    assignment = db.get(Assignment, record.assignment_id)
    if record.kind == "certificate":
        from exports.certificate import build_certificate  # it builds on this module

        try:
            now = content_hash(build_certificate(db, assignment))
        except FormError:  # the program was removed since
            now = ""
    else:
        now = content_hash(build_content(db, assignment))
    if now != record.content_hash:
        return RecordStatus("superseded", "Progress has changed since this record was issued (tasks were signed "
                                          "or revoked); ask the shop for a new copy.")
    return RecordStatus("current", "This is the shop's current record of the mentee's progress.")
