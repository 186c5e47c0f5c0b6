"""Credit for prior learning: read and verify an Open Badges 3.0 or CLR 2.0 credential from any issuer.

Our own organizations' credentials are checked against the keys and status lists in the database (no HTTP).
Anyone else's key comes from the issuer's did:web document (or, for an https issuer with a bare `kid`, its
/.well-known/jwks.json), fetched with a short timeout, a size cap and no redirects; its revocation from the
status list the credential names (W3C BitstringStatusList, signed by the same issuer, or a 1EdTech revocation
list). Nothing is written here: `read_credential` answers what the credential is and which task codes it
aligns to, or raises FormError with a sentence the manager can act on."""

import base64
import csv
import gzip
import hashlib
import ipaddress
import json
import socket
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote, urlsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey
from sqlmodel import Session

from exports import baking, credentials, dataintegrity, keys
from mentoring.clock import utcnow
from mentoring.errors import FormError
from mentoring.people.models import Organization

MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # a credential, even a CLR transcript of a whole list, or a badge image
MAX_FETCH_BYTES = 256 * 1024  # a DID document, a JWKS or a status list credential
MAX_LIST_BYTES = 4 * 1024 * 1024  # a status list once un-gzipped (the minimum list is 16 kB)
FETCH_TIMEOUT = 4.0
JWT_ALGORITHMS = ["ES256", "EdDSA"]
# did:web on a loopback or private address is fetched over plain http only when this is on (tests, a local
# development issuer); otherwise such hosts are refused, so an upload cannot make the server probe its network.
ALLOW_LOCAL_HOSTS = False
CREDENTIAL_TYPES = {"OpenBadgeCredential", "AchievementCredential", "ClrCredential"}


@dataclass
class Imported:
    """A verified credential: who issued it, what it says, the task codes it aligns to, and the evidence."""

    evidence: str  # the signed credential exactly as it was received (the JWT, or the JSON text)
    sha256: str
    name: str
    issuer_name: str
    issuer_id: str
    codes: dict[str, str] = field(default_factory=dict)  # targetCode -> its name, in the credential's order


def _refuse(message: str):
    raise FormError({"file": message})


# --- reading the upload -----------------------------------------------------------------------------------

def read_credential(db: Session, data: bytes, *, fetch=None) -> Imported:
    """The credential in an uploaded file (VC-JWT, JSON with a Data Integrity proof, or a baked PNG/SVG),
    verified, or FormError. `fetch(url) -> bytes` is for tests; the default is `fetch_url`."""
    if not data:
        _refuse("Choose the credential file to import.")
    if len(data) > MAX_UPLOAD_BYTES:
        _refuse(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; no credential is that big.")
    if baking.kind_of(data):
        try:
            baked = baking.unbake(data)
        except baking.BakingError as exc:
            _refuse(str(exc))
        text = baked if isinstance(baked, str) else json.dumps(baked, ensure_ascii=False)
    else:
        try:
            text = data.decode("utf-8-sig").strip()
        except UnicodeDecodeError:
            _refuse("This is not a credential: upload the .jwt or .json file, or the badge image.")
    return verify_text(db, text, fetch=fetch or fetch_url)


def verify_text(db: Session, text: str, *, fetch) -> Imported:
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            _refuse("The file is not valid JSON; it may have been damaged or changed.")
        if not isinstance(document, dict) or not _is_credential(document):
            _refuse("This JSON file is not an Open Badges 3.0 or CLR 2.0 credential.")
        credential = _verify_document(db, document, fetch)
    elif text.count(".") == 2 and " " not in text and "\n" not in text:
        credential = _verify_jwt(db, text, fetch)
        if not _is_credential(credential):
            _refuse("The signed token is not an Open Badges 3.0 or CLR 2.0 credential.")
    else:
        _refuse("This is not a credential: upload the .jwt or .json file, or the badge image.")
    issuer = credential.get("issuer")
    issuer_id = _issuer_id(credential)
    issuer_name = str(issuer.get("name", "") if isinstance(issuer, dict) else "") or issuer_id
    return Imported(evidence=text, sha256=hashlib.sha256(text.encode()).hexdigest(),
                    name=str(credential.get("name", ""))[:200], issuer_name=issuer_name[:200],
                    issuer_id=issuer_id[:300], codes=aligned_codes(credential))


def _issuer_id(document: dict) -> str:
    issuer = document.get("issuer")
    return str(issuer.get("id", "") if isinstance(issuer, dict) else issuer or "")


def _is_credential(document: dict) -> bool:
    types = document.get("type")
    types = types if isinstance(types, list) else [types]
    return "VerifiableCredential" in types and bool(CREDENTIAL_TYPES & set(t for t in types if isinstance(t, str)))


def aligned_codes(credential: dict) -> dict[str, str]:
    """Every targetCode the credential's achievements and results align to (a CLR's achievements and the
    credentials it bundles included), with its targetName."""
    found: dict[str, str] = {}

    def walk(node):
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "alignment" and isinstance(value, list):
                    for a in value:
                        if isinstance(a, dict) and isinstance(a.get("targetCode"), str) and a["targetCode"].strip():
                            found.setdefault(a["targetCode"].strip()[:40], str(a.get("targetName", ""))[:200])
                elif key not in ("proof", "@context"):
                    walk(value)

    walk(credential.get("credentialSubject"))
    return found


# --- our own organizations: resolved locally --------------------------------------------------------------

def _ours(db: Session, verification_method: str):
    return keys.find_by_verification_method(db, verification_method) if verification_method else None


def _local_outcome(check: credentials.CredentialCheck) -> None:
    if check.authentic and check.status == "current":
        return
    if check.status == "revoked":
        _refuse(f"The issuer revoked this credential: it cannot be credited. {check.message}")
    _refuse(check.message)


# --- VC-JWT -----------------------------------------------------------------------------------------------

def _b64json(part: str) -> dict:
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, TypeError):
        _refuse("The credential cannot be read; it was damaged or changed.")
    if not isinstance(value, dict):
        _refuse("The credential cannot be read; it was damaged or changed.")
    return value


def _verify_jwt(db: Session, token: str, fetch) -> dict:
    header, payload = _b64json(token.split(".")[0]), _b64json(token.split(".")[1])
    kid = str(header.get("kid", ""))
    if _ours(db, kid) is not None:
        _local_outcome(credentials.verify_token(db, token))
        return payload
    if header.get("alg") not in JWT_ALGORITHMS:
        _refuse("The credential is signed with an algorithm not accepted here (ES256 or EdDSA only).")
    jwk = _issuer_jwk(kid, _issuer_id(payload), fetch)
    if not _jws_ok(token, jwk, header["alg"]):
        _refuse("The signature does not match: the credential was changed after it was issued, or it is not "
                "genuine.")
    _check_foreign(payload, fetch)
    return payload


def _jws_ok(token: str, jwk: dict, alg: str) -> bool:
    try:
        key = ECKey.import_key(jwk) if jwk.get("kty") == "EC" else OKPKey.import_key(jwk)
        jws.deserialize_compact(token, key, registry=credentials._Registry(algorithms=[alg]))
    except (JoseError, ValueError, TypeError, KeyError):
        return False
    return True


def _issuer_jwk(kid: str, issuer_id: str, fetch) -> dict:
    if kid.startswith("did:"):
        method = _did_method(kid, issuer_id, fetch)
        if "publicKeyJwk" in method and isinstance(method["publicKeyJwk"], dict):
            return method["publicKeyJwk"]
        try:
            public = dataintegrity.public_key_from_multibase(str(method.get("publicKeyMultibase", "")))
        except ValueError:
            _refuse("The issuer's key in its DID document cannot be read, or is not a key type accepted here.")
        x = base64.urlsafe_b64encode(public.public_bytes_raw()).decode().rstrip("=")
        return {"kty": "OKP", "crv": "Ed25519", "x": x}
    if issuer_id.startswith("https://") and kid:  # an issuer named by URL publishes its keys as a JWKS
        parts = urlsplit(issuer_id)
        found = _fetch_json(f"https://{parts.netloc}/.well-known/jwks.json", fetch, "the issuer's key set")
        for jwk in found.get("keys", []) if isinstance(found.get("keys"), list) else []:
            if isinstance(jwk, dict) and jwk.get("kid") == kid:
                return jwk
        _refuse("The issuer's key set does not hold the key that signed this credential.")
    _refuse("The credential does not say which key signed it (a did:web key or the issuer's JWKS).")


# --- Data Integrity ---------------------------------------------------------------------------------------

def _verify_document(db: Session, document: dict, fetch) -> dict:
    try:
        proof = dataintegrity.proof_of(document)
    except dataintegrity.ProofError as exc:
        _refuse(str(exc))
    if _ours(db, proof["verificationMethod"]) is not None:
        _local_outcome(credentials.verify_document(db, document))
        return document
    _verify_di(document, _issuer_id(document), fetch)
    _check_foreign(document, fetch)
    return document


def _verify_di(document: dict, issuer_id: str, fetch) -> None:
    proof = dataintegrity.proof_of(document)
    jwk = _issuer_jwk(proof["verificationMethod"], issuer_id, fetch)
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        _refuse("The proof's key is not an Ed25519 key, which eddsa-rdfc-2022 requires.")
    try:
        public = OKPKey.import_key(jwk).public_key
        dataintegrity.verify_proof(document, public)
    except dataintegrity.ProofError as exc:
        _refuse(str(exc))
    except (ValueError, TypeError, JoseError):
        _refuse("The issuer's key cannot be read.")


# --- did:web ----------------------------------------------------------------------------------------------

def did_web_url(did: str) -> str:
    """did:web:host[:path…] -> https://host/path…/did.json, or /.well-known/did.json without a path."""
    parts = did.split(":")
    if len(parts) < 3 or parts[:2] != ["did", "web"] or not parts[2]:
        _refuse("Only did:web issuers can be resolved here.")
    host = unquote(parts[2])
    path = "/".join(unquote(p) for p in parts[3:])
    if "/" in host or "@" in host or any(p in ("", ".", "..") for p in parts[3:]):
        _refuse("The issuer's did:web identifier is malformed.")
    scheme = "http" if _is_local(host) else "https"
    return f"{scheme}://{host}/{path + '/did.json' if path else '.well-known/did.json'}"


def _is_local(host: str) -> bool:
    name = urlsplit(f"//{host}").hostname or ""
    return name == "localhost" or _local_ip(name)


def _local_ip(name: str) -> bool:
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified


def _resolves_locally(host: str, port: int) -> bool:
    """Whether a public-looking name points into our own network (an upload must not make us probe it)."""
    return any(_local_ip(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP))


def _did_method(verification_method: str, issuer_id: str, fetch) -> dict:
    did, _, fragment = verification_method.partition("#")
    if not fragment:
        _refuse("The credential's key is not named as <did>#<key id>.")
    if issuer_id and issuer_id != did:
        _refuse("The credential names an issuer other than the one whose key signed it.")
    document = _fetch_json(did_web_url(did), fetch, "the issuer's DID document")
    if document.get("id") != did:
        _refuse("The issuer's DID document is for another identifier.")
    methods = document.get("verificationMethod") if isinstance(document.get("verificationMethod"), list) else []
    wanted = {verification_method, f"#{fragment}"}
    method = next((m for m in methods if isinstance(m, dict) and m.get("id") in wanted), None)
    asserted = document.get("assertionMethod") if isinstance(document.get("assertionMethod"), list) else []
    if method is None or not any((a if isinstance(a, str) else a.get("id") if isinstance(a, dict) else None)
                                 in wanted for a in asserted):
        _refuse("The issuer's DID document does not list the key that signed this credential for issuing.")
    if method.get("revoked"):
        _refuse("The issuer revoked the key that signed this credential.")
    return method


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, "redirects are not followed", headers, fp)


def fetch_url(url: str) -> bytes:
    """GET a small public document: no redirects, a short timeout, a size cap, no local hosts unless allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise OSError("not an http(s) URL")
    local = _is_local(parts.netloc)
    if local and not ALLOW_LOCAL_HOSTS:
        raise OSError("local addresses are not fetched")
    if not local and parts.scheme != "https":
        raise OSError("only https is fetched")
    if not local and _resolves_locally(parts.hostname, parts.port or 443):
        raise OSError("local addresses are not fetched")
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers={"Accept": "application/json, application/did+json"})
    with opener.open(request, timeout=FETCH_TIMEOUT) as response:
        data = response.read(MAX_FETCH_BYTES + 1)
    if len(data) > MAX_FETCH_BYTES:
        raise OSError("too large")
    return data


def _fetch_json(url: str, fetch, what: str) -> dict:
    try:
        value = json.loads(fetch(url))
    except (OSError, ValueError) as exc:
        _refuse(f"Could not read {what} at {url} ({exc.__class__.__name__}); try again later, or ask the "
                "issuer for it.")
    if not isinstance(value, dict):
        _refuse(f"{what[0].upper() + what[1:]} at {url} is not a JSON object.")
    return value


# --- dates and revocation of a foreign credential ---------------------------------------------------------

def _instant(value) -> datetime | None:
    if not value:
        return None
    try:
        return keys.parse_instant(str(value))
    except ValueError:
        _refuse("The credential's dates cannot be read.")


def _check_foreign(credential: dict, fetch) -> None:
    now = utcnow()
    start = _instant(credential.get("validFrom") or credential.get("issuanceDate"))
    end = _instant(credential.get("validUntil") or credential.get("expirationDate"))
    if start and start > now:
        _refuse("The credential is not valid yet.")
    if end and end < now:
        _refuse("The credential has expired.")
    status = credential.get("credentialStatus")
    for entry in status if isinstance(status, list) else [status] if status else []:
        if not isinstance(entry, dict):
            _refuse("The credential's status entry cannot be read.")
        if entry.get("type") == "BitstringStatusListEntry":
            _bitstring(credential, entry, fetch)
        elif entry.get("type") == "1EdTechRevocationList":
            found = _fetch_json(str(entry.get("id", "")), fetch, "the issuer's revocation list")
            revoked = found.get("revokedCredentials") if isinstance(found.get("revokedCredentials"), list) else []
            if any(isinstance(r, dict) and r.get("id") == credential.get("id") for r in revoked):
                _refuse("The issuer revoked this credential: it cannot be credited.")
        else:
            _refuse(f"The credential's status type {entry.get('type')!r} is not one that can be checked here.")


def _bitstring(credential: dict, entry: dict, fetch) -> None:
    if entry.get("statusPurpose") not in ("revocation", "suspension"):
        return
    try:
        index = int(entry.get("statusListIndex"))
    except (TypeError, ValueError):
        _refuse("The credential's status list index cannot be read.")
    listed = _fetch_json(str(entry.get("statusListCredential", "")), fetch, "the issuer's status list")
    issuer = credential.get("issuer")
    issuer_id = str(issuer.get("id", "") if isinstance(issuer, dict) else issuer or "")
    list_issuer = listed.get("issuer")
    if str(list_issuer.get("id", "") if isinstance(list_issuer, dict) else list_issuer or "") != issuer_id:
        _refuse("The status list was not published by the credential's issuer.")
    _verify_di(listed, issuer_id, fetch)  # a forged list could hide a revocation
    subject = listed.get("credentialSubject") if isinstance(listed.get("credentialSubject"), dict) else {}
    encoded = str(subject.get("encodedList", ""))
    try:
        packed = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip, bounded: a list is never this big
        bits = inflater.decompress(packed, MAX_LIST_BYTES)
    except (ValueError, zlib.error, gzip.BadGzipFile):
        _refuse("The issuer's status list cannot be read.")
    if not encoded.startswith("u") or index < 0 or index // 8 >= len(bits):
        _refuse("The issuer's status list cannot be read.")
    if bits[index // 8] & (0x80 >> (index % 8)):
        _refuse(f"The issuer {'revoked' if entry.get('statusPurpose') == 'revocation' else 'suspended'} this "
                "credential: it cannot be credited.")


# --- a school's signed CSV of completed tasks -------------------------------------------------------------

CSV_COLUMNS = ("student_id", "task_code", "completed_on", "result")
PASSING = {"pass", "passed", "complete", "completed", "competent", "yes"}


def _signature_key(db: Session, kid: str, fetch):
    """The key a detached JWS names: one of our organizations' (a school using this product) or a did:web key."""
    stored = _ours(db, kid)
    if stored is not None:
        if stored.revoked_from is not None:  # a CSV carries no signing time: any revocation applies
            _refuse(keys.revocation_message(stored))
        org = db.get(Organization, stored.organization_id)
        jwk = json.loads(stored.public_jwk)
        return jwk, (org.name if org else kid.partition("#")[0]), kid.partition("#")[0]
    if not kid.startswith("did:web:"):
        _refuse("The signature's key must be a did:web key (kid = <did>#<key id>).")
    jwk = _issuer_jwk(kid, "", fetch)
    did = kid.partition("#")[0]
    return jwk, unquote(did.split(":")[2]), did


def read_school_csv(db: Session, data: bytes, signature: str, student_id: str, *, fetch=None) -> Imported:
    """A school's CSV of completed tasks (columns CSV_COLUMNS), signed by a detached JWS over the file's exact
    bytes (RFC 7515 appendix F: the compact form with an empty payload part). Answers the tasks the student
    completed with a passing result; the evidence kept is the student's rows, the signature and the file's
    SHA-256, so that other students' rows are never stored with this mentee."""
    fetch = fetch or fetch_url
    if not data:
        _refuse("Choose the school's CSV file.")
    if len(data) > MAX_UPLOAD_BYTES:
        _refuse(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    signature = "".join((signature or "").split())
    student_id = (student_id or "").strip()
    if not student_id:
        raise FormError({"student_id": "Give the student's identifier as the school's file uses it."})
    parts = signature.split(".")
    if len(parts) != 3 or parts[1]:
        raise FormError({"signature": "The signature must be a detached JWS: header..signature."})
    header = _b64json(parts[0])
    if header.get("alg") not in JWT_ALGORITHMS:
        raise FormError({"signature": "The signature's algorithm must be ES256 or EdDSA."})
    jwk, issuer_name, issuer_id = _signature_key(db, str(header.get("kid", "")), fetch)
    attached = f"{parts[0]}.{base64.urlsafe_b64encode(data).decode().rstrip('=')}.{parts[2]}"
    if not _jws_ok(attached, jwk, header["alg"]):
        raise FormError({"signature": "The signature does not match the file: it was changed after the school "
                                      "signed it, or the signature belongs to another file."}) from None
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        _refuse("The file is not UTF-8 text.")
    rows = list(csv.reader(lines))
    if not rows or tuple(c.strip().lower() for c in rows[0]) != CSV_COLUMNS:
        _refuse("The first line must be: " + ",".join(CSV_COLUMNS))
    mine, codes = [], {}
    for line, row in zip(lines[1:], rows[1:], strict=False):
        if len(row) != 4 or row[0].strip() != student_id:
            continue
        mine.append(line)
        result = row[3].strip().lower()
        if result in PASSING or (result.isdigit() and int(result) >= 3):
            codes.setdefault(row[1].strip()[:40], f"completed {row[2].strip()[:10]}, {row[3].strip()[:20]}")
    if not mine:
        raise FormError({"student_id": "The file has no rows for this student identifier."})
    evidence = json.dumps({"columns": list(CSV_COLUMNS), "rows": mine, "signature": signature,
                           "file_sha256": hashlib.sha256(data).hexdigest()}, ensure_ascii=False)
    return Imported(evidence=evidence, sha256=hashlib.sha256(data).hexdigest(),
                    name=f"Completed tasks of student {student_id}"[:200], issuer_name=issuer_name[:200],
                    issuer_id=issuer_id[:300], codes=codes)
