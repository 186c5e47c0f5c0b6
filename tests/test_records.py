"""Completion records: PDF, CSV and JSON that anyone can verify, and who may export them."""

import csv
import io
import json
import re
import threading
import time
import zipfile

import httpx
import pytest
from pypdf import PdfReader
from sqlmodel import select

from exports import pdf, record, service, verify
from exports.models import CompletionRecord, ExportJob
from mentoring import demo
from mentoring.people.models import Person
from mentoring.progress import signoffs
from mentoring.progress.models import Assignment

from .conftest import PASSWORD, actor_for


def sign(database, person, assignment, codes, rating=4):
    mentor = actor_for(database, person)
    with database.transaction() as db:
        for code in codes:
            signoffs.sign_off(db, mentor, assignment.id, code, rating=rating, pin=None)


def area_codes(database, assignment, area):
    with database.session() as db:
        return [t.code for t in signoffs.tasks_of(db, assignment) if t.area_code == area and not t.not_applicable]


def export(database, person, assignment, fmt, paper="letter"):
    with database.transaction() as db:
        return service.export_record(db, actor_for(database, person), db.get(Assignment, assignment.id), fmt,
                                     base_url="http://127.0.0.1:8000", paper=paper)


def pdf_text(data: bytes) -> tuple[PdfReader, list[str]]:
    reader = PdfReader(io.BytesIO(data))
    return reader, [p.extract_text() for p in reader.pages]


# --- the demo mentee's PDF, read back with pypdf ------------------------------------------------

def test_the_demo_mentees_pdf_names_the_mentee_every_signed_task_and_its_signers(clean_db):
    with clean_db.transaction() as db:
        demo.seed(db)
    with clean_db.session() as db:
        sam = db.exec(select(Person).where(Person.email == demo.COMPLETED_MENTEE[1])).one()
        assignment = db.exec(select(Assignment).where(Assignment.mentee_id == sam.id)).one()
        manager = db.exec(select(Person).where(Person.email == "rosa.delgado@hillcrest.example")).one()
        states = signoffs.task_states(signoffs.events_of(db, assignment.id))
    signed = {code: s.signoff for code, s in states.items() if s.signoff}
    assert len(signed) >= 30
    data = export(clean_db, manager, assignment, "pdf").data
    reader, pages = pdf_text(data)
    text = "\n".join(pages)
    assert "Sam Okafor" in pages[0]
    for code, event in signed.items():
        page = next(p for p in pages if re.search(rf"(?m)^{re.escape(code)}(\s|$)", p))
        assert event.actor_name in page and event.meaning in page, code
    for s in states.values():
        for c in s.countersigns:
            assert f"Countersigned: {c.actor_name}" in text and c.meaning in text
    flat = " ".join(text.split())
    assert "REVOKED" in flat and "Signed before the bleeder was torqued" in flat  # the revoked one still shows
    numbers = [re.search(r"Page (\d+) of (\d+)", p).groups() for p in pages]
    assert numbers == [(str(i), str(len(reader.pages))) for i in range(1, len(reader.pages) + 1)]
    assert len(reader.pages) > 3


def test_school_facing_records_leave_out_pay_plan_and_tool_notes(clean_db):
    with clean_db.transaction() as db:
        demo.seed(db)
    with clean_db.session() as db:
        manager = db.exec(select(Person).where(Person.email == "marcus.bell@riverside.example")).one()
        for name in ("Tyler Brooks", "Aisha Khan"):
            mentee = db.exec(select(Person).where(Person.full_name == name)).one()
            assignment = db.exec(select(Assignment).where(Assignment.mentee_id == mentee.id)).one()
            for fmt in ("json", "csv"):
                body = export(clean_db, manager, assignment, fmt).data.decode("utf-8-sig")
                assert name in body
                for secret in ("click torque wrench", "First raise", "Brakes raise", "Yearly tool allowance",
                               "Agreed at hiring", "Tyler asked about this", "nitrile gloves", "serial 4471"):
                    assert secret.lower() not in body.lower(), (name, fmt, secret)


# --- layout --------------------------------------------------------------------------------

def test_it_prints_letter_and_a4(clean_db, world, assigned):
    sign(clean_db, world.mentor, assigned, ["0.A.1"])
    letter = PdfReader(io.BytesIO(export(clean_db, world.manager, assigned, "pdf", "letter").data))
    a4 = PdfReader(io.BytesIO(export(clean_db, world.manager, assigned, "pdf", "a4").data))
    assert [round(float(x)) for x in letter.pages[0].mediabox[2:]] == [612, 792]
    assert [round(float(x)) for x in a4.pages[0].mediabox[2:]] == [595, 842]


def test_the_cover_names_everyone_and_the_verification(clean_db, world, assigned):
    sign(clean_db, world.mentor, assigned, ["0.A.1", "0.A.2"])
    exported = export(clean_db, world.manager, assigned, "pdf")
    cover = pdf_text(exported.data)[1][0]
    with clean_db.session() as db:
        issued = db.exec(select(CompletionRecord)).one()
    for expected in ("Riverside Toyota", "Tess Mentee", "Milo Mentor", "Mara Manager", "Lakeview College",
                     "Ivy Instructor", "2024 edition", "level MLR", "2026-09-01", issued.code,
                     f"/verify/{issued.code}", issued.content_hash[:32], issued.content_hash[32:]):
        assert expected in cover, expected
    assert issued.content_hash == record.content_hash(json.loads(issued.content))


def test_a_revoked_sign_off_is_shown_as_revoked(clean_db, world, assigned):
    sign(clean_db, world.mentor, assigned, ["0.A.1"])
    with clean_db.transaction() as db:
        signoffs.revoke(db, actor_for(clean_db, world.manager), assigned.id, "0.A.1", reason="Wrong mentee")
    text = " ".join("\n".join(pdf_text(export(clean_db, world.manager, assigned, "pdf").data)[1]).split())
    assert "REVOKED" in text and "Wrong mentee" in text
    content = json.loads(export(clean_db, world.manager, assigned, "json").data)["record"]
    task = next(t for a in content["areas"] for t in a["tasks"] if t["code"] == "0.A.1")
    assert task["status"] == "revoked" and task["revocations"][0]["reason"] == "Wrong mentee"


def test_csv_and_json_carry_the_same_record(clean_db, world, assigned):
    sign(clean_db, world.mentor, assigned, ["0.A.1", "0.A.2"])
    document = json.loads(export(clean_db, world.manager, assigned, "json").data)
    rows = list(csv.DictReader(io.StringIO(export(clean_db, world.manager, assigned, "csv").data.decode("utf-8-sig"))))
    assert document["verification"]["sha256"] == record.content_hash(document["record"])
    assert {r["verification_code"] for r in rows} == {document["verification"]["code"]}
    signed = {r["code"]: r for r in rows if r["status"] == "signed"}
    assert set(signed) == {"0.A.1", "0.A.2"}
    assert signed["0.A.1"]["signed_by"] == "Milo Mentor" and signed["0.A.1"]["meaning"] == "performed and observed"
    json_tasks = [t for a in document["record"]["areas"] for t in a["tasks"]]
    assert len(rows) == len(json_tasks)


def test_an_unchanged_record_keeps_its_code_and_a_new_sign_off_supersedes_it(clean_db, world, assigned):
    sign(clean_db, world.mentor, assigned, ["0.A.1"])
    first = export(clean_db, world.manager, assigned, "json")
    assert export(clean_db, world.manager, assigned, "pdf").code == first.code
    with clean_db.session() as db:
        assert verify.verify_record_code(db, first.code).status == "current"
    sign(clean_db, world.mentor, assigned, ["0.A.2"])
    with clean_db.session() as db:  # changed since issued, even before anyone exports again
        assert verify.verify_record_code(db, first.code).status == "superseded"
    second = export(clean_db, world.manager, assigned, "json")
    assert second.code != first.code
    with clean_db.session() as db:
        assert verify.verify_bytes(db, first.data).status == "superseded"
        assert verify.verify_bytes(db, second.data).status == "current"


# --- verification ------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["pdf", "csv", "json"])
def test_changing_one_character_of_a_record_fails_verification(clean_db, world, assigned, fmt):
    sign(clean_db, world.mentor, assigned, ["0.A.1"], rating=4)
    data = export(clean_db, world.manager, assigned, fmt).data
    with clean_db.session() as db:
        good = verify.verify_bytes(db, data)
        assert good.authentic and good.status == "current"
        if fmt == "pdf":
            middle = len(data) // 2  # one bit of the compressed page content
            tampered = data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1:]
        elif fmt == "json":
            tampered = data.replace(b'"rating": 4', b'"rating": 5', 1)
        else:
            tampered = data.replace(b"Milo Mentor", b"Milo Mentos", 1)
        assert tampered != data
        bad = verify.verify_bytes(db, tampered)
    assert not bad.authentic and bad.status == "invalid"


def test_the_public_verify_page_needs_no_login(clean_db, world, assigned, browser):
    sign(clean_db, world.mentor, assigned, ["0.A.1"])
    exported = export(clean_db, world.manager, assigned, "pdf")
    page = browser.get(f"/verify/{exported.code}")
    assert page.status_code == 200
    assert "Authentic and current" in page.text and "Tess Mentee" in page.text and 'id="task-0.A.1"' in page.text
    assert browser.get(f"/verify/{exported.code.lower().replace('-', '')}").status_code == 200  # typed by hand
    missing = browser.get("/verify/AAAA-BBBB-CCCC-DDDD")
    assert missing.status_code == 404 and "Not authentic" in missing.text


def test_anyone_can_upload_a_record_file_to_verify_it(clean_db, world, assigned, browser):
    sign(clean_db, world.mentor, assigned, ["0.A.1"])
    data = export(clean_db, world.manager, assigned, "pdf").data
    browser.get("/verify")
    token = browser.client.cookies["csrftoken"]
    ok = browser.client.post("/verify", data={"_csrf_token": token}, files={"file": ("r.pdf", data, "application/pdf")})
    assert ok.status_code == 200 and "Authentic and current" in ok.text
    bad = browser.client.post("/verify", data={"_csrf_token": token},
                              files={"file": ("r.pdf", data[:-30] + b"%" + data[-29:], "application/pdf")})
    assert "Not authentic" in bad.text
    empty = browser.client.post("/verify", data={"_csrf_token": token, "text": ""})
    assert empty.status_code == 400 and 'id="e-text"' in empty.text


def test_a_withdrawn_record_is_reported_as_revoked(clean_db, world, assigned, browser):
    sign(clean_db, world.mentor, assigned, ["0.A.1"])
    exported = export(clean_db, world.manager, assigned, "pdf")
    browser.login(world.manager.email)
    with clean_db.session() as db:
        issued = db.exec(select(CompletionRecord)).one()
    assert browser.post(f"/records/{issued.id}/revoke", {"reason": ""}).status_code == 400
    assert browser.post(f"/records/{issued.id}/revoke", {"reason": "Issued to the wrong school"}).status_code == 303
    with clean_db.session() as db:
        verdict = verify.verify_bytes(db, exported.data)
    # The reason is for the shop's own page; verifiers learn that and when, not why (issue 12).
    assert verdict.authentic and verdict.status == "revoked" and "wrong school" not in verdict.message
    assert "Issued to the wrong school" in browser.get(f"/assignments/{assigned.id}/records").text


# --- who may export --------------------------------------------------------------------------

def test_managers_and_the_mentee_export_others_get_404(clean_db, world, assigned, browser):
    url = f"/assignments/{assigned.id}/records"
    for person, allowed in [(world.manager, True), (world.mentee, True), (world.mentor, False),
                            (world.other_manager, False), (world.instructor, False), (world.mentee2, False)]:
        browser.login(person.email)
        page = browser.get(url)
        download = browser.post(f"{url}/export", {"format": "json", "paper": "letter"})
        assert (page.status_code, download.status_code) == ((200, 200) if allowed else (404, 404)), person.full_name
        browser.logout()


def test_the_export_page_downloads_a_pdf_and_rejects_an_unknown_format(clean_db, world, assigned, browser):
    browser.login(world.manager.email)
    response = browser.post(f"/assignments/{assigned.id}/records/export", {"format": "pdf", "paper": "a4"})
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert "attachment" in response.headers["content-disposition"]
    bad = browser.post(f"/assignments/{assigned.id}/records/export", {"format": "docx"})
    assert bad.status_code == 400 and 'id="e-format"' in bad.text
    assert browser.get(f"/assignments/{assigned.id}/records/export").status_code in (404, 405)


def test_generating_a_pdf_does_not_block_other_requests(live_server, world, assigned, monkeypatch):
    """A slow PDF runs in a worker thread while another request comes and goes."""
    real_render = pdf.render

    def slow_render(*args, **kw):
        time.sleep(1.5)
        return real_render(*args, **kw)

    monkeypatch.setattr(pdf, "render", slow_render)
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        client.get("/login")
        client.post("/login", data={"email": world.manager.email, "password": PASSWORD,
                                    "_csrf_token": client.cookies["csrftoken"]})
        cookies = dict(client.cookies)
    finished: dict[str, float] = {}

    def fetch_pdf():
        with httpx.Client(base_url=live_server.url, cookies=cookies, timeout=30) as c:
            r = c.post(f"/assignments/{assigned.id}/records/export",
                       data={"format": "pdf", "paper": "letter", "_csrf_token": cookies["csrftoken"]})
            assert r.content.startswith(b"%PDF")
            finished["pdf"] = time.monotonic()

    thread = threading.Thread(target=fetch_pdf)
    started = time.monotonic()
    thread.start()
    time.sleep(0.3)
    with httpx.Client(base_url=live_server.url, cookies=cookies, timeout=30) as c:
        assert c.get(f"/assignments/{assigned.id}/records").status_code == 200
        finished["page"] = time.monotonic()
    thread.join()
    assert finished["page"] < finished["pdf"]
    assert finished["page"] - started < 1.5


# --- bulk export -------------------------------------------------------------------------------

def test_a_manager_exports_every_record_of_the_shop_as_one_zip(clean_db, world, assigned, browser):
    sign(clean_db, world.mentor, assigned, ["0.A.1"])
    browser.login(world.manager.email)
    assert "Start the export" in browser.get(f"/shops/{world.shop.id}/exports").text
    started = browser.post(f"/shops/{world.shop.id}/exports")
    assert started.status_code == 303
    job_url = started.headers["location"]
    page = browser.get(job_url)
    assert page.status_code == 200 and "<progress" in page.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        fragment = browser.get(job_url + "/progress").text
        if "Download the zip" in fragment or "failed" in fragment:
            break
        assert 'hx-trigger="every 1s"' in fragment  # still polling while it runs
        time.sleep(0.2)
    assert "Download the zip" in fragment and "hx-trigger" not in fragment
    download = browser.get(job_url + "/download")
    assert download.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert sorted(n.rsplit(".", 1)[1] for n in names) == ["csv", "json", "pdf"]
    with clean_db.session() as db:
        job = db.exec(select(ExportJob)).one()
        assert (job.status, job.done, job.total) == ("done", 1, 1)
    browser.logout()
    for outsider in (world.other_manager, world.mentor, world.mentee):
        browser.login(outsider.email)
        assert browser.get(job_url + "/download").status_code == 404
        assert browser.get(job_url).status_code == 404
        assert browser.post(f"/shops/{world.shop.id}/exports").status_code in (403, 404)
        browser.logout()
