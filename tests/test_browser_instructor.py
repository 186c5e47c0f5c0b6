"""In a real Chromium, as a new instructor would: two students at two shops; one shop turns consent off, and
that student's page is gone (404) on the next request."""

import pytest

from mentoring.access.policy import Actor
from mentoring.people import triads
from mentoring.people.triads import EnrollmentIn

from .conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_an_instructor_loses_a_student_the_moment_the_shop_revokes_consent(chromium, live_server, world, db):
    triads.create_enrollment(db, Actor(None, "test", True), world.other_shop, EnrollmentIn(
        mentee_id=world.other_mentee.id, school_id=world.school.id, instructor_id=world.instructor.id,
        consent_active=True))
    db.commit()
    instructor = chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
    manager = chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
    for page, email in ((instructor, world.instructor.email), (manager, world.other_manager.email)):
        page.goto(live_server.url + "/login")
        page.fill("#f-email", email)
        page.fill("#f-password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")

    assert instructor.url.endswith("/instructor")
    rows = instructor.locator("main table tbody tr")
    assert rows.count() == 2
    assert {rows.nth(i).locator("td").first.inner_text() for i in range(2)} == {"Tess Mentee", "Olga Mentee"}
    with instructor.expect_navigation():
        instructor.click("text=Olga Mentee")
    student_url = instructor.url
    assert instructor.locator("h1").inner_text() == "Olga Mentee"

    # Hillcrest's manager turns sharing off on the organization page.
    manager.goto(f"{live_server.url}/admin/orgs/{world.other_shop.id}")
    row = manager.locator("tr", has_text="Olga Mentee").filter(has=manager.locator("form[action*='/consent']"))
    with manager.expect_navigation():
        row.locator("form[action*='/consent'] button").click()

    response = instructor.goto(student_url)
    assert response.status == 404
    instructor.goto(live_server.url + "/instructor")
    names = instructor.locator("main table tbody tr td:first-child").all_inner_texts()
    assert names == ["Tess Mentee"]
    instructor.context.close()
    manager.context.close()
