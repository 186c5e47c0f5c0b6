"""Registered apprenticeships (issue 18): the program form on a triad, the default work-process split, classroom
hours (RTI) by the consented instructor or the shop, and the one function that totals OJL hours."""

import pytest
from sqlmodel import select

from mentoring.errors import FormError
from mentoring.people.models import Enrollment, Triad
from mentoring.progress import apprenticeship, customize, program, signoffs
from mentoring.progress.customize import AssignmentIn
from mentoring.progress.models import Apprenticeship, HoursEntry, PriorCredit, RtiRecord, WorkProcess
from mentoring.trail.models import AuditEntry
from tasklists.models import ShopTask

from .conftest import actor_for, field_error

FORM = {"kind": "time", "registration_number": "2026-MN-0042", "occupation": "Automotive Service Technician",
        "occupation_code": "49-3023.00", "start_date": "2026-09-01", "term_hours": "8000",
        "probation_hours": "500", "credit_rule": "none", "credit_value": "0", "status": "active"}


def test_default_split_is_proportional_and_sums_to_the_term():
    assert program.default_split(10, [1, 1, 1]) == [4, 3, 3]
    split = program.default_split(8000, [13, 7, 29, 5, 11])
    assert sum(split) == 8000
    assert split[2] > split[0] > split[4] > split[1] > split[3]  # the order of the task counts
    assert abs(split[2] - 8000 * 29 / 65) < 1
    assert program.default_split(5, [0, 0]) == [3, 2]


def test_program_form_round_trip(browser, db, world, assigned):
    browser.login("mara.manager@example.com")
    assert browser.get(f"/admin/triads/{world.triad.id}/program").status_code == 200
    response = browser.post(f"/admin/triads/{world.triad.id}/program", FORM)
    assert response.status_code == 303, response.text
    db.commit()  # a fresh snapshot: the app wrote beside this session
    db.expire_all()
    app = db.exec(select(Apprenticeship).where(Apprenticeship.triad_id == world.triad.id)).one()
    assert (app.kind, app.registration_number, app.term_hours, app.probation_hours, str(app.status_date)) == (
        "time", "2026-MN-0042", 8000, 500, "2026-09-01")
    processes = apprenticeship.work_processes(db, app.id)
    areas = program.list_areas(db, assigned)
    assert [wp.area_code for wp in processes] == [a.code for a in areas]
    # Blank targets: the term split by each area's applicable task count, adding up to the term.
    assert [wp.target_hours for wp in processes] == program.default_split(8000, [a.tasks for a in areas])
    assert sum(wp.target_hours for wp in processes) == 8000
    page = browser.get(f"/admin/triads/{world.triad.id}/program").text
    assert "2026-MN-0042" in page and f'value="{processes[0].target_hours}"' in page
    assert "Program: Time-based" in browser.get(f"/admin/triads/{world.triad.id}").text

    # Editing the schedule on the same form: move 100 hours from the first area to the second.
    before = [(wp.id, wp.target_hours) for wp in processes]
    edited = {**FORM, "kind": "hybrid", "status": "transferred", "status_date": "2026-11-30"}
    edited |= {f"target_{wp.area_code}": str(wp.target_hours) for wp in processes}
    edited[f"target_{processes[0].area_code}"] = str(processes[0].target_hours - 100)
    edited[f"target_{processes[1].area_code}"] = str(processes[1].target_hours + 100)
    assert browser.post(f"/admin/triads/{world.triad.id}/program", edited).status_code == 303
    db.commit()  # a fresh snapshot: the app wrote beside this session
    db.expire_all()
    again = apprenticeship.work_processes(db, app.id)
    assert [wp.id for wp in again] == [i for i, _ in before]  # the same rows: entries keep pointing at them
    assert (again[0].target_hours, again[1].target_hours) == (before[0][1] - 100, before[1][1] + 100)
    assert (db.get(Apprenticeship, app.id).kind, db.get(Apprenticeship, app.id).status) == ("hybrid", "transferred")
    actions = db.exec(select(AuditEntry.action).where(AuditEntry.object_type == "apprenticeship")).all()
    assert actions == ["apprenticeship.create", "apprenticeship.update"]


def test_program_form_refuses_bad_input_with_field_messages(browser, db, world, assigned):
    browser.login("mara.manager@example.com")
    url = f"/admin/triads/{world.triad.id}/program"
    bad = {**FORM, "registration_number": "", "term_hours": "lots", "start_date": "soon"}
    response = browser.post(url, bad)
    assert response.status_code == 400
    for name in ("registration_number", "term_hours", "start_date"):
        assert field_error(response.text, name), name
    response = browser.post(url, {**FORM, "probation_hours": "9000"})
    assert response.status_code == 400 and "shorter than the term" in field_error(response.text, "probation_hours")
    areas = program.list_areas(db, assigned)
    uneven = {**FORM, **{f"target_{a.code}": "10" for a in areas}}
    response = browser.post(url, uneven)
    assert response.status_code == 400 and f"add up to {10 * len(areas)} hours" in response.text
    response = browser.post(url, {**FORM, "kind": "apprentice-ish"})
    assert response.status_code == 400 and field_error(response.text, "kind")
    assert db.exec(select(Apprenticeship)).first() is None


def test_back_to_informal_only_while_nothing_is_recorded(db, clean_db, world, assigned):
    manager = actor_for(clean_db, world.manager)
    triad = db.get(Triad, world.triad.id)
    app = program.save_program(db, manager, triad, FORM)
    program.record_rti(db, actor_for(clean_db, world.instructor), app, {"term": "Fall 2026", "course": "Brakes",
                                                                        "hours": "40"})
    with pytest.raises(FormError) as refused:
        program.save_program(db, manager, triad, {"kind": "informal"})
    assert "cancelled or transferred" in refused.value.errors["kind"]
    assert db.get(Apprenticeship, app.id) is not None


def _program(db, clean_db, world, triad, manager=None):
    app = program.save_program(db, actor_for(clean_db, manager or world.manager), db.get(Triad, triad.id), FORM)
    db.commit()
    return app


def test_rti_recorded_by_the_consented_instructor_only_while_consent_is_on(browser, db, clean_db, world, assigned):
    app = _program(db, clean_db, world, world.triad)
    browser.login("ivy.instructor@example.com")
    term = {"term": "Fall 2026", "course": "Brakes and suspension", "hours": "72", "result": "A"}
    assert browser.post(f"/apprenticeships/{app.id}/rti", term).status_code == 303
    rec = db.exec(select(RtiRecord)).one()
    assert (rec.school_id, rec.hours, rec.recorded_by_name) == (world.school.id, 72, "Ivy Instructor")
    assert apprenticeship.rti_total(db, app.id) == 72
    page = browser.get(f"/apprenticeships/{app.id}").text
    assert 'data-testid="rti-total">72<' in page and 'data-testid="ojl-total">' in page
    assert 'data-testid="rti-summary">72<' in browser.get(f"/mentees/{world.mentee.id}").text
    bad = browser.post(f"/apprenticeships/{app.id}/rti", {**term, "hours": "0", "term": ""})
    assert bad.status_code == 400 and field_error(bad.text, "hours") and field_error(bad.text, "term")

    # The school shares Tess's record, so the shop does not write her classroom hours.
    browser.logout()
    browser.login("mara.manager@example.com")
    assert browser.post(f"/apprenticeships/{app.id}/rti", term).status_code == 403

    # Consent withdrawn: the instructor sees neither the totals nor the page, and cannot record.
    db.commit()  # end this session's read snapshot before writing beside the app
    with clean_db.session(write=True) as w:
        enrollment = w.get(Enrollment, world.consented.id)
        enrollment.consent_active = False
        w.add(enrollment)
        w.commit()
    browser.logout()
    browser.login("ivy.instructor@example.com")
    assert browser.get(f"/apprenticeships/{app.id}").status_code == 404
    assert browser.post(f"/apprenticeships/{app.id}/rti", term).status_code == 404
    assert browser.get(f"/mentees/{world.mentee.id}").status_code == 404
    assert db.exec(select(RtiRecord)).all() == [rec]


def test_the_shop_records_rti_when_the_school_shares_none(browser, db, clean_db, world, assigned):
    peer = db.exec(select(Triad).where(Triad.mentee_id == world.mentee2.id)).one()
    program_assignment = program.current_assignment(db, world.triad.id)
    customize.assign(db, actor_for(clean_db, world.manager), world.shop, AssignmentIn(
        triad_id=peer.id, version_id=program_assignment.version_id, start_date="2026-09-01"))
    db.commit()
    app = _program(db, clean_db, world, peer)
    term = {"term": "Spring 2027", "course": "Electrical", "hours": "36", "result": "pass"}
    browser.login("oscar.manager@example.com")  # another shop's manager
    assert browser.post(f"/apprenticeships/{app.id}/rti", term).status_code == 404
    browser.logout()
    browser.login("ivy.instructor@example.com")  # Uma's instructor, without consent
    assert browser.post(f"/apprenticeships/{app.id}/rti", term).status_code == 404
    browser.logout()
    browser.login("mara.manager@example.com")
    assert browser.post(f"/apprenticeships/{app.id}/rti", term).status_code == 303
    rec = db.exec(select(RtiRecord)).one()
    assert (rec.school_id, rec.hours, rec.result) == (None, 36, "pass")
    assert 'data-testid="rti-summary">36<' in browser.get(f"/mentees/{world.mentee2.id}").text


def test_approved_hours_counts_approved_entries_practice_and_credit(db, clean_db, world, assigned):
    app = _program(db, clean_db, world, world.triad)
    by_area = {wp.area_code: wp for wp in apprenticeship.work_processes(db, app.id)}
    area_of = dict(db.exec(select(ShopTask.code, ShopTask.area_code)
                           .where(ShopTask.version_id == assigned.version_id)).all())
    area = area_of["I.A.1"]
    other_area = next(a for a in by_area if a != area)
    signoffs.log_practice(db, actor_for(clean_db, world.mentee), assigned.id, "I.A.1", hours="1.5")
    for seq, (wp_area, minutes, state) in enumerate([(area, 120, "approved"), (area, 60, "pending"),
                                                     (area, 90, "superseded"), (area, 30, "returned"),
                                                     (other_area, 240, "approved")], start=1):
        db.add(HoursEntry(apprenticeship_id=app.id, seq=seq, work_process_id=by_area[wp_area].id,
                          day=apprenticeship.week_start(apprenticeship.today_in("America/Chicago")),
                          minutes=minutes, state=state,
                          logged_by_id=world.mentee.id, logged_by_name="Tess Mentee", hash=f"{seq:064d}"))
    db.commit()
    totals = apprenticeship.approved_hours(db, app.id)
    assert totals[area] == 120 + 90  # approved entry + practice; pending, superseded and returned do not count
    assert totals[other_area] == 240
    assert sum(totals.values()) == 450
    summary = apprenticeship.hours_summary(db, app)
    assert summary.total_minutes == 450 and summary.pending_minutes == 60
    assert summary.this_week_minutes == 120 + 60 + 240
    assert summary.remaining_hours == 8000 - 7.5

    # Credit for prior learning by the shop's rule: 10 hours per credited task, counted in the task's area.
    app.credit_rule, app.credit_value = "hours_per_task", 10
    db.add(app)
    db.add(PriorCredit(assignment_id=assigned.id, task_code="I.A.3", source="school_csv", issuer_name="Lakeview",
                       issuer_id="did:web:lakeview.example", evidence="row", evidence_sha256="0" * 64))
    db.commit()
    totals = apprenticeship.approved_hours(db, app.id)
    assert totals[area_of["I.A.3"]] == (210 if area_of["I.A.3"] == area else 0) + 600
    assert db.exec(select(WorkProcess)).all()  # schedule kept
