"""The /api/v1 JSON API: token authentication and scope, reading progress, adding events, token admin pages."""

import hashlib
import re

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel, select

from mentoring.access import apitokens
from mentoring.access.models import ApiToken
from mentoring.access.policy import Actor
from mentoring.errors import Forbidden, FormError, NotFound
from mentoring.people import accounts
from mentoring.people.accounts import NewPersonIn
from mentoring.people.models import Membership, Organization, Person
from mentoring.progress.models import ProgressEvent

from .conftest import actor_for, count_rows

V1 = "/api/v1"


def make_token(database, admin, org, person, name: str = "DMS sync") -> str:
    actor = actor_for(database, admin)
    with database.session(write=True) as db:
        _, raw = apitokens.create_token(db, actor, db.get(Organization, org.id), db.get(Person, person.id), name)
        db.commit()
    return raw


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def add_role(database, org, person, role: str) -> None:
    with database.session(write=True) as db:
        accounts.add_member(db, Actor(None, "test", True), db.get(Organization, org.id),
                          NewPersonIn(full_name=person.full_name, email=person.email, role=role))
        db.commit()


@pytest.fixture
def client(browser):
    return browser.client


@pytest.fixture
def tokens(clean_db, world, assigned):
    """Tokens at the world's shop, issued by its admin, and one at the other shop for its admin."""
    return {
        "mentee": make_token(clean_db, world.admin, world.shop, world.mentee),
        "mentor": make_token(clean_db, world.admin, world.shop, world.mentor),
        "manager": make_token(clean_db, world.admin, world.shop, world.manager),
        "other": make_token(clean_db, world.other_manager, world.other_shop, world.other_manager),
    }


def post_event(client, raw, assignment_id, **body):
    return client.post(f"{V1}/assignments/{assignment_id}/events", json=body, headers=bearer(raw))


# --- reading ---------------------------------------------------------------------------------------

def test_a_token_reads_triads_assignments_tasks_and_events(client, world, assigned, tokens):
    mentor, manager = bearer(tokens["mentor"]), bearer(tokens["manager"])

    triads = client.get(f"{V1}/triads", headers=mentor)
    assert triads.status_code == 200, triads.text
    assert [(t["id"], t["mentee"]["full_name"], t["mentor"]["full_name"]) for t in triads.json()] == [
        (world.triad.id, "Tess Mentee", "Milo Mentor")]
    shop_triads = client.get(f"{V1}/triads", headers=manager).json()
    assert {t["mentee"]["full_name"] for t in shop_triads} == {"Tess Mentee", "Uma Mentee"}
    assert {t["shop"]["name"] for t in shop_triads} == {"Riverside Toyota"}

    listed = client.get(f"{V1}/assignments", headers=mentor).json()
    assert [a["id"] for a in listed] == [assigned.id]
    assert listed[0]["task_list"]["name"] == "MLR" and listed[0]["task_list"]["version"] == 1

    detail = client.get(f"{V1}/assignments/{assigned.id}", headers=mentor)
    assert detail.status_code == 200
    body = detail.json()
    assert (body["mentee"]["full_name"], body["shop"]["name"], body["task_list"]["level"]) == (
        "Tess Mentee", "Riverside Toyota", "MLR")
    assert body["counts"]["signed"] == 0 and body["counts"]["not_started"] > 0

    tasks = {t["code"]: t for t in client.get(f"{V1}/assignments/{assigned.id}/tasks", headers=mentor).json()}
    assert tasks["I.A.1"]["status"] == "not_started" and tasks["I.A.1"]["signoff"] is None
    assert tasks["I.A.1"]["statement"] and tasks["I.A.1"]["priority"].startswith("P-")
    assert tasks["I.A.2"]["not_applicable"] is True

    assert client.get(f"{V1}/assignments/{assigned.id}/events", headers=mentor).json() == []


def test_the_openapi_schema_documents_the_api(client):
    schema = client.get("/api/schema/openapi.json").json()
    assert {f"{V1}/triads", f"{V1}/assignments/{{assignment_id}}/events"} <= set(schema["paths"])
    post = schema["paths"][f"{V1}/assignments/{{assignment_id}}/events"]["post"]
    assert {"201", "409"} <= set(post["responses"])
    assert "TaskOut" in schema["components"]["schemas"]
    assert not any(path.endswith("/tokens") or "/tokens/" in path for path in schema["paths"])


# --- writing ---------------------------------------------------------------------------------------

def test_practice_and_sign_off_through_the_api(client, clean_db, world, assigned, tokens):
    practice = post_event(client, tokens["mentee"], assigned.id, task_code="I.A.1", kind="practice", hours=1.5,
                          note="Under the hood with Milo")
    assert practice.status_code == 201, practice.text
    assert (practice.json()["kind"], practice.json()["minutes"], practice.json()["actor_name"]) == (
        "practice", 90, "Tess Mentee")

    signed = post_event(client, tokens["mentor"], assigned.id, task_code="I.A.1", kind="signoff", rating=4,
                        pin="2580", ro_number="RO-1182")
    assert signed.status_code == 201, signed.text
    event = signed.json()
    assert (event["seq"], event["kind"], event["actor_name"], event["meaning"], event["rating"], event["device"]) == (
        2, "signoff", "Milo Mentor", "performed and observed", 4, "api")
    assert event["prev_hash"] == practice.json()["hash"]
    assert event["at"].endswith(("Z", "+00:00"))

    events = client.get(f"{V1}/assignments/{assigned.id}/events", headers=bearer(tokens["manager"])).json()
    assert [(e["seq"], e["kind"]) for e in events] == [(1, "practice"), (2, "signoff")]
    only_new = client.get(f"{V1}/assignments/{assigned.id}/events", params={"after_seq": 1},
                          headers=bearer(tokens["manager"])).json()
    assert [e["seq"] for e in only_new] == [2]

    tasks = {t["code"]: t for t in client.get(f"{V1}/assignments/{assigned.id}/tasks",
                                              headers=bearer(tokens["mentee"])).json()}
    signoff = tasks["I.A.1"]["signoff"]
    assert tasks["I.A.1"]["status"] == "signed" and tasks["I.A.1"]["practice_minutes"] == 90
    assert (signoff["signed_by"], signoff["meaning"], signoff["rating"]) == (
        "Milo Mentor", "performed and observed", 4)

    countersigned = post_event(client, tokens["manager"], assigned.id, task_code="I.A.1", kind="countersign")
    assert countersigned.status_code == 201, countersigned.text
    tasks = {t["code"]: t for t in client.get(f"{V1}/assignments/{assigned.id}/tasks",
                                              headers=bearer(tokens["manager"])).json()}
    assert [(c["signed_by"], c["meaning"]) for c in tasks["I.A.1"]["countersignatures"]] == [
        ("Mara Manager", "approved by manager")]

    with clean_db.session() as db:
        stored = db.exec(select(ProgressEvent).order_by(ProgressEvent.seq)).all()
        assert [(e.kind, e.device) for e in stored] == [("practice", "api"), ("signoff", "api"), ("countersign", "api")]


def test_signing_twice_answers_409_with_who_signed(client, clean_db, world, assigned, tokens):
    first = post_event(client, tokens["mentor"], assigned.id, task_code="I.A.1", kind="signoff", rating=3, pin="2580")
    assert first.status_code == 201
    before = count_rows(clean_db)
    second = post_event(client, tokens["mentor"], assigned.id, task_code="I.A.1", kind="signoff", rating=5,
                        pin="2580")
    assert second.status_code == 409
    body = second.json()
    assert body["status_code"] == 409 and body["signed_by"] == "Milo Mentor" and body["signed_at"]
    assert body["detail"].startswith("Already signed by Milo Mentor at ")
    ready = post_event(client, tokens["mentee"], assigned.id, task_code="I.A.1", kind="ready")
    assert ready.status_code == 409 and ready.json()["signed_by"] == "Milo Mentor"
    assert count_rows(clean_db) == before


@pytest.mark.parametrize("body, field", [
    ({"kind": "signoff", "rating": 9, "pin": "2580"}, "rating"),
    ({"kind": "signoff", "rating": "great", "pin": "2580"}, "rating"),
    ({"kind": "signoff", "rating": 3, "pin": "1111"}, "pin"),
    ({"kind": "signoff", "rating": 3}, "pin"),  # the API always needs the PIN
    ({"kind": "applause"}, "kind"),
    ({"kind": "comment", "note": "  "}, "note"),
    ({"kind": "revoke", "reason": "x"}, ""),  # nothing signed yet
])
def test_bad_events_answer_422_with_field_errors_and_write_nothing(client, clean_db, world, assigned, tokens,
                                                                    body, field):
    before = count_rows(clean_db)
    response = post_event(client, tokens["mentor"], assigned.id, task_code="I.A.1", **body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["status_code"] == 422 and field in answer["errors"]
    assert count_rows(clean_db) == before


def test_unknown_tasks_and_assignments_are_404(client, assigned, tokens):
    assert post_event(client, tokens["mentor"], assigned.id, task_code="Z.Z.9", kind="comment",
                      note="hi").status_code == 404
    assert client.get(f"{V1}/assignments/999999", headers=bearer(tokens["mentor"])).status_code == 404


# --- authentication -----------------------------------------------------------------------------------

def test_no_token_or_a_bad_one_is_401_json(client, assigned):
    for headers in ({}, bearer("mtk_not-a-real-token"), bearer(""), {"Authorization": "Basic Zm9vOmJhcg=="}):
        response = client.get(f"{V1}/assignments/{assigned.id}", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["status_code"] == 401 and response.json()["detail"]
        assert response.headers["www-authenticate"].startswith("Bearer")
    response = client.post(f"{V1}/assignments/{assigned.id}/events", json={"task_code": "I.A.1", "kind": "comment",
                                                                           "note": "hi"})
    assert response.status_code == 401 and response.json()["status_code"] == 401


def test_a_revoked_token_is_refused(client, clean_db, world, assigned, tokens):
    assert client.get(f"{V1}/triads", headers=bearer(tokens["mentor"])).status_code == 200
    admin = actor_for(clean_db, world.admin)
    with clean_db.session(write=True) as db:
        token = db.exec(select(ApiToken).where(ApiToken.person_id == world.mentor.id)).one()
        apitokens.revoke_token(db, admin, token)
        db.commit()
    assert client.get(f"{V1}/triads", headers=bearer(tokens["mentor"])).status_code == 401
    before = count_rows(clean_db)
    assert post_event(client, tokens["mentor"], assigned.id, task_code="I.A.1", kind="comment",
                      note="hi").status_code == 401
    assert count_rows(clean_db) == before


def test_a_token_stops_working_when_its_person_is_deactivated_or_leaves(client, clean_db, world, assigned):
    deactivated = make_token(clean_db, world.admin, world.shop, world.mentee2)
    leaving = make_token(clean_db, world.admin, world.shop, world.admin)
    for raw in (deactivated, leaving):
        assert client.get(f"{V1}/triads", headers=bearer(raw)).status_code == 200
    with clean_db.session(write=True) as db:
        db.get(Person, world.mentee2.id).is_active = False
        role = db.exec(select(Membership).where(Membership.person_id == world.admin.id)).one()
        accounts.remove_membership(db, Actor(None, "test", True), role)
        db.commit()
    for raw in (deactivated, leaving):
        assert client.get(f"{V1}/triads", headers=bearer(raw)).status_code == 401


def test_use_is_recorded_at_most_once_a_minute(client, clean_db, world, assigned, tokens):
    def last_used():
        with clean_db.session() as db:
            return db.exec(select(ApiToken.last_used_at).where(ApiToken.person_id == world.mentor.id)).one()

    assert last_used() is None
    client.get(f"{V1}/triads", headers=bearer(tokens["mentor"]))
    first = last_used()
    assert first is not None
    client.get(f"{V1}/assignments", headers=bearer(tokens["mentor"]))
    assert last_used() == first


def test_only_token_hashes_are_stored(clean_db, world, assigned, tokens):
    with clean_db.session() as db:
        hashes = set(db.exec(select(ApiToken.token_hash)).all())
    assert hashes == {hashlib.sha256(raw.encode()).hexdigest() for raw in tokens.values()}
    assert all(raw.startswith("mtk_") and len(raw) > 40 for raw in tokens.values())
    with clean_db.engine.connect() as conn:
        dump = " ".join(str(row) for t in SQLModel.metadata.tables
                        for row in conn.execute(text(f'SELECT * FROM "{t}"')).all())
    assert not any(raw in dump or raw.removeprefix("mtk_") in dump for raw in tokens.values())


# --- scope: a token acts only within its organization ----------------------------------------------------

def test_another_shops_token_sees_and_writes_nothing_here(client, clean_db, world, assigned, tokens):
    other = bearer(tokens["other"])
    for path in ("", "/tasks", "/events"):
        response = client.get(f"{V1}/assignments/{assigned.id}{path}", headers=other)
        assert response.status_code == 404, path
        assert response.json()["status_code"] == 404
    assert client.get(f"{V1}/assignments", headers=other).json() == []
    assert {t["shop"]["name"] for t in client.get(f"{V1}/triads", headers=other).json()} == {"Hillcrest Auto"}
    before = count_rows(clean_db)
    for body in ({"kind": "comment", "note": "hello"}, {"kind": "signoff", "rating": 3, "pin": "2580"},
                 {"kind": "revoke", "reason": "because"}, {"kind": "countersign"}):
        response = post_event(client, tokens["other"], assigned.id, task_code="I.A.1", **body)
        assert response.status_code == 404, (body, response.text)
    assert count_rows(clean_db) == before


def test_a_token_keeps_to_its_organization_when_its_person_works_at_both(client, clean_db, world, assigned):
    # The other shop's manager also manages here, and our mentor also mentors there.
    add_role(clean_db, world.shop, world.other_manager, "manager")
    add_role(clean_db, world.other_shop, world.mentor, "mentor")
    manager_there = make_token(clean_db, world.other_manager, world.other_shop, world.other_manager)
    mentor_there = make_token(clean_db, world.other_manager, world.other_shop, world.mentor)
    for raw in (manager_there, mentor_there):
        assert client.get(f"{V1}/assignments/{assigned.id}", headers=bearer(raw)).status_code == 404
        assert client.get(f"{V1}/assignments/{assigned.id}/events", headers=bearer(raw)).status_code == 404
        assert client.get(f"{V1}/assignments", headers=bearer(raw)).json() == []
        assert "Riverside Toyota" not in {t["shop"]["name"] for t in client.get(f"{V1}/triads",
                                                                                headers=bearer(raw)).json()}
    before = count_rows(clean_db)
    assert post_event(client, mentor_there, assigned.id, task_code="I.A.1", kind="signoff", rating=3,
                      pin="2580").status_code == 404
    assert post_event(client, mentor_there, assigned.id, task_code="I.A.1", kind="practice",
                      hours=1).status_code == 404
    assert count_rows(clean_db) == before
    # The same people, with tokens from this shop, reach it.
    manager_here = make_token(clean_db, world.admin, world.shop, world.other_manager)
    assert client.get(f"{V1}/assignments/{assigned.id}", headers=bearer(manager_here)).status_code == 200


def test_an_instructor_token_sees_consenting_students_only(client, clean_db, world, assigned):
    add_role(clean_db, world.school, world.instructor, "admin")
    raw = make_token(clean_db, world.instructor, world.school, world.instructor)
    assert [a["id"] for a in client.get(f"{V1}/assignments", headers=bearer(raw)).json()] == [assigned.id]
    assert [t["mentee"]["full_name"] for t in client.get(f"{V1}/triads", headers=bearer(raw)).json()] == [
        "Tess Mentee"]
    assert client.get(f"{V1}/assignments/{assigned.id}/tasks", headers=bearer(raw)).status_code == 200


# --- creating tokens ---------------------------------------------------------------------------------------

def test_only_admins_create_tokens_for_members(clean_db, world):
    with clean_db.session(write=True) as db:
        shop = db.get(Organization, world.shop.id)
        with pytest.raises(Forbidden):
            apitokens.create_token(db, actor_for(clean_db, world.manager), shop, world.mentor.id, "x")
        with pytest.raises(NotFound):
            apitokens.create_token(db, actor_for(clean_db, world.other_manager), shop, world.mentor.id, "x")
        admin = actor_for(clean_db, world.admin)
        with pytest.raises(FormError) as refused:
            apitokens.create_token(db, admin, shop, world.other_mentee.id, "   ")
        assert set(refused.value.errors) == {"name", "person_id"}
        with pytest.raises(FormError, match="name"):
            apitokens.create_token(db, admin, shop, world.mentor.id, "x" * 61)
        token, raw = apitokens.create_token(db, admin, shop, world.mentor.id, "  DMS   sync ")
        assert token.name == "DMS sync" and apitokens.actor_for_token(db, raw).memberships == frozenset(
            {(world.shop.id, "mentor")})


# --- the admin pages ---------------------------------------------------------------------------------------

def test_an_admin_creates_a_token_sees_it_once_and_revokes_it(browser, other_browser, clean_db, world, assigned):
    browser.login(world.admin.email)
    empty = browser.get(f"/admin/orgs/{world.shop.id}/tokens")
    assert empty.status_code == 200 and "No tokens yet" in empty.text

    created = browser.post(f"/admin/orgs/{world.shop.id}/tokens", {"person_id": world.mentor.id, "name": "DMS sync"})
    assert created.status_code == 201, created.text
    raw = re.search(r'value="(mtk_[A-Za-z0-9_-]+)"', created.text).group(1)
    assert "only time it is shown" in created.text
    assert created.headers["cache-control"] == "no-store"

    again = browser.get(f"/admin/orgs/{world.shop.id}/tokens")
    assert raw not in again.text and "DMS sync" in again.text and "Milo Mentor" in again.text

    api = other_browser.client
    assert api.get(f"{V1}/assignments/{assigned.id}", headers=bearer(raw)).status_code == 200

    # The other shop's admin cannot see or revoke this shop's tokens.
    other_browser.client.cookies.clear()
    other_browser.login(world.other_manager.email)
    assert other_browser.get(f"/admin/orgs/{world.shop.id}/tokens").status_code == 404
    with clean_db.session() as db:
        token_id = db.exec(select(ApiToken.id)).one()
    assert other_browser.post(f"/admin/tokens/{token_id}/revoke").status_code == 404
    assert other_browser.post(f"/admin/orgs/{world.shop.id}/tokens",
                              {"person_id": world.other_manager.id, "name": "sneaky"}).status_code == 404

    revoked = browser.post(f"/admin/tokens/{token_id}/revoke")
    assert revoked.status_code == 303 and revoked.headers["location"] == f"/admin/orgs/{world.shop.id}/tokens"
    assert "revoked" in browser.get(f"/admin/orgs/{world.shop.id}/tokens").text
    assert api.get(f"{V1}/assignments/{assigned.id}", headers=bearer(raw)).status_code == 401


def test_bad_token_forms_rerender_with_field_errors(browser, clean_db, world):
    browser.login(world.admin.email)
    before = count_rows(clean_db)
    response = browser.post(f"/admin/orgs/{world.shop.id}/tokens", {"person_id": world.other_mentee.id, "name": ""})
    assert response.status_code == 400
    assert 'id="e-person_id"' in response.text and 'id="e-name"' in response.text
    assert "mtk_" not in response.text
    assert count_rows(clean_db) == before


# --- the same API from a signed-in browser ----------------------------------------------------------------------

def test_a_cookie_session_reads_and_writes_with_the_csrf_header(browser, clean_db, world, assigned):
    browser.login(world.mentee.email)
    url = f"{V1}/assignments/{assigned.id}/events"
    assert browser.get(f"{V1}/assignments/{assigned.id}").status_code == 200
    before = count_rows(clean_db)
    body = {"task_code": "I.A.1", "kind": "practice", "hours": 1}
    assert browser.client.post(url, json=body).status_code == 403
    assert browser.client.post(url, json=body, headers={"x-csrftoken": "forged"}).status_code == 403
    assert count_rows(clean_db) == before
    ok = browser.client.post(url, json=body, headers={"x-csrftoken": browser.client.cookies["csrftoken"]})
    assert ok.status_code == 201, ok.text
    assert ok.json()["actor_name"] == "Tess Mentee"


def _jpeg_base64() -> str:
    import base64
    import io

    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 90, 200)).save(out, "JPEG")
    return base64.b64encode(out.getvalue()).decode()


def test_a_sign_off_through_the_api_carries_a_photo_in_its_hash(client, clean_db, world, assigned, tokens, settings):
    from mentoring.progress import signoffs
    from mentoring.progress.models import EvidencePhoto

    photo = {"content_type": "image/jpeg", "data_base64": _jpeg_base64()}
    signed = post_event(client, tokens["mentor"], assigned.id, task_code="I.A.1", kind="signoff", rating=4,
                        pin="2580", photo=photo)
    assert signed.status_code == 201, signed.text
    with clean_db.session() as db:
        stored = db.exec(select(EvidencePhoto)).one()
        event = db.get(ProgressEvent, stored.event_id)
        assert event.hash == signed.json()["hash"] and signoffs.verify_chains(db) == []
        assert signoffs.event_hash(event, []) != event.hash  # the photo's hash is part of the event's
    assert (settings.upload_dir / stored.stored_name).exists()


def test_api_photos_are_checked_after_who_may_sign(client, clean_db, world, assigned, tokens, settings):
    before = count_rows(clean_db)
    not_a_photo = {"content_type": "image/jpeg", "data_base64": "aGVsbG8gd29ybGQ="}
    # Who may not sign learns nothing and costs no decode: 404 for another shop, 403 for the mentee.
    assert post_event(client, tokens["other"], assigned.id, task_code="I.A.1", kind="signoff", rating=3, pin="2580",
                      photo=not_a_photo).status_code == 404
    assert post_event(client, tokens["mentee"], assigned.id, task_code="I.A.1", kind="signoff", rating=3, pin="2580",
                      photo=not_a_photo).status_code == 403
    refused = post_event(client, tokens["mentor"], assigned.id, task_code="I.A.1", kind="signoff", rating=3,
                         pin="2580", photo=not_a_photo)
    assert refused.status_code == 422 and "JPEG or PNG" in refused.json()["errors"]["photo"]
    mislabelled = post_event(client, tokens["mentor"], assigned.id, task_code="I.A.1", kind="signoff", rating=3,
                             pin="2580", photo={"content_type": "image/png", "data_base64": _jpeg_base64()})
    assert mislabelled.status_code == 422 and "photo.content_type" in mislabelled.json()["errors"]
    wrong_pin = post_event(client, tokens["mentor"], assigned.id, task_code="I.A.1", kind="signoff", rating=3,
                           pin="1111", photo={"content_type": "image/jpeg", "data_base64": _jpeg_base64()})
    assert wrong_pin.status_code == 422
    assert count_rows(clean_db) == before | {"apitoken": before["apitoken"]}
    assert not [p for p in settings.upload_dir.glob("*") if p.is_file()]  # nothing left on disk


def test_options_names_every_method_of_the_events_resource(client, assigned):
    response = client.options(f"{V1}/assignments/{assigned.id}/events")
    assert response.status_code == 204 and response.headers["allow"] == "GET, OPTIONS, POST"


def test_a_practice_event_without_hours_is_refused_by_the_schema(client, assigned, tokens):
    schema = client.get("/api/schema/openapi.json").json()["components"]["schemas"]
    assert "hours" in schema["PracticeIn"]["required"] and "pin" in schema["SignoffIn"]["required"]
    response = post_event(client, tokens["mentee"], assigned.id, task_code="I.A.1", kind="practice", hours=None)
    assert response.status_code == 422 and "hours" in response.json()["errors"]
