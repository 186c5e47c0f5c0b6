"""Issue 14's whole first run, in a real Chromium at desktop, tablet and phone sizes, from an empty database.

Only `mentoring init`, `orgs create` and the first admin come from the command line; a real `mentoring serve`
does the rest. After the start page no URL is typed: the owner follows the dashboard's checklist by clicking,
invites a mentor by email (the link arrives at a test SMTP server), adds the manager and mentees from a CSV
file, builds a list from the MLR standard with two tasks not applicable and one shop task, publishes and
assigns it, enrolls a tablet on which the mentor signs two tasks with the PIN, adds the partner school and
its instructor, and exports the mentee's completion record, whose printed verification link the test opens.
axe finds nothing on any page visited; the clicks per size are printed (run with -s)."""

import os
import re
import subprocess
import sys
import time
import urllib.request
from email import message_from_string
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlmodel import select

from mentoring.progress.models import Assignment, ProgressEvent
from tasklists import shoplists
from tasklists.models import ShopTaskList

from .browser import SIZES, _free_port, close_page, open_page
from .test_browser_signoff import axe_violations
from .test_people_onboarding import mailbox  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
OWNER_PASSWORD = "owner-first-password"
MENTOR_PASSWORD = "milo-picks-his-own"
PIN = "4826"
PEOPLE_CSV = (b"name,email,role,mentor,manager\n"
              b"Mara Manager,mara@garage.example,manager,,\n"
              b"Tess Mentee,tess@garage.example,mentee,milo@garage.example,mara@garage.example\n"
              b"Uma Mentee,uma@garage.example,mentee,milo@garage.example,mara@garage.example\n")


def _cli(env, *args, stdin=""):
    done = subprocess.run([sys.executable, "-c", "from web.cli import main; main()", *args], env=env, cwd=ROOT,
                          input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@pytest.fixture
def served(clean_db, database_url, mailbox, tmp_path):  # noqa: F811
    """An empty database set up by the README's three commands, and `mentoring serve` on it."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MENTORING_DATABASE_URL": database_url,
           "MENTORING_DATA_DIR": str(tmp_path), "MENTORING_SECRET_KEY": "e2e-secret-" + "x" * 40,
           "MENTORING_BASE_URL": url, "MENTORING_SMTP_URL": mailbox.url}
    _cli(env, "init")
    org = int(re.search(r"#(\d+)", _cli(env, "orgs", "create", "--name", "Main Street Garage",
                                        "--kind", "independent")).group(1))
    _cli(env, "users", "create", "--email", "owner@garage.example", "--name", "Pat Owner", "--org", str(org),
         "--role", "admin", "--password-stdin", stdin=OWNER_PASSWORD + "\n")
    _cli(env, "users", "add-role", "--email", "owner@garage.example", "--org", str(org), "--role", "manager")
    server = subprocess.Popen([sys.executable, "-c", "from web.cli import main; main()", "serve", "--port",
                               str(port)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/login", timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "mentoring serve did not start"
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


class Path14:
    """Clicks go through here: they are counted, and axe runs on every page a click lands on."""

    def __init__(self, width, height):
        self.size = f"{width}x{height}"
        self.clicks = 0
        self.violations = []
        self.seen = set()

    def axe(self, page, label=""):
        key = (re.sub(r"\d+", "N", page.url.split("?")[0]), label)
        if key in self.seen:
            return
        self.seen.add(key)
        found = axe_violations(page)
        if found:
            self.violations.append((self.size, page.url, label, found))

    def act(self, page, what, *args, navigates=True, **kw):
        self.clicks += 1
        if navigates:
            with page.expect_navigation():
                getattr(page, what)(*args, **kw)
            page.wait_for_load_state()
            self.axe(page)
        else:
            getattr(page, what)(*args, **kw)

    def click(self, page, selector, **kw):
        self.act(page, "click", selector, **kw)

    def follow(self, page, locator, navigates=True):
        self.clicks += 1
        if navigates:
            with page.expect_navigation():
                locator.click()
            self.axe(page)
        else:
            locator.click()


def _menu(path, page, name):
    """A link of the top menu; on a phone it sits behind the Menu button."""
    link = page.locator("nav[aria-label=Main] a", has_text=name)
    if not link.is_visible():
        path.act(page, "click", "button.menu-toggle", navigates=False)
    path.follow(page, link)


def _sign_in(path, page, email, password):
    page.fill("#f-email", email)
    page.fill("#f-password", password)
    path.click(page, "button[type=submit]")


@pytest.mark.parametrize("width, height", SIZES)
def test_from_an_empty_database_to_a_verified_record(chromium, served, mailbox, clean_db,  # noqa: F811
                                                     width, height):
    url, path = served, Path14(width, height)
    size = {"width": width, "height": height}
    touch = width < 1000
    context, page = open_page(chromium, viewport=size, has_touch=touch)
    tablet_context, tablet = open_page(chromium, viewport=size, has_touch=touch)
    guest_context, guest = open_page(chromium, viewport=size, has_touch=touch)
    try:
        page.goto(url)
        path.axe(page)
        _sign_in(path, page, "owner@garage.example", OWNER_PASSWORD)
        assert page.locator("h2", has_text="Getting Main Street Garage started").is_visible()

        # 1. People: the mentor is invited by email (with his PIN), the others come from a CSV file.
        path.click(page, "text=Add a mentee, a mentor and a manager")
        page.fill("#f-full_name", "Milo Mentor")
        page.fill("#f-email", "milo@garage.example")
        path.act(page, "select_option", "#f-role", "mentor", navigates=False)
        path.act(page, "check", "input[name=sign_in][value=email]", navigates=False)
        page.fill("#f-pin", PIN)
        path.click(page, "button.primary")
        assert page.locator("[role=status]").inner_text().startswith("The person was added")

        path.click(page, "text=Add people from a CSV file")
        path.act(page, "set_input_files", "#f-file", navigates=False, files=[
            {"name": "people.csv", "mimeType": "text/csv", "buffer": PEOPLE_CSV}])
        path.click(page, "button.primary")
        path.act(page, "check", "input[name=sign_in][value=none]", navigates=False)
        path.click(page, "text=Add 3 people")
        assert page.locator("[role=status]").inner_text().startswith("The people in the file were added")

        # The invited mentor chooses a password from the email and signs in, in a browser of his own.
        (sender, rcpt, raw), = [m for m in mailbox.messages if m[1] == ["milo@garage.example"]]
        body = message_from_string(raw).get_payload(decode=True).decode()
        link = re.search(re.escape(url) + r"/welcome/\S+", body).group(0)
        guest.goto(link)
        path.axe(guest)
        guest.fill("#f-password", MENTOR_PASSWORD)
        guest.fill("#f-password_again", MENTOR_PASSWORD)
        path.click(guest, "button.primary")
        assert "password is set" in guest.locator("[role=status]").inner_text()
        _sign_in(path, guest, "milo@garage.example", MENTOR_PASSWORD)
        assert guest.url.endswith("/mentor")

        # 2. The file started both triads; the checklist ticks that, and leads on to the task list.
        assert page.locator(".setup li.done", has_text="Start a triad").count() == 1
        path.click(page, ".setup a:has-text('Build and publish a task list')")
        path.act(page, "select_option", "#f-level", "MLR", navigates=False)
        page.fill("#f-name", "Main Street MLR")
        path.click(page, "button:has-text('Start list')")
        total = int(re.search(r"of (\d+) tasks apply", page.inner_text("#applicable-count")).group(1))
        path.follow(page, page.locator("summary", has_text="Engine Repair").first, navigates=False)
        path.act(page, "check", '[id="task-I.A.3"] input[type=checkbox]', navigates=False)
        path.act(page, "check", '[id="task-I.A.4"] input[type=checkbox]', navigates=False)
        page.fill("#f-bulk-reason", "Engine rebuilds go to our partner shop")
        path.click(page, "text=Mark picked tasks not applicable")
        assert page.inner_text("#applicable-count") == f"{total - 2} of {total} tasks apply"
        engine = page.locator("details", has=page.locator("summary", has_text="Engine Repair")).first
        if engine.get_attribute("open") is None:
            path.follow(page, engine.locator("summary").first, navigates=False)
        path.follow(page, page.locator("a", has_text="Add a shop task to I.A"), navigates=False)
        page.fill("input[aria-label='New shop task in I.A']", "Walk a customer through the engine findings")
        path.follow(page, page.locator("form.add-task", has=page.locator("input[aria-label='New shop task in I.A']"))
                    .locator("button"), navigates=False)
        page.locator("li", has_text="Walk a customer through the engine findings").first.wait_for()
        path.axe(page, "shop task added")
        path.click(page, "text=Publish version 1")
        path.click(page, "text=Assign version 1 to mentees")
        path.act(page, "check", "label:has-text('Tess Mentee') input", navigates=False)
        path.act(page, "check", "label:has-text('Uma Mentee') input", navigates=False)
        path.click(page, "text=Assign to the picked mentees")
        assert "2 mentees were given the list" in page.inner_text("#assignments [role=status]")

        # 3. The tablet: the owner enrolls it on the tablet itself, from the checklist there.
        tablet.goto(url)
        _sign_in(path, tablet, "owner@garage.example", OWNER_PASSWORD)
        path.click(tablet, ".setup a:has-text('Enroll the shop tablet')")
        tablet.fill("#f-name", "Bay 3")
        path.click(tablet, "text=Enroll as a shop tablet")
        signed = []
        for _ in range(2):  # the multi-sign window is off: the PIN each time
            path.click(tablet, ".tile:has-text('Milo Mentor')")
            tablet.fill("#f-pin", PIN)
            path.click(tablet, "form[action^='/tablet/mentors'] button")
            path.click(tablet, ".tile:has-text('Tess Mentee')")
            row = tablet.locator("li.row", has=tablet.locator("a.sign")).first
            code = row.locator("strong").first.inner_text()
            path.follow(tablet, row.locator("a.sign"))
            path.click(tablet, "button.big")
            confirmation = tablet.locator("[role=status].confirmation").inner_text()
            assert f"{code} is signed for Tess Mentee" in confirmation and "Milo Mentor" in confirmation
            assert tablet.locator("h1", has_text="Who is signing?").is_visible()
            signed.append(code)

        # 4. The partner school and its instructor, from the checklist's last step.
        _menu(path, page, "Manager")
        path.click(page, ".setup a:has-text('Enroll a student with their school')")
        path.click(page, "text=Add your partner school")
        page.fill("#f-name", "Lakeview College")
        path.click(page, "button.primary")
        page.fill("#f-full_name", "Ivy Instructor")
        page.fill("#f-email", "ivy@lakeview.example")
        path.click(page, "button.primary")
        assert [m for m in mailbox.messages if m[1] == ["ivy@lakeview.example"]]
        path.act(page, "select_option", "#f-mentee_id", label="Tess Mentee", navigates=False)
        path.act(page, "select_option", "#f-school_id", label="Lakeview College", navigates=False)
        path.act(page, "select_option", "#f-instructor_id", label="Ivy Instructor", navigates=False)
        path.click(page, "button:has-text('Enroll')")

        # 5. Tess's completion record: download the PDF and open the verification link printed in it.
        _menu(path, page, "Manager")
        # Every first step is done, so the checklist is gone.
        assert page.locator(".setup").count() == 0, page.locator(".setup li:not(.done)").all_inner_texts()
        path.click(page, "main a:has-text('Tess Mentee')")
        path.click(page, "text=Completion record and credentials")
        with page.expect_download() as download:
            path.act(page, "click", "button:has-text('Download')", navigates=False)
        text = "".join(p.extract_text() for p in PdfReader(download.value.path()).pages)
        verify = re.search(re.escape(url) + r"/verify/[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", text.replace("\n", "")).group(0)
        page.goto(verify)
        path.axe(page)
        assert page.locator(".verdict.ok h2").inner_text() == "Authentic and current"
    finally:
        close_page(guest_context, guest)
        close_page(tablet_context, tablet)
        close_page(context, page)
    with clean_db.session() as db:
        events = db.exec(select(ProgressEvent).where(ProgressEvent.kind == "signoff")).all()
        assert sorted(e.task_code for e in events) == sorted(signed)
        assert {e.actor_name for e in events} == {"Milo Mentor"}
        published, = [v for v in shoplists.versions(db, db.exec(select(ShopTaskList.id)).one()) if v.published_at]
        tasks = shoplists.tasks(db, published.id)
        assert sorted(t.code for t in tasks if t.not_applicable) == ["I.A.3", "I.A.4"]
        shop_tasks = [t.statement for t in tasks if t.template_task_id is None]
        assert shop_tasks == ["Walk a customer through the engine findings"]
        assert len(db.exec(select(Assignment)).all()) == 2
    print(f"clicks at {width}x{height}: {path.clicks}")
    assert path.violations == [], path.violations
