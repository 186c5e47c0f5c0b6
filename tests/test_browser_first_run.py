"""In a real Chromium at desktop, tablet and phone sizes: the pages issue 14 changed (the level select, the
instructor's wording, a signed-in /verify, the tablet's PIN hint) have no axe violations, and no page asks
for a file that is not there (the favicon was a 404 on every page)."""

import pytest

from mentoring.oversight import reviews
from mentoring.people.models import Triad

from .browser import close_page, open_page
from .conftest import PASSWORD, actor_for
from .test_browser_signoff import axe_violations

pytestmark = pytest.mark.browser

SIZES = [(1280, 800), (768, 1024), (390, 844)]


def _sign_in(page, url, email):
    page.goto(url + "/login")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


@pytest.mark.parametrize("width, height", SIZES)
def test_changed_pages_pass_axe_and_nothing_is_missing(chromium, live_server, world, assigned, clean_db,
                                                        width, height):
    with clean_db.transaction() as db:
        reviews.schedule_standard(db, actor_for(clean_db, world.manager), db.get(Triad, world.triad.id))
    url = live_server.url
    context, page = open_page(chromium, viewport={"width": width, "height": height})
    missing = []
    page.on("response", lambda r: r.status == 404 and missing.append(r.url))
    try:
        _sign_in(page, url, world.manager.email)
        page.goto(f"{url}/shops/{world.shop.id}/tasklists")
        page.select_option("#f-level", "AST")
        assert page.locator("#f-level optgroup").count() >= 4
        assert axe_violations(page) == []
        page.goto(f"{url}/verify")
        if page.locator("button.menu-toggle").is_visible():  # on a phone the menu sits behind its button
            page.click("button.menu-toggle")
        assert page.locator("nav[aria-label=Main] a[href=\"/manager\"]").is_visible()
        assert axe_violations(page) == []
        # The manager enrolls this browser as the shop's tablet; a wrong PIN shows who can help.
        page.goto(f"{url}/shops/{world.shop.id}/tablets")
        page.fill("#f-name", "Bay 3")
        with page.expect_navigation():
            page.locator("form[action$='/tablets'] button").click()
        page.goto(f"{url}/tablet/mentors/{world.mentor.id}")
        page.fill("#f-pin", "1111")
        with page.expect_navigation():
            page.locator("form[action^='/tablet/mentors'] button").click()
        assert page.locator("#pin-help").is_visible()
        assert axe_violations(page) == []

        context.clear_cookies()
        _sign_in(page, url, world.instructor.email)
        page.goto(f"{url}/mentees/{world.mentee.id}")
        assert page.locator("text=has 3 reviews you cannot open").is_visible()
        assert axe_violations(page) == []
        page.goto(f"{url}/instructor/program")
        assert page.locator("td >> text=no tasks").count() >= 2
        assert axe_violations(page) == []
        page.goto(f"{url}/instructor")
        assert axe_violations(page) == []
    finally:
        close_page(context, page)
    assert missing == [], missing
