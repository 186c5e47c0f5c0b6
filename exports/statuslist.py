"""Revocation that outside verifiers understand: a W3C Bitstring Status List v1.0 per issuing organization.

Each credential gets a random bit (its statusListIndex) in its issuer's list; revoking it sets the bit. The list
is itself a credential, BitstringStatusListCredential, signed with the organization's Ed25519 key as an
`eddsa-rdfc-2022` Data Integrity proof: verifier-core (the Learner Credential Wallet, VerifierPlus) refuses a
status list it cannot verify. Bits are handed out at random, as the specification advises, so that neighbouring
bits do not tell a watcher which credentials were issued together."""

import base64
import gzip
import secrets
from datetime import datetime

from sqlmodel import Session, select

from exports import dataintegrity, keys
from exports.models import IssuedCredential
from mentoring.clock import utcnow
from mentoring.errors import FormError
from mentoring.lru import LRU

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
LIST_BITS = 131072  # the specification's minimum length (16 KB), the crowd each credential hides in
PURPOSE = "revocation"
_signed = LRU(64)  # (base_url, org, key, revoked bits) -> signed list: signing costs a canonicalization


def status_list_url(base_url: str, org_id: int) -> str:
    return f"{base_url}/orgs/{org_id}/credentials/status-list.json"


def allocate_index(db: Session, org_id: int) -> int:
    """A free bit in the organization's list, chosen at random."""
    used = set(db.exec(select(IssuedCredential.status_index).where(
        IssuedCredential.issuer_id == org_id, IssuedCredential.status_index.is_not(None))).all())
    if len(used) >= LIST_BITS // 2:  # past half full, random draws slow down; no shop comes near 65,536 badges
        raise FormError({"": "This organization's status list is full; ask the operator to start a new one."})
    while True:
        index = secrets.randbelow(LIST_BITS)
        if index not in used:
            return index


def entry(base_url: str, org_id: int, index: int) -> dict:
    """The credentialStatus a credential carries: where its bit is and what a set bit means. The OB 3.0 schema
    allows one credentialStatus object, and neither verifier-core (it reads only the first entry) nor
    openbadgeslib (it refuses types it does not know) can use the 1EdTech revocation list, so new credentials
    name only the bitstring; the 1EdTech list stays published for credentials issued before it."""
    url = status_list_url(base_url, org_id)
    return {"id": f"{url}#{index}", "type": "BitstringStatusListEntry", "statusPurpose": PURPOSE,
            "statusListIndex": str(index), "statusListCredential": url}


def encode(indices: set[int] | frozenset[int], length: int = LIST_BITS) -> str:
    """encodedList: the bitstring (bit 0 is the first byte's highest bit), GZIP-compressed, multibase base64url
    without padding ('u' prefix)."""
    bits = bytearray(length // 8)
    for i in indices:
        bits[i // 8] |= 0x80 >> (i % 8)
    packed = gzip.compress(bytes(bits), mtime=0)  # no timestamp: the same bits always encode the same way
    return "u" + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def revoked_indices(db: Session, org_id: int) -> frozenset[int]:
    return frozenset(db.exec(select(IssuedCredential.status_index).where(
        IssuedCredential.issuer_id == org_id, IssuedCredential.status_index.is_not(None),
        IssuedCredential.revoked_at.is_not(None))).all())


def unsigned_list(base_url: str, org_id: int, revoked: frozenset[int], valid_from: datetime) -> dict:
    url = status_list_url(base_url, org_id)
    return {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": keys.did_of(base_url, org_id),
        "validFrom": valid_from.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList", "statusPurpose": PURPOSE,
                              "encodedList": encode(revoked)},
    }


def status_list_credential(db: Session, base_url: str, org_id: int, secret: str) -> dict | None:
    """The organization's signed status list as it stands now, or None before it has an Ed25519 key (made at
    `mentoring init` or at its first issue). Signed again only when a bit or the key changes; its validFrom is
    when that happened."""
    stored = keys.current_stored(db, org_id, keys.EDDSA)
    if stored is None:
        return None
    revoked = revoked_indices(db, org_id)
    cache_key = (base_url, org_id, stored.kid, revoked)
    found = _signed.get(cache_key)
    if found is None:
        now = utcnow().replace(microsecond=0)
        found = dataintegrity.add_proof(unsigned_list(base_url, org_id, revoked, now),
                                        keys.ed25519_private(stored, secret),
                                        verification_method=keys.verification_method(base_url, stored),
                                        created=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        _signed.put(cache_key, found)
    return found
