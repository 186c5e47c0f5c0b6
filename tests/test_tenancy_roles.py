"""Issue 12, roles bound to their objects: who countersigns, which mentors sign a mentee's task (the shop's
"any mentor signs" setting, the same answer on every surface), and a group sign-off ending a tablet turn."""

import pytest
from sqlmodel import select

from mentoring.access import apitokens
from mentoring.access.policy import Actor
from mentoring.people import accounts, triads
from mentoring.people.accounts import OrganizationIn
from mentoring.people.models import Enrollment, Membership, Organization, Person
from mentoring.people.triads import EnrollmentIn
from mentoring.progress.models import ProgressEvent

from .conftest import actor_for

OPERATOR = Actor(None, "test", True)


def _add_role(database, org, person, role: str) -> None:
    with database.transaction() as db:
        db.add(Membership(person_id=person.id, organization_id=org.id, role=role))


def _set_any_mentor_signs(database, shop, on: bool) -> None:
    with database.transaction() as db:
        db.get(Organization, shop.id).any_mentor_signs = on


def _events(database, kind: str, code: str | None = None) -> list[ProgressEvent]:
    with database.session() as db:
        query = select(ProgressEvent).where(ProgressEvent.kind == kind)
        if code:
            query = query.where(ProgressEvent.task_code == code)
        return list(db.exec(query).all())


def _sign_as(database, person, assignment_id: int, code: str) -> None:
    from mentoring.progress import signoffs
    actor = actor_for(database, person)
    with database.transaction() as db:
        signoffs.sign_off(db, actor, assignment_id, code, rating=3, pin=None)


def _page_sign(browser, assignment_id: int, code: str, pin: str = "2580"):
    data = {"rating": "3", "pin": pin, "_csrf_token": browser.client.cookies["csrftoken"]}
    return browser.client.post(f"/assignments/{assignment_id}/tasks/{code}/signoff", data=data,
                               files={"photo": ("", b"", "application/octet-stream")}, follow_redirects=False)


def _api(browser, assignment_id: int, body: dict, raw_token: str | None = None):
    """The JSON API with a Bearer token, or with the signed-in cookie and the CSRF header."""
    if raw_token:
        headers = {"Authorization": f"Bearer {raw_token}"}
    else:
        if "csrftoken" not in browser.client.cookies:
            browser.get("/login")
        headers = {"x-csrftoken": browser.client.cookies["csrftoken"]}
    return browser.client.post(f"/api/v1/assignments/{assignment_id}/events", json=body, headers=headers,
                               follow_redirects=False)


def _token(database, admin, org, person) -> str:
    actor = actor_for(database, admin)
    with database.transaction() as db:
        _, raw = apitokens.create_token(db, actor, db.get(Organization, org.id), db.get(Person, person.id), "app")
    return raw


# --- countersigning ------------------------------------------------------------------------------------

@pytest.fixture
def second_school(db, world):
    school = accounts.create_organization(db, OPERATOR, OrganizationIn(name="Ridge Technical", kind="school"))
    db.commit()
    return school


def _verify_on_page(browser, assignment_id: int, code: str):
    return browser.post(f"/assignments/{assignment_id}/tasks/{code}/countersign")


def test_an_instructor_role_without_an_enrollment_for_the_student_does_not_verify(
        browser, other_browser, world, assigned, clean_db):
    # Nina mentors at the shop (so she sees Tess's work) and teaches at the college, but Tess is not her student.
    _add_role(clean_db, world.school, world.mentor2, "instructor")
    _sign_as(clean_db, world.mentor, assigned.id, "I.A.1")
    _sign_as(clean_db, world.mentor, assigned.id, "I.A.3")
    browser.login(world.mentor2.email)
    page = browser.get(f"/assignments/{assigned.id}/tasks/I.A.1").text
    assert "/countersign" not in page  # no Verify button
    assert _verify_on_page(browser, assigned.id, "I.A.1").status_code == 403
    api = _api(browser, assigned.id, {"task_code": "I.A.3", "kind": "countersign"})
    assert api.status_code == 403, api.text
    assert _events(clean_db, "countersign") == []
    # Tess's own instructor, with the shop's consent, verifies (and sees the button).
    other_browser.login(world.instructor.email)
    assert ">Verify<" in other_browser.get(f"/assignments/{assigned.id}/tasks/I.A.1").text
    assert _verify_on_page(other_browser, assigned.id, "I.A.1").status_code == 303
    assert _api(other_browser, assigned.id, {"task_code": "I.A.3", "kind": "countersign"}).status_code == 201
    assert {(e.task_code, e.meaning, e.actor_name) for e in _events(clean_db, "countersign")} == {
        ("I.A.1", "verified by instructor", "Ivy Instructor"), ("I.A.3", "verified by instructor", "Ivy Instructor")}


def test_an_instructor_whose_enrollment_lacks_consent_does_not_verify(db, browser, world, assigned, clean_db,
                                                                      second_school):
    _add_role(clean_db, second_school, world.mentor2, "instructor")
    triads.create_enrollment(db, OPERATOR, world.shop, EnrollmentIn(
        mentee_id=world.mentee.id, school_id=second_school.id, instructor_id=world.mentor2.id, consent_active=False))
    db.commit()
    _sign_as(clean_db, world.mentor, assigned.id, "I.A.1")
    browser.login(world.mentor2.email)
    assert _verify_on_page(browser, assigned.id, "I.A.1").status_code == 403
    assert _api(browser, assigned.id, {"task_code": "I.A.1", "kind": "countersign"}).status_code == 403
    assert _events(clean_db, "countersign") == []


def test_an_ended_enrollment_or_a_lost_instructor_role_does_not_verify(db, browser, world, assigned, clean_db,
                                                                       second_school):
    _add_role(clean_db, second_school, world.mentor2, "instructor")
    enrollment = triads.create_enrollment(db, OPERATOR, world.shop, EnrollmentIn(
        mentee_id=world.mentee.id, school_id=second_school.id, instructor_id=world.mentor2.id, consent_active=True))
    db.commit()
    _sign_as(clean_db, world.mentor, assigned.id, "I.A.1")
    browser.login(world.mentor2.email)
    with clean_db.transaction() as tx:  # Nina leaves Ridge Technical but keeps teaching at the college
        tx.delete(tx.exec(select(Membership).where(Membership.person_id == world.mentor2.id,
                                                   Membership.organization_id == second_school.id)).one())
        tx.add(Membership(person_id=world.mentor2.id, organization_id=world.school.id, role="instructor"))
    assert _verify_on_page(browser, assigned.id, "I.A.1").status_code == 403
    with clean_db.transaction() as tx:  # back at Ridge, but the enrollment has ended
        tx.add(Membership(person_id=world.mentor2.id, organization_id=second_school.id, role="instructor"))
        from mentoring.clock import utcnow
        tx.get(Enrollment, enrollment.id).ended_at = utcnow()
    assert _verify_on_page(browser, assigned.id, "I.A.1").status_code == 403
    assert _events(clean_db, "countersign") == []


def test_an_instructor_of_another_student_does_not_verify(db, browser, world, assigned, clean_db, second_school):
    # Nina teaches Uma (consent on) at Ridge Technical; Tess's sign-off is not hers to verify.
    _add_role(clean_db, second_school, world.mentor2, "instructor")
    triads.create_enrollment(db, OPERATOR, world.shop, EnrollmentIn(
        mentee_id=world.mentee2.id, school_id=second_school.id, instructor_id=world.mentor2.id, consent_active=True))
    db.commit()
    _sign_as(clean_db, world.mentor, assigned.id, "I.A.1")
    browser.login(world.mentor2.email)
    assert _verify_on_page(browser, assigned.id, "I.A.1").status_code == 403
    assert _api(browser, assigned.id, {"task_code": "I.A.1", "kind": "countersign"}).status_code == 403
    assert _events(clean_db, "countersign") == []


def test_nobody_countersigns_their_own_sign_off(db, browser, world, assigned, clean_db, second_school):
    # Milo signs Tess's tasks; he is also a manager at the shop and Tess's instructor at Ridge Technical.
    _add_role(clean_db, world.shop, world.mentor, "manager")
    _add_role(clean_db, second_school, world.mentor, "instructor")
    triads.create_enrollment(db, OPERATOR, world.shop, EnrollmentIn(
        mentee_id=world.mentee.id, school_id=second_school.id, instructor_id=world.mentor.id, consent_active=True))
    db.commit()
    _sign_as(clean_db, world.mentor, assigned.id, "I.A.1")
    _sign_as(clean_db, world.mentor, assigned.id, "I.A.3")
    browser.login(world.mentor.email)
    assert "/countersign" not in browser.get(f"/assignments/{assigned.id}/tasks/I.A.1").text
    refused = _verify_on_page(browser, assigned.id, "I.A.1")
    assert refused.status_code == 403 and "own sign-off" in refused.text
    assert _api(browser, assigned.id, {"task_code": "I.A.3", "kind": "countersign"}).status_code == 403
    assert _events(clean_db, "countersign") == []
    # A sign-off by someone else he approves as a manager.
    _set_any_mentor_signs(clean_db, world.shop, True)
    _sign_as(clean_db, world.mentor2, assigned.id, "I.A.5")
    assert _verify_on_page(browser, assigned.id, "I.A.5").status_code == 303
    assert [(e.task_code, e.meaning) for e in _events(clean_db, "countersign")] == [("I.A.5", "approved by manager")]


# --- which mentors sign: one rule, every surface ------------------------------------------------------

def _surfaces(clean_db, world, assigned, browser, codes: dict[str, str], raw_token: str) -> dict[str, bool]:
    """Whether Nina (a mentor of the shop, not Tess's) may sign Tess's tasks, as each surface answers."""
    aid = assigned.id
    task_page = browser.get(f"/assignments/{aid}/tasks/{codes['page']}").text
    fragment = browser.get(f"/assignments/{aid}", headers={"hx-request": "true", "hx-target": "task-rows"}).text
    assert "<html" not in fragment
    home = browser.get("/mentor").text
    group_page = browser.get(f"/group-signoff?code={codes['group']}").text
    answers = {
        "task page form": f'action="/assignments/{aid}/tasks/{codes["page"]}/signoff"' in task_page,
        "fragment button": f'href="/assignments/{aid}/tasks/{codes["page"]}#sign"' in fragment,
        "mentor home": "Tess Mentee" in home,
        "group candidates": f'name="assignment_ids" value="{aid}"' in group_page,
    }
    answers["page sign-off"] = _page_sign(browser, aid, codes["page"]).status_code == 303
    group = browser.post("/group-signoff", {"code": codes["group"], "assignment_ids": [str(aid)], "rating": "3",
                                            "pin": "2580"})
    assert group.status_code == 200, group.text
    answers["group sign-off"] = "<strong>signed</strong>" in group.text
    api = _api(browser, aid, {"task_code": codes["api"], "kind": "signoff", "rating": 3, "pin": "2580"},
               raw_token=raw_token)
    assert api.status_code in (201, 403, 404), api.text
    answers["api (token)"] = api.status_code == 201
    cookie_api = _api(browser, aid, {"task_code": codes["cookie_api"], "kind": "signoff", "rating": 3,
                                     "pin": "2580"})
    assert cookie_api.status_code in (201, 403), cookie_api.text
    answers["api (cookie)"] = cookie_api.status_code == 201
    signed = {e.task_code for e in _events(clean_db, "signoff")}
    answers["stored"] = set(codes.values()) <= signed
    assert not signed or set(codes.values()) <= signed  # all or nothing
    return answers


CODES = {"page": "I.A.1", "group": "I.A.3", "api": "I.A.4", "cookie_api": "I.A.5"}


@pytest.mark.parametrize("on", [False, True], ids=["only the triad's mentor", "any mentor of the shop"])
def test_every_surface_gives_the_same_answer_on_who_signs(browser, world, assigned, clean_db, on):
    _set_any_mentor_signs(clean_db, world.shop, on)
    raw = _token(clean_db, world.admin, world.shop, world.mentor2)
    browser.login(world.mentor2.email)
    answers = _surfaces(clean_db, world, assigned, browser, CODES, raw)
    assert answers == dict.fromkeys(answers, on), answers
    if on:
        assert {e.actor_name for e in _events(clean_db, "signoff")} == {"Nina Mentor"}


def test_the_triads_mentor_signs_whatever_the_setting(browser, world, assigned, clean_db):
    raw = _token(clean_db, world.admin, world.shop, world.mentor)
    browser.login(world.mentor.email)
    answers = _surfaces(clean_db, world, assigned, browser, CODES, raw)
    assert answers == dict.fromkeys(answers, True), answers


def test_the_refusal_says_who_signs_and_stores_nothing(browser, world, assigned, clean_db):
    browser.login(world.mentor2.email)
    refused = _page_sign(browser, assigned.id, "I.A.1")
    assert refused.status_code == 403 and "only the mentee&#39;s own mentor" in refused.text.replace("'", "&#39;")
    assert _events(clean_db, "signoff") == []


def test_admins_turn_the_setting_on_in_the_organization_form(browser, world, clean_db):
    browser.login(world.admin.email)
    form = browser.get(f"/admin/orgs/{world.shop.id}/edit").text
    assert 'name="any_mentor_signs"' in form and "only the mentee's own mentor signs" in form.replace("&#39;", "'")
    base = {"name": "Riverside Toyota", "kind": "dealership", "timezone": "America/Chicago"}
    assert browser.post(f"/admin/orgs/{world.shop.id}/edit", {**base, "any_mentor_signs": "on"}).status_code == 303
    with clean_db.session() as db:
        assert db.get(Organization, world.shop.id).any_mentor_signs is True
    assert browser.post(f"/admin/orgs/{world.shop.id}/edit", base).status_code == 303
    with clean_db.session() as db:
        assert db.get(Organization, world.shop.id).any_mentor_signs is False


def test_a_school_never_has_the_setting(world, clean_db):
    assert OrganizationIn(name="X", kind="school", any_mentor_signs=True).any_mentor_signs is False


# --- a group sign-off on a shop tablet ends the turn ----------------------------------------------------

def _tablet_turn(browser, world, mentor):
    browser.login(world.manager.email)
    assert browser.post(f"/shops/{world.shop.id}/tablets", {"name": "Bay 5"}).headers["location"] == "/tablet"
    assert browser.post(f"/tablet/mentors/{mentor.id}", {"pin": "2580"}).headers["location"] == "/mentor"


def test_a_group_sign_off_on_a_tablet_ends_the_mentors_turn(browser, world, assigned, clean_db):
    _tablet_turn(browser, world, world.mentor)
    page = browser.get("/group-signoff?code=I.A.3").text
    assert 'name="pin"' not in page and f'value="{assigned.id}"' in page
    done = browser.post("/group-signoff", {"code": "I.A.3", "assignment_ids": [str(assigned.id)], "rating": "3"})
    assert done.status_code == 200 and "<strong>signed</strong>" in done.text and "turn on this tablet has ended" \
        in done.text
    [event] = _events(clean_db, "signoff")
    assert (event.actor_name, event.device) == ("Milo Mentor", "shop tablet: Bay 5")
    # The next person at the tablet is nobody: no PIN, no signature in Milo's name.
    assert browser.get("/mentor").status_code == 303
    assert browser.get("/tablet").status_code == 200  # the device itself stays enrolled
    late = _page_sign(browser, assigned.id, "I.A.1", pin="")
    assert late.status_code == 303 and late.headers["location"].startswith("/login")
    again = browser.post("/group-signoff", {"code": "I.A.4", "assignment_ids": [str(assigned.id)], "rating": "3"})
    assert again.status_code == 303 and again.headers["location"].startswith("/login")
    assert [e.task_code for e in _events(clean_db, "signoff")] == ["I.A.3"]


def test_a_group_sign_off_that_signs_nobody_keeps_the_turn(browser, world, assigned, clean_db):
    # Like a refused single sign-off: nothing was signed, so the mentor may correct and try again.
    _tablet_turn(browser, world, world.mentor)
    refused = browser.post("/group-signoff", {"code": "I.A.2", "assignment_ids": [str(assigned.id)], "rating": "3"})
    assert refused.status_code == 200 and "not signed" in refused.text
    assert browser.get("/mentor").status_code == 200
    assert _events(clean_db, "signoff") == []


def test_the_tablet_shows_a_mentor_only_the_mentees_they_may_sign(browser, world, assigned, clean_db):
    _tablet_turn(browser, world, world.mentor2)
    assert "Tess Mentee" not in browser.get("/mentor").text
    _set_any_mentor_signs(clean_db, world.shop, True)
    home = browser.get("/mentor").text
    assert "Other mentees you may sign for" in home and "Tess Mentee" in home
