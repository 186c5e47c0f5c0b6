"""Offline sign-offs sent from a shop tablet (issue #15): POST /tablet/offline/events and the conflicts page.

The tablet side is played here by hand, as the contract describes it: the PIN-derived key K comes from the
verifier made at an online unlock (its salt and iterations), and each event carries HMAC-SHA256(K, canonical)."""

import hashlib
import hmac
import io
import json
import threading
import uuid

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlmodel import select

from mentoring.access import offline
from mentoring.access.models import OfflineVerifier, TabletDevice
from mentoring.progress import customize, signoffs
from mentoring.progress.customize import AssignmentIn
from mentoring.progress.models import EvidencePhoto, OfflineConflict, ProgressEvent
from mentoring.trail.models import AuditEntry
from web.cli import main

from .conftest import actor_for, count_rows

PIN = "2580"


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 40, 40)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def second(db, world, assigned):
    """Uma Mentee (Nina Mentor's) on the same list."""
    from mentoring.access.policy import Actor
    from mentoring.people.models import Triad

    triad = db.exec(select(Triad).where(Triad.mentee_id == world.mentee2.id)).one()
    assignment = customize.assign(db, Actor(None, "test", True), world.shop, AssignmentIn(
        triad_id=triad.id, version_id=assigned.version_id, start_date="2026-09-01"))
    db.commit()
    return assignment


def enroll(browser, world, clean_db, name="Bay 3") -> int:
    browser.login(world.manager.email)
    assert browser.post(f"/shops/{world.shop.id}/tablets", {"name": name}).status_code == 303
    with clean_db.session() as db:
        return max(db.exec(select(TabletDevice.id)).all())


def unlock(browser, person, pin=PIN):
    """An online unlock makes the (tablet, mentor) verifier; the turn then ends."""
    assert browser.post(f"/tablet/mentors/{person.id}", {"pin": pin}).status_code == 303
    assert browser.post("/tablet/done").status_code == 303


def key(clean_db, device_id, person, pin=PIN) -> bytes:
    with clean_db.session() as db:
        v = db.exec(select(OfflineVerifier).where(OfflineVerifier.device_id == device_id,
                                                  OfflineVerifier.person_id == person.id)).one()
        return offline.derive(pin, bytes.fromhex(v.salt), v.iterations)


def event(device_id, mentor, assignment, code, *, k, photo=b"", base_version=0, **over) -> tuple[dict, dict]:
    fields = {"idempotency_key": str(uuid.uuid4()), "device_id": device_id, "mentor_id": mentor.id,
              "assignment_id": assignment.id, "task_code": code, "rating": 4, "note": "Watched on the lift · ok",
              "ro_number": "RO-77", "vin": "", "device_time": "2026-12-02T09:15:00.000Z",
              "base_version": base_version, "photo_sha256": hashlib.sha256(photo).hexdigest() if photo else ""}
    fields.update(over)
    proof = hmac.new(k, offline.canonical_event(fields), hashlib.sha256).hexdigest()
    form = {name: str(value) for name, value in fields.items()} | {"proof": proof}
    files = {"photo": ("photo.jpg", photo, "image/jpeg")} if photo else {"photo": ("", b"", "application/octet-stream")}
    return form, files


def send(browser, form, files):
    token = browser.client.cookies.get("csrftoken", "")
    return browser.client.post("/tablet/offline/events", data=form, files=files, headers={"x-csrftoken": token},
                               follow_redirects=False)


def stored(clean_db):
    with clean_db.session() as db:
        return (db.exec(select(ProgressEvent).order_by(ProgressEvent.id)).all(),
                db.exec(select(EvidencePhoto)).all(), db.exec(select(OfflineConflict)).all())


def chains(clean_db) -> list:
    with clean_db.session() as db:
        return signoffs.verify_chains(db)


def audit_verify(monkeypatch, database_url, tmp_path) -> str:
    monkeypatch.setenv("MENTORING_DATABASE_URL", database_url)
    monkeypatch.setenv("MENTORING_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def tablet_with_keys(browser, world, assigned, second, clean_db):
    device_id = enroll(browser, world, clean_db)
    unlock(browser, world.mentor)
    unlock(browser, world.mentor2)
    return device_id, key(clean_db, device_id, world.mentor), key(clean_db, device_id, world.mentor2)


def test_three_offline_signoffs_for_two_mentees_are_stored_once_each_and_chains_verify(
        app, browser, world, assigned, second, clean_db, tablet_with_keys, monkeypatch, database_url, tmp_path):
    device_id, milo, nina = tablet_with_keys
    photo = jpeg()
    queue = [event(device_id, world.mentor, assigned, "I.A.1", k=milo, photo=photo),
             event(device_id, world.mentor, assigned, "I.A.3", k=milo, device_time="2026-12-02T09:20:00Z"),
             event(device_id, world.mentor2, second, "I.A.1", k=nina, rating=3)]
    answers = [send(browser, *e) for e in queue]
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    assert all(a.json()["status"] == "stored" for a in answers)
    again = [send(browser, *e) for e in queue]  # the acknowledgements were lost: the tablet sends all again
    assert [a.status_code for a in again] == [200, 200, 200]
    assert [a.json() for a in again] == [{"status": "duplicate", "event_id": a.json()["event_id"]} for a in answers]

    events, photos, conflicts = stored(clean_db)
    assert len(events) == 3 and len(photos) == 1 and conflicts == []
    first = events[0]
    assert (first.kind, first.actor_id, first.rating, first.ro_number, first.tablet_id) == (
        "signoff", world.mentor.id, 4, "RO-77", device_id)
    assert first.device_time.isoformat() == "2026-12-02T09:15:00+00:00"
    assert first.device == "shop tablet: Bay 3" and first.idempotency_key == queue[0][0]["idempotency_key"]
    assert photos[0].event_id == first.id
    assert {e.actor_id for e in events} == {world.mentor.id, world.mentor2.id}
    assert chains(clean_db) == []
    browser.login(world.mentor.email)
    history = browser.get(f"/assignments/{assigned.id}/tasks/I.A.1").text
    assert "signed offline at" in history and "RO RO-77" in history
    assert "3 events, every chain intact" in audit_verify(monkeypatch, database_url, tmp_path)
    # Sent twice at the same moment: the second waits for the first (the assignment's lock, and the key's
    # unique index behind it) and answers "duplicate".
    assert send_twice_at_once(app, browser, event(device_id, world.mentor2, second, "I.A.3", k=nina)) == [200, 201]
    assert len(stored(clean_db)[0]) == 4
    # The device time is inside the hash: changing it breaks the chain.
    with clean_db.transaction() as db:
        row = db.get(ProgressEvent, first.id)
        row.device_time = row.device_time.replace(hour=10)
        db.add(row)
    assert [b.event_id for b in chains(clean_db)] == [first.id]


def send_twice_at_once(app, browser, queued) -> list[int]:
    """Two copies of one event in flight together (a retry while the first is still on its way)."""
    from litestar.testing import TestClient

    results = []
    clients = [TestClient(app=app, cookies=dict(browser.client.cookies)) for _ in range(2)]

    def post(client):
        results.append(client.post("/tablet/offline/events", data=queued[0], files=queued[1],
                                   headers={"x-csrftoken": browser.client.cookies["csrftoken"]}).status_code)

    with clients[0], clients[1]:
        threads = [threading.Thread(target=post, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return sorted(results)


def test_refusals_store_nothing_but_an_audit_entry(browser, other_browser, world, assigned, second, clean_db,
                                                   tablet_with_keys):
    device_id, milo, nina = tablet_with_keys
    before = count_rows(clean_db)

    wrong_pin = event(device_id, world.mentor, assigned, "I.A.1", k=key(clean_db, device_id, world.mentor, "1111"))
    answer = send(browser, *wrong_pin)
    assert answer.status_code == 403 and answer.json()["status"] == "refused"
    assert "PIN" in answer.json()["detail"]
    # Nina's key on Milo's event: a proof by another mentor is a wrong PIN too.
    assert send(browser, *event(device_id, world.mentor, assigned, "I.A.1", k=nina)).status_code == 403
    # Another enrolled tablet of the shop cannot send this tablet's events, nor this one another's.
    other_id = enroll(other_browser, world, clean_db, "Bay 4")
    assert send(other_browser, *event(device_id, world.mentor, assigned, "I.A.1", k=milo)).status_code == 403
    assert send(browser, *event(other_id, world.mentor, assigned, "I.A.1", k=milo)).status_code == 403
    # A mentee never signs, even with a key of their own making.
    assert send(browser, *event(device_id, world.mentee, assigned, "I.A.1", k=milo)).status_code == 403
    # The photo must be the signed one.
    photo = jpeg()
    form, files = event(device_id, world.mentor, assigned, "I.A.1", k=milo, photo=photo)
    files["photo"] = ("photo.jpg", photo + b"x", "image/jpeg")
    mismatch = send(browser, form, files)
    assert mismatch.status_code == 422 and "photo" in mismatch.json()["errors"]
    # Malformed fields: 422 with a JSON body naming them, never a 500.
    for bad in ({"rating": "four"}, {"assignment_id": "-1"}, {"device_time": "yesterday"},
                {"device_time": "2026-12-02T09:15:00+02:00"}, {"idempotency_key": "not-a-uuid"},
                {"photo_sha256": "XYZ"}, {"proof": "00"}, {"task_code": ""}, {"base_version": "1e9"},
                {"assignment_id": "9" * 13}):
        form, files = event(device_id, world.mentor, assigned, "I.A.1", k=milo)
        form.update(bad)
        answer = send(browser, form, files)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["status"] == "invalid" and set(answer.json()["errors"]) == set(bad)
    missing = {k: v for k, v in event(device_id, world.mentor, assigned, "I.A.1", k=milo)[0].items() if k != "vin"}
    assert send(browser, missing, {"photo": ("", b"", "application/octet-stream")}).status_code == 422
    # A valid proof over an unknown assignment, a task not on the list, a rule the shop holds: refused too.
    assert send(browser, *event(device_id, world.mentor, assigned, "I.A.1", k=milo,
                                assignment_id=999999)).status_code == 403
    assert send(browser, *event(device_id, world.mentor, second, "I.A.1", k=milo)).status_code == 403  # not his
    na = send(browser, *event(device_id, world.mentor, assigned, "I.A.2", k=milo))  # not applicable here
    assert na.status_code == 422 and "not applicable" in na.json()["detail"]

    after = count_rows(clean_db)
    grown = {t for t in after if after[t] != before[t]}
    assert grown <= {"auditentry", "tabletdevice", "websession"}, grown  # Bay 4 enrolled, and the manager's session
    with clean_db.session() as db:
        refusals = db.exec(select(AuditEntry).where(AuditEntry.action == "offline.refused")).all()
    assert len(refusals) >= 15 and all(json.loads(r.detail)["status"] in (403, 422) for r in refusals)

    # A revoked tablet, and a tablet without its cookie, are refused whatever they send.
    valid = event(device_id, world.mentor, assigned, "I.A.1", k=milo)
    with clean_db.transaction() as db:
        device = db.get(TabletDevice, device_id)
        from mentoring.access import tablets
        tablets.revoke(db, actor_for(clean_db, world.manager), device)
    assert send(browser, *valid).status_code == 403
    assert stored(clean_db)[0] == []


def test_an_offline_signoff_after_an_online_one_is_a_conflict_the_manager_settles(
        browser, world, assigned, clean_db, tablet_with_keys, monkeypatch, database_url, tmp_path):
    device_id, milo, _ = tablet_with_keys
    with clean_db.transaction() as db:  # Milo himself, on his phone, while the tablet was offline
        online = signoffs.sign_off(db, actor_for(clean_db, world.mentor), assigned.id, "I.A.1", rating=5, pin=PIN)
    photo = jpeg()
    queued = event(device_id, world.mentor, assigned, "I.A.1", k=milo, photo=photo, base_version=0)
    answer = send(browser, *queued)
    assert answer.status_code == 409 and answer.json()["status"] == "conflict"
    conflict_id = answer.json()["conflict_id"]
    assert send(browser, *queued).json() == {"status": "duplicate", "conflict_id": conflict_id}
    events, photos, conflicts = stored(clean_db)
    assert [e.id for e in events if e.kind == "signoff"] == [online.id] and photos == []
    [conflict] = conflicts
    assert (conflict.rating, conflict.mentor_id, conflict.tablet_id, conflict.photo_size > 0) == (
        4, world.mentor.id, device_id, True)
    assert json.loads(conflict.server_state)["signoff"]["id"] == online.id

    browser.client.cookies.clear()
    browser.login(world.manager.email)
    dashboard = browser.get("/manager").text
    assert f'href="/shops/{world.shop.id}/offline-conflicts"' in dashboard
    assert "1 offline sign-off to settle" in dashboard
    listed = browser.get(f"/shops/{world.shop.id}/offline-conflicts").text
    assert f"/offline-conflicts/{conflict_id}" in listed and "open" in listed
    detail = browser.get(f"/offline-conflicts/{conflict_id}").text
    assert "Signed offline on Bay 3" in detail and "On record when it arrived" in detail and "RO-77" in detail
    assert 'value="signed"' not in detail  # the task is signed: the offline one cannot replace that sign-off
    assert browser.get(f"/offline-conflicts/{conflict_id}/photo?thumb=true").status_code == 200
    assert browser.post(f"/offline-conflicts/{conflict_id}", {"choice": "signed"}).status_code == 400
    assert browser.post(f"/offline-conflicts/{conflict_id}", {"choice": "noted"}).status_code == 303
    assert browser.post(f"/offline-conflicts/{conflict_id}", {"choice": "kept"}).status_code == 400  # once

    events, _, [conflict] = stored(clean_db)
    note = events[-1]
    assert (note.kind, note.actor_id, conflict.resolution, conflict.resolution_event_id) == (
        "comment", world.manager.id, "noted", note.id)
    assert "Offline sign-off by Milo Mentor on Bay 3" in note.note
    assert [e.id for e in events if e.kind == "signoff"] == [online.id]
    assert "0 offline sign-offs" not in browser.get("/manager").text  # the chip goes once nothing is open
    with clean_db.session() as db:
        assert db.exec(select(AuditEntry).where(AuditEntry.action == "offline.resolve")).one()
    assert "every chain intact" in audit_verify(monkeypatch, database_url, tmp_path)


def test_after_a_revoke_the_mentor_may_sign_the_task_with_the_offline_signoff(
        browser, other_browser, world, assigned, clean_db, tablet_with_keys):
    device_id, milo, _ = tablet_with_keys
    mentor, manager = actor_for(clean_db, world.mentor), actor_for(clean_db, world.manager)
    with clean_db.transaction() as db:
        first = signoffs.sign_off(db, mentor, assigned.id, "I.A.1", rating=2, pin=None)
    photo = jpeg()
    queued = event(device_id, world.mentor, assigned, "I.A.1", k=milo, photo=photo, base_version=first.id)
    with clean_db.transaction() as db:
        signoffs.revoke(db, manager, assigned.id, "I.A.1", reason="Wrong mentee")
    answer = send(browser, *queued)
    assert answer.status_code == 409
    conflict_id = answer.json()["conflict_id"]
    # Practice logged meanwhile is no conflict: the mentor's observation still stands.
    with clean_db.transaction() as db:
        signoffs.log_practice(db, actor_for(clean_db, world.mentee), assigned.id, "I.A.3", hours="1")
    assert send(browser, *event(device_id, world.mentor, assigned, "I.A.3", k=milo, base_version=0)).status_code == 201
    wrong_base = send(browser, *event(device_id, world.mentor, assigned, "I.A.3", k=milo, base_version=999999))
    assert wrong_base.status_code == 422 and "base_version" in wrong_base.json()["errors"]

    other_browser.login(world.mentor2.email)  # another mentor of the shop sees nothing of it
    assert other_browser.get(f"/offline-conflicts/{conflict_id}").status_code == 404
    assert f"/offline-conflicts/{conflict_id}" not in other_browser.get(
        f"/shops/{world.shop.id}/offline-conflicts").text
    browser.client.cookies.clear()
    browser.login(world.mentor.email)
    assert 'value="signed"' in browser.get(f"/offline-conflicts/{conflict_id}").text
    assert browser.post(f"/offline-conflicts/{conflict_id}", {"choice": "signed"}).status_code == 303
    events, photos, [conflict] = stored(clean_db)
    signed = events[-1]
    assert (signed.kind, signed.actor_id, signed.rating, signed.tablet_id, conflict.resolution_event_id) == (
        "signoff", world.mentor.id, 4, device_id, signed.id)
    assert signed.device_time is not None and signed.idempotency_key is None
    assert [p.event_id for p in photos] == [signed.id]
    assert chains(clean_db) == []

