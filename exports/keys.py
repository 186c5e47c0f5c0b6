"""Issuer keys: one ES256 key pair per organization, the private half encrypted under the app secret.

Published identifiers (see README): an organization's DID is did:web:<host>:orgs:<id>, which a did:web
resolver turns into https://<host>/orgs/<id>/did.json; its JWKS is at /orgs/<id>/jwks.json, and every
organization's public key at /.well-known/jwks.json."""

import base64
import json
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey
from sqlmodel import Session, select

from exports.models import IssuerKey
from mentoring.people.models import Organization

ALGORITHM = "ES256"


class KeyUnavailable(Exception):
    """The stored private key cannot be opened: the app secret changed since it was made."""


def _passphrase(secret: str) -> bytes:
    # A key of its own for this purpose, so the CSRF secret itself never encrypts anything.
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mentoring-issuer-keys",
                   info=b"issuer private keys v1").derive(secret.encode())
    return base64.urlsafe_b64encode(derived)


def create_key(org_id: int, secret: str) -> IssuerKey:
    key = ECKey.generate_key("P-256")
    private = key.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(_passphrase(secret)))
    public = key.as_dict(private=False)
    return IssuerKey(organization_id=org_id, kid=key.thumbprint(), algorithm=ALGORITHM,
                     public_jwk=json.dumps(public, sort_keys=True), private_pem_encrypted=private.decode())


def stored_key(db: Session, org_id: int) -> IssuerKey | None:
    return db.exec(select(IssuerKey).where(IssuerKey.organization_id == org_id)).first()


def key_for(db: Session, org_id: int, secret: str) -> IssuerKey:
    """The organization's key, made on first use for organizations created after `mentoring init`."""
    found = stored_key(db, org_id)
    if found is None:
        found = create_key(org_id, secret)
        db.add(found)
        db.flush()
    return found


def ensure_keys(db: Session, secret: str) -> int:
    """Give every organization without a key one; return how many were made."""
    have = set(db.exec(select(IssuerKey.organization_id)).all())
    missing = [org_id for org_id in db.exec(select(Organization.id)).all() if org_id not in have]
    for org_id in missing:
        db.add(create_key(org_id, secret))
    db.flush()
    return len(missing)


def signing_key(stored: IssuerKey, secret: str) -> ECKey:
    try:
        private = serialization.load_pem_private_key(stored.private_pem_encrypted.encode(), _passphrase(secret))
    except (ValueError, TypeError) as exc:
        raise KeyUnavailable("The issuer key cannot be opened with the current MENTORING_SECRET_KEY.") from exc
    return ECKey.import_key(private)


def public_key(stored: IssuerKey) -> ECKey:
    return ECKey.import_key(json.loads(stored.public_jwk))


def did_of(base_url: str, org_id: int) -> str:
    """did:web with the port percent-encoded, as the did:web method requires."""
    parts = urlsplit(base_url)
    host = quote(parts.netloc, safe="")
    path = [p for p in parts.path.split("/") if p]
    return ":".join(["did:web", host, *path, "orgs", str(org_id)])


def verification_method(base_url: str, stored: IssuerKey) -> str:
    return f"{did_of(base_url, stored.organization_id)}#{stored.kid}"


def jwk_entry(stored: IssuerKey) -> dict:
    return {**json.loads(stored.public_jwk), "kid": stored.kid, "alg": stored.algorithm, "use": "sig"}


def jwks(db: Session, org_id: int | None = None) -> dict:
    query = select(IssuerKey).order_by(IssuerKey.organization_id)
    if org_id is not None:
        query = query.where(IssuerKey.organization_id == org_id)
    return {"keys": [jwk_entry(k) for k in db.exec(query).all()]}


def did_document(base_url: str, stored: IssuerKey) -> dict:
    did = did_of(base_url, stored.organization_id)
    method = verification_method(base_url, stored)
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
        "id": did,
        "verificationMethod": [{"id": method, "type": "JsonWebKey2020", "controller": did,
                                "publicKeyJwk": json.loads(stored.public_jwk)}],
        "assertionMethod": [method],
        "authentication": [method],
    }


def find_by_kid(db: Session, kid: str) -> IssuerKey | None:
    """Accept a bare thumbprint or a DID URL ending in #<thumbprint>."""
    return db.exec(select(IssuerKey).where(IssuerKey.kid == kid.rsplit("#", 1)[-1])).first()
