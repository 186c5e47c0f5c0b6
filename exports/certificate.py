"""The completion certificate of a registered apprenticeship: the completion record's content plus OJL hours per
work process, RTI hours by term and the program's facts, issued as a CompletionRecord of kind "certificate".

Being a record, it gets a verification code, its content hash and its files are remembered, and /verify/<code>
and `mentoring verify` check it: its content is rebuilt and compared, so new hours or sign-offs make an older
certificate "changed". Like the record it states no pay."""

from sqlmodel import Session

from exports import pdf
from exports.models import CompletionRecord
from exports.record import build_content, content_of, issue_current, remember_file
from exports.service import ExportedFile, verify_url
from mentoring.access.policy import Actor
from mentoring.errors import FormError
from mentoring.progress import apprenticeship
from mentoring.progress.models import Assignment

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
    return issue_current(db, actor, assignment, KIND, build_certificate(db, assignment))


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
