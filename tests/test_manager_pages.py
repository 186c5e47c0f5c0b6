"""The manager's dashboard, a mentee's detail page, reviews and the pay-plan forms, as people use them."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import event
from sqlmodel import select

from mentoring.access.policy import Actor
from mentoring.oversight.models import PayStep, PayStepDecision, Review, ReviewSignature, ToolRecord
from mentoring.people import accounts, triads
from mentoring.people.accounts import NewPersonIn
from mentoring.people.models import Triad
from mentoring.people.triads import TriadIn
from mentoring.progress import signoffs
from mentoring.progress.customize import AssignmentIn, assign
from mentoring.trail.models import AuditEntry

from .conftest import actor_for, count_rows, field_error

OPERATOR = Actor(None, "test", True)


def _more_mentees(db, world, assigned, n: int, clean_db) -> None:
    """n more mentees on the same list, each with a few signed, ready and practised tasks."""
    mentors = [actor_for(clean_db, world.mentor), actor_for(clean_db, world.mentor2)]
    codes = ["I.A.1", "I.A.3", "I.D.1", "I.D.2", "V.A.1", "V.B.1"]
    for i in range(n):
        person = accounts.add_member(db, OPERATOR, world.shop, NewPersonIn(
            full_name=f"Extra Mentee {i:02d}", email=f"extra{i}@example.com", role="mentee", password="", pin=""))
        mentor = mentors[i % 2]  # each triad's own mentor signs
        triad = triads.create_triad(db, OPERATOR, world.shop, TriadIn(
            mentee_id=person.id, mentor_id=mentor.person_id, manager_id=world.manager.id))
        a = assign(db, OPERATOR, world.shop, AssignmentIn(triad_id=triad.id, version_id=assigned.version_id,
                                                           start_date="2026-09-01"))
        as_mentee = Actor(person.id, person.full_name, memberships=frozenset({(world.shop.id, "mentee")}))
        for code in codes[: i % len(codes)]:
            signoffs.sign_off(db, mentor, a.id, code, rating=3, pin=None)
        signoffs.log_practice(db, as_mentee, a.id, "VI.A.1", hours="1")
        signoffs.request_signoff(db, as_mentee, a.id, "VI.A.1")
    db.commit()


def _statements(clean_db, browser, url: str) -> tuple[int, str]:
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(clean_db.engine, "before_cursor_execute", count)
    try:
        response = browser.get(url)
    finally:
        event.remove(clean_db.engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.text[:500]
    return len(seen), response.text


def test_the_dashboard_costs_the_same_number_of_queries_for_2_or_12_mentees(db, world, assigned, browser,
                                                                           clean_db):
    browser.login(world.manager.email)
    browser.get("/manager")  # warm up
    few, page = _statements(clean_db, browser, "/manager")
    assert "Tess Mentee" in page
    _more_mentees(db, world, assigned, 10, clean_db)
    many, page = _statements(clean_db, browser, "/manager")
    assert "Extra Mentee 09" in page
    assert many == few, (few, many)
    assert few <= 25


def test_the_dashboard_shows_progress_charts_and_flags(db, world, assigned, browser, clean_db):
    _more_mentees(db, world, assigned, 3, clean_db)
    browser.login(world.manager.email)
    page = browser.get("/manager").text
    assert page.count('<svg class="spark"') == 4  # a per-area bar chart for each triad with a list
    assert page.count("no list") == 1  # Uma has a triad but no task list yet
    assert 'class="heatmap"' in page and "Tasks signed per week" in page and "Mentor workload" in page
    assert "Milo Mentor" in page and "Olga Mentee" not in page  # only the manager's own shop
    assert "Latest signatures" in page
    # Filter by mentor, then sort by progress: Extra Mentee 02 (two signed) comes before 00 (none).
    by_mentor = browser.get(f"/manager?mentor={world.mentor2.id}").text
    assert "Extra Mentee 01" in by_mentor and "Extra Mentee 00" not in by_mentor
    ranked = browser.get("/manager?sort=progress").text
    assert ranked.index("Extra Mentee 02") < ranked.index("Extra Mentee 01") < ranked.index("Extra Mentee 00")
    waiting = browser.get("/manager?flag=ready").text
    assert "Extra Mentee 00" in waiting and f"/mentees/{world.mentee.id}\"" not in waiting


def test_a_manager_sets_the_stalled_threshold_and_bad_input_is_refused(world, browser, clean_db):
    browser.login(world.manager.email)
    bad = browser.post(f"/shops/{world.shop.id}/dashboard-settings", {"stalled_days": "0"})
    assert bad.status_code == 400 and "between 1 and 365" in bad.text
    assert browser.post(f"/shops/{world.shop.id}/dashboard-settings", {"stalled_days": "21"}).status_code == 303
    assert 'value="21"' in browser.get("/manager").text
    browser.logout()
    browser.login(world.other_manager.email)
    assert browser.post(f"/shops/{world.shop.id}/dashboard-settings", {"stalled_days": "3"}).status_code == 404


def test_a_manager_keeps_a_pay_plan_and_its_history(db, world, assigned, browser, clean_db):
    browser.login(world.manager.email)
    url = f"/mentees/{world.mentee.id}"
    missing = browser.post(f"{url}/pay-steps", {"title": "", "milestone": "coverage"})
    assert missing.status_code == 400
    assert field_error(missing.text, "title") == "Title is required."
    both = browser.post(f"{url}/pay-steps", {"title": "Raise", "amount": "1", "percent": "2", "milestone": "date",
                                             "milestone_date": "2026-01-01"})
    assert field_error(both.text, "amount") == "Give either an amount per hour or a percentage."
    assert browser.post(f"{url}/pay-steps", {"title": "Year one", "amount": "1.50", "milestone": "date",
                                             "milestone_date": "2026-01-01", "note": "agreed"}).status_code == 303
    step = db.exec(select(PayStep)).one()
    assert (step.amount_cents, step.shared) == (150, False)
    page = browser.get(url).text
    assert "pay step due" in page and "+$1.50/h" in page
    assert browser.get("/manager?flag=pay").text.count('class="flag due"') == 1

    assert browser.post(f"/pay-steps/{step.id}/decision", {"decision": "deferred"}).status_code == 303
    assert "pay step due" not in browser.get(url).text
    assert browser.post(f"/pay-steps/{step.id}/decision", {"decision": "applied",
                                                          "effective_on": "2026-02-01"}).status_code == 303
    again = browser.post(f"/pay-steps/{step.id}/decision", {"decision": "applied"})
    assert again.status_code == 400 and "already applied" in again.text
    db.rollback()  # read what the app wrote, not this session's old snapshot
    decisions = db.exec(select(PayStepDecision).order_by(PayStepDecision.id)).all()
    assert [(d.decision, str(d.effective_on)) for d in decisions] == [("deferred", "None"), ("applied", "2026-02-01")]
    actions = db.exec(select(AuditEntry.action).where(AuditEntry.object_type == "paystep")).all()
    assert actions == ["paystep.create", "paystep.deferred", "paystep.applied"]


def test_tools_are_recorded_and_loans_come_back(db, world, assigned, browser):
    browser.login(world.manager.email)
    url = f"/mentees/{world.mentee.id}"
    bad = browser.post(f"{url}/tools", {"kind": "loan", "description": "Scan tool", "on_date": "2026-09-10",
                                        "due_back_on": "2026-09-01"})
    assert bad.status_code == 400 and field_error(bad.text, "due_back_on")
    assert browser.post(f"{url}/tools", {"kind": "loan", "description": "Scan tool", "on_date": "2026-09-10",
                                         "due_back_on": "2026-09-20"}).status_code == 303
    record = db.exec(select(ToolRecord)).one()
    assert browser.post(f"/tools/{record.id}/returned").status_code == 303
    db.rollback()
    db.refresh(record)
    assert record.returned_on is not None
    assert browser.post(f"/tools/{record.id}/returned").status_code == 400


@pytest.mark.parametrize("persona", ["mentor", "mentee", "instructor", "other_manager"])
def test_only_the_shops_managers_write_pay_plans(db, world, assigned, browser, persona, clean_db):
    browser.login(world.manager.email)
    browser.post(f"/mentees/{world.mentee.id}/tools", {"kind": "issue", "description": "Gloves",
                                                       "on_date": "2026-09-10"})
    browser.post(f"/mentees/{world.mentee.id}/pay-steps", {"title": "Raise", "amount": "1", "milestone": "date",
                                                           "milestone_date": "2026-01-01"})
    browser.logout()
    step, tool = db.exec(select(PayStep)).one(), db.exec(select(ToolRecord)).one()
    browser.login(getattr(world, persona).email)
    before = count_rows(clean_db)
    for url, data in [(f"/mentees/{world.mentee.id}/pay-steps", {"title": "Mine", "amount": "9", "milestone": "date",
                                                                  "milestone_date": "2026-01-01"}),
                      (f"/mentees/{world.mentee.id}/tools", {"kind": "issue", "description": "x",
                                                             "on_date": "2026-01-01"}),
                      (f"/pay-steps/{step.id}/decision", {"decision": "applied"}),
                      (f"/pay-steps/{step.id}/share", {"shared": "on"}),
                      (f"/tools/{tool.id}/share", {"shared": "on"})]:
        assert browser.post(url, data).status_code == 404, url
    assert count_rows(clean_db) == before


def test_reviews_are_scheduled_and_each_party_signs_once(db, world, assigned, browser, other_browser, clean_db):
    browser.login(world.manager.email)
    url = f"/triads/{world.triad.id}/reviews/standard"
    assert browser.post(url).status_code == 303
    assert browser.post(url).status_code == 400  # already scheduled
    db.rollback()
    triad = db.get(Triad, world.triad.id)
    due = sorted((r.kind, r.due_on) for r in db.exec(select(Review)).all())
    start = triad.started_at.astimezone(__import__("zoneinfo").ZoneInfo("America/Chicago")).date()
    assert [(k, (d - start).days) for k, d in due] == [("30", 30), ("60", 60), ("90", 90)]
    bad = browser.post(f"/triads/{world.triad.id}/reviews", {"title": "", "due_on": "2026-10-01"})
    assert bad.status_code == 400 and field_error(bad.text, "title")
    db.rollback()
    review = db.exec(select(Review).where(Review.kind == "30")).one()

    other_browser.login(world.mentee.email)
    assert other_browser.post(f"/reviews/{review.id}/sign", {"note": "I want to learn diagnostics."}).status_code == 303
    twice = other_browser.post(f"/reviews/{review.id}/sign", {"note": "again"})
    assert twice.status_code == 400 and "already signed" in twice.text
    browser.post(f"/reviews/{review.id}/sign", {"note": "Good start."})
    db.rollback()
    signatures = db.exec(select(ReviewSignature).order_by(ReviewSignature.id)).all()
    assert [(s.party, s.signer_name, s.meaning) for s in signatures] == [
        ("mentee", "Tess Mentee", "reviewed"), ("manager", "Mara Manager", "reviewed")]
    page = browser.get(f"/reviews/{review.id}").text
    assert "I want to learn diagnostics." in page and "Not signed yet." in page  # the mentor's line
    other_browser.logout()
    for outsider in (world.other_manager, world.instructor, world.mentee2):
        other_browser.login(outsider.email)
        assert other_browser.get(f"/reviews/{review.id}").status_code == 404
        assert other_browser.post(f"/reviews/{review.id}/sign", {"note": "x"}).status_code == 404
        other_browser.logout()


def test_the_mentee_detail_shows_timeline_hours_and_reviews(db, world, assigned, browser, clean_db):
    mentee, mentor = actor_for(clean_db, world.mentee), actor_for(clean_db, world.mentor)
    signoffs.log_practice(db, mentee, assigned.id, "V.A.1", hours="1.5", at=datetime(2026, 9, 2, 15, tzinfo=UTC))
    signoffs.log_practice(db, mentee, assigned.id, "V.B.1", hours="2", at=datetime(2026, 9, 3, 15, tzinfo=UTC))
    signoffs.sign_off(db, mentor, assigned.id, "V.A.1", rating=4, pin=None)
    db.commit()
    browser.login(world.manager.email)
    page = browser.get(f"/mentees/{world.mentee.id}").text
    assert "3.5 h" in page  # brakes: 1.5 + 2 hours
    assert f"· Milo Mentor <a href=\"/assignments/{assigned.id}/tasks/V.A.1\">signed off V.A.1 (rating 4)</a>" in page
    assert page.index("signed off V.A.1") < page.index("practised V.B.1")  # newest first
    assert 'id="reviews"' in page and 'id="pay"' in page
    browser.logout()
    browser.login(world.mentor.email)
    as_mentor = browser.get(f"/mentees/{world.mentee.id}").text
    assert "signed off V.A.1" in as_mentor and 'id="pay"' not in as_mentor
