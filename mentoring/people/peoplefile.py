"""Adding several people at once from a CSV file (name, email, role, mentor[, manager]).

Like the task-list import (tasklists/files.py): every problem is reported with its line number, and a file with
any problem adds nobody. A mentee's "mentor" cell (the email of a mentor in the file or of the shop) starts
their triad, managed by the "manager" cell's manager or, when blank, by the admin importing if they are a
manager there."""

import csv
import io
from dataclasses import dataclass

from sqlmodel import Session, select

from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.errors import FormError, parse_input
from mentoring.people import accounts, triads
from mentoring.people.accounts import Added, NewPersonIn
from mentoring.people.models import SCHOOL_ROLES, SHOP_ROLES, Organization, Person
from mentoring.people.triads import TriadIn
from tasklists.spreadsheet import format_row, restore

COLUMNS = ("name", "email", "role", "mentor", "manager")
MAX_ROWS = 500
TEMPLATE = "".join(format_row(row) for row in (
    ("name", "email", "role", "mentor", "manager"),
    ("Milo Mentor", "milo@example.com", "mentor", "", ""),
    ("Tess Mentee", "tess@example.com", "mentee", "milo@example.com", ""),
))


@dataclass(frozen=True)
class Row:
    line: int
    name: str
    email: str
    role: str
    mentor: str
    manager: str
    exists: bool  # the email already has an account: the person is invited (or given the role) instead


class PeopleFileError(FormError):
    """A refused file: every problem with its line number; nothing was added."""

    def __init__(self, problems: list[str]):
        super().__init__({"file": "The file was refused; nobody was added. Fix these lines and upload it again."})
        self.problems = problems


def read(db: Session, actor: Actor, org: Organization, text: str) -> list[Row]:
    """The file's rows, or PeopleFileError with every problem as "line N: …"."""
    problems: list[str] = []
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in COLUMNS[:3] if c not in header]
    unknown = [h for h in header if h and h not in COLUMNS]
    if missing or unknown:
        raise PeopleFileError([f"line 1: the first line names the columns: name, email, role, and optionally "
                               f"mentor and manager{'; missing: ' + ', '.join(missing) if missing else ''}"
                               f"{'; unknown: ' + ', '.join(unknown) if unknown else ''}"])
    allowed = SCHOOL_ROLES if org.is_school else SHOP_ROLES
    raw: list[tuple[int, dict]] = []
    for cells in reader:
        if any(c.strip() for c in cells):
            raw.append((reader.line_num, {h: restore(c).strip() for h, c in zip(header, cells, strict=False)}))
    if not raw:
        raise PeopleFileError(["line 2: the file has nobody in it"])
    if len(raw) > MAX_ROWS:
        raise PeopleFileError([f"line {raw[MAX_ROWS][0]}: at most {MAX_ROWS} people per file"])
    in_file: dict[str, tuple[int, str]] = {}  # email -> (line, role)
    rows: list[Row] = []
    for line, cells in raw:
        row_problems = []
        try:
            data = parse_input(NewPersonIn, {"full_name": cells.get("name", ""), "email": cells.get("email", ""),
                                             "role": cells.get("role", "").lower()})
        except FormError as e:
            row_problems += [m.rstrip(".") for m in e.errors.values()]
            data = None
        role = cells.get("role", "").lower()
        if role not in allowed:
            row_problems.append(f"role must be one of: {', '.join(allowed)}")
        if data is not None:
            if data.email in in_file:
                row_problems.append(f"{data.email} is also on line {in_file[data.email][0]}")
            else:
                in_file[data.email] = (line, role)
        if row_problems:
            problems += [f"line {line}: {p}" for p in row_problems]
            continue
        person = db.exec(select(Person).where(Person.email == data.email)).first()
        if person is not None and policy.holds_role(db, person.id, org.id, role):
            problems.append(f"line {line}: {data.email} is already {role} at {org.name}")
        rows.append(Row(line, data.full_name, data.email, role, cells.get("mentor", "").lower(),
                        cells.get("manager", "").lower(), person is not None))
    for row in rows:
        problems += [f"line {row.line}: {p}" for p in _triad_problems(db, actor, org, row, in_file)]
    if problems:
        raise PeopleFileError(sorted(problems, key=lambda p: int(p.split(":")[0].removeprefix("line "))))
    return rows


def _triad_problems(db: Session, actor: Actor, org: Organization, row: Row, in_file: dict) -> list[str]:
    if not row.mentor and not row.manager:
        return []
    if row.role != "mentee":
        return ["only a mentee has a mentor or manager"]
    if row.exists:
        return [f"{row.email} already has an account, so they are invited; start their triad once they accept"]
    found = []
    for role, email in (("mentor", row.mentor), ("manager", row.manager or _default_manager(db, actor, org))):
        if not email:
            found.append("name the triad's manager in a manager column (you are not a manager here)")
        elif email == row.email:
            found.append(f"the {role} must be someone other than the mentee")
        elif in_file.get(email, (0, ""))[1] != role and not _holds(db, email, org, role):
            found.append(f"{email} is not a {role} here or in this file")
    return found


def _default_manager(db: Session, actor: Actor, org: Organization) -> str:
    person = db.get(Person, actor.person_id) if "manager" in actor.roles_in(org.id) else None
    return person.email if person else ""


def _holds(db: Session, email: str, org: Organization, role: str) -> bool:
    person = db.exec(select(Person).where(Person.email == email)).first()
    return person is not None and policy.holds_role(db, person.id, org.id, role)


def import_people(db: Session, actor: Actor, org: Organization, text: str, *, by_email: bool) -> list[Added]:
    """Add everyone in the file and start the triads it names, or nobody (PeopleFileError, FormError)."""
    rows = read(db, actor, org, text)
    added = []
    for row in rows:
        try:
            added.append(accounts.add_person(db, actor, org, {"full_name": row.name, "email": row.email,
                                                              "role": row.role}, by_email=by_email))
        except FormError as e:
            raise PeopleFileError([f"line {row.line}: {m}" for m in e.errors.values()]) from None
    for row in rows:
        if row.role == "mentee" and row.mentor:
            ids = {r: _person_id(db, email) for r, email in (
                ("mentee", row.email), ("mentor", row.mentor),
                ("manager", row.manager or _default_manager(db, actor, org)))}
            try:
                triads.create_triad(db, actor, org, TriadIn(mentee_id=ids["mentee"], mentor_id=ids["mentor"],
                                                            manager_id=ids["manager"]))
            except FormError as e:
                raise PeopleFileError([f"line {row.line}: {m}" for m in e.errors.values()]) from None
    return added


def _person_id(db: Session, email: str) -> int:
    return db.exec(select(Person.id).where(Person.email == email)).one()
