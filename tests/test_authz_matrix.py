"""The authorization matrix (tests/authz_matrix.yaml) against the real app: every route, every point of
view, real objects of three kinds (ours, a peer's in the same shop, another shop's)."""

import io
import re
from pathlib import Path

import pytest
import yaml
from PIL import Image
from sqlmodel import select

from mentoring.access import apitokens, tablets
from mentoring.access.models import ApiToken
from mentoring.access.policy import Actor
from mentoring.oversight import payplan, reviews
from mentoring.people import accounts, invitations, triads
from mentoring.people.accounts import NewPersonIn, OrganizationIn, PersonIn
from mentoring.people.models import Membership, Person, Triad
from mentoring.people.triads import EnrollmentIn
from mentoring.progress import customize, evidence, hours, program, signoffs
from mentoring.progress.customize import AssignmentIn
from mentoring.progress.models import EvidencePhoto
from tasklists import store
from tasklists.models import ShopTaskListVersion

from .conftest import PASSWORD, actor_for, offline_conflict

MATRIX = yaml.safe_load((Path(__file__).parent / "authz_matrix.yaml").read_text())
VIEWERS = ("admin", "manager", "mentor", "mentee", "instructor", "other", "second_admin", "bare_instructor",
           "invitee", "operator", "anonymous")
VARIANTS = ("ours", "peer", "theirs")
OUTCOMES = {"ok", "forbidden", "hidden", "login"}
PARAM = re.compile(r"\{(\w+)(?::[^}]+)?\}")
OPERATOR = Actor(None, "test", True)


def app_routes(app) -> set[str]:
    """Every "METHOD /path" the app answers, with path parameters written without their types."""
    found = set()
    for route in app.routes:
        for method in getattr(route, "methods", ()):
            if method not in ("HEAD", "OPTIONS"):
                found.add(f"{method} {PARAM.sub(lambda m: '{' + m.group(1) + '}', route.path)}")
    return found


def entry(route: str) -> dict:
    value = MATRIX["routes"][route]
    return value if isinstance(value, dict) else {"rule": value}


def expected(route: str, viewer: str, variant: str) -> str:
    rule = MATRIX["rules"][entry(route)["rule"]]
    cell = rule.get(viewer, rule.get("*"))
    return cell[variant] if isinstance(cell, dict) else cell


def test_the_matrix_covers_every_route_and_nothing_else(app):
    listed = set(MATRIX["routes"])
    served = app_routes(app)
    assert not served - listed, f"routes missing from authz_matrix.yaml: {sorted(served - listed)}"
    assert not listed - served, f"routes in authz_matrix.yaml that the app does not serve: {sorted(listed - served)}"
    for route in MATRIX["routes"]:
        assert entry(route)["rule"] in MATRIX["rules"], f"{route}: no rule"
        for viewer in VIEWERS:
            for variant in VARIANTS:
                assert expected(route, viewer, variant) in OUTCOMES, (route, viewer, variant)


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


def _photo(db, settings, mentor: Actor, assignment_id: int, code: str) -> int:
    stored = evidence.store_photo(_jpeg(), settings.upload_dir)
    event = signoffs.sign_off(db, mentor, assignment_id, code, rating=3, pin=None,
                              evidence=evidence.Evidence(photo=stored))
    return db.exec(select(EvidencePhoto.id).where(EvidencePhoto.event_id == event.id)).one()


@pytest.fixture
def extra_viewers(db, world) -> dict:
    """The points of view added for issue 12 (see authz_matrix.yaml), and the invitations they answer."""
    summit = accounts.create_organization(db, OPERATOR, OrganizationIn(name="Summit Fleet", kind="fleet"))
    hana = accounts.add_member(db, OPERATOR, summit, NewPersonIn(full_name="Hana Admin", email="hana@summit.example",
                                                               role="admin", password=PASSWORD))
    accounts.grant_role(db, OPERATOR, summit, db.get(Person, world.mentee.id), "mentor")  # Tess, at a second shop
    bo = accounts.add_member(db, OPERATOR, world.school, NewPersonIn(
        full_name="Bo Instructor", email="bo@lakeview.example", role="instructor", password=PASSWORD))
    ian = accounts.create_person(db, OPERATOR, PersonIn(full_name="Ian Invitee", email="ian@example.com"),
                               password=PASSWORD)
    operator = accounts.create_person(db, OPERATOR, PersonIn(full_name="Site Operator", email="op@example.com"),
                                    password=PASSWORD, superuser=True)
    alice, oscar = actor_for_db(db, world.admin), actor_for_db(db, world.other_manager)
    ids = {
        "ours": invitations.invite(db, alice, world.shop, ian, "mentor").id,
        "peer": invitations.invite(db, alice, world.shop, db.get(Person, world.other_mentee.id), "mentee").id,
        "theirs": invitations.invite(db, oscar, world.other_shop, ian, "mentor").id,
    }
    db.commit()
    return {"people": {"second_admin": hana, "bare_instructor": bo, "invitee": ian, "operator": operator},
            "invitations": ids}


def actor_for_db(db, person):
    from mentoring.access.policy import load_actor
    return load_actor(db, db.get(Person, person.id))


@pytest.fixture
def objects(db, world, assigned, settings, clean_db, extra_viewers):
    """Path-parameter values for each kind of object."""
    automobile = next(t for t, _ in store.load_catalog(db) if t.program == "automobile")
    triad2 = db.exec(select(Triad).where(Triad.mentee_id == world.mentee2.id)).one()
    ours_list_id = db.get(ShopTaskListVersion, assigned.version_id).list_id
    peer_assignment = customize.assign(db, OPERATOR, world.shop, AssignmentIn(
        triad_id=triad2.id, version_id=assigned.version_id, start_date="2026-09-01"))

    other_manager = actor_for(clean_db, world.other_manager)
    other_list = customize.start_list(db, other_manager, world.other_shop, template_id=automobile.id, level="MLR",
                                      name="Theirs")
    version = customize.publish(db, other_manager, other_list)
    theirs_assignment = customize.assign(db, OPERATOR, world.other_shop, AssignmentIn(
        triad_id=world.other_triad.id, version_id=version.id, start_date="2026-09-01"))
    theirs_enrollment = triads.create_enrollment(db, OPERATOR, world.other_shop, EnrollmentIn(
        mentee_id=world.other_mentee.id, school_id=world.school.id, instructor_id=world.instructor.id,
        consent_active=False))

    photos = {
        "ours": _photo(db, settings, actor_for(clean_db, world.mentor), assigned.id, "I.A.3"),
        "peer": _photo(db, settings, actor_for(clean_db, world.mentor2), peer_assignment.id, "I.A.3"),
        "theirs": _photo(db, settings, actor_for(clean_db, world.other_mentor), theirs_assignment.id, "I.A.3"),
    }
    devices = {shop.id: tablets.enroll(db, OPERATOR, shop, "Bay 1")[0].id for shop in (world.shop, world.other_shop)}
    conflicts = {"ours": offline_conflict(db, assigned, world.mentor, devices[world.shop.id]),
                 "peer": offline_conflict(db, peer_assignment, world.mentor2, devices[world.shop.id]),
                 "theirs": offline_conflict(db, theirs_assignment, world.other_mentor,
                                            devices[world.other_shop.id])}
    tokens = {shop.id: apitokens.create_token(db, actor_for_db(db, admin), shop, person, "matrix")[0].id
              for shop, person, admin in ((world.shop, world.manager, world.admin),
                                          (world.other_shop, world.other_manager, world.other_manager))}

    manager = actor_for(clean_db, world.manager)
    by_variant = {"ours": db.get(Triad, world.triad.id), "peer": triad2, "theirs": db.get(Triad, world.other_triad.id)}
    managers = {"ours": manager, "peer": manager, "theirs": other_manager}
    steps, tools, review_ids = {}, {}, {}
    for variant, triad in by_variant.items():
        who = managers[variant]
        steps[variant] = payplan.add_pay_step(db, who, triad, {
            "title": "Raise", "amount": "1.00", "milestone": "date", "milestone_date": "2027-01-04"}).id
        tools[variant] = payplan.add_tool_record(db, who, triad, {
            "kind": "loan", "description": "Scan tool", "on_date": "2026-09-01"}).id
        review_ids[variant] = reviews.add_custom(db, who, triad, {"title": "Check-in", "due_on": "2026-10-01"}).id

    # A registered apprenticeship on each triad (issue 18): the program form's values, saved by the shop, and one
    # pending hours entry of its mentee.
    apps = {variant: program.save_program(db, managers[variant], triad, {
        "kind": "time", "registration_number": "M-0", "occupation": "Technician", "start_date": "2026-09-01",
        "term_hours": "8000", "probation_hours": "500"}).id for variant, triad in by_variant.items()}
    hours_entries = {variant: hours.log_hours(db, actor_for_db(db, db.get(Person, triad.mentee_id)), triad.id,
                                              day="2026-09-02", area="I", hours="8").id
                     for variant, triad in by_variant.items()}

    def membership(person) -> int:
        return db.exec(select(Membership.id).where(Membership.person_id == person.id,
                                                   Membership.role == "mentee")).one()  # Tess: her Riverside role

    # A partner school each shop recorded, and an emailed set-password link of each shop's (issue 14).
    partners, links = {}, {}
    for shop, admin in ((world.shop, world.admin), (world.other_shop, world.other_manager)):
        who = actor_for_db(db, admin)
        partners[shop.id] = accounts.add_partner_school(db, who, shop, accounts.SchoolIn(name=f"{shop.name} School")).id
        links[shop.id] = accounts.add_person(db, who, shop, {
            "full_name": "Lee Link", "email": f"lee{shop.id}@example.com", "role": "mentee"}, by_email=True).link_token

    def shop_values(shop) -> dict:
        return {"org_id": shop.id, "shop_id": shop.id, "device_id": devices[shop.id], "token_id": tokens[shop.id],
                "school_id": partners[shop.id], "token": links[shop.id]}

    common = {"code": "I.A.1", "template_id": automobile.id, "file_path": "app.css", "path": "openapi.json"}
    values = {
        "ours": {**common, **shop_values(world.shop), "mentee_id": world.mentee.id, "person_id": world.mentee.id,
                 "triad_id": world.triad.id, "assignment_id": assigned.id, "enrollment_id": world.consented.id,
                 "membership_id": membership(world.mentee), "list_id": ours_list_id, "photo_id": photos["ours"],
                 "step_id": steps["ours"], "tool_id": tools["ours"], "review_id": review_ids["ours"],
                 "conflict_id": conflicts["ours"], "app_id": apps["ours"], "hours_entry_id": hours_entries["ours"]},
        "peer": {**common, **shop_values(world.shop), "mentee_id": world.mentee2.id, "person_id": world.mentee2.id,
                 "triad_id": triad2.id, "assignment_id": peer_assignment.id, "enrollment_id": world.unconsented.id,
                 "membership_id": membership(world.mentee2), "list_id": ours_list_id, "photo_id": photos["peer"],
                 "step_id": steps["peer"], "tool_id": tools["peer"], "review_id": review_ids["peer"],
                 "conflict_id": conflicts["peer"], "app_id": apps["peer"], "hours_entry_id": hours_entries["peer"]},
        "theirs": {**common, **shop_values(world.other_shop), "mentee_id": world.other_mentee.id,
                   "person_id": world.other_mentee.id, "triad_id": world.other_triad.id,
                   "assignment_id": theirs_assignment.id, "enrollment_id": theirs_enrollment.id,
                   "membership_id": membership(world.other_mentee), "list_id": other_list.id,
                   "photo_id": photos["theirs"], "step_id": steps["theirs"], "tool_id": tools["theirs"],
                   "review_id": review_ids["theirs"], "conflict_id": conflicts["theirs"],
                   "app_id": apps["theirs"], "hours_entry_id": hours_entries["theirs"]},
    }
    for variant, list_id in (("ours", ours_list_id), ("peer", ours_list_id), ("theirs", other_list.id)):
        values[variant].update(_case_ids(list_id))
    for variant, invitation_id in extra_viewers["invitations"].items():
        values[variant]["invitation_id"] = invitation_id
    for variant, (assignment, shop) in {"ours": (assigned, world.shop), "peer": (peer_assignment, world.shop),
                                        "theirs": (theirs_assignment, world.other_shop)}.items():
        values[variant].update(_issued(db, settings, assignment, shop, variant))
    # Registered apprenticeships of the three triads (issue #18), for the routes that name one.
    for variant in by_variant:
        values[variant]["apprenticeship_id"] = values[variant]["app_id"]
    db.commit()
    assert db.exec(select(ApiToken)).all()
    return values


def _case_ids(list_id: int) -> dict:
    """A shop list's CASE document, its task I.A.1 and that task's place in the tree (exports/case.py)."""
    from exports import case

    key = case.shop_list_key(list_id)
    task, section = case.item_id(key, "task", "I.A.1"), case.item_id(key, "section", "I.A")
    return {"case_document_id": case.document_id(key), "case_item_id": task,
            "case_association_id": case.association_id(task, "isChildOf", section)}


def _outcome(response) -> str:
    status, location = response.status_code, response.headers.get("location", "")
    if status == 401 or (status in (302, 303) and location.startswith("/login")):
        return "login"
    if status == 403:
        return "forbidden"
    if status == 404:
        return "hidden"
    if status < 500 and status != 405:
        return "ok"
    return f"error {status}"


def _call(browser, method: str, url: str, spec: dict):
    if method == "GET":
        return browser.get(url)
    if "json" in spec:  # JSON API: a cookie-authenticated write proves its origin with the header
        if "csrftoken" not in browser.client.cookies:
            browser.get("/login")
        token = browser.client.cookies.get("csrftoken", "")
        return browser.client.post(url, json=spec["json"], headers={"x-csrftoken": token}, follow_redirects=False)
    files = {k: (name, content.encode()) for k, (name, content) in spec.get("files", {}).items()}
    return browser.post(url, dict(spec.get("form", {})), **({"files": files} if files else {}))


def _issued(db, settings, assignment, shop, variant: str) -> dict:
    """A record (ours has a known code), a credential and a finished bulk export (issue #6), as stored rows."""
    from exports import keys
    from exports.models import CompletionRecord, ExportJob, IssuedCredential
    from mentoring.progress.models import PriorCredit

    keys.key_for(db, shop.id, settings.secret_key)
    keys.current_key(db, shop.id, settings.secret_key, keys.EDDSA)  # signs the status list
    code = "AAAA-BBBB-CCCC-DDDD" if variant == "ours" else f"{variant[:4].upper():A<4}-CCCC-DDDD-EEEE"
    record = CompletionRecord(code=code, assignment_id=assignment.id, mentee_id=assignment.mentee_id,
                              shop_id=shop.id, content="{}", content_hash="0" * 64)
    credential = IssuedCredential(uuid=f"00000000-0000-4000-8000-{assignment.id:012d}", assignment_id=assignment.id,
                                  mentee_id=assignment.mentee_id, issuer_id=shop.id, kind="area",
                                  achievement_key="area:I", name="Engine Repair", token="a.b.c")
    job = ExportJob(shop_id=shop.id, status="done", total=0, done=0, file_name=f"matrix-{variant}.zip")
    credited = PriorCredit(assignment_id=assignment.id, task_code="I.A.1", source="credential", issuer_name="School",
                           issuer_id="did:web:school.example", evidence="a.b.c", evidence_sha256="0" * 64)
    db.add_all([record, credential, job, credited])
    db.flush()
    (settings.data_dir / "exports").mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "exports" / job.file_name).write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip
    return {"record_id": record.id, "credential_id": credential.id, "job_id": job.id,
            "prior_credit_id": credited.id}


def _people(world, extra: dict) -> dict:
    return {"admin": world.admin, "manager": world.manager, "mentor": world.mentor, "mentee": world.mentee,
            "instructor": world.instructor, "other": world.other_manager, **extra["people"]}


def _cells(route: str) -> list[tuple[str, str, str]]:
    """(route, viewer, variant) for every cell of a route; refusals first, so that each refusal sees the objects
    as they were set up (a refusal must change nothing), and the "ok" cells, which may change them (a sign-off
    revoked, a triad ended), after."""
    variants = VARIANTS if PARAM.search(route) else ("ours",)
    cells = [(route, viewer, variant) for viewer in VIEWERS for variant in variants]
    return sorted(cells, key=lambda cell: expected(*cell) == "ok")


def _run(cells, browser, world, objects, extra) -> list[str]:
    wrong, signed_in = [], None
    for route, viewer, variant in cells:
        if viewer != signed_in:
            browser.client.cookies.clear()  # a fresh browser for each point of view
            if viewer != "anonymous":
                browser.login(_people(world, extra)[viewer].email, PASSWORD)
            signed_in = viewer
        method, path = route.split(" ", 1)
        spec = entry(route)
        names = spec.get("params", {})  # a parameter whose object kind depends on the route
        values = {**objects[variant], **({"code": spec["code"]} if "code" in spec else {})}
        url = PARAM.sub(lambda m, v=values, n=names: str(v[n.get(m.group(1), m.group(1))]), path)
        response = _call(browser, method, url, spec)
        got, want = _outcome(response), expected(route, viewer, variant)
        if got != want:
            wrong.append(f"{method} {url} as {viewer} ({variant}): expected {want}, got {got} "
                         f"({response.status_code} {response.headers.get('location', '')})")
    return wrong


GETS = sorted(r for r in MATRIX["routes"] if r.startswith("GET "))


def test_every_reading_cell(browser, world, objects, extra_viewers):
    """GET routes change nothing, so they share one set of objects; grouped by viewer to sign in once each."""
    cells = sorted((cell for route in GETS for cell in _cells(route)), key=lambda c: VIEWERS.index(c[1]))
    wrong = _run(cells, browser, world, objects, extra_viewers)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("route", sorted(r for r in MATRIX["routes"] if not r.startswith("GET ")))
def test_every_writing_cell(route, browser, world, objects, extra_viewers):
    """Each writing route on objects of its own, since an allowed call may change them."""
    wrong = _run(_cells(route), browser, world, objects, extra_viewers)
    assert not wrong, f"{route}\n" + "\n".join(wrong)

