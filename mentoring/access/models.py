"""Sign-in throttles, enrolled shop tablets and personal API tokens."""

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

import mentoring.people.models  # noqa: F401  (the people and organizations these rows point at)
from mentoring.clock import utcnow


class ThrottleEntry(SQLModel, table=True):
    """A count of failures or requests for one key (see mentoring/access/throttle.py): one row per key."""

    __tablename__ = "throttle"

    key: str = Field(primary_key=True, max_length=300)  # e.g. "account:pat@example.com", "pin:12"
    count: int = 0
    window_start: datetime = Field(default_factory=utcnow)
    locked_until: datetime | None = None


class TabletDevice(SQLModel, table=True):
    """A shared shop tablet, enrolled by a manager. The device cookie holds a token; only its hash is kept."""

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=60)
    token_hash: str = Field(max_length=64, unique=True)
    enrolled_by_id: int | None = Field(default=None, foreign_key="person.id")
    enrolled_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    # What the tablet last reported when it fetched its offline copy (GET /tablet/offline/snapshot): when, and
    # how many signatures it then held unsent. Managers see stale tablets and unsent signatures from these.
    last_seen_at: datetime | None = None
    queued_count: int = 0


class OfflineVerifier(SQLModel, table=True):
    """What lets one tablet check one mentor's PIN without the server (mentoring/access/offline.py).

    K = PBKDF2-HMAC-SHA256(PIN, salt, iterations) is kept encrypted under a key derived from the app secret;
    the tablet gets salt, iterations and SHA-256(K), never K or the PIN."""

    __table_args__ = (UniqueConstraint("device_id", "person_id", name="uq_offlineverifier_device_person"),)

    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="tabletdevice.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    salt: str = Field(max_length=64)  # hex
    iterations: int
    key_encrypted: str = Field(max_length=200)  # Fernet token of K
    created_at: datetime = Field(default_factory=utcnow)


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
