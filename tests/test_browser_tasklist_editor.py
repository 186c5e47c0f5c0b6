"""The task-list editor in a real browser: Enter in a reason saves that reason (and moves nothing), the header
counts what still applies, several tasks go at once, and a freshly published list is assigned to several
mentees from the page that says it was published. axe finds nothing at desktop, tablet and phone sizes."""

import json
from datetime import timedelta

import pytest
from sqlmodel import select

from mentoring.clock import utcnow
from mentoring.progress.models import Assignment
from mentoring.trail.models import AuditEntry
from tasklists import shoplists, store

from .browser import close_page, open_page, sign_in_page
from .conftest import PASSWORD
from .test_browser_signoff import axe_violations

pytestmark = pytest.mark.browser

SIZES = [{"width": 1280, "height": 800}, {"width": 768, "height": 1024}, {"width": 390, "height": 844}]


@pytest.fixture
def draft(db, world):
    automobile = next(t for t, _ in store.load_catalog(db) if t.program == "automobile")
    task_list = shoplists.start(db, shop_id=world.shop.id, template=automobile, level="MLR", name="Riverside MLR",
                                created_by_id=world.manager.id)
    db.commit()
    return task_list


def _sign_in(page, url, email, password=PASSWORD):
    sign_in_page(page, url, email, password)


def _codes(database, list_id):
    with database.session() as s:
        version = shoplists.versions(s, list_id)[-1]
        return {t.code: t for t in shoplists.tasks(s, version.id)}


@pytest.mark.parametrize("size", SIZES, ids=["desktop", "tablet", "phone"])
def test_enter_saves_the_reason_and_the_header_counts_it(chromium, live_server, world, draft, clean_db, size):
    context, page = open_page(chromium, viewport=size, has_touch=size["width"] < 1000)
    try:
        url = live_server.url
        before = _codes(clean_db, draft.id)
        total = len(before)
        _sign_in(page, url, world.manager.email)
        page.goto(f"{url}/tasklists/{draft.id}")
        assert page.inner_text("#applicable-count") == f"{total} of {total} tasks apply"
        assert axe_violations(page) == []

        page.click("summary:has-text('Engine Repair')")
        task = page.locator('[id="task-I.A.2"]')
        task.locator("a.change").click()
        reason = task.locator("input[name=na_reason]")
        reason.fill("Engine work goes to our partner shop")
        assert axe_violations(page) == []
        reason.press("Enter")
        page.locator('[id="task-I.A.2"].na').wait_for()
        page.wait_for_function(f"document.getElementById('applicable-count').textContent.startsWith('{total - 1} ')")
        assert page.inner_text("#applicable-count") == f"{total - 1} of {total} tasks apply"

        after = _codes(clean_db, draft.id)
        assert after["I.A.2"].not_applicable and after["I.A.2"].na_reason == "Engine work goes to our partner shop"
        assert [c for c in after] == [c for c in before]  # nothing moved
        assert {c: t.position for c, t in after.items()} == {c: t.position for c, t in before.items()}
    finally:
        close_page(context, page)


def test_several_tasks_are_marked_at_once_with_one_reason(tablet, live_server, world, draft, clean_db):
    page, url = tablet, live_server.url
    total = len(_codes(clean_db, draft.id))
    _sign_in(page, url, world.manager.email)
    page.goto(f"{url}/tasklists/{draft.id}")
    page.click("summary:has-text('Engine Repair')")
    page.check('[id="task-I.A.3"] input[type=checkbox]')
    page.click("summary:has-text('Automatic Transmission')")
    page.check('[id="task-II.A.1"] input[type=checkbox]')
    page.fill("#f-bulk-reason", "We do no transmission or engine rebuilds")
    with page.expect_navigation():
        page.click("text=Mark picked tasks not applicable")
    assert page.inner_text("#applicable-count") == f"{total - 2} of {total} tasks apply"
    tasks = _codes(clean_db, draft.id)
    assert [c for c, t in tasks.items() if t.not_applicable] == ["I.A.3", "II.A.1"]
    with clean_db.session() as s:
        audited = s.exec(select(AuditEntry).where(AuditEntry.action == "tasklist.task.not_applicable")).all()
        assert sorted(json.loads(a.detail)["code"] for a in audited) == ["I.A.3", "II.A.1"]


def test_a_published_list_is_assigned_to_both_mentees_with_default_dates(tablet, live_server, world, draft,
                                                                           clean_db):
    page, url = tablet, live_server.url
    _sign_in(page, url, world.manager.email)
    page.goto(f"{url}/tasklists/{draft.id}")
    with page.expect_navigation():
        page.click("text=Publish version 1")
    with page.expect_navigation():
        page.click("text=Assign version 1 to mentees")
    for size in SIZES:
        page.set_viewport_size(size)
        assert axe_violations(page) == []
    page.check("label:has-text('Tess Mentee') input")
    page.check("label:has-text('Uma Mentee') input")
    page.fill("#f-start_date", "")
    page.fill("#f-target_date", "")
    with page.expect_navigation():
        page.click("text=Assign to the picked mentees")
    assert "2 mentees were given the list" in page.inner_text("#assignments [role=status]")
    today = utcnow().date()
    with clean_db.session() as s:
        made = s.exec(select(Assignment)).all()
        assert sorted(a.mentee_id for a in made) == sorted([world.mentee.id, world.mentee2.id])
        assert {(a.start_date, a.target_date) for a in made} == {(today, today + timedelta(weeks=52))}
