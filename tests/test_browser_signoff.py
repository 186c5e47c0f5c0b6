"""A new user's first minutes, in a real Chromium: the demo mentor signs a ready task on a tablet, the mentee
marks a task ready on a phone, and axe-core finds no WCAG 2.2 AA problems on those pages."""

from pathlib import Path

import pytest
from sqlmodel import select

from mentoring import demo
from mentoring.progress.models import ProgressEvent

from .browser import close_page, open_page

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    rules: {"target-size": {enabled: true}},
  });
  return result.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" "))}));
}"""


def axe_violations(page) -> list:
    # Evaluated over the DevTools protocol: a <script> tag would be (rightly) refused by the page's CSP.
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    return page.evaluate(AXE_RUN)


@pytest.fixture
def demo_data(db):
    demo.seed(db)
    db.commit()


@pytest.fixture
def phone(chromium):
    context, page = open_page(chromium, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    yield page
    close_page(context, page)


@pytest.fixture
def portrait_tablet(chromium):
    context, page = open_page(chromium, viewport={"width": 768, "height": 1024}, has_touch=True)
    yield page
    close_page(context, page)


def sign_in(page, url, email):
    page.goto(url + "/login")
    page.fill("#f-email", email)
    page.fill("#f-password", demo.DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_the_demo_mentor_signs_a_ready_task_in_three_taps(portrait_tablet, live_server, demo_data, clean_db):
    page, url = portrait_tablet, live_server.url
    sign_in(page, url, "luis.ortega@riverside.example")
    assert axe_violations(page) == []

    taps = 0
    with page.expect_navigation():
        page.locator(".tile.has-ready", has_text="Tyler Brooks").click()  # 1: the mentee
    taps += 1
    assert axe_violations(page) == []
    ready_row = page.locator("li.row.status-ready").first
    code = ready_row.locator("strong").first.inner_text()
    with page.expect_navigation():
        ready_row.locator("a.sign").click()  # 2: the ready task
    taps += 1
    assert axe_violations(page) == []
    page.fill("#f-pin", demo.DEMO_PIN)  # the PIN is typed, not tapped
    with page.expect_navigation():
        page.click("button.big")  # 3: sign, with the default rating
    taps += 1
    assert taps <= 3
    assert f"{code} is signed" in page.inner_text("[role=status]")

    with clean_db.session() as db:
        event = db.exec(select(ProgressEvent).where(ProgressEvent.kind == "signoff", ProgressEvent.task_code == code)
                        .order_by(ProgressEvent.id.desc())).first()
        assert event.actor_name == "Luis Ortega" and event.rating == 3

    with page.expect_navigation():
        page.click("text=Sign out")
    sign_in(page, url, "marcus.bell@riverside.example")
    latest = page.locator("h2:has-text('Latest signatures') + table tbody tr").first.inner_text()
    assert "Tyler Brooks" in latest and code in latest and "Luis Ortega" in latest
    assert "performed and observed" in latest


def test_the_mentee_marks_a_task_ready_on_a_phone(phone, live_server, demo_data, clean_db):
    page, url = phone, live_server.url
    sign_in(page, url, "tyler.brooks@riverside.example")
    assert axe_violations(page) == []
    first = page.locator("ul.rows li.row").first
    code = first.locator("strong").first.inner_text()
    with page.expect_navigation():
        first.locator("button", has_text="Ask for sign-off").click()
    with clean_db.session() as db:
        kinds = db.exec(select(ProgressEvent.kind).where(ProgressEvent.task_code == code)
                        .order_by(ProgressEvent.id.desc())).first()
        assert kinds == "ready"
    page.goto(page.url)
    assert axe_violations(page) == []
