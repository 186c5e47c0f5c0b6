"""Shop tablets: the confirmation after a signature, and the shop's multi-sign window (off unless turned on)."""

from datetime import timedelta

from sqlmodel import select

from mentoring import clock
from mentoring.people.models import Organization
from mentoring.progress import signoffs
from mentoring.progress.models import ProgressEvent
from mentoring.trail.models import AuditEntry

from .conftest import field_error


def sign(browser, assignment_id, code):
    data = {"rating": "4", "_csrf_token": browser.client.cookies["csrftoken"]}
    return browser.client.post(f"/assignments/{assignment_id}/tasks/{code}/signoff", data=data,
                               files={"photo": ("", b"", "application/octet-stream")}, follow_redirects=False)


def signed(database):
    with database.session() as db:
        return db.exec(select(ProgressEvent).where(ProgressEvent.kind == "signoff").order_by(ProgressEvent.id)).all()


def shop_options(database, shop, **options):
    with database.transaction() as db:
        org = db.get(Organization, shop.id)
        org.sqlmodel_update(options)
        db.add(org)


def mentor_on_tablet(browser, world):
    browser.login(world.manager.email)
    browser.post(f"/shops/{world.shop.id}/tablets", {"name": "Bay 3"})
    assert browser.post(f"/tablet/mentors/{world.mentor.id}", {"pin": "2580"}).status_code == 303


def move_clock(monkeypatch, minutes):
    real = clock.utcnow
    monkeypatch.setattr(clock, "utcnow", lambda: real() + timedelta(minutes=minutes))


def test_the_shop_screen_confirms_each_signature_and_asks_for_the_pin_again(browser, world, assigned, clean_db):
    mentor_on_tablet(browser, world)
    first = sign(browser, assigned.id, "I.A.1")
    [event] = signed(clean_db)
    assert first.headers["location"] == f"/tablet?signed={event.id}"
    screen = browser.get(first.headers["location"]).text
    confirmation = screen.split('class="card signed confirmation"')[1].split("</section>")[0]
    for shown in ("I.A.1", "Tess Mentee", "Milo Mentor", "rating 4", "Performs on their own"):
        assert shown in confirmation
    assert "Who is signing?" in screen
    # The turn ended: a second signature needs the name and PIN again.
    assert sign(browser, assigned.id, "I.A.3").status_code == 303 and len(signed(clean_db)) == 1
    assert browser.get("/mentor").status_code == 303
    assert browser.post(f"/tablet/mentors/{world.mentor.id}", {"pin": "2580"}).status_code == 303
    assert sign(browser, assigned.id, "I.A.3").status_code == 303 and len(signed(clean_db)) == 2
    assert not any(e.in_window for e in signed(clean_db))


def test_the_confirmation_shows_only_recent_signatures_of_this_tablet(browser, world, assigned, clean_db,
                                                                      monkeypatch):
    mentor_on_tablet(browser, world)
    location = sign(browser, assigned.id, "I.A.1").headers["location"]
    assert 'class="card signed confirmation"' in browser.get(location).text
    assert 'class="card signed confirmation"' not in browser.get("/tablet?signed=999999").text
    assert browser.get("/tablet?signed=abc").status_code == browser.get("/tablet?signed=²").status_code == 200
    move_clock(monkeypatch, 3)
    assert 'class="card signed confirmation"' not in browser.get(location).text


def test_with_the_window_on_the_same_mentee_is_signed_again_without_the_pin(browser, world, assigned, clean_db):
    shop_options(clean_db, world.shop, tablet_window=True, tablet_window_minutes=3)
    mentor_on_tablet(browser, world)
    first = sign(browser, assigned.id, "I.A.1")
    assert first.headers["location"] == f"/assignments/{assigned.id}?signed=I.A.1"
    board = browser.get(first.headers["location"]).text
    assert "I.A.1 is signed for Tess Mentee" in board and "without your PIN until" in board
    second = sign(browser, assigned.id, "I.A.3")
    assert second.status_code == 303, second.text
    one, two = signed(clean_db)
    assert (one.in_window, two.in_window) == (False, True)
    assert two.actor_name == "Milo Mentor" and two.device == "shop tablet: Bay 3"
    with clean_db.session() as db:
        details = [e.detail for e in db.exec(select(AuditEntry).where(AuditEntry.action == "event.signoff")
                                             .order_by(AuditEntry.id))]
        assert '"in_window": true' not in details[0] and '"in_window": true' in details[1]
        assert signoffs.verify_chains(db) == []  # the mark is part of the event's hash
    history = browser.get(f"/assignments/{assigned.id}/tasks/I.A.3").text
    assert "within the sign-more window" in history
    # "Done" ends the turn, and with it the window.
    browser.post("/tablet/done")
    assert sign(browser, assigned.id, "I.A.4").status_code == 303 and len(signed(clean_db)) == 2


def test_the_window_closes_after_its_minutes(browser, world, assigned, clean_db, monkeypatch):
    shop_options(clean_db, world.shop, tablet_window=True, tablet_window_minutes=3)
    mentor_on_tablet(browser, world)
    sign(browser, assigned.id, "I.A.1")
    move_clock(monkeypatch, 3.5)
    late = sign(browser, assigned.id, "I.A.3")
    assert late.status_code == 400 and "minutes for signing without the PIN are over" in late.text
    assert len(signed(clean_db)) == 1


def _assign_second_mentee(db, world, assigned):
    """The same list for the shop's second mentee, Uma."""
    from mentoring.access.policy import Actor
    from mentoring.people import roster
    from mentoring.progress import customize
    from mentoring.progress.customize import AssignmentIn
    second_triad = next(t for t in roster.triads_at(db, {world.shop.id}) if t.mentee.id == world.mentee2.id).triad
    other = customize.assign(db, Actor(None, "t", True), world.shop, AssignmentIn(
        triad_id=second_triad.id, version_id=assigned.version_id, start_date="2026-09-01"))
    db.commit()
    return other


def test_the_window_covers_only_the_mentee_just_signed(browser, world, db, assigned, clean_db):
    other = _assign_second_mentee(db, world, assigned)
    # Milo may sign for Uma (any mentor signs here), but not inside a window opened for Tess.
    shop_options(clean_db, world.shop, tablet_window=True, any_mentor_signs=True)
    mentor_on_tablet(browser, world)
    sign(browser, assigned.id, "I.A.1")
    refused = sign(browser, other.id, "I.A.1")
    assert refused.status_code == 400 and "only for the mentee you just signed for" in refused.text
    assert len(signed(clean_db)) == 1


def test_turning_the_window_off_closes_open_windows(browser, world, assigned, clean_db):
    shop_options(clean_db, world.shop, tablet_window=True)
    mentor_on_tablet(browser, world)
    sign(browser, assigned.id, "I.A.1")
    shop_options(clean_db, world.shop, tablet_window=False)
    assert sign(browser, assigned.id, "I.A.3").status_code == 400 and len(signed(clean_db)) == 1


def test_the_admin_sets_the_window_in_the_shop_settings(browser, world, clean_db):
    browser.login(world.admin.email)
    form = browser.get(f"/admin/orgs/{world.shop.id}/edit").text
    assert 'name="tablet_window"' in form and 'name="tablet_window_minutes"' in form and 'value="3"' in form
    base = {"name": "Riverside Toyota", "kind": "dealership", "timezone": "America/Chicago"}
    bad = browser.post(f"/admin/orgs/{world.shop.id}/edit", {**base, "tablet_window": "on",
                                                             "tablet_window_minutes": "30"})
    assert bad.status_code == 400 and "between 2 and 10" in field_error(bad.text, "tablet_window_minutes")
    assert browser.post(f"/admin/orgs/{world.shop.id}/edit", {**base, "tablet_window": "on",
                                                              "tablet_window_minutes": "5"}).status_code == 303
    with clean_db.session() as db:
        shop = db.get(Organization, world.shop.id)
        assert (shop.tablet_window, shop.tablet_window_minutes) == (True, 5)
    browser.post(f"/admin/orgs/{world.shop.id}/edit", base)
    with clean_db.session() as db:
        assert db.get(Organization, world.shop.id).tablet_window is False


# --- practice for a chosen day (phones: yesterday's practice) -----------------------------------------

def test_practice_is_logged_for_today_or_the_last_two_weeks(clean_db, world, assigned, monkeypatch):
    import pytest

    from mentoring.errors import FormError

    from .conftest import actor_for
    mentee = actor_for(clean_db, world.mentee)
    first_day, today = signoffs.practice_days("America/Chicago")
    with clean_db.session(write=True) as db:
        for day, problem in [(today + timedelta(days=1), "not the future"), (first_day - timedelta(days=1),
                             "last 14 days"), ("yesterday", "as a date")]:
            with pytest.raises(FormError) as refused:
                signoffs.log_practice(db, mentee, assigned.id, "I.A.1", hours="1", day=str(day))
            assert problem in refused.value.errors["day"]
        event = signoffs.log_practice(db, mentee, assigned.id, "I.A.1", hours="1", day=first_day.isoformat())
        assert event.practiced_on == first_day
        db.commit()
    with clean_db.session() as db:
        assert signoffs.verify_chains(db) == []  # the day is part of the event's hash
    move_clock(monkeypatch, 24 * 60)  # a day later the same first day is too old
    with clean_db.session(write=True) as db, pytest.raises(FormError):
        signoffs.log_practice(db, mentee, assigned.id, "I.A.1", hours="1", day=first_day.isoformat())


def test_the_practice_form_takes_a_day(browser, world, assigned, clean_db):
    browser.login(world.mentee.email)
    yesterday = signoffs.practice_days("America/Chicago")[1] - timedelta(days=1)
    page = browser.get(f"/assignments/{assigned.id}/tasks/I.A.1").text
    assert 'type="date"' in page and 'inputmode="decimal"' in page
    done = browser.post(f"/assignments/{assigned.id}/tasks/I.A.1/practice", {"hours": "2", "day": str(yesterday)})
    assert done.status_code == 303
    refused = browser.post(f"/assignments/{assigned.id}/tasks/I.A.1/practice", {"hours": "2", "day": "2020-01-01"})
    assert refused.status_code == 400 and "last 14 days" in field_error(refused.text, "day")
    with clean_db.session() as db:
        [event] = db.exec(select(ProgressEvent).where(ProgressEvent.kind == "practice")).all()
        assert event.practiced_on == yesterday


def test_the_group_sign_off_keeps_to_the_windows_mentee(browser, world, db, assigned, clean_db):
    other = _assign_second_mentee(db, world, assigned)
    shop_options(clean_db, world.shop, tablet_window=True, any_mentor_signs=True)
    mentor_on_tablet(browser, world)
    sign(browser, assigned.id, "I.A.1")
    response = browser.post("/group-signoff", {"code": "0.A.3", "assignment_ids": [str(assigned.id), str(other.id)],
                                               "rating": "3"})
    assert response.status_code == 200 and "only for the mentee you just signed for" in response.text
    assert [(e.assignment_id, e.in_window) for e in signed(clean_db)][1:] == [(assigned.id, True)]
