"""Organizations, people, memberships, triads, enrollments and the audit log."""

from datetime import date, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

import tasklists.models  # noqa: F401  (tables that assignments point at)
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
    # The mentee's own choice: strangers who verify their records also see the ratings (mentoring/disclosure.py).
    show_ratings_to_verifiers: bool = False


class ThrottleEntry(SQLModel, table=True):
    """A count of failures or requests for one key (see mentoring/throttle.py): one row per key."""

    __tablename__ = "throttle"

    key: str = Field(primary_key=True, max_length=300)  # e.g. "account:pat@example.com", "pin:12"
    count: int = 0
    window_start: datetime = Field(default_factory=utcnow)
    locked_until: datetime | None = None


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


class AuditEntry(SQLModel, table=True):
    """Who did what, when and from where. Rows are only ever added."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    organization_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    action: str = Field(max_length=60)
    object_type: str = Field(max_length=40)
    object_id: str = Field(max_length=40)
    ip: str = Field(default="", max_length=64)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class Assignment(SQLModel, table=True):
    """A published shop task-list version given to a triad's mentee. It keeps that version for good."""

    id: int | None = Field(default=None, primary_key=True)
    triad_id: int = Field(foreign_key="triad.id", index=True)
    mentee_id: int = Field(foreign_key="person.id", index=True)
    shop_id: int = Field(foreign_key="organization.id", index=True)
    version_id: int = Field(foreign_key="shoptasklistversion.id", index=True)
    start_date: date
    target_date: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    ended_at: datetime | None = None


class ProgressEvent(SQLModel, table=True):
    """One append-only fact about a task in an assignment, linked to the previous one by its hash."""

    # (at, id): "the newest sign-offs of a shop" reads from the newest end and stops after a page of them.
    __table_args__ = (UniqueConstraint("assignment_id", "seq"), Index("ix_progressevent_at_id", "at", "id"))

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    seq: int  # 1, 2, … within the assignment: the chain's order
    task_code: str = Field(max_length=40)
    kind: str = Field(max_length=20)  # practice | ready | signoff | countersign | revoke | comment
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    actor_name: str = Field(max_length=120)  # printed name at the time of the event
    at: datetime = Field(default_factory=utcnow)
    meaning: str = Field(default="", max_length=60)
    rating: int | None = None
    minutes: int | None = None  # practice time
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    ro_number: str = Field(default="", max_length=30)
    vin: str = Field(default="", max_length=17)
    reason: str = Field(default="", max_length=300)
    device: str = Field(default="", max_length=80)  # "personal device" or "tablet: Bay 3"
    ip: str = Field(default="", max_length=64)
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(max_length=64)


class EvidencePhoto(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="progressevent.id", index=True)
    stored_name: str = Field(max_length=80)  # chosen by the server, never the uploader's name
    thumb_name: str = Field(max_length=80)
    content_type: str = Field(max_length=20)
    size: int
    sha256: str = Field(max_length=64)


class TabletDevice(SQLModel, table=True):
    """A shared shop tablet, enrolled by a manager. The device cookie holds a token; only its hash is kept."""

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=60)
    token_hash: str = Field(max_length=64, unique=True)
    enrolled_by_id: int | None = Field(default=None, foreign_key="person.id")
    enrolled_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class ApiToken(SQLModel, table=True):
    """A personal API token, scoped to one organization; only its hash is kept."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=60)
    token_hash: str = Field(max_length=64, unique=True)
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


# --- reviews, pay plans and tools (issue #5) ------------------------------------------------

class ShopDashboardSettings(SQLModel, table=True):
    """Per-shop choices for the manager's dashboard."""

    shop_id: int = Field(foreign_key="organization.id", primary_key=True)
    stalled_after_days: int = 14


class Review(SQLModel, table=True):
    """A scheduled check-in (30, 60, 90 days) or a custom one; done when every party has signed."""

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="organization.id", index=True)
    triad_id: int = Field(foreign_key="triad.id", index=True)
    mentee_id: int = Field(foreign_key="person.id", index=True)
    title: str = Field(max_length=120)
    kind: str = Field(max_length=10)  # 30 | 60 | 90 | custom
    due_on: date
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="person.id")


class ReviewSignature(SQLModel, table=True):
    """One party's note and signature ("reviewed") on a review; a party signs once."""

    __table_args__ = (UniqueConstraint("review_id", "party"),)

    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True)
    party: str = Field(max_length=10)  # manager | mentor | mentee
    person_id: int = Field(foreign_key="person.id")
    signer_name: str = Field(max_length=120)  # printed name at signing time
    meaning: str = Field(default="reviewed", max_length=60)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    at: datetime = Field(default_factory=utcnow)


class PayStep(SQLModel, table=True):
    """Confidential: a raise tied to a milestone. Read only through policy.can_see_pay_plan."""

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="organization.id", index=True)
    mentee_id: int = Field(foreign_key="person.id", index=True)
    title: str = Field(max_length=120)
    amount_cents: int | None = None  # per hour
    percent_tenths: int | None = None  # 25 = 2.5 %
    effective_on: date | None = None
    milestone: str = Field(max_length=20)  # area_p1 | coverage | date
    milestone_area: str = Field(default="", max_length=10)
    milestone_percent: int | None = None
    milestone_date: date | None = None
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    shared: bool = False  # the mentee may see it
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="person.id")


class PayStepDecision(SQLModel, table=True):
    """The manager's record that a due step was applied or deferred; rows are only added."""

    id: int | None = Field(default=None, primary_key=True)
    pay_step_id: int = Field(foreign_key="paystep.id", index=True)
    decision: str = Field(max_length=10)  # applied | deferred
    effective_on: date | None = None  # applied: when the new rate starts
    deferred_until: date | None = None  # deferred: due again from this day
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    decided_by_name: str = Field(max_length=120)
    at: datetime = Field(default_factory=utcnow)


class ToolRecord(SQLModel, table=True):
    """Confidential: a tool allowance, a tool issued, or a tool lent, with its dates."""

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="organization.id", index=True)
    mentee_id: int = Field(foreign_key="person.id", index=True)
    kind: str = Field(max_length=10)  # allowance | issue | loan
    description: str = Field(max_length=200)
    amount_cents: int | None = None
    on_date: date
    due_back_on: date | None = None
    returned_on: date | None = None
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    shared: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="person.id")

    @property
    def kind_text(self) -> str:
        return {"allowance": "Tool allowance", "issue": "Tool issued", "loan": "Tool on loan"}.get(self.kind, self.kind)
