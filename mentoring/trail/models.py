"""The audit log: who did what, when and from where."""

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

import mentoring.people.models  # noqa: F401  (the people and organizations these rows point at)
from mentoring.clock import utcnow


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
