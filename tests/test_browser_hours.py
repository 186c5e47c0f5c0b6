"""Issue #18's Done-when in a real Chromium: the apprentice logs a week of hours on a phone; the mentor, on a shop
tablet, returns one day with a reason and approves the other four in one action; the dashboard and the ledger
show the right totals, and the wage step that reached its hours trigger is due for the manager only."""

from datetime import timedelta

import pytest
from sqlmodel import select

from mentoring.oversight import payplan
from mentoring.people.models import Triad
from mentoring.progress import hours
from mentoring.progress.models import HoursEntry

from .browser import close_page, open_page, sign_in_page
from .conftest import PASSWORD, actor_for
from .test_hours import ledger, today  # noqa: F401  (ledger is a fixture)

pytestmark = pytest.mark.browser


def test_a_week_logged_on_a_phone_is_approved_on_a_tablet(chromium, live_server, world, ledger, clean_db):  # noqa: F811
    url, triad_id = live_server.url, ledger["triad"].id
    monday = hours.week_start(today()) - timedelta(days=7)  # last week, whole
    with clean_db.session() as db:  # a wage step due at 32 approved OJL hours (helper sponsor's trigger)
        payplan.add_pay_step(db, actor_for(clean_db, world.manager), db.get(Triad, triad_id), {
            "title": "Wage step 2", "amount": "1.50", "milestone": "ojl_hours", "milestone_hours": "32"})
        db.commit()

    context, page = open_page(chromium, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    sign_in_page(page, url, world.mentee.email, PASSWORD)
    with page.expect_navigation():
        page.click("#my-hours")
    with page.expect_navigation():
        page.click("text=← Week before")
    page.select_option("#f-day", monday.isoformat())
    page.select_option("#f-area", "I")
    page.fill("#f-hours", "8")
    page.fill("#f-ro_number", "RO-4471")
    with page.expect_navigation():
        page.click("#log-hours")
    for offset in range(1, 5):  # Tuesday to Friday: one tap each
        button = page.locator(f"#d-{(monday + timedelta(days=offset)).isoformat()} button.same")
        assert button.bounding_box()["height"] >= 44  # a thumb-sized target
        with page.expect_navigation():
            button.tap()
    assert page.inner_text("#week-total") == "40"
    assert page.locator("li.entry[data-state=pending]").count() == 5
    close_page(context, page)

    context, page = open_page(chromium, viewport={"width": 768, "height": 1024}, has_touch=True)
    sign_in_page(page, url, world.mentor.email, PASSWORD)
    assert page.inner_text("#hours-board td.waiting") == "5 entries"
    page.goto(f"{url}/triads/{triad_id}/hours?week={monday.isoformat()}")
    friday = page.locator(f"#d-{(monday + timedelta(days=4)).isoformat()}")
    friday.locator("details.return summary").tap()
    friday.locator("input[name=reason]").fill("Friday was the training day: log it as classroom time")
    with page.expect_navigation():
        friday.locator("button.danger").tap()
    assert page.inner_text("#approve-week") == "Approve all 4 waiting this week"
    with page.expect_navigation():
        page.tap("#approve-week")
    assert page.locator("li.entry[data-state=approved]").count() == 4
    assert "Returned: Friday was the training day" in friday.inner_text()
    for path in ("/mentor", "/inbox"):  # pay stays the manager's: the mentor does not learn the step is due
        page.goto(url + path)
        assert "Wage step 2" not in page.content() and "pay step" not in page.content().lower()
    close_page(context, page)

    context, page = open_page(chromium, viewport={"width": 1280, "height": 800})
    sign_in_page(page, url, world.manager.email, PASSWORD)
    row = page.locator(f'#hours-board tr[data-triad="{triad_id}"]')
    assert row.locator("td.approved").inner_text() == "32.0 / 8000 h"
    assert row.locator("td.waiting").inner_text() == "none"
    page.goto(url + "/inbox")
    assert "Tess Mentee: pay step due: Wage step 2" in page.inner_text("main")
    page.goto(f"{url}/triads/{triad_id}/hours/ledger")
    assert page.inner_text("#ojl-total") == "32.0" and page.inner_text("#ojl-pending") == "0.0"
    assert page.locator("table.ledger tr[data-state=approved]").count() == 4
    assert "Friday was the training day" in page.locator("table.ledger tr[data-state=returned]").inner_text()
    assert page.locator('tr[data-area="I"] td.approved').inner_text() == "32.0"
    close_page(context, page)

    context, page = open_page(chromium, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    sign_in_page(page, url, world.mentee.email, PASSWORD)
    for path in ("/me", "/inbox"):  # nor does the apprentice, while the manager has not shared the step
        page.goto(url + path)
        assert "Wage step 2" not in page.content() and "pay step" not in page.content().lower()
    close_page(context, page)
    with clean_db.session() as db:
        assert [e.ro_number for e in db.exec(select(HoursEntry).order_by(HoursEntry.seq))] == ["RO-4471"] * 5
        assert hours.verify_chains(db) == []
