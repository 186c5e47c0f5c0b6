"""Issuer keys: each organization holds a current ES256 (P-256) key for VC-JWTs and checkpoints and a current
EdDSA (Ed25519) key for Data Integrity proofs; private halves are encrypted under the app secret.

Published identifiers (see README): an organization's DID is did:web:<host>:orgs:<id>, which a did:web
resolver turns into https://<host>/orgs/<id>/did.json. Every key is named by the DID URL <did>#<kid>, where kid
is the key's JWK thumbprint (RFC 7638); the same DID URL is the `kid` in both JWKS documents
(/orgs/<id>/jwks.json and /.well-known/jwks.json) and in every signature. Tokens signed before that carry the
bare thumbprint, and are still accepted.

Rotation retires a key: it signs nothing new but stays published, so what it signed keeps verifying.
Revoking marks a compromised key untrusted from an instant: verifiers here refuse what it signed from then on,
and the DID document drops it from assertionMethod (outside verifiers cannot tell a backdated forgery from a
credential signed before the compromise, so for them the key no longer vouches for anything)."""

import base64
import json
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey, OKPKey
from sqlmodel import Session, select

from exports import dataintegrity
from exports.models import IssuerKey
from mentoring.clock import utcnow
from mentoring.people.models import Organization
from mentoring.trail import audit

ALGORITHM = "ES256"  # VC-JWTs and checkpoints
EDDSA = "EdDSA"  # Data Integrity proofs (eddsa-rdfc-2022)
ALGORITHMS = (ALGORITHM, EDDSA)


class KeyUnavailable(Exception):
    """The stored private key cannot be opened: the app secret changed since it was made."""


def _passphrase(secret: str) -> bytes:
    # A key of its own for this purpose, so the CSRF secret itself never encrypts anything.
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mentoring-issuer-keys",
                   info=b"issuer private keys v1").derive(secret.encode())
    return base64.urlsafe_b64encode(derived)


def create_key(org_id: int, secret: str, algorithm: str = ALGORITHM) -> IssuerKey:
    if algorithm == ALGORITHM:
        key = ECKey.generate_key("P-256")
    elif algorithm == EDDSA:
        key = OKPKey.generate_key("Ed25519")
    else:
        raise ValueError(f"unknown key algorithm {algorithm!r}")
    private = key.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(_passphrase(secret)))
    public = key.as_dict(private=False)
    return IssuerKey(organization_id=org_id, kid=key.thumbprint(), algorithm=algorithm,
                     public_jwk=json.dumps(public, sort_keys=True), private_pem_encrypted=private.decode())


def current_stored(db: Session, org_id: int, algorithm: str = ALGORITHM) -> IssuerKey | None:
    return db.exec(select(IssuerKey).where(IssuerKey.organization_id == org_id, IssuerKey.algorithm == algorithm,
                                           IssuerKey.retired_at.is_(None))).first()


def stored_key(db: Session, org_id: int) -> IssuerKey | None:
    """The organization's current ES256 key, if it has one."""
    return current_stored(db, org_id, ALGORITHM)


def current_key(db: Session, org_id: int, secret: str, algorithm: str = ALGORITHM) -> IssuerKey:
    """The key new signatures use, made on first use for organizations created after `mentoring init`."""
    found = current_stored(db, org_id, algorithm)
    if found is None:
        found = create_key(org_id, secret, algorithm)
        db.add(found)
        db.flush()
    return found


def key_for(db: Session, org_id: int, secret: str) -> IssuerKey:
    return current_key(db, org_id, secret, ALGORITHM)


def ensure_keys(db: Session, secret: str) -> int:
    """Give every organization a current key of each algorithm; return how many were made."""
    have = set(db.exec(select(IssuerKey.organization_id, IssuerKey.algorithm)
                       .where(IssuerKey.retired_at.is_(None))).all())
    made = 0
    for org_id in db.exec(select(Organization.id).order_by(Organization.id)).all():
        for algorithm in ALGORITHMS:
            if (org_id, algorithm) not in have:
                db.add(create_key(org_id, secret, algorithm))
                made += 1
    db.flush()
    return made


def keys_of(db: Session, org_id: int) -> list[IssuerKey]:
    """Every key the organization ever had, oldest first: all of them stay published."""
    return list(db.exec(select(IssuerKey).where(IssuerKey.organization_id == org_id)
                        .order_by(IssuerKey.created_at, IssuerKey.id)).all())


# --- private and public halves ------------------------------------------------------------------

def _private(stored: IssuerKey, secret: str):
    try:
        return serialization.load_pem_private_key(stored.private_pem_encrypted.encode(), _passphrase(secret))
    except (ValueError, TypeError) as exc:
        raise KeyUnavailable("The issuer key cannot be opened with the current MENTORING_SECRET_KEY.") from exc


def signing_key(stored: IssuerKey, secret: str) -> ECKey:
    if stored.algorithm != ALGORITHM:
        raise ValueError(f"key {stored.kid} is {stored.algorithm}, not {ALGORITHM}")
    return ECKey.import_key(_private(stored, secret))


def public_key(stored: IssuerKey) -> ECKey:
    return ECKey.import_key(json.loads(stored.public_jwk))


def ed25519_private(stored: IssuerKey, secret: str) -> Ed25519PrivateKey:
    private = _private(stored, secret)
    if stored.algorithm != EDDSA or not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"key {stored.kid} is not an Ed25519 key")
    return private


def ed25519_raw(stored: IssuerKey) -> bytes:
    """The 32-byte public key."""
    jwk = json.loads(stored.public_jwk)
    if stored.algorithm != EDDSA or jwk.get("crv") != "Ed25519":
        raise ValueError(f"key {stored.kid} is not an Ed25519 key")
    return base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))


def ed25519_public(stored: IssuerKey) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(ed25519_raw(stored))


def multibase_public(stored: IssuerKey) -> str:
    """The Multikey form of an Ed25519 public key: 'z' (base58btc) over multicodec 0xed01 and the raw key."""
    return dataintegrity.public_key_multibase(ed25519_public(stored))


# --- names -------------------------------------------------------------------------------------

def did_of(base_url: str, org_id: int) -> str:
    """did:web with the port percent-encoded, as the did:web method requires."""
    parts = urlsplit(base_url)
    host = quote(parts.netloc, safe="")
    path = [p for p in parts.path.split("/") if p]
    return ":".join(["did:web", host, *path, "orgs", str(org_id)])


def verification_method(base_url: str, stored: IssuerKey) -> str:
    return f"{did_of(base_url, stored.organization_id)}#{stored.kid}"


def find_by_verification_method(db: Session, vm_or_kid: str) -> IssuerKey | None:
    """The key a DID URL <did>#<kid> names, or a bare kid (tokens made before kids were DID URLs).

    A DID URL must name the key's own organization: a key of one organization does not answer for another's
    DID. The host part is not compared; it is whatever base URL the verifier reached us by."""
    did, _, kid = vm_or_kid.rpartition("#")
    if not kid or len(kid) > 64:
        return None
    found = db.exec(select(IssuerKey).where(IssuerKey.kid == kid)).first()
    if found is None or not did:
        return found
    segments = [unquote(s) for s in did.split(":")]
    if segments[:2] != ["did", "web"] or segments[-2:] != ["orgs", str(found.organization_id)]:
        return None
    return found


# --- states ------------------------------------------------------------------------------------

def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def state(stored: IssuerKey) -> str:
    """current | retired | revoked"""
    if stored.revoked_from is not None:
        return "revoked"
    return "retired" if stored.retired_at is not None else "current"


def revoked_for(stored: IssuerKey, signed_at: datetime) -> bool:
    """Whether what this key signed at `signed_at` (the credential's validFrom/issue time) is untrusted."""
    return stored.revoked_from is not None and _aware(signed_at) >= _aware(stored.revoked_from)


def revocation_message(stored: IssuerKey) -> str:
    """What a verifier says about a credential signed at or after the key's revocation."""
    return (f"Untrusted: signed with a key the issuer revoked from {_stamp(stored.revoked_from)} (it may have been "
            "compromised), so nothing it signed from then on is trusted.")


def revoked_before_message(stored: IssuerKey) -> str:
    """What a verifier adds about a credential signed before the key's revocation, which is still valid."""
    return (f"Signed before {_stamp(stored.revoked_from)}, when the issuer revoked this key, and identical to the "
            "copy the issuer kept: still valid.")


def _stamp(moment: datetime | None) -> str:
    return _aware(moment).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def rotate(db: Session, actor, org_id: int, secret: str) -> tuple[list[IssuerKey], list[IssuerKey]]:
    """Retire the organization's current keys and make new ones of each algorithm; return (retired, made)."""
    now = utcnow()
    retired = [k for k in keys_of(db, org_id) if k.retired_at is None]
    for old in retired:
        old.retired_at = now
        db.add(old)
    db.flush()  # the partial unique index allows one current key per algorithm
    made = [current_key(db, org_id, secret, algorithm) for algorithm in ALGORITHMS]
    for new in made:
        audit.record(db, actor, "key.rotate", new, org_id=org_id, kid=new.kid, algorithm=new.algorithm,
                     retired=[k.kid for k in retired if k.algorithm == new.algorithm])
    return retired, made


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date or date and time; without a zone it is UTC, a bare date its midnight."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return _aware(moment).astimezone(UTC)


def revoke(db: Session, actor, stored: IssuerKey, revoked_from: datetime, reason: str, secret: str) -> IssuerKey | None:
    """Mark a compromised key untrusted from `revoked_from`. A current key is retired and replaced at once;
    the replacement is returned. Revoking again may only move the instant earlier: a revocation is not undone."""
    moment = _aware(revoked_from).astimezone(UTC)
    if stored.revoked_from is not None and _aware(stored.revoked_from) <= moment:
        raise ValueError(f"key {stored.kid} is already revoked from {_stamp(stored.revoked_from)}")
    if not reason.strip():
        raise ValueError("say why the key is revoked (--reason)")
    was_current = stored.retired_at is None
    stored.revoked_from, stored.revoked_reason = moment, reason.strip()[:300]
    stored.retired_at = stored.retired_at or utcnow()
    db.add(stored)
    db.flush()
    replacement = current_key(db, stored.organization_id, secret, stored.algorithm) if was_current else None
    audit.record(db, actor, "key.revoke", stored, org_id=stored.organization_id, kid=stored.kid,
                 algorithm=stored.algorithm, revoked_from=moment.isoformat(), reason=stored.revoked_reason,
                 replaced_by=replacement.kid if replacement else None)
    return replacement


# --- published documents -----------------------------------------------------------------------

def jwk_entry(stored: IssuerKey, base_url: str | None = None) -> dict:
    """The key as a JWK; with base_url its kid is the DID URL that signatures carry."""
    kid = verification_method(base_url, stored) if base_url is not None else stored.kid
    return {**json.loads(stored.public_jwk), "kid": kid, "alg": stored.algorithm, "use": "sig"}


def jwks(db: Session, base_url: str, org_id: int | None = None) -> dict:
    """Every published key, kid = DID URL. Revoked keys are left out: a JWKS has no way to say "from when"."""
    query = select(IssuerKey).where(IssuerKey.revoked_from.is_(None)).order_by(IssuerKey.organization_id,
                                                                               IssuerKey.created_at, IssuerKey.id)
    if org_id is not None:
        query = query.where(IssuerKey.organization_id == org_id)
    return {"keys": [jwk_entry(k, base_url) for k in db.exec(query).all()]}


def _method(base_url: str, stored: IssuerKey) -> dict:
    did = did_of(base_url, stored.organization_id)
    if stored.algorithm == EDDSA:
        method = {"id": verification_method(base_url, stored), "type": "Multikey", "controller": did,
                  "publicKeyMultibase": multibase_public(stored)}
    else:
        method = {"id": verification_method(base_url, stored), "type": "JsonWebKey2020", "controller": did,
                  "publicKeyJwk": json.loads(stored.public_jwk)}
    if stored.revoked_from is not None:  # Controlled Identifiers 1.0 `revoked`
        method["revoked"] = _aware(stored.revoked_from).strftime("%Y-%m-%dT%H:%M:%SZ")
    return method


def did_document(base_url: str, org_id: int, published: list[IssuerKey]) -> dict:
    """The organization's DID document: every key it ever had, so that each kid resolves. Revoked keys stay
    listed with the instant they were revoked from, but no longer as assertion methods."""
    did = did_of(base_url, org_id)
    trusted = [verification_method(base_url, k) for k in published if k.revoked_from is None]
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1",
                     "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [_method(base_url, k) for k in published],
        "assertionMethod": trusted,
    }
