"""Failed attempts and request budgets, counted in one table keyed by strings.

Every lock in the project lives here: wrong passwords per account (keyed by the normalized email, so an
address with no account behaves exactly like one with an account) and per client address, wrong PINs per
person, trusted-device cookies, and the request budget of the public verification page. The table is in the
database, so every app process sees the same counts; each count is one upsert, so failures that arrive
at the same moment are all counted (PostgreSQL holds the row lock until the transaction ends).
"""

import base64
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from mentoring.access.models import ThrottleEntry
from mentoring.clock import utcnow

FORGET_AFTER = timedelta(hours=24)  # a streak of failures older than this starts again from zero
DEVICE_DAYS = 365  # how long a browser stays trusted for an account after a successful sign-in
DEVICES_PER_BROWSER = 5  # a shared office computer may be trusted for a few accounts
_DEVICE_TOKEN = re.compile(r"[A-Za-z0-9_-]{16}\.\d{1,12}\.[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class Limits:
    lock_after: int = 5
    max_minutes: int = 15

    def lock_for(self, failures: int) -> timedelta | None:
        """Each failure past the limit doubles the wait, from 30 seconds up to the cap."""
        if failures < self.lock_after:
            return None
        seconds = 30 * 2 ** min(failures - self.lock_after, 20)
        return timedelta(seconds=min(seconds, self.max_minutes * 60))


# --- keys -------------------------------------------------------------------------------------

def account_key(email: str) -> str:
    return "account:" + email.strip().lower()[:254]  # no account has a longer email


def address_key(address: str) -> str:
    return "address:" + (address or "unknown")[:64]


def pin_key(person_id: int) -> str:
    return f"pin:{person_id}"


def device_key(nonce: str) -> str:
    return "device:" + nonce


def verify_key(address: str) -> str:
    return "verify:" + (address or "unknown")[:64]


# --- checking, counting, clearing ---------------------------------------------------------------

def wait_for(db: Session, key: str, *, now: datetime | None = None) -> int | None:
    """Seconds until the key may try again, or None when it is not locked."""
    now = now or utcnow()
    until = db.exec(select(ThrottleEntry.locked_until).where(ThrottleEntry.key == key)).first()
    if until is None or until <= now:
        return None
    return math.ceil((until - now).total_seconds())


def record_failure(db: Session, key: str, limits: Limits, *, now: datetime | None = None) -> int | None:
    """Count one failure; return the seconds of the lock it starts, or None while under the limit."""
    now = now or utcnow()
    count, _ = _bump(db, key, FORGET_AFTER, now)
    wait = limits.lock_for(count)
    if wait is None:
        return None
    db.exec(update(ThrottleEntry).where(ThrottleEntry.key == key).values(locked_until=now + wait)
            .execution_options(synchronize_session=False))
    return math.ceil(wait.total_seconds())


def clear(db: Session, *keys: str) -> None:
    """Forget the failures of these keys (after a success, or when an admin sets a new secret)."""
    db.exec(delete(ThrottleEntry).where(ThrottleEntry.key.in_(keys)).execution_options(synchronize_session=False))


def spend(db: Session, key: str, *, budget: int, per: timedelta, now: datetime | None = None) -> int | None:
    """Take one request from the key's budget for the current window; when the budget is spent, return the
    seconds until the window ends (the caller answers 429), else None."""
    now = now or utcnow()
    count, window_start = _bump(db, key, per, now)
    if count <= budget:
        return None
    return max(1, math.ceil((window_start + per - now).total_seconds()))


def _bump(db: Session, key: str, window: timedelta, now: datetime) -> tuple[int, datetime]:
    """Add one to the key's count in one statement (insert or update), starting a new window when the
    old one has passed; return the count and the start of its window."""
    table = ThrottleEntry.__table__
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table).values(key=key, count=1, window_start=now, locked_until=None)
    expired = table.c.window_start <= now - window
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.key], set_={
        "count": case((expired, 1), else_=table.c.count + 1),
        "window_start": case((expired, stmt.excluded.window_start), else_=table.c.window_start),
        "locked_until": case((expired, None), else_=table.c.locked_until),
    }).returning(table.c.count, table.c.window_start)
    count, window_start = db.connection().execute(stmt).one()
    return count, window_start


# --- trusted devices (OWASP "device cookies") ---------------------------------------------------
# After a successful sign-in the browser gets a signed cookie naming a random device id for that account.
# While the account is locked for unknown browsers, a browser with a valid cookie for it may still try,
# against the device id's own failure budget; when that is spent the cookie no longer helps. So a stranger
# guessing passwords slows down only strangers, not the owner at their usual computer.

def _signature(secret: str, email: str, nonce: str, issued: int) -> str:
    key = hashlib.sha256(b"mentoring device cookie\n" + secret.encode()).digest()
    mac = hmac.new(key, f"{email.strip().lower()}\n{nonce}\n{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def device_nonce(secret: str, email: str, cookie: str | None, *, now: datetime | None = None) -> str | None:
    """The device id that the browser's device cookie holds for this email, if it holds a valid one."""
    now = now or utcnow()
    for token in (cookie or "").split(":")[:DEVICES_PER_BROWSER]:
        nonce, _, rest = token.partition(".")
        issued, _, signature = rest.partition(".")
        if not (nonce and issued.isdigit() and signature):
            continue
        if now.timestamp() - int(issued) > DEVICE_DAYS * 86400:
            continue
        if hmac.compare_digest(signature, _signature(secret, email, nonce, int(issued))):
            return nonce
    return None


def remember_device(secret: str, email: str, cookie: str | None, *, now: datetime | None = None) -> str:
    """The new device cookie value after a successful sign-in: a fresh id for this email first, then the
    browser's other accounts (at most a few)."""
    now = now or utcnow()
    issued = int(now.timestamp())
    nonce = secrets.token_urlsafe(12)
    kept = [t for t in (cookie or "").split(":")
            if _DEVICE_TOKEN.fullmatch(t) and device_nonce(secret, email, t, now=now) is None]
    token = f"{nonce}.{issued}.{_signature(secret, email, nonce, issued)}"
    return ":".join([token, *kept][:DEVICES_PER_BROWSER])
