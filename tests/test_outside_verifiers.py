"""Credentials checked by verifiers this project did not write, over HTTP against a live server.

- VC-JWT form: openbadgeslib (PyPI), an OB 3.0 verifier: did:web resolution, ES256 signature, the OB 3.0 JWT
  claim rules and the Bitstring Status List.
- Data Integrity form: @digitalcredentials/verifier-core (npm), the library under the Learner Credential Wallet
  and VerifierPlus, run with Node through tests/node/verifier/verify.mjs, which says what is ours there.

The versions are pinned (pyproject.toml, tests/node/verifier/package-lock.json), asserted below and listed in
tests/OUTSIDE_VERIFIERS.md."""

import json
import os
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from openbadgeslib.ob3.ldp import OB3LdpVerifier
from openbadgeslib.ob3.status import decode_encoded_list, set_indices
from openbadgeslib.ob3.verifier import OB3VerificationError, OB3Verifier
from openbadgeslib.util import download_file

from exports import credentials, statuslist
from exports.models import IssuedCredential
from mentoring.progress.models import Assignment
from web.app import create_app

from .conftest import actor_for
from .test_credentials import SECRET, sign_area

OPENBADGESLIB_VERSION = "4.6.3"
VERIFIER_CORE_VERSION = "1.0.0-beta.11"
NODE_MAJOR = 20  # Debian's nodejs or NodeSource's; verifier-core needs fetch() and ESM, Node 18 or later

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "tests" / "node" / "verifier"
NODE = shutil.which("node")
# Documents verifier-core would otherwise fetch from the internet, answered from copies vendored here.
# verifier-core bundles the VC, Data Integrity and OB 3.0 contexts but not CLR 2.0's.
LOCAL_FILES = {credentials.OB_SCHEMA: ROOT / "exports" / "schemas" / "achievementcredential.schema.json",
               credentials.CLR_CONTEXT: ROOT / "exports" / "contexts" / "clr-context-2.0.1.json"}


def require_verifier_core() -> str:
    if NODE and (HARNESS / "node_modules" / "@digitalcredentials" / "verifier-core").is_dir():
        return NODE
    if os.environ.get("MENTORING_REQUIRE_BROWSER"):
        pytest.fail("Node and tests/node/verifier/node_modules are required (MENTORING_REQUIRE_BROWSER is set)")
    pytest.skip("Node or tests/node/verifier/node_modules is missing; `npm ci --prefix tests/node/verifier` "
                "installs verifier-core (CI does)")


def run_verifier_core(server, documents: list[dict]) -> list[dict]:
    """One Node run for a batch of credentials; verifier-core's result for each."""
    node = require_verifier_core()
    files = {url: str(path) for url, path in LOCAL_FILES.items() if path.exists()}
    done = subprocess.run([node, "verify.mjs"], cwd=HARNESS, capture_output=True, text=True, timeout=120,
                          input=json.dumps({"origin": server.url, "files": files, "credentials": documents}))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def step(result: dict, name: str) -> dict:
    return next((s for s in result.get("log", []) if s["id"] == name), {})


@pytest.fixture
def served(settings, clean_db):
    """The app on a real port, its base URL (so its did:web DIDs) naming that port."""
    from .browser import LiveServer
    server = LiveServer(create_app(settings, clean_db))
    settings.base_url = server.url
    with server:
        yield server


def fetcher(server):
    """openbadgeslib's own downloader, pointed at the test server: did:web resolves to https://, the test
    server speaks http on 127.0.0.1, so for exactly that origin the scheme is swapped and private addresses are
    allowed. Any other host is refused, never fetched."""
    origin = urlsplit(server.url).netloc

    def download(url: str) -> bytes:
        parts = urlsplit(url)
        assert parts.netloc == origin, f"openbadgeslib tried to fetch {url}"
        return download_file(parts._replace(scheme="http").geturl(), allow_insecure=True, allow_private=True)
    return download


def issue(database, server, world, assigned) -> list[IssuedCredential]:
    with database.transaction() as db:
        return credentials.issue_credentials(db, actor_for(database, world.manager), db.get(Assignment, assigned.id),
                                             base_url=server.url, secret=SECRET)


def flip(token: str) -> str:
    """The same VC-JWT with one character of its payload changed."""
    head, body, sig = token.split(".")
    return f"{head}.{body[:60]}{'A' if body[60] != 'A' else 'B'}{body[61:]}.{sig}"


def test_the_pinned_outside_verifiers_are_the_ones_installed():
    assert version("openbadgeslib") == OPENBADGESLIB_VERSION
    require_verifier_core()
    installed = json.loads((HARNESS / "node_modules/@digitalcredentials/verifier-core/package.json").read_text())
    assert installed["version"] == VERIFIER_CORE_VERSION
    lock = json.loads((HARNESS / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@digitalcredentials/verifier-core"]["version"] == VERIFIER_CORE_VERSION
    major = subprocess.run([NODE, "--version"], capture_output=True, text=True).stdout.strip()
    assert int(major.lstrip("v").split(".")[0]) >= 18, major


def test_our_encoded_list_decodes_with_openbadgeslib():
    revoked = {0, 7, 8, 4242, statuslist.LIST_BITS - 1}
    bits = decode_encoded_list(statuslist.encode(revoked))
    assert len(bits) * 8 == statuslist.LIST_BITS  # the specification's 16 KB minimum
    assert set_indices(bits) == revoked


def test_openbadgeslib_verifies_both_forms_and_refuses_a_changed_or_revoked_one(clean_db, served, world, assigned,
                                                                                  browser):
    sign_area(clean_db, world, assigned, "VIII")
    area = next(c for c in issue(clean_db, served, world, assigned) if c.kind == "area")
    payload, document = credentials.payload_of(area.token), wallet_form(area)
    assert payload["credentialStatus"] == document["credentialStatus"]
    assert payload["credentialStatus"]["type"] == "BitstringStatusListEntry"
    download = fetcher(served)
    # VC-JWT: trust is anchored on the issuer's did:web (one fetch of our DID document), then the JWT's kid (a
    # DID URL) picks the ES256 key from it. Data Integrity: the proof's verificationMethod names the Ed25519
    # Multikey in the same document; openbadgeslib canonicalizes with its own bundled contexts.
    jwt_verifier = OB3Verifier.for_issuer_did(payload["iss"], download=download)
    ldp_verifier = OB3LdpVerifier.for_issuer_did(document["issuer"]["id"])
    assert jwt_verifier.verify(area.token, check_status=True, verify_status_list=False, download=download).id \
        == payload["id"]
    assert ldp_verifier.verify(document, check_status=True, verify_status_list=False, download=download).id \
        == document["id"]
    # It checks a status list's own signature only when the list is a VC-JWT; ours carries a Data Integrity
    # proof, as verifier-core requires, so the list's bits are read but its proof is left to verifier-core.
    with pytest.raises(OB3VerificationError, match="not a signed JWT-VC"):
        jwt_verifier.verify(area.token, check_status=True, verify_status_list=True, download=download)

    with pytest.raises(OB3VerificationError, match="Invalid signature"):
        jwt_verifier.verify(flip(area.token))
    changed = {**document, "name": document["name"][:-1] + ("x" if document["name"][-1] != "x" else "y")}
    with pytest.raises(OB3VerificationError, match="(?i)signature"):
        ldp_verifier.verify(changed, download=download)

    browser.login(world.manager.email)
    assert browser.post(f"/credentials/{area.id}/revoke", {"reason": "Issued by mistake"}).status_code == 303
    jwt_verifier.verify(area.token)  # the signature still holds: revocation is the status list's business
    with pytest.raises(OB3VerificationError, match="status 'revocation' is set"):
        jwt_verifier.verify(area.token, check_status=True, verify_status_list=False, download=download)
    with pytest.raises(OB3VerificationError, match="status 'revocation' is set"):
        ldp_verifier.verify(document, check_status=True, verify_status_list=False, download=download)
    with clean_db.session() as db:
        row = db.get(IssuedCredential, area.id)
        assert str(row.status_index) == payload["credentialStatus"]["statusListIndex"]


def wallet_form(row: IssuedCredential) -> dict:
    """The credential with its Data Integrity proof, as the mentee downloads it for a wallet."""
    return json.loads(row.di_json)


def test_verifier_core_verifies_our_data_integrity_credentials_and_our_status_list(clean_db, served, world, assigned,
                                                                                  browser):
    sign_area(clean_db, world, assigned, "VIII")
    sign_area(clean_db, world, assigned, "VII")
    issued = issue(clean_db, served, world, assigned)
    kept, revoked = (c for c in issued if c.kind == "area")
    transcript = next(c for c in issued if c.kind == "transcript")
    browser.login(world.manager.email)
    assert browser.post(f"/credentials/{revoked.id}/revoke", {"reason": "Issued by mistake"}).status_code == 303
    changed = wallet_form(kept)
    changed["name"] = changed["name"][:-1] + ("x" if changed["name"][-1] != "x" else "y")  # one character
    good, tampered, gone, clr, jwt = run_verifier_core(served, [wallet_form(kept), changed, wallet_form(revoked),
                                                                wallet_form(transcript), kept.token])

    assert "errors" not in good, json.dumps(good)[:3000]
    assert step(good, "valid_signature")["valid"] is True
    assert step(good, "revocation_status")["valid"] is True  # checked against our signed status list
    assert step(good, "expiration")["valid"] is True
    assert any(url.endswith("/did.json") for url in good["fetched"])  # the key came from our did:web document
    schema = good["additionalInformation"][0]["results"][0]
    assert schema["schema"] == credentials.OB_SCHEMA and schema["result"]["valid"] is True, schema

    assert [e["name"] for e in tampered["errors"]] == ["invalid_signature"]

    assert step(gone, "valid_signature")["valid"] is True
    assert step(gone, "revocation_status")["valid"] is False  # revoked, as our status list says

    assert "errors" not in clr, json.dumps(clr)[:3000]
    assert step(clr, "valid_signature")["valid"] is True and step(clr, "revocation_status")["valid"] is True

    # verifier-core reads embedded proofs only: handed the VC-JWT, it finds no JSON-LD credential at all.
    assert [e["name"] for e in jwt["errors"]] == ["invalid_jsonld"] and "log" not in jwt

