"""Dashboard settings, reviews with their signatures, pay steps and tool records."""

from datetime import date, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

import mentoring.people.models  # noqa: F401  (the people and organizations these rows point at)
from mentoring.clock import utcnow


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
    milestone: str = Field(max_length=20)  # area_p1 | coverage | date | ojl_hours | credential
    milestone_area: str = Field(default="", max_length=10)  # area_p1; credential: "" means any credential
    milestone_percent: int | None = None
    milestone_hours: int | None = None  # ojl_hours: approved OJL hours (credited hours included)
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
