"""Passwords and PINs (argon2id), and sign-in with per-account throttling."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from mentoring.clock import utcnow
from mentoring.errors import FormError
from mentoring.models import Person

# OWASP ASVS 5.0 V11.4.2: argon2id, m >= 19 MiB, t >= 2, p = 1.
PRODUCTION_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.ID)
_hasher = PRODUCTION_HASHER  # tests swap in cheaper parameters
# Verifying against this keeps unknown emails as slow as known ones.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD = 10
PIN_RE = re.compile(r"\d{4,6}")


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored: str | None, secret: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, secret) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise FormError({"password": f"Use at least {MIN_PASSWORD} characters."})
    return password


def check_pin(pin: str) -> str:
    if not PIN_RE.fullmatch(pin):
        raise FormError({"pin": "A PIN is 4 to 6 digits."})
    if len(set(pin)) == 1:
        raise FormError({"pin": "Choose a PIN that is not one digit repeated."})
    return pin


def set_password(person: Person, password: str) -> None:
    person.password_hash = hash_secret(check_password(password))


def set_pin(person: Person, pin: str) -> None:
    person.pin_hash = hash_secret(check_pin(pin))


@dataclass(frozen=True)
class Throttle:
    lock_after: int = 5
    max_minutes: int = 15

    def lock_for(self, failures: int) -> timedelta | None:
        """Each failure past the limit doubles the wait, from 30 seconds up to the cap."""
        if failures < self.lock_after:
            return None
        seconds = 30 * 2 ** (failures - self.lock_after)
        return timedelta(seconds=min(seconds, self.max_minutes * 60))


class LoginRefused(Exception):
    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def authenticate(db: Session, email: str, password: str, *, throttle: Throttle = Throttle(),
                 now: datetime | None = None) -> Person:
    """Return the person, or raise LoginRefused. Failures are counted on the account only."""
    now = now or utcnow()
    # The row lock keeps concurrent failures from losing counts on PostgreSQL.
    person = db.exec(select(Person).where(Person.email == email.strip().lower()).with_for_update()).first()
    if person is not None and person.locked_until and person.locked_until > now:
        wait = int((person.locked_until - now).total_seconds()) + 1
        raise LoginRefused(f"Too many failed sign-ins for this account. Try again in {_human(wait)}.", wait)
    ok = verify_secret(person.password_hash if person else None, password)
    if person is None or not ok or not person.is_active:
        if person is not None:
            person.failed_logins += 1
            wait = throttle.lock_for(person.failed_logins)
            person.locked_until = now + wait if wait else None
            db.add(person)
        raise LoginRefused("Email or password is not right.")
    person.failed_logins = 0
    person.locked_until = None
    if _hasher.check_needs_rehash(person.password_hash):
        person.password_hash = hash_secret(password)
    db.add(person)
    return person


def verify_pin(person: Person, pin: str) -> bool:
    return bool(PIN_RE.fullmatch(pin)) and verify_secret(person.pin_hash, pin)


def _human(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 120 else f"{(seconds + 59) // 60} minutes"
