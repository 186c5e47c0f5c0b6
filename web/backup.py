"""Online backup and restore of the database.

SQLite: `VACUUM INTO` writes a consistent, compacted copy while the app keeps serving (readers and
the writer go on; the copy is the state at the moment the statement began). Restoring uses SQLite's
backup API, which replaces the live file's content page by page under a lock, so a running server
sees either the old database or the restored one, never a mix.

PostgreSQL: `pg_dump --format=custom` takes a snapshot in one repeatable-read transaction, and
`pg_restore --clean --single-transaction` puts it back; both need the PostgreSQL client programs
of the server's major version on PATH (Debian: the `postgresql-client` package).

Uploaded photos are not in the database: they are write-once files in the data folder's `uploads`
directory, so copy that folder alongside the backup (e.g. `rsync -a`).
"""

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from web.db import Database


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why, for the command line."""


def backup(database: Database, target: Path) -> None:
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name.")
    target.parent.mkdir(parents=True, exist_ok=True)
    # A backup holds every shop's people and pay plans: readable by its owner only, like the database. Both
    # VACUUM INTO and pg_dump write into an empty file that already exists and keep its mode.
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        _copy_into(database, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _copy_into(database: Database, target: Path) -> None:
    if database.is_sqlite:
        # On the raw connection: VACUUM cannot run inside the transaction SQLAlchemy would begin.
        raw = database.engine.raw_connection()
        try:
            raw.driver_connection.execute("VACUUM INTO ?", (str(target),))
        finally:
            raw.close()
        return
    _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(target), _libpq_url(database)])


def restore(database: Database, source: Path) -> None:
    if not source.is_file():
        raise BackupError(f"{source} is not a file.")
    if database.is_sqlite:
        _restore_sqlite(database, source)
    else:
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--dbname", _libpq_url(database), str(source)])
    database.engine.dispose()  # pooled connections may hold pages of the replaced database


def _restore_sqlite(database: Database, source: Path) -> None:
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src:
            ok = src.execute("PRAGMA integrity_check").fetchone()[0]
            has_schema = src.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a SQLite database: {exc}") from None
    if ok != "ok" or not has_schema:
        raise BackupError(f"{source} is not a backup of this application (integrity: {ok}).")
    target = make_url(database.url).database
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def schema_revision(database: Database) -> str | None:
    with database.engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _libpq_url(database: Database) -> str:
    # pg_dump takes a libpq URL: the SQLAlchemy driver suffix ("+psycopg") must go.
    return make_url(database.url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(argv: list[str]) -> None:
    if shutil.which(argv[0]) is None:
        raise BackupError(f"{argv[0]} was not found; install the PostgreSQL client programs "
                          "(Debian: apt-get install postgresql-client).")
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{argv[0]} failed: {done.stderr.strip()}")
