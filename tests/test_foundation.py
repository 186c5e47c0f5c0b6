"""Settings, health, migrations and SQLite write concurrency (layering: tests/test_architecture.py)."""

import threading
import time

import pytest
from litestar.testing import TestClient
from sqlmodel import select

from mentoring.people.models import Person
from web import migrate
from web.app import create_app
from web.db import Database
from web.settings import DEFAULT_SECRET, Settings


def test_it_refuses_the_default_secret_in_production():
    with pytest.raises(ValueError, match="MENTORING_SECRET_KEY"):
        Settings(environment="production", secret_key=DEFAULT_SECRET)
    assert Settings(environment="production", secret_key="k" * 40).is_production


def test_it_reads_settings_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MENTORING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MENTORING_SESSION_IDLE_MINUTES", "15")
    settings = Settings()
    assert settings.session_idle_minutes == 15
    assert settings.db_url == f"sqlite:///{tmp_path.resolve() / 'mentoring.sqlite3'}"


def test_it_maps_postgres_urls_to_psycopg3():
    assert Settings(database_url="postgresql://u@h/db").db_url == "postgresql+psycopg://u@h/db"


def test_healthz_answers_200_when_the_database_is_reachable(browser):
    response = browser.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_answers_503_when_the_database_is_not(tmp_path):
    broken = Database(f"sqlite:///{tmp_path / 'missing-dir' / 'x.sqlite3'}")
    settings = Settings(data_dir=tmp_path, secret_key="s" * 40)
    with TestClient(app=create_app(settings, broken)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503


def test_models_and_migrations_agree(database):
    assert migrate.drift(database.engine) == []


def test_sqlite_has_wal_and_foreign_keys(database):
    if not database.is_sqlite:
        pytest.skip("SQLite pragmas")
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_writers_that_read_first_do_not_fail_when_concurrent(clean_db, world):
    """Eight threads each read a counter and write it back; none may see 'database is locked', and no
    update is lost (SQLite: BEGIN IMMEDIATE; PostgreSQL: the row lock that FOR UPDATE takes)."""
    errors = []

    def bump():
        try:
            for _ in range(10):
                with clean_db.session(write=True) as db:
                    person = db.exec(select(Person).where(Person.id == world.mentee.id).with_for_update()).one()
                    person.failed_logins += 1
                    db.add(person)
                    db.commit()
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with clean_db.session() as db:
        # Serialised writers lose no update.
        assert db.get(Person, world.mentee.id).failed_logins == 80



def test_writers_that_fail_or_roll_back_let_the_next_writer_in(clean_db, world):
    """A write transaction ends by commit, by rollback, or by its session closing after an error; each
    must let the next writer in at once (on SQLite the process's writers queue on one lock)."""
    errors = []

    def write(n: int):
        try:
            for i in range(6):
                try:
                    with clean_db.session(write=True) as db:
                        person = db.exec(select(Person).where(Person.id == world.mentee.id).with_for_update()).one()
                        person.failed_logins += 1
                        db.add(person)
                        db.flush()
                        if (n + i) % 3 == 1:
                            db.rollback()
                        elif (n + i) % 3 == 2:
                            raise LookupError  # the session closes with the transaction open
                        else:
                            db.commit()
                except LookupError:
                    pass
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert time.monotonic() - started < 20  # a lock left held would stall the others for 30 s
    with clean_db.session() as db:
        assert db.get(Person, world.mentee.id).failed_logins == 12  # one in three committed
