"""The `mentoring` command and the demo data, against the test database."""

import pytest
from click.testing import CliRunner
from sqlmodel import select

from mentoring import demo
from mentoring.people.models import Enrollment, Membership, Organization, Person, Triad
from mentoring.progress.models import Assignment
from web.cli import main

from .conftest import count_rows


@pytest.fixture
def cli(clean_db, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MENTORING_DATABASE_URL", database_url)
    monkeypatch.setenv("MENTORING_DATA_DIR", str(tmp_path))
    runner = CliRunner()

    def run(*args, input=None, code=0):
        result = runner.invoke(main, list(args), input=input, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output
    return run


def test_demo_seeds_real_looking_shops_once(cli, clean_db):
    out = cli("demo")
    assert "Demo data created." in out and demo.DEMO_PASSWORD in out
    assert "marcus.bell@riverside.example" in out and "karen.holt@lakeview.example" in out
    counts = count_rows(clean_db)
    assert "Demo data was already there." in cli("demo")
    assert count_rows(clean_db) == counts  # idempotent
    with clean_db.session() as db:
        kinds = sorted(db.exec(select(Organization.kind)).all())
        assert kinds == ["dealership", "independent", "school"]
        assert len(db.exec(select(Triad)).all()) >= 4
        mentors = db.exec(select(Membership).where(Membership.role == "mentor")).all()
        assert len(mentors) >= 2
        consented = db.exec(select(Enrollment).where(Enrollment.consent_active.is_(True))).all()
        assert len(consented) == 1
        # every mentee already works on a published task list
        assert {a.mentee_id for a in db.exec(select(Assignment)).all()} == {
            m.person_id for m in db.exec(select(Membership).where(Membership.role == "mentee")).all()}
        _registered_apprentice_part_way(clean_db, db)


def _registered_apprentice_part_way(database, db) -> None:
    """One registered apprentice with six months of hours (some pending, one returned), two RTI terms and a wage
    schedule part-way: applied, due, ahead."""
    from mentoring.oversight import wages
    from mentoring.progress import hours
    from mentoring.progress.models import Apprenticeship, HoursEntry, RtiRecord, WorkProcess

    from .conftest import actor_for

    app = db.exec(select(Apprenticeship)).one()
    triad = db.get(Triad, app.triad_id)
    assert db.get(Person, triad.mentee_id).full_name == demo.APPRENTICE
    states = [e.state for e in db.exec(select(HoursEntry).where(HoursEntry.apprenticeship_id == app.id))]
    assert states.count("returned") == 1 and states.count("pending") >= 4 and states.count("approved") > 200
    assert hours.verify_chains(db) == []
    assert len(db.exec(select(RtiRecord)).all()) == 2
    assert len({wp.area_code for wp in db.exec(select(WorkProcess)).all()}) >= 5
    rows = wages.schedule_of(db, actor_for(database, db.get(Person, triad.manager_id)), triad, None)
    assert [r.status for r in rows] == ["applied", "due", "planned"]


def test_every_demo_login_works_and_lands_on_its_home(cli, browser):
    cli("demo")
    homes = {"admin": "/admin", "manager": "/manager", "mentor": "/mentor", "mentee": "/me",
             "instructor": "/instructor", "site operator": "/admin"}
    for email, _name, roles in [(r.email, r.name, r.roles) for r in _logins(browser)]:
        response = browser.login(email, demo.DEMO_PASSWORD)
        expected = "/manager" if "manager" in roles else homes[roles.split(", ")[0]]
        assert response.headers["location"] == expected, email
        assert browser.get(expected).status_code == 200
        browser.logout()


def _logins(browser):
    database = browser.client.app.state.database
    with database.session() as db:
        return demo.logins(db)


def test_demo_if_empty_leaves_a_real_shop_alone(cli, clean_db):
    cli("orgs", "create", "--name", "Main Street Garage", "--kind", "independent")
    assert "no demo data added" in cli("demo", "--if-empty")
    with clean_db.session() as db:
        assert db.exec(select(Person)).first() is None


def test_an_admin_sets_up_a_real_shop_without_the_demo(cli, browser, clean_db):
    out = cli("orgs", "create", "--name", "Main Street Garage", "--kind", "independent")
    org_id = out.split("#")[1].split(":")[0]
    cli("users", "create", "--email", "Owner@MainStreet.example", "--name", "Pat Owner", "--org", org_id,
        "--role", "admin", "--password", "owner-password-1")
    cli("users", "add-role", "--email", "owner@mainstreet.example", "--org", org_id, "--role", "manager")
    assert browser.login("owner@mainstreet.example", "owner-password-1").headers["location"] == "/manager"
    cli("users", "set-pin", "--email", "owner@mainstreet.example", "--pin", "3916")
    with clean_db.session() as db:
        assert db.exec(select(Person).where(Person.email == "owner@mainstreet.example")).one().pin_hash


def test_cli_errors_name_the_field_and_exit_non_zero(cli):
    out = cli("users", "create", "--email", "bad", "--name", "X", "--password", "long-enough-pw", code=1)
    assert "email" in out and "Enter an email address" in out
    cli("orgs", "create", "--name", "Dup", "--kind", "fleet")
    assert "already exists" in cli("orgs", "create", "--name", "Dup", "--kind", "fleet", code=1)
