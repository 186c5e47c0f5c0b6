"""A shop admin brings people in from the web: the add-person form shows every mistake at once, invitations go
out by email with a link to choose a password, partner schools and their instructors are added without the
command line, a new shop gets a checklist of first steps, and successful posts say so."""

import re
from email import message_from_string

import pytest
from sqlmodel import select

from mentoring.access.policy import Actor
from mentoring.oversight import setup
from mentoring.people import accounts
from mentoring.people.accounts import NewPersonIn, OrganizationIn
from mentoring.people.models import Invitation, Membership, Organization, Person

from .browser import _free_port
from .conftest import PASSWORD, count_rows, field_error
from .test_inbox_digest import serving_mailbox

CLI = Actor(None, "test", True)


@pytest.fixture
def mailbox():
    with serving_mailbox() as (box, url):
        box.url = url
        yield box


@pytest.fixture
def emailing(settings, mailbox):
    """The app sends mail to the test SMTP server (request this before `browser`)."""
    settings.smtp_url = mailbox.url
    settings.base_url = "http://mentoring.test"
    return mailbox


def _link(mailbox) -> str:
    body = message_from_string(mailbox.messages[-1][2]).get_payload(decode=True).decode()
    return re.search(r"http://mentoring\.test(/welcome/\S+)", body).group(1)


@pytest.fixture
def new_shop(db):
    """The README's first run: one shop and its owner (admin and manager), nobody else, no school."""
    shop = accounts.create_organization(db, CLI, OrganizationIn(name="Main Street Garage", kind="independent"))
    owner = accounts.add_member(db, CLI, shop, NewPersonIn(full_name="Pat Owner", email="owner@example.com",
                                                         role="admin", password=PASSWORD))
    accounts.grant_role(db, CLI, shop, owner, "manager")
    db.commit()
    return shop


# --- the add-person form ----------------------------------------------------------------------------

def test_every_mistake_shows_at_once_and_a_valid_password_is_kept(browser, world, clean_db):
    browser.login(world.admin.email)
    before = count_rows(clean_db)
    response = browser.post(f"/admin/orgs/{world.shop.id}/members/new", {
        "full_name": "", "email": "not-an-email", "role": "pilot", "sign_in": "password",
        "password": "first-day-password", "pin": "1234"})
    assert response.status_code == 400
    assert "Name is required" in field_error(response.text, "full_name")
    assert "email address" in field_error(response.text, "email")
    assert "roles are" in field_error(response.text, "role")
    assert "run of digits" in field_error(response.text, "pin")
    assert field_error(response.text, "password") is None
    assert 'value="first-day-password"' in response.text  # valid: not typed twice
    assert 'value="1234"' not in response.text  # the refused PIN is not sent back
    assert response.headers["cache-control"] == "no-store"
    assert count_rows(clean_db) == before


def test_a_bad_password_is_not_kept_but_a_good_pin_is(browser, world):
    browser.login(world.admin.email)
    response = browser.post(f"/admin/orgs/{world.shop.id}/members/new", {
        "full_name": "Ben Carter", "email": "ben@example.com", "role": "mentor", "password": "short",
        "pin": "4826"})
    assert response.status_code == 400 and "at least 12" in field_error(response.text, "password")
    assert 'value="short"' not in response.text and 'value="4826"' in response.text


def test_the_form_states_the_pin_and_password_rules_up_front(browser, world):
    browser.login(world.admin.email)
    html = browser.get(f"/admin/orgs/{world.shop.id}/members/new").text
    assert "4 to 6 digits" in html and "(1212)" in html and "At least 12 characters" in html
    assert "/schools/new" in html  # instructors: where they are added instead


def test_adding_a_person_says_so(browser, world):
    browser.login(world.admin.email)
    response = browser.post(f"/admin/orgs/{world.shop.id}/members/new", {
        "full_name": "Ben Carter", "email": "ben@example.com", "role": "mentee", "sign_in": "password"})
    assert response.headers["location"].endswith("?done=person-added")
    page = browser.get(response.headers["location"]).text
    assert '<p class="notice" role="status">The person was added.</p>' in page


def test_an_unknown_notice_shows_nothing(browser, world):
    browser.login(world.admin.email)
    page = browser.get(f"/admin/orgs/{world.shop.id}?done=<script>alert(1)</script>").text
    assert 'role="status"' not in page and "alert(1)" not in page


# --- invitations by email --------------------------------------------------------------------------

def test_an_invited_person_chooses_a_password_from_the_email_and_signs_in(emailing, browser, other_browser,
                                                                         world, clean_db):
    browser.login(world.admin.email)
    response = browser.post(f"/admin/orgs/{world.shop.id}/members/new", {
        "full_name": "Dana Diaz", "email": "dana@example.com", "role": "mentor", "sign_in": "email",
        "pin": "4826"})
    assert response.status_code == 303 and response.headers["location"].endswith("done=link-sent")
    (sender, rcpt, raw), = emailing.messages
    assert rcpt == ["dana@example.com"] and sender == "mentoring@shop.example"
    link = _link(emailing)
    with clean_db.session() as db:
        dana = db.exec(select(Person).where(Person.email == "dana@example.com")).one()
        assert dana.password_hash is None and dana.pin_hash is not None
        assert db.exec(select(Membership.role).where(Membership.person_id == dana.id)).all() == ["mentor"]
        assert link.removeprefix("/welcome/") not in db.get(Invitation, db.exec(select(Invitation.id).where(
            Invitation.person_id == dana.id)).one()).token_hash  # only a hash is stored

    page = other_browser.get(link)
    assert page.status_code == 200 and "Riverside Toyota" in page.text and "mentor" in page.text
    differ = other_browser.post(link, {"password": "a-long-new-password", "password_again": "another-one-here"})
    assert differ.status_code == 400 and field_error(differ.text, "password_again")
    done = other_browser.post(link, {"password": "a-long-new-password", "password_again": "a-long-new-password"})
    assert done.status_code == 303 and done.headers["location"] == "/login?done=password-set"
    assert other_browser.post(link, {"password": "x" * 20, "password_again": "x" * 20}).status_code == 404
    other_browser.login("dana@example.com", "a-long-new-password")
    assert other_browser.get("/mentor").status_code == 200
    with clean_db.session() as db:
        invitation = db.exec(select(Invitation).where(Invitation.person_id == dana.id)).one()
        assert invitation.accepted_at is not None and invitation.token_hash is None


def test_a_wrong_or_missing_link_is_not_found(browser):
    assert browser.get("/welcome/not-a-real-token").status_code == 404


def test_an_existing_account_is_told_to_sign_in_and_accept(emailing, browser, world, clean_db):
    browser.login(world.admin.email)
    response = browser.post(f"/admin/orgs/{world.shop.id}/members/new", {
        "full_name": "Oscar", "email": world.other_manager.email, "role": "mentor", "sign_in": "email"})
    assert response.status_code == 303 and "invited=1" in response.headers["location"]
    body = message_from_string(emailing.messages[-1][2]).get_payload(decode=True).decode()
    assert "/invitations" in body and "/welcome/" not in body
    with clean_db.session() as db:
        invitation = db.exec(select(Invitation).where(Invitation.person_id == world.other_manager.id)).one()
        assert invitation.token_hash is None and db.get(Person, world.other_manager.id).password_hash


def test_without_a_mail_server_email_invitations_are_refused(browser, world, clean_db):
    browser.login(world.admin.email)
    before = count_rows(clean_db)
    response = browser.post(f"/admin/orgs/{world.shop.id}/members/new", {
        "full_name": "Dana Diaz", "email": "dana@example.com", "role": "mentor", "sign_in": "email"})
    assert response.status_code == 400 and "sends no email" in field_error(response.text, "sign_in")
    assert count_rows(clean_db) == before


def test_a_mail_server_that_refuses_leaves_nothing_behind(settings, browser, world, clean_db):
    settings.smtp_url = f"smtp://127.0.0.1:{_free_port()}"  # nobody listens
    browser.login(world.admin.email)
    before = count_rows(clean_db)
    response = browser.post(f"/admin/orgs/{world.shop.id}/members/new", {
        "full_name": "Dana Diaz", "email": "dana@example.com", "role": "mentor", "sign_in": "email"})
    assert response.status_code == 400 and "could not be sent" in response.text
    assert count_rows(clean_db) == before


def test_inviting_again_replaces_the_first_link(emailing, browser, other_browser, world):
    browser.login(world.admin.email)
    form = {"full_name": "Dana Diaz", "email": "dana@example.com", "role": "mentor", "sign_in": "email"}
    browser.post(f"/admin/orgs/{world.shop.id}/members/new", form)
    first = _link(emailing)
    assert browser.post(f"/admin/orgs/{world.shop.id}/members/new", form).status_code == 303
    assert _link(emailing) != first
    assert other_browser.get(first).status_code == 404
    assert other_browser.get(_link(emailing)).status_code == 200


# --- partner schools and instructors ---------------------------------------------------------------

def test_a_shop_admin_adds_a_school_and_invites_its_instructor(emailing, browser, other_browser, new_shop,
                                                              clean_db):
    browser.login("owner@example.com")
    empty = browser.get(f"/admin/orgs/{new_shop.id}/enrollments/new").text
    assert "There are no school programs yet" in empty and f"/admin/orgs/{new_shop.id}/schools/new" in empty

    added = browser.post(f"/admin/orgs/{new_shop.id}/schools/new", {"name": "Lakeview College", "timezone": "UTC"})
    assert added.status_code == 303
    with clean_db.session() as db:
        school = db.exec(select(Organization).where(Organization.name == "Lakeview College")).one()
        assert school.is_school and school.created_by_org_id == new_shop.id
        assert db.exec(select(Membership).where(Membership.organization_id == school.id)).all() == []
        assert not db.exec(select(Membership).where(Membership.organization_id == school.id,
                                                    Membership.person_id == 1)).first()  # no role for the shop
    assert added.headers["location"] == f"/admin/schools/{school.id}/instructors/new?done=school-added"
    no_one = browser.get(f"/admin/orgs/{new_shop.id}/enrollments/new").text
    assert "No school program has an instructor yet" in no_one
    assert f"/admin/schools/{school.id}/instructors/new" in no_one

    invited = browser.post(f"/admin/schools/{school.id}/instructors/new",
                           {"full_name": "Ivy Instructor", "email": "ivy@lakeview.example"})
    assert invited.status_code == 303 and invited.headers["location"].endswith("done=instructor-invited")
    link = _link(emailing)
    assert other_browser.post(link, {"password": "teaching-brakes-26", "password_again": "teaching-brakes-26"}
                              ).status_code == 303
    other_browser.login("ivy@lakeview.example", "teaching-brakes-26")
    assert other_browser.get("/instructor").status_code == 200

    with clean_db.session() as db:
        ivy = db.exec(select(Person).where(Person.email == "ivy@lakeview.example")).one()
        assert ivy.created_by_org_id == school.id
        assert [(m.organization_id, m.role) for m in db.exec(select(Membership).where(
            Membership.person_id == ivy.id))] == [(school.id, "instructor")]
    assert "Ivy Instructor" in browser.get(f"/admin/orgs/{new_shop.id}/enrollments/new").text
    # The shop's admin does not administer the school, so Ivy's account is not theirs to see or change.
    assert browser.get(f"/admin/people/{ivy.id}").status_code == 404
    assert browser.get(f"/admin/orgs/{school.id}").status_code == 404


def test_only_the_recording_shops_admins_invite_its_schools_instructors(browser, world, db):
    school = accounts.add_partner_school(db, Actor(world.admin.id, "Alice", memberships=frozenset(
        {(world.shop.id, "admin")})), world.shop, accounts.SchoolIn(name="Ridge Tech"))
    db.commit()
    for person in (world.manager, world.other_manager, world.instructor):
        browser.login(person.email)
        assert browser.get(f"/admin/schools/{school.id}/instructors/new").status_code == 404, person.email
        assert browser.post(f"/admin/schools/{school.id}/instructors/new",
                            {"full_name": "X", "email": "x@example.com"}).status_code == 404
        browser.logout()
    browser.login(world.admin.email)  # a school the shop did not record (made by the operator)
    assert browser.get(f"/admin/schools/{world.school.id}/instructors/new").status_code == 404
    assert browser.get(f"/admin/orgs/{world.shop.id}/schools/new").status_code == 200
    browser.logout()
    browser.login(world.manager.email)
    assert browser.get(f"/admin/orgs/{world.shop.id}/schools/new").status_code == 404


def test_once_a_school_has_its_own_admin_the_shop_no_longer_invites(browser, world, db):
    admin = Actor(world.admin.id, "Alice", memberships=frozenset({(world.shop.id, "admin")}))
    school = accounts.add_partner_school(db, admin, world.shop, accounts.SchoolIn(name="Ridge Tech"))
    accounts.add_member(db, CLI, school, NewPersonIn(full_name="Sam Dean", email="dean@ridge.example", role="admin"))
    db.commit()
    browser.login(world.admin.email)
    assert browser.get(f"/admin/schools/{school.id}/instructors/new").status_code == 403


def test_a_duplicate_school_name_is_refused(browser, world, clean_db):
    browser.login(world.admin.email)
    before = count_rows(clean_db)
    response = browser.post(f"/admin/orgs/{world.shop.id}/schools/new", {"name": "Lakeview College",
                                                                         "timezone": "UTC"})
    assert response.status_code == 400 and "already exists" in field_error(response.text, "name")
    assert count_rows(clean_db) == before


# --- triads and the setup checklist -----------------------------------------------------------------

def test_starting_a_triad_says_so_and_leads_on(browser, world, db):
    accounts.add_member(db, CLI, world.shop, NewPersonIn(full_name="Vic Mentee", email="vic@example.com",
                                                       role="mentee"))
    db.commit()
    vic = db.exec(select(Person).where(Person.email == "vic@example.com")).one()
    browser.login(world.manager.email)
    response = browser.post(f"/admin/orgs/{world.shop.id}/triads/new", {
        "mentee_id": vic.id, "mentor_id": world.mentor.id, "manager_id": world.manager.id})
    assert response.status_code == 303 and response.headers["location"].endswith("?done=triad-started")
    page = browser.get(response.headers["location"]).text
    assert 'role="status">The triad was started.' in page
    assert f'href="/shops/{world.shop.id}/tasklists#assignments"' in page
    assert f'href="/admin/orgs/{world.shop.id}"' in page


def test_the_checklist_follows_what_the_shop_has_done(db, world, assigned):
    steps = {s.key: s for s in setup.checklist(db, world.shop)}
    assert all(steps[k].done for k in ("people", "triad", "list", "assign", "school"))
    assert not steps["tablet"].done and steps["tablet"].ready
    assert not setup.is_complete(list(steps.values()))
    fresh = {s.key: s for s in setup.checklist(db, world.other_shop)}
    assert fresh["people"].done and fresh["triad"].done and not fresh["list"].done
    assert not fresh["assign"].ready  # nothing published to assign


def test_an_empty_dashboard_offers_the_first_steps_in_order(browser, new_shop, db):
    browser.login("owner@example.com")
    html = browser.get("/manager").text
    assert "Getting Main Street Garage started" in html
    assert f'<a href="/admin/orgs/{new_shop.id}/members/new">Add a mentee, a mentor and a manager</a>' in html
    assert f'href="/admin/orgs/{new_shop.id}/triads/new">Start a triad' not in html  # nobody to pair yet
    assert "Add a mentee, a mentor and a manager first." in html
    for name, role in (("Tess", "mentee"), ("Milo", "mentor")):
        accounts.add_member(db, CLI, new_shop, NewPersonIn(full_name=name, email=f"{name}@example.com", role=role))
    db.commit()
    html = browser.get("/manager").text
    assert f'<a href="/admin/orgs/{new_shop.id}/triads/new">Start a triad</a>' in html
    assert re.search(r'class="done">\s*<span class="tick" aria-hidden="true">✓</span>\s*<a href="[^"]+">Add a mentee',
                     html)
    org_page = browser.get(f"/admin/orgs/{new_shop.id}").text
    assert "Getting Main Street Garage started" in org_page


def test_a_finished_setup_leaves_the_dashboard(browser, world, assigned, db):
    from mentoring.access import tablets
    browser.login(world.manager.email)
    assert "started</h2>" in browser.get("/manager").text
    manager = Actor(world.manager.id, "Mara", memberships=frozenset({(world.shop.id, "manager")}))
    tablets.enroll(db, manager, world.shop, "Bay 1")
    db.commit()
    assert "started</h2>" not in browser.get("/manager").text


# --- several people from a CSV file ------------------------------------------------------------------

def _upload(browser, org_id, text: str, **form):
    return browser.post(f"/admin/orgs/{org_id}/people/import", form,
                        files={"file": ("people.csv", text.encode())})


def test_a_file_with_bad_lines_names_each_one_and_adds_nobody(browser, world, clean_db):
    browser.login(world.admin.email)
    before = count_rows(clean_db)
    text = ("name,email,role,mentor\n"
            "Ben Carter,ben@example.com,mentee,nobody@example.com\n"
            ",no-email,pilot,\n"
            "Ben Twice,BEN@example.com,mentor,\n"
            "Milo Again,milo.mentor@example.com,mentor,\n")
    response = _upload(browser, world.shop.id, text)
    assert response.status_code == 400 and "nobody was added" in response.text
    problems = re.findall(r"<li>(line \d+: [^<]*)</li>", response.text)
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 2", "line 3", "line 3", "line 3", "line 4",
                                                   "line 5"]
    assert "name the triad&#39;s manager in a manager column" in response.text  # Alice is no manager
    assert "nobody@example.com is not a mentor here or in this file" in response.text
    assert "role must be one of" in response.text and "also on line 2" in response.text
    assert "already mentor at Riverside Toyota" in response.text
    assert count_rows(clean_db) == before
    # Confirming a bad file (however it was sent) adds nobody either.
    response = browser.post(f"/admin/orgs/{world.shop.id}/people/import", {"csv_text": text, "confirm": "1"},
                            files={"file": ("", b"")})
    assert response.status_code == 400 and count_rows(clean_db) == before


def test_a_good_file_is_previewed_then_added_with_triads_and_emails(emailing, browser, other_browser, world,
                                                                   clean_db):
    browser.login(world.manager.email)  # not an admin: the file is the admins'
    assert _upload(browser, world.shop.id, "name,email,role\nA,a@example.com,mentee\n").status_code == 404
    browser.logout()
    with clean_db.session() as db:  # Alice is the shop's admin and, for this file, a manager too
        accounts.grant_role(db, CLI, db.get(Organization, world.shop.id), db.get(Person, world.admin.id), "manager")
        db.commit()
    browser.login(world.admin.email)
    template = browser.get(f"/admin/orgs/{world.shop.id}/people/template.csv")
    assert template.status_code == 200 and template.text.startswith("name,email,role,mentor,manager")
    text = ("name,email,role,mentor,manager\n"
            "Rita Mentor,rita@example.com,mentor,,\n"
            "Sam Mentee,sam@example.com,mentee,rita@example.com,\n"
            "Kim Mentee,kim@example.com,mentee,milo.mentor@example.com,mara.manager@example.com\n"
            "Oscar Manager,oscar.manager@example.com,mentor,,\n")
    before = count_rows(clean_db)
    preview = _upload(browser, world.shop.id, text)
    assert preview.status_code == 200 and "Add 4 people" in preview.text
    assert "triad with mentor rita@example.com" in preview.text and "Has an account already" in preview.text
    assert count_rows(clean_db) == before  # a preview writes nothing
    csv_text = re.search(r'name="csv_text" value="([^"]*)"', preview.text).group(1)
    done = browser.post(f"/admin/orgs/{world.shop.id}/people/import",
                        {"csv_text": csv_text.replace("&#34;", '"'), "confirm": "1", "sign_in": "email"},
                        files={"file": ("", b"")})
    assert done.status_code == 303 and done.headers["location"].endswith("done=people-imported")
    with clean_db.session() as db:
        def person(email):
            return db.exec(select(Person).where(Person.email == email)).one()
        from mentoring.people.models import Triad
        sam, kim = person("sam@example.com"), person("kim@example.com")
        sam_triad = db.exec(select(Triad).where(Triad.mentee_id == sam.id)).one()
        assert (sam_triad.mentor_id, sam_triad.manager_id) == (person("rita@example.com").id, world.admin.id)
        kim_triad = db.exec(select(Triad).where(Triad.mentee_id == kim.id)).one()
        assert (kim_triad.mentor_id, kim_triad.manager_id) == (world.mentor.id, world.manager.id)
        assert db.exec(select(Invitation).where(Invitation.person_id == world.other_manager.id)).one()
    assert sorted(m[1][0] for m in emailing.messages) == ["kim@example.com", "oscar.manager@example.com",
                                                          "rita@example.com", "sam@example.com"]
