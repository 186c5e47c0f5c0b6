"""Tables that belong to the web shell rather than the domain."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from mentoring.clock import utcnow


class WebSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    id: str = Field(primary_key=True, max_length=64)
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=300)
    # Set when a mentor acts on a shared shop tablet after tapping their name and entering their PIN.
    tablet_id: int | None = Field(default=None, foreign_key="tabletdevice.id")
    # A tablet turn's multi-sign window (shop option): until then this mentor signs more tasks of this mentee
    # without the PIN. Set after the turn's first signature; None when the shop's option is off.
    window_mentee_id: int | None = Field(default=None, foreign_key="person.id")
    window_until: datetime | None = None
