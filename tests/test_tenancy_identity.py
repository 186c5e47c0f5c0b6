"""Issue 12, identity: an account is global, authority comes only from memberships.

The takeover that was found: Hillcrest's admin "added" Riverside's admin by email, the account was attached
silently, and Hillcrest's admin then set a new password on /admin/people/<id> and signed in as that person."""

from datetime import timedelta

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import select

from mentoring.access import apitokens, policy
from mentoring.access.auth import verify_secret
from mentoring.access.models import ApiToken
from mentoring.access.policy import Actor
from mentoring.clock import utcnow
from mentoring.errors import FormError
from mentoring.people import accounts, invitations
from mentoring.people.accounts import NewPersonIn, OrganizationIn, PersonIn
from mentoring.people.models import SCHOOL_ROLES, SHOP_ROLES, Invitation, Membership, Organization, Person
from web.cli import main as cli_main

from .conftest import PASSWORD, actor_for, count_rows, field_error

SYSTEM = Actor(None, "test")  # the CLI's standing: no person behind it, no web powers by a flag
NEW_PASSWORD = "taken-over-password"


def _person(clean_db, person_id: int) -> Person:
    with clean_db.session() as db:
        return db.get(Person, person_id)


def _memberships(clean_db, person_id: int) -> set[tuple[int, str]]:
    with clean_db.session() as db:
        return set(db.exec(select(Membership.organization_id, Membership.role)
                           .where(Membership.person_id == person_id)).all())


def _also_at(clean_db, org, person, role: str) -> None:
    """The person also holds a role at a second organization (as the CLI or an accepted invitation gives)."""
    with clean_db.session(write=True) as db:
        accounts.grant_role(db, SYSTEM, db.get(Organization, org.id), db.get(Person, person.id), role)
        db.commit()


@pytest.fixture
def operator(db):
    person = accounts.create_person(db, SYSTEM, PersonIn(full_name="Site Operator", email="op@example.com"),
                                  password=PASSWORD, superuser=True)
    db.commit()
    return person


@pytest.fixture
def ian(db):
    """An account with no role anywhere yet."""
    person = accounts.create_person(db, SYSTEM, PersonIn(full_name="Ian Invitee", email="ian@example.com"),
                                  password=PASSWORD)
    db.commit()
    return person


# --- the takeover, step by step --------------------------------------------------------------------

@pytest.mark.parametrize("victim", ["admin", "operator"])
def test_the_takeover_steps_now_fail(browser, other_browser, world, operator, clean_db, victim):
    target = world.admin if victim == "admin" else operator
    browser.login(world.other_manager.email)  # Oscar, admin of Hillcrest
    added = browser.post(f"/admin/orgs/{world.other_shop.id}/members/new",
                         {"full_name": "Whoever", "email": target.email, "role": "mentor"})
    # Step 1: the account is not attached; an invitation waits for the person instead.
    assert added.status_code == 303 and "invited=1" in added.headers["location"]
    assert all(org != world.other_shop.id for org, _ in _memberships(clean_db, target.id))
    with clean_db.session() as db:
        invitation = db.exec(select(Invitation).where(Invitation.person_id == target.id)).one()
        assert invitations.status(invitation) == "pending"
        assert (invitation.organization_id, invitation.invited_by_id) == (world.other_shop.id, world.other_manager.id)
    # Step 2: the person's page is not Hillcrest's to open, nor its credentials to set.
    assert browser.get(f"/admin/people/{target.id}").status_code == 404
    assert browser.post(f"/admin/people/{target.id}/credentials", {"password": NEW_PASSWORD}).status_code == 404
    assert browser.post(f"/admin/people/{target.id}", {"full_name": "X", "email": "x@evil.example",
                                                         "is_active": "on"}).status_code == 404
    # Step 3: signing in as them with a password of Hillcrest's choosing fails; their own still works.
    assert other_browser.post("/login", {"email": target.email, "password": NEW_PASSWORD}).status_code == 400
    other_browser.login(target.email)
    assert _person(clean_db, target.id).email == target.email


def test_after_accepting_the_second_org_sees_the_person_but_cannot_change_the_account(browser, world, clean_db):
    browser.login(world.other_manager.email)
    browser.post(f"/admin/orgs/{world.other_shop.id}/members/new",
                 {"full_name": "Alice", "email": world.admin.email, "role": "mentor"})
    with clean_db.session() as db:
        invitation_id = db.exec(select(Invitation.id).where(Invitation.person_id == world.admin.id)).one()
    browser.client.cookies.clear()
    browser.login(world.admin.email)
    assert browser.post(f"/invitations/{invitation_id}/accept").status_code == 303
    assert (world.other_shop.id, "mentor") in _memberships(clean_db, world.admin.id)

    browser.client.cookies.clear()
    browser.login(world.other_manager.email)
    page = browser.get(f"/admin/people/{world.admin.id}")
    assert page.status_code == 200
    assert "Riverside" not in page.text  # her roles elsewhere are not Hillcrest's to know
    assert f'action="/admin/people/{world.admin.id}/credentials"' not in page.text
    refused = browser.post(f"/admin/people/{world.admin.id}/credentials", {"password": NEW_PASSWORD, "pin": "1111"})
    assert refused.status_code == 403
    assert "Only the person (on their account page) or the site operator" in refused.text
    assert browser.post(f"/admin/people/{world.admin.id}", {
        "full_name": "Alice", "email": "alice@evil.example", "is_active": "on"}).status_code == 403
    person = _person(clean_db, world.admin.id)
    assert verify_secret(person.password_hash, PASSWORD) and not verify_secret(person.pin_hash, "1111")
    assert person.email == world.admin.email and person.is_active


# --- invitations --------------------------------------------------------------------------------------

def _invite(browser, world, ian, clean_db, role="mentor") -> int:
    browser.login(world.admin.email)
    response = browser.post(f"/admin/orgs/{world.shop.id}/members/new",
                            {"full_name": "Ian", "email": ian.email.upper(), "role": role})
    assert response.status_code == 303
    browser.client.cookies.clear()
    with clean_db.session() as db:
        return db.exec(select(Invitation.id).where(Invitation.person_id == ian.id)).one()


def test_an_invitation_is_listed_and_accepted(browser, world, ian, clean_db):
    invitation_id = _invite(browser, world, ian, clean_db)
    org_page = (browser.login(world.admin.email), browser.get(f"/admin/orgs/{world.shop.id}"))[1]
    assert "Pending invitations" in org_page.text and "ian@example.com" in org_page.text
    browser.client.cookies.clear()
    browser.login(ian.email)
    assert "1 invitation" in browser.get("/account").text
    assert "Riverside Toyota invites you to join as mentor" in browser.get("/inbox").text
    listed = browser.get("/invitations")
    assert listed.status_code == 200 and "Riverside Toyota" in listed.text
    assert browser.get("/mentor").status_code == 403  # no role before accepting
    assert browser.post(f"/invitations/{invitation_id}/accept").status_code == 303
    assert _memberships(clean_db, ian.id) == {(world.shop.id, "mentor")}
    with clean_db.session() as db:
        assert invitations.status(db.get(Invitation, invitation_id)) == "accepted"
    assert browser.get("/mentor").status_code == 200
    again = browser.post(f"/invitations/{invitation_id}/accept")
    assert again.status_code == 409 and "no longer open" in again.text


def test_the_email_digest_tells_an_invitee_without_any_role(browser, world, ian, clean_db):
    from mentoring.oversight import digest
    _invite(browser, world, ian, clean_db)
    with clean_db.session() as db:
        found = {d.to: d for d in digest.digests(db)}
    assert [item.link for item in found[ian.email].items] == ["/invitations"]
    assert "Riverside Toyota invites you" in found[ian.email].items[0].text


def test_an_invitation_is_declined(browser, world, ian, clean_db):
    invitation_id = _invite(browser, world, ian, clean_db)
    browser.login(ian.email)
    assert browser.post(f"/invitations/{invitation_id}/decline").status_code == 303
    assert _memberships(clean_db, ian.id) == set()
    assert browser.post(f"/invitations/{invitation_id}/accept").status_code == 409
    assert _memberships(clean_db, ian.id) == set()
    assert "Riverside" not in browser.get("/invitations").text


def test_an_admin_revokes_an_invitation_and_it_can_no_longer_be_accepted(browser, world, ian, clean_db):
    invitation_id = _invite(browser, world, ian, clean_db)
    browser.login(ian.email)
    assert browser.post(f"/admin/invitations/{invitation_id}/revoke").status_code == 403  # the invitee declines
    browser.client.cookies.clear()
    browser.login(world.other_manager.email)
    assert browser.post(f"/admin/invitations/{invitation_id}/revoke").status_code == 404  # another shop's
    browser.client.cookies.clear()
    browser.login(world.admin.email)
    assert browser.post(f"/admin/invitations/{invitation_id}/revoke").status_code == 303
    browser.client.cookies.clear()
    browser.login(ian.email)
    assert browser.post(f"/invitations/{invitation_id}/accept").status_code == 409
    assert _memberships(clean_db, ian.id) == set()


def test_only_the_invitee_answers_and_only_with_a_csrf_token(browser, world, ian, clean_db):
    invitation_id = _invite(browser, world, ian, clean_db)
    browser.login(world.mentor.email)
    assert browser.post(f"/invitations/{invitation_id}/accept").status_code == 404
    browser.client.cookies.clear()
    browser.login(ian.email)
    assert browser.post(f"/invitations/{invitation_id}/accept", csrf=False).status_code == 403
    assert _memberships(clean_db, ian.id) == set()


def test_an_expired_invitation_cannot_be_accepted(browser, world, ian, clean_db):
    invitation_id = _invite(browser, world, ian, clean_db)
    with clean_db.session(write=True) as db:
        db.get(Invitation, invitation_id).expires_at = utcnow() - timedelta(minutes=1)
        db.commit()
    browser.login(ian.email)
    assert "Riverside" not in browser.get("/invitations").text
    assert browser.post(f"/invitations/{invitation_id}/accept").status_code == 409
    assert _memberships(clean_db, ian.id) == set()


def test_an_open_invitation_is_not_sent_twice_and_a_new_email_still_makes_an_account(browser, world, ian, clean_db):
    _invite(browser, world, ian, clean_db)
    browser.login(world.admin.email)
    twice = browser.post(f"/admin/orgs/{world.shop.id}/members/new",
                         {"full_name": "Ian", "email": ian.email, "role": "mentor"})
    assert twice.status_code == 400 and "already has an open invitation" in field_error(twice.text, "email")
    new = browser.post(f"/admin/orgs/{world.shop.id}/members/new",
                       {"full_name": "Nora New", "email": "nora@example.com", "role": "mentor",
                        "password": "a-fine-password"})
    assert new.status_code == 303 and "invited" not in new.headers["location"]
    with clean_db.session() as db:
        nora = db.exec(select(Person).where(Person.email == "nora@example.com")).one()
        assert nora.created_by_org_id == world.shop.id
    assert _memberships(clean_db, nora.id) == {(world.shop.id, "mentor")}


def test_a_member_of_the_shop_gets_another_role_there_directly(browser, world, clean_db):
    browser.login(world.admin.email)
    response = browser.post(f"/admin/orgs/{world.shop.id}/members/new",
                            {"full_name": "Milo", "email": world.mentor.email, "role": "manager"})
    assert response.status_code == 303 and "invited" not in response.headers["location"]
    assert (world.shop.id, "manager") in _memberships(clean_db, world.mentor.id)


# --- who manages an account ----------------------------------------------------------------------------

def test_an_admin_cannot_reset_password_pin_or_email_of_a_multi_org_person(browser, world, clean_db):
    _also_at(clean_db, world.other_shop, world.mentee, "mentor")  # Tess also mentors at Hillcrest
    for admin in (world.admin, world.other_manager):  # neither shop may; Tess and the CLI may
        browser.client.cookies.clear()
        browser.login(admin.email)
        assert browser.get(f"/admin/people/{world.mentee.id}").status_code == 200
        before = count_rows(clean_db)
        assert browser.post(f"/admin/people/{world.mentee.id}/credentials",
                            {"password": NEW_PASSWORD}).status_code == 403
        assert browser.post(f"/admin/people/{world.mentee.id}/credentials", {"pin": "9999"}).status_code == 403
        assert browser.post(f"/admin/people/{world.mentee.id}", {
            "full_name": "Tess", "email": "tess@evil.example", "is_active": "on"}).status_code == 403
        assert count_rows(clean_db) == before
    tess = _person(clean_db, world.mentee.id)
    assert tess.email == world.mentee.email and verify_secret(tess.password_hash, PASSWORD)
    assert verify_secret(tess.pin_hash, "2580")


def test_an_admin_still_manages_an_account_their_shop_created(browser, other_browser, world, clean_db):
    browser.login(world.admin.email)
    assert browser.post(f"/admin/people/{world.mentee2.id}/credentials",
                        {"password": "a-reset-password", "pin": "3916"}).status_code == 303
    other_browser.login(world.mentee2.email, "a-reset-password")
    assert verify_secret(_person(clean_db, world.mentee2.id).pin_hash, "3916")


def test_an_account_made_by_another_shop_is_not_managed_even_when_only_here_now(browser, world, ian, clean_db):
    with clean_db.session(write=True) as db:  # Hillcrest made Olga's account; she moved to Riverside
        olga = db.get(Person, world.other_mentee.id)
        accounts.grant_role(db, SYSTEM, db.get(Organization, world.shop.id), olga, "mentor")
        for m in db.exec(select(Membership).where(Membership.person_id == olga.id,
                                                  Membership.organization_id == world.other_shop.id)):
            db.delete(m)
        db.commit()
    browser.login(world.admin.email)
    assert browser.get(f"/admin/people/{world.other_mentee.id}").status_code == 200
    assert browser.post(f"/admin/people/{world.other_mentee.id}/credentials",
                        {"password": NEW_PASSWORD}).status_code == 403


def test_the_cli_changes_a_shared_accounts_email_password_and_pin(world, clean_db, database_url, tmp_path,
                                                                   monkeypatch):
    _also_at(clean_db, world.other_shop, world.mentee, "mentor")
    monkeypatch.setenv("MENTORING_DATABASE_URL", database_url)
    monkeypatch.setenv("MENTORING_DATA_DIR", str(tmp_path))
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(cli_main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output

    run("users", "set-email", "--email", world.mentee.email, "--new-email", "Tess.New@Example.com")
    run("users", "set-password", "--email", "tess.new@example.com", "--password", "cli-set-password")
    run("users", "set-pin", "--email", "tess.new@example.com", "--pin", "4680")
    tess = _person(clean_db, world.mentee.id)
    assert tess.email == "tess.new@example.com"
    assert verify_secret(tess.password_hash, "cli-set-password") and verify_secret(tess.pin_hash, "4680")
    taken = runner.invoke(cli_main, ["users", "set-email", "--email", "tess.new@example.com",
                                     "--new-email", world.mentor.email])
    assert taken.exit_code == 1 and "already exists" in taken.output


# --- deactivation, sessions and tokens -----------------------------------------------------------------

def _token(clean_db, admin, org, person) -> tuple[int, str]:
    actor = actor_for(clean_db, admin)
    with clean_db.session(write=True) as db:
        token, raw = apitokens.create_token(db, actor, db.get(Organization, org.id), person.id, "sync")
        db.commit()
        return token.id, raw


def _revoked(clean_db, token_id: int) -> bool:
    with clean_db.session() as db:
        return db.get(ApiToken, token_id).revoked_at is not None


def test_removing_a_person_ends_only_that_shops_roles_and_tokens(browser, other_browser, world, clean_db):
    _also_at(clean_db, world.other_shop, world.mentee, "mentor")
    riverside_token = _token(clean_db, world.admin, world.shop, world.mentee)[0]
    hillcrest_token = _token(clean_db, world.other_manager, world.other_shop, world.mentee)[0]
    other_browser.login(world.mentee.email)
    browser.login(world.other_manager.email)
    assert browser.post(f"/admin/orgs/{world.other_shop.id}/people/{world.mentee.id}/remove").status_code == 303
    assert _memberships(clean_db, world.mentee.id) == {(world.shop.id, "mentee")}
    assert _revoked(clean_db, hillcrest_token) and not _revoked(clean_db, riverside_token)
    assert _person(clean_db, world.mentee.id).is_active
    assert other_browser.get("/me").status_code == 200  # still signed in, still Riverside's mentee
    assert other_browser.get("/mentor").status_code == 403  # but no longer Hillcrest's mentor
    # Riverside's admin cannot end Hillcrest roles, nor name a person who is not theirs.
    browser.client.cookies.clear()
    browser.login(world.admin.email)
    assert browser.post(f"/admin/orgs/{world.other_shop.id}/people/{world.other_mentee.id}/remove"
                        ).status_code == 404


def test_a_deactivated_accounts_tokens_stay_revoked_after_reactivation(browser, other_browser, world, clean_db):
    token_id, raw = _token(clean_db, world.admin, world.shop, world.mentee2)
    other_browser.login(world.mentee2.email)
    assert other_browser.client.get("/api/v1/triads", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    browser.login(world.admin.email)
    form = {"full_name": world.mentee2.full_name, "email": world.mentee2.email}
    assert browser.post(f"/admin/people/{world.mentee2.id}", form).status_code == 303  # "Can sign in" off
    assert _revoked(clean_db, token_id)
    assert other_browser.get("/me").headers["location"].startswith("/login")  # session ended
    assert browser.post(f"/admin/people/{world.mentee2.id}", {**form, "is_active": "on"}).status_code == 303
    assert _person(clean_db, world.mentee2.id).is_active
    assert _revoked(clean_db, token_id)
    answer = other_browser.client.get("/api/v1/triads", headers={"Authorization": f"Bearer {raw}"})
    assert answer.status_code == 401


def test_a_token_owner_revokes_their_own_token(browser, world, clean_db):
    mine, raw = _token(clean_db, world.admin, world.shop, world.manager)
    milos = _token(clean_db, world.admin, world.shop, world.mentor)[0]
    browser.login(world.manager.email)  # Mara: a manager, not an admin
    account = browser.get("/account")
    assert f'action="/admin/tokens/{mine}/revoke"' in account.text
    assert browser.post(f"/admin/tokens/{milos}/revoke").status_code == 404
    response = browser.post(f"/admin/tokens/{mine}/revoke")
    assert response.status_code == 303 and response.headers["location"] == "/account?saved=token"
    assert _revoked(clean_db, mine) and not _revoked(clean_db, milos)
    assert browser.client.get("/api/v1/triads", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


# --- the site operator -------------------------------------------------------------------------------

def test_the_operator_cannot_open_shop_records_exports_or_people(browser, world, assigned, operator, clean_db):
    browser.login(operator.email)
    for url in (f"/admin/orgs/{world.shop.id}", f"/admin/people/{world.mentee.id}", f"/admin/people/{operator.id}",
                f"/admin/orgs/{world.shop.id}/members/new", f"/admin/orgs/{world.shop.id}/tokens",
                f"/shops/{world.shop.id}/exports", f"/shops/{world.shop.id}/tasklists",
                f"/shops/{world.shop.id}/tablets", f"/assignments/{assigned.id}", f"/assignments/{assigned.id}/records",
                f"/mentees/{world.mentee.id}", f"/admin/triads/{world.triad.id}"):
        assert browser.get(url).status_code == 404, url
    for url in ("/manager", "/tasklists/templates"):
        assert browser.get(url).status_code == 403, url
    assert browser.post(f"/admin/people/{world.mentee.id}/credentials", {"password": NEW_PASSWORD}).status_code == 404
    assert browser.post(f"/assignments/{assigned.id}/records/export", {"format": "json"}).status_code == 404
    home = browser.get("/admin")
    assert home.status_code == 200 and "Riverside Toyota" in home.text and "Tess" not in home.text


def test_the_operator_renames_an_organization_but_not_its_settings(browser, world, operator, clean_db):
    browser.login(operator.email)
    assert browser.get(f"/admin/orgs/{world.shop.id}/edit").status_code == 200
    response = browser.post(f"/admin/orgs/{world.shop.id}/edit", {
        "name": "Riverside Toyota North", "kind": "dealership", "timezone": "America/Denver", "safety_first": "on"})
    assert response.status_code == 303
    with clean_db.session() as db:
        shop = db.get(Organization, world.shop.id)
        assert (shop.name, shop.timezone, shop.safety_first) == ("Riverside Toyota North", "America/Denver", False)


def test_the_operator_invites_a_first_admin_only(browser, other_browser, world, ian, operator, clean_db):
    browser.login(operator.email)
    assert browser.get(f"/admin/orgs/{world.shop.id}/first-admin").status_code == 403  # Riverside has one
    assert browser.post("/admin/orgs/new", {"name": "Eastside Garage", "kind": "independent",
                                            "timezone": "America/Chicago"}).status_code == 303
    assert browser.post("/admin/orgs/new", {"name": "Westside Garage", "kind": "independent",
                                            "timezone": "America/Chicago"}).status_code == 303
    with clean_db.session() as db:
        east, west = (db.exec(select(Organization).where(Organization.name == n)).one()
                      for n in ("Eastside Garage", "Westside Garage"))
    url = f"/admin/orgs/{east.id}/first-admin"
    assert browser.post(url, {"full_name": "Erin East", "email": "erin@east.example",
                              "password": "erins-password"}).status_code == 303
    with clean_db.session() as db:
        erin = db.exec(select(Person).where(Person.email == "erin@east.example")).one()
        assert erin.created_by_org_id == east.id
    assert _memberships(clean_db, erin.id) == {(east.id, "admin")}
    assert browser.post(url, {"full_name": "Second", "email": "second@east.example"}).status_code == 403
    other_browser.login("erin@east.example", "erins-password")
    assert other_browser.get(f"/admin/orgs/{east.id}").status_code == 200
    # An existing account is invited, not attached.
    assert browser.post(f"/admin/orgs/{west.id}/first-admin", {"full_name": "Ian", "email": ian.email}
                        ).status_code == 303
    assert _memberships(clean_db, ian.id) == set()
    with clean_db.session() as db:
        assert db.exec(select(Invitation).where(Invitation.person_id == ian.id,
                                                Invitation.organization_id == west.id)).one().role == "admin"
    assert browser.get(f"/admin/orgs/{east.id}").status_code == 404  # and no more than that


def test_only_the_operator_creates_organizations(browser, world):
    browser.login(world.admin.email)
    assert browser.post("/admin/orgs/new", {"name": "Mine", "kind": "independent"}).status_code == 403
    assert browser.get(f"/admin/orgs/{world.shop.id}/first-admin").status_code == 403


# --- a person who is a mentee at two shops ----------------------------------------------------------

def test_a_second_shop_of_the_same_mentee_does_not_see_the_first_shops_assignment(browser, world, assigned,
                                                                                  clean_db):
    from mentoring.progress import signoffs
    with clean_db.session(write=True) as db:
        signoffs.sign_off(db, actor_for(clean_db, world.mentor), assigned.id, "I.A.3", rating=3, pin=None)
        db.commit()
    _also_at(clean_db, world.other_shop, world.mentee, "mentee")
    browser.login(world.other_manager.email)
    assert browser.get(f"/assignments/{assigned.id}").status_code == 404
    assert browser.post(f"/assignments/{assigned.id}/tasks/I.A.1/comment", {"note": "hi"}).status_code == 404
    listed = browser.get("/api/v1/assignments").json()
    assert assigned.id not in {a["id"] for a in listed}
    page = browser.get(f"/mentees/{world.mentee.id}")  # Tess is Hillcrest's mentee too: her page, Hillcrest's part
    assert page.status_code == 200
    assert f"/assignments/{assigned.id}" not in page.text and "Milo Mentor" not in page.text
    assert "I.A.3" not in page.text
    for who in (world.manager, world.mentee):  # Riverside's manager, and Tess herself, see Riverside's work
        browser.client.cookies.clear()
        browser.login(who.email)
        assert browser.get(f"/assignments/{assigned.id}").status_code == 200
        page = browser.get(f"/mentees/{world.mentee.id}")
        assert f"/assignments/{assigned.id}" in page.text and "Milo Mentor" in page.text
        assert assigned.id in {a["id"] for a in browser.get("/api/v1/assignments").json()}


# --- the migration's backfill ------------------------------------------------------------------------

def test_the_migration_gives_single_org_accounts_to_their_org(tmp_path, database_url):
    from sqlalchemy import create_engine

    from web import migrate
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'backfill.sqlite3'}"
    else:  # a schema of its own in the test database
        with create_engine(database_url).begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS backfill CASCADE"))
            conn.execute(text("CREATE SCHEMA backfill"))
        url = database_url + ("&" if "?" in database_url else "?") + "options=-csearch_path%3Dbackfill"
    engine = create_engine(url)
    try:
        migrate.upgrade(engine, "0006_event_time_index")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO organization (id, name, kind, timezone, created_at, safety_first) VALUES "
                              "(1, 'A', 'fleet', 'UTC', CURRENT_TIMESTAMP, false), "
                              "(2, 'B', 'fleet', 'UTC', CURRENT_TIMESTAMP, false)"))
            for pid, email in ((1, "one@x.example"), (2, "two@x.example"), (3, "none@x.example")):
                conn.execute(text("INSERT INTO person (id, email, full_name, is_superuser, is_active, failed_logins, "
                                  "created_at) VALUES (:id, :email, 'P', false, true, 0, CURRENT_TIMESTAMP)"),
                             {"id": pid, "email": email})
            conn.execute(text("INSERT INTO membership (person_id, organization_id, role, created_at) VALUES "
                              "(1, 2, 'mentor', CURRENT_TIMESTAMP), (1, 2, 'manager', CURRENT_TIMESTAMP), "
                              "(2, 1, 'mentor', CURRENT_TIMESTAMP), (2, 2, 'mentee', CURRENT_TIMESTAMP)"))
        migrate.upgrade(engine)
        with engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT id, created_by_org_id FROM person")).all())
        assert rows == {1: 2, 2: None, 3: None}
    finally:
        engine.dispose()
        if not database_url.startswith("sqlite"):
            with create_engine(database_url).begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS backfill CASCADE"))


# --- a property: nobody reaches a person outside what their memberships grant --------------------------

KINDS = ("independent", "fleet", "school")


@st.composite
def tenancies(draw):
    """Organizations, and people with a creating organization (or none), memberships and maybe the operator flag."""
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=2, max_size=3))
    persons = []
    for _ in range(draw(st.integers(2, 5))):
        created_by = draw(st.one_of(st.none(), st.integers(0, len(kinds) - 1)))
        roles = draw(st.sets(st.integers(0, len(kinds) - 1).flatmap(
            lambda o: st.tuples(st.just(o), st.sampled_from(SCHOOL_ROLES if kinds[o] == "school" else SHOP_ROLES))),
            max_size=4))
        persons.append((created_by, frozenset(roles), draw(st.sampled_from((False, False, False, True)))))
    return kinds, persons


def _build(db, kinds, persons):
    orgs = [accounts.create_organization(db, SYSTEM, OrganizationIn(name=f"Org {i}", kind=kind))
            for i, kind in enumerate(kinds)]
    made = []
    for i, (created_by, roles, superuser) in enumerate(persons):
        person = accounts.create_person(db, SYSTEM, PersonIn(full_name=f"P{i}", email=f"p{i}@x.example"),
                                      password=PASSWORD, superuser=superuser,
                                      created_by_org=orgs[created_by] if created_by is not None else None)
        for o, role in sorted(roles):
            accounts.grant_role(db, SYSTEM, orgs[o], person, role)
        made.append(person)
    return orgs, made


# The reference model, in the words of the rule and nothing else.
def ref_orgs(spec) -> set[int]:
    return {o for o, _ in spec[1]}


def ref_manages(actor_spec, target_spec) -> bool:
    created_by, _, superuser = target_spec
    return (created_by is not None and not superuser and (created_by, "admin") in actor_spec[1]
            and ref_orgs(target_spec) <= {created_by})


def ref_sees(actor_spec, target_spec) -> bool:
    admin_of = {o for o, r in actor_spec[1] if r == "admin"}
    return bool(admin_of & ref_orgs(target_spec)) or ref_manages(actor_spec, target_spec)


def ref_views_work(actor_spec, target_spec, shop: int, same: bool) -> bool:
    """A mentee's work at one shop (no enrollments here): themself, or that shop's admins, managers, mentors."""
    return same or bool({(shop, r) for r in ("admin", "manager", "mentor")} & actor_spec[1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tenancy=tenancies())
def test_policy_matches_the_reference_model(db, tenancy):
    kinds, persons = tenancy
    try:
        orgs, made = _build(db, kinds, persons)
        for a, actor_person in enumerate(made):
            actor = policy.load_actor(db, actor_person)
            for t, target in enumerate(made):
                spec_a, spec_t = persons[a], persons[t]
                assert policy.can_manage_account(db, actor, target) == ref_manages(spec_a, spec_t), (a, t)
                assert policy.can_see_person(db, actor, target) == ref_sees(spec_a, spec_t), (a, t)
                for shop in {o for o, r in spec_t[1] if r == "mentee"}:
                    assert (policy.can_view_mentee(db, actor, target.id, orgs[shop].id)
                            == ref_views_work(spec_a, spec_t, shop, a == t)), (a, t, shop)
        # Adding someone's email from the web never hands over the account: at most an invitation (or, when
        # another admin there already invited them, a refusal).
        by_id = {org.id: org for org in orgs}
        before = {p.id: policy.orgs_of(db, p.id) for p in made}
        for actor_person in made:
            actor = policy.load_actor(db, actor_person)
            for org_id in sorted(actor.orgs_where("admin")):
                for target in made:
                    if org_id not in before[target.id]:
                        try:
                            result = accounts.add_member(db, actor, by_id[org_id], NewPersonIn(
                                full_name="x", email=target.email, role="admin"))
                        except FormError as e:
                            assert "open invitation" in e.errors.get("email", "")
                        else:
                            assert isinstance(result, Invitation) and result.person_id == target.id
        assert {p.id: policy.orgs_of(db, p.id) for p in made} == before
    finally:
        db.rollback()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tenancy=tenancies(), pair=st.tuples(st.integers(0, 4), st.integers(0, 4)))
def test_the_credential_change_over_http_follows_the_model(app, clean_db, tenancy, pair):
    from litestar.testing import TestClient

    from .conftest import Browser, _wipe
    kinds, persons = tenancy
    a, t = pair[0] % len(persons), pair[1] % len(persons)
    with clean_db.session(write=True) as db:
        _, made = _build(db, kinds, persons)
        actor_email, target_id = made[a].email, made[t].id
        db.commit()
    try:
        with TestClient(app=app) as client:
            browser = Browser(client)
            browser.login(actor_email)
            response = browser.post(f"/admin/people/{target_id}/credentials", {"password": NEW_PASSWORD})
        allowed = ref_manages(persons[a], persons[t])
        expected = 303 if allowed else 403 if ref_sees(persons[a], persons[t]) else 404
        assert response.status_code == expected
        with clean_db.session() as db:
            assert verify_secret(db.get(Person, target_id).password_hash, NEW_PASSWORD) == allowed
    finally:
        _wipe(clean_db)
