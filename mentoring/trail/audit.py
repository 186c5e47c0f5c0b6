"""The audit log: every state change writes one entry in the same transaction."""

import json
from typing import TYPE_CHECKING

from sqlalchemy import insert
from sqlmodel import Session

from mentoring.clock import utcnow
from mentoring.trail.models import AuditEntry

if TYPE_CHECKING:  # access/ records through this module, so it is named for typing only
    from mentoring.access.policy import Actor


def record(db: Session, actor: "Actor | None", action: str, obj, *, org_id: int | None = None, **detail) -> None:
    # A plain INSERT: entries are never read back in the same transaction, and building an ORM object for
    # each one cost as much as the rest of a sign-off's writes.
    db.exec(insert(AuditEntry.__table__).values(
        at=utcnow(),
        actor_id=actor.person_id if actor else None,
        ip=actor.ip if actor else "",
        organization_id=org_id,
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=str(obj.id),
        detail=json.dumps(detail, default=str, sort_keys=True),
    ))
