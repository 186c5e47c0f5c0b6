"""Admin pages create and edit people and roles; bad input re-renders with field errors and writes nothing."""

import re

import pytest
from sqlmodel import select

from mentoring.people.models import Enrollment, Membership, Organization, Person, Triad, TriadMentorChange
from mentoring.trail.models import AuditEntry

from .conftest import PASSWORD, count_rows, field_error


@pytest.fixture
def operator(db, world):
    from mentoring.people import accounts
    from mentoring.people.accounts import PersonIn
    person = accounts.create_person(db, None, PersonIn(full_name="Site Operator", email="op@example.com"),
                                  password=PASSWORD, superuser=True)
    db.commit()
    return person


def test_the_operator_creates_a_shop(browser, operator, clean_db):
    browser.login(operator.email)
    response = browser.post("/admin/orgs/new", {"name": "Northside Fleet", "kind": "fleet",
                                                "timezone": "America/Denver"})
    assert response.status_code == 303
    with clean_db.session() as db:
        org = db.exec(select(Organization).where(Organization.name == "Northside Fleet")).one()
        assert org.kind == "fleet" and org.timezone == "America/Denver"
        assert db.exec(select(AuditEntry).where(AuditEntry.action == "organization.create",
                                                AuditEntry.object_id == str(org.id))).one().actor_id == operator.id


@pytest.mark.parametrize("form, field, message", [
    ({"name": "", "kind": "fleet", "timezone": "UTC"}, "name", "Name is required."),
    ({"name": "Riverside Toyota", "kind": "fleet", "timezone": "UTC"}, "name", "already exists"),
    ({"name": "New", "kind": "spaceship", "timezone": "UTC"}, "kind", "Input should be"),
    ({"name": "New", "kind": "fleet", "timezone": "Mars/Olympus"}, "timezone", "time zone"),
])
def test_bad_organization_input_rerenders_with_a_field_error(browser, operator, clean_db, form, field, message):
    browser.login(operator.email)
    before = count_rows(clean_db)
    response = browser.post("/admin/orgs/new", form)
    assert response.status_code == 400
    assert message in field_error(response.text, field)
    assert f'value="{form["name"]}"' in response.text  # what was typed is kept
    assert count_rows(clean_db) == before


def test_a_shop_cannot_turn_into_a_school(browser, world):
    browser.login(world.admin.email)
    response = browser.post(f"/admin/orgs/{world.shop.id}/edit",
                            {"name": "Riverside Toyota", "kind": "school", "timezone": "UTC"})
    assert response.status_code == 400 and "cannot become a school" in field_error(response.text, "kind")


def test_an_admin_adds_a_new_mentee_who_can_then_sign_in(browser, other_browser, world, clean_db):
    browser.login(world.admin.email)
    response = browser.post(f"/admin/orgs/{world.shop.id}/members/new", {
        "full_name": "  Ben   Carter ", "email": "Ben.Carter@Example.com", "role": "mentee",
        "password": "first-day-password", "pin": "4826"})
    assert response.status_code == 303
    with clean_db.session() as db:
        ben = db.exec(select(Person).where(Person.email == "ben.carter@example.com")).one()
        assert ben.full_name == "Ben Carter"
        assert db.exec(select(Membership).where(Membership.person_id == ben.id)).one().role == "mentee"
    other_browser.login("ben.carter@example.com", "first-day-password")


def test_an_existing_email_gets_the_new_role_instead_of_a_second_account(browser, world, clean_db):
    browser.login(world.admin.email)
    response = browser.post(f"/admin/orgs/{world.shop.id}/members/new", {
        "full_name": "Milo Mentor", "email": world.mentor.email, "role": "manager"})
    assert response.status_code == 303
    with clean_db.session() as db:
        roles = db.exec(select(Membership.role).where(Membership.person_id == world.mentor.id)).all()
    assert sorted(roles) == ["manager", "mentor"]


@pytest.mark.parametrize("form, field, message", [
    ({"full_name": "", "email": "a@example.com", "role": "mentee"}, "full_name", "Name is required."),
    ({"full_name": "A", "email": "not-an-email", "role": "mentee"}, "email", "Enter an email address"),
    ({"full_name": "A", "email": "a@example.com", "role": "instructor"}, "role", "At a shop the roles are"),
    ({"full_name": "A", "email": "a@example.com", "role": "mentee", "password": "short"}, "password",
     "at least 12"),
    ({"full_name": "A", "email": "a@example.com", "role": "mentee", "pin": "12"}, "pin", "4 to 6 digits"),
    ({"full_name": "A", "email": "milo.mentor@example.com", "role": "mentor"}, "role", "already mentor"),
    ({"full_name": "A", "email": "milo.mentor@example.com", "role": "manager", "password": "a-long-password"},
     "email", "already has an account"),
])
def test_bad_member_input_rerenders_with_a_field_error(browser, world, clean_db, form, field, message):
    browser.login(world.admin.email)
    before = count_rows(clean_db)
    response = browser.post(f"/admin/orgs/{world.shop.id}/members/new", form)
    assert response.status_code == 400
    assert message in (field_error(response.text, field) or ""), response.text
    assert count_rows(clean_db) == before


def test_a_school_admin_adds_an_instructor_but_not_a_mentee(browser, world, db):
    from mentoring.people import accounts
    from mentoring.people.accounts import NewPersonIn
    school_admin = accounts.add_member(db, None, world.school, NewPersonIn(
        full_name="Sam School", email="sam@lakeview.example", role="admin", password=PASSWORD))
    db.commit()
    browser.login(school_admin.email)
    ok = browser.post(f"/admin/orgs/{world.school.id}/members/new",
                      {"full_name": "Ray Teacher", "email": "ray@lakeview.example", "role": "instructor"})
    assert ok.status_code == 303
    bad = browser.post(f"/admin/orgs/{world.school.id}/members/new",
                       {"full_name": "Kid", "email": "kid@lakeview.example", "role": "mentee"})
    assert "At a school program the roles are" in field_error(bad.text, "role")


def test_editing_a_person_to_a_duplicate_email_is_refused(browser, world, clean_db):
    browser.login(world.admin.email)
    before = count_rows(clean_db)
    response = browser.post(f"/admin/people/{world.mentor.id}", {
        "full_name": "Milo Mentor", "email": world.manager.email, "is_active": "on"})
    assert response.status_code == 400
    assert "already exists" in field_error(response.text, "email")
    assert count_rows(clean_db) == before
    with clean_db.session() as db:
        assert db.get(Person, world.mentor.id).email == world.mentor.email


def test_an_admin_resets_a_locked_out_mentors_password(browser, other_browser, world):
    for _ in range(6):
        other_browser.post("/login", {"email": world.mentor.email, "password": "wrong-guess"})
    browser.login(world.admin.email)
    assert browser.post(f"/admin/people/{world.mentor.id}/credentials",
                        {"password": "brand-new-password"}).status_code == 303
    other_browser.login(world.mentor.email, "brand-new-password")


def test_a_triad_is_started_with_people_of_the_shop(browser, world, db, clean_db):
    from mentoring.people import accounts
    from mentoring.people.accounts import NewPersonIn
    ben = accounts.add_member(db, None, world.shop, NewPersonIn(full_name="Ben", email="ben@example.com",
                                                                role="mentee"))
    db.commit()
    browser.login(world.manager.email)
    response = browser.post(f"/admin/orgs/{world.shop.id}/triads/new", {
        "mentee_id": ben.id, "mentor_id": world.mentor2.id, "manager_id": world.manager.id})
    assert response.status_code == 303
    with clean_db.session() as s:
        triad = s.exec(select(Triad).where(Triad.mentee_id == ben.id)).one()
        assert (triad.mentor_id, triad.shop_id) == (world.mentor2.id, world.shop.id)


def test_bad_triads_are_refused_with_field_errors(browser, world, clean_db):
    browser.login(world.manager.email)
    before = count_rows(clean_db)
    url = f"/admin/orgs/{world.shop.id}/triads/new"
    busy = browser.post(url, {"mentee_id": world.mentee.id, "mentor_id": world.mentor2.id,
                              "manager_id": world.manager.id})
    assert busy.status_code == 400 and "already in an active triad" in field_error(busy.text, "mentee_id")
    foreign = browser.post(url, {"mentee_id": world.mentee.id, "mentor_id": world.other_mentor.id,
                                 "manager_id": world.manager.id})
    assert "Choose a mentor of Riverside Toyota" in field_error(foreign.text, "mentor_id")
    garbage = browser.post(url, {"mentee_id": "x", "mentor_id": "", "manager_id": world.manager.id})
    assert garbage.status_code == 400 and field_error(garbage.text, "mentee_id")
    assert count_rows(clean_db) == before


def test_changing_the_mentor_keeps_the_history(browser, world, clean_db):
    browser.login(world.manager.email)
    url = f"/admin/triads/{world.triad.id}/mentor"
    no_reason = browser.post(url, {"mentor_id": world.mentor2.id, "reason": " "})
    assert no_reason.status_code == 400 and "Say why" in field_error(no_reason.text, "reason")
    assert browser.post(url, {"mentor_id": world.mentor2.id, "reason": "Moved to the truck bay"}).status_code == 303
    with clean_db.session() as db:
        periods = db.exec(select(TriadMentorChange).where(TriadMentorChange.triad_id == world.triad.id)
                          .order_by(TriadMentorChange.id)).all()
        assert [p.mentor_id for p in periods] == [world.mentor.id, world.mentor2.id]
        assert periods[0].ended_at is not None and periods[1].ended_at is None
        assert db.get(Triad, world.triad.id).mentor_id == world.mentor2.id
    page = browser.get(f"/admin/triads/{world.triad.id}").text
    assert "Moved to the truck bay" in page and "Milo Mentor" in page


def test_ending_a_triad_frees_the_mentee_for_a_new_one(browser, world):
    browser.login(world.manager.email)
    assert browser.post(f"/admin/triads/{world.triad.id}/end").status_code == 303
    again = browser.post(f"/admin/orgs/{world.shop.id}/triads/new", {
        "mentee_id": world.mentee.id, "mentor_id": world.mentor2.id, "manager_id": world.manager.id})
    assert again.status_code == 303


def test_enrollments_need_an_instructor_of_that_school(browser, world, clean_db, db):
    from mentoring.people import accounts
    from mentoring.people.accounts import NewPersonIn, OrganizationIn
    other_school = accounts.create_organization(db, None, OrganizationIn(name="Eastfield Tech", kind="school"))
    db.commit()
    browser.login(world.manager.email)
    before = count_rows(clean_db)
    url = f"/admin/orgs/{world.shop.id}/enrollments/new"
    wrong = browser.post(url, {"mentee_id": world.mentee.id, "school_id": other_school.id,
                               "instructor_id": world.instructor.id})
    assert wrong.status_code == 400
    assert "not an instructor at Eastfield Tech" in field_error(wrong.text, "instructor_id")
    not_school = browser.post(url, {"mentee_id": world.mentee.id, "school_id": world.other_shop.id,
                                    "instructor_id": world.instructor.id})
    assert "Choose a school program" in field_error(not_school.text, "school_id")
    twice = browser.post(url, {"mentee_id": world.mentee.id, "school_id": world.school.id,
                               "instructor_id": world.instructor.id})
    assert "already enrolled" in field_error(twice.text, "mentee_id")
    assert count_rows(clean_db) == before
    accounts.add_member(db, None, other_school, NewPersonIn(full_name="Eve", email="eve@eastfield.example",
                                                          role="instructor"))
    db.commit()
    eve = db.exec(select(Person).where(Person.email == "eve@eastfield.example")).one()
    ok = browser.post(url, {"mentee_id": world.mentee.id, "school_id": other_school.id,
                            "instructor_id": eve.id, "consent_active": "on"})
    assert ok.status_code == 303
    with clean_db.session() as s:
        enrollment = s.exec(select(Enrollment).where(Enrollment.instructor_id == eve.id)).one()
        assert enrollment.consent_active


def test_a_role_in_an_active_triad_cannot_be_removed(browser, world, clean_db):
    browser.login(world.admin.email)
    with clean_db.session() as db:
        mid = db.exec(select(Membership.id).where(Membership.person_id == world.mentor.id)).one()
    response = browser.post(f"/admin/memberships/{mid}/delete")
    assert response.status_code == 400 and "active triad" in response.text


def test_account_forms_show_field_errors(browser, world):
    browser.login(world.mentor.email)
    wrong = browser.post("/account/password", {"current_password": "nope", "password": "x" * 12,
                                               "password_again": "x" * 12})
    assert "not right" in field_error(wrong.text, "current_password")
    differ = browser.post("/account/password", {"current_password": PASSWORD, "password": "x" * 12,
                                                "password_again": "y" * 12})
    assert "differ" in field_error(differ.text, "password_again")


def test_an_admin_turns_on_safety_first(browser, world, clean_db):
    browser.login(world.admin.email)
    response = browser.post(f"/admin/orgs/{world.shop.id}/edit", {"name": "Riverside Toyota", "kind": "dealership",
                                                                  "timezone": "America/Chicago",
                                                                  "safety_first": "on"})
    assert response.status_code == 303
    with clean_db.session() as db:
        assert db.get(Organization, world.shop.id).safety_first


def test_a_single_school_program_is_already_chosen_on_the_enrollment_form(browser, world, db):
    from mentoring.people import accounts
    from mentoring.people.accounts import OrganizationIn

    def school_options() -> list[str]:
        page = browser.get(f"/admin/orgs/{world.shop.id}/enrollments/new").text
        select = re.search(r'<select id="f-school_id".*?</select>', page, re.S).group(0)
        return re.findall(r'<option value="([^"]*)"', select)

    browser.login(world.manager.email)
    assert school_options() == [str(world.school.id)]  # no "Choose…": the browser submits the only school
    accounts.create_organization(db, None, OrganizationIn(name="Eastfield Tech", kind="school"))
    db.commit()
    assert school_options()[0] == ""
