"""Verify whatever a verifier holds: a record PDF, CSV or JSON file, a pasted code, a credential, or a badge image
with a credential baked into it."""

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field

from sqlmodel import Session, select

from exports import baking, credentials, formats
from exports.models import CompletionRecord, RecordFile
from exports.record import content_hash, content_of, find_record, status_of
from mentoring.access import disclosure

# The largest file anyone may have checked, on the page or the command line; records and credentials are far smaller.
MAX_FILE_BYTES = 8 * 1024 * 1024
CODE_PATTERN = re.compile(r"\b([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})\b")


@dataclass
class Verdict:
    kind: str  # record | credential | unknown
    authentic: bool
    status: str  # current | superseded | revoked | invalid | not-yet-valid | expired | untrusted
    message: str
    record: CompletionRecord | None = None
    credential: credentials.CredentialCheck | None = None
    details: list[str] = field(default_factory=list)


def public_record(db: Session, record: CompletionRecord) -> dict | None:
    """What anyone verifying the record may read: the mentee, the shop, what was achieved and when, who signed
    and what each signature meant. Not the school or instructor, not why a sign-off or the record was revoked,
    and ratings only if the mentee chose to show them (mentoring/access/disclosure.py)."""
    content = content_of(record)
    if not content:
        return None
    show_ratings = disclosure.shows_ratings(db, record.mentee_id)
    areas, signers = [], []
    for area in content["areas"]:
        tasks = []
        for t in area["tasks"]:
            if t["status"] == "open":
                continue
            signers += [t["signed_by"]] if t["signed_by"] else []
            signers += [c["by"] for c in t["countersigns"]]
            tasks.append({"code": t["code"], "statement": t["statement"], "status": t["status"],
                          "signed_at": t["signed_at"], "signed_by": t["signed_by"], "meaning": t["meaning"],
                          "countersigns": t["countersigns"], "rating": t["rating"] if show_ratings else None,
                          "revoked_at": [r["at"] for r in t["revocations"]]})
        areas.append({"code": area["code"], "title": area["title"], "tasks": tasks})
    tl = content["task_list"]
    return {
        "code": record.code, "issued_at": record.issued_at, "content_hash": record.content_hash,
        "mentee": content["mentee"]["name"], "shop": {"name": content["shop"]["name"],
                                                      "timezone": content["shop"]["timezone"]},
        "task_list": {k: tl[k] for k in ("name", "title", "edition", "level")},
        "coverage": content["coverage"], "signers": sorted(set(signers)), "areas": areas,
        "show_ratings": show_ratings,
        "ratings": {int(k): v for k, v in content["ratings"].items()} if show_ratings else {},
    }


def verify_record_code(db: Session, code: str) -> Verdict:
    record = find_record(db, code)
    if record is None:
        return Verdict("record", False, "invalid", "No record with this verification code was issued here.")
    status = status_of(db, record)
    return Verdict("record", True, status.status, status.message, record=record)


def verify_bytes(db: Session, data: bytes) -> Verdict:
    """Tell the kind of file from its content, never from its name."""
    if baking.kind_of(data):
        return _verify_baked(db, data)
    if data.startswith(b"%PDF"):
        return _verify_file(db, data, _code_in_pdf(data), "PDF")
    text = data.decode("utf-8-sig", errors="replace").strip()
    if text.startswith("{"):
        return _verify_json(db, data, text)
    if text.count(".") == 2 and " " not in text and "," not in text:
        return verify_credential(db, text)
    if text.startswith("verification_code,"):
        return _verify_file(db, data, _code_in_csv(data), "CSV")
    return Verdict("unknown", False, "invalid", "This is not a completion record or a credential issued here.")


def verify_credential(db: Session, token: str) -> Verdict:
    check = credentials.verify_token(db, token)
    return Verdict("credential", check.authentic, check.status, check.message, credential=check,
                   details=check.problems or [])


def _verify_baked(db: Session, data: bytes) -> Verdict:
    """A badge image answers exactly as the credential baked into it would on its own."""
    try:
        baked = baking.unbake(data)
    except baking.BakingError as exc:
        return Verdict("unknown", False, "invalid", str(exc))
    if isinstance(baked, dict):  # a credential with an embedded proof: the same path as its bare JSON file
        return verify_bytes(db, json.dumps(baked, ensure_ascii=False).encode())
    return verify_credential(db, baked)


def _verify_file(db: Session, data: bytes, claimed_code: str | None, what: str) -> Verdict:
    digest = hashlib.sha256(data).hexdigest()
    found = db.exec(select(CompletionRecord).join(RecordFile, RecordFile.record_id == CompletionRecord.id)
                    .where(RecordFile.sha256 == digest)).first()
    if found is not None:
        status = status_of(db, found)
        return Verdict("record", True, status.status,
                       f"This {what} is exactly as the shop issued it. {status.message}", record=found)
    if claimed_code and (claimed := find_record(db, claimed_code)) is not None:
        return Verdict("record", False, "invalid",
                       f"This {what} claims to be record {claimed.code}, but it is not the file the shop issued: "
                       f"it was changed. Compare it with the summary of the real record below.", record=claimed)
    return Verdict("record", False, "invalid", f"This {what} is not a record issued here, or it was changed.")


def _verify_json(db: Session, data: bytes, text: str) -> Verdict:
    try:
        document = json.loads(text)
    except ValueError:
        return Verdict("unknown", False, "invalid", "The file is not valid JSON; it may have been changed.")
    if isinstance(document, dict) and isinstance(document.get("record"), dict):
        stated = document.get("verification") or {}
        record = find_record(db, str(stated.get("code", "")))
        if record is None:
            return Verdict("record", False, "invalid", "No record with this file's verification code was issued here.")
        digest = content_hash(document["record"])
        if digest != record.content_hash or stated.get("sha256") != record.content_hash:
            return Verdict("record", False, "invalid", f"This file claims to be record {record.code}, but its content "
                                                       "differs from what the shop issued: it was changed.",
                           record=record)
        status = status_of(db, record)
        return Verdict("record", True, status.status, f"The content matches what the shop issued. {status.message}",
                       record=record)
    types = document.get("type") if isinstance(document, dict) else None
    if "VerifiableCredential" in (types if isinstance(types, list) else [types]):
        if "proof" not in document:
            return Verdict("credential", False, "invalid", "This credential carries no proof. Upload the signed "
                                                           "credential (the wallet .json file or the .jwt file).")
        check = credentials.verify_document(db, document)
        return Verdict("credential", check.authentic, check.status, check.message, credential=check,
                       details=check.problems or [])
    return Verdict("unknown", False, "invalid", "This JSON file is not a completion record or a credential.")


def _code_in_csv(data: bytes) -> str | None:
    """The code the CSV claims: its first row's verification_code cell, read as the record states it."""
    try:
        rows = formats.read_csv(data)
    except csv.Error:
        return None
    match = CODE_PATTERN.search(rows[0].get("verification_code", "")) if rows else None
    return match.group(1) if match else None


def _code_in_pdf(data: bytes) -> str | None:
    """The code the PDF claims, from its metadata or, failing that, its text."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        keywords = str((reader.metadata or {}).get("/Keywords", ""))
        match = CODE_PATTERN.search(keywords) or CODE_PATTERN.search(reader.pages[0].extract_text() or "")
    except (PyPdfError, ValueError, KeyError, IndexError, TypeError):
        return None
    return match.group(1) if match else None
