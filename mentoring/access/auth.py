"""Passwords and PINs (argon2id): the rules for choosing them, and checking them under the throttles."""

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from mentoring.access import lockout, offline, throttle
from mentoring.access.lockout import LoginRefused, Subject
from mentoring.access.throttle import Limits
from mentoring.clock import utcnow
from mentoring.errors import FormError
from mentoring.people.models import Person

# OWASP ASVS 5.0 V11.4.2: argon2id, m >= 19 MiB, t >= 2, p = 1.
PRODUCTION_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.ID)
_hasher = PRODUCTION_HASHER  # tests swap in cheaper parameters
# Verifying against this keeps unknown emails as slow as known ones.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD = 12
PIN_RE = re.compile(r"\d{4,6}")
COMMON_PASSWORDS_FILE = Path(__file__).parent.parent / "data" / "common-passwords.txt"
# The most common PINs that the pattern rules below do not already catch (from published analyses of
# leaked PIN sets): each would be among an attacker's first guesses.
COMMON_PINS = frozenset({"1004", "2000", "2001", "6969", "1122", "112233", "789456", "159753"})


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored: str | None, secret: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, secret) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


@cache
def common_passwords() -> frozenset[str]:
    """Lower-cased; only entries long enough to pass the length rule (see the file's header)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise FormError({"password": f"Use at least {MIN_PASSWORD} characters; a few words make a good one."})
    if password.lower() in common_passwords():
        raise FormError({"password": "That password is on a list of the most common passwords, which are "
                                     "guessed first. Choose another."})
    return password


def weak_pin_reason(pin: str) -> str | None:
    """Why a PIN would be among the first guesses, or None."""
    steps = [int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)]
    if len(set(pin)) == 1:
        return "one digit repeated"
    # Constant steps (1234, 9753), and runs that wrap round the keypad's 0 (7890, 2109).
    if len(set(steps)) == 1 or {step % 10 for step in steps} in ({1}, {9}):
        return "a run of digits (like 1234, 4321 or 2468)"
    if any(len(pin) % n == 0 and pin == pin[:n] * (len(pin) // n) for n in range(2, len(pin) // 2 + 1)):
        return "a repeated pattern (like 1212)"
    if pin in COMMON_PINS:
        return "one of the most common PINs"
    return None


def check_pin(pin: str) -> str:
    if not PIN_RE.fullmatch(pin):
        raise FormError({"pin": "A PIN is 4 to 6 digits."})
    reason = weak_pin_reason(pin)
    if reason:
        raise FormError({"pin": f"That PIN is {reason}, which is easy to guess. Choose another."})
    return pin


def set_password(person: Person, password: str) -> None:
    person.password_hash = hash_secret(check_password(password))


def set_pin(person: Person, pin: str) -> None:
    person.pin_hash = hash_secret(check_pin(pin))


def replace_password(db: Session, person: Person, password: str) -> None:
    """A new password (the person's own, or set by an admin) also lifts the account's lock."""
    set_password(person, password)
    db.add(person)
    throttle.clear(db, throttle.account_key(person.email))


def replace_pin(db: Session, person: Person, pin: str) -> None:
    """A new PIN (every change of an existing person's PIN comes here) also lifts the lock of wrong PINs and
    ends the tablets' offline checks of the old one."""
    set_pin(person, pin)
    db.add(person)
    throttle.clear(db, throttle.pin_key(person.id))
    offline.forget(db, person_id=person.id)


@dataclass(frozen=True)
class SignInLimits:
    """Wrong passwords per account (and per trusted device), and per client address."""
    account: Limits = Limits()
    address: Limits = Limits(lock_after=20)


@dataclass(frozen=True)
class Attempt:
    """Where a password attempt comes from: the client address and, when the browser holds a valid device
    cookie for the account, that cookie's device id."""
    address: str = ""
    device: str | None = None


ACCOUNT_LOCKED = "Too many failed sign-ins for this account. Try again in {wait}."
ADDRESS_LOCKED = "Too many failed sign-ins from this network. Try again in {wait}."


def _password_subjects(db: Session, email: str, attempt: Attempt, limits: SignInLimits, now: datetime
                       ) -> list[Subject]:
    """What this attempt counts against. A trusted device answers only to its own budget; once that is spent
    it is a stranger again, under the account's and the address's locks. A right password clears the
    account's streak, or only the device's: the owner signing in on a trusted browser must not hand a
    stranger a fresh set of guesses. The address's count is shared and is never cleared."""
    if attempt.device and throttle.wait_for(db, throttle.device_key(attempt.device), now=now) is None:
        return [Subject(throttle.device_key(attempt.device), limits.account, ACCOUNT_LOCKED)]
    return [Subject(throttle.account_key(email), limits.account, ACCOUNT_LOCKED),
            Subject(throttle.address_key(attempt.address), limits.address, ADDRESS_LOCKED, clears=False)]


def _check_password(db: Session, email: str, stored_hash: str | None, password: str, *, limits: SignInLimits,
                    attempt: Attempt, now: datetime) -> bool:
    """Verify a password under the lockout: raise LoginRefused while locked, count a failure."""
    return lockout.attempt(db, _password_subjects(db, email, attempt, limits, now),
                           lambda: verify_secret(stored_hash, password), now=now)


def authenticate(db: Session, email: str, password: str, *, limits: SignInLimits = SignInLimits(),
                 attempt: Attempt = Attempt(), now: datetime | None = None) -> Person:
    """Return the person, or raise LoginRefused. An unknown email takes the same path as a known one:
    the same hashing, the same counting (keyed by the email, not the row), the same answers."""
    now = now or utcnow()
    email = email.strip().lower()
    person = db.exec(select(Person).where(Person.email == email)).first()
    stored = person.password_hash if person is not None and person.is_active else None
    if not _check_password(db, email, stored, password, limits=limits, attempt=attempt, now=now):
        raise LoginRefused("Email or password is not right.")
    if _hasher.check_needs_rehash(person.password_hash):
        person.password_hash = hash_secret(password)
        db.add(person)
    return person


def confirm_password(db: Session, person: Person, password: str, *, limits: SignInLimits = SignInLimits(),
                     attempt: Attempt = Attempt(), now: datetime | None = None) -> None:
    """The current password, asked again before a password, PIN or email change: it is a password guess
    like any other, so it answers to the same throttles as signing in."""
    if not _check_password(db, person.email, person.password_hash, password, limits=limits, attempt=attempt,
                           now=now or utcnow()):
        raise FormError({"current_password": "Your current password is not right."})


def verify_pin(person: Person, pin: str) -> bool:
    return bool(PIN_RE.fullmatch(pin)) and verify_secret(person.pin_hash, pin)


# Wrong PINs (on a shop tablet or confirming a signature) count on their own key, apart from wrong
# passwords: a mentor who mistypes a PIN is not locked out of signing in, nor the other way round.
PIN_LOCKED = ("Too many wrong PINs. Try again in {wait}, set a new PIN on your account page, "
              "or ask your shop's admin to set one.")


def try_pin(db: Session, person: Person, pin: str, *, limits: Limits) -> bool:
    """Verify a PIN under the lockout: raise LoginRefused while locked, count a failure."""
    return lockout.attempt(db, [Subject(throttle.pin_key(person.id), limits, PIN_LOCKED)],
                           lambda: verify_pin(person, pin))
