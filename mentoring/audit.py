"""The audit log: every state change writes one entry in the same transaction."""

import json

from sqlmodel import Session

from mentoring.models import AuditEntry
from mentoring.policy import Actor


def record(db: Session, actor: Actor | None, action: str, obj, *, org_id: int | None = None,
           **detail) -> AuditEntry:
    entry = AuditEntry(
        actor_id=actor.person_id if actor else None,
        ip=actor.ip if actor else "",
        organization_id=org_id,
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=str(obj.id),
        detail=json.dumps(detail, default=str, sort_keys=True),
    )
    db.add(entry)
    return entry
