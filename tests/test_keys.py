"""Issuer keys (#19): an ES256 and an Ed25519 key per organization, key ids that resolve through the published
documents, rotation and revocation from a date.

Software we did not write checks the published side: pydid 0.5.3 (a DID document library: parses the DID
document and dereferences each DID URL), base58 2.1.1 (decodes publicKeyMultibase), jwcrypto 1.6 and
cryptography (verify the signatures with the key found that way)."""

import base64
import json
from datetime import timedelta

import base58
import httpx
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwcrypto import jwk
from jwcrypto import jws as jwcrypto_jws
from pydid import DIDDocument, DIDUrl
from sqlalchemy import create_engine, text
from sqlmodel import select

from exports import credentials, keys
from exports.models import IssuerKey
from mentoring.trail.models import AuditEntry
from web import migrate
from web.cli import main

from .browser import LiveServer
from .test_credentials import BASE, SECRET, issue, sign_area


@pytest.fixture
def cli(clean_db, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MENTORING_DATABASE_URL", database_url)
    monkeypatch.setenv("MENTORING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MENTORING_SECRET_KEY", SECRET)
    monkeypatch.delenv("MENTORING_BASE_URL", raising=False)  # BASE, as the credentials are issued with
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output
    return run


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_ed25519_key_is_a_multikey_matching_the_ob3_test_vector():
    """The key pair of the Open Badges 3.0 eddsa-rdfc-2022 test vectors (linked-data-proof-ob.html)."""
    secret = base58.b58decode("rv2bqTbNwCTsRrHFcJCPjVAduh4Ezcnoq1A3ZxH1GWTNkxi"
                              "pLVuaAoMFmze2gFN9oNXfJjufxSHWVZzsJiUsMHFMcx")
    assert secret[:2] == b"\x80\x26"  # multicodec ed25519-priv
    public = Ed25519PrivateKey.from_private_bytes(secret[2:34]).public_key().public_bytes_raw()
    stored = IssuerKey(organization_id=1, kid="x", algorithm=keys.EDDSA, private_pem_encrypted="",
                       public_jwk=json.dumps({"kty": "OKP", "crv": "Ed25519", "x": _b64url(public)}))
    assert keys.multibase_public(stored) == "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
    assert keys.ed25519_public(stored).public_bytes_raw() == public


def test_the_migration_keeps_existing_keys_as_current_es256_keys(tmp_path, database_url):
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    else:  # a schema of its own in the test database
        with create_engine(database_url).begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS keysmig CASCADE"))
            conn.execute(text("CREATE SCHEMA keysmig"))
        url = database_url + ("&" if "?" in database_url else "?") + "options=-csearch_path%3Dkeysmig"
    engine = create_engine(url)
    try:
        migrate.upgrade(engine, "0013_tablet_signing_window")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO organization (id, name, kind, timezone, created_at, safety_first) VALUES "
                              "(1, 'A', 'fleet', 'UTC', CURRENT_TIMESTAMP, false)"))
            conn.execute(text("INSERT INTO issuerkey (organization_id, kid, algorithm, public_jwk, "
                              "private_pem_encrypted, created_at) VALUES (1, 'k1', 'ES256', '{}', 'p', "
                              "CURRENT_TIMESTAMP)"))
        migrate.upgrade(engine)
        with engine.begin() as conn:
            row = conn.execute(text("SELECT algorithm, retired_at, revoked_from, revoked_reason FROM issuerkey")).one()
            assert tuple(row) == ("ES256", None, None, "")
            # a second, Ed25519 key for the organization is now allowed; a second current ES256 key is not
            conn.execute(text("INSERT INTO issuerkey (organization_id, kid, algorithm, public_jwk, "
                              "private_pem_encrypted, created_at, revoked_reason) VALUES (1, 'k2', 'EdDSA', '{}', "
                              "'p', CURRENT_TIMESTAMP, '')"))
        with pytest.raises(Exception, match="(?i)unique"), engine.begin() as conn:
            conn.execute(text("INSERT INTO issuerkey (organization_id, kid, algorithm, public_jwk, "
                              "private_pem_encrypted, created_at, revoked_reason) VALUES (1, 'k3', 'ES256', '{}', "
                              "'p', CURRENT_TIMESTAMP, '')"))
    finally:
        engine.dispose()
        if not database_url.startswith("sqlite"):
            with create_engine(database_url).begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS keysmig CASCADE"))


def _did_web_url(did: str) -> str:
    """did:web's resolution: ':' becomes '/', the port's colon is percent-decoded, /did.json is appended (a
    DID with a path has no /.well-known). The method says https; the test server speaks http on 127.0.0.1, so
    this one step is the only change from the method's algorithm."""
    from urllib.parse import unquote
    host, *path = did.removeprefix("did:web:").split(":")
    return "http://" + "/".join([unquote(host), *path]) + ("/did.json" if path else "/.well-known/did.json")


def test_every_kid_resolves_to_exactly_the_key_that_signed(clean_db, world, assigned, app, settings):
    server = LiveServer(app)
    settings.base_url = server.url  # the DIDs name the live server, so resolving them reaches it
    with clean_db.transaction() as db:
        ed = keys.current_key(db, world.shop.id, SECRET, keys.EDDSA)
        keys.current_key(db, world.other_shop.id, SECRET)  # another organization's key must not answer
    sign_area(clean_db, world, assigned, "VIII")
    with clean_db.transaction() as db:
        issued = credentials.issue_credentials(db, _actor(clean_db, world.manager), assigned, base_url=server.url,
                                               secret=SECRET)
    with server, httpx.Client() as http:
        did = keys.did_of(server.url, world.shop.id)
        document = DIDDocument.deserialize(http.get(_did_web_url(did)).json())
        assert str(document.id) == did
        org_jwks = http.get(f"{server.url}/orgs/{world.shop.id}/jwks.json").json()
        all_jwks = http.get(f"{server.url}/.well-known/jwks.json").json()
    assert len(document.verification_method) == 2 and len(document.assertion_method) == 2
    for cred in issued:
        signed = jwcrypto_jws.JWS()
        signed.deserialize(cred.token)
        kid = signed.jose_header["kid"]
        method = document.dereference(DIDUrl.parse(kid))  # pydid finds the method the kid names
        assert method.type == "JsonWebKey2020" and str(method.controller) == did
        assert kid in [str(m) for m in document.assertion_method]
        signed.verify(jwk.JWK(**method.public_key_jwk), alg="ES256")
        # both JWKS documents name the key by the same DID URL and hold the same public key
        for published in (org_jwks, all_jwks):
            entry = next(k for k in published["keys"] if k["kid"] == kid)
            assert {k: entry[k] for k in ("kty", "crv", "x", "y")} == method.public_key_jwk
    multikey = document.dereference(DIDUrl.parse(keys.verification_method(server.url, ed)))
    assert multikey.type == "Multikey" and multikey.public_key_multibase.startswith("z6Mk")
    raw = base58.b58decode(multikey.public_key_multibase[1:])
    assert raw[:2] == b"\xed\x01"
    signature = keys.ed25519_private(ed, SECRET).sign(b"signed by the shop")
    Ed25519PublicKey.from_public_bytes(raw[2:]).verify(signature, b"signed by the shop")
    assert {k["kid"] for k in org_jwks["keys"]} == {str(m.id) for m in document.verification_method}

    with clean_db.session() as db:  # what our verifier accepts: the DID URL, and the bare thumbprint of old tokens
        assert keys.find_by_verification_method(db, keys.verification_method(server.url, ed)).id == ed.id
        assert keys.find_by_verification_method(db, ed.kid).id == ed.id
        other_did = keys.did_of(server.url, world.other_shop.id)
        assert keys.find_by_verification_method(db, f"{other_did}#{ed.kid}") is None
        es = keys.stored_key(db, world.shop.id)
        old_style = _signed(issued[0].token, es.kid, keys.signing_key(es, SECRET))
        assert credentials.verify_token(db, old_style).status == "current"


def _actor(database, person):
    from .conftest import actor_for
    return actor_for(database, person)


def _signed(token: str, kid: str, key, **changes) -> str:
    """The token's payload, changed as given, signed again under a header naming `kid`."""
    from joserfc import jws
    payload = {**credentials.payload_of(token), **changes}
    return jws.serialize_compact({"alg": "ES256", "typ": "JWT", "kid": kid},
                                 json.dumps(payload, separators=(",", ":")).encode(), key)


def test_rotation_keeps_old_credentials_valid_and_revocation_from_a_date_untrusts_what_follows(
        cli, clean_db, world, assigned, browser, tmp_path):
    org = str(world.shop.id)
    sign_area(clean_db, world, assigned, "VIII")
    before = [c for c in issue(clean_db, world.manager, assigned) if c.kind == "area"][0]
    with clean_db.session() as db:
        old = keys.find_by_verification_method(db, _kid(before.token))
        old_ed = keys.current_key(db, world.shop.id, SECRET, keys.EDDSA)
        db.commit()

    cli("audit", "checkpoint")
    saved = tmp_path / "before.json"
    saved.write_text(browser.get(f"/orgs/{org}/checkpoints.json").text)

    out = cli("keys", "rotate", "--org", org)
    assert f"Retired ES256 key {old.kid} (still published)" in out and "New EdDSA key" in out
    sign_area(clean_db, world, assigned, "VII")
    after = [c for c in issue(clean_db, world.manager, assigned) if c.achievement_key == "area:VII"][0]
    with clean_db.session() as db:
        new = keys.stored_key(db, world.shop.id)
        assert new.kid != old.kid and _kid(after.token) == keys.verification_method(BASE, new)
        assert credentials.verify_token(db, before.token).status == "current"  # the retired key still verifies
        assert credentials.verify_token(db, after.token).status == "current"
        entries = db.exec(select(AuditEntry).where(AuditEntry.action == "key.rotate")).all()
        assert {json.loads(e.detail)["algorithm"]: json.loads(e.detail)["retired"] for e in entries} == {
            "ES256": [old.kid], "EdDSA": [old_ed.kid]}
    cli("audit", "checkpoint")  # signed with the new key; the copy saved before rotating still agrees
    saved_after = tmp_path / "after.json"
    saved_after.write_text(browser.get(f"/orgs/{org}/checkpoints.json").text)
    assert "OK" in cli("audit", "verify", "--checkpoints", str(saved))
    assert "OK" in cli("audit", "verify", "--checkpoints", str(saved_after))
    document = browser.get(f"/orgs/{org}/did.json").json()
    assert len(document["verificationMethod"]) == 4 and len(document["assertionMethod"]) == 4
    listed = cli("keys", "list", "--org", org)
    assert sorted(line.split()[0] for line in listed.splitlines() if not line.startswith(" ")) == [
        "current", "current", "retired", "retired"]

    # The new key leaked just before `after` was signed; the old one is revoked from after `before`.
    signed_after = credentials.payload_of(after.token)["validFrom"]
    cli("keys", "revoke", "--org", org, "--key", new.kid, "--from", signed_after, "--reason", "Laptop stolen")
    valid_from = credentials.payload_of(before.token)["validFrom"].replace("Z", "+00:00")
    one_second_later = (keys.parse_instant(valid_from) + timedelta(seconds=1)).isoformat()
    cli("keys", "revoke", "--org", org, "--key", keys.verification_method(BASE, old), "--from", one_second_later,
        "--reason", "Backup tape lost")
    assert "already revoked" in cli("keys", "revoke", "--org", org, "--key", old.kid, "--from", one_second_later,
                                    "--reason", "again", code=1)
    with clean_db.session() as db:
        untrusted = credentials.verify_token(db, after.token)
        assert (untrusted.authentic, untrusted.status) == (False, "untrusted")
        assert f"revoked from {signed_after[:10]}" in untrusted.message
        still = credentials.verify_token(db, before.token)
        assert still.status == "current" and "still valid" in still.message
        # Whoever has the revoked key can backdate: a token the issuer did not keep is untrusted even so.
        forged = _signed(before.token, _kid(before.token), keys.signing_key(db.get(IssuerKey, old.id), SECRET),
                         name="Master Technician")
        assert credentials.verify_token(db, forged).status == "untrusted"
        replacement = keys.stored_key(db, world.shop.id)  # revoking the current key replaced it at once
        assert replacement.kid not in (old.kid, new.kid)
        revoked = db.exec(select(AuditEntry).where(AuditEntry.action == "key.revoke")).all()
        assert sorted(json.loads(e.detail)["reason"] for e in revoked) == ["Backup tape lost", "Laptop stolen"]

    document = browser.get(f"/orgs/{org}/did.json").json()
    revoked_methods = {m["id"]: m.get("revoked") for m in document["verificationMethod"] if "revoked" in m}
    assert set(revoked_methods) == {keys.verification_method(BASE, old), keys.verification_method(BASE, new)}
    assert not set(revoked_methods) & set(document["assertionMethod"])
    jwks_kids = {k["kid"] for k in browser.get(f"/orgs/{org}/jwks.json").json()["keys"]}
    assert keys.verification_method(BASE, replacement) in jwks_kids and not set(revoked_methods) & jwks_kids

    (tmp_path / "after.jwt").write_text(after.token)
    out = cli("verify", str(tmp_path / "after.jwt"), code=1)
    assert out.startswith("NOT AUTHENTIC (credential, untrusted): Untrusted: signed with a key the issuer revoked")
    browser.get("/verify")
    page = browser.client.post("/verify", data={"_csrf_token": browser.client.cookies["csrftoken"],
                                                "text": after.token})
    assert page.status_code == 200 and "Not trusted" in page.text and "revoked from" in page.text


def _kid(token: str) -> str:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==="))["kid"]
