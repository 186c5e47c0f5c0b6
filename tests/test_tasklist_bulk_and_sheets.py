"""Several tasks marked not applicable at once, a published list assigned to several mentees at once (all or
none, with default dates), and the blank task sheets (PDF) for shops that start on paper."""

import io
import json
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlmodel import select

from mentoring.clock import utcnow
from mentoring.progress.models import Assignment
from mentoring.trail.models import AuditEntry
from tasklists.models import ShopTask, ShopTaskListVersion

from .conftest import count_rows, field_error
from .test_shop_tasklists import _tasks, automobile, mlr  # noqa: F401 (fixtures)


def _text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


# --- bulk not applicable --------------------------------------------------------------------------

def test_picked_tasks_are_marked_with_one_reason_and_each_is_audited(browser, mlr, clean_db):
    response = browser.post(f"/tasklists/{mlr.id}/not-applicable",
                            {"codes": ["I.A.1", "II.A.1"], "na_reason": "No engine or transmission rebuilds"})
    assert response.status_code == 303
    _, tasks = _tasks(clean_db, mlr.id)
    assert [c for c, t in tasks.items() if t.not_applicable] == ["I.A.1", "II.A.1"]
    assert {tasks[c].na_reason for c in ("I.A.1", "II.A.1")} == {"No engine or transmission rebuilds"}
    with clean_db.session() as db:
        audited = db.exec(select(AuditEntry).where(AuditEntry.action == "tasklist.task.not_applicable")).all()
        assert sorted(json.loads(a.detail)["code"] for a in audited) == ["I.A.1", "II.A.1"]
    page = browser.get(f"/tasklists/{mlr.id}").text
    assert f"{len(tasks) - 2} of {len(tasks)} tasks apply" in page


@pytest.mark.parametrize("form, message", [
    ({"codes": ["I.A.1", "I.A.2"], "na_reason": "   "}, "Say why the picked tasks"),
    ({"na_reason": "No engines"}, "Pick at least one task"),
    ({"codes": ["I.A.1", "Z.Z.9"], "na_reason": "No engines"}, "There is no task Z.Z.9"),
])
def test_a_refused_bulk_change_changes_nothing_and_keeps_the_reason(browser, mlr, clean_db, form, message):
    before = count_rows(clean_db)
    response = browser.post(f"/tasklists/{mlr.id}/not-applicable", form)
    assert response.status_code == 400 and message in response.text
    if form["na_reason"].strip():
        assert f'value="{form["na_reason"]}"' in response.text
    assert count_rows(clean_db) == before
    with clean_db.session() as db:
        assert db.exec(select(ShopTask).where(ShopTask.not_applicable.is_(True))).first() is None


# --- assigning several mentees ---------------------------------------------------------------------

@pytest.fixture
def published(browser, mlr):
    assert browser.post(f"/tasklists/{mlr.id}/publish").status_code == 303
    return mlr


def _version_id(clean_db, list_id):
    version, _ = _tasks(clean_db, list_id)
    return version.id


def test_the_published_notice_offers_assigning(browser, published):
    page = browser.get(f"/tasklists/{published.id}?published=1").text
    assert f'href="/tasklists/{published.id}/assign"' in page


def test_blank_dates_take_the_defaults_and_both_mentees_are_assigned(browser, world, published, clean_db):
    triads = _triad_ids(clean_db, world)
    form = browser.get(f"/tasklists/{published.id}/assign").text
    today = utcnow().date()
    assert f'value="{today.isoformat()}"' in form and "Tess Mentee" in form and "Uma Mentee" in form
    response = browser.post(f"/tasklists/{published.id}/assign", {
        "version_id": _version_id(clean_db, published.id), "triad_ids": triads, "start_date": "",
        "target_date": ""})
    assert response.status_code == 303 and "assigned=2" in response.headers["location"]
    with clean_db.session() as db:
        made = db.exec(select(Assignment)).all()
        assert sorted(a.triad_id for a in made) == sorted(triads)
        assert {(a.start_date, a.target_date) for a in made} == {(today, today + timedelta(weeks=52))}
        assert len(db.exec(select(AuditEntry).where(AuditEntry.action == "assignment.create")).all()) == 2


def test_one_conflict_assigns_nobody_and_names_the_mentee(browser, world, published, clean_db):
    version_id = _version_id(clean_db, published.id)
    tess, uma = _triad_ids(clean_db, world)
    assert browser.post(f"/tasklists/{published.id}/assign", {
        "version_id": version_id, "triad_ids": [tess], "start_date": "2026-09-01"}).status_code == 303
    before = count_rows(clean_db)
    response = browser.post(f"/tasklists/{published.id}/assign", {
        "version_id": version_id, "triad_ids": [tess, uma], "start_date": "2026-09-01"})
    assert response.status_code == 400
    assert "already works on this task list" in field_error(response.text, f"triad-{tess}")
    assert field_error(response.text, f"triad-{uma}") is None
    assert count_rows(clean_db) == before
    # Both stay ticked, so that unticking Tess and sending again is enough.
    assert response.text.count("checked") == 2


@pytest.mark.parametrize("form, field, message", [
    ({"start_date": "01/09/2026"}, "start_date", "year-month-day"),
    ({"start_date": "2026-09-01", "target_date": "2026-08-01"}, "target_date", "comes after the start"),
    ({"triad_ids": []}, "triad_ids", "Pick at least one mentee"),
    ({"triad_ids": ["other"]}, "triad_ids", "Choose one from the list"),
])
def test_bad_assign_forms_are_refused_per_field(browser, world, published, clean_db, form, field, message):
    before = count_rows(clean_db)
    data = {"version_id": _version_id(clean_db, published.id), "triad_ids": _triad_ids(clean_db, world)[:1],
            **form}
    response = browser.post(f"/tasklists/{published.id}/assign", data)
    assert response.status_code == 400 and message in field_error(response.text, field)
    assert count_rows(clean_db) == before


def test_another_shops_triad_is_refused_by_name(browser, world, published, clean_db):
    response = browser.post(f"/tasklists/{published.id}/assign", {
        "version_id": _version_id(clean_db, published.id), "triad_ids": [world.other_triad.id]})
    assert response.status_code == 400
    assert "Choose an active triad of this shop" in field_error(response.text, "triad_ids")
    with clean_db.session() as db:
        assert db.exec(select(Assignment)).first() is None


def _triad_ids(clean_db, world):
    from mentoring.people import roster
    with clean_db.session() as db:
        return [r.triad.id for r in sorted(roster.triads_at(db, {world.shop.id}), key=lambda r: r.mentee.full_name)]


# --- blank task sheets -------------------------------------------------------------------------------

def test_the_list_sheet_has_every_applicable_task_and_empty_columns(browser, mlr, clean_db):
    browser.post(f"/tasklists/{mlr.id}/not-applicable", {"codes": ["I.A.2"], "na_reason": "No engines"})
    response = browser.get(f"/tasklists/{mlr.id}/sheet.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    text = _text(response.content)
    _, tasks = _tasks(clean_db, mlr.id)
    for heading in ("Code", "Task", "Pri.", "Date", "Rating", "RO number", "Mentor"):
        assert heading in text
    assert "Riverside MLR" in text and "I.A.1" in text and "II.A.1" in text and "P-1" in text
    assert "I.A.2 " not in text  # not applicable: nobody signs it
    assert tasks["I.A.1"].statement.split(",")[0] in text.replace("\n", " ")


def test_a_mentees_sheet_names_them_and_leaves_out_what_does_not_apply(browser, world, assigned):
    browser.login(world.mentee.email)
    response = browser.get(f"/assignments/{assigned.id}/sheet.pdf")
    assert response.status_code == 200
    text = _text(response.content)
    assert "Tess Mentee" in text and "Riverside Toyota" in text and "2026-09-01" in text
    assert "I.A.1" in text and "I.A.2 " not in text
    page = browser.get(f"/mentees/{world.mentee.id}").text
    assert f'href="/assignments/{assigned.id}/sheet.pdf"' in page


@pytest.mark.parametrize("persona", ["other_manager", "mentee2", "other_mentor"])
def test_sheets_are_not_there_for_other_people(other_browser, world, assigned, persona, clean_db):
    with clean_db.session() as db:
        list_id = db.get(ShopTaskListVersion, assigned.version_id).list_id
    other_browser.login(getattr(world, persona).email)
    assert other_browser.get(f"/tasklists/{list_id}/sheet.pdf").status_code == 404
    assert other_browser.get(f"/assignments/{assigned.id}/sheet.pdf").status_code == 404
