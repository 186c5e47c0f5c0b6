"""An instructor follows their consented students across shops: progress by area, coverage, comments, verifying,
and the program view; when a shop turns consent off the student is gone on the next request."""

import re

import pytest
from sqlmodel import select

from mentoring.access.policy import Actor
from mentoring.oversight import instructor
from mentoring.people import triads
from mentoring.people.triads import EnrollmentIn
from mentoring.progress import customize, signoffs
from mentoring.progress.customize import AssignmentIn
from mentoring.progress.models import ProgressEvent
from tasklists import store

from .conftest import actor_for

OPERATOR = Actor(None, "test", True)


@pytest.fixture
def two_shops(db, world, assigned, clean_db):
    """Tess at Riverside (consented, fixture) and Olga at Hillcrest, both students of Ivy with consent on."""
    mentor, other_mentor = actor_for(clean_db, world.mentor), actor_for(clean_db, world.other_mentor)
    for code in ("I.A.1", "I.A.3", "V.A.1"):
        signoffs.sign_off(db, mentor, assigned.id, code, rating=3, pin=None)
    automobile = next(t for t, _ in store.load_catalog(db) if t.program == "automobile")
    task_list = customize.start_list(db, OPERATOR, world.other_shop, template_id=automobile.id, level="MLR",
                                     name="Hillcrest MLR")
    version = customize.publish(db, OPERATOR, task_list)
    other = customize.assign(db, OPERATOR, world.other_shop, AssignmentIn(
        triad_id=world.other_triad.id, version_id=version.id, start_date="2026-09-01"))
    signoffs.sign_off(db, other_mentor, other.id, "V.A.1", rating=4, pin=None)
    enrollment = triads.create_enrollment(db, OPERATOR, world.other_shop, EnrollmentIn(
        mentee_id=world.other_mentee.id, school_id=world.school.id, instructor_id=world.instructor.id,
        consent_active=True))
    db.commit()
    return other, enrollment


def test_the_instructor_sees_both_students_with_progress_by_area(browser, world, two_shops):
    browser.login(world.instructor.email)
    page = browser.get("/instructor").text
    assert "Tess Mentee" in page and "Olga Mentee" in page and "Uma Mentee" not in page
    assert "Riverside Toyota" in page and "Hillcrest Auto" in page
    assert page.count('<svg class="spark"') == 2
    assert re.search(r"Tess Mentee.*?1 % \(3/\d+\)", page, re.S)  # three tasks signed of the MLR list
    assert re.search(r"Olga Mentee.*?0 % \(1/\d+\)", page, re.S)


def test_the_program_view_counts_students_meeting_the_rule_per_area(browser, world, two_shops, db, clean_db):
    found = instructor.students(db, actor_for(clean_db, world.instructor))
    areas = {a.area_code: a for a in instructor.program_coverage(found)}
    assert areas["V"].students == 2 and areas["V"].passing == {"P-1": 0, "P-2": 0, "P-3": 0}
    assert areas["0"].students == 2
    browser.login(world.instructor.email)
    page = " ".join(browser.get("/instructor/program").text.split())
    assert "<td>V · Brakes</td><td>2</td> <td>0</td><td>0</td><td>0</td><td>0</td>" in page
    assert page.count("Riverside Toyota") == 1 and page.count("Hillcrest Auto") == 1


def test_the_instructor_comments_and_verifies_a_task(browser, world, assigned, two_shops, db):
    browser.login(world.instructor.email)
    base = f"/assignments/{assigned.id}/tasks/I.A.1"
    assert browser.post(f"{base}/comment", {"note": "Talk through the three Cs next time."}).status_code == 303
    assert browser.post(f"{base}/countersign").status_code == 303
    db.rollback()
    kinds = db.exec(select(ProgressEvent.kind, ProgressEvent.meaning, ProgressEvent.actor_name)
                    .where(ProgressEvent.task_code == "I.A.1").order_by(ProgressEvent.seq)).all()
    assert kinds[-2:] == [("comment", "", "Ivy Instructor"),
                          ("countersign", "verified by instructor", "Ivy Instructor")]
    browser.logout()
    browser.login(world.mentor.email)  # the triad sees the comment
    assert "Talk through the three Cs next time." in browser.get(base).text


def test_revoking_consent_removes_the_student_everywhere_at_once(browser, other_browser, world, two_shops):
    other, enrollment = two_shops
    browser.login(world.instructor.email)
    assert browser.get(f"/mentees/{world.other_mentee.id}").status_code == 200
    assert browser.get(f"/assignments/{other.id}").status_code == 200
    other_browser.login(world.other_manager.email)
    assert other_browser.post(f"/admin/enrollments/{enrollment.id}/consent", {}).status_code == 303
    assert browser.get(f"/mentees/{world.other_mentee.id}").status_code == 404
    assert browser.get(f"/assignments/{other.id}").status_code == 404
    assert browser.post(f"/assignments/{other.id}/tasks/V.A.1/comment", {"note": "x"}).status_code == 404
    assert "Olga Mentee" not in browser.get("/instructor").text
    assert "Hillcrest Auto" not in browser.get("/instructor/program").text
    assert "Tess Mentee" in browser.get("/instructor").text


def test_other_roles_do_not_get_the_program_view(browser, world):
    browser.login(world.manager.email)
    assert browser.get("/instructor/program").status_code == 403
