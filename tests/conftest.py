"""Fixtures: a real database (SQLite file, or PostgreSQL from MENTORING_TEST_DATABASE_URL), the app, personas."""

import os
import re
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher, Type
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from litestar.testing import TestClient
from sqlalchemy import text
from sqlmodel import SQLModel

import mentoring.access.auth
from web import migrate
from web.app import create_app
from web.db import Database
from web.settings import Settings, normalize_db_url

PASSWORD = "correct-horse-battery"

# CI runs the SQLite and PostgreSQL suites side by side on two cores: how fast Hypothesis generates examples,
# or how long one example takes, is not what any property test checks.
hypothesis_settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("suite")


@pytest.fixture(scope="session", autouse=True)
def fast_hashing():
    # Real argon2id, cheap parameters: the suite hashes hundreds of passwords.
    # test_auth checks the production parameters on a separate hasher.
    saved = mentoring.access.auth._hasher
    mentoring.access.auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
    yield
    mentoring.access.auth._hasher = saved


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("MENTORING_TEST_DATABASE_URL")
    if url:
        return normalize_db_url(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def database(database_url):
    database = Database(database_url)
    if not database.is_sqlite:
        with database.engine.begin() as conn:  # start from an empty schema every run
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


def _wipe(database: Database) -> None:
    tables = [t.name for t in reversed(migrate.target_metadata().sorted_tables)]
    with database.engine.begin() as conn:
        if database.is_sqlite:
            for name in tables:
                conn.execute(text(f'DELETE FROM "{name}"'))
        else:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))


@pytest.fixture
def clean_db(database):
    _wipe(database)
    yield database
    _wipe(database)


@pytest.fixture
def db(clean_db):
    """A session for arranging a test; commit what the app should see. It does not take SQLite's
    write lock up front, so an open transaction here never blocks the app under test."""
    with clean_db.session() as session:
        yield session


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 40,
                    offline_pin_iterations=1000)  # production: 600_000 (a fixed vector checks the derivation)


@pytest.fixture
def app(settings, clean_db):
    return create_app(settings, clean_db)


class Browser:
    """A TestClient that signs in and sends CSRF tokens like the real pages do."""

    def __init__(self, client: TestClient):
        self.client = client

    def get(self, url: str, **kw):
        return self.client.get(url, follow_redirects=False, **kw)

    def post(self, url: str, data: dict | None = None, *, csrf: bool = True, **kw):
        if "csrftoken" not in self.client.cookies:
            self.client.get("/login")
        form = dict(data or {})
        if csrf:
            form["_csrf_token"] = self.client.cookies["csrftoken"]
        return self.client.post(url, data=form, follow_redirects=False, **kw)

    def login(self, email: str, password: str = PASSWORD):
        response = self.post("/login", {"email": email, "password": password})
        assert response.status_code == 303, response.text
        return response

    def logout(self):
        return self.post("/logout")


@pytest.fixture
def browser(app):
    with TestClient(app=app) as client:
        yield Browser(client)


@pytest.fixture
def other_browser(app):
    with TestClient(app=app) as client:
        yield Browser(client)


def field_error(html: str, field: str) -> str | None:
    match = re.search(rf'<p class="error" id="e-{field}">([^<]*)</p>', html)
    return match.group(1) if match else None


# --- personas ----------------------------------------------------------------------

@dataclass
class World:
    shop: object
    other_shop: object
    school: object
    admin: object
    manager: object
    mentor: object
    mentor2: object
    mentee: object
    mentee2: object
    other_manager: object
    other_mentor: object
    other_mentee: object
    instructor: object
    triad: object
    other_triad: object
    consented: object  # enrollment with the shop's consent on (mentee)
    unconsented: object  # enrollment with consent off (mentee2)


@pytest.fixture
def world(db) -> World:
    from mentoring.access.policy import Actor
    from mentoring.people import accounts, triads
    from mentoring.people.accounts import NewPersonIn, OrganizationIn
    from mentoring.people.triads import EnrollmentIn, TriadIn

    actor = Actor(None, "test", True)
    shop = accounts.create_organization(db, actor, OrganizationIn(name="Riverside Toyota", kind="dealership"))
    other = accounts.create_organization(db, actor, OrganizationIn(name="Hillcrest Auto", kind="independent"))
    school = accounts.create_organization(db, actor, OrganizationIn(name="Lakeview College", kind="school"))

    def member(org, name, role):
        email = name.lower().replace(" ", ".") + "@example.com"
        return accounts.add_member(db, actor, org, NewPersonIn(full_name=name, email=email, role=role,
                                                             password=PASSWORD, pin="2580"))

    w = dict(
        shop=shop, other_shop=other, school=school,
        admin=member(shop, "Alice Admin", "admin"), manager=member(shop, "Mara Manager", "manager"),
        mentor=member(shop, "Milo Mentor", "mentor"), mentor2=member(shop, "Nina Mentor", "mentor"),
        mentee=member(shop, "Tess Mentee", "mentee"), mentee2=member(shop, "Uma Mentee", "mentee"),
        other_manager=member(other, "Oscar Manager", "manager"), other_mentor=member(other, "Otto Mentor", "mentor"),
        other_mentee=member(other, "Olga Mentee", "mentee"), instructor=member(school, "Ivy Instructor", "instructor"),
    )
    accounts.add_member(db, actor, other, NewPersonIn(full_name="Oscar Manager", email="oscar.manager@example.com",
                                                    role="admin"))
    w["triad"] = triads.create_triad(db, actor, shop, TriadIn(
        mentee_id=w["mentee"].id, mentor_id=w["mentor"].id, manager_id=w["manager"].id))
    triads.create_triad(db, actor, shop, TriadIn(
        mentee_id=w["mentee2"].id, mentor_id=w["mentor2"].id, manager_id=w["manager"].id))
    w["other_triad"] = triads.create_triad(db, actor, other, TriadIn(
        mentee_id=w["other_mentee"].id, mentor_id=w["other_mentor"].id, manager_id=w["other_manager"].id))
    w["consented"] = triads.create_enrollment(db, actor, shop, EnrollmentIn(
        mentee_id=w["mentee"].id, school_id=school.id, instructor_id=w["instructor"].id, consent_active=True))
    w["unconsented"] = triads.create_enrollment(db, actor, shop, EnrollmentIn(
        mentee_id=w["mentee2"].id, school_id=school.id, instructor_id=w["instructor"].id, consent_active=False))
    db.commit()
    return World(**w)


def count_rows(database: Database) -> dict[str, int]:
    with database.engine.connect() as conn:
        # The throttle table counts attempts (a refused wrong PIN is meant to count), not stored data.
        return {t: conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one()
                for t in SQLModel.metadata.tables if t != "throttle"}


@pytest.fixture
def live_server(app):
    from .browser import LiveServer
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    from .browser import CHROMIUM_ARGS, require_chromium
    path = require_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def tablet(chromium):
    """A page the size of a shop tablet held in landscape."""
    from .browser import close_page, open_page
    context, page = open_page(chromium, viewport={"width": 1180, "height": 820}, has_touch=True)
    yield page
    close_page(context, page)


@pytest.fixture
def assigned(db, world):
    """The world's mentee works on a published MLR list; returns the Assignment."""
    from mentoring.access.policy import Actor
    from mentoring.progress import customize
    from mentoring.progress.customize import AssignmentIn
    from tasklists import store

    operator = Actor(None, "test", True)
    automobile = next(t for t, _ in store.load_catalog(db) if t.program == "automobile")
    manager = Actor(world.manager.id, world.manager.full_name, memberships=frozenset({(world.shop.id, "manager")}))
    task_list = customize.start_list(db, manager, world.shop, template_id=automobile.id, level="MLR", name="MLR")
    customize.edit_task(db, manager, task_list, "I.A.2", "not_applicable", {"na_reason": "Engines go out"})
    version = customize.publish(db, manager, task_list)
    assignment = customize.assign(db, operator, world.shop, AssignmentIn(
        triad_id=world.triad.id, version_id=version.id, start_date="2026-09-01"))
    db.commit()
    return assignment


def actor_for(database, person):
    from mentoring.access.policy import load_actor
    from mentoring.people.models import Person
    with database.session() as db:
        return load_actor(db, db.get(Person, person.id), ip="127.0.0.1")


def offline_conflict(db, assignment, mentor, device_id: int, code: str = "I.A.1"):
    """An offline sign-off kept as a conflict (mentoring/progress/offline_sync.py), as a stored row: for the
    tests that need one to look at, not to make."""
    import uuid
    from datetime import UTC, datetime

    from mentoring.progress.models import OfflineConflict

    row = OfflineConflict(shop_id=assignment.shop_id, assignment_id=assignment.id, task_code=code,
                          mentor_id=mentor.id, mentor_name=mentor.full_name, tablet_id=device_id, tablet_name="Bay 1",
                          idempotency_key=str(uuid.uuid4()), device_time=datetime(2026, 12, 2, 9, tzinfo=UTC),
                          base_version=0, rating=4, server_state='{"status": "signed", "signoff": null, '
                          '"countersigns": [], "since": [], "newest_version": 0}')
    db.add(row)
    db.flush()
    return row.id
