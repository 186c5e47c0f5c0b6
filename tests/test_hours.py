"""The OJL hours ledger (issue #18): logging and its checks, "same as yesterday", approval singly and by week,
return with a reason, who may decide, locked approved entries, corrections in the hash chain, reminders."""

from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import update
from sqlmodel import select

from mentoring.access.policy import Actor
from mentoring.errors import Forbidden, FormError, NotFound
from mentoring.oversight import inbox
from mentoring.progress import hours
from mentoring.progress.models import Apprenticeship, HoursEntry, WorkProcess
from mentoring.trail.models import AuditEntry
from web import cli

from .conftest import actor_for


def make_apprenticeship(db, triad, start: date) -> Apprenticeship:
    """A registered apprenticeship with two work processes, as stored rows (the form is helper appr's)."""
    app = Apprenticeship(triad_id=triad.id, shop_id=triad.shop_id, kind="time", registration_number="2026-TX-001",
                         occupation="Automotive Service Technician", start_date=start, term_hours=8000,
                         probation_hours=500, status_date=start)
    db.add(app)
    db.flush()
    db.add_all([WorkProcess(apprenticeship_id=app.id, area_code="I", title="Engine Repair", target_hours=1200,
                            position=1),
                WorkProcess(apprenticeship_id=app.id, area_code="V", title="Brakes", target_hours=1500, position=2)])
    db.flush()
    return app


def today() -> date:
    return hours.today_at(type("Shop", (), {"timezone": "America/Chicago"})())


@pytest.fixture
def ledger(db, world, clean_db):
    from mentoring.people.models import Organization, Triad

    shop = db.get(Organization, world.shop.id)
    shop.timezone = "America/Chicago"
    triad = db.get(Triad, world.triad.id)
    start = hours.week_start(today()) - timedelta(days=28)
    app = make_apprenticeship(db, triad, start)
    db.commit()
    return {"triad": triad, "app": app, "start": start, "mentee": actor_for(clean_db, world.mentee),
            "mentor": actor_for(clean_db, world.mentor), "manager": actor_for(clean_db, world.manager)}


def test_the_mentee_logs_hours_and_bad_entries_are_refused_clearly(db, ledger):
    mentee, triad_id, start = ledger["mentee"], ledger["triad"].id, ledger["start"]
    entry = hours.log_hours(db, mentee, triad_id, day=start.isoformat(), area="I", hours="7,5", ro_number="RO-1")
    assert (entry.minutes, entry.state, entry.seq, entry.prev_hash, entry.ro_number) == (450, "pending", 1, "", "RO-1")
    second = hours.log_hours(db, mentee, triad_id, day=start, area="V", hours="8")
    assert second.prev_hash == entry.hash and second.seq == 2
    refusals = [
        (dict(day=start, area="I", hours="0"), "hours", "more than 0"),
        (dict(day=start, area="I", hours="25"), "hours", "at most 24"),
        (dict(day=start, area="I", hours="abc"), "hours", "more than 0"),
        (dict(day=start, area="I", hours="9"), "hours", "already has 15.5 h"),  # 7.5 + 8 + 9 > 24
        (dict(day=today() + timedelta(days=1), area="I", hours="1"), "day", "not the future"),
        (dict(day=start - timedelta(days=1), area="I", hours="1"), "day", "started on"),
        (dict(day="yesterday", area="I", hours="1"), "day", "as a date"),
        (dict(day=start, area="XX", hours="1"), "area", "work processes"),
    ]
    for fields, name, words in refusals:
        with pytest.raises(FormError) as refused:
            hours.log_hours(db, mentee, triad_id, **fields)
        assert words in refused.value.errors[name], (fields, refused.value.errors)
    mentor = ledger["mentor"]
    with pytest.raises(Forbidden):
        hours.log_hours(db, mentor, triad_id, day=start, area="I", hours="1")


def test_same_as_yesterday_copies_the_previous_working_day_once(db, ledger):
    mentee, triad_id, start = ledger["mentee"], ledger["triad"].id, ledger["start"]
    friday, monday = start + timedelta(days=4), start + timedelta(days=7)
    hours.log_hours(db, mentee, triad_id, day=friday, area="I", hours="6", ro_number="RO-7", note="timing belt")
    hours.log_hours(db, mentee, triad_id, day=friday, area="V", hours="2")
    copied = hours.same_as_yesterday(db, mentee, triad_id, day=monday.isoformat())  # over the weekend
    assert sorted((e.day, e.minutes, e.ro_number, e.note) for e in copied) == [
        (monday, 120, "", ""), (monday, 360, "RO-7", "timing belt")]
    with pytest.raises(FormError, match="already has hours"):
        hours.same_as_yesterday(db, mentee, triad_id, day=monday)
    with pytest.raises(FormError, match="No hours in the week before"):
        hours.same_as_yesterday(db, mentee, triad_id, day=start)
    assert not hours.verify_chains(db)


def test_approve_one_a_week_and_return_with_a_reason(db, ledger):
    mentee, mentor, manager, triad_id = ledger["mentee"], ledger["mentor"], ledger["manager"], ledger["triad"].id
    start = ledger["start"]
    week = [hours.log_hours(db, mentee, triad_id, day=start + timedelta(days=i), area="I", hours="8")
            for i in range(5)]
    later = hours.log_hours(db, mentee, triad_id, day=start + timedelta(days=7), area="I", hours="8")
    assert hours.approve(db, mentor, week[0].id).state == "approved"
    with pytest.raises(FormError) as no_reason:
        hours.return_entry(db, mentor, week[4].id, reason="  ")
    assert "Say why" in no_reason.value.errors["reason"]
    returned = hours.return_entry(db, mentor, week[4].id, reason="That Friday was a holiday")
    assert (returned.state, returned.return_reason, returned.decided_by_name) == (
        "returned", "That Friday was a holiday", "Milo Mentor")
    assert hours.approve_week(db, manager, triad_id, week=(start + timedelta(days=2)).isoformat()) == 3
    assert [e.state for e in week] == ["approved"] * 4 + ["returned"]
    assert later.state == "pending"  # the next week is not touched
    with pytest.raises(FormError, match="Nothing waits"):
        hours.approve_week(db, manager, triad_id, week=start)
    actions = db.exec(select(AuditEntry.action).where(AuditEntry.action.like("hours.%"))).all()
    assert sorted(actions).count("hours.approved") == 4 and actions.count("hours.returned") == 1
    assert not hours.verify_chains(db)


def test_only_the_triads_mentor_or_a_manager_of_the_shop_decides(db, world, ledger, clean_db):
    mentee, triad_id = ledger["mentee"], ledger["triad"].id
    entry = hours.log_hours(db, mentee, triad_id, day=ledger["start"], area="I", hours="8")
    db.commit()
    # The mentee, even holding a manager's role at the shop as well, never approves their own hours.
    as_manager_too = Actor(mentee.person_id, mentee.name, memberships=mentee.memberships | {(world.shop.id, "manager")})
    for who in (mentee, as_manager_too):
        with pytest.raises(Forbidden):
            hours.approve(db, who, entry.id)
        with pytest.raises(Forbidden):
            hours.approve_week(db, who, triad_id, week=ledger["start"])
    with pytest.raises(Forbidden):  # an admin runs the shop's records, not its mentoring
        hours.approve(db, actor_for(clean_db, world.admin), entry.id)
    for outsider in (world.mentor2, world.other_manager, world.other_mentor):  # another mentor; another shop
        with pytest.raises(NotFound):
            hours.approve(db, actor_for(clean_db, outsider), entry.id)
        with pytest.raises(NotFound):
            hours.return_entry(db, actor_for(clean_db, outsider), entry.id, reason="no")
    assert db.get(HoursEntry, entry.id).state == "pending"


def test_approved_hours_are_locked_and_a_correction_supersedes_them_in_the_chain(db, ledger, settings, clean_db,
                                                                               monkeypatch):
    mentee, mentor, triad_id, start = ledger["mentee"], ledger["mentor"], ledger["triad"].id, ledger["start"]
    entry = hours.log_hours(db, mentee, triad_id, day=start, area="I", hours="8")
    hours.approve(db, mentor, entry.id)
    with pytest.raises(FormError, match="already approved"):
        hours.return_entry(db, mentor, entry.id, reason="changed my mind")
    with pytest.raises(FormError, match="already approved"):
        hours.approve(db, mentor, entry.id)
    fix = hours.correct(db, mentee, entry.id, area="V", hours="6", note="half of it was brakes")
    assert (fix.corrects_id, fix.state, entry.state) == (entry.id, "pending", "approved")
    with pytest.raises(FormError, match="already waiting"):
        hours.correct(db, mentee, entry.id, area="V", hours="5")
    with pytest.raises(FormError, match="Only approved"):
        hours.correct(db, mentee, fix.id, area="V", hours="5")
    hours.approve(db, mentor, fix.id)
    assert (db.get(HoursEntry, entry.id).state, fix.state) == ("superseded", "approved")
    assert hours.verify_chains(db) == []
    db.commit()

    monkeypatch.setenv("MENTORING_DATABASE_URL", str(clean_db.engine.url.render_as_string(hide_password=False)))
    monkeypatch.setenv("MENTORING_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MENTORING_SECRET_KEY", settings.secret_key)
    assert "BROKEN" not in CliRunner().invoke(cli.main, ["audit", "verify"]).output

    # Someone edits the approved hours in the database: the chain says which entry no longer matches.
    db.exec(update(HoursEntry).where(HoursEntry.id == entry.id).values(minutes=600))
    db.commit()
    broken = hours.verify_chains(db)
    assert [(b.entry_id, b.seq) for b in broken] == [(entry.id, 1)] and "no longer matches" in broken[0].problem
    result = CliRunner().invoke(cli.main, ["audit", "verify"])
    assert result.exit_code == 1 and f"hours of apprenticeship {ledger['app'].id}, entry #1" in result.output


def test_reminders_for_a_missing_week_and_for_entries_awaiting_approval(db, ledger, world, clean_db):
    mentee, mentor, triad_id = ledger["mentee"], ledger["mentor"], ledger["triad"].id
    last_week = hours.week_start(today()) - timedelta(days=7)
    texts = [i.text for i in inbox.items_for(db, mentee) if i.kind == "hours"]
    assert texts == [f"No hours logged for the week of {last_week:%Y-%m-%d}: log them, or tell your mentor why"]
    assert not [i for i in inbox.items_for(db, mentor) if i.kind == "hours"]
    hours.log_hours(db, mentee, triad_id, day=last_week, area="I", hours="8")
    hours.log_hours(db, mentee, triad_id, day=last_week + timedelta(days=1), area="I", hours="8")
    assert not [i for i in inbox.items_for(db, mentee) if i.kind == "hours"]
    items = [i for i in inbox.items_for(db, mentor) if i.kind == "hours"]
    assert [(i.text, i.link) for i in items] == [("Tess Mentee: 2 hours entries waiting for your approval",
                                                  f"/triads/{triad_id}/hours?week={last_week.isoformat()}")]
    assert not [i for i in inbox.items_for(db, actor_for(clean_db, world.mentor2)) if i.kind == "hours"]
    hours.approve_week(db, mentor, triad_id, week=last_week)
    assert not [i for i in inbox.items_for(db, mentor) if i.kind == "hours"]


def test_the_pages_log_approve_and_return_over_http(browser, db, world, ledger):
    triad_id, start = ledger["triad"].id, ledger["start"]
    browser.login(world.mentee.email)
    page = browser.get(f"/triads/{triad_id}/hours?week={start.isoformat()}")
    assert page.status_code == 200 and "Log hours" in page.text and "approve-week" not in page.text
    bad = browser.post(f"/triads/{triad_id}/hours", {"day": start.isoformat(), "area": "I", "hours": "30"})
    assert bad.status_code == 400 and "at most 24" in bad.text
    done = browser.post(f"/triads/{triad_id}/hours", {"day": start.isoformat(), "area": "I", "hours": "8"})
    assert done.status_code == 303 and done.headers["location"] == f"/triads/{triad_id}/hours?week={start}"
    browser.post(f"/triads/{triad_id}/hours/same-as-yesterday", {"day": (start + timedelta(days=1)).isoformat()})
    entries = db.exec(select(HoursEntry).order_by(HoursEntry.seq)).all()
    assert [(e.day, e.minutes) for e in entries] == [(start, 480), (start + timedelta(days=1), 480)]
    assert browser.post(f"/hours/{entries[0].id}/approve").status_code == 403

    browser.logout()
    browser.login(world.mentor.email)
    page = browser.get(f"/triads/{triad_id}/hours?week={start.isoformat()}")
    assert "Approve all 2 waiting this week" in page.text and "Log hours" not in page.text
    refused = browser.post(f"/hours/{entries[1].id}/return", {"reason": ""})
    assert refused.status_code == 400 and "Say why" in refused.text
    assert browser.post(f"/hours/{entries[1].id}/return", {"reason": "Wrong day"}).status_code == 303
    assert browser.post(f"/triads/{triad_id}/hours/approve-week", {"week": start.isoformat()}).status_code == 303
    db.rollback()  # a fresh look at what the app committed
    assert [e.state for e in db.exec(select(HoursEntry).order_by(HoursEntry.seq)).all()] == ["approved", "returned"]
    ledger_page = browser.get(f"/triads/{triad_id}/hours/ledger")
    assert ledger_page.status_code == 200 and "Wrong day" in ledger_page.text


def test_the_dashboard_and_the_mentors_home_show_the_weeks_hours_and_whats_waiting(browser, db, world, ledger):
    mentee, mentor, triad_id = ledger["mentee"], ledger["mentor"], ledger["triad"].id
    monday = hours.week_start(today())
    first = hours.log_hours(db, mentee, triad_id, day=monday, area="I", hours="8")
    hours.log_hours(db, mentee, triad_id, day=monday - timedelta(days=3), area="V", hours="6")
    hours.approve(db, mentor, first.id)
    db.commit()
    for who, path in ((world.manager, "/manager"), (world.mentor, "/mentor")):
        browser.login(who.email)
        html = browser.get(path).text
        row = html[html.index(f'<tr data-triad="{triad_id}">'):]
        row = row[:row.index("</tr>")]
        assert '"week">8.0 h' in row and '"approved">8.0 / 8000 h' in row and "1 entry</a>" in row, (path, row)
        browser.logout()
    browser.login(world.mentor2.email)
    assert 'id="hours-board"' not in browser.get("/mentor").text  # not their apprentice
