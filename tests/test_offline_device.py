"""Offline tablets, the server's side: PIN verifiers (made, checked, invalidated) and the tablet's offline copy."""

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from sqlalchemy import event
from sqlmodel import select

from mentoring.access import auth, offline, tablets
from mentoring.access.models import OfflineVerifier, TabletDevice
from mentoring.access.policy import Actor
from mentoring.people import accounts
from mentoring.people.accounts import NewPersonIn, PersonIn
from mentoring.people.models import Membership, Organization, Person
from mentoring.progress import customize, signoffs, tablet_offline
from mentoring.progress.customize import AssignmentIn
from mentoring.progress.evidence import Evidence

VECTORS = json.loads((Path(__file__).parent / "offline_vectors.json").read_text(encoding="utf-8"))
SECRET = "test-secret-" + "x" * 40  # the app's secret in tests (conftest.settings)
OPERATOR = Actor(None, "test", True)


def enroll_and_unlock(browser, world, mentor=None, pin="2580"):
    browser.login(world.manager.email)
    assert browser.post(f"/shops/{world.shop.id}/tablets", {"name": "Bay 3"}).status_code == 303
    response = browser.post(f"/tablet/mentors/{(mentor or world.mentor).id}", {"pin": pin})
    browser.post("/tablet/done")
    return response


def verifiers(database):
    with database.session() as db:
        return db.exec(select(OfflineVerifier).order_by(OfflineVerifier.id)).all()


def snapshot(browser, query=""):
    return browser.get("/tablet/offline/snapshot" + query)


# --- the derivation, against known answers ---------------------------------------------------------

def test_the_pin_derivation_matches_known_answers_and_openssl():
    # RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1); its first 32 bytes are the first block.
    assert offline.derive("passwd", b"salt", 1).hex() == (
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc")
    salt = bytes.fromhex(VECTORS["salt"])
    key = offline.derive(VECTORS["pin"], salt, VECTORS["iterations"])
    # cryptography 42-50 (OpenSSL's PBKDF2), not hashlib, computes the expected key.
    assert key == PBKDF2HMAC(hashes.SHA256(), 32, salt, VECTORS["iterations"]).derive(VECTORS["pin"].encode())
    assert key.hex() == VECTORS["key"]
    assert offline.check_of(key) == VECTORS["check"]
    assert offline.check_of(offline.derive(VECTORS["wrong_pin"], salt, VECTORS["iterations"])) == (
        VECTORS["wrong_pin_check"]) != VECTORS["check"]
    canonical = offline.canonical_event(VECTORS["event"])
    assert canonical == VECTORS["canonical"].encode()
    assert "—" in canonical.decode() and b"\\u" not in canonical  # no ASCII escaping
    assert offline.proof_of(key, canonical) == VECTORS["proof"]


def test_canonical_event_takes_exactly_the_contract_fields():
    fields = {**VECTORS["event"], "assignment_id": "12", "photo": "ignored", "proof": "ignored"}
    assert offline.canonical_event(fields) == VECTORS["canonical"].encode()  # form strings become numbers
    with pytest.raises(KeyError):
        offline.canonical_event({k: v for k, v in VECTORS["event"].items() if k != "vin"})
    with pytest.raises(ValueError):
        offline.canonical_event({**VECTORS["event"], "rating": "four"})


# --- verifiers ----------------------------------------------------------------------------------------

def test_an_online_unlock_makes_one_verifier_per_tablet_and_mentor(browser, world, clean_db):
    assert enroll_and_unlock(browser, world).status_code == 303
    [made] = verifiers(clean_db)
    assert (made.person_id, made.iterations, len(bytes.fromhex(made.salt))) == (world.mentor.id, 1000, 16)
    key = offline.derive("2580", bytes.fromhex(made.salt), made.iterations)
    assert key.hex() not in made.key_encrypted and offline.key_of(made, SECRET) == key
    assert offline.key_of(made, "another-secret-" + "y" * 40) is None  # encrypted under the app secret
    # A wrong PIN makes none; a second right one keeps the first verifier.
    assert browser.post(f"/tablet/mentors/{world.mentor2.id}", {"pin": "1397"}).status_code == 400
    assert browser.post(f"/tablet/mentors/{world.mentor.id}", {"pin": "2580"}).status_code == 303
    assert [(v.id, v.salt) for v in verifiers(clean_db)] == [(made.id, made.salt)]


def test_a_proof_is_accepted_only_from_the_right_pin(world, db):
    device, _ = tablets.enroll(db, OPERATOR, world.shop, "Bay 3")
    verifier = offline.ensure(db, device, world.mentor.id, "2580", secret=SECRET, iterations=1000)
    canonical = offline.canonical_event(VECTORS["event"])
    right = offline.proof_of(offline.derive("2580", bytes.fromhex(verifier.salt), 1000), canonical)
    wrong = offline.proof_of(offline.derive("2581", bytes.fromhex(verifier.salt), 1000), canonical)
    assert offline.proof_ok(verifier, canonical, right, SECRET)
    assert offline.proof_ok(verifier, canonical, right.upper(), SECRET)
    assert not offline.proof_ok(verifier, canonical, wrong, SECRET)
    assert not offline.proof_ok(verifier, canonical.replace(b'"rating":4', b'"rating":5'), right, SECRET)
    assert not offline.proof_ok(verifier, canonical, "zz" + right[2:], SECRET)
    assert not offline.proof_ok(verifier, canonical, "", SECRET)
    assert not offline.proof_ok(None, canonical, right, SECRET)
    assert not offline.proof_ok(verifier, canonical, right, "another-secret-" + "y" * 40)
    assert offline.verifier_for(db, device.id, world.mentor.id).id == verifier.id
    # After the app secret changes, the next online unlock replaces the verifier nobody can open.
    renewed = offline.ensure(db, device, world.mentor.id, "2580", secret="another-secret-" + "y" * 40,
                             iterations=1000)
    assert renewed.salt != verifier.salt and offline.key_of(renewed, "another-secret-" + "y" * 40)
    assert db.exec(select(OfflineVerifier)).all() == [renewed]


@pytest.fixture
def two_tablets(world, db):
    """Verifiers for both mentors on two tablets of the shop, and the other shop's mentor on its tablet."""
    bay3, _ = tablets.enroll(db, OPERATOR, world.shop, "Bay 3")
    bay4, _ = tablets.enroll(db, OPERATOR, world.shop, "Bay 4")
    other, _ = tablets.enroll(db, OPERATOR, world.other_shop, "Front")
    for device, person in ((bay3, world.mentor), (bay3, world.mentor2), (bay4, world.mentor),
                           (bay4, world.mentor2), (other, world.other_mentor)):
        offline.ensure(db, device, person.id, "2580", secret=SECRET, iterations=1000)
    db.commit()
    return bay3, bay4, other


def pairs(database):
    with database.session() as db:
        return {(d.name, p.full_name) for d, p in db.exec(
            select(TabletDevice, Person).join(OfflineVerifier, OfflineVerifier.device_id == TabletDevice.id)
            .join(Person, Person.id == OfflineVerifier.person_id)).all()}


ALL_PAIRS = {("Bay 3", "Milo Mentor"), ("Bay 3", "Nina Mentor"), ("Bay 4", "Milo Mentor"),
             ("Bay 4", "Nina Mentor"), ("Front", "Otto Mentor")}


def test_revoking_a_tablet_deletes_its_verifiers(browser, world, two_tablets, clean_db):
    browser.login(world.manager.email)
    assert browser.post(f"/tablets/{two_tablets[0].id}/revoke").status_code == 303
    assert pairs(clean_db) == ALL_PAIRS - {("Bay 3", "Milo Mentor"), ("Bay 3", "Nina Mentor")}


def test_a_new_pin_deletes_the_mentors_verifiers_on_every_tablet(browser, world, two_tablets, clean_db):
    browser.login(world.mentor.email)
    assert browser.post("/account/pin", {"current_password": "correct-horse-battery",
                                         "pin": "4739"}).status_code == 303
    assert pairs(clean_db) == ALL_PAIRS - {("Bay 3", "Milo Mentor"), ("Bay 4", "Milo Mentor")}
    with clean_db.transaction() as db:  # an admin's reset, or the CLI's `users set-pin`
        accounts.reset_credentials(db, OPERATOR, db.get(Person, world.mentor2.id), password="", pin="4739")
    assert pairs(clean_db) == {("Front", "Otto Mentor")}


def test_switching_an_account_off_deletes_its_verifiers(world, two_tablets, clean_db):
    with clean_db.transaction() as db:
        person = db.get(Person, world.mentor.id)
        accounts.set_active(db, OPERATOR, person, False)
    assert pairs(clean_db) == ALL_PAIRS - {("Bay 3", "Milo Mentor"), ("Bay 4", "Milo Mentor")}
    with clean_db.transaction() as db:  # through the admin's person form
        admin = Actor(world.admin.id, "Alice Admin", memberships=frozenset({(world.shop.id, "admin")}))
        person = db.get(Person, world.mentor2.id)
        accounts.update_person(db, admin, person, PersonIn(full_name=person.full_name, email=person.email),
                               active=False)
    assert pairs(clean_db) == {("Front", "Otto Mentor")}


def test_ending_the_mentor_role_deletes_the_verifiers_at_that_shop_only(world, two_tablets, clean_db):
    with clean_db.transaction() as db:
        shop, other = db.get(Organization, world.shop.id), db.get(Organization, world.other_shop.id)
        rita = accounts.add_member(db, OPERATOR, shop, NewPersonIn(
            full_name="Rita Mentor", email="rita@example.com", role="mentor", password="", pin="2580"))
        accounts.grant_role(db, OPERATOR, other, rita, "mentor")
        accounts.grant_role(db, OPERATOR, shop, rita, "mentee")
        for device in two_tablets:
            offline.ensure(db, db.get(TabletDevice, device.id), rita.id, "2580", secret=SECRET, iterations=1000)
    rita_pairs = {("Bay 3", "Rita Mentor"), ("Bay 4", "Rita Mentor"), ("Front", "Rita Mentor")}
    assert pairs(clean_db) == ALL_PAIRS | rita_pairs

    def end(role):
        with clean_db.transaction() as db:
            membership = db.exec(select(Membership).where(Membership.person_id == rita.id, Membership.role == role,
                                                          Membership.organization_id == world.shop.id)).one()
            accounts.remove_membership(db, OPERATOR, membership)

    end("mentee")  # another role ends: nothing changes
    assert pairs(clean_db) == ALL_PAIRS | rita_pairs
    end("mentor")
    assert pairs(clean_db) == ALL_PAIRS | {("Front", "Rita Mentor")}


def test_forget_needs_a_subject(db):
    with pytest.raises(ValueError):
        offline.forget(db)
    assert auth.PIN_RE.fullmatch(VECTORS["pin"])  # the vector's PIN is one the app accepts


# --- the snapshot -----------------------------------------------------------------------------------

def test_the_snapshot_holds_what_signing_needs_and_nothing_more(browser, world, assigned, clean_db):
    with clean_db.transaction() as db:
        milo = Actor(world.mentor.id, "Milo Mentor", memberships=frozenset({(world.shop.id, "mentor")}))
        signed = signoffs.sign_off(db, milo, assigned.id, "I.A.1", rating=4, pin=None,
                                   evidence=Evidence(note="Watch the torque sequence", ro_number="RO-77"))
        signoffs.log_practice(db, milo, assigned.id, "I.A.3", hours="1", note="Practised with Sam")
    enroll_and_unlock(browser, world)
    response = snapshot(browser)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    with clean_db.session() as db:
        device = db.exec(select(TabletDevice)).one()
        verifier = db.exec(select(OfflineVerifier)).one()
    assert body["device"] == {"id": device.id, "name": "Bay 3", "shop_id": world.shop.id,
                              "shop_name": "Riverside Toyota"}
    assert body["csrf_token"] == browser.client.cookies["csrftoken"]
    assert body["limits"] == {"max_mentees": 30, "pin_attempts": 5, "lockout_seconds": 300}
    assert body["generated_at"].endswith("Z") and not body["capped"]
    assert [r["value"] for r in body["ratings"]] == [1, 2, 3, 4, 5]
    milo, nina = body["mentors"]
    key = offline.derive("2580", bytes.fromhex(verifier.salt), verifier.iterations)
    assert milo["verifier"] == {"salt": verifier.salt, "iterations": 1000,
                                "check": hashlib.sha256(key).hexdigest()}
    assert nina["name"] == "Nina Mentor" and nina["verifier"] is None  # never unlocked here
    assert nina["mentees"] == []  # Uma has no list; Tess is Milo's (the shop signs by own mentor only)
    [tess] = milo["mentees"]
    assert (tess["assignment_id"], tess["name"], tess["list_title"]) == (assigned.id, "Tess Mentee", "MLR")
    tasks = {t["code"]: t for area in tess["areas"] for t in area["tasks"]}
    assert tasks["I.A.1"] == {**tasks["I.A.1"], "status": "signed", "rating": 4, "version": signed.id}
    assert tasks["I.A.3"]["status"] == "practicing" and tasks["I.A.3"]["version"] > signed.id
    assert tasks["I.A.4"] == {**tasks["I.A.4"], "status": "not_started", "rating": None, "version": 0,
                              "applicable": True}
    assert tasks["I.A.2"]["applicable"] is False
    assert "I" in [a["code"] for a in tess["areas"]] and all(a["title"] for a in tess["areas"])
    assert len(tasks) == sum(len(a["tasks"]) for a in tess["areas"]) > 50
    for private in ("Watch the torque", "RO-77", "Practised with", "Engines go out", "key_encrypted",
                    "@example.com", "pay"):
        assert private not in response.text


def test_any_mentor_may_sign_and_the_cap_keeps_own_mentees_first(world, assigned, db):
    shop = db.get(Organization, world.shop.id)
    shop.any_mentor_signs = True
    db.add(shop)
    device, _ = tablets.enroll(db, OPERATOR, shop, "Bay 3")
    db.commit()
    full = tablet_offline.snapshot(db, device, secret=SECRET)
    assert [(m["name"], [e["name"] for e in m["mentees"]]) for m in full["mentors"]] == [
        ("Milo Mentor", ["Tess Mentee"]), ("Nina Mentor", ["Tess Mentee"])]
    capped = tablet_offline.snapshot(db, device, secret=SECRET, limit=1)
    assert [(m["name"], [e["name"] for e in m["mentees"]]) for m in capped["mentors"]] == [
        ("Milo Mentor", ["Tess Mentee"]), ("Nina Mentor", [])]
    assert (capped["capped"], capped["left_out"], capped["limits"]["max_mentees"]) == (True, 1, 1)


def test_the_snapshot_takes_the_same_queries_for_one_mentee_or_three(world, assigned, db):
    """Lists of several hundred tasks per mentee: a fixed number of queries, never one per task or mentee."""
    device, _ = tablets.enroll(db, OPERATOR, db.get(Organization, world.shop.id), "Bay 3")
    db.commit()

    def queries():
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.get_bind(), "before_cursor_execute", listener)
        try:
            body = tablet_offline.snapshot(db, device, secret=SECRET)
        finally:
            event.remove(db.get_bind(), "before_cursor_execute", listener)
        selects = sum(s.lstrip().upper().startswith("SELECT") for s in seen)
        return selects, sum(len(m["mentees"]) for m in body["mentors"])

    queries()  # the first reads the published list's tasks, which each process then keeps
    one = queries()
    shop = db.get(Organization, world.shop.id)
    for name in ("Vic Mentee", "Walt Mentee"):
        mentee = accounts.add_member(db, OPERATOR, shop, NewPersonIn(
            full_name=name, email=name.split()[0].lower() + "@example.com", role="mentee"))
        from mentoring.people import triads
        from mentoring.people.triads import TriadIn
        triad = triads.create_triad(db, OPERATOR, shop, TriadIn(mentee_id=mentee.id, mentor_id=world.mentor.id,
                                                                manager_id=world.manager.id))
        customize.assign(db, OPERATOR, shop, AssignmentIn(triad_id=triad.id, version_id=assigned.version_id,
                                                          start_date="2026-09-01"))
    db.commit()
    three = queries()
    assert (one[1], three[1]) == (1, 3)
    assert three[0] == one[0] <= 6, (one, three)


def test_the_tablet_reports_its_unsent_signatures(browser, world, clean_db):
    enroll_and_unlock(browser, world)
    assert snapshot(browser, "?queued=3").status_code == 200
    with clean_db.session() as db:
        device = db.exec(select(TabletDevice)).one()
    assert device.queued_count == 3 and device.last_seen_at is not None
    assert snapshot(browser).status_code == 200  # no count: the last one stands
    with clean_db.session() as db:
        assert db.get(TabletDevice, device.id).queued_count == 3
    for bad in ("abc", "-1", "1e3", "9" * 20, "²"):
        response = snapshot(browser, f"?queued={bad}")
        assert response.status_code == 400 and response.json()["status"] == "invalid", bad
    assert snapshot(browser, "?queued=0").status_code == 200
    with clean_db.session() as db:
        assert db.get(TabletDevice, device.id).queued_count == 0


def test_only_an_enrolled_tablet_gets_a_snapshot(browser, other_browser, world, assigned, clean_db):
    response = snapshot(other_browser)  # no tablet cookie
    assert response.status_code == 404 and response.json()["status"] == "not_enrolled"
    other_browser.login(world.mentor.email)  # a signed-in mentor is not a tablet either
    assert snapshot(other_browser).status_code == 404
    enroll_and_unlock(browser, world)
    assert snapshot(browser).status_code == 200
    with clean_db.transaction() as db:
        tablets.revoke(db, OPERATOR, db.exec(select(TabletDevice)).one())
    response = snapshot(browser)
    assert response.status_code == 404 and response.json()["status"] == "not_enrolled"
    assert response.headers["cache-control"] == "no-store" and "Tess" not in response.text
    assert verifiers(clean_db) == []


# --- what managers see ------------------------------------------------------------------------------

def report(database, name, *, hours_ago, queued=0):
    from datetime import timedelta

    from mentoring import clock
    with database.transaction() as db:
        device = db.exec(select(TabletDevice).where(TabletDevice.name == name)).one()
        device.last_seen_at = clock.utcnow() - timedelta(hours=hours_ago)
        device.queued_count = queued
        db.add(device)


def test_the_dashboard_shows_stale_tablets_and_unsent_signatures(browser, world, two_tablets, clean_db):
    from datetime import timedelta

    from mentoring import clock
    browser.login(world.manager.email)
    assert "Shop tablets to check" not in browser.get("/manager").text  # enrolled just now
    report(clean_db, "Bay 3", hours_ago=2, queued=2)
    report(clean_db, "Bay 4", hours_ago=30)
    page = browser.get("/manager").text
    checks = page.split('id="tablet-checks"')[1].split("</section>")[0]
    assert "Bay 3" in checks and "reported 2 signatures not yet sent" in checks
    assert "Bay 4" in checks and "not seen since" in checks
    assert "Front" not in checks  # the other shop's tablet
    report(clean_db, "Bay 3", hours_ago=1)
    report(clean_db, "Bay 4", hours_ago=1)
    assert "Shop tablets to check" not in browser.get("/manager").text
    with clean_db.transaction() as db:  # a tablet that never fetched its copy since enrolled two days ago
        device = db.exec(select(TabletDevice).where(TabletDevice.name == "Bay 4")).one()
        device.last_seen_at, device.enrolled_at = None, clock.utcnow() - timedelta(days=2)
        db.add(device)
    assert "has not synced since it was enrolled" in browser.get("/manager").text
    browser.post(f"/tablets/{two_tablets[1].id}/revoke")  # revoked: nothing to check
    assert "Shop tablets to check" not in browser.get("/manager").text
    browser.login(world.other_manager.email)
    assert "Shop tablets to check" not in browser.get("/manager").text


def test_revoking_a_tablet_with_unsent_signatures_asks_first(browser, world, two_tablets, clean_db):
    bay3 = two_tablets[0]
    report(clean_db, "Bay 3", hours_ago=0, queued=2)
    browser.login(world.manager.email)
    listing = browser.get(f"/shops/{world.shop.id}/tablets").text
    assert "2 unsent signatures" in listing
    asked = browser.post(f"/tablets/{bay3.id}/revoke")
    assert asked.status_code == 200
    assert "Bay 3 reported 2 unsent signatures at" in " ".join(asked.text.split())
    assert "Revoke anyway" in asked.text and f'href="/shops/{world.shop.id}/tablets"' in asked.text
    assert "<script>" not in asked.text  # server-rendered: no inline script (the CSP forbids it)
    with clean_db.session() as db:
        assert db.get(TabletDevice, bay3.id).revoked_at is None  # nothing happened yet
    assert len(verifiers(clean_db)) == 5
    done = browser.post(f"/tablets/{bay3.id}/revoke", {"confirm": "yes"})
    assert done.status_code == 303
    with clean_db.session() as db:
        assert db.get(TabletDevice, bay3.id).revoked_at is not None
    # Another shop's manager cannot even reach the question.
    browser.login(world.other_manager.email)
    report(clean_db, "Bay 4", hours_ago=0, queued=1)
    assert browser.post(f"/tablets/{two_tablets[1].id}/revoke").status_code == 404
