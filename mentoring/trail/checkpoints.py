"""Checkpoints: what a signed statement of an organization's history says, and whether the data still matches it.

A statement names every hash chain of the organization's assignments (how many events, the hash of the
newest) and two running digests of the audit log up to an entry id: one over the organization's own
entries, one over the entries that belong to no organization (sign-ins, password and PIN changes,
accounts), which every organization's statement carries so that any of them anchors those too; only their
digest is published, not how many there are. A running digest (each step hashes the digest so far with
the next entry) lets a new statement continue from the previous one, so history changed since then is
never taken into a new statement as if it were the original. Signing, storing and publishing statements
belong to exports (exports/checkpoints.py)."""

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from mentoring.people.models import Organization, Person
from mentoring.progress.models import Assignment, ProgressEvent
from mentoring.trail.models import AuditEntry
from mentoring.words import plural

FORMAT = "workplace-mentoring/checkpoint@1"
# The fields an entry's digest covers, in this order: named here, so that a column added to the table later
# does not change the digest of entries already covered.
_AUDIT_COLUMNS = [AuditEntry.id, AuditEntry.at, AuditEntry.actor_id, AuditEntry.organization_id, AuditEntry.action,
                  AuditEntry.object_type, AuditEntry.object_id, AuditEntry.ip, AuditEntry.detail]


def hold_audit_writers(db: Session) -> None:
    """Let every transaction that is writing audit entries finish, and keep new ones out until this one ends.

    PostgreSQL hands out entry ids before commit, so a transaction that began first may commit entry 100
    after entry 101 is visible; a statement read meanwhile would miss 100 and later seem broken. The lock
    conflicts with INSERT and with itself, so checkpoint writers also queue behind each other. It must be the
    transaction's first write to auditentry: two transactions holding INSERT locks and asking for this one
    would deadlock. On SQLite the writer's BEGIN IMMEDIATE already excludes every other writer."""
    if db.get_bind().dialect.name == "postgresql":
        db.connection().exec_driver_sql("LOCK TABLE auditentry IN SHARE ROW EXCLUSIVE MODE")


def canonical_entry(row) -> bytes:
    """A JSON array of the entry's fields (id, at, actor, organization, action, object type and id, ip, detail)."""
    content = list(row)
    content[1] = row.at.isoformat()
    return json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()


def extend(digest: str, row) -> str:
    """The running digest after one more entry; it starts from the empty string."""
    return hashlib.sha256(bytes.fromhex(digest) + canonical_entry(row)).hexdigest()


def _entries(db: Session, after_id: int, through_id: int, org_id: int | None):
    owner = AuditEntry.organization_id.is_(None) if org_id is None else AuditEntry.organization_id == org_id
    query = (select(*_AUDIT_COLUMNS).where(owner, AuditEntry.id > after_id, AuditEntry.id <= through_id)
             .order_by(AuditEntry.id))
    return db.exec(query.execution_options(yield_per=2000))


def chain_heads(db: Session, org_id: int) -> list[dict]:
    """Every assignment of the organization with events: how many, and the newest one's hash."""
    newest = (select(ProgressEvent.assignment_id, func.max(ProgressEvent.seq).label("seq"))
              .join(Assignment, Assignment.id == ProgressEvent.assignment_id)
              .where(Assignment.shop_id == org_id).group_by(ProgressEvent.assignment_id).subquery())
    rows = db.exec(select(ProgressEvent.assignment_id, ProgressEvent.seq, ProgressEvent.hash)
                   .join(newest, (newest.c.assignment_id == ProgressEvent.assignment_id)
                         & (newest.c.seq == ProgressEvent.seq))
                   .order_by(ProgressEvent.assignment_id)).all()
    return [{"assignment": a, "events": seq, "head": h} for a, seq, h in rows]


def newest_entry_id(db: Session) -> int:
    return db.exec(select(func.max(AuditEntry.id))).one() or 0


def statement(db: Session, org_id: int, *, number: int, at: str, through_id: int, previous: dict | None,
              previous_hash: str = "") -> dict:
    """What the organization's history is now, continuing the audit digests from the previous statement."""
    audit = dict(previous["audit"]) if previous else {"through": 0, "entries": 0, "digest": "", "unassigned": ""}
    start = audit["through"]
    for row in _entries(db, start, through_id, org_id):
        audit["digest"], audit["entries"] = extend(audit["digest"], row), audit["entries"] + 1
    for row in _entries(db, start, through_id, None):
        audit["unassigned"] = extend(audit["unassigned"], row)
    audit["through"] = max(through_id, start)
    return {"format": FORMAT, "organization": org_id, "number": number, "at": at, "previous": previous_hash,
            "chains": chain_heads(db, org_id), "audit": audit}


def same_history(a: dict, b: dict) -> bool:
    """Nothing of the organization changed between two statements (entries of no organization aside)."""
    return a["chains"] == b["chains"] and a["audit"]["entries"] == b["audit"]["entries"]


# --- comparing statements with the data -------------------------------------------------------------

@dataclass(frozen=True)
class Stated:
    """A statement to check, and how to name it in a report (e.g. "checkpoint #4 of 2026-12-02 03:00")."""

    label: str
    content: dict


@dataclass(frozen=True)
class Finding:
    assignment_id: int | None  # None: about audit entries
    org_id: int | None
    problem: str


def compare(db: Session, stated: list[Stated]) -> list[Finding]:
    """Every chain and audit digest the statements name, checked against the stored events and entries."""
    return _compare_chains(db, stated) + _compare_audit(db, stated)


def _compare_chains(db: Session, stated: list[Stated]) -> list[Finding]:
    claims: dict[int, list[tuple[int, str, Stated]]] = {}  # assignment -> (events, head, statement)
    for s in stated:
        for c in s.content["chains"]:
            claims.setdefault(c["assignment"], []).append((c["events"], c["head"], s))
    wanted = {a: {events for events, _, _ in found} for a, found in claims.items()}
    hashes: dict[tuple[int, int], str] = {}
    present: dict[int, int] = {}
    query = select(ProgressEvent.assignment_id, ProgressEvent.seq, ProgressEvent.hash)
    for a, seq, h in db.exec(query.execution_options(yield_per=5000)):
        if a in wanted:
            present[a] = max(present.get(a, 0), seq)
            if seq in wanted[a]:
                hashes[(a, seq)] = h
    findings = []
    for a, found in sorted(claims.items()):
        have, org = present.get(a, 0), found[0][2].content["organization"]
        missing = [(events, s) for events, _, s in found if events > have]
        changed = [(events, s) for events, head, s in found if events <= have and hashes.get((a, events)) != head]
        matched = [events for events, head, _ in found if events <= have and hashes.get((a, events)) == head]
        if missing:
            count, s = max(missing, key=lambda m: m[0])
            gone = f"event #{count} was" if have + 1 == count else f"events #{have + 1} to #{count} were"
            recorded = plural(count, "event")
            findings.append(Finding(a, org, f"{s.label} recorded {recorded}, {have} remain: {gone} deleted"))
        if changed:
            count, s = min(changed, key=lambda m: m[0])
            after = max((m for m in matched if m < count), default=0)
            findings.append(Finding(a, org, f"the events up to #{count} no longer end in the hash {s.label} "
                                            f"recorded: one of events #{after + 1} to #{count} was changed or "
                                            "replaced and the chain's hashes recomputed"))
    return findings


def _compare_audit(db: Session, stated: list[Stated]) -> list[Finding]:
    # One pass over the log in id order; the running digests are noted at every boundary a statement names.
    needed: dict[int, set[int]] = {}
    for s in stated:
        needed.setdefault(s.content["audit"]["through"], set()).add(s.content["organization"])
    boundaries = sorted(needed)
    digests: dict[int | None, list] = {}  # org (None: no organization) -> [digest, count]
    seen: dict[tuple[int, int | None], tuple[str, int]] = {}

    def note(boundary: int) -> None:
        for org in needed[boundary] | {None}:
            seen[(boundary, org)] = tuple(digests.get(org, ["", 0]))

    query = select(*_AUDIT_COLUMNS).order_by(AuditEntry.id).execution_options(yield_per=2000)
    for row in db.exec(query):
        while boundaries and row.id > boundaries[0]:
            note(boundaries.pop(0))
        state = digests.setdefault(row.organization_id, ["", 0])
        state[0], state[1] = extend(state[0], row), state[1] + 1
    for boundary in boundaries:
        note(boundary)

    findings, unassigned_bad, unassigned_ok = [], [], []
    ordered = sorted(stated, key=lambda s: s.content["audit"]["through"])
    ok_through: dict[int, int] = {}
    reported: set[int] = set()
    for s in ordered:
        audit, org = s.content["audit"], s.content["organization"]
        digest, count = seen[(audit["through"], org)]
        if (digest, count) == (audit["digest"], audit["entries"]):
            ok_through[org] = max(ok_through.get(org, 0), audit["through"])
        elif org not in reported:
            reported.add(org)
            what = (f"{audit['entries'] - count} of them deleted" if count < audit["entries"]
                    else f"{count - audit['entries']} added" if count > audit["entries"] else "their content changed")
            where = f"; the change lies after entry id {ok_through[org]}" if org in ok_through else ""
            findings.append(Finding(None, org, f"entries up to id {audit['through']}: {s.label} recorded "
                                               f"{audit['entries']}, {count} found ({what}){where}"))
        if seen[(audit["through"], None)][0] == audit["unassigned"]:
            unassigned_ok.append(audit["through"])
        else:
            unassigned_bad.append((audit["through"], s))
    if unassigned_bad:
        through, s = unassigned_bad[0]
        after = max((t for t in unassigned_ok if t < through), default=0)
        findings.append(Finding(None, None, f"entries up to id {through} no longer match {s.label}: one of them"
                                            + (f" after entry id {after}" if after else "")
                                            + " was changed or deleted"))
    return findings


def describe_chain(db: Session, assignment_id: int) -> str:
    """"assignment 3 (Tess Mentee at Riverside Toyota)", for reports."""
    row = db.exec(select(Person.full_name, Organization.name).join(Assignment, Assignment.mentee_id == Person.id)
                  .join(Organization, Organization.id == Assignment.shop_id)
                  .where(Assignment.id == assignment_id)).first()
    return f"assignment {assignment_id} " + (f"({row[0]} at {row[1]})" if row else "(no longer stored)")

