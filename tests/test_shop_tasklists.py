"""Managers shape a standard into their shop's list, publish versions and assign them."""

import pytest
from sqlmodel import select

from mentoring.progress.models import Assignment
from tasklists import shoplists, store
from tasklists.models import ShopTask, ShopTaskList, TaskListTemplate

from .conftest import count_rows, field_error


@pytest.fixture
def automobile(db, world):
    store.load_catalog(db)
    db.commit()
    return db.exec(select(TaskListTemplate).where(TaskListTemplate.program == "automobile")).one()


@pytest.fixture
def mlr(browser, world, automobile, clean_db):
    browser.login(world.manager.email)
    response = browser.post(f"/shops/{world.shop.id}/tasklists",
                            {"template_id": automobile.id, "level": "MLR", "name": "Riverside MLR"})
    assert response.status_code == 303
    with clean_db.session() as db:
        return db.exec(select(ShopTaskList).where(ShopTaskList.name == "Riverside MLR")).one()


def _tasks(database, list_id, number=None):
    with database.session() as db:
        versions = shoplists.versions(db, list_id)
        version = versions[-1] if number is None else next(v for v in versions if v.number == number)
        return version, {t.code: t for t in shoplists.tasks(db, version.id)}


def test_a_list_starts_as_a_draft_with_the_levels_tasks(mlr, clean_db, automobile):
    version, tasks = _tasks(clean_db, mlr.id)
    assert version.number == 1 and version.is_draft
    with clean_db.session() as db:
        standard = store.template_tasks(db, automobile.id)
    assert len(tasks) == sum("MLR" in t.levels.split() for t in standard)
    assert 185 <= len(tasks) <= 195


def test_starting_a_list_needs_a_real_level_and_a_free_name(browser, world, automobile, mlr, clean_db):
    before = count_rows(clean_db)
    url = f"/shops/{world.shop.id}/tasklists"
    bad_level = browser.post(url, {"template_id": automobile.id, "level": "XYZ", "name": "Other"})
    assert bad_level.status_code == 400 and "MLR AST MAST" in field_error(bad_level.text, "level")
    taken = browser.post(url, {"template_id": automobile.id, "level": "AST", "name": "Riverside MLR"})
    assert "already has a task list" in field_error(taken.text, "name")
    assert count_rows(clean_db) == before


def test_marking_not_applicable_needs_a_reason(browser, mlr, clean_db):
    url = f"/tasklists/{mlr.id}/tasks/I.A.1"
    refused = browser.post(url, {"change": "not_applicable", "na_reason": "  "}, headers={"hx-request": "true"})
    assert refused.status_code == 400 and "Say why I.A.1 does not apply" in refused.text
    ok = browser.post(url, {"change": "not_applicable", "na_reason": "We send engine work out"},
                      headers={"hx-request": "true"})
    assert ok.status_code == 200 and 'id="sec-I.A"' in ok.text  # the section comes back for HTMX
    _, tasks = _tasks(clean_db, mlr.id)
    assert tasks["I.A.1"].not_applicable and tasks["I.A.1"].na_reason == "We send engine work out"


def test_shop_tasks_get_s_codes_at_the_end_of_their_section(browser, mlr, clean_db):
    for statement in ("Bleed brakes with the shop's pressure bleeder", "Log brake fluid moisture readings"):
        assert browser.post(f"/tasklists/{mlr.id}/shop-tasks", {"section": "V.B", "statement": statement,
                                                                "priority": "P-1"}).status_code == 303
    _, tasks = _tasks(clean_db, mlr.id)
    ordered = sorted(tasks.values(), key=lambda t: t.position)
    section = [t.code for t in ordered if (t.area_code, t.section_code) == ("V", "B")]
    assert section[-2:] == ["S.V.B.1", "S.V.B.2"]
    assert tasks["S.V.B.1"].template_task_id is None and tasks["S.V.B.1"].priority == "P-1"
    bad = browser.post(f"/tasklists/{mlr.id}/shop-tasks", {"section": "V.B", "statement": "", "priority": "P-9"})
    assert bad.status_code == 400


def test_tasks_move_within_their_section(browser, mlr, clean_db):
    _, before = _tasks(clean_db, mlr.id)
    assert browser.post(f"/tasklists/{mlr.id}/tasks/V.B.3", {"change": "up"}).status_code == 303
    _, after = _tasks(clean_db, mlr.id)
    assert after["V.B.3"].position == before["V.B.1"].position
    assert after["V.B.1"].position == before["V.B.3"].position
    # the first task of a section stays where it is
    browser.post(f"/tasklists/{mlr.id}/tasks/V.B.3", {"change": "up"})
    _, again = _tasks(clean_db, mlr.id)
    assert again["V.B.3"].position == after["V.B.3"].position


def test_phases_and_required_ratings(browser, mlr, clean_db):
    browser.post(f"/tasklists/{mlr.id}/tasks/0.A.1", {"change": "phase", "phase": "First 90 days"})
    browser.post(f"/tasklists/{mlr.id}/tasks/0.A.1", {"change": "rating", "required_rating": "4"})
    bad = browser.post(f"/tasklists/{mlr.id}/tasks/0.A.2", {"change": "rating", "required_rating": "9"})
    assert bad.status_code == 400 and "1 to 5" in bad.text
    assert browser.post(f"/tasklists/{mlr.id}/rating", {"required_rating": "2"}).status_code == 303
    version, tasks = _tasks(clean_db, mlr.id)
    assert (tasks["0.A.1"].phase, tasks["0.A.1"].required_rating) == ("First 90 days", 4)
    assert tasks["0.A.2"].required_rating is None and version.required_rating == 2


def test_publishing_freezes_a_version_and_edits_start_the_next_draft(browser, world, mlr, clean_db):
    assert browser.post(f"/tasklists/{mlr.id}/publish").status_code == 303
    v1, _ = _tasks(clean_db, mlr.id, 1)
    assert not v1.is_draft
    assert browser.post(f"/shops/{world.shop.id}/assignments", {
        "triad_id": world.triad.id, "version_id": v1.id, "start_date": "2026-12-01",
        "target_date": "2027-06-01"}).status_code == 303

    browser.post(f"/tasklists/{mlr.id}/tasks/I.A.1", {"change": "not_applicable", "na_reason": "Sent out"})
    v2, tasks2 = _tasks(clean_db, mlr.id)
    assert v2.number == 2 and v2.is_draft and tasks2["I.A.1"].not_applicable
    _, tasks1 = _tasks(clean_db, mlr.id, 1)
    assert not tasks1["I.A.1"].not_applicable  # the published version did not change
    browser.post(f"/tasklists/{mlr.id}/publish")
    with clean_db.session() as db:
        assignment = db.exec(select(Assignment)).one()
        assert assignment.version_id == v1.id


def test_nothing_to_publish_is_said_plainly(browser, mlr):
    browser.post(f"/tasklists/{mlr.id}/publish")
    again = browser.post(f"/tasklists/{mlr.id}/publish")
    assert again.status_code == 400 and "no unpublished changes" in again.text


def test_assignments_need_a_published_list_and_an_active_triad(browser, world, mlr, clean_db):
    v1, _ = _tasks(clean_db, mlr.id)
    url = f"/shops/{world.shop.id}/assignments"
    draft = browser.post(url, {"triad_id": world.triad.id, "version_id": v1.id, "start_date": "2026-12-01"})
    assert draft.status_code == 400 and "published" in field_error(draft.text, "version_id")
    browser.post(f"/tasklists/{mlr.id}/publish")
    foreign = browser.post(url, {"triad_id": world.other_triad.id, "version_id": v1.id, "start_date": "2026-12-01"})
    assert "active triad of this shop" in field_error(foreign.text, "triad_id")
    backwards = browser.post(url, {"triad_id": world.triad.id, "version_id": v1.id, "start_date": "2026-12-01",
                                   "target_date": "2026-01-01"})
    assert "after the start date" in field_error(backwards.text, "target_date")
    no_date = browser.post(url, {"triad_id": world.triad.id, "version_id": v1.id, "start_date": "next week"})
    assert no_date.status_code == 400 and field_error(no_date.text, "start_date") == "Enter a date, like 2026-09-01."
    with clean_db.session() as db:
        assert db.exec(select(Assignment)).first() is None


def test_the_difference_page_lists_every_change(browser, mlr):
    browser.post(f"/tasklists/{mlr.id}/tasks/I.A.1", {"change": "not_applicable", "na_reason": "Sent out"})
    browser.post(f"/tasklists/{mlr.id}/shop-tasks", {"section": "V.B", "statement": "Use our bleeder",
                                                     "priority": "P-2"})
    browser.post(f"/tasklists/{mlr.id}/tasks/V.B.3", {"change": "up"})
    page = browser.get(f"/tasklists/{mlr.id}/diff").text
    assert "Not applicable: Sent out" in page and "Shop task added (P-2)" in page
    assert "Moved earlier in its section" in page


def test_a_shop_list_exports_and_imports_back_identically(browser, world, mlr, clean_db):
    browser.post(f"/tasklists/{mlr.id}/tasks/I.A.1", {"change": "not_applicable", "na_reason": "Sent out"})
    browser.post(f"/tasklists/{mlr.id}/shop-tasks", {"section": "V.B", "statement": "Use our bleeder",
                                                     "priority": "P-2"})
    first = browser.get(f"/tasklists/{mlr.id}/export?fmt=csv")
    assert first.headers["content-disposition"].startswith('attachment; filename="Riverside-MLR-v1.csv"')
    imported = browser.post(f"/shops/{world.shop.id}/tasklists/import", {"import_name": "Riverside MLR"},
                            files={"file": ("list.csv", first.content, "text/csv")})
    assert "already has a task list" in imported.text  # same name refused, nothing written
    imported = browser.client.post(f"/shops/{world.shop.id}/tasklists/import",
                                   data={"_csrf_token": browser.client.cookies["csrftoken"]},
                                   files={"file": ("list.csv", first.content.replace(b"Riverside MLR", b"Copy"),
                                                   "text/csv")}, follow_redirects=False)
    assert imported.status_code == 303, imported.text
    copy_id = imported.headers["location"].rsplit("/", 1)[1]
    second = browser.get(f"/tasklists/{copy_id}/export?fmt=csv")
    assert second.content == first.content.replace(b"Riverside MLR", b"Copy")


def test_a_broken_upload_lists_each_problem_and_writes_nothing(browser, world, mlr, clean_db):
    before = count_rows(clean_db)
    bad = b"program,edition,title\nautomobile,2024,X\n"
    response = browser.client.post(f"/shops/{world.shop.id}/tasklists/import",
                                   data={"_csrf_token": browser.client.cookies["csrftoken"]},
                                   files={"file": ("bad.csv", bad, "text/csv")}, follow_redirects=False)
    assert response.status_code == 400
    assert "bad.csv was refused; nothing was imported." in response.text and "line 1" in response.text
    assert count_rows(clean_db) == before


@pytest.mark.parametrize("persona", ["other_manager", "mentor", "mentee", "instructor"])
def test_only_the_shops_managers_and_admins_touch_its_lists(browser, other_browser, world, mlr, persona,
                                                           clean_db):
    other_browser.login(getattr(world, persona).email)
    before = count_rows(clean_db)
    for response in (
        other_browser.get(f"/tasklists/{mlr.id}"),
        other_browser.get(f"/tasklists/{mlr.id}/diff"),
        other_browser.get(f"/tasklists/{mlr.id}/export?fmt=csv"),
        other_browser.get(f"/shops/{world.shop.id}/tasklists"),
        other_browser.post(f"/tasklists/{mlr.id}/tasks/I.A.1", {"change": "not_applicable", "na_reason": "x"}),
        other_browser.post(f"/tasklists/{mlr.id}/shop-tasks", {"section": "V.B", "statement": "x",
                                                               "priority": "P-1"}),
        other_browser.post(f"/tasklists/{mlr.id}/publish"),
        other_browser.post(f"/shops/{world.shop.id}/assignments", {}),
    ):
        assert response.status_code == 404
    assert count_rows(clean_db) == before
    with clean_db.session() as db:
        assert db.exec(select(ShopTask).where(ShopTask.not_applicable.is_(True))).first() is None
