"""Phones and shop tablets in a real Chromium: a compact menu, labelled dashboard cells on narrow screens, the
mentee's "Up next" and practice for a chosen day, the tablet's confirmation after a signature, and axe-core
finding no WCAG 2.2 AA problems on those pages at phone, tablet and desktop sizes."""

from datetime import timedelta

import pytest
from sqlmodel import select

from mentoring import demo
from mentoring.people.models import Organization
from mentoring.progress.models import ProgressEvent
from mentoring.progress.signoffs import practice_days

from .browser import close_page, open_page
from .test_browser_signoff import axe_violations, demo_data, sign_in  # noqa: F401  (demo_data is a fixture)

pytestmark = pytest.mark.browser

SIZES = {"phone": (390, 844), "tablet": (768, 1024), "desktop": (1280, 800)}
MANAGER, MENTOR, MENTEE = ("marcus.bell@riverside.example", "luis.ortega@riverside.example",
                           "tyler.brooks@riverside.example")


@pytest.fixture(params=list(SIZES))
def sized(request, chromium):
    width, height = SIZES[request.param]
    small = request.param != "desktop"
    context, page = open_page(chromium, viewport={"width": width, "height": height}, has_touch=small,
                              is_mobile=request.param == "phone")
    page.size_name = request.param
    yield page
    close_page(context, page)


@pytest.fixture
def phone(chromium):
    context, page = open_page(chromium, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    yield page
    close_page(context, page)


def test_the_phone_menu_takes_one_row_and_opens_on_a_tap(phone, live_server, demo_data, clean_db):  # noqa: F811
    page, url = phone, live_server.url
    sign_in(page, url, MANAGER)
    assert page.locator("header.top").bounding_box()["height"] < 120
    inbox = page.locator("#main-nav a", has_text="Inbox")
    assert not inbox.is_visible()
    page.click("button.menu-toggle")
    assert inbox.is_visible() and page.get_attribute("button.menu-toggle", "aria-expanded") == "true"
    assert axe_violations(page) == []


def test_the_dashboard_names_every_cell_on_a_phone(phone, live_server, demo_data, clean_db):  # noqa: F811
    page, url = phone, live_server.url
    sign_in(page, url, MANAGER)
    cells = page.locator(".dash-main tbody tr").first.locator("td")
    labels = [cells.nth(i).get_attribute("data-label") for i in range(cells.count())]
    assert labels == ["Mentee · mentor", "Per area", "Signed", "P-1 / P-2 / P-3", "Waiting", "Last sign-off",
                      "Flags", "Next pay step"]
    shown = page.evaluate("getComputedStyle(document.querySelector('.dash-main td[data-label=Signed]'), "
                          "'::before').content")
    assert "Signed" in shown or "attr(data-label)" in shown
    assert page.locator(".dash-main thead").is_hidden()  # the labels stand in for the hidden header row


def test_the_mentee_logs_yesterdays_practice_on_a_phone(phone, live_server, demo_data, clean_db):  # noqa: F811
    page, url = phone, live_server.url
    sign_in(page, url, MENTEE)
    first = page.locator("ul.rows.stacked li.row").first
    text, button = first.locator("a.row-main").bounding_box(), first.locator("button").bounding_box()
    assert button["y"] >= text["y"] + text["height"] - 1  # stacked: the button sits below the task's words
    assert first.locator("button").inner_text() == "Ask for sign-off"
    code = first.locator("strong").first.inner_text()
    with page.expect_navigation():
        first.locator("a.row-main").click()
    assert page.get_attribute("#f-hours", "inputmode") == "decimal"
    with clean_db.session() as db:
        timezone = db.exec(select(Organization.timezone).where(Organization.name == "Riverside Toyota")).one()
    first_day, today = practice_days(timezone)
    assert page.get_attribute("#f-day", "type") == "date"
    assert (page.input_value("#f-day"), page.get_attribute("#f-day", "max"),
            page.get_attribute("#f-day", "min")) == (today.isoformat(), today.isoformat(), first_day.isoformat())
    yesterday = today - timedelta(days=1)
    page.fill("#f-day", yesterday.isoformat())
    page.fill("#f-hours", "1,5")
    with page.expect_navigation():
        page.click("button:has-text('Log practice')")
    with clean_db.session() as db:
        event = db.exec(select(ProgressEvent).where(ProgressEvent.kind == "practice", ProgressEvent.task_code == code)
                        .order_by(ProgressEvent.id.desc())).first()
        assert (event.minutes, event.practiced_on) == (90, yesterday)
    assert f"on {yesterday.isoformat()}" in page.inner_text("ol.history")
    assert axe_violations(page) == []


def test_the_changed_pages_pass_axe_at_every_size(sized, live_server, demo_data, clean_db):  # noqa: F811
    page, url = sized, live_server.url
    sign_in(page, url, MANAGER)
    assert axe_violations(page) == [], "manager dashboard"
    _sign_out(page)
    with clean_db.session() as db:
        shop_id = db.exec(select(Organization.id).where(Organization.name == "Riverside Toyota")).one()
    sign_in(page, url, "dana.whitfield@riverside.example")
    page.goto(f"{url}/admin/orgs/{shop_id}/edit")
    assert page.locator("input[name=tablet_window]").count() == 1
    assert axe_violations(page) == [], "shop settings"
    _sign_out(page)
    sign_in(page, url, MENTEE)
    assert axe_violations(page) == [], "mentee home"
    with page.expect_navigation():
        page.locator("ul.rows li.row a.row-main").first.click()
    assert axe_violations(page) == [], "task page with the practice form"


def _sign_out_from_menu(page):
    page.click("button.menu-toggle")
    page.click("text=Sign out")


def _sign_out(page):
    with page.expect_navigation():
        if page.locator("button.menu-toggle").is_visible():
            _sign_out_from_menu(page)
        else:
            page.click("text=Sign out")


def test_a_tablet_confirms_the_signature_and_passes_axe(sized, live_server, demo_data, clean_db):  # noqa: F811
    page, url = sized, live_server.url
    with clean_db.session() as db:
        shop_id = db.exec(select(Organization.id).where(Organization.name == "Riverside Toyota")).one()
    sign_in(page, url, MANAGER)
    page.goto(f"{url}/shops/{shop_id}/tablets")
    page.fill("#f-name", "Bay 7")
    with page.expect_navigation():
        page.click("button:has-text('Enroll as a shop tablet')")
    with page.expect_navigation():
        page.click("a.tile:has-text('Luis Ortega')")
    page.fill("#f-pin", demo.DEMO_PIN)
    with page.expect_navigation():
        page.click("button:has-text('Continue')")
    with page.expect_navigation():
        page.locator(".tile.has-ready", has_text="Tyler Brooks").click()
    ready = page.locator("li.row.status-ready").first
    code = ready.locator("strong").first.inner_text()
    with page.expect_navigation():
        ready.locator("a.sign").click()
    with page.expect_navigation():
        page.click("button.big")
    status = page.inner_text("[role=status].confirmation")
    assert f"{code} is signed for Tyler Brooks" in status and "Luis Ortega" in status and "rating 3" in status
    assert "Who is signing?" in page.inner_text("main")
    assert axe_violations(page) == [], "shop screen with the confirmation"
