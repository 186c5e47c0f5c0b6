"""Open Badges 3.0 credentials: schema, signatures checked with an independent JOSE library, revocation, CLI."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft201909Validator, FormatChecker
from jwcrypto import jwk
from jwcrypto import jws as jwcrypto_jws
from sqlmodel import select

from exports import credentials, keys
from exports.models import IssuedCredential, IssuerKey
from mentoring import demo
from mentoring.people.models import Person
from mentoring.progress import signoffs
from mentoring.progress.models import Assignment
from web.cli import main

from .conftest import actor_for

BASE = "http://127.0.0.1:8000"
SECRET = "test-secret-" + "x" * 40  # the app fixture's secret
ROOT = Path(__file__).resolve().parent.parent
# The official schema as published beside the repository, falling back to the copy the product ships.
SCHEMA = next(p for p in (ROOT.parent / "shared/standards/ob3/achievementcredential.schema.json",
                          ROOT / "exports/schemas/achievementcredential.schema.json") if p.exists())


def sign_area(database, world, assignment, area, rating=4):
    mentor = actor_for(database, world.mentor)
    with database.transaction() as db:
        for t in signoffs.tasks_of(db, assignment):
            if t.area_code == area and not t.not_applicable:
                signoffs.sign_off(db, mentor, assignment.id, t.code, rating=rating, pin=None)


def issue(database, person, assignment):
    with database.transaction() as db:
        return credentials.issue_credentials(db, actor_for(database, person), db.get(Assignment, assignment.id),
                                             base_url=BASE, secret=SECRET)


def jwcrypto_payload(token: str, jwks: dict) -> dict:
    """Verify with jwcrypto (not the product's joserfc) against the published key set."""
    signed = jwcrypto_jws.JWS()
    signed.deserialize(token)
    kid = signed.jose_header["kid"]  # the full DID URL, as the JWKS and the DID document name the key
    key = jwk.JWK(**next(k for k in jwks["keys"] if k["kid"] == kid))
    signed.verify(key, alg="ES256")
    return json.loads(signed.payload)


def strip_jwt_claims(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k not in ("iss", "jti", "nbf", "exp", "sub")}


def test_every_demo_credential_passes_the_schema_and_verifies_with_jwcrypto(clean_db, app, browser):
    with clean_db.transaction() as db:
        demo.seed(db)
    with clean_db.session() as db:
        sam = db.exec(select(Person).where(Person.email == demo.COMPLETED_MENTEE[1])).one()
        assignment = db.exec(select(Assignment).where(Assignment.mentee_id == sam.id)).one()
        manager = db.exec(select(Person).where(Person.email == "rosa.delgado@hillcrest.example")).one()
    issued = issue(clean_db, manager, assignment)
    achievements = [c for c in issued if c.kind != "transcript"]
    assert {c.achievement_key for c in achievements} >= {"area:0", "area:V"}
    validator = Draft201909Validator(json.loads(SCHEMA.read_text()), format_checker=FormatChecker())
    published = browser.get(f"/orgs/{assignment.shop_id}/jwks.json").json()
    assert browser.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
    for cred in issued:
        payload = jwcrypto_payload(cred.token, published)
        if cred.kind != "transcript":
            errors = [e.message for e in validator.iter_errors(strip_jwt_claims(payload))]
            assert errors == [], (cred.name, errors[:3])
        assert payload["iss"] == payload["issuer"]["id"] == keys.did_of(BASE, assignment.shop_id)
    transcript = next(c for c in issued if c.kind == "transcript")
    bundled = jwcrypto_payload(transcript.token, published)
    assert "ClrCredential" in bundled["type"]
    assert {c["id"] for c in bundled["credentialSubject"]["verifiableCredential"]} == {
        f"urn:uuid:{c.uuid}" for c in achievements}


def test_an_area_credential_carries_codes_source_ratings_and_evidence(clean_db, world, assigned, browser):
    sign_area(clean_db, world, assigned, "VIII", rating=5)
    issued = issue(clean_db, world.manager, assigned)
    area = next(c for c in issued if c.achievement_key == "area:VIII")
    vc = credentials.payload_of(area.token)
    subject = vc["credentialSubject"]
    codes = {a["targetCode"] for a in subject["achievement"]["alignment"]}
    assert "VIII" in codes and "VIII.A.1" in codes
    assert subject["source"]["name"] == "Riverside Toyota" == vc["issuer"]["name"]
    assert {r["value"] for r in subject["result"]} == {"5"}
    assert len(subject["result"]) == len(vc["evidence"]) == 11
    assert all("/verify/" in e["id"] and "#task-VIII." in e["id"] for e in vc["evidence"])
    assert "Milo Mentor (performed and observed)" in vc["evidence"][0]["narrative"]
    assert vc["credentialStatus"]["type"] == "1EdTechRevocationList"
    assert not any(c.kind == "level" for c in issued)  # one area is not the whole level
    # The evidence link lands on the sign-off in the public record.
    path = vc["evidence"][0]["id"].removeprefix(BASE)
    page = browser.get(path.split("#")[0])
    assert page.status_code == 200 and f'id="{path.split("#")[1]}"' in page.text


def test_a_whole_level_earns_a_level_credential(clean_db, world, assigned):
    mentor = actor_for(clean_db, world.mentor)
    with clean_db.transaction() as db:
        for t in signoffs.tasks_of(db, assigned):
            if not t.not_applicable:
                signoffs.sign_off(db, mentor, assigned.id, t.code, rating=3, pin=None)
    issued = issue(clean_db, world.manager, assigned)
    level = next(c for c in issued if c.kind == "level")
    assert level.name.startswith("MLR complete")
    assert credentials.schema_errors(strip_jwt_claims(credentials.payload_of(level.token))) == []


def test_nothing_is_issued_before_an_area_is_complete(clean_db, world, assigned):
    sign_area(clean_db, world, assigned, "VIII", rating=2)  # below the required rating
    assert issue(clean_db, world.manager, assigned) == []


def test_changing_one_character_fails_and_revoked_is_reported_revoked(clean_db, world, assigned, browser):
    sign_area(clean_db, world, assigned, "VIII")
    cred = next(c for c in issue(clean_db, world.manager, assigned) if c.kind == "area")
    head, body, sig = cred.token.split(".")
    flipped = body[:40] + ("A" if body[40] != "A" else "B") + body[41:]
    with clean_db.session() as db:
        assert credentials.verify_token(db, cred.token).status == "current"
        tampered = credentials.verify_token(db, f"{head}.{flipped}.{sig}")
    assert not tampered.authentic and tampered.status == "invalid"
    published = browser.get(f"/orgs/{world.shop.id}/jwks.json").json()
    with pytest.raises(Exception):  # noqa: B017  jwcrypto refuses it too
        jwcrypto_payload(f"{head}.{flipped}.{sig}", published)

    browser.login(world.manager.email)
    assert browser.post(f"/credentials/{cred.id}/revoke", {"reason": ""}).status_code == 400
    assert browser.post(f"/credentials/{cred.id}/revoke", {"reason": "Issued by mistake"}).status_code == 303
    browser.logout()
    listed = browser.get(f"/orgs/{world.shop.id}/credentials/revocations.json").json()
    assert {"id": f"urn:uuid:{cred.uuid}"} in listed["revokedCredentials"]  # no free-text reason for strangers
    browser.get("/verify")
    answer = browser.client.post("/verify", data={"_csrf_token": browser.client.cookies["csrftoken"],
                                                  "text": cred.token})
    assert answer.status_code == 200 and "Authentic, but revoked" in answer.text
    assert "Issued by mistake" not in answer.text


def test_a_revoked_sign_off_revokes_the_area_credential_at_the_next_issue(clean_db, world, assigned):
    sign_area(clean_db, world, assigned, "VIII")
    first = {c.achievement_key: c for c in issue(clean_db, world.manager, assigned)}
    with clean_db.transaction() as db:
        signoffs.revoke(db, actor_for(clean_db, world.manager), assigned.id, "VIII.A.1", reason="Not observed")
    assert issue(clean_db, world.manager, assigned) == []
    with clean_db.session() as db:
        old = db.get(IssuedCredential, first["area:VIII"].id)
        assert old.revoked_at is not None and "no longer met" in old.revoked_reason
        assert credentials.verify_token(db, old.token).status == "revoked"


def test_only_the_shops_managers_issue_and_outsiders_cannot_download(clean_db, world, assigned, browser):
    sign_area(clean_db, world, assigned, "VIII")
    for person, status in ((world.mentee, 403), (world.mentor, 404), (world.other_manager, 404)):
        browser.login(person.email)
        assert browser.post(f"/assignments/{assigned.id}/credentials").status_code == status
        browser.logout()
    browser.login(world.manager.email)
    assert browser.post(f"/assignments/{assigned.id}/credentials").status_code == 303
    browser.logout()
    with clean_db.session() as db:
        cred = db.exec(select(IssuedCredential).where(IssuedCredential.kind == "area")).one()
    browser.login(world.mentee.email)  # the mentee takes their own credential away
    mine = browser.get(f"/credentials/{cred.id}/download?format=jwt")
    assert mine.status_code == 200 and mine.text == cred.token
    assert browser.post(f"/credentials/{cred.id}/revoke", {"reason": "x"}).status_code == 403
    browser.logout()
    browser.login(world.other_manager.email)
    assert browser.get(f"/credentials/{cred.id}/download").status_code == 404


def test_keys_are_encrypted_under_the_secret_and_published_as_did_web(clean_db, world, browser):
    with clean_db.transaction() as db:
        stored = keys.key_for(db, world.shop.id, SECRET)
    assert stored.private_pem_encrypted.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(keys.KeyUnavailable):
        keys.signing_key(stored, "another-secret-" + "y" * 40)
    assert keys.signing_key(stored, SECRET).thumbprint() == stored.kid
    did = keys.did_of(BASE, world.shop.id)
    assert did == f"did:web:127.0.0.1%3A8000:orgs:{world.shop.id}"
    # did:web resolution: replace ':' with '/', decode the port, append /did.json.
    document = browser.get(f"/orgs/{world.shop.id}/did.json").json()
    assert document["id"] == did
    assert document["verificationMethod"][0]["publicKeyJwk"] == json.loads(stored.public_jwk)
    assert document["assertionMethod"][0] == f"{did}#{stored.kid}"
    assert browser.get("/orgs/999/did.json").status_code == 404


# --- the command line ---------------------------------------------------------------------------

@pytest.fixture
def cli(clean_db, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MENTORING_DATABASE_URL", database_url)
    monkeypatch.setenv("MENTORING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MENTORING_SECRET_KEY", SECRET)
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output
    return run


def test_the_cli_exports_and_verifies_records_and_credentials(cli, clean_db, world, assigned, tmp_path):
    cli("init")
    with clean_db.session() as db:  # every organization got its ES256 and Ed25519 key pairs at init
        assert len(db.exec(select(IssuerKey)).all()) == 3 * 2
    sign_area(clean_db, world, assigned, "VIII")
    for fmt in ("pdf", "csv", "json"):
        out = tmp_path / f"record.{fmt}"
        assert "Wrote" in cli("export", "record", "--mentee", world.mentee.email, "--format", fmt, "--out", str(out))
        assert "AUTHENTIC (record, current)" in cli("verify", str(out))
    cli("export", "credentials", "--mentee", world.mentee.email, "--out", str(tmp_path / "creds"))
    files = sorted((tmp_path / "creds").glob("*.jwt"))
    assert [f.name for f in files] == ["area-area-VIII.jwt", "transcript-transcript.jwt"]
    assert "AUTHENTIC (credential, current)" in cli("verify", str(files[0]))
    tampered = tmp_path / "tampered.json"
    tampered.write_text((tmp_path / "record.json").read_text().replace("Milo Mentor", "Milo Mentos", 1))
    assert "NOT AUTHENTIC" in cli("verify", str(tampered), code=1)
    cli("export", "record", "--mentee", "nobody@example.com", "--format", "pdf", "--out", str(tmp_path / "x"), code=1)
