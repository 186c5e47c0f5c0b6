"""In a real Chromium at desktop, tablet and phone sizes: a new shop's owner follows the checklist, adds a
person by email (the link arrives at the test SMTP server and the person chooses a password), adds the partner
school and its instructor, and axe finds no WCAG 2.2 AA problems on any of these pages."""

import re
from email import message_from_string

import pytest

from .browser import SIZES, close_page, open_page, sign_in_page
from .conftest import PASSWORD
from .test_browser_signoff import axe_violations
from .test_people_onboarding import emailing, mailbox, new_shop  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser



def _sign_in(page, url, email, password=PASSWORD):
    sign_in_page(page, url, email, password)


@pytest.mark.parametrize("width, height", SIZES)
def test_the_owner_brings_people_and_a_school_in_from_the_web(emailing, chromium, live_server, new_shop,  # noqa: F811
                                                              width, height):
    url, shop = live_server.url, new_shop.id
    context, page = open_page(chromium, viewport={"width": width, "height": height})
    _sign_in(page, url, "owner@example.com")
    assert page.locator("h2", has_text="Getting Main Street Garage started").is_visible()
    assert axe_violations(page) == []

    with page.expect_navigation():
        page.click("text=Add a mentee, a mentor and a manager")
    page.fill("#f-full_name", "Dana Diaz")
    page.fill("#f-email", "not-an-email")
    page.select_option("#f-role", "mentor")
    page.check("input[name=sign_in][value=password]")
    page.fill("#f-password", "first-day-password")
    page.fill("#f-pin", "1111")
    with page.expect_navigation():
        page.click("button.primary")
    assert page.locator("#e-email").is_visible() and page.locator("#e-pin").is_visible()
    assert page.input_value("#f-password") == "first-day-password" and page.input_value("#f-pin") == ""
    assert axe_violations(page) == []
    page.fill("#f-email", "dana@example.com")
    page.check("input[name=sign_in][value=email]")
    page.fill("#f-password", "")
    page.fill("#f-pin", "4826")
    with page.expect_navigation():
        page.click("button.primary")
    assert page.locator("[role=status]").inner_text().startswith("The person was added")

    body = message_from_string(emailing.messages[-1][2]).get_payload(decode=True).decode()
    link = re.search(r"http://mentoring\.test(/welcome/\S+)", body).group(1)
    guest_context, guest = open_page(chromium, viewport={"width": width, "height": height})
    guest.goto(url + link)
    assert axe_violations(guest) == []
    guest.fill("#f-password", "dana-picks-her-own")
    guest.fill("#f-password_again", "dana-picks-her-own")
    with guest.expect_navigation():
        guest.click("button.primary")
    assert "password is set" in guest.locator("[role=status]").inner_text()
    _sign_in(guest, url, "dana@example.com", "dana-picks-her-own")
    assert guest.url.endswith("/mentor")
    close_page(guest_context, guest)

    page.goto(f"{url}/admin/orgs/{shop}/enrollments/new")
    assert axe_violations(page) == []
    with page.expect_navigation():
        page.click("text=Add your partner school")
    page.fill("#f-name", "Lakeview College")
    with page.expect_navigation():
        page.click("button.primary")
    assert axe_violations(page) == []
    page.fill("#f-full_name", "Ivy Instructor")
    page.fill("#f-email", "ivy@lakeview.example")
    with page.expect_navigation():
        page.click("button.primary")
    assert page.locator("#f-instructor_id option", has_text="Ivy Instructor").count() == 1
    assert axe_violations(page) == []

    page.goto(f"{url}/admin/orgs/{shop}")
    assert axe_violations(page) == []
    page.goto(f"{url}/admin/orgs/{shop}/people/import")
    assert axe_violations(page) == []
    page.set_input_files("#f-file", files=[{"name": "people.csv", "mimeType": "text/csv",
                                            "buffer": b"name,email,role,mentor\nSam,sam@example.com,mentee,"
                                                      b"dana@example.com\n"}])
    with page.expect_navigation():
        page.click("button.primary")
    assert page.locator("text=Add 1 person").is_visible()
    assert axe_violations(page) == []
    with page.expect_navigation():
        page.click("text=Add 1 person")
    assert page.locator("[role=status]").inner_text().startswith("The people in the file were added")
    page.goto(f"{url}/manager")
    triad = page.locator("a", has_text="Start a triad")
    assert page.locator("li.done", has_text="Start a triad").count() == 1  # the file started Sam's triad
    assert triad.count() >= 1
    close_page(context, page)
