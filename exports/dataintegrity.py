"""Embedded Data Integrity proofs with the `eddsa-rdfc-2022` cryptosuite (W3C VC Data Integrity EdDSA
Cryptosuites v1.0), the proof format wallets built on the Digital Credentials Consortium's verifier accept.

The credential and the proof options are each canonicalized with RDFC-1.0 (pyld's URDNA2015, the same
algorithm), hashed with SHA-256, and the two hashes (proof options first) are signed with Ed25519. The
signature travels as `proofValue`, multibase base58btc ("z…"). JSON-LD contexts come only from the files
vendored in exports/contexts/ (see the README there): an unknown context is an error, never a fetch, so
issuing and verifying never touch the network and a context cannot be swapped under us."""

import copy
import hashlib
import json
import re
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyld.jsonld import DEFAULT_BASE_IRI, JsonLdError, JsonLdProcessor

CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_TYPE = "DataIntegrityProof"
CONTEXT_DIR = Path(__file__).parent / "contexts"
CONTEXT_FILES = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-context-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob-extensions.json",
    "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json": "clr-context-2.0.1.json",
    "https://w3id.org/security/data-integrity/v2": "data-integrity-v2.jsonld",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
}
_ED25519_PUB = b"\xed\x01"  # multicodec prefix of an Ed25519 public key in a Multikey
_ABSOLUTE_IRI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*|_):\S*$")  # as pyld tells one
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class ProofError(Exception):
    """The document cannot be signed or its proof does not hold; the message says why, for people."""


class UnknownContext(ProofError):
    pass


# --- multibase base58btc -------------------------------------------------------------------

def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        digit = _B58.find(char)
        if digit < 0:
            raise ValueError(f"{char!r} is not a base58 character")
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def multibase_decode(value: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z"):
        raise ValueError("only multibase base58btc ('z…') is used here")
    return b58decode(value[1:])


def public_key_multibase(public: Ed25519PublicKey) -> str:
    """The `publicKeyMultibase` of a Multikey verification method: "z6Mk…"."""
    return "z" + b58encode(_ED25519_PUB + public.public_bytes(Encoding.Raw, PublicFormat.Raw))


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    raw = multibase_decode(value)
    if len(raw) != 34 or not raw.startswith(_ED25519_PUB):
        raise ValueError("not an Ed25519 Multikey")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


# --- offline JSON-LD ---------------------------------------------------------------------------

@cache
def _context(url: str) -> dict:
    return json.loads((CONTEXT_DIR / CONTEXT_FILES[url]).read_text())


def document_loader(url: str, options: dict | None = None) -> dict:
    """pyld document loader over the vendored contexts only."""
    if url not in CONTEXT_FILES:
        raise UnknownContext(f"The JSON-LD context {url} is not one this application knows; it is never "
                             "fetched from the network.")
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
            "document": copy.deepcopy(_context(url))}


def _dropped(term: str | None) -> None:
    # The signature would not cover a property the contexts do not define, so such a document is refused
    # (the "safe mode" the DCC libraries apply too).
    raise ProofError("The document has a property that its JSON-LD contexts do not define"
                     + (f" ({term})." if term else "."))


def _relative_references(node) -> list[str]:
    """@type and @id values of the expanded document that were relative references. pyld resolves them
    against a made-up base (DEFAULT_BASE_IRI) where jsonld.js leaves them out, so the two would sign different
    data; verifiers in safe mode refuse them ("relative @type reference"), and so do we."""
    if isinstance(node, list):
        return [t for item in node for t in _relative_references(item)]
    if not isinstance(node, dict):
        return []
    found = []
    for key, value in node.items():
        if key in ("@type", "@id"):
            found += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)
                      and (v.startswith(DEFAULT_BASE_IRI) or not _ABSOLUTE_IRI.match(v))]
        elif key != "@value":
            found += _relative_references(value)
    return found


def canonicalize(document: dict) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document, with contexts loaded offline."""
    options = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": document_loader}
    try:
        processor = JsonLdProcessor(on_property_dropped=_dropped)
        expanded = processor.expand(document, {"documentLoader": document_loader, "base": ""})
        relative = _relative_references(expanded)
        if relative:
            name = relative[0].removeprefix(DEFAULT_BASE_IRI)
            raise ProofError(f"The document has a type or id that its JSON-LD contexts do not define ({name}).")
        return processor.normalize(expanded, options)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        # pyld is not hardened against every malformed input a stranger can paste into /verify.
        raise ProofError("The document is not valid JSON-LD.") from exc
    except JsonLdError as exc:
        cause = exc
        while cause is not None:  # pyld wraps whatever the loader or the handler raised
            if isinstance(cause, ProofError):
                raise cause from exc
            cause = cause.__cause__ or getattr(cause, "cause", None)
        raise ProofError(f"The document is not valid JSON-LD: {exc}") from exc


# --- proofs --------------------------------------------------------------------------------------

def proof_options(*, verification_method: str, created: str) -> dict:
    return {"type": PROOF_TYPE, "cryptosuite": CRYPTOSUITE, "created": created,
            "verificationMethod": verification_method, "proofPurpose": "assertionMethod"}


def hash_data(unsecured: dict, options: dict) -> bytes:
    """SHA-256 of the canonical proof configuration, then of the canonical document (section 3.3.4)."""
    config = {**{k: v for k, v in options.items() if k != "proofValue"}, "@context": unsecured["@context"]}
    return (hashlib.sha256(canonicalize(config).encode()).digest()
            + hashlib.sha256(canonicalize(unsecured).encode()).digest())


def add_proof(document: dict, private: Ed25519PrivateKey, *, verification_method: str, created: str) -> dict:
    """A copy of the document with an embedded proof; `created` is an XML Schema dateTime ("…Z")."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    if "@context" not in unsecured:
        raise ProofError("The document has no @context.")
    options = proof_options(verification_method=verification_method, created=created)
    signature = private.sign(hash_data(unsecured, options))
    return {**unsecured, "proof": {**options, "proofValue": "z" + b58encode(signature)}}


def proof_of(document: dict) -> dict:
    """The document's single eddsa-rdfc-2022 proof, or ProofError."""
    proof = document.get("proof") if isinstance(document, dict) else None
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
    if not isinstance(proof, dict):
        raise ProofError("The credential carries no Data Integrity proof (or more than one).")
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError("The proof is not an eddsa-rdfc-2022 Data Integrity proof.")
    if proof.get("proofPurpose") != "assertionMethod":
        raise ProofError("The proof was not made for asserting a credential.")
    if not isinstance(proof.get("verificationMethod"), str) or not isinstance(proof.get("proofValue"), str):
        raise ProofError("The proof names no key or carries no signature.")
    return proof


def verify_proof(document: dict, public: Ed25519PublicKey) -> dict:
    """Check the embedded proof against the public key; return the proof or raise ProofError."""
    proof = proof_of(document)
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    if "@context" not in unsecured:
        raise ProofError("The credential has no @context, so its proof cannot be checked.")
    try:
        signature = multibase_decode(proof["proofValue"])
    except ValueError as exc:
        raise ProofError("The proof value cannot be read; it was damaged or changed.") from exc
    try:
        public.verify(signature, hash_data(unsecured, proof))
    except InvalidSignature as exc:
        raise ProofError("The signature does not match: the credential was changed after it was issued, "
                         "or it is not genuine.") from exc
    return proof
