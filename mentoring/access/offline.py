"""Offline PIN verifiers: how a shop tablet checks a mentor's PIN without the server, and how the server checks
again, at sync, that the signatures it queued were confirmed with the right PIN.

When a mentor unlocks a tablet online with the right PIN, the server makes, once per (tablet, mentor),
K = PBKDF2-HMAC-SHA256(PIN, random salt, iterations). It keeps K encrypted under a key derived from the app
secret. The tablet receives salt, iterations and SHA-256(K), never K or the PIN: offline it derives K from the
typed PIN, compares its hash, and proves each queued event with HMAC-SHA256(K, canonical event), which the
server recomputes with its own K. Changing the PIN, revoking the tablet, switching the account off or ending
the mentor role deletes the verifiers concerned (see README, "PIN threat model")."""

import base64
import hashlib
import hmac
import json
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from mentoring.access.models import OfflineVerifier, TabletDevice

DEFAULT_ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256; setting MENTORING_OFFLINE_PIN_ITERATIONS
SALT_BYTES = 16
KEY_BYTES = 32

# The fields of a queued signature that its proof covers (the contract with the tablet's script, which builds
# the same JSON: keys sorted, no spaces, no ASCII escaping). Ints travel as JSON numbers, the rest as strings.
INT_FIELDS = frozenset({"assignment_id", "base_version", "device_id", "mentor_id", "rating"})
CANONICAL_KEYS = ("assignment_id", "base_version", "device_id", "device_time", "idempotency_key", "mentor_id",
                  "note", "photo_sha256", "rating", "ro_number", "task_code", "vin")


def _fernet(secret: str) -> Fernet:
    # A key of its own for this purpose, so the app secret itself never encrypts anything.
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mentoring-offline-pins",
                   info=b"offline pin verifiers v1").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def derive(pin: str, salt: bytes, iterations: int) -> bytes:
    """K, exactly as the tablet's WebCrypto PBKDF2 derives it from the typed PIN."""
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations, dklen=KEY_BYTES)


def check_of(key: bytes) -> str:
    """What the tablet compares its derived K against: hex SHA-256(K)."""
    return hashlib.sha256(key).hexdigest()


def verifier_for(db: Session, device_id: int, person_id: int) -> OfflineVerifier | None:
    return db.exec(select(OfflineVerifier).where(OfflineVerifier.device_id == device_id,
                                                 OfflineVerifier.person_id == person_id)).first()


def ensure(db: Session, device: TabletDevice, person_id: int, pin: str, *, secret: str,
           iterations: int = DEFAULT_ITERATIONS) -> OfflineVerifier:
    """The pair's verifier, made from the PIN just checked online when there is none (or when the app secret
    changed since). An existing one is kept: a new PIN deletes the old ones (forget), so it matches this PIN."""
    found = verifier_for(db, device.id, person_id)
    if found is not None and key_of(found, secret) is not None:
        return found
    if found is not None:  # made under an earlier app secret: of no use to anyone now
        db.delete(found)
        db.flush()
    salt = secrets.token_bytes(SALT_BYTES)
    key = derive(pin, salt, iterations)
    verifier = OfflineVerifier(device_id=device.id, person_id=person_id, salt=salt.hex(), iterations=iterations,
                               key_encrypted=_fernet(secret).encrypt(key).decode())
    try:
        with db.begin_nested():  # two unlocks at once on PostgreSQL: the other one's verifier stands
            db.add(verifier)
            db.flush()
    except IntegrityError:
        return verifier_for(db, device.id, person_id)
    return verifier


def key_of(verifier: OfflineVerifier, secret: str) -> bytes | None:
    """K, or None when it cannot be opened (the app secret changed since it was made)."""
    try:
        return _fernet(secret).decrypt(verifier.key_encrypted.encode())
    except (InvalidToken, ValueError):
        return None


def public(verifier: OfflineVerifier | None, secret: str) -> dict | None:
    """What the tablet gets: salt, iterations and SHA-256(K); None when there is no usable verifier."""
    key = key_of(verifier, secret) if verifier is not None else None
    if key is None:
        return None
    return {"salt": verifier.salt, "iterations": verifier.iterations, "check": check_of(key)}


def canonical_event(fields: dict) -> bytes:
    """The bytes a queued signature's proof covers: exactly CANONICAL_KEYS from `fields`, ints as numbers.

    Raises KeyError for a missing field and ValueError for an int field that is not a whole number."""
    content = {}
    for name in CANONICAL_KEYS:
        value = fields[name]
        if name in INT_FIELDS:
            if isinstance(value, bool) or not (isinstance(value, int) or str(value).strip().lstrip("-").isdigit()):
                raise ValueError(f"{name} must be a whole number")
            value = int(value)
        else:
            value = "" if value is None else str(value)
        content[name] = value
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def proof_of(key: bytes, canonical: bytes) -> str:
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def proof_ok(verifier: OfflineVerifier | None, canonical: bytes, proof_hex: str, secret: str) -> bool:
    """Whether `proof_hex` is HMAC-SHA256(K, canonical): the PIN checked again, on the server (constant time)."""
    key = key_of(verifier, secret) if verifier is not None else None
    if key is None or not isinstance(proof_hex, str):
        return False
    return hmac.compare_digest(proof_of(key, canonical).encode(), proof_hex.strip().lower().encode())


def forget(db: Session, *, device_id: int | None = None, person_id: int | None = None,
           shop_id: int | None = None) -> int:
    """Delete the verifiers of a tablet, of a person, of a person at one shop's tablets, or of one pair; return
    how many. The tablet drops them at its next snapshot, and sync refuses events whose verifier is gone."""
    if device_id is None and person_id is None and shop_id is None:
        raise ValueError("forget needs a device, a person or a shop")
    query = delete(OfflineVerifier)
    if device_id is not None:
        query = query.where(OfflineVerifier.device_id == device_id)
    if person_id is not None:
        query = query.where(OfflineVerifier.person_id == person_id)
    if shop_id is not None:
        query = query.where(OfflineVerifier.device_id.in_(select(TabletDevice.id)
                                                          .where(TabletDevice.shop_id == shop_id)))
    return db.exec(query).rowcount
