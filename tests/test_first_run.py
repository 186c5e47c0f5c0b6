"""A real shop's first run (issue 14): the address records carry, the setup commands, plain form messages and
wording a new shop owner meets."""

import io
import os
import re
import threading
import time

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from pypdf import PdfReader
from reportlab.graphics.barcode import qrencoder
from sqlmodel import select

from mentoring.people.models import Person
from web import settings as settings_module
from web.cli import main

from .browser import _free_port
from .conftest import PASSWORD


@pytest.fixture
def cli(clean_db, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MENTORING_DATABASE_URL", database_url)
    monkeypatch.setenv("MENTORING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MENTORING_SECRET_KEY", "test-secret-" + "x" * 40)
    # Set, then unset: whatever `serve` puts there is taken away again when the test ends.
    monkeypatch.setenv("MENTORING_BASE_URL", "unset")
    monkeypatch.delenv("MENTORING_BASE_URL")
    runner = CliRunner()

    def run(*args, input=None, code=0):
        result = runner.invoke(main, list(args), input=input, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output
    return run


# --- item 1: verification links point at the server that issued them ---------------------------------

def _serve_for_real(monkeypatch, seen: dict):
    """`mentoring serve` hands uvicorn the app factory; this runs it on the port serve was given, in a thread."""
    def run(target, *, factory, host, port, **_options):
        assert target == "web.app:create_app" and factory
        from web.app import create_app
        seen["base_url"] = os.environ.get("MENTORING_BASE_URL")
        server = uvicorn.Server(uvicorn.Config(create_app(), host=host, port=port, log_level="warning"))
        seen["server"] = server
        threading.Thread(target=server.run, daemon=True).start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
    monkeypatch.setattr(uvicorn, "run", run)


def test_records_pdf_and_qr_code_carry_the_port_the_app_serves_on(cli, world, assigned, monkeypatch):
    fed_to_qr = []
    real_add = qrencoder.QRCode.addData
    monkeypatch.setattr(qrencoder.QRCode, "addData", lambda self, data: (fed_to_qr.append(data), real_add(self, data)))
    seen: dict = {}
    _serve_for_real(monkeypatch, seen)
    port = _free_port()
    assert port != 8000
    out = cli("serve", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    assert seen["base_url"] == base and f"point at {base}" in out
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            client.get("/login")
            client.post("/login", data={"email": world.manager.email, "password": PASSWORD,
                                        "_csrf_token": client.cookies["csrftoken"]})
            records = client.get(f"/assignments/{assigned.id}/records")
            assert records.status_code == 200
            assert f"{base}/verify" in records.text and "127.0.0.1:8000" not in records.text
            exported = client.post(f"/assignments/{assigned.id}/records/export",
                                   data={"format": "pdf", "paper": "letter",
                                         "_csrf_token": client.cookies["csrftoken"]})
            assert exported.content.startswith(b"%PDF")
            text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(exported.content)).pages)
            code = re.search(rf"{re.escape(base)}/verify/([A-Z0-9-]+)", text).group(1)
            assert fed_to_qr == [f"{base}/verify/{code}"]
            # ... and the address works: the record verifies there.
            assert "authentic" in client.get(f"/verify/{code}").text.lower()
    finally:
        seen["server"].should_exit = True


def test_an_explicit_base_url_wins_and_other_hosts_are_derived(cli, monkeypatch):
    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(base_url=os.environ.get("MENTORING_BASE_URL")))
    monkeypatch.setenv("MENTORING_BASE_URL", "https://mentoring.shop.example")
    out = cli("serve", "--port", "8920")
    assert seen["base_url"] == "https://mentoring.shop.example" and "WARNING" not in out
    assert settings_module.served_base_url("localhost", 8920) == "http://localhost:8920"
    assert settings_module.served_base_url("::1", 8920) == "http://[::1]:8920"


def test_serving_on_every_interface_warns_and_says_exactly_what_to_set(cli, monkeypatch):
    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(base_url=os.environ.get("MENTORING_BASE_URL")))
    monkeypatch.setattr("web.cli.lan_address", lambda: "192.168.7.40")
    out = cli("serve", "--host", "0.0.0.0", "--port", "8920")
    assert seen["base_url"] == "http://127.0.0.1:8920"
    assert "WARNING: MENTORING_BASE_URL is not set" in out
    assert "MENTORING_BASE_URL=http://192.168.7.40:8920 mentoring serve --host 0.0.0.0 --port 8920" in out


def test_the_readme_documents_the_base_url_beside_the_setup_and_links_nothing_outside_the_clone():
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8").read()
    setup = readme.split("Setting up a shop without the demo", 1)[1].split("Task lists:", 1)[0]
    assert "--host 0.0.0.0" in setup and "MENTORING_BASE_URL" in setup and "--password-stdin" in setup
    assert "../" not in readme


# --- item 14: creating the first admin from a script; roles in the list ------------------------------

def test_users_create_reads_the_password_from_stdin_and_refuses_plainly_without_a_terminal(cli, clean_db, browser):
    cli("orgs", "create", "--name", "Main Street Garage", "--kind", "independent")
    refused = cli("users", "create", "--email", "pat@example.com", "--name", "Pat Owner", "--org", "1",
                  "--role", "admin", input="", code=1)
    assert "No terminal to ask for the password" in refused and "--password-stdin" in refused
    assert "Traceback" not in refused and "Aborted" not in refused
    with clean_db.session() as db:
        assert db.exec(select(Person)).first() is None
    assert "standard input was empty" in cli("users", "create", "--email", "pat@example.com", "--name", "Pat",
                                             "--password-stdin", input="", code=1)
    cli("users", "create", "--email", "pat@example.com", "--name", "Pat Owner", "--org", "1", "--role", "admin",
        "--password-stdin", input="a-sound-owner-password\n")
    assert browser.login("pat@example.com", "a-sound-owner-password").headers["location"] == "/admin"
    help_text = cli("users", "create", "--help")
    assert "--password-stdin" in help_text and "standard input" in help_text


def test_users_list_shows_each_persons_roles_per_organization(cli, world):
    out = cli("users", "list")
    line = next(row for row in out.splitlines() if "oscar.manager@example.com" in row)
    assert "Hillcrest Auto: admin, manager" in line
    assert "Riverside Toyota: mentor" in next(row for row in out.splitlines() if "milo.mentor@" in row)


# --- items 6 and 7: assigning and starting a list say plainly what to type ---------------------------

@pytest.fixture
def published(db, world):
    """A published MLR list of the world's shop, not yet assigned."""
    from mentoring.access.policy import Actor
    from mentoring.progress import customize
    from tasklists import store

    automobile = next(t for t, _ in store.load_catalog(db) if t.program == "automobile")
    manager = Actor(world.manager.id, world.manager.full_name, memberships=frozenset({(world.shop.id, "manager")}))
    task_list = customize.start_list(db, manager, world.shop, template_id=automobile.id, level="MLR", name="MLR")
    version = customize.publish(db, manager, task_list)
    db.commit()
    return automobile, version


def test_blank_assignment_dates_start_today_and_bad_ones_get_plain_messages(browser, world, published, clean_db):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from mentoring.progress.models import Assignment

    from .conftest import field_error
    _, version = published
    browser.login(world.manager.email)
    url = f"/shops/{world.shop.id}/assignments"
    page = browser.get(f"/shops/{world.shop.id}/tasklists").text
    assert "Leave blank to start today." in page
    for form, field, message in [
        ({"start_date": "1/2/26"}, "start_date", "Enter a date, like 2026-09-01."),
        ({"target_date": "soon"}, "target_date", "Enter a date, like 2026-09-01."),
        ({"triad_id": ""}, "triad_id", "Choose an active triad of this shop."),
        ({"version_id": ""}, "version_id", "Choose a published task list of this shop."),
    ]:
        refused = browser.post(url, {"triad_id": world.triad.id, "version_id": version.id, "start_date": "",
                                     "target_date": "", **form})
        assert refused.status_code == 400 and field_error(refused.text, field) == message, form
        assert "Input should" not in refused.text and "too short" not in refused.text
    done = browser.post(url, {"triad_id": world.triad.id, "version_id": version.id, "start_date": "",
                              "target_date": ""})
    assert done.status_code == 303
    with clean_db.session() as db:
        assignment = db.exec(select(Assignment)).one()
    assert assignment.start_date == datetime.now(ZoneInfo(world.shop.timezone)).date()
    assert assignment.target_date is None


def test_the_level_is_a_select_of_the_standards_levels_and_any_case_is_accepted(browser, world, published,
                                                                              clean_db):
    from tasklists.models import ShopTaskList

    automobile, _ = published
    browser.login(world.manager.email)
    page = browser.get(f"/shops/{world.shop.id}/tasklists").text
    select_html = re.search(r'<select id="f-level" name="level".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="([A-Z]+)"', select_html)[:3] == ["MLR", "AST", "MAST"]
    assert 'value="CRR"' in select_html and '<input id="f-level"' not in page
    started = browser.post(f"/shops/{world.shop.id}/tasklists",
                           {"template_id": automobile.id, "level": " ast ", "name": "Lower case"})
    assert started.status_code == 303
    with clean_db.session() as db:
        assert db.exec(select(ShopTaskList).where(ShopTaskList.name == "Lower case")).one().level == "AST"


def test_a_list_file_with_lower_case_levels_imports(published, clean_db):
    from tasklists import files, store

    automobile, _ = published
    with clean_db.session() as db:
        csv_text = files.to_csv(store.template_doc(db, automobile))
    lowered = re.sub(r",((?:MLR|AST|MAST)(?: (?:AST|MAST))*),", lambda m: "," + m.group(1).lower() + ",", csv_text)
    assert lowered != csv_text and ",mlr ast mast," in lowered
    parsed = files.parse(lowered.encode(), "list.csv")
    assert [row.levels for row in parsed.rows] == [row.levels for row in files.parse(csv_text.encode(), "x.csv").rows]


# --- item 13: wording on the instructor's and manager's pages ----------------------------------------

def test_an_instructor_is_told_reviews_exist_but_are_kept_by_the_shop(browser, world, assigned, clean_db):
    from mentoring.oversight import reviews
    from mentoring.people.models import Triad

    from .conftest import actor_for
    browser.login(world.instructor.email)
    assert "No reviews yet." in browser.get(f"/mentees/{world.mentee.id}").text
    with clean_db.transaction() as db:
        reviews.schedule_standard(db, actor_for(clean_db, world.manager), db.get(Triad, world.triad.id))
    page = browser.get(f"/mentees/{world.mentee.id}").text
    assert "No reviews yet." not in page and "30-day" not in page
    assert "Tess Mentee has 3 reviews you cannot open" in page
    browser.logout()
    browser.login(world.manager.email)
    page = browser.get(f"/mentees/{world.mentee.id}").text
    assert "you cannot open" not in page and "30-day" in page


def test_program_coverage_says_no_tasks_where_an_area_has_none_of_a_priority(browser, world, assigned, clean_db):
    from mentoring.oversight import dashboard

    with clean_db.session() as db:
        report = dashboard.progress_of(db, [assigned])[assigned.id].report
    empty = {(a.area_code, p) for a in report.areas for p, c in a.priorities.items() if c.total == 0}
    assert ("0", "P-2") in empty and ("0", "P-3") in empty
    browser.login(world.instructor.email)
    page = browser.get("/instructor/program").text
    for area in report.areas:
        row = re.search(rf"<tr><td>{re.escape(area.area_code)} · .*?</tr>", page, re.S).group(0)
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)[2:5]
        for priority, cell in zip(("P-1", "P-2", "P-3"), cells, strict=True):
            assert ("no tasks" in cell) == ((area.area_code, priority) in empty), (area.area_code, priority, cell)


def test_counts_are_singular_for_one_and_coverage_figures_carry_a_percent_sign(browser, world, assigned, clean_db):
    from mentoring.progress import signoffs

    from .conftest import actor_for
    with clean_db.transaction() as db:
        signoffs.request_signoff(db, actor_for(clean_db, world.mentee), assigned.id, "0.A.1")
    browser.login(world.manager.email)
    page = browser.get("/manager").text
    assert "1 task waiting for sign-off" in page and "1 tasks" not in page
    figures = re.search(r"<td[^>]*>(<span class=\"cov[^\n]*?)</td>", page).group(1)
    assert re.findall(r'<span class="cov (?:ok|no)"[^>]*>([^<]*)</span>', figures) == ["0.0 %", "0.0 %", "0.0 %"]
    browser.logout()
    browser.login(world.instructor.email)
    page = browser.get("/instructor").text
    assert re.findall(r'<span class="cov (?:ok|no)">([^<]*)</span>', page)[:3] == ["0.0 %", "0.0 %", "0.0 %"]
    from mentoring.words import plural
    assert [plural(1, "task"), plural(0, "task"), plural(2, "day")] == ["1 task", "0 tasks", "2 days"]


# --- item 15: small things a first run trips over ----------------------------------------------------

NAV = 'aria-label="Main">'


def test_verify_keeps_the_menu_for_someone_signed_in_and_stays_public(browser, world, assigned, clean_db):
    from exports import service
    from mentoring.progress.models import Assignment

    from .conftest import actor_for
    with clean_db.transaction() as db:
        code = service.export_record(db, actor_for(clean_db, world.manager), db.get(Assignment, assigned.id), "json",
                                     base_url="http://127.0.0.1:8000").code
    for url in ("/verify", f"/verify/{code}"):
        anonymous = browser.get(url)
        assert anonymous.status_code == 200 and NAV not in anonymous.text
    browser.login(world.manager.email)
    for url in ("/verify", f"/verify/{code}"):
        page = browser.get(url)
        assert page.status_code == 200 and NAV in page.text and 'href="/manager"' in page.text
    checked = browser.client.post("/verify", data={"text": code, "_csrf_token": browser.client.cookies["csrftoken"]},
                                  files={"file": ("", b"", "application/octet-stream")})
    assert checked.status_code == 200 and NAV in checked.text and "Tess Mentee" in checked.text


def test_a_code_search_matches_whole_parts_of_codes(browser, world, assigned):
    browser.login(world.mentor.email)
    rows = browser.get(f"/assignments/{assigned.id}?q=II.A",
                       headers={"hx-request": "true", "hx-target": "task-rows"}).text
    codes = set(re.findall(r"/tasks/([0-9A-Z]+\.[A-Z]+\.[0-9]+)", rows))
    assert codes and {c.split(".")[0] + "." + c.split(".")[1] for c in codes} == {"II.A"}
    words = browser.get(f"/assignments/{assigned.id}?q=brake+fluid",
                        headers={"hx-request": "true", "hx-target": "task-rows"}).text
    assert re.findall(r"/tasks/(V\.[A-Z]+\.[0-9]+)", words)  # plain words still search the statements
    area = set(re.findall(r"/tasks/([0-9A-Z]+)\.", browser.get(
        f"/assignments/{assigned.id}?q=VII", headers={"hx-request": "true", "hx-target": "task-rows"}).text))
    assert area == {"VII"}


def test_every_page_names_a_favicon_that_is_served(browser):
    page = browser.get("/login").text
    assert '<link rel="icon" href="/favicon.ico"' in page
    icon = browser.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "no-store" not in icon.headers["cache-control"]


def test_a_wrong_tablet_pin_says_who_can_set_a_new_one(browser, world, assigned):
    browser.login(world.manager.email)
    browser.post(f"/shops/{world.shop.id}/tablets", {"name": "Bay 3"})
    assert 'id="pin-help"' not in browser.get(f"/tablet/mentors/{world.mentor.id}").text
    wrong = browser.post(f"/tablet/mentors/{world.mentor.id}", {"pin": "1111"})
    assert wrong.status_code == 400 and "PIN is not right" in wrong.text
    assert "ask an admin of this shop" in wrong.text and "Sign-off PIN" in wrong.text


def test_a_record_exported_on_the_command_line_says_when_its_address_is_only_the_default(cli, world, assigned,
                                                                                       tmp_path, monkeypatch):
    out = cli("export", "record", "--mentee", world.mentee.email, "--format", "json", "--out", str(tmp_path / "a"))
    assert "MENTORING_BASE_URL is not set" in out and "http://127.0.0.1:8000" in out
    monkeypatch.setenv("MENTORING_BASE_URL", "https://mentoring.shop.example")
    out = cli("export", "record", "--mentee", world.mentee.email, "--format", "json", "--out", str(tmp_path / "b"))
    assert "not set" not in out and "https://mentoring.shop.example/verify/" in (tmp_path / "b").read_text()
