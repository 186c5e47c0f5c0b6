"""Issue 12, sign-in: the same answers for every email, throttles per account, address, device and PIN,
password and PIN rules on every path that sets one, and the budget of the public verification page."""

import re
import threading

import pytest
from click.testing import CliRunner
from sqlmodel import select

from mentoring.access import auth, throttle
from mentoring.access.models import ThrottleEntry
from mentoring.access.throttle import Limits
from mentoring.people.models import Person
from mentoring.progress.models import ProgressEvent
from web.cli import main

from .conftest import PASSWORD, field_error

COMMON = "1QAZ2wsx3EDC"  # on the shipped list, in another case
SHORT = "eleven-char"  # 11 characters
WEAK_PINS = ["0000", "1234", "4321", "0123", "2468", "1357", "9753", "1212", "7890", "123123", "1004"]


def wrong_sign_ins(browser, email, times=5):
    return [browser.post("/login", {"email": email, "password": "wrong-guess-1"}) for _ in range(times)]


def same_page(html, email):
    """The page without what differs between any two requests (the email typed, the CSRF token)."""
    return re.sub(r"[0-9a-f]{64,}", "TOKEN", html.replace(email, "EMAIL"))


def sign(browser, assigned, pin, code="I.A.1"):
    data = {"rating": "3", "pin": pin, "_csrf_token": browser.client.cookies["csrftoken"]}
    return browser.client.post(f"/assignments/{assigned.id}/tasks/{code}/signoff", data=data,
                               files={"photo": ("", b"", "application/octet-stream")}, follow_redirects=False)


def throttle_rows(database, prefix):
    with database.session() as db:
        return db.exec(select(ThrottleEntry).where(ThrottleEntry.key.startswith(prefix))).all()


def pin_hash(database, person):
    with database.session() as db:
        return db.get(Person, person.id).pin_hash


# --- the same answer and the same lock for every email ---------------------------------------------

def test_unknown_and_known_emails_get_the_same_answers_and_the_same_lock(browser, other_browser, world):
    known = wrong_sign_ins(browser, world.mentor.email)
    unknown = wrong_sign_ins(other_browser, "nobody@example.com")
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [400] * 5
    assert same_page(known[-1].text, world.mentor.email) == same_page(unknown[-1].text, "nobody@example.com")
    locked_known = browser.post("/login", {"email": world.mentor.email, "password": "wrong-guess-1"})
    locked_unknown = other_browser.post("/login", {"email": "nobody@example.com", "password": "wrong-guess-1"})
    assert locked_known.status_code == locked_unknown.status_code == 429
    waits = [int(locked_known.headers["retry-after"]), int(locked_unknown.headers["retry-after"])]
    assert all(20 < wait <= 30 for wait in waits)  # the same 30-second lock, read a moment apart
    assert "Too many failed sign-ins for this account" in locked_unknown.text


def test_the_account_lock_is_keyed_by_the_normalized_email(browser, world, clean_db):
    wrong_sign_ins(browser, "  " + world.mentor.email.upper() + " ")
    assert browser.post("/login", {"email": world.mentor.email, "password": PASSWORD}).status_code == 429
    assert [r.key for r in throttle_rows(clean_db, "account:")] == ["account:" + world.mentor.email]


def test_a_deactivated_account_answers_like_an_unknown_one(browser, world, clean_db):
    with clean_db.transaction() as db:
        db.get(Person, world.mentor.id).is_active = False
    response = browser.post("/login", {"email": world.mentor.email, "password": PASSWORD})
    assert response.status_code == 400 and "Email or password is not right." in response.text


# --- per client address ------------------------------------------------------------------------------

def test_one_address_trying_many_emails_is_slowed_down(db, world):
    limits = auth.SignInLimits(account=Limits(5, 15), address=Limits(lock_after=4, max_minutes=15))
    stranger = auth.Attempt(address="203.0.113.9")
    for i in range(4):  # one guess per email: no account lock is reached
        with pytest.raises(auth.LoginRefused, match="not right"):
            auth.authenticate(db, f"guess{i}@example.com", "wrong-guess-1", limits=limits, attempt=stranger)
    with pytest.raises(auth.LoginRefused, match="from this network") as refused:
        auth.authenticate(db, world.manager.email, PASSWORD, limits=limits, attempt=stranger)
    assert refused.value.retry_after == 30
    # Another address signs in as usual.
    person = auth.authenticate(db, world.manager.email, PASSWORD, limits=limits,
                               attempt=auth.Attempt(address="198.51.100.7"))
    assert person.id == world.manager.id


def test_the_address_limit_comes_from_the_settings(browser, other_browser, world, settings):
    settings.login_address_lock_after = 3
    for i in range(3):
        browser.post("/login", {"email": f"guess{i}@example.com", "password": "wrong-guess-1"})
    refused = other_browser.post("/login", {"email": world.manager.email, "password": PASSWORD})
    assert refused.status_code == 429 and "from this network" in refused.text


def test_parallel_failures_are_all_counted(clean_db):
    limits = Limits(lock_after=1000)
    barrier = threading.Barrier(6)

    def fail_five():
        barrier.wait()
        for _ in range(5):
            with clean_db.transaction() as db:
                throttle.record_failure(db, "account:target@example.com", limits)

    threads = [threading.Thread(target=fail_five) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.count for r in throttle_rows(clean_db, "account:")] == [30]


# --- trusted devices -----------------------------------------------------------------------------

def test_the_owner_with_a_device_cookie_gets_in_while_a_stranger_is_locked(browser, other_browser, world):
    browser.login(world.mentor.email)  # the owner's usual browser becomes trusted for the account
    assert "mentoring_device" in browser.client.cookies
    browser.logout()
    wrong_sign_ins(other_browser, world.mentor.email)
    assert other_browser.post("/login", {"email": world.mentor.email, "password": PASSWORD}).status_code == 429
    assert browser.login(world.mentor.email).headers["location"] == "/mentor"
    # The owner's success does not hand the stranger fresh guesses.
    assert other_browser.post("/login", {"email": world.mentor.email, "password": PASSWORD}).status_code == 429


def test_a_device_cookie_has_its_own_small_budget(browser, other_browser, world):
    browser.login(world.mentor.email)
    browser.logout()
    wrong_sign_ins(other_browser, world.mentor.email)  # the account is locked for strangers
    assert [r.status_code for r in wrong_sign_ins(browser, world.mentor.email)] == [400] * 5
    refused = browser.post("/login", {"email": world.mentor.email, "password": PASSWORD})
    assert refused.status_code == 429  # the cookie's budget is spent: a stranger again, under the account lock


def test_a_device_cookie_counts_only_for_its_own_account(browser, other_browser, world):
    browser.login(world.manager.email)
    browser.logout()
    wrong_sign_ins(other_browser, world.mentor.email)
    assert browser.post("/login", {"email": world.mentor.email, "password": PASSWORD}).status_code == 429


def test_a_forged_device_cookie_does_not_help(browser, other_browser, world, settings):
    browser.login(world.mentor.email)
    real = browser.client.cookies["mentoring_device"]
    nonce, issued, _ = real.split(".")
    forged = f"{nonce}.{issued}.{'A' * 43}"
    assert throttle.device_nonce(settings.secret_key, world.mentor.email, real) == nonce
    assert throttle.device_nonce(settings.secret_key, world.mentor.email, forged) is None
    assert throttle.device_nonce("another-secret", world.mentor.email, real) is None
    wrong_sign_ins(other_browser, world.mentor.email)
    other_browser.client.cookies.set("mentoring_device", forged)
    assert other_browser.post("/login", {"email": world.mentor.email, "password": PASSWORD}).status_code == 429


# --- PINs and passwords are counted apart ----------------------------------------------------------

def test_wrong_pins_do_not_lock_the_password(browser, other_browser, world, assigned, clean_db):
    browser.login(world.mentor.email)
    for _ in range(5):
        assert sign(browser, assigned, "9876").status_code == 400
    locked = sign(browser, assigned, "2580")
    message = field_error(locked.text, "pin")
    assert "Too many wrong PINs" in message and "account page" in message and "admin" in message
    other_browser.login(world.mentor.email)  # the password still works


def test_wrong_passwords_do_not_lock_the_pin(browser, other_browser, world, assigned, clean_db):
    browser.login(world.mentor.email)
    wrong_sign_ins(other_browser, world.mentor.email, times=6)
    assert sign(browser, assigned, "2580").status_code == 303
    with clean_db.session() as db:
        assert db.exec(select(ProgressEvent).where(ProgressEvent.kind == "signoff")).one()


def test_tablet_pins_lock_only_the_pin_and_say_who_can_reset_it(browser, other_browser, world):
    browser.login(world.manager.email)
    browser.post(f"/shops/{world.shop.id}/tablets", {"name": "Bay 3"})
    for _ in range(5):
        assert browser.post(f"/tablet/mentors/{world.mentor.id}", {"pin": "9876"}).status_code == 400
    locked = browser.post(f"/tablet/mentors/{world.mentor.id}", {"pin": "2580"})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "ask your shop&#39;s admin" in locked.text or "ask your shop's admin" in locked.text
    other_browser.login(world.mentor.email)


def test_a_new_pin_lifts_the_pin_lock(browser, world, assigned):
    browser.login(world.mentor.email)
    for _ in range(5):
        sign(browser, assigned, "9876")
    assert browser.post("/account/pin", {"current_password": PASSWORD, "pin": "3916"}).status_code == 303
    assert sign(browser, assigned, "3916").status_code == 303


# --- the account page's current-password check ----------------------------------------------------

@pytest.mark.parametrize("url, form", [
    ("/account/pin", {"pin": "3916"}),
    ("/account/password", {"password": "a-brand-new-secret", "password_again": "a-brand-new-secret"}),
])
def test_the_current_password_on_the_account_page_is_throttled(browser, world, clean_db, url, form):
    browser.login(world.mentor.email)
    before = pin_hash(clean_db, world.mentor)
    # This browser is trusted for the account, so it spends its device budget first, then the account's.
    for _ in range(10):
        wrong = browser.post(url, {**form, "current_password": "wrong-guess-1"})
        assert wrong.status_code == 400 and "not right" in field_error(wrong.text, "current_password")
    locked = browser.post(url, {**form, "current_password": PASSWORD})
    assert locked.status_code == 429 and "Too many failed sign-ins" in field_error(locked.text, "current_password")
    assert pin_hash(clean_db, world.mentor) == before
    assert browser.post("/login", {"email": world.mentor.email, "password": "a-brand-new-secret"}).status_code != 303


def test_wrong_current_passwords_count_toward_the_account_lock(browser, other_browser, world):
    other_browser.login(world.mentor.email)
    other_browser.client.cookies.delete("mentoring_device")  # a stolen session, say, without the device cookie
    for _ in range(5):
        other_browser.post("/account/pin", {"current_password": "wrong-guess-1", "pin": "3916"})
    assert browser.post("/login", {"email": world.mentor.email, "password": PASSWORD}).status_code == 429


# --- password rules on every path that sets one -------------------------------------------------

@pytest.fixture
def cli(clean_db, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MENTORING_DATABASE_URL", database_url)
    monkeypatch.setenv("MENTORING_DATA_DIR", str(tmp_path))
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        return result.exit_code, result.output
    return run


def test_the_common_list_ships_with_its_source_and_license():
    header = auth.COMMON_PASSWORDS_FILE.read_text().split("\n", 8)[:8]
    assert any("License" in line for line in header) and any("zxcvbn" in line for line in header)
    common = auth.common_passwords()
    assert 200 < len(common) and all(len(p) >= auth.MIN_PASSWORD for p in common)
    assert COMMON.lower() in common


@pytest.mark.parametrize("password, message", [(SHORT, "at least 12"), (COMMON, "most common passwords")])
def test_an_admin_cannot_give_a_new_member_a_weak_password(browser, world, clean_db, password, message):
    browser.login(world.admin.email)
    response = browser.post(f"/admin/orgs/{world.shop.id}/members/new", {
        "full_name": "Ben Carter", "email": "ben@example.com", "role": "mentee", "password": password})
    assert response.status_code == 400 and message in field_error(response.text, "password")
    with clean_db.session() as db:
        assert db.exec(select(Person).where(Person.email == "ben@example.com")).first() is None


@pytest.mark.parametrize("password, message", [(SHORT, "at least 12"), (COMMON, "most common passwords")])
def test_an_admin_cannot_reset_to_a_weak_password(browser, world, password, message):
    browser.login(world.admin.email)
    response = browser.post(f"/admin/people/{world.mentor.id}/credentials", {"password": password})
    assert response.status_code == 400 and message in response.text


@pytest.mark.parametrize("password, message", [(SHORT, "at least 12"), (COMMON, "most common passwords")])
def test_a_person_cannot_choose_a_weak_password(browser, world, password, message):
    browser.login(world.mentor.email)
    response = browser.post("/account/password", {"current_password": PASSWORD, "password": password,
                                                  "password_again": password})
    assert response.status_code == 400 and message in field_error(response.text, "password")
    assert browser.post("/login", {"email": world.mentor.email, "password": password}).status_code == 400


@pytest.mark.parametrize("password, message", [(SHORT, "at least 12"), (COMMON, "most common passwords")])
def test_the_cli_refuses_weak_passwords(cli, world, password, message):
    code, out = cli("users", "create", "--email", "pat@example.com", "--name", "Pat Owner",
                    "--password", password)
    assert code == 1 and message in out
    code, out = cli("users", "set-password", "--email", world.mentor.email, "--password", password)
    assert code == 1 and message in out
    assert cli("users", "set-password", "--email", world.mentor.email,
               "--password", "a-sound-new-password")[0] == 0


# --- weak PINs refused everywhere a PIN is set --------------------------------------------------

@pytest.mark.parametrize("pin", WEAK_PINS)
def test_weak_pins_are_refused(pin):
    with pytest.raises(auth.FormError):
        auth.check_pin(pin)


@pytest.mark.parametrize("pin", ["2580", "3916", "7193", "908172"])
def test_ordinary_pins_are_accepted(pin):
    assert auth.check_pin(pin) == pin


@pytest.mark.parametrize("pin", ["1234", "2468", "1212"])
def test_weak_pins_are_refused_on_every_path(browser, world, cli, clean_db, pin):
    before = pin_hash(clean_db, world.mentor)
    browser.login(world.admin.email)
    added = browser.post(f"/admin/orgs/{world.shop.id}/members/new", {
        "full_name": "Ben Carter", "email": "ben@example.com", "role": "mentor", "pin": pin})
    assert added.status_code == 400 and "easy to guess" in field_error(added.text, "pin")
    reset = browser.post(f"/admin/people/{world.mentor.id}/credentials", {"pin": pin})
    assert reset.status_code == 400 and "easy to guess" in reset.text
    browser.logout()
    browser.login(world.mentor.email)
    own = browser.post("/account/pin", {"current_password": PASSWORD, "pin": pin})
    assert own.status_code == 400 and "easy to guess" in field_error(own.text, "pin")
    code, out = cli("users", "set-pin", "--email", world.mentor.email, "--pin", pin)
    assert code == 1 and "easy to guess" in out
    code, out = cli("users", "create", "--email", "pat@example.com", "--name", "Pat", "--pin", pin,
                    "--password", "a-sound-new-password")
    assert code == 1 and "easy to guess" in out
    assert pin_hash(clean_db, world.mentor) == before


def test_the_demo_pin_passes_the_rules():
    from mentoring import demo
    assert auth.check_pin(demo.DEMO_PIN) and auth.check_password(demo.DEMO_PASSWORD)


# --- the public verification page's budget ------------------------------------------------------

def test_verify_answers_429_after_the_budget(browser, world, settings, clean_db):
    settings.verify_per_minute = 3
    assert [browser.get("/verify/NOPE-NOPE").status_code for _ in range(3)] == [404] * 3
    refused = browser.get("/verify/NOPE-NOPE")
    assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 60
    assert "Too many checks" in refused.text and "Try again in" in refused.text
    pasted = browser.client.post("/verify", data={"text": "NOPE-NOPE", "_csrf_token": browser.client.cookies.get(
        "csrftoken", "")}, files={"file": ("", b"", "application/octet-stream")})
    assert pasted.status_code == 429
    assert len(throttle_rows(clean_db, "verify:")) == 1  # one row per address


def test_the_verify_budget_starts_again_each_minute(db):
    from datetime import timedelta

    from mentoring.clock import utcnow
    now = utcnow()
    key = throttle.verify_key("203.0.113.9")
    assert [throttle.spend(db, key, budget=2, per=timedelta(minutes=1), now=now) for _ in range(2)] == [None] * 2
    assert throttle.spend(db, key, budget=2, per=timedelta(minutes=1), now=now + timedelta(seconds=20)) == 40
    assert throttle.spend(db, key, budget=2, per=timedelta(minutes=1), now=now + timedelta(seconds=61)) is None
    assert throttle.spend(db, throttle.verify_key("198.51.100.7"), budget=2, per=timedelta(minutes=1)) is None
