"""Email digests of each person's inbox, sent over SMTP only when MENTORING_SMTP_URL is set.

Sending is mentoring/mail.py. Mail bodies never include note text or what a pay step is."""

import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from sqlmodel import Session, select

from mentoring import mail
from mentoring.access.policy import load_actor
from mentoring.oversight import inbox
from mentoring.people.models import Invitation, Membership, Person
from mentoring.words import plural

log = logging.getLogger("mentoring.oversight.digest")


@dataclass(frozen=True)
class Digest:
    to: str
    name: str
    items: list[inbox.Item]


def digests(db: Session, *, now: datetime | None = None) -> list[Digest]:
    """One digest per active person with something waiting."""
    # Members, and people with an invitation (who may hold no role anywhere yet).
    people = db.exec(select(Person).where(Person.is_active.is_(True),
                                          Person.id.in_(select(Membership.person_id))
                                          | Person.id.in_(select(Invitation.person_id).where(
                                              Invitation.accepted_at.is_(None), Invitation.declined_at.is_(None),
                                              Invitation.revoked_at.is_(None))))
                     .order_by(Person.id)).all()
    found = []
    for person in people:
        items = inbox.items_for(db, load_actor(db, person), now=now, for_email=True)
        if items:
            found.append(Digest(person.email, person.full_name, items))
    return found


def message(d: Digest, sender: str, base_url: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"Workplace Mentoring: {plural(len(d.items), 'thing')} waiting for you"
    msg["From"], msg["To"] = sender, d.to
    lines = [f"Hello {d.name.split(' ')[0]},", "", "Waiting for you:", ""]
    lines += [f"- {item.text}\n  {base_url.rstrip('/')}{item.link}" for item in d.items]
    lines += ["", f"Your inbox: {base_url.rstrip('/')}/inbox"]
    msg.set_content("\n".join(lines))
    return msg


def send_all(db: Session, smtp_url: str, base_url: str, *, now: datetime | None = None) -> int:
    """Send every digest; 0 without an SMTP URL (nothing is sent and nothing fails)."""
    if not smtp_url:
        return 0
    found = digests(db, now=now)
    sent = mail.send(smtp_url, (message(d, mail.sender(smtp_url), base_url) for d in found))
    if sent:
        log.info("sent %d inbox digest(s)", sent)  # counts only: addresses and contents stay out of logs
    return sent
