"""The failed-attempt lockout: every guess of a secret (a password at sign-in or before an account change, a
PIN on a shop tablet or under a signature) goes through `attempt`, which refuses while locked, counts a
failure so that it outlasts the refused form, and clears the count on success."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from mentoring.access import throttle
from mentoring.access.throttle import Limits
from mentoring.clock import utcnow
from mentoring.words import plural


class LoginRefused(Exception):
    """A locked subject (with retry_after, the seconds to wait), or a wrong secret the caller words."""

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Subject:
    """What a guess counts against: a throttle key and its limits, what to say while it is locked ("{wait}"
    becomes e.g. "30 seconds"), and whether a right guess wipes its count."""
    key: str
    limits: Limits
    locked: str
    clears: bool = True


def attempt(db: Session, subjects: Sequence[Subject], verify: Callable[[], bool], *,
            now: datetime | None = None) -> bool:
    """Raise LoginRefused while any subject is locked; else verify the secret and return whether it was right.

    A wrong guess ends the caller's transaction: it rolls back what the request wrote so far (every caller
    checks the secret before writing anything, and its form is refused anyway) and commits the failure on its
    own, so the refused form's rollback cannot undo the count. Nothing else in the project records one."""
    now = now or utcnow()
    for subject in subjects:
        wait = throttle.wait_for(db, subject.key, now=now)
        if wait:
            raise LoginRefused(subject.locked.format(wait=human(wait)), wait)
    if verify():
        cleared = [s.key for s in subjects if s.clears]
        if cleared:
            throttle.clear(db, *cleared)
        return True
    db.rollback()
    for subject in subjects:
        throttle.record_failure(db, subject.key, subject.limits, now=now)
    db.commit()
    return False


def human(seconds: int) -> str:
    return plural(seconds, "second") if seconds < 120 else plural((seconds + 59) // 60, "minute")
