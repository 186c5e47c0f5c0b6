"""Pay-plan and tool notes leak nowhere: unique strings in them are looked for on every GET route of the app (found
from its route map, so routes added later are covered), in exports, the API, the audit log, the application log
and email digests, as every persona. Each string may appear only where the design allows it."""

import contextlib
import io
import json
import logging
import re
import time
import zipfile
from itertools import product

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlmodel import select

from mentoring.access import tablets
from mentoring.access.policy import Actor
from mentoring.oversight import digest, payplan, reviews
from mentoring.people import accounts
from mentoring.people.models import Triad
from mentoring.progress import customize, evidence, hours, program, signoffs
from mentoring.progress.customize import AssignmentIn
from mentoring.progress.models import EvidencePhoto
from mentoring.trail.models import AuditEntry
from tasklists import store
from tasklists.models import ShopTaskListVersion

from .conftest import PASSWORD, actor_for, offline_conflict

PAY = "CANARY-PAY-8c1d"  # note of an unshared pay step
DECISION = "CANARY-DECISION-8c1d"  # note of a decision on that step
TOOL = "CANARY-TOOL-8c1d"  # note of an unshared tool loan
PAY_SHARED = "CANARY-PAYSHARED-8c1d"  # a step the manager shared with the mentee
TOOL_SHARED = "CANARY-TOOLSHARED-8c1d"
OTHER = "CANARY-OTHERSHOP-8c1d"  # the other shop's own pay note
# A registered apprenticeship on each shop's triad (its pages show hours, never pay).
PROGRAM_FORM = {"kind": "time", "registration_number": "2026-XX-0001", "occupation": "Automotive Service Technician",
                "start_date": "2026-09-01", "term_hours": "8000", "probation_hours": "500"}
CANARIES = (PAY, DECISION, TOOL, PAY_SHARED, TOOL_SHARED, OTHER)

MENTEE_PAGE = ("/mentees/{mentee_id:int}", "ours")
# Where each note may appear, for whom: (route template, which shop's objects filled it in).
ALLOWED = {
    PAY: {"admin": {MENTEE_PAGE}, "manager": {MENTEE_PAGE}},
    DECISION: {"admin": {MENTEE_PAGE}, "manager": {MENTEE_PAGE}},
    TOOL: {"admin": {MENTEE_PAGE}, "manager": {MENTEE_PAGE}},
    PAY_SHARED: {"admin": {MENTEE_PAGE}, "manager": {MENTEE_PAGE},
                 "mentee": {MENTEE_PAGE, ("/me", "ours")}},
    TOOL_SHARED: {"admin": {MENTEE_PAGE}, "manager": {MENTEE_PAGE},
                  "mentee": {MENTEE_PAGE, ("/me", "ours")}},
    OTHER: {"other_manager": {("/mentees/{mentee_id:int}", "theirs")}},
}
PERSONAS = ("admin", "manager", "mentor", "mentor2", "mentee", "mentee2", "instructor", "other_manager",
            "operator", "anonymous")
SKIP_PREFIXES = ("/api/schema",)  # the generated OpenAPI pages describe routes; they hold no data


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 90, 160)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def objects(db, world, assigned, settings, clean_db):
    """Real objects of every kind a route can name, at both shops, and the canaries in their notes."""
    manager, mentor = actor_for(clean_db, world.manager), actor_for(clean_db, world.mentor)
    mentee = actor_for(clean_db, world.mentee)
    operator_person = accounts.create_person(db, None, accounts.PersonIn(full_name="Site Operator",
                                                                     email="operator@example.com"),
                                           password=PASSWORD, superuser=True)
    signoffs.log_practice(db, mentee, assigned.id, "I.A.1", hours="1", note="first try")
    signoffs.sign_off(db, mentor, assigned.id, "I.A.1", rating=4, pin=None)
    stored = evidence.store_photo(_jpeg(), settings.upload_dir)
    signoffs.sign_off(db, mentor, assigned.id, "I.A.3", rating=3, pin=None, evidence=evidence.Evidence(photo=stored))
    signoffs.comment(db, actor_for(clean_db, world.instructor), assigned.id, "I.A.1", note="Nice work.")

    triad = db.get(Triad, world.triad.id)
    step = payplan.add_pay_step(db, manager, triad, {"title": "Brakes raise", "amount": "1.00", "milestone": "date",
                                                     "milestone_date": "2020-01-01", "note": PAY})
    payplan.decide(db, manager, step, {"decision": "deferred", "note": DECISION})
    payplan.add_pay_step(db, manager, triad, {"title": "Shared raise", "percent": "2", "milestone": "coverage",
                                              "milestone_percent": "50", "note": PAY_SHARED, "shared": True})
    payplan.add_tool_record(db, manager, triad, {"kind": "loan", "description": "Torque wrench",
                                                 "on_date": "2026-09-02", "note": TOOL})
    payplan.add_tool_record(db, manager, triad, {"kind": "allowance", "description": "Allowance", "amount": "300",
                                                 "on_date": "2026-09-01", "note": TOOL_SHARED, "shared": True})
    review = reviews.add_custom(db, manager, triad, {"title": "Check-in", "due_on": "2026-09-20"})
    reviews.sign(db, manager, review, triad, "Progress is steady.")

    # The other shop: its own list, assignment, review and pay plan.
    other_manager = actor_for(clean_db, world.other_manager)
    automobile = next(t for t, _ in store.load_catalog(db) if t.program == "automobile")
    other_list = customize.start_list(db, other_manager, world.other_shop, template_id=automobile.id, level="MLR",
                                      name="Theirs")
    version = customize.publish(db, other_manager, other_list)
    other_assignment = customize.assign(db, Actor(None, "test", True), world.other_shop, AssignmentIn(
        triad_id=world.other_triad.id, version_id=version.id, start_date="2026-09-01"))
    other_triad = db.get(Triad, world.other_triad.id)
    payplan.add_pay_step(db, other_manager, other_triad, {"title": "Their raise", "amount": "2", "milestone": "date",
                                                          "milestone_date": "2030-01-01", "note": OTHER})
    other_review = reviews.add_custom(db, other_manager, other_triad, {"title": "Theirs", "due_on": "2026-09-20"})
    devices = {shop.id: tablets.enroll(db, manager, shop, "Bay 1")[0].id for shop in (world.shop, world.other_shop)}
    conflicts = {"ours": offline_conflict(db, assigned, world.mentor, devices[world.shop.id]),
                 "theirs": offline_conflict(db, other_assignment, world.other_mentor, devices[world.other_shop.id])}
    apps = {"ours": program.save_program(db, manager, triad, PROGRAM_FORM).id,
            "theirs": program.save_program(db, other_manager, other_triad, PROGRAM_FORM).id}
    # Logged hours on each, so that the hours pages show a real ledger.
    hours_ids = {variant: hours.log_hours(db, actor_for(clean_db, person), a_triad.id, day="2026-09-02", area="I",
                                          hours="8", note="timing belt").id
                 for variant, (a_triad, person) in {"ours": (triad, world.mentee),
                                                    "theirs": (other_triad, world.other_mentee)}.items()}
    db.commit()
    ours_list = db.get(ShopTaskListVersion, assigned.version_id).list_id
    return {
        "operator": operator_person,
        "ours": {"mentee_id": world.mentee.id, "org_id": world.shop.id, "shop_id": world.shop.id,
                 "person_id": world.mentee.id, "triad_id": world.triad.id, "list_id": ours_list,
                 "template_id": automobile.id, "assignment_id": assigned.id, "code": "I.A.1",
                 "photo_id": db.exec(select(EvidencePhoto.id)).first(), "review_id": review.id,
                 "file_path": "app.css", "school_id": world.school.id, "token": "no-such-link",
                 "conflict_id": conflicts["ours"], "app_id": apps["ours"], "apprenticeship_id": apps["ours"],
                 "hours_entry_id": hours_ids["ours"], **_case_ids(ours_list)},
        "theirs": {"mentee_id": world.other_mentee.id, "org_id": world.other_shop.id,
                   "shop_id": world.other_shop.id, "person_id": world.other_mentee.id,
                   "triad_id": world.other_triad.id, "list_id": other_list.id, "assignment_id": other_assignment.id,
                   "review_id": other_review.id, "conflict_id": conflicts["theirs"], "app_id": apps["theirs"],
                   "apprenticeship_id": apps["theirs"], "hours_entry_id": hours_ids["theirs"],
                   **_case_ids(other_list.id)},
    }


def _case_ids(list_id: int) -> dict:
    """A shop list's CASE document (as sourced_id), its task I.A.1 and that task's place in the tree."""
    from exports import case

    key = case.shop_list_key(list_id)
    task = case.item_id(key, "task", "I.A.1")
    return {"sourced_id": case.document_id(key), "case_item_id": task,
            "case_association_id": case.association_id(task, "isChildOf", case.item_id(key, "section", "I.A"))}


def _export_objects(browser, world, objects, clean_db) -> list[tuple[str, bytes]]:
    """Exports are POSTs (they issue a record): make them as the shop's manager and as the mentee, keep what
    they return, and note the ids they create for the GET routes that show them."""
    from exports.models import CompletionRecord, ExportJob, IssuedCredential

    ours = objects["ours"]
    files = []
    for who in (world.manager, world.mentee):
        browser.login(who.email)
        for fmt in ("pdf", "csv", "json"):
            response = browser.post(f"/assignments/{ours['assignment_id']}/records/export", {"format": fmt})
            assert response.status_code in (200, 201), response.text[:300]
            content = response.content
            if fmt == "pdf":  # page text is compressed inside the PDF: read it out
                content = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages).encode()
                assert world.mentee.full_name.encode() in content
            files.append((f"export {fmt} as {who.full_name}", content))
        browser.logout()
    browser.login(world.manager.email)
    assert browser.post(f"/assignments/{ours['assignment_id']}/credentials").status_code == 303
    assert browser.post(f"/shops/{ours['shop_id']}/exports").status_code == 303
    with clean_db.session() as db:
        job_id = db.exec(select(ExportJob.id)).one()
        deadline = time.monotonic() + 60
        while db.get(ExportJob, job_id).status not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
            db.rollback()  # a new snapshot: SQLite readers see the database as it was when they began
        assert db.get(ExportJob, job_id).status == "done"
        ours.update(job_id=job_id, credential_id=db.exec(select(IssuedCredential.id)).first(),
                    verify_code=db.exec(select(CompletionRecord.code)).first())
    browser.logout()
    return files


# A path parameter whose meaning depends on the route.
BY_ROUTE = {("/verify/{code:str}", "code"): "verify_code",
            ("/ims/case/v1p1/CFItems/{sourced_id:str}", "sourced_id"): "case_item_id",
            ("/ims/case/v1p1/CFAssociations/{sourced_id:str}", "sourced_id"): "case_association_id"}


PARAM = re.compile(r"\{(\w+):[^}]+\}")


def _fill(path: str, objects: dict, variant: str) -> str:
    values = {**objects["ours"], **(objects["theirs"] if variant == "theirs" else {})}

    def value(match: re.Match) -> str:
        key = BY_ROUTE.get((path, match.group(1)), match.group(1))
        if key not in values:
            pytest.fail(f"no object to fill {match.group(0)} of {path}: add one to the canary test's table")
        return str(values[key])

    return PARAM.sub(value, path)


def _get_routes(app) -> list[str]:
    return [route.path for route in app.routes
            if "GET" in getattr(route, "methods", ()) and not route.path.startswith(SKIP_PREFIXES)]


def _texts(response) -> list[str]:
    """What a response reveals: its text, the text inside any zip it carries, and the credential inside a baked
    badge or a .jwt download (its payload is base64, where a plain search would not see a note)."""
    from exports import baking, credentials

    texts = [response.content.decode("utf-8", "replace")]
    if response.content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            texts += [archive.read(name).decode("utf-8", "replace") for name in archive.namelist()]
    token = response.text if response.headers.get("content-type", "").startswith("application/vc+jwt") else None
    if response.status_code == 200 and baking.kind_of(response.content):
        with contextlib.suppress(baking.BakingError):  # an image with nothing baked in (an icon) hides nothing
            baked = baking.unbake(response.content)
            token = baked if isinstance(baked, str) else None
            texts += [json.dumps(baked, ensure_ascii=False)] if isinstance(baked, dict) else []
    if token and token.count(".") == 2:
        with contextlib.suppress(ValueError):
            texts.append(json.dumps(credentials.payload_of(token), ensure_ascii=False))
    return texts


def test_pay_plan_and_tool_notes_appear_only_where_the_design_allows(browser, app, world, objects, clean_db, caplog):
    caplog.set_level(logging.DEBUG)
    found: dict[str, dict[str, set]] = {c: {} for c in CANARIES}
    exported = _export_objects(browser, world, objects, clean_db)
    for label, content in exported:
        for canary in CANARIES:
            assert canary.encode() not in content, f"{canary} in {label}"

    people_by_persona = {p: getattr(world, p) for p in PERSONAS if hasattr(world, p)}
    people_by_persona["operator"] = objects["operator"]
    visited = 0
    for persona in PERSONAS:
        if persona != "anonymous":
            browser.login(people_by_persona[persona].email)
        for path, variant in product(_get_routes(app), ("ours", "theirs")):
            if variant == "theirs" and not PARAM.search(path):
                continue
            url = _fill(path, objects, variant)
            response = browser.get(url)
            assert response.status_code < 500, (persona, url, response.text[:500])
            visited += 1
            for canary in CANARIES:
                if any(canary in text for text in _texts(response)):
                    found[canary].setdefault(persona, set()).add((path, variant))
        if persona != "anonymous":
            browser.logout()

    assert visited > 100
    assert found == ALLOWED  # nowhere else, and really there where it belongs

    # Nor in the audit log, the application log or an email digest.
    with clean_db.session() as db:
        details = " ".join(db.exec(select(AuditEntry.detail)).all())
        mails = " ".join(str(digest.message(d, "from@example.com", "http://x")) for d in digest.digests(db))
    assert caplog.records  # the application did log while it served these pages
    for canary in CANARIES:
        assert canary not in details
        assert canary not in caplog.text
        assert canary not in mails


def test_a_shop_tablets_offline_copy_holds_no_pay_plan_notes(browser, world, objects, clean_db):
    """GET /tablet/offline/snapshot answers only an enrolled tablet, so the sweep above (no browser is one) sees
    its 404: here a real tablet, with a mentor's verifier, fetches the shop's copy."""
    browser.login(world.manager.email)
    assert browser.post(f"/shops/{world.shop.id}/tablets", {"name": "Bay 1"}).status_code == 303
    assert browser.post(f"/tablet/mentors/{world.mentor.id}", {"pin": "2580"}).status_code == 303
    response = browser.get("/tablet/offline/snapshot?queued=0")
    assert response.status_code == 200 and world.mentee.full_name in response.text
    for canary in CANARIES:
        assert canary not in response.text
