"""Engine and sessions. SQLite gets WAL, foreign keys and BEGIN IMMEDIATE for writers."""

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

LOCK_WAIT_SECONDS = 30  # as long as SQLite's own busy timeout


def make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)

    create_private_file(make_url(url).database)
    # Room for every worker thread (web.app.WORKER_THREADS): a thread that waits for a pooled
    # connection cannot be handed the write lock.
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": LOCK_WAIT_SECONDS},
                           pool_size=20, max_overflow=20)
    # SQLite lets one writer in at a time and makes the others poll for the lock, sleeping up to 100 ms
    # between tries, so under load the lock sits free while writers sleep and the unlucky ones wait
    # seconds. Writers of this process queue on a plain lock instead and get in as soon as it is free;
    # SQLite's own lock still keeps other processes (the CLI, a second server) out.
    gate = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy's "begin" event below decide how a transaction starts.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            f"busy_timeout={LOCK_WAIT_SECONDS * 1000}",
            "synchronous=NORMAL",
        ):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A writer that reads first must hold the write lock from the start, or a
        # concurrent commit makes its later write fail with "database is locked".
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode == "IMMEDIATE":
            if not gate.acquire(timeout=LOCK_WAIT_SECONDS):
                raise OperationalError("BEGIN IMMEDIATE", None, Exception("database is locked"))
            conn.info["holds_gate"] = True
        try:
            conn.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            _release(conn)
            raise

    # The gate opens only once SQLite has finished the COMMIT or ROLLBACK, so these listeners end the
    # transaction themselves; the driver's own commit() then finds nothing left to do.
    @event.listens_for(engine, "commit")
    def _on_commit(conn):
        if conn.info.get("holds_gate"):
            conn.connection.dbapi_connection.execute("COMMIT")
            _release(conn)

    @event.listens_for(engine, "rollback")
    def _on_rollback(conn):
        if conn.info.get("holds_gate"):
            try:
                dbapi_conn = conn.connection.dbapi_connection
                if dbapi_conn.in_transaction:
                    dbapi_conn.execute("ROLLBACK")
            finally:
                _release(conn)

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn, record):
        # Only if a transaction ended without the events above (an invalidated connection, say):
        # a gate left shut would stall every writer of the process.
        if record.info.pop("holds_gate", False):
            try:
                if dbapi_conn is not None and dbapi_conn.in_transaction:
                    dbapi_conn.execute("ROLLBACK")
            finally:
                gate.release()

    def _release(conn):
        if conn.info.pop("holds_gate", False):
            gate.release()

    return engine


def create_private_file(path: str | None) -> None:
    """Create the database file readable by this user only (0600, like uploads), before SQLite would create
    it under the process umask. SQLite gives the -wal and -shm files the main file's mode."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # an existing database keeps the mode its operator gave it
    except FileNotFoundError:
        pass  # no such folder: SQLite says so when it first connects


class Database:
    """One engine, and sessions for readers and for writers."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self, *, write: bool = False) -> Session:
        return Session(bind=self._writer if write else self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write session that commits on success (for the CLI and background work)."""
        with self.session(write=True) as db:
            yield db
            db.commit()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()
