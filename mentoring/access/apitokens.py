"""Personal API tokens, each scoped to one organization. Only a token's SHA-256 is stored.

A token acts for its person with the roles that person holds in the token's organization only: a token
from shop A answers "not found" for shop B's objects even when its person also works at B.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from mentoring.access import policy
from mentoring.access.models import ApiToken
from mentoring.access.policy import Actor, TokenActor
from mentoring.clock import utcnow
from mentoring.errors import Forbidden, FormError, NotFound
from mentoring.people.models import Membership, Organization, Person
from mentoring.progress.models import Assignment
from mentoring.trail import audit

PREFIX = "mtk_"
NAME_LIMIT = 60
TOUCH_EVERY = timedelta(seconds=60)  # write last_used_at at most once a minute


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= NAME_LIMIT:
        raise FormError({"name": f"Name the token, e.g. 'DMS sync' (1 to {NAME_LIMIT} characters)."})
    return name


def create_token(db: Session, actor: Actor, org: Organization, person: Person | int | None, name: str
                 ) -> tuple[ApiToken, str]:
    """Return the token row and the raw token, which is shown once and never stored."""
    if not policy.can_administer(actor, org.id):
        raise Forbidden if actor.roles_in(org.id) else NotFound
    errors: dict[str, str] = {}
    try:
        name = _clean_name(name)
    except FormError as e:
        errors.update(e.errors)
    if isinstance(person, int):
        person = db.get(Person, person)
    if person is None or not _is_member(db, person.id, org.id):
        errors["person_id"] = f"Choose a person who works at {org.name}."
    elif not person.is_active:
        errors["person_id"] = f"{person.full_name} is no longer active."
    if errors:
        raise FormError(errors)
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(person_id=person.id, organization_id=org.id, name=name, token_hash=_digest(raw),
                     created_by_id=actor.person_id)
    db.add(token)
    db.flush()
    audit.record(db, actor, "apitoken.create", token, org_id=org.id, person_id=person.id, name=name)
    return token, raw


def revoke_token(db: Session, actor: Actor, token: ApiToken) -> None:
    """The organization's admins revoke any of its tokens; a person may revoke their own."""
    get_token_for_revoker(db, actor, token.id)
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    db.add(token)
    audit.record(db, actor, "apitoken.revoke", token, org_id=token.organization_id, person_id=token.person_id)


def revoke_tokens_of(db: Session, actor: Actor, person_id: int, *, org_id: int | None = None) -> None:
    """Revoke a person's live tokens (at one organization, or everywhere): when their role there ends or their
    account is switched off. Revoked stays revoked: giving the role back brings no old token back."""
    query = select(ApiToken).where(ApiToken.person_id == person_id, ApiToken.revoked_at.is_(None))
    if org_id is not None:
        query = query.where(ApiToken.organization_id == org_id)
    for token in db.exec(query).all():
        token.revoked_at = utcnow()
        db.add(token)
        audit.record(db, actor, "apitoken.revoke", token, org_id=token.organization_id, person_id=person_id)


def get_token_for_revoker(db: Session, actor: Actor, token_id: int) -> ApiToken:
    """The organization's admins, and the token's own person, may revoke it; nobody else learns it exists."""
    token = db.get(ApiToken, token_id)
    if token is None or not (policy.can_administer(actor, token.organization_id)
                             or token.person_id == actor.person_id):
        raise NotFound
    return token


def tokens_of_person(db: Session, person_id: int) -> list[tuple[ApiToken, Organization]]:
    return list(db.exec(select(ApiToken, Organization).join(Organization, Organization.id == ApiToken.organization_id)
                        .where(ApiToken.person_id == person_id)
                        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())).all())


def _is_member(db: Session, person_id: int, org_id: int) -> bool:
    return db.exec(select(Membership.id).where(Membership.person_id == person_id,
                                               Membership.organization_id == org_id)).first() is not None


# --- authenticating ---------------------------------------------------------------------------

def find_token(db: Session, raw: str | None) -> ApiToken | None:
    """The live token for a raw value, or None when unknown or revoked."""
    if not raw or not raw.startswith(PREFIX) or len(raw) > 200:
        return None
    token = db.exec(select(ApiToken).where(ApiToken.token_hash == _digest(raw))).first()
    return token if token is not None and token.revoked_at is None else None


def actor_of(db: Session, token: ApiToken, ip: str = "") -> TokenActor | None:
    """The token's person with their roles in the token's organization; None if inactive or no longer a member."""
    person = db.get(Person, token.person_id)
    if person is None or not person.is_active:
        return None
    roles = db.exec(select(Membership.role).where(Membership.person_id == person.id,
                                                  Membership.organization_id == token.organization_id)).all()
    if not roles:
        return None
    # Never the site operator's powers through a token: only what the organization granted.
    return TokenActor(person.id, person.full_name, False,
                      frozenset((token.organization_id, role) for role in roles), ip,
                      token_id=token.id, token_org_id=token.organization_id)


def needs_touch(token: ApiToken) -> bool:
    return token.last_used_at is None or utcnow() - token.last_used_at >= TOUCH_EVERY


def touch(db: Session, token_id: int) -> None:
    now = utcnow()
    db.exec(update(ApiToken).where(ApiToken.id == token_id,
                                   or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOUCH_EVERY))
            .values(last_used_at=now))


def actor_for_token(db: Session, raw: str | None, ip: str = "") -> Actor | None:
    """Authenticate a raw token; records its use (at most once a minute) in db, which the caller commits."""
    token = find_token(db, raw)
    if token is None:
        return None
    actor = actor_of(db, token, ip)
    if actor is not None and needs_touch(token):
        touch(db, token.id)
    return actor


# --- scope ------------------------------------------------------------------------------------

def in_scope(db: Session, actor: Actor, assignment: Assignment) -> bool:
    """policy.in_token_scope: the rule lives in the policy with every other rule of who sees what."""
    return policy.in_token_scope(db, actor, assignment)


def check_scope(db: Session, actor: Actor, assignment: Assignment) -> Assignment:
    if not in_scope(db, actor, assignment):
        raise NotFound
    return assignment


# --- listing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TokenRow:
    token: ApiToken
    person: Person
    created_by: Person | None


def tokens_of_org(db: Session, org_id: int) -> list[TokenRow]:
    creator = aliased(Person)
    rows = db.exec(select(ApiToken, Person, creator)
                   .join(Person, Person.id == ApiToken.person_id)
                   .outerjoin(creator, creator.id == ApiToken.created_by_id)
                   .where(ApiToken.organization_id == org_id)
                   .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())
                   ).all()
    return [TokenRow(*row) for row in rows]
