"""Server time and SQL statements for the mentor's task page, GET /assignments/{id}.

    python bench/taskpage.py [--db sqlite|postgres] [--requests 40]

Builds a throwaway database with one mentee on a full MAST automobile list (372 tasks) and one on
an MLR list (190 tasks), both part-way through (about a third signed off, some practice logged,
some marked ready), signs in as their mentor and requests each page repeatedly in-process through
litestar.testing.TestClient. For every request it records:
  - server time: from the moment the app is called until it sends the last byte of the response
    (an ASGI wrapper around the real app: routing, auth, queries, template, gzip; no network);
  - SQL statements: every statement the engine sends, counted with a `before_cursor_execute` listener.
The page should cost the same number of statements whatever the list's length (no query per task).
"""

import argparse
import logging
import secrets
import sys
import time
from collections import Counter

from _common import PASSWORD, Seed, fresh_database, percentile, prepare, seed, settle
from litestar.testing import TestClient
from sqlalchemy import event

from mentoring.access.policy import load_actor
from mentoring.people.models import Person
from mentoring.progress import signoffs
from mentoring.progress.evidence import Evidence
from mentoring.progress.models import Assignment
from web.app import create_app
from web.db import Database
from web.settings import Settings

GOAL_P50_MS = 30.0


class ServerTimer:
    """ASGI middleware-by-hand: the time between the app being called and its final body message."""

    def __init__(self, app):
        self.app = app
        self.last_ms: float | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()

        async def timed_send(message):
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.last_ms = (time.perf_counter() - start) * 1000

        await self.app(scope, receive, timed_send)


class StatementCounter:
    """Counts (and keeps) the SQL statements the engine executes, in any thread."""

    def __init__(self, database: Database):
        self.statements: list[str] = []
        event.listen(database.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(" ".join(statement.split()))

    def reset(self) -> None:
        self.statements = []


def add_progress(database: Database, s: Seed) -> dict[int, int]:
    """Put each mentee part-way through their list; return the number of events per assignment."""
    events = {}
    with database.transaction() as db:
        mentor = load_actor(db, db.get(Person, s.mentor_id), "bench")
        for a in s.assignments:
            mentee = load_actor(db, db.get(Person, db.get(Assignment, a.id).mentee_id), "bench")
            signed = set(a.codes[::3])
            practiced = [c for c in a.codes[1::7] if c not in signed]
            ready = [c for c in a.codes[2::11] if c not in signed]
            for code in a.codes[::3]:
                signoffs.sign_off(db, mentor, a.id, code, rating=3, pin=None, evidence=Evidence(note="Observed."),
                                  device="bench setup")
            for code in practiced:
                signoffs.log_practice(db, mentee, a.id, code, hours="1.5", note="Practised on the trainer.",
                                      device="bench setup")
            for code in ready:
                signoffs.request_signoff(db, mentee, a.id, code, device="bench setup")
            events[a.id] = len(signoffs.events_of(db, a.id))
    return events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per list (default 40)")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of one MAST request")
    args = parser.parse_args()
    n = max(5, min(args.requests, 1000))
    logging.disable(logging.INFO)  # create_app turns INFO logging on; a line per request would be timed too

    bench = fresh_database(args.db)
    if bench is None:
        return 0
    database = Database(bench.url)
    try:
        print(f"Setting up: {bench.label}")
        prepare(database)
        s = seed(database, ["MAST", "MLR"])
        events = add_progress(database, s)
        settle(database)
        settings = Settings(database_url=bench.url, data_dir=bench.data_dir, secret_key=secrets.token_urlsafe(48))
        timer = ServerTimer(create_app(settings, database))
        counter = StatementCounter(database)
        samples: dict[int, dict[str, list]] = {a.id: {"server": [], "client": [], "sql": [], "bytes": []}
                                               for a in s.assignments}
        shown: dict[int, list[str]] = {}
        with TestClient(app=timer) as client:
            csrf = client.get("/login").cookies["csrftoken"]
            signed_in = client.post("/login", data={"email": s.mentor_email, "password": PASSWORD,
                                                    "_csrf_token": csrf}, follow_redirects=False)
            if signed_in.status_code != 303:
                raise RuntimeError(f"mentor sign-in failed: {signed_in.status_code} {signed_in.text[:500]}")
            for a in s.assignments:  # warm up: template compilation, first connections
                for _ in range(3):
                    client.get(f"/assignments/{a.id}")
            for _ in range(n):
                for a in s.assignments:  # alternate the lists so that noise hits both alike
                    counter.reset()
                    start = time.perf_counter()
                    response = client.get(f"/assignments/{a.id}")
                    client_ms = (time.perf_counter() - start) * 1000
                    if response.status_code != 200:
                        raise RuntimeError(f"GET /assignments/{a.id}: {response.status_code}\n{response.text[:500]}")
                    got = samples[a.id]
                    got["server"].append(timer.last_ms)
                    got["client"].append(client_ms)
                    got["sql"].append(len(counter.statements))
                    got["bytes"].append((len(response.content), int(response.headers.get("content-length", 0))))
                    shown.setdefault(a.id, list(counter.statements))

        print()
        print(f"Task page benchmark: GET /assignments/{{id}} as the mentor; {bench.label}")
        print(f"in-process (litestar TestClient, gzip accepted), {n} timed requests per list after 3 warm-up")
        print()
        head = (f"{'list':<6}{'tasks':>6}{'events':>8}{'server p50 ms':>15}{'server p95 ms':>15}"
                f"{'client p50 ms':>15}{'SQL/request':>13}{'HTML KiB':>10}{'sent KiB':>10}")
        print(head)
        print("-" * len(head))
        counts = {}
        p50s = {}
        for a in s.assignments:
            got = samples[a.id]
            server, client_ms = sorted(got["server"]), sorted(got["client"])
            sql = Counter(got["sql"])
            counts[a.level] = set(sql)
            p50s[a.level] = percentile(server, 50)
            sql_text = "/".join(str(c) for c in sorted(sql)) + ("" if len(sql) == 1 else " (varies)")
            html, sent = got["bytes"][-1]
            print(f"{a.level:<6}{len(a.codes):>6}{events[a.id]:>8}{percentile(server, 50):>15.1f}"
                  f"{percentile(server, 95):>15.1f}{percentile(client_ms, 50):>15.1f}{sql_text:>13}"
                  f"{html / 1024:>10.0f}{(sent or html) / 1024:>10.0f}")
        print()
        mast = next(a for a in s.assignments if a.level == "MAST")
        kinds = Counter(stmt.split()[0].upper() for stmt in shown[mast.id])
        print("statements of one MAST request: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
              + "  (BEGIN is how web/db.py starts SQLite transactions)" * ("BEGIN" in kinds))
        if args.show_sql:
            for stmt in shown[mast.id]:
                print("  " + (stmt if len(stmt) <= 150 else stmt[:147] + "..."))
        print("server time = app called -> last byte sent (auth, queries, template, gzip); client p50 adds the")
        print("in-process test client. HTML KiB = page as rendered; sent KiB = gzip-compressed body.")
        print()
        same = counts["MAST"] == counts["MLR"] and len(counts["MAST"]) == 1
        worst = max(p50s.values())
        print(f"goal: p50 <= {GOAL_P50_MS:g} ms; same query count for MLR and MAST")
        print(f"goal {'MET' if worst <= GOAL_P50_MS and same else 'NOT MET'}: server p50 MAST "
              f"{p50s['MAST']:.1f} ms, MLR {p50s['MLR']:.1f} ms; statements MAST "
              f"{'/'.join(map(str, sorted(counts['MAST'])))}, MLR {'/'.join(map(str, sorted(counts['MLR'])))}")
    finally:
        database.dispose()
        bench.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
