"""Organizations, people, their memberships, triads and school enrollments."""

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from mentoring.clock import utcnow

SHOP_KINDS = ("dealership", "independent", "fleet", "collision")
ORG_KINDS = (*SHOP_KINDS, "school")
ROLES = ("admin", "manager", "mentor", "mentee", "instructor")
SHOP_ROLES = ("admin", "manager", "mentor", "mentee")
SCHOOL_ROLES = ("admin", "instructor")

ACTIVE = text("ended_at IS NULL")


class Organization(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=20)
    timezone: str = Field(default="America/Chicago", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    # Shop option: the supplemental safety tasks (area 0) must be signed before any other task.
    safety_first: bool = False
    # Shop option: any mentor of the shop may sign a mentee's task (group demonstrations); otherwise only the
    # mentee's own mentor (policy.may_sign).
    any_mentor_signs: bool = False
    # A school program recorded by a shop (its partner school): that shop's admins invite its instructors
    # until the school has an admin of its own. It gives them no say over anyone's account there.
    created_by_org_id: int | None = Field(default=None, foreign_key="organization.id")
    # Shop option: on a shop tablet, after a signature in a turn opened with the PIN, the same mentor may sign
    # more tasks for the same mentee for this many minutes without the PIN (mentoring/progress/tablet_turns.py).
    tablet_window: bool = False
    tablet_window_minutes: int = 3

    @property
    def is_school(self) -> bool:
        return self.kind == "school"


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)  # stored lower-case
    full_name: str = Field(max_length=120)
    password_hash: str | None = Field(default=None, max_length=200)
    pin_hash: str | None = Field(default=None, max_length=200)
    is_superuser: bool = False
    is_active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    # The organization whose admin created the account. Its admins manage the account fully (name, email,
    # password, PIN) only while the person belongs to no other organization; None: made by the CLI or shared.
    created_by_org_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    # The mentee's own choice: strangers who verify their records also see the ratings (mentoring/access/disclosure.py).
    show_ratings_to_verifiers: bool = False


class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("person_id", "organization_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    role: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow)


class Invitation(SQLModel, table=True):
    """An organization's offer of a role to someone who already has an account. Nothing is granted until the
    person, signed in, accepts it; answered, revoked or expired invitations stay as history."""

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    email: str = Field(max_length=254)  # as typed by the inviter, lower-case
    role: str = Field(max_length=20)
    invited_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    accepted_at: datetime | None = None
    declined_at: datetime | None = None
    revoked_at: datetime | None = None
    # For an account made by this invitation (a new email): the SHA-256 of the emailed set-password link's
    # secret. Setting the password accepts the invitation and clears it, so a link works once.
    token_hash: str | None = Field(default=None, max_length=64, unique=True, index=True)


class Triad(SQLModel, table=True):
    __table_args__ = (
        # At most one active triad per mentee, enforced by the database so that
        # two admins saving at once cannot both succeed.
        Index("uq_triad_active_mentee", "mentee_id", unique=True,
              sqlite_where=ACTIVE, postgresql_where=ACTIVE),
    )

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="organization.id", index=True)
    mentee_id: int = Field(foreign_key="person.id")
    mentor_id: int = Field(foreign_key="person.id", index=True)
    manager_id: int = Field(foreign_key="person.id", index=True)
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


class TriadMentorChange(SQLModel, table=True):
    """Who mentored the triad's mentee, and when: one row per mentor period."""

    id: int | None = Field(default=None, primary_key=True)
    triad_id: int = Field(foreign_key="triad.id", index=True)
    mentor_id: int = Field(foreign_key="person.id")
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    changed_by_id: int | None = Field(default=None, foreign_key="person.id")
    reason: str = Field(default="", max_length=300)


class Enrollment(SQLModel, table=True):
    __table_args__ = (
        Index("uq_enrollment_active", "mentee_id", "school_id", unique=True,
              sqlite_where=ACTIVE, postgresql_where=ACTIVE),
    )

    id: int | None = Field(default=None, primary_key=True)
    mentee_id: int = Field(foreign_key="person.id", index=True)
    shop_id: int = Field(foreign_key="organization.id", index=True)
    school_id: int = Field(foreign_key="organization.id", index=True)
    instructor_id: int = Field(foreign_key="person.id", index=True)
    consent_active: bool = False
    consent_changed_at: datetime | None = None
    consent_changed_by_id: int | None = Field(default=None, foreign_key="person.id")
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
