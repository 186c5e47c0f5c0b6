"""Organizations, people and memberships: the rules for creating and changing them."""

import re
from dataclasses import dataclass
from typing import Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, field_validator, model_validator
from sqlmodel import Session, select

from mentoring.access import apitokens, offline, policy
from mentoring.access.auth import check_password, check_pin, hash_secret, replace_password, replace_pin, set_pin
from mentoring.access.policy import Actor
from mentoring.errors import FormError, NotFound, flush_unique, parse_input
from mentoring.people.models import (
    ORG_KINDS,
    SCHOOL_ROLES,
    SHOP_ROLES,
    Invitation,
    Membership,
    Organization,
    Person,
    Triad,
)
from mentoring.trail import audit

EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _text(value: str, what: str, limit: int) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise ValueError(f"{what} is required.")
    if len(value) > limit:
        raise ValueError(f"{what} must be at most {limit} characters.")
    return value


class OrganizationIn(BaseModel):
    name: str
    kind: Literal[ORG_KINDS]  # type: ignore[valid-type]
    timezone: str = "America/Chicago"
    safety_first: bool = False  # shops only: area 0 (safety) must be signed before other tasks
    any_mentor_signs: bool = False  # shops only: any of its mentors signs, not just the mentee's own mentor
    tablet_window: bool = False  # shops only: more signatures for one mentee on a tablet without the PIN
    tablet_window_minutes: int = 3

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, v):
        return _text(v, "Name", 200)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v):
        if v not in available_timezones():
            raise ValueError("Pick a time zone such as America/Chicago.")
        return v

    @field_validator("tablet_window_minutes", mode="before")
    @classmethod
    def _window_minutes(cls, v):
        v = str(v if v is not None else "").strip() or "3"
        if not v.isdigit() or not 2 <= int(v) <= 10:
            raise ValueError("Choose between 2 and 10 minutes.")
        return int(v)

    @model_validator(mode="after")
    def _schools_have_no_signers(self):
        if self.kind == "school":  # nobody signs tasks at a school, so the options would only mislead
            self.any_mentor_signs = self.tablet_window = False
        return self


class PersonIn(BaseModel):
    full_name: str
    email: str

    @field_validator("full_name", mode="before")
    @classmethod
    def _name(cls, v):
        return _text(v, "Name", 120)

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, v):
        return _clean_email(v)


def _clean_email(v) -> str:
    v = str(v or "").strip().lower()
    if not EMAIL_RE.fullmatch(v) or len(v) > 254:
        raise ValueError("Enter an email address like name@example.com.")
    return v


class NewPersonIn(PersonIn):
    role: str
    password: str = ""
    pin: str = ""


# --- organizations -------------------------------------------------------------

def create_organization(db: Session, actor: Actor, data: OrganizationIn) -> Organization:
    _unique_org_name(db, data.name)
    org = Organization(**data.model_dump())
    db.add(org)
    db.flush()
    audit.record(db, actor, "organization.create", org, org_id=org.id, name=org.name, kind=org.kind)
    return org


class SchoolIn(BaseModel):
    name: str
    timezone: str = "America/Chicago"

    _name = field_validator("name", mode="before")(OrganizationIn._name.__func__)
    _tz = field_validator("timezone")(OrganizationIn._tz.__func__)


def add_partner_school(db: Session, actor: Actor, shop: Organization, data: SchoolIn) -> Organization:
    """A shop's admin records the school program its students come from, so that it can enroll them there.
    The shop gets no role at the school: its admins may only invite the school's instructors by email
    (policy.get_partner_school_for_admin) until the school has an admin of its own."""
    if not policy.can_administer(actor, shop.id) or shop.is_school:
        raise NotFound
    _unique_org_name(db, data.name)
    school = Organization(name=data.name, kind="school", timezone=data.timezone, created_by_org_id=shop.id)
    db.add(school)
    flush_unique(db, {"name": "An organization with this name already exists."})
    audit.record(db, actor, "organization.create", school, org_id=shop.id, name=school.name, kind="school",
                 school_id=school.id)
    return school


def update_organization(db: Session, actor: Actor, org: Organization, data: OrganizationIn) -> None:
    if data.name != org.name:
        _unique_org_name(db, data.name)
    if data.kind != org.kind and (data.kind == "school") != org.is_school:
        raise FormError({"kind": "A shop cannot become a school program, or the other way round."})
    only = policy.org_fields_editable_by(actor, org.id)  # the site operator: name, kind and time zone
    changes = data.model_dump(include=set(only) if only is not None else None)
    org.sqlmodel_update(changes)
    db.add(org)
    audit.record(db, actor, "organization.update", org, org_id=org.id, **changes)


def _unique_org_name(db: Session, name: str) -> None:
    if db.exec(select(Organization.id).where(Organization.name == name)).first():
        raise FormError({"name": "An organization with this name already exists."})


# --- people and memberships ----------------------------------------------------

def create_person(db: Session, actor: Actor | None, data: PersonIn, *, password: str = "",
                  pin: str = "", superuser: bool = False, created_by_org: Organization | None = None) -> Person:
    _unique_email(db, data.email)
    person = Person(full_name=data.full_name, email=data.email, is_superuser=superuser,
                    created_by_org_id=created_by_org.id if created_by_org else None)
    if password:
        person.password_hash = hash_secret(check_password(password))
    if pin:
        set_pin(person, pin)
    db.add(person)
    flush_unique(db, {"email": "Someone with this email already exists."})
    audit.record(db, actor, "person.create", person, email=person.email, org_id=person.created_by_org_id)
    return person


def update_person(db: Session, actor: Actor, person: Person, data: PersonIn, *, active: bool) -> None:
    """Name, email and the sign-in switch: only for an account the actor's organization manages."""
    policy.require_account_manager(db, actor, person)
    if data.email != person.email:
        _unique_email(db, data.email)
    person.full_name, person.email = data.full_name, data.email
    db.add(person)
    flush_unique(db, {"email": "Someone with this email already exists."})
    if active != person.is_active:
        set_active(db, actor, person, active)
    audit.record(db, actor, "person.update", person, email=person.email, active=active)


def set_active(db: Session, actor: Actor, person: Person, active: bool) -> None:
    """Turn an account's sign-in on or off. Switching it off revokes every API token for good, so switching
    it back on brings none back; the caller ends the person's web sessions."""
    person.is_active = active
    db.add(person)
    if not active:
        apitokens.revoke_tokens_of(db, actor, person.id)
        offline.forget(db, person_id=person.id)


def reset_credentials(db: Session, actor: Actor, person: Person, *, password: str, pin: str) -> None:
    """A new password and/or PIN for someone who forgot theirs; the lock is lifted. From the web only by an
    admin of the organization that manages the account; the CLI (person_id None) may always."""
    if actor.person_id is not None:
        policy.require_account_manager(db, actor, person)
    if not password and not pin:
        raise FormError({"password": "Enter a new password, a new PIN, or both."})
    if password:
        replace_password(db, person, password)
    if pin:
        replace_pin(db, person, pin)
    audit.record(db, actor, "person.credentials", person, password=bool(password), pin=bool(pin))


def set_email(db: Session, actor: Actor, person: Person, email: str) -> None:
    """The site operator's command (`mentoring users set-email`) for any account."""
    if actor.person_id is not None:
        policy.require_account_manager(db, actor, person)
    email = parse_email(email)
    if email != person.email:
        _unique_email(db, email)
    old, person.email = person.email, email
    db.add(person)
    flush_unique(db, {"email": "Someone with this email already exists."})
    audit.record(db, actor, "person.email", person, old=old, email=email)


def parse_email(value: str) -> str:
    try:
        return _clean_email(value)
    except ValueError as e:
        raise FormError({"email": str(e)}) from None


def add_member(db: Session, actor: Actor | None, org: Organization, data: NewPersonIn) -> Person | Invitation:
    """Add a role at an organization, creating the person when the email is new.

    An email that already has an account elsewhere is never attached silently: the person gets an invitation
    to accept or decline. The CLI and system jobs (no person behind the actor) attach directly."""
    allowed = SCHOOL_ROLES if org.is_school else SHOP_ROLES
    if data.role not in allowed:
        place = "a school program" if org.is_school else "a shop"
        raise FormError({"role": f"At {place} the roles are: {', '.join(allowed)}."})
    person = db.exec(select(Person).where(Person.email == data.email)).first()
    if person is None:
        person = create_person(db, actor, data, password=data.password, pin=data.pin, created_by_org=org)
    elif data.password or data.pin:
        raise FormError({"email": "This person already has an account; add the role without a "
                                  "password or PIN, or let them change their own."})
    elif actor is not None and actor.person_id is not None and org.id not in policy.orgs_of(db, person.id):
        from mentoring.people import invitations
        return invitations.invite(db, actor, org, person, data.role)
    grant_role(db, actor, org, person, data.role)
    return person


@dataclass(frozen=True)
class Added:
    """What "Add a person" did: a role granted, or an invitation (with the set-password link's secret for an
    account it made, to be emailed and never shown)."""
    person: Person
    invitation: Invitation | None = None
    link_token: str = ""


def add_person(db: Session, actor: Actor, org: Organization, form: dict, *, by_email: bool) -> Added:
    """The admin's "Add a person" form, checked whole so that every mistake shows at once.

    by_email: a new account gets no password from the admin; the person is emailed a link to set their own."""
    data = check_new_person(db, org, form, by_email=by_email)
    person = db.exec(select(Person).where(Person.email == data.email)).first()
    if by_email and (person is None or policy.may_send_password_link(db, org, person)):
        # A new account is this organization's, as with a starting password: the role holds at once, and the
        # emailed link (accepted by setting the password) is the only way to sign in to it.
        from mentoring.people import invitations
        if person is None:
            person = create_person(db, actor, data, pin=data.pin, created_by_org=org)
        if not policy.holds_role(db, person.id, org.id, data.role):
            grant_role(db, actor, org, person, data.role)
        invitation, token = invitations.invite_with_link(db, actor, org, person, data.role)
        return Added(person, invitation, token)
    added = add_member(db, actor, org, data)
    return Added(added, None) if isinstance(added, Person) else Added(db.get(Person, added.person_id), added)


def check_new_person(db: Session, org: Organization, form: dict, *, by_email: bool = False) -> NewPersonIn:
    """Every field's problem in one FormError: name, email, role, password and PIN."""
    errors: dict[str, str] = {}
    form = {k: str(v) for k, v in form.items() if k in NewPersonIn.model_fields}
    try:
        data = parse_input(NewPersonIn, {"role": "", **form})
    except FormError as e:
        errors.update(e.errors)
        data = None
    allowed = SCHOOL_ROLES if org.is_school else SHOP_ROLES
    if form.get("role") not in allowed:
        place = "a school program" if org.is_school else "a shop"
        errors["role"] = f"Choose a role. At {place} the roles are: {', '.join(allowed)}."
    password, pin = form.get("password", ""), form.get("pin", "")
    if by_email and password:
        errors["password"] = "Leave the password blank: the email lets them choose their own."
    for secret, check in ((password, check_password), (pin, check_pin)):
        if secret and not (by_email and check is check_password):
            try:
                check(secret)
            except FormError as e:
                errors.update(e.errors)
    if data is not None and (password or pin) and "email" not in errors:
        existing = db.exec(select(Person).where(Person.email == data.email)).first()
        if existing is not None:
            errors["email"] = ("This person already has an account; add the role without a password or PIN, "
                               "or let them change their own.")
    if errors:
        raise FormError(errors)
    return data


def grant_role(db: Session, actor: Actor | None, org: Organization, person: Person, role: str) -> Membership:
    exists = db.exec(select(Membership.id).where(
        Membership.person_id == person.id, Membership.organization_id == org.id,
        Membership.role == role)).first()
    if exists:
        raise FormError({"role": f"{person.full_name} is already {role} at {org.name}."})
    membership = Membership(person_id=person.id, organization_id=org.id, role=role)
    db.add(membership)
    db.flush()
    audit.record(db, actor, "membership.create", membership, org_id=org.id, person_id=person.id, role=role)
    return membership


def remove_membership(db: Session, actor: Actor, membership: Membership) -> None:
    busy = select(Triad.id).where(Triad.ended_at.is_(None), Triad.shop_id == membership.organization_id)
    column = {"mentee": Triad.mentee_id, "mentor": Triad.mentor_id, "manager": Triad.manager_id}
    if membership.role in column and db.exec(busy.where(column[membership.role] == membership.person_id)).first():
        raise FormError({"": f"This person is {membership.role} in an active triad. "
                             "Change or end the triad first."})
    audit.record(db, actor, "membership.delete", membership, org_id=membership.organization_id,
                 person_id=membership.person_id, role=membership.role)
    if membership.role == "mentor":  # no longer a mentor there: that shop's tablets stop checking their PIN
        offline.forget(db, person_id=membership.person_id, shop_id=membership.organization_id)
    db.delete(membership)
    db.flush()


def remove_from_org(db: Session, actor: Actor, org: Organization, person: Person) -> None:
    """An admin ends every role a person holds at their organization, and the person's API tokens there.
    The account and the person's standing elsewhere are untouched."""
    if not policy.can_administer(actor, org.id):
        raise NotFound
    memberships = db.exec(select(Membership).where(Membership.person_id == person.id,
                                                   Membership.organization_id == org.id)).all()
    if not memberships:
        raise NotFound
    for membership in memberships:
        remove_membership(db, actor, membership)
    apitokens.revoke_tokens_of(db, actor, person.id, org_id=org.id)


def _unique_email(db: Session, email: str) -> None:
    if db.exec(select(Person.id).where(Person.email == email)).first():
        raise FormError({"email": "Someone with this email already exists."})
