"""In a real browser, a manager hides three tasks, adds a shop task and publishes; an earlier assignment keeps
its version."""

import pytest
from sqlmodel import select

from mentoring.progress.models import Assignment
from tasklists import shoplists, store
from tasklists.models import ShopTaskList

from .conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_a_manager_customizes_and_publishes_while_the_assignment_keeps_its_version(
        tablet, live_server, world, db, clean_db):
    store.load_catalog(db)
    db.commit()
    page, url = tablet, live_server.url
    page.goto(url + "/login")
    page.fill("#f-email", world.manager.email)
    page.fill("#f-password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")

    page.goto(f"{url}/shops/{world.shop.id}/tasklists")
    automobile = page.locator("#f-template_id option", has_text="Automobile").inner_text()
    page.select_option("#f-template_id", label=automobile)
    page.select_option("#f-level", "MLR")
    page.fill("#f-name", "Riverside MLR")
    with page.expect_navigation():
        page.click("text=Start list")
    with page.expect_navigation():
        page.click("text=Publish version 1")
    assert "Version 1 is published" in page.inner_text("[role=status]")

    page.goto(f"{url}/shops/{world.shop.id}/tasklists")
    page.select_option("#f-triad_id", str(world.triad.id))
    page.select_option("#f-version_id", label="Riverside MLR — version 1")
    page.fill("#f-start_date", "2026-12-01")
    page.click("#assignments button.primary")
    page.wait_for_selector("#assignments td:has-text('Tess Mentee')")

    page.click("text=Riverside MLR")
    page.wait_for_selector("h1:has-text('Riverside MLR')")
    page.click("summary:has-text('Engine Repair')")
    for i, code in enumerate(["I.A.1", "I.A.2", "I.A.3"]):
        task = page.locator(f'[id="task-{code}"]')
        task.locator("a.change").click()
        task.locator("input[name=na_reason]").fill("Engine work goes to our partner shop")
        if i == 0:  # the first change on a published list starts draft 2 and reloads the page
            with page.expect_navigation():
                task.locator("button", has_text="Not applicable").click()
            page.click("summary:has-text('Engine Repair')")
        else:  # later changes swap just the section in place
            task.locator("button", has_text="Not applicable").click()
        page.locator(f'[id="task-{code}"].na').wait_for()
    assert "version 2" in page.inner_text("main")

    section = page.locator('[id="sec-I.A"]')
    section.locator("text=Add a shop task to I.A").click()
    section.locator("input[name=statement]").fill("Walk the customer through our engine warranty")
    section.locator("text=Add shop task").click()
    page.locator('[id="task-S.I.A.1"]').wait_for()

    with page.expect_navigation():
        page.click("text=Publish version 2")

    with clean_db.session() as s:
        task_list = s.exec(select(ShopTaskList).where(ShopTaskList.name == "Riverside MLR")).one()
        v1, v2 = shoplists.versions(s, task_list.id)
        assert not v1.is_draft and not v2.is_draft
        hidden = [t.code for t in shoplists.tasks(s, v2.id) if t.not_applicable]
        assert hidden == ["I.A.1", "I.A.2", "I.A.3"]
        assert "S.I.A.1" in [t.code for t in shoplists.tasks(s, v2.id)]
        assert not any(t.not_applicable for t in shoplists.tasks(s, v1.id))
        assert s.exec(select(Assignment)).one().version_id == v1.id

    page.goto(f"{url}/shops/{world.shop.id}/tasklists")
    row = page.locator("#assignments tbody tr", has_text="Tess Mentee")
    assert row.locator("td").nth(2).inner_text() == "1"
