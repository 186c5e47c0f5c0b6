"""Shared set-up for the benchmarks: a throwaway database, seeded through the app's own functions.

Nothing here touches the developer's own database: SQLite lives in a temporary directory, and on
PostgreSQL a new database is created next to the one named in MENTORING_BENCH_DATABASE_URL and
dropped afterwards.
"""

import math
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from mentoring.access.policy import Actor
from mentoring.people import accounts, triads
from mentoring.people.accounts import NewPersonIn, OrganizationIn
from mentoring.people.models import Organization
from mentoring.people.triads import TriadIn
from mentoring.progress import customize
from mentoring.progress.customize import AssignmentIn
from mentoring.progress.signoffs import tasks_of
from tasklists import store
from web import migrate
from web.db import Database
from web.settings import normalize_db_url

PASSWORD = "bench-password-2026"
PIN = "7193"
OPERATOR = Actor(None, "benchmark", True, ip="bench")


@dataclass
class BenchDatabase:
    url: str  # SQLAlchemy URL, psycopg 3 for PostgreSQL
    data_dir: Path  # MENTORING_DATA_DIR for the app (uploads)
    label: str  # for the printed header
    _cleanups: list[Callable[[], None]] = field(default_factory=list)

    def cleanup(self) -> None:
        for step in reversed(self._cleanups):
            try:
                step()
            except Exception as exc:  # a failed clean-up must not hide the figures
                print(f"(clean-up: {exc})")


def fresh_database(kind: str) -> BenchDatabase | None:
    """A new, empty database; None (after saying why) when PostgreSQL is asked for but not configured."""
    tmp = Path(tempfile.mkdtemp(prefix="mentoring-bench-"))
    if kind == "sqlite":
        bench = BenchDatabase(f"sqlite:///{tmp / 'bench.sqlite3'}", tmp, f"SQLite file in {tmp}")
        bench._cleanups.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
        return bench

    given = os.environ.get("MENTORING_BENCH_DATABASE_URL", "")
    if not given:
        shutil.rmtree(tmp, ignore_errors=True)
        print("PostgreSQL skipped: set MENTORING_BENCH_DATABASE_URL, e.g.\n"
              "  MENTORING_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:54330/bench")
        return None
    base = make_url(normalize_db_url(given))
    name = f"mentoring_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        # No CREATEDB right: use the named database itself, but only when it is empty.
        admin.dispose()
        check = create_engine(base)
        try:
            tables = inspect(check).get_table_names()
        finally:
            check.dispose()
        if tables:
            shutil.rmtree(tmp, ignore_errors=True)
            print(f"PostgreSQL skipped: cannot create a scratch database ({exc.__class__.__name__}) and "
                  f"{base.database!r} already holds tables; point MENTORING_BENCH_DATABASE_URL at an empty one.")
            return None
        bench = BenchDatabase(base.render_as_string(hide_password=False), tmp,
                              f"PostgreSQL {base.render_as_string(hide_password=True)} (empty; tables left behind)")
        bench._cleanups.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
        return bench
    url = base.set(database=name)
    bench = BenchDatabase(url.render_as_string(hide_password=False), tmp,
                          f"PostgreSQL {url.render_as_string(hide_password=True)} (scratch, dropped afterwards)")

    def drop() -> None:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except Exception:  # PostgreSQL before 13 has no FORCE; our connections are closed by now
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        finally:
            admin.dispose()

    bench._cleanups.append(drop)
    bench._cleanups.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
    return bench


@dataclass
class SeededAssignment:
    id: int
    level: str
    codes: list[str]  # the list's task codes in list order


@dataclass
class Seed:
    shop_id: int
    manager_id: int
    manager_email: str
    mentor_id: int
    mentor_email: str
    assignments: list[SeededAssignment]


def prepare(database: Database) -> None:
    """What `mentoring init` does: migrate, then load the task-list catalog."""
    migrate.upgrade(database.engine)
    with database.transaction() as db:
        store.load_catalog(db)


def seed(database: Database, levels: list[str]) -> Seed:
    """One shop, a manager, one mentor with a password and PIN, and one mentee per entry of `levels`,
    each assigned a published automobile list at that level (MAST: 372 tasks, MLR: 190)."""
    with database.transaction() as db:
        shop = accounts.create_organization(db, OPERATOR, OrganizationIn(name="Bench Motors", kind="dealership"))

        def member(name: str, role: str, *, secret: bool) -> int:
            email = name.lower().replace(" ", ".") + "@bench.example"
            person = accounts.add_member(db, OPERATOR, shop, NewPersonIn(
                full_name=name, email=email, role=role,
                password=PASSWORD if secret else "", pin=PIN if secret else ""))
            return person.id

        manager_id = member("Mara Manager", "manager", secret=True)
        mentor_id = member("Milo Mentor", "mentor", secret=True)
        automobile = next(t for t, _ in store.load_catalog(db) if t.program == "automobile")
        versions = {}
        for level in sorted(set(levels)):
            task_list = customize.start_list(db, OPERATOR, shop, template_id=automobile.id, level=level,
                                             name=f"Bench {level}")
            versions[level] = customize.publish(db, OPERATOR, task_list)
        assignments = []
        for i, level in enumerate(levels, start=1):
            # Mentees get no password: hashing 40 of them with argon2 would only slow the set-up.
            mentee_id = member(f"Mentee {i:03d}", "mentee", secret=False)
            triad = triads.create_triad(db, OPERATOR, shop, TriadIn(
                mentee_id=mentee_id, mentor_id=mentor_id, manager_id=manager_id))
            assignment = customize.assign(db, OPERATOR, shop, AssignmentIn(
                triad_id=triad.id, version_id=versions[level].id, start_date="2026-01-05"))
            assignments.append(SeededAssignment(assignment.id, level, [t.code for t in tasks_of(db, assignment)]))
        assert db.get(Organization, shop.id).safety_first is False  # any task may be signed in any order
        return Seed(shop.id, manager_id, "mara.manager@bench.example", mentor_id, "milo.mentor@bench.example",
                    assignments)


def settle(database: Database) -> None:
    """After bulk seeding, give PostgreSQL's planner the statistics a database in use has (autovacuum would
    gather them within a minute or so); without them the first queries may be planned for empty tables."""
    if not database.is_sqlite:
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list (nan when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(pct / 100 * len(sorted_values))))
    return sorted_values[rank - 1]
