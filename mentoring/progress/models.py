"""Assignments of a shop task list to a mentee, their progress events and evidence photos."""

from datetime import date, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

import mentoring.access.models  # noqa: F401  (the shop tablets events are signed on)
import mentoring.people.models  # noqa: F401  (the people and organizations these rows point at)
import tasklists.models  # noqa: F401  (tables that assignments point at)
from mentoring.clock import utcnow


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
    # The day practised, in the shop's time zone, when logged for a day (`at` is when it was logged).
    practiced_on: date | None = None
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    ro_number: str = Field(default="", max_length=30)
    vin: str = Field(default="", max_length=17)
    reason: str = Field(default="", max_length=300)
    device: str = Field(default="", max_length=80)  # "personal device" or "tablet: Bay 3"
    # A tablet signature made without the PIN, in the shop's multi-sign window after a PIN-confirmed one.
    in_window: bool = False
    ip: str = Field(default="", max_length=64)
    # Signed offline on a shop tablet and sent later: `at` is when the server received it (the chain is in the
    # order of reception), `device_time` when the mentor signed by the tablet's clock, which may be wrong.
    device_time: datetime | None = None
    tablet_id: int | None = Field(default=None, foreign_key="tabletdevice.id")
    # The tablet's key for the event: sending it twice stores it once.
    idempotency_key: str | None = Field(default=None, max_length=36, unique=True)
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


class OfflineConflict(SQLModel, table=True):
    """An offline sign-off that arrived after the task was signed, revoked or countersigned elsewhere.

    It is kept whole (what the mentor signed, the photo, and what the server held at that moment) until the
    mentor or a manager decides what becomes of it; nothing is merged into the chain without that decision."""

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="organization.id", index=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    task_code: str = Field(max_length=40)
    mentor_id: int = Field(foreign_key="person.id", index=True)
    mentor_name: str = Field(max_length=120)
    tablet_id: int = Field(foreign_key="tabletdevice.id")
    tablet_name: str = Field(max_length=60)
    idempotency_key: str = Field(max_length=36, unique=True)
    device_time: datetime
    received_at: datetime = Field(default_factory=utcnow)
    base_version: int  # the task's newest event id when the tablet last synced
    rating: int
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    ro_number: str = Field(default="", max_length=30)
    vin: str = Field(default="", max_length=17)
    # The photo, stored like a sign-off's (evidence.store_photo); empty names: none.
    photo_name: str = Field(default="", max_length=80)
    photo_thumb: str = Field(default="", max_length=80)
    photo_type: str = Field(default="", max_length=20)
    photo_size: int = 0
    photo_sha256: str = Field(default="", max_length=64)
    # JSON: the task's state on the server when the event arrived (status, the sign-off, the events since).
    server_state: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    resolved_at: datetime | None = None
    resolved_by_id: int | None = Field(default=None, foreign_key="person.id")
    resolution: str = Field(default="", max_length=20)  # kept | noted | signed
    resolution_event_id: int | None = Field(default=None, foreign_key="progressevent.id")


class Apprenticeship(SQLModel, table=True):
    """A triad run as a registered apprenticeship. No row for a triad means informal mentoring."""

    id: int | None = Field(default=None, primary_key=True)
    triad_id: int = Field(foreign_key="triad.id", unique=True)
    shop_id: int = Field(foreign_key="organization.id", index=True)
    kind: str = Field(max_length=20)  # time | competency | hybrid
    registration_number: str = Field(max_length=40)
    occupation: str = Field(max_length=120)
    occupation_code: str = Field(default="", max_length=20)  # e.g. the agency's or O*NET code
    start_date: date
    term_hours: int  # on-the-job learning hours of the program
    probation_hours: int
    credit_rule: str = Field(default="none", max_length=20)  # none | hours_per_task | percent
    credit_value: int = 0  # hours per credited task, or percent of the term when every task is credited
    status: str = Field(default="active", max_length=20)  # active | completed | cancelled | transferred
    status_date: date
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="person.id")


class WorkProcess(SQLModel, table=True):
    """One line of the work-process schedule: an area of the assigned list and its target hours."""

    id: int | None = Field(default=None, primary_key=True)
    apprenticeship_id: int = Field(foreign_key="apprenticeship.id", index=True)
    area_code: str = Field(max_length=10)
    title: str = Field(max_length=200)
    target_hours: int
    position: int


class HoursEntry(SQLModel, table=True):
    """On-the-job hours as logged: the logged facts are immutable and chained by hash per apprenticeship.

    The decision (state, decided_*, return_reason) is written onto the row and into the audit log; a correction
    of an approved entry is a new entry pointing at it."""

    __table_args__ = (UniqueConstraint("apprenticeship_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    apprenticeship_id: int = Field(foreign_key="apprenticeship.id", index=True)
    seq: int
    work_process_id: int = Field(foreign_key="workprocess.id")
    day: date
    minutes: int
    ro_number: str = Field(default="", max_length=30)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    state: str = Field(default="pending", max_length=20)  # pending | approved | returned | superseded
    logged_by_id: int | None = Field(default=None, foreign_key="person.id")
    logged_by_name: str = Field(max_length=120)
    logged_at: datetime = Field(default_factory=utcnow)
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    decided_by_name: str = Field(default="", max_length=120)
    decided_at: datetime | None = None
    return_reason: str = Field(default="", max_length=300)
    corrects_id: int | None = Field(default=None, foreign_key="hoursentry.id")
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(max_length=64)


class RtiRecord(SQLModel, table=True):
    """Related technical instruction: classroom hours and the course result for one term."""

    id: int | None = Field(default=None, primary_key=True)
    apprenticeship_id: int = Field(foreign_key="apprenticeship.id", index=True)
    term: str = Field(max_length=40)  # e.g. "Fall 2026"
    course: str = Field(max_length=120)
    hours: int
    result: str = Field(default="", max_length=20)  # a grade, or pass / fail
    school_id: int | None = Field(default=None, foreign_key="organization.id")
    recorded_by_id: int | None = Field(default=None, foreign_key="person.id")
    recorded_by_name: str = Field(max_length=120)
    recorded_at: datetime = Field(default_factory=utcnow)


class PriorCredit(SQLModel, table=True):
    """Credit for prior learning on one task of an assignment, with the evidence exactly as received."""

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    task_code: str = Field(max_length=40)
    source: str = Field(max_length=20)  # credential | school_csv
    issuer_name: str = Field(max_length=200)
    issuer_id: str = Field(max_length=300)
    evidence: str = Field(default="", sa_column=Column(Text, nullable=False))
    evidence_sha256: str = Field(max_length=64)
    credited_by_id: int | None = Field(default=None, foreign_key="person.id")
    credited_at: datetime = Field(default_factory=utcnow)
    rechecked_by_id: int | None = Field(default=None, foreign_key="person.id")
    rechecked_at: datetime | None = None
