"""Invitations: how an organization offers a role to someone who already has an account.

An account is global and may hold roles at several organizations, so adding an existing email must not hand
the account to the adding organization. The person, signed in as themself, accepts (and only then holds the
role) or declines; the organization's admins may revoke an invitation that is still open.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from sqlmodel import Session, select

from mentoring.access import policy
from mentoring.access.policy import Actor
from mentoring.clock import utcnow
from mentoring.errors import Forbidden, FormError, NotFound
from mentoring.people.models import Invitation, Membership, Organization, Person
from mentoring.trail import audit

VALID_FOR = timedelta(days=14)


def is_open(invitation: Invitation, now=None) -> bool:
    return (invitation.accepted_at is None and invitation.declined_at is None and invitation.revoked_at is None
            and invitation.expires_at > (now or utcnow()))


def status(invitation: Invitation) -> str:
    if invitation.accepted_at:
        return "accepted"
    if invitation.declined_at:
        return "declined"
    if invitation.revoked_at:
        return "revoked"
    return "pending" if is_open(invitation) else "expired"


def _open_for(person_id: int) -> list:
    return [Invitation.person_id == person_id, Invitation.accepted_at.is_(None), Invitation.declined_at.is_(None),
            Invitation.revoked_at.is_(None), Invitation.expires_at > utcnow()]


def invite(db: Session, actor: Actor, org: Organization, person: Person, role: str) -> Invitation:
    """Called by accounts.add_member (an admin) and by invite_first_admin (the site operator)."""
    if db.exec(select(Membership.id).where(Membership.person_id == person.id, Membership.organization_id == org.id,
                                           Membership.role == role)).first():
        raise FormError({"role": f"{person.full_name} is already {role} at {org.name}."})
    if db.exec(select(Invitation.id).where(*_open_for(person.id), Invitation.organization_id == org.id,
                                           Invitation.role == role)).first():
        raise FormError({"email": f"{person.email} already has an open invitation to be {role} here."})
    invitation = Invitation(organization_id=org.id, person_id=person.id, email=person.email, role=role,
                            invited_by_id=actor.person_id, expires_at=utcnow() + VALID_FOR)
    db.add(invitation)
    db.flush()
    audit.record(db, actor, "invitation.create", invitation, org_id=org.id, person_id=person.id, role=role)
    return invitation


def invite_first_admin(db: Session, actor: Actor, org: Organization, data) -> Person | Invitation:
    """The site operator's one way into an organization: its first admin. A new email gets an account that
    the organization then manages; an existing account gets an invitation."""
    from mentoring.people import accounts

    policy.get_org_for_first_admin(db, actor, org.id)
    person = db.exec(select(Person).where(Person.email == data.email)).first()
    if person is None:
        person = accounts.create_person(db, actor, data, password=data.password, created_by_org=org)
        accounts.grant_role(db, actor, org, person, "admin")
        return person
    if data.password:
        raise FormError({"email": "This person already has an account; they will be invited, so leave the "
                                  "password blank."})
    return invite(db, actor, org, person, "admin")


# --- invitations by email, with a link to set a password ------------------------------------------

def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_with_link(db: Session, actor: Actor, org: Organization, person: Person, role: str) -> tuple[Invitation, str]:
    """The emailed set-password link of an account the organization made (policy.may_send_password_link).
    Only the link's hash is stored; a new link revokes the person's open ones here."""
    if not policy.may_send_password_link(db, org, person):
        raise FormError({"email": "This person already has an account; they sign in to accept instead."})
    for old in db.exec(select(Invitation).where(*_open_for(person.id), Invitation.organization_id == org.id)):
        old.revoked_at, old.token_hash = utcnow(), None  # the old link stops working
        db.add(old)
    token = secrets.token_urlsafe(32)
    invitation = Invitation(organization_id=org.id, person_id=person.id, email=person.email, role=role,
                            invited_by_id=actor.person_id, expires_at=utcnow() + VALID_FOR, token_hash=_digest(token))
    db.add(invitation)
    db.flush()
    audit.record(db, actor, "invitation.create", invitation, org_id=org.id, person_id=person.id, role=role,
                 link=True)
    return invitation, token


def by_link(db: Session, token: str) -> Invitation:
    """The open invitation a set-password link belongs to; a used, revoked or expired link is not found."""
    invitation = db.exec(select(Invitation).where(Invitation.token_hash == _digest(token or ""))).first() \
        if token else None
    if invitation is None or not is_open(invitation):
        raise NotFound
    return invitation


def accept_with_password(db: Session, invitation: Invitation, password: str, again: str) -> Person:
    """The invited person sets their password through the emailed link, which accepts the invitation."""
    from mentoring.access.auth import check_password, hash_secret
    from mentoring.access.policy import load_actor

    errors = {}
    try:
        check_password(password)
    except FormError as e:
        errors.update(e.errors)
    if password != again:
        errors["password_again"] = "The two passwords differ."
    if errors:
        raise FormError(errors)
    person = db.get(Person, invitation.person_id)
    person.password_hash = hash_secret(password)
    db.add(person)
    invitation.token_hash = None  # the link works once
    accept(db, load_actor(db, person), invitation)
    return person


def invitation_email(invitation: Invitation, org: Organization, person: Person, inviter: str, base_url: str,
                     token: str = "") -> EmailMessage:
    """What the invited person receives: with a token, the link to set a password; otherwise a note to sign in
    and accept."""
    msg = EmailMessage()
    msg["To"] = person.email
    msg["Subject"] = f"{org.name} invites you to Workplace Mentoring"
    base = base_url.rstrip("/")
    lines = [f"Hello {person.full_name.split(' ')[0]},", "",
             f"{inviter} invites you to join {org.name} as {invitation.role}.", ""]
    if token:
        lines += ["Choose your password here to accept (the link works once, until "
                  f"{invitation.expires_at:%Y-%m-%d}):", f"{base}/welcome/{token}"]
    else:
        lines += ["Sign in with your account and accept or decline the invitation:", f"{base}/invitations"]
    lines += ["", "If you did not expect this, ignore this email: nothing happens unless you accept."]
    msg.set_content("\n".join(lines))
    return msg


# --- the invited person -------------------------------------------------------------------------

@dataclass(frozen=True)
class InvitationRow:
    invitation: Invitation
    organization: Organization
    invited_by: Person | None


def _rows(db: Session, *where) -> list[InvitationRow]:
    rows = db.exec(select(Invitation, Organization, Person)
                   .join(Organization, Organization.id == Invitation.organization_id)
                   .outerjoin(Person, Person.id == Invitation.invited_by_id)
                   .where(*where).order_by(Invitation.created_at.desc(), Invitation.id.desc())).all()
    return [InvitationRow(*row) for row in rows]


def pending_for(db: Session, person_id: int) -> list[InvitationRow]:
    return _rows(db, *_open_for(person_id))


def get_for_invitee(db: Session, actor: Actor, invitation_id: int) -> Invitation:
    """Only the invited person answers an invitation; for everyone else it does not exist."""
    invitation = db.get(Invitation, invitation_id)
    if invitation is None or actor.person_id is None or invitation.person_id != actor.person_id:
        raise NotFound
    return invitation


def accept(db: Session, actor: Actor, invitation: Invitation) -> Membership | None:
    from mentoring.people import accounts

    _require_open(invitation)
    invitation.accepted_at = utcnow()
    db.add(invitation)
    org, person = db.get(Organization, invitation.organization_id), db.get(Person, invitation.person_id)
    audit.record(db, actor, "invitation.accept", invitation, org_id=org.id, person_id=person.id,
                 role=invitation.role)
    if db.exec(select(Membership.id).where(Membership.person_id == person.id, Membership.organization_id == org.id,
                                           Membership.role == invitation.role)).first():
        return None  # granted meanwhile (e.g. by the CLI): accepting changes nothing more
    return accounts.grant_role(db, actor, org, person, invitation.role)


def decline(db: Session, actor: Actor, invitation: Invitation) -> None:
    _require_open(invitation)
    invitation.declined_at = utcnow()
    db.add(invitation)
    audit.record(db, actor, "invitation.decline", invitation, org_id=invitation.organization_id,
                 person_id=invitation.person_id)


def _require_open(invitation: Invitation) -> None:
    if not is_open(invitation):
        raise FormError({"": f"This invitation is no longer open (it was {status(invitation)})."})


# --- the organization's admins ---------------------------------------------------------------------

def pending_at(db: Session, org_id: int) -> list[tuple[Invitation, Person]]:
    now = utcnow()
    return list(db.exec(select(Invitation, Person).join(Person, Person.id == Invitation.person_id)
                        .where(Invitation.organization_id == org_id, Invitation.accepted_at.is_(None),
                               Invitation.declined_at.is_(None), Invitation.revoked_at.is_(None),
                               Invitation.expires_at > now)
                        .order_by(Invitation.created_at.desc())).all())


def get_for_revoker(db: Session, actor: Actor, invitation_id: int) -> Invitation:
    """The organization's admins revoke; the invitee sees it but may only decline (403); others get 404."""
    invitation = db.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound
    if policy.can_administer(actor, invitation.organization_id):
        return invitation
    if invitation.person_id == actor.person_id:
        raise Forbidden("Only the organization's admins revoke an invitation; you can decline it.")
    raise NotFound


def revoke(db: Session, actor: Actor, invitation: Invitation) -> None:
    _require_open(invitation)
    invitation.revoked_at = utcnow()
    db.add(invitation)
    audit.record(db, actor, "invitation.revoke", invitation, org_id=invitation.organization_id,
                 person_id=invitation.person_id)
