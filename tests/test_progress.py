"""Progress events: rules, derived state, the hash chain and concurrent sign-offs."""

import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlmodel import select

from mentoring.errors import FormError, NotFound
from mentoring.progress import signoffs
from mentoring.progress.evidence import Evidence
from mentoring.progress.models import ProgressEvent
from mentoring.trail.models import AuditEntry
from web.cli import main

from .conftest import actor_for, count_rows


def _write(database, fn):
    with database.session(write=True) as db:
        result = fn(db)
        db.commit()
        return result


def test_a_task_moves_from_practice_to_ready_to_signed(clean_db, world, assigned):
    mentee, mentor = actor_for(clean_db, world.mentee), actor_for(clean_db, world.mentor)
    _write(clean_db, lambda db: signoffs.log_practice(db, mentee, assigned.id, "I.A.1", hours="1.5"))
    _write(clean_db, lambda db: signoffs.request_signoff(db, mentee, assigned.id, "I.A.1"))
    event = _write(clean_db, lambda db: signoffs.sign_off(db, mentor, assigned.id, "I.A.1", rating=4, pin="2580",
                                                          evidence=Evidence(ro_number="RO-1182",
                                                                            vin="1HGCM82633A004352")))
    assert (event.actor_name, event.meaning, event.rating, event.vin) == (
        "Milo Mentor", "performed and observed", 4, "1HGCM82633A004352")
    with clean_db.session() as db:
        state = signoffs.task_states(signoffs.events_of(db, assigned.id))["I.A.1"]
        assert state.status == "signed" and state.minutes == 90 and state.signoff.id == event.id
        actions = db.exec(select(AuditEntry.action).where(AuditEntry.action.like("event.%"))).all()
        assert actions == ["event.practice", "event.ready", "event.signoff"]


def test_a_revoke_needs_a_reason_and_reopens_the_task(clean_db, world, assigned):
    mentor, manager = actor_for(clean_db, world.mentor), actor_for(clean_db, world.manager)
    _write(clean_db, lambda db: signoffs.sign_off(db, mentor, assigned.id, "I.A.1", rating=3, pin="2580"))
    with pytest.raises(FormError, match="Say why"):
        _write(clean_db, lambda db: signoffs.revoke(db, manager, assigned.id, "I.A.1", reason=" "))
    _write(clean_db, lambda db: signoffs.revoke(db, manager, assigned.id, "I.A.1", reason="Signed the wrong task"))
    with clean_db.session() as db:
        states = signoffs.task_states(signoffs.events_of(db, assigned.id))
        assert states["I.A.1"].status == "not_started" and states["I.A.1"].signoff is None
        assert [e.kind for e in states["I.A.1"].events] == ["signoff", "revoke"]  # nothing was deleted


@pytest.mark.parametrize("case, match", [
    ("not applicable", "marked not applicable"),
    ("wrong pin", "PIN is not right"),
    ("bad rating", "rating from 1 to 5"),
])
def test_bad_sign_offs_are_refused_and_store_nothing(clean_db, world, assigned, case, match):
    mentor = actor_for(clean_db, world.mentor)
    code, pin, rating = {"not applicable": ("I.A.2", "2580", 3), "wrong pin": ("I.A.1", "1111", 3),
                         "bad rating": ("I.A.1", "2580", 9)}[case]
    before = count_rows(clean_db)
    with pytest.raises(FormError, match=match):
        _write(clean_db, lambda db: signoffs.sign_off(db, mentor, assigned.id, code, rating=rating, pin=pin))
    assert count_rows(clean_db) == before


def test_a_mentor_from_another_shop_cannot_sign(clean_db, world, assigned):
    outsider = actor_for(clean_db, world.other_mentor)
    with pytest.raises(NotFound):
        _write(clean_db, lambda db: signoffs.sign_off(db, outsider, assigned.id, "I.A.1", rating=3, pin="2580"))


def test_safety_tasks_first_when_the_shop_asks_for_it(clean_db, world, assigned):
    from mentoring.people.models import Organization
    _write(clean_db, lambda db: db.get(Organization, world.shop.id).__setattr__("safety_first", True))
    mentor = actor_for(clean_db, world.mentor)
    with pytest.raises(FormError, match="signs the safety tasks first"):
        _write(clean_db, lambda db: signoffs.sign_off(db, mentor, assigned.id, "I.A.1", rating=3, pin="2580"))
    _write(clean_db, lambda db: signoffs.sign_off(db, mentor, assigned.id, "0.A.1", rating=3, pin="2580"))


def test_countersignatures_carry_their_meaning(clean_db, world, assigned):
    mentor, manager = actor_for(clean_db, world.mentor), actor_for(clean_db, world.manager)
    instructor = actor_for(clean_db, world.instructor)
    _write(clean_db, lambda db: signoffs.sign_off(db, mentor, assigned.id, "I.A.1", rating=3, pin="2580"))
    approved = _write(clean_db, lambda db: signoffs.countersign(db, manager, assigned.id, "I.A.1"))
    verified = _write(clean_db, lambda db: signoffs.countersign(db, instructor, assigned.id, "I.A.1"))
    assert (approved.meaning, verified.meaning) == ("approved by manager", "verified by instructor")
    with pytest.raises(FormError, match="already approved"):
        _write(clean_db, lambda db: signoffs.countersign(db, manager, assigned.id, "I.A.1"))


def test_changing_a_stored_event_breaks_the_chain_and_verify_names_it(clean_db, world, assigned, database_url,
                                                                      monkeypatch, tmp_path):
    mentor, mentee = actor_for(clean_db, world.mentor), actor_for(clean_db, world.mentee)
    _write(clean_db, lambda db: signoffs.log_practice(db, mentee, assigned.id, "I.A.1", hours=2))
    signed = _write(clean_db, lambda db: signoffs.sign_off(db, mentor, assigned.id, "I.A.1", rating=3, pin="2580"))
    _write(clean_db, lambda db: signoffs.comment(db, mentee, assigned.id, "I.A.1", note="Thanks!"))
    monkeypatch.setenv("MENTORING_DATABASE_URL", database_url)
    monkeypatch.setenv("MENTORING_DATA_DIR", str(tmp_path))
    ok = CliRunner().invoke(main, ["audit", "verify"])
    assert ok.exit_code == 0 and "3 events, every chain intact" in ok.output
    with clean_db.engine.begin() as conn:  # someone edits the database behind the app's back
        conn.execute(text("UPDATE progressevent SET rating = 5 WHERE id = :id"), {"id": signed.id})
    bad = CliRunner().invoke(main, ["audit", "verify"])
    assert bad.exit_code == 1
    assert f"event #{signed.seq} (id {signed.id})" in bad.output and "changed after it was written" in bad.output


def test_deleting_an_event_breaks_the_chain(clean_db, world, assigned):
    mentee = actor_for(clean_db, world.mentee)
    first = _write(clean_db, lambda db: signoffs.log_practice(db, mentee, assigned.id, "I.A.1", hours=1))
    _write(clean_db, lambda db: signoffs.log_practice(db, mentee, assigned.id, "I.A.1", hours=1))
    with clean_db.engine.begin() as conn:
        conn.execute(text("DELETE FROM auditentry"))
        conn.execute(text("DELETE FROM progressevent WHERE id = :id"), {"id": first.id})
    with clean_db.session() as db:
        [link] = signoffs.verify_chains(db)
    assert link.seq == 2 and "missing" in link.problem


def test_32_simultaneous_sign_offs_record_one(clean_db, world, assigned):
    from mentoring.people.models import Organization
    # Two mentors race: the shop lets any of its mentors sign (after a group demonstration, say).
    _write(clean_db, lambda db: db.get(Organization, world.shop.id).__setattr__("any_mentor_signs", True))
    mentors = [actor_for(clean_db, world.mentor), actor_for(clean_db, world.mentor2)]
    barrier = threading.Barrier(32)
    outcomes: list = []

    def sign(i):
        barrier.wait()
        try:
            _write(clean_db, lambda db: signoffs.sign_off(db, mentors[i % 2], assigned.id, "0.A.1", rating=3,
                                                          pin=None))
            outcomes.append("signed")
        except signoffs.AlreadySigned as refused:
            outcomes.append(str(refused))
        except Exception as exc:  # anything else is a failure of the rule
            outcomes.append(f"ERROR {exc!r}")

    threads = [threading.Thread(target=sign, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("signed") == 1
    refusals = [o for o in outcomes if o != "signed"]
    assert len(refusals) == 31 and all(o.startswith("Already signed by ") for o in refusals), refusals[:3]
    with clean_db.session() as db:
        signed = db.exec(select(ProgressEvent).where(ProgressEvent.kind == "signoff")).all()
        assert len(signed) == 1
        assert signoffs.verify_chains(db) == []
