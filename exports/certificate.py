"""The completion certificate of a registered apprenticeship: the completion record's content plus OJL hours per
work process, RTI hours by term and the program's facts, issued as a CompletionRecord of kind "certificate".

Being a record, it gets a verification code, its content hash and its files are remembered, and /verify/<code>
and `mentoring verify` check it: its content is rebuilt and compared, so new hours or sign-offs make an older
certificate "changed". Like the record it states no pay."""

from sqlmodel import Session, select

from exports import pdf
from exports.models import CompletionRecord
from exports.record import build_content, canonical, content_hash, content_of, new_code, remember_file
from exports.service import ExportedFile, verify_url
from mentoring.access.policy import Actor
from mentoring.clock import utcnow
from mentoring.errors import FormError
from mentoring.progress import apprenticeship
from mentoring.progress.models import Assignment
from mentoring.trail import audit

FORMAT = "workplace-mentoring/completion-certificate@1"
KIND = "certificate"


def build_certificate(db: Session, assignment: Assignment) -> dict:
    app = apprenticeship.apprenticeship_of(db, assignment.triad_id)
    if app is None:
        raise FormError({"": "This mentee is not in a registered apprenticeship: the completion record is the "
                             "document to export."})
    content = build_content(db, assignment)
    summary = apprenticeship.hours_summary(db, app)
    content["format"] = FORMAT
    content["apprenticeship"] = {
        "registration_number": app.registration_number, "occupation": app.occupation,
        "occupation_code": app.occupation_code, "kind": app.kind, "start_date": app.start_date.isoformat(),
        "term_hours": app.term_hours, "status": app.status, "status_date": app.status_date.isoformat(),
        "work_processes": [{"code": line.area_code, "title": line.title, "target_hours": line.target_hours,
                            "approved_minutes": line.approved_minutes} for line in summary.lines],
        "ojl_minutes": summary.total_minutes, "credited_minutes": summary.credited_minutes,
        "rti": [{"term": r.term, "course": r.course, "hours": r.hours, "result": r.result}
                for r in apprenticeship.rti_records(db, app.id)],
        "rti_hours": summary.rti_hours,
    }
    return content


def issue_certificate(db: Session, actor: Actor, assignment: Assignment) -> CompletionRecord:
    """The current certificate: the last one when nothing changed, else a new one superseding it."""
    content = build_certificate(db, assignment)
    digest = content_hash(content)
    latest = db.exec(select(CompletionRecord).where(CompletionRecord.assignment_id == assignment.id,
                                                    CompletionRecord.kind == KIND,
                                                    CompletionRecord.superseded_at.is_(None),
                                                    CompletionRecord.revoked_at.is_(None))
                     .order_by(CompletionRecord.id.desc()).with_for_update()).first()
    if latest is not None and latest.content_hash == digest:
        return latest
    now = utcnow()
    if latest is not None:
        latest.superseded_at = now
        db.add(latest)
    record = CompletionRecord(code=new_code(), kind=KIND, assignment_id=assignment.id, mentee_id=assignment.mentee_id,
                              shop_id=assignment.shop_id, content=canonical(content).decode(), content_hash=digest,
                              issued_at=now, issued_by_id=actor.person_id)
    db.add(record)
    db.flush()
    audit.record(db, actor, "certificate.issue", record, org_id=assignment.shop_id, assignment_id=assignment.id,
                 code=record.code)
    return record


def export_certificate(db: Session, actor: Actor, assignment: Assignment, *, base_url: str,
                       paper: str = "letter") -> ExportedFile:
    if paper not in pdf.PAPERS:
        raise ValueError(f"unknown paper {paper}")
    record = issue_certificate(db, actor, assignment)
    content = content_of(record)
    data = pdf.render_certificate(content, code=record.code, url=verify_url(base_url, record.code),
                                  sha256=record.content_hash, issued_at=record.issued_at, paper=paper)
    remember_file(db, record, f"pdf-{paper}", data)
    return ExportedFile(f"completion-certificate-{record.code}.pdf", "application/pdf", data, record.code)
