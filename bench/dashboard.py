"""Server time and SQL statements of the manager's dashboard, GET /manager, for a shop of 100 mentees.

    python bench/dashboard.py [--db sqlite|postgres] [--mentees 100] [--requests 30]

Builds a throwaway database with one shop: a manager, four mentors and 100 mentees, each on a full MAST
automobile list (372 tasks) and part-way through it as real shops are: mentees started between 2 and 40
weeks ago and move at different paces, so some are nearly done, some have barely begun and some have
stopped (no progress for weeks). Each mentee has practice logged, tasks waiting for sign-off, a few
revoked and re-signed, 30/60/90-day reviews (some overdue), two pay steps and a tool record.

Events are written as the app writes them (hash-chained per assignment, through progress.event_hash) but in
bulk, so that the set-up takes seconds rather than the minutes a sign-off at a time would. The manager signs
in and requests the dashboard repeatedly in-process (litestar TestClient); each request records the server
time (app called → last byte sent) and every SQL statement the engine sends. The statement count must not
depend on the number of mentees.
"""

import argparse
import logging
import random
import secrets
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from _common import OPERATOR, PASSWORD, fresh_database, percentile, prepare, settle
from litestar.testing import TestClient
from taskpage import ServerTimer, StatementCounter

from mentoring.access.policy import Actor, load_actor
from mentoring.oversight import payplan, reviews
from mentoring.people import accounts, triads
from mentoring.people.accounts import NewPersonIn, OrganizationIn
from mentoring.people.models import Triad
from mentoring.people.triads import TriadIn
from mentoring.progress import customize
from mentoring.progress.customize import AssignmentIn
from mentoring.progress.models import Assignment, ProgressEvent
from mentoring.progress.signoffs import event_hash, tasks_of
from tasklists import store
from web.app import create_app
from web.db import Database
from web.settings import Settings

GOAL_P50_MS = 100.0
SIGNED = "performed and observed"
MANAGER_EMAIL = "mara.manager@bench.example"


def seed_shop(database: Database, mentees: int) -> dict:
    rng = random.Random(5)
    now = datetime.now(UTC)
    with database.transaction() as db:
        shop = accounts.create_organization(db, OPERATOR, OrganizationIn(name="Bench Motors", kind="dealership"))

        def member(name: str, role: str, password: str = "") -> int:
            email = name.lower().replace(" ", ".") + "@bench.example"
            return accounts.add_member(db, OPERATOR, shop, NewPersonIn(full_name=name, email=email, role=role,
                                                                     password=password)).id

        manager_id = member("Mara Manager", "manager", PASSWORD)
        mentors = [member(f"Mentor {i}", "mentor") for i in range(1, 5)]
        automobile = next(t for t, _ in store.load_catalog(db) if t.program == "automobile")
        task_list = customize.start_list(db, OPERATOR, shop, template_id=automobile.id, level="MAST",
                                         name="Bench MAST")
        version = customize.publish(db, OPERATOR, task_list)
        manager = load_actor(db, db.get(accounts.Person, manager_id), "bench")
        events = 0
        for i in range(1, mentees + 1):
            mentee_id = member(f"Mentee {i:03d}", "mentee")
            weeks = rng.randint(2, 40)
            start = now - timedelta(weeks=weeks)
            triad = triads.create_triad(db, OPERATOR, shop, TriadIn(
                mentee_id=mentee_id, mentor_id=mentors[i % len(mentors)], manager_id=manager_id))
            triad.started_at = start
            assignment = customize.assign(db, OPERATOR, shop, AssignmentIn(
                triad_id=triad.id, version_id=version.id, start_date=start.date()))
            events += _history(db, rng, assignment, triad, start, now)
            parties = [manager] + [Actor(p, f"Person {p}", memberships=frozenset({(shop.id, "mentor")}))
                                   for p in (triad.mentor_id, triad.mentee_id)]
            for review in reviews.schedule_standard(db, manager, triad):
                if review.due_on < now.date() and rng.random() < 0.9:  # most past check-ins got done
                    for party in parties:
                        reviews.sign(db, party, review, triad, "On track.")
            tri = db.get(Triad, triad.id)
            payplan.add_pay_step(db, manager, tri, dict(title="Brakes raise", amount="1.25", milestone="area_p1",
                                                        milestone_area="V", note="Agreed at hiring."))
            payplan.add_pay_step(db, manager, tri, dict(title="Half-way raise", percent="3", milestone="coverage",
                                                        milestone_percent="25"))
            payplan.add_tool_record(db, manager, tri, dict(kind="allowance", description="Tool allowance",
                                                           amount="400", on_date=date.today().isoformat()))
    return {"events": events}


def _history(db, rng: random.Random, assignment: Assignment, triad: Triad, start: datetime, now: datetime) -> int:
    """A realistic trail for one mentee, written in chain order with the app's own hashing."""
    codes = [t.code for t in tasks_of(db, assignment)]
    pace = rng.choice([0.5, 1, 1.5, 2, 3, 4])  # tasks signed per working week
    stop = now - timedelta(days=rng.choice([0, 0, 0, 1, 3, 20, 45]))  # some stopped a while ago
    weeks = max((stop - start).days / 7, 0.3)
    signed = min(len(codes), int(pace * weeks) + rng.randint(0, 5))
    chosen = rng.sample(codes, signed)
    moments = sorted(start + (stop - start) * rng.random() for _ in chosen)
    rows: list[tuple] = []
    for code, at in zip(chosen, moments, strict=True):
        if rng.random() < 0.6:
            rows.append((at - timedelta(days=1), code, "practice", dict(minutes=rng.choice([30, 60, 90, 120]))))
        rows.append((at - timedelta(hours=3), code, "ready", {}))
        rows.append((at, code, "signoff", dict(rating=rng.choice([2, 3, 3, 4, 4, 5]), meaning=SIGNED)))
        if rng.random() < 0.03:
            rows.append((at + timedelta(hours=1), code, "revoke", dict(reason="signed on the wrong mentee")))
            rows.append((at + timedelta(days=1), code, "signoff", dict(rating=3, meaning=SIGNED)))
    waiting = [c for c in codes if c not in set(chosen)][: rng.randint(0, 6)]
    for code in waiting:
        rows.append((stop - timedelta(hours=rng.randint(1, 48)), code, "ready", {}))
    rows.sort(key=lambda r: r[0])
    previous = ""
    for seq, (at, code, kind, fields) in enumerate(rows, start=1):
        actor_id = triad.mentee_id if kind in ("practice", "ready") else triad.mentor_id
        e = ProgressEvent(assignment_id=assignment.id, seq=seq, task_code=code, kind=kind, actor_id=actor_id,
                          actor_name="Bench person", at=at, device="bench setup", prev_hash=previous, hash="",
                          **fields)
        e.hash = previous = event_hash(e)
        db.add(e)
    db.flush()
    return len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--mentees", type=int, default=100)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    n = max(5, min(args.requests, 500))
    logging.disable(logging.INFO)

    bench = fresh_database(args.db)
    if bench is None:
        return 0
    database = Database(bench.url)
    try:
        print(f"Setting up: {bench.label}")
        started = time.perf_counter()
        prepare(database)
        seeded = seed_shop(database, args.mentees)
        settle(database)
        print(f"  {args.mentees} mentees on MAST (372 tasks), {seeded['events']} progress events, "
              f"in {time.perf_counter() - started:.0f} s")
        settings = Settings(database_url=bench.url, data_dir=bench.data_dir, secret_key=secrets.token_urlsafe(48))
        timer = ServerTimer(create_app(settings, database))
        counter = StatementCounter(database)
        server, client_ms, sql = [], [], []
        with TestClient(app=timer) as client:
            csrf = client.get("/login").cookies["csrftoken"]
            signed_in = client.post("/login", data={"email": MANAGER_EMAIL, "password": PASSWORD,
                                                    "_csrf_token": csrf}, follow_redirects=False)
            if signed_in.status_code != 303:
                raise RuntimeError(f"manager sign-in failed: {signed_in.status_code}")
            for _ in range(3):  # warm up: template compilation, first connections
                client.get("/manager")
            for _ in range(n):
                counter.reset()
                start = time.perf_counter()
                response = client.get("/manager")
                client_ms.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"GET /manager: {response.status_code}\n{response.text[:500]}")
                server.append(timer.last_ms)
                sql.append(len(counter.statements))
            flags = {name: response.text.count(f'class="flag {name}"') for name in ("stalled", "overdue", "due")}
        server.sort()
        client_ms.sort()
        counts = Counter(sql)
        print()
        print(f"Dashboard benchmark: GET /manager as the manager of {args.mentees} mentees; {bench.label}")
        print(f"in-process (litestar TestClient, gzip accepted), {n} timed requests after 3 warm-up")
        print(f"  flags on the page: {flags['stalled']} stalled, {flags['overdue']} overdue reviews, "
              f"{flags['due']} pay steps due; page {len(response.content) / 1024:.0f} KiB")
        print(f"  server p50 {percentile(server, 50):.1f} ms   p99 {percentile(server, 99):.1f} ms   "
              f"client p50 {percentile(client_ms, 50):.1f} ms")
        print(f"  SQL statements per request: {'/'.join(str(c) for c in sorted(counts))}"
              + ("" if len(counts) == 1 else " (varies)"))
        met = percentile(server, 50) <= GOAL_P50_MS
        print(f"Goal: server p50 <= {GOAL_P50_MS:.0f} ms: {'met' if met else 'NOT met'} "
              f"({percentile(server, 50):.1f} ms)")
    finally:
        database.dispose()
        bench.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
