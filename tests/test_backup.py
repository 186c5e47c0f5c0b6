"""`mentoring backup` under write load, and `mentoring restore` of that copy into an empty database."""

import secrets
import threading
import time
from contextlib import contextmanager

from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import select

from mentoring.progress import signoffs
from mentoring.progress.models import ProgressEvent
from web.cli import main
from web.db import Database

from .conftest import actor_for


def _cli(monkeypatch, url: str, data_dir, *args: str, code: int = 0) -> str:
    monkeypatch.setenv("MENTORING_DATABASE_URL", url)
    monkeypatch.setenv("MENTORING_DATA_DIR", str(data_dir))
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


@contextmanager
def _empty_database(database_url: str, tmp_path):
    """A second, empty database of the same kind to restore into."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    base = make_url(database_url)
    name = f"{base.database}_restore_{secrets.token_hex(3)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_backup_under_write_load_restores_everything_committed_before_it(
        clean_db, database_url, world, assigned, tmp_path, monkeypatch):
    mentor = actor_for(clean_db, world.mentor)
    committed: list[int] = []  # event ids, appended only once their transaction has committed
    stop = threading.Event()
    failures: list[BaseException] = []

    def write_load():
        n = 0
        try:
            while not stop.is_set():
                n += 1
                with clean_db.session(write=True) as db:
                    event = signoffs.comment(db, mentor, assigned.id, "I.A.1", note=f"load {n}")
                    db.commit()
                    committed.append(event.id)
        except BaseException as exc:  # surfaced in the test below
            failures.append(exc)

    writer = threading.Thread(target=write_load)
    writer.start()
    try:
        while len(committed) < 20:  # the load is really running before the backup starts
            time.sleep(0.01)
            assert writer.is_alive(), failures
        before_backup = set(committed)
        backup_file = tmp_path / "backup.db"
        out = _cli(monkeypatch, database_url, tmp_path, "backup", str(backup_file))
        assert "Backup written" in out
        deadline = len(committed) + 20
        while len(committed) < deadline and writer.is_alive():  # and it goes on after the backup
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert not failures, failures
    assert _cli(monkeypatch, database_url, tmp_path, "backup", str(backup_file), code=1)  # never overwritten

    with _empty_database(database_url, tmp_path) as target_url:
        out = _cli(monkeypatch, target_url, tmp_path, "restore", str(backup_file), "--yes")
        assert "Restored" in out
        restored = Database(target_url)
        try:
            with restored.session() as db:
                ids = set(db.exec(select(ProgressEvent.id)).all())
                assert before_backup <= ids, sorted(before_backup - ids)[:10]
                assert ids <= set(committed)  # nothing that never committed
                assert signoffs.verify_chains(db) == []
        finally:
            restored.dispose()
        assert "every chain intact" in _cli(monkeypatch, target_url, tmp_path, "audit", "verify")


def test_restore_refuses_a_file_that_is_not_a_backup(clean_db, database_url, tmp_path, monkeypatch):
    junk = tmp_path / "junk.db"
    junk.write_text("not a database")
    out = _cli(monkeypatch, database_url, tmp_path, "restore", str(junk), "--yes", code=1)
    assert "not a SQLite database" in out or "pg_restore failed" in out


def test_a_backup_is_readable_by_its_owner_only(clean_db, database_url, tmp_path, monkeypatch):
    target = tmp_path / "copy.db"
    _cli(monkeypatch, database_url, tmp_path, "backup", str(target))
    assert target.stat().st_size > 0
    assert target.stat().st_mode & 0o777 == 0o600
