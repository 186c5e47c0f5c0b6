"""Issue #18, sponsor's side: wage steps triggered by approved OJL hours and by credentials, the manager-only wage
schedule, the sponsor CSV exports, the completion certificate PDF (verified like a record) and the demo."""

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader  # pypdf, a PDF reader we did not write
from sqlmodel import select

from exports import formats, verify
from exports.models import CompletionRecord, IssuedCredential
from mentoring.clock import utcnow
from mentoring.oversight import payplan, wages
from mentoring.oversight.models import PayStep
from mentoring.people.models import Triad
from mentoring.progress import hours
from mentoring.progress.models import Apprenticeship, HoursEntry, RtiRecord

from .conftest import actor_for
from .test_hours import make_apprenticeship


@pytest.fixture
def program(db, world, assigned, clean_db):
    triad = db.get(Triad, world.triad.id)
    app = make_apprenticeship(db, triad, hours.week_start(hours.today_at(world.shop)) - timedelta(days=14))
    db.add(RtiRecord(apprenticeship_id=app.id, term="Fall 2026", course="AUT 121 Brake Systems", hours=72,
                     result="B+", recorded_by_name="Ivy Instructor"))
    db.commit()
    return {"triad": triad, "app": app, "mentee": actor_for(clean_db, world.mentee),
            "mentor": actor_for(clean_db, world.mentor), "manager": actor_for(clean_db, world.manager)}


def _step(db, p, **fields) -> PayStep:
    step = payplan.add_pay_step(db, p["manager"], p["triad"], {"title": "Step", "amount": "1.25", **fields})
    db.commit()
    return step


def _approved(db, p, day, area, h) -> HoursEntry:
    entry = hours.log_hours(db, p["mentee"], p["triad"].id, day=day, area=area, hours=h)
    db.commit()
    return entry


def _row(db, p, step):
    return next(r for r in wages.schedule_of(db, p["manager"], p["triad"], None) if r.step.id == step.id)


def test_the_hours_trigger_is_due_once_approved_hours_reach_it_and_not_before(db, program):
    p = program
    step = _step(db, p, milestone="ojl_hours", milestone_hours="12")
    start = p["app"].start_date
    first = _approved(db, p, start, "I", "8")
    hours.approve(db, p["mentor"], first.id)
    db.commit()
    pending = _approved(db, p, start + timedelta(days=1), "V", "5")  # logged, not approved: does not count
    row = _row(db, p, step)
    assert (row.status, row.due_on, row.progress) == ("planned", None, "8 of 12 h")
    assert "approved OJL hours" in row.trigger and row.rate == "+$1.25/h"
    hours.approve(db, p["manager"], pending.id)
    db.commit()
    row = _row(db, p, step)
    assert row.status == "due" and row.due_on == utcnow().date() and row.applied_on is None
    payplan.decide(db, p["manager"], step, {"decision": "applied", "effective_on": start.isoformat()})
    db.commit()
    row = _row(db, p, step)
    assert (row.status, row.applied_on) == ("applied", start)


def test_the_credential_trigger_is_due_when_a_credential_stands_for_the_area(db, program, assigned):
    p = program
    any_step = _step(db, p, milestone="credential")
    brakes = _step(db, p, milestone="credential", milestone_area="v")
    assert {_row(db, p, s).status for s in (any_step, brakes)} == {"planned"}
    cred = IssuedCredential(uuid="0" * 36, assignment_id=assigned.id, mentee_id=p["triad"].mentee_id,
                            issuer_id=p["triad"].shop_id, kind="area", achievement_key="area:I", name="Engine",
                            token="x")
    db.add(cred)
    db.commit()
    assert (_row(db, p, any_step).status, _row(db, p, brakes).status) == ("due", "planned")
    assert _row(db, p, any_step).due_on == utcnow().date()
    cred.achievement_key, cred.revoked_at = "area:V", utcnow()  # a withdrawn credential triggers nothing
    db.add(cred)
    db.commit()
    assert (_row(db, p, any_step).status, _row(db, p, brakes).status) == ("planned", "planned")


def test_the_wage_schedule_is_shown_to_the_manager_only(db, world, program, browser):
    p = program
    step = _step(db, p, milestone="ojl_hours", milestone_hours="1", amount="3.17")
    hours.approve(db, p["mentor"], _approved(db, p, p["app"].start_date, "I", "2").id)
    db.commit()
    browser.login(world.manager.email)
    html = browser.get(f"/mentees/{world.mentee.id}").text
    assert "Wage schedule of the registered apprenticeship" in html and "+$3.17/h" in html
    assert "1 approved OJL hours" in html and "2 of 1 h" in html
    # Those who follow the mentee see the page, without the schedule; another shop's manager sees no page.
    for person, status in ((world.mentor, 200), (world.instructor, 200), (world.mentee, 200),
                           (world.other_manager, 404)):
        browser.logout()
        browser.login(person.email)
        response = browser.get(f"/mentees/{world.mentee.id}")
        assert response.status_code == status, person.email
        assert "3.17" not in response.text and "Wage schedule" not in response.text
        assert "1 approved OJL hours" not in response.text
    # Shared with the mentee, the step shows on their page as any shared step does, still without the schedule.
    payplan.set_shared(db, p["manager"], step, True)
    db.commit()
    browser.logout()
    browser.login(world.mentee.email)
    html = browser.get(f"/mentees/{world.mentee.id}").text
    assert "+$3.17/h" in html and "Wage schedule" not in html


def test_sponsor_csv_per_program_and_apprentice_has_every_column_and_is_injection_safe(db, world, program, browser):
    p = program
    app = db.get(Apprenticeship, p["app"].id)
    app.occupation, app.occupation_code = "=HYPERLINK(\"http://x\")", "49-3023.00"
    db.add(app)
    step = _step(db, p, title="First raise", milestone="date", milestone_date=app.start_date.isoformat())
    payplan.decide(db, p["manager"], step, {"decision": "applied", "effective_on": app.start_date.isoformat()})
    hours.approve(db, p["mentor"], _approved(db, p, app.start_date, "V", "7.5").id)
    db.commit()
    browser.login(world.manager.email)
    response = browser.get(f"/shops/{world.shop.id}/sponsor.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    raw = response.content.decode("utf-8-sig")
    assert raw.splitlines()[0].split(",")[:3] == ["apprentice_name", "email", "occupation"]
    assert '"\'=HYPERLINK' in raw  # the formula is inert in a spreadsheet
    rows = formats.read_csv(response.content)
    assert len(rows) == 1
    assert rows[0] == {
        "apprentice_name": "Tess Mentee", "email": world.mentee.email, "occupation": "=HYPERLINK(\"http://x\")",
        "occupation_code": "49-3023.00", "program_type": "time-based", "registration_number": "2026-TX-001",
        "start_date": app.start_date.isoformat(), "term_ojl_hours": "8000", "ojl_hours_to_date": "7.5",
        "rti_hours_to_date": "72", "wage_step": "First raise", "wage_step_raise": "+$1.25/h",
        "wage_step_effective": app.start_date.isoformat(), "status": "active",
        "status_date": app.start_date.isoformat(), "sponsor": "Riverside Toyota",
        "prepared_on": utcnow().date().isoformat()}
    assert formats.read_csv(browser.get(f"/shops/{world.shop.id}/sponsor.csv?occupation=Welder").content) == []
    one = formats.read_csv(browser.get(f"/apprenticeships/{app.id}/sponsor.csv").content)
    assert one == rows
    page = browser.get(f"/shops/{world.shop.id}/sponsor").text
    assert "sponsor&#39;s own submission" in page or "sponsor's own submission" in page
    for person in (world.mentor, world.mentee, world.instructor, world.other_manager):
        browser.logout()
        browser.login(person.email)
        for url in (f"/shops/{world.shop.id}/sponsor.csv", f"/apprenticeships/{app.id}/sponsor.csv",
                    f"/shops/{world.shop.id}/sponsor"):
            assert browser.get(url).status_code == 404, (person.full_name, url)


def test_the_completion_certificate_states_hours_rti_and_competencies_and_verifies(db, world, program, assigned,
                                                                                  browser):
    p = program
    hours.approve(db, p["mentor"], _approved(db, p, p["app"].start_date, "V", "6").id)
    db.commit()
    browser.login(world.manager.email)
    response = browser.post(f"/assignments/{assigned.id}/records/certificate", {"paper": "a4"})
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    record = db.exec(select(CompletionRecord).where(CompletionRecord.kind == "certificate")).one()
    for expected in ("Completion certificate", "Tess Mentee", "V Brakes", "1,500", "6.0", "Fall 2026",
                     "AUT 121 Brake Systems", "72", "Competencies signed", record.code, "2026-TX-001"):
        assert expected in text, expected
    assert verify.verify_record_code(db, record.code).status == "current"
    assert verify.verify_bytes(db, response.content).status == "current"
    assert "verification code" in browser.get(f"/verify/{record.code}").text.lower()
    # The record itself is a separate kind: exporting it neither reuses nor supersedes the certificate.
    db.rollback()  # end the read snapshot: the page writes next
    browser.post(f"/assignments/{assigned.id}/records/export", {"format": "json"})
    assert db.get(CompletionRecord, record.id).superseded_at is None
    db.rollback()
    hours.approve(db, p["mentor"], _approved(db, p, p["app"].start_date + timedelta(days=1), "I", "2").id)
    db.commit()
    assert verify.verify_record_code(db, record.code).status == "superseded"  # the hours changed since


def test_no_certificate_without_a_registered_apprenticeship(db, world, assigned, browser):
    browser.login(world.manager.email)
    response = browser.post(f"/assignments/{assigned.id}/records/certificate")
    assert response.status_code == 400 and "not in a registered apprenticeship" in response.text
    assert db.exec(select(CompletionRecord)).first() is None

