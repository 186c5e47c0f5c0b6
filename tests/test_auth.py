"""Sign-in, sessions, throttling, CSRF and PINs."""

import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from mentoring.access import auth, throttle
from mentoring.access.models import ThrottleEntry
from mentoring.access.throttle import Limits
from mentoring.clock import utcnow
from mentoring.errors import FormError
from mentoring.people.models import Person
from web.models import WebSession

from .conftest import PASSWORD


def test_production_hashing_is_argon2id_with_asvs_parameters():
    assert auth.PRODUCTION_HASHER.hash("a long password").startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    # A fresh import (no test fixture) hashes with those production parameters.
    code = "import mentoring.access.auth as a; print(a.hash_secret('x'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_passwords_are_never_stored_in_clear(db, world):
    person = db.get(Person, world.manager.id)
    assert PASSWORD not in person.password_hash and person.password_hash.startswith("$argon2id$")
    assert person.pin_hash.startswith("$argon2id$") and "2580" not in person.pin_hash


def test_it_signs_in_and_lands_on_the_role_home(browser, world):
    response = browser.login(world.manager.email)
    assert response.headers["location"] == "/manager"
    page = browser.get("/manager")
    assert page.status_code == 200 and "Tess Mentee" in page.text


@pytest.mark.parametrize("persona, home", [
    ("admin", "/admin"), ("manager", "/manager"), ("mentor", "/mentor"),
    ("mentee", "/me"), ("instructor", "/instructor"),
])
def test_each_role_lands_on_its_own_home(browser, world, persona, home):
    response = browser.login(getattr(world, persona).email)
    assert response.headers["location"] == home
    assert browser.get(home).status_code == 200


def test_a_wrong_password_rerenders_the_form_without_saying_which_part_was_wrong(browser, world):
    response = browser.post("/login", {"email": world.manager.email, "password": "nope"})
    assert response.status_code == 400
    assert "Email or password is not right." in response.text
    assert "mentoring_session" not in response.cookies


def test_an_unknown_email_gets_the_same_answer(browser, world):
    response = browser.post("/login", {"email": "nobody@example.com", "password": "nope"})
    assert response.status_code == 400 and "Email or password is not right." in response.text


def test_it_follows_next_only_within_the_site(browser, world):
    response = browser.post("/login", {"email": world.manager.email, "password": PASSWORD,
                                       "next": "//evil.example/steal"})
    assert response.headers["location"] == "/manager"


def test_pages_redirect_anonymous_browsers_to_login_and_back(browser, world):
    response = browser.get("/manager")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fmanager"


def test_the_api_answers_401_json_to_anonymous_callers(browser):
    response = browser.get("/api/me")
    assert response.status_code == 401
    assert response.json()["status_code"] == 401


def test_it_issues_a_new_session_id_at_login(browser, world, clean_db):
    browser.login(world.manager.email)
    first = browser.client.cookies["mentoring_session"]
    browser.login(world.mentor.email)
    second = browser.client.cookies["mentoring_session"]
    assert first != second
    with clean_db.session() as db:
        assert len(db.exec(select(WebSession)).all()) == 1  # the first one was ended


def test_logout_ends_the_session_on_the_server(browser, other_browser, world):
    browser.login(world.manager.email)
    stolen = browser.client.cookies["mentoring_session"]
    assert browser.logout().status_code == 303
    other_browser.client.cookies.set("mentoring_session", stolen)
    assert other_browser.get("/manager").status_code == 303  # back to login


def test_an_idle_session_expires(browser, world, clean_db, settings):
    browser.login(world.manager.email)
    with clean_db.transaction() as db:
        db.exec(update(WebSession).values(
            last_seen_at=utcnow() - timedelta(minutes=settings.session_idle_minutes + 1)))
    assert browser.get("/manager").status_code == 303


def test_a_busy_session_still_ends_at_the_absolute_limit(browser, world, clean_db, settings):
    browser.login(world.manager.email)
    with clean_db.transaction() as db:
        db.exec(update(WebSession).values(created_at=utcnow() - timedelta(hours=settings.session_max_hours, seconds=1)))
    assert browser.get("/manager").status_code == 303


def test_activity_keeps_a_session_alive(browser, world, clean_db):
    browser.login(world.manager.email)
    with clean_db.transaction() as db:
        db.exec(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=5)))
    assert browser.get("/manager").status_code == 200
    with clean_db.session() as db:
        assert utcnow() - db.exec(select(WebSession)).one().last_seen_at < timedelta(minutes=1)


def test_a_deactivated_person_is_signed_out(browser, world, clean_db):
    browser.login(world.mentor.email)
    with clean_db.transaction() as db:
        db.exec(update(Person).where(Person.id == world.mentor.id).values(is_active=False))
    assert browser.get("/mentor").status_code == 303


def test_repeated_wrong_passwords_slow_that_account_only(browser, other_browser, world):
    for _ in range(5):
        browser.post("/login", {"email": world.mentor.email, "password": "wrong-guess"})
    locked = browser.post("/login", {"email": world.mentor.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in locked.text
    # Another account from the same client is not affected.
    assert other_browser.login(world.manager.email).headers["location"] == "/manager"


def test_the_lock_doubles_and_then_lifts(db, world):
    now = utcnow()
    limits = auth.SignInLimits(account=Limits(lock_after=3, max_minutes=15))
    key = throttle.account_key(world.mentor.email)
    for _ in range(4):
        with pytest.raises(auth.LoginRefused):
            auth.authenticate(db, world.mentor.email, "bad", limits=limits, now=now)
    entry = db.get(ThrottleEntry, key)
    # 3rd failure locked for 30 s; the 4th was refused without counting, still locked.
    assert entry.count == 3 and entry.locked_until == now + timedelta(seconds=30)
    later = now + timedelta(seconds=31)
    with pytest.raises(auth.LoginRefused):
        auth.authenticate(db, world.mentor.email, "bad", limits=limits, now=later)
    db.refresh(entry)
    assert entry.locked_until == later + timedelta(seconds=60)
    auth.authenticate(db, world.mentor.email, PASSWORD, limits=limits, now=later + timedelta(minutes=2))
    db.expire_all()
    assert db.get(ThrottleEntry, key) is None
    assert Limits(5, 15).lock_for(30) == timedelta(minutes=15)


def test_a_post_without_csrf_token_is_refused(browser, world):
    response = browser.post("/login", {"email": world.manager.email, "password": PASSWORD}, csrf=False)
    assert response.status_code == 403
    browser.login(world.admin.email)
    response = browser.post(f"/admin/orgs/{world.shop.id}/edit",
                            {"name": "Hijacked", "kind": "dealership", "timezone": "UTC"}, csrf=False)
    assert response.status_code == 403


def test_every_form_carries_a_csrf_token(browser, world):
    browser.login(world.admin.email)
    for url in ["/account", f"/admin/orgs/{world.shop.id}", f"/admin/orgs/{world.shop.id}/edit",
                f"/admin/orgs/{world.shop.id}/members/new", f"/admin/people/{world.mentor.id}",
                f"/admin/orgs/{world.shop.id}/triads/new", f"/admin/triads/{world.triad.id}",
                f"/admin/orgs/{world.shop.id}/enrollments/new"]:
        html = browser.get(url).text
        assert html.count("<form") == html.count('name="_csrf_token"'), url


def test_a_person_sets_their_own_pin(browser, world, clean_db):
    browser.login(world.mentor.email)
    bad = browser.post("/account/pin", {"pin": "12a", "current_password": PASSWORD})
    assert bad.status_code == 400 and "4 to 6 digits" in bad.text
    ok = browser.post("/account/pin", {"pin": "908172", "current_password": PASSWORD})
    assert ok.status_code == 303
    with clean_db.session() as db:
        assert auth.verify_pin(db.get(Person, world.mentor.id), "908172")
        assert not auth.verify_pin(db.get(Person, world.mentor.id), "2580")


@pytest.mark.parametrize("pin", ["123", "1234567", "12a4", "1111", ""])
def test_bad_pins_are_refused(pin):
    with pytest.raises(FormError):
        auth.check_pin(pin)


def test_changing_the_password_signs_out_other_devices(browser, other_browser, world):
    browser.login(world.mentor.email)
    other_browser.login(world.mentor.email)
    response = browser.post("/account/password", {"current_password": PASSWORD, "password": "a-new-long-secret",
                                                  "password_again": "a-new-long-secret"})
    assert response.status_code == 303
    assert browser.get("/mentor").status_code == 200
    assert other_browser.get("/mentor").status_code == 303
    assert other_browser.post("/login", {"email": world.mentor.email,
                                         "password": "a-new-long-secret"}).status_code == 303


def test_a_write_request_moves_the_session_clock_in_its_own_transaction(browser, world, clean_db):
    browser.login(world.manager.email)
    with clean_db.transaction() as db:
        db.exec(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=5)))
    changed = browser.post("/account/pin", {"current_password": PASSWORD, "pin": "4826"})
    assert changed.headers["location"] == "/account?saved=pin"
    with clean_db.session() as db:
        assert utcnow() - db.exec(select(WebSession)).one().last_seen_at < timedelta(minutes=1)
