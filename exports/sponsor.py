"""Sponsor exports: one CSV row per registered apprentice, with the fields a registration agency asks for.

The file is prepared for the sponsor's own submission: the product files nothing with an agency. It carries the
current wage step and its raise, so only the shop's managers and admins may export it (policy). Every cell goes
through spreadsheet.Writer, which makes a leading =, +, -, @, tab or CR inert. Columns are documented in README."""

import io
import re
from dataclasses import dataclass

from sqlmodel import Session, select

from mentoring.clock import utcnow
from mentoring.oversight.models import PayStep, PayStepDecision
from mentoring.oversight.payplan import describe_raise
from mentoring.people.models import Organization, Person, Triad
from mentoring.progress import apprenticeship
from mentoring.progress.models import Apprenticeship
from tasklists import spreadsheet

NOTICE = ("Prepared for the sponsor's own submission to the registration agency. This product does not file "
          "anything with an agency.")
COLUMNS = ["apprentice_name", "email", "occupation", "occupation_code", "program_type", "registration_number",
           "start_date", "term_ojl_hours", "ojl_hours_to_date", "rti_hours_to_date", "wage_step", "wage_step_raise",
           "wage_step_effective", "status", "status_date", "sponsor", "prepared_on"]
PROGRAM_TYPES = {"time": "time-based", "competency": "competency-based", "hybrid": "hybrid"}


@dataclass(frozen=True)
class SponsorFile:
    name: str
    data: bytes


def _current_step(db: Session, shop_id: int, mentee_id: int) -> tuple[PayStep, PayStepDecision] | None:
    """The applied step that took effect last: the apprentice's current wage step."""
    return db.exec(select(PayStep, PayStepDecision).join(PayStepDecision, PayStepDecision.pay_step_id == PayStep.id)
                   .where(PayStep.shop_id == shop_id, PayStep.mentee_id == mentee_id,
                          PayStepDecision.decision == "applied")
                   .order_by(PayStepDecision.effective_on.desc(), PayStepDecision.id.desc())).first()


def row_of(db: Session, app: Apprenticeship, today: str) -> list:
    triad = db.get(Triad, app.triad_id)
    mentee = db.get(Person, triad.mentee_id)
    shop = db.get(Organization, app.shop_id)
    ojl = sum(apprenticeship.approved_hours(db, app.id).values())
    step = _current_step(db, app.shop_id, mentee.id)
    return [mentee.full_name, mentee.email, app.occupation, app.occupation_code, PROGRAM_TYPES.get(app.kind, app.kind),
            app.registration_number, app.start_date.isoformat(), app.term_hours, f"{ojl / 60:.1f}",
            apprenticeship.rti_total(db, app.id), step[0].title if step else "",
            describe_raise(step[0]) if step else "",
            step[1].effective_on.isoformat() if step and step[1].effective_on else "",
            app.status, app.status_date.isoformat(), shop.name, today]


def _csv(rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = spreadsheet.Writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode("utf-8-sig")  # the BOM lets spreadsheet programs read UTF-8


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "export"


def apprentice_file(db: Session, app: Apprenticeship) -> SponsorFile:
    today = utcnow().date().isoformat()
    mentee = db.get(Person, db.get(Triad, app.triad_id).mentee_id)
    return SponsorFile(f"sponsor-apprentice-{_slug(mentee.full_name)}-{today}.csv", _csv([row_of(db, app, today)]))


def program_file(db: Session, shop: Organization, occupation: str = "") -> SponsorFile:
    """All registered apprentices of the shop (every status), optionally of one occupation, by name."""
    query = select(Apprenticeship).where(Apprenticeship.shop_id == shop.id)
    if occupation.strip():
        query = query.where(Apprenticeship.occupation == occupation.strip())
    today = utcnow().date().isoformat()
    rows = sorted((row_of(db, app, today) for app in db.exec(query.order_by(Apprenticeship.id)).all()),
                  key=lambda r: r[0].lower())
    suffix = f"-{_slug(occupation)}" if occupation.strip() else ""
    return SponsorFile(f"sponsor-program-{_slug(shop.name)}{suffix}-{today}.csv", _csv(rows))


def occupations(db: Session, shop_id: int) -> list[str]:
    return list(db.exec(select(Apprenticeship.occupation).where(Apprenticeship.shop_id == shop_id)
                        .distinct().order_by(Apprenticeship.occupation)).all())
