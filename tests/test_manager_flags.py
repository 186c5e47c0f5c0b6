"""The dashboard's flags: stalled, review overdue and pay step due appear and clear exactly at their boundaries."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mentoring.oversight import dashboard, flags, payplan, reviews
from mentoring.people.models import Organization, Triad
from mentoring.progress import signoffs
from tasklists.coverage import Tally, coverage
from tasklists.documents import TaskRow
from tasklists.models import ShopTaskListVersion

from .conftest import actor_for

RULE = {"P-1": 90, "P-2": 75, "P-3": 50}


# --- the plain rules ------------------------------------------------------------------------

@pytest.mark.parametrize("idle, stalled", [(13, False), (14, True), (15, True)])
def test_a_mentee_is_stalled_from_day_n_without_progress(idle, stalled):
    last = date(2026, 3, 1)
    assert flags.is_stalled(last, last + timedelta(days=idle), 14) is stalled


@pytest.mark.parametrize("offset, overdue", [(-1, False), (0, False), (1, True)])
def test_a_review_is_overdue_from_the_day_after_it_was_due(offset, overdue):
    due = date(2026, 3, 10)
    assert flags.is_review_overdue(due, due + timedelta(days=offset), complete=False) is overdue


def test_a_signed_review_is_never_overdue():
    assert flags.is_review_overdue(date(2026, 3, 10), date(2027, 1, 1), complete=True) is False


@pytest.mark.parametrize("offset, reached", [(-1, False), (0, True), (1, True)])
def test_a_date_milestone_is_reached_on_its_day(offset, reached):
    on = date(2026, 6, 1)
    assert flags.milestone_reached("date", on=on, today=on + timedelta(days=offset)) is reached


def _report(achieved: set[str]):
    def row(code, priority, area, title):
        return TaskRow(area, title, area + ".A", "General", code, "x", priority, ("MLR",))
    rows = [row(f"V.A.{i}", "P-1", "V", "Brakes") for i in range(1, 5)]
    rows += [row(f"IV.A.{i}", "P-2", "IV", "Steering") for i in range(1, 7)]
    return coverage(rows, achieved, RULE)


def test_an_area_p1_milestone_needs_every_p1_task_of_the_area():
    three = {"V.A.1", "V.A.2", "V.A.3"}
    assert not flags.milestone_reached("area_p1", area="V", report=_report(three), today=date.today())
    assert flags.milestone_reached("area_p1", area="V", report=_report(three | {"V.A.4"}), today=date.today())
    assert not flags.milestone_reached("area_p1", area="III", report=_report(three | {"V.A.4"}), today=date.today())


@pytest.mark.parametrize("signed, reached", [(4, False), (5, True), (6, True)])
def test_a_coverage_milestone_is_reached_at_n_percent_exactly(signed, reached):
    # 10 standard tasks; 50 % needs 5 of them.
    codes = [f"V.A.{i}" for i in range(1, 5)] + [f"IV.A.{i}" for i in range(1, 7)]
    report = _report(set(codes[:signed]))
    assert flags.milestone_reached("coverage", percent=50, report=report, today=date.today()) is reached


@pytest.mark.parametrize("reached, decision, until_offset, status", [
    (False, None, None, "planned"),
    (True, None, None, "due"),
    (True, "applied", None, "applied"),
    (False, "applied", None, "applied"),
    (True, "deferred", None, "deferred"),  # deferred until further notice
    (True, "deferred", 1, "deferred"),  # the day before `until`
    (True, "deferred", 0, "due"),  # due again on the `until` day
    (True, "deferred", -1, "due"),
])
def test_pay_step_status(reached, decision, until_offset, status):
    today = date(2026, 5, 5)
    until = today + timedelta(days=until_offset) if until_offset is not None else None
    assert flags.pay_step_status(reached, decision, until, today) == status


def test_the_shop_date_decides_not_utc():
    # 03:30 UTC on 2 March is still 1 March in Chicago.
    moment = datetime(2026, 3, 2, 3, 30, tzinfo=UTC)
    assert flags.today_in("America/Chicago", moment) == date(2026, 3, 1)
    assert flags.today_in("Europe/Berlin", moment) == date(2026, 3, 2)


# --- the same rules on the dashboard, with the clock moved ------------------------------------

@pytest.fixture(autouse=True)
def triads_began_with_the_list(request):
    """The world's triads start today; move them back to the assignment's start so only events count."""
    if "assigned" not in request.fixturenames:
        return
    db, world = request.getfixturevalue("db"), request.getfixturevalue("world")
    request.getfixturevalue("assigned")
    triad = db.get(Triad, world.triad.id)
    triad.started_at = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
    db.add(triad)
    db.commit()


def _row(db, actor, shop_id, mentee_id, now):
    d = dashboard.build(db, actor, {shop_id}, now=now)
    return next(r for r in d.rows if r.row.mentee.id == mentee_id)


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 18, 0, tzinfo=UTC)  # noon in Chicago


def test_the_stalled_flag_appears_on_day_14_and_clears_with_new_progress(db, world, assigned, clean_db):
    manager, mentee = actor_for(clean_db, world.manager), actor_for(clean_db, world.mentee)
    practiced = datetime(2026, 9, 10, 15, 0, tzinfo=UTC)
    signoffs.log_practice(db, mentee, assigned.id, "I.A.1", hours="1", at=practiced)
    db.commit()
    day = practiced.date()
    assert not _row(db, manager, world.shop.id, world.mentee.id, _noon(day + timedelta(days=13))).stalled
    row = _row(db, manager, world.shop.id, world.mentee.id, _noon(day + timedelta(days=14)))
    assert row.stalled and row.idle_days == 14
    signoffs.log_practice(db, mentee, assigned.id, "I.A.3", hours="1", at=_noon(day + timedelta(days=14)))
    db.commit()
    assert not _row(db, manager, world.shop.id, world.mentee.id, _noon(day + timedelta(days=14))).stalled


def test_the_stalled_threshold_is_the_shops_choice(db, world, assigned, clean_db):
    manager = actor_for(clean_db, world.manager)
    start = assigned.start_date  # no events: the clock runs from the assignment's start
    now = _noon(start + timedelta(days=5))
    assert not _row(db, manager, world.shop.id, world.mentee.id, now).stalled
    dashboard.set_stalled_days(db, manager, db.get(Organization, world.shop.id), 5)
    db.commit()
    assert _row(db, manager, world.shop.id, world.mentee.id, now).stalled


def test_an_overdue_review_flags_until_everyone_has_signed(db, world, assigned, clean_db):
    manager = actor_for(clean_db, world.manager)
    triad = db.get(Triad, world.triad.id)
    review = reviews.add_custom(db, manager, triad, {"title": "Brakes rotation", "due_on": "2026-10-01"})
    db.commit()
    on_day = _row(db, manager, world.shop.id, world.mentee.id, _noon(date(2026, 10, 1)))
    assert on_day.overdue_reviews == []
    day_after = _row(db, manager, world.shop.id, world.mentee.id, _noon(date(2026, 10, 2)))
    assert [v.review.id for v in day_after.overdue_reviews] == [review.id]
    for person in (world.manager, world.mentor):
        reviews.sign(db, actor_for(clean_db, person), review, triad, "ok")
    db.commit()
    assert _row(db, manager, world.shop.id, world.mentee.id, _noon(date(2026, 10, 2))).overdue_reviews
    reviews.sign(db, actor_for(clean_db, world.mentee), review, triad, "")
    db.commit()
    assert _row(db, manager, world.shop.id, world.mentee.id, _noon(date(2026, 10, 2))).overdue_reviews == []


def test_a_pay_step_is_due_when_its_area_is_complete_and_clears_when_applied(db, world, assigned, clean_db):
    manager, mentor = actor_for(clean_db, world.manager), actor_for(clean_db, world.mentor)
    triad = db.get(Triad, world.triad.id)
    step = payplan.add_pay_step(db, manager, triad, {"title": "Brakes raise", "amount": "1.25",
                                                     "milestone": "area_p1", "milestone_area": "V"})
    db.commit()
    now = _noon(date(2026, 10, 1))
    p1 = [t.code for t in signoffs.tasks_of(db, assigned)
          if t.area_code == "V" and t.priority == "P-1" and not t.not_applicable]
    for code in p1[:-1]:
        signoffs.sign_off(db, mentor, assigned.id, code, rating=3, pin=None)
    db.commit()
    assert _row(db, manager, world.shop.id, world.mentee.id, now).steps_due == []
    signoffs.sign_off(db, mentor, assigned.id, p1[-1], rating=2, pin=None)  # below the required rating
    db.commit()
    assert _row(db, manager, world.shop.id, world.mentee.id, now).steps_due == []
    signoffs.revoke(db, manager, assigned.id, p1[-1], reason="rated too low to count")
    signoffs.sign_off(db, mentor, assigned.id, p1[-1], rating=3, pin=None)
    db.commit()
    assert [s.step.id for s in _row(db, manager, world.shop.id, world.mentee.id, now).steps_due] == [step.id]

    payplan.decide(db, manager, step, {"decision": "deferred", "deferred_until": "2026-10-05"},
                   today=date(2026, 10, 1))
    db.commit()
    assert _row(db, manager, world.shop.id, world.mentee.id, _noon(date(2026, 10, 4))).steps_due == []
    assert _row(db, manager, world.shop.id, world.mentee.id, _noon(date(2026, 10, 5))).steps_due
    payplan.decide(db, manager, step, {"decision": "applied", "effective_on": "2026-10-06"}, today=date(2026, 10, 5))
    db.commit()
    row = _row(db, manager, world.shop.id, world.mentee.id, _noon(date(2026, 10, 6)))
    assert row.steps_due == [] and [d.decision for d in row.steps[0].decisions] == ["deferred", "applied"]


def test_the_dashboard_agrees_with_a_full_replay_and_shows_each_new_event(db, world, assigned, clean_db):
    """The dashboard keeps each assignment's progress until it gains an event; what it shows must be what
    replaying every event gives, and a new event must show on the next request."""
    manager, mentor, mentee = (actor_for(clean_db, p) for p in (world.manager, world.mentor, world.mentee))
    signoffs.log_practice(db, mentee, assigned.id, "I.A.1", hours="1", at=datetime(2026, 9, 20, 15, 0, tzinfo=UTC))
    signoffs.request_signoff(db, mentee, assigned.id, "I.A.3")
    for code, rating in (("I.D.1", 3), ("I.D.2", 2), ("V.A.1", 4), ("I.A.1", 4)):
        signoffs.sign_off(db, mentor, assigned.id, code, rating=rating, pin=None)
    signoffs.revoke(db, manager, assigned.id, "V.A.1", reason="signed on the wrong mentee")
    signoffs.request_signoff(db, mentee, assigned.id, "V.A.1")  # ready again after the revoke
    signoffs.log_practice(db, mentee, assigned.id, "I.D.3", hours="1", at=datetime(2026, 9, 2, 15, 0, tzinfo=UTC))
    db.commit()
    rating = db.get(ShopTaskListVersion, assigned.version_id).required_rating

    def shown_and_replayed():
        row = _row(db, manager, world.shop.id, world.mentee.id, _noon(date(2026, 10, 1)))
        events = signoffs.events_of(db, assigned.id)
        states = signoffs.task_states(events)
        tasks = [t for t in signoffs.tasks_of(db, assigned) if not t.not_applicable]
        status = {t.code: states[t.code].status if t.code in states else "not_started" for t in tasks}
        assert (row.signed, row.ready) == (list(status.values()).count("signed"), list(status.values()).count("ready"))
        areas = {a.code: (a.done, a.total) for a in row.areas}
        assert areas == {area: (sum(status[t.code] == "signed" for t in tasks if t.area_code == area),
                                sum(t.area_code == area for t in tasks)) for area in {t.area_code for t in tasks}}
        overall = row.report.overall
        achieved = signoffs.achieved_codes(tasks, states, rating)
        assert sum(p.achieved for p in overall.priorities.values()) + overall.shop_achieved == len(achieved)
        assert row.last_signoff == max(states[c].signoff.at for c, s in status.items() if s == "signed")
        assert row.last_progress_at == max(e.at for e in events if e.kind in flags.PROGRESS_KINDS)
        assert row.signoff_times == sorted(e.at for e in events if e.kind == "signoff")
        return row

    before = shown_and_replayed()
    assert (before.signed, before.ready) == (3, 2)
    signoffs.sign_off(db, mentor, assigned.id, "I.A.3", rating=3, pin=None)
    db.commit()
    after = shown_and_replayed()
    assert (after.signed, after.ready) == (4, 1)


# --- the dashboard's quick replay agrees with the task page's ------------------------------------

@given(st.lists(st.tuples(st.sampled_from(["A.1", "A.2", "A.3"]),
                          st.sampled_from(["practice", "ready", "signoff", "revoke", "countersign", "comment"]),
                          st.integers(1, 5), st.integers(0, 100)), max_size=30))
def test_the_dashboards_replay_agrees_with_task_states(steps):
    # Moments out of chain order on purpose: a back-dated practice log is not the newest progress.
    events = [SimpleNamespace(seq=i, task_code=code, kind=kind, rating=rating, minutes=30, assignment_id=1,
                              at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=hours))
              for i, (code, kind, rating, hours) in enumerate(steps, start=1)]
    tasks = [dashboard.LightTask(code, "P-1", "A", "Area", False, None) for code in ("A.1", "A.2", "A.3")]
    quick = dashboard.ListProgress()
    read = [e for e in events if e.kind in dashboard.READ_KINDS]
    dashboard._progress(quick, tasks, 3, RULE, Tally(tasks), read, {})
    states = signoffs.task_states(events)
    assert quick.ready == sum(s.status == "ready" for s in states.values())
    assert quick.signed == sum(s.status == "signed" for s in states.values())
    assert [a.done for a in quick.areas] == [quick.signed] and quick.applicable == 3
    achieved = {c for c, s in states.items() if s.signoff and s.signoff.rating >= 3}
    assert quick.report.overall.priorities["P-1"].achieved == len(achieved)
    signed_at = [s.signoff.at for s in states.values() if s.signoff]
    assert quick.last_signoff == (max(signed_at) if signed_at else None)
    moved = [e.at for e in events if e.kind in flags.PROGRESS_KINDS]
    assert quick.last_progress_at == (max(moved) if moved else None)
    assert quick.signoff_times == sorted(e.at for e in events if e.kind == "signoff")
