"""Export a record as a file: issue (or reuse) the record, render it, remember the file's hash."""

import re
from dataclasses import dataclass

from sqlmodel import Session

from exports import formats, pdf
from exports.record import content_of, issue_record, remember_file
from mentoring.access.policy import Actor
from mentoring.progress.models import Assignment

FORMATS = ("pdf", "csv", "json")
MEDIA = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8", "json": "application/json"}


@dataclass(frozen=True)
class ExportedFile:
    name: str
    media_type: str
    data: bytes
    code: str


def verify_url(base_url: str, code: str) -> str:
    return f"{base_url}/verify/{code}"


def export_record(db: Session, actor: Actor, assignment: Assignment, fmt: str, *, base_url: str,
                  paper: str = "letter") -> ExportedFile:
    if fmt not in FORMATS or paper not in pdf.PAPERS:
        raise ValueError(f"unknown format {fmt}/{paper}")
    record = issue_record(db, actor, assignment)
    content = content_of(record)
    url = verify_url(base_url, record.code)
    if fmt == "pdf":
        data = pdf.render(content, code=record.code, url=url, sha256=record.content_hash,
                          issued_at=record.issued_at, paper=paper)
    elif fmt == "csv":
        data = formats.to_csv(content, code=record.code)
    else:
        data = formats.to_json(content, code=record.code, url=url, issued_at=record.issued_at)
    remember_file(db, record, f"pdf-{paper}" if fmt == "pdf" else fmt, data)
    slug = re.sub(r"[^a-z0-9]+", "-", content["mentee"]["name"].lower()).strip("-") or "mentee"
    return ExportedFile(f"completion-record-{slug}-{record.code}.{fmt}", MEDIA[fmt], data, record.code)
