"""Hypothesis drives the main forms with arbitrary field values: never a 500, and every refusal says why."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import PASSWORD

# Text that reaches the validators: printable, control characters, very long values, digits, dates.
values = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=100, max_size=400),
    st.from_regex(r"-?\d{1,12}(\.\d{0,4})?", fullmatch=True),
    st.dates().map(str),
    st.sampled_from(["", " ", "0", "-1", "1e309", "NaN", "2026-02-30", "\x00", "I.A.1", "x" * 5000]),
)
FUZZ = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# A form re-rendered with its messages, or (for input no database field can hold, such as a NUL byte) the
# error page, which says what was wrong.
ERROR = re.compile(r'class="error"|role="alert"|Error 400')


def form(fields: list[str]):
    return st.fixed_dictionaries({}, optional={f: values for f in fields})


def check(response, allowed=(200, 303, 400, 409, 429)) -> None:
    assert response.status_code in allowed, (response.status_code, response.text[:500])
    if response.status_code == 400:
        assert ERROR.search(response.text), response.text[:1000]  # the form came back with its message


@pytest.fixture
def as_admin(browser, world):
    browser.login(world.admin.email, PASSWORD)
    return browser


@pytest.fixture
def as_mentor(browser, world):
    browser.login(world.mentor.email, PASSWORD)
    return browser


@given(data=form(["email", "password"]))
@settings(FUZZ)
def test_sign_in_form(browser, world, data):
    check(browser.post("/login", data))


@given(data=form(["name", "kind", "timezone", "safety_first"]))
@settings(FUZZ)
def test_organization_form(as_admin, world, data):
    check(as_admin.post(f"/admin/orgs/{world.shop.id}/edit", data))


@given(data=form(["full_name", "email", "role", "password", "pin"]))
@settings(FUZZ)
def test_new_member_form(as_admin, world, data):
    check(as_admin.post(f"/admin/orgs/{world.shop.id}/members/new", data))


@given(data=form(["mentee_id", "mentor_id", "manager_id"]))
@settings(FUZZ)
def test_new_triad_form(as_admin, world, data):
    check(as_admin.post(f"/admin/orgs/{world.shop.id}/triads/new", data))


@given(data=form(["mentee_id", "school_id", "instructor_id", "consent_active"]))
@settings(FUZZ)
def test_new_enrollment_form(as_admin, world, data):
    check(as_admin.post(f"/admin/orgs/{world.shop.id}/enrollments/new", data))


@given(data=form(["rating", "pin", "note", "ro_number", "vin"]))
@settings(FUZZ)
def test_sign_off_form(as_mentor, assigned, data):
    check(as_mentor.post(f"/assignments/{assigned.id}/tasks/I.A.3/signoff", data))


@given(data=form(["hours", "note"]))
@settings(FUZZ)
def test_practice_form(browser, world, assigned, data):
    if "mentoring_session" not in browser.client.cookies:
        browser.login(world.mentee.email, PASSWORD)
    check(browser.post(f"/assignments/{assigned.id}/tasks/I.A.4/practice", data))


@given(data=form(["pin", "current_password", "password", "new_password", "confirm"]))
@settings(FUZZ)
def test_account_forms(as_mentor, data):
    check(as_mentor.post("/account/pin", data))
    check(as_mentor.post("/account/password", data))
