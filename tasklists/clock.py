from datetime import UTC, datetime


def utcnow() -> datetime:
    """Aware UTC; SQLModel's UTCDateTime columns refuse naive values."""
    return datetime.now(UTC)
