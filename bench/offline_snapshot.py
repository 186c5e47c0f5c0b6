"""Server time, size and SQL statements of a shop tablet's offline copy, GET /tablet/offline/snapshot.

    python bench/offline_snapshot.py [--db sqlite|postgres] [--mentees 30] [--requests 30]

The shop of bench/dashboard.py (four mentors; mentees on full MAST automobile lists of 372 tasks, part-way
through them), by default with the 30 mentees a tablet's copy holds at most. A tablet is enrolled and each
mentor has an offline PIN verifier on it; the tablet fetches its copy repeatedly in-process. The statement count
must not depend on the number of mentees or tasks.
"""

import argparse
import logging
import secrets
import sys
from collections import Counter

from _common import OPERATOR, fresh_database, percentile, prepare, settle
from dashboard import seed_shop
from litestar.testing import TestClient
from sqlmodel import select
from taskpage import ServerTimer, StatementCounter

from mentoring.access import offline, tablets
from mentoring.access.models import TabletDevice
from mentoring.people.models import Organization
from web.app import create_app
from web.db import Database
from web.deps import TABLET_COOKIE
from web.settings import Settings

GOAL_P50_MS = 150.0


def enroll(database: Database, secret: str) -> str:
    with database.transaction() as db:
        shop = db.exec(select(Organization)).first()
        device, token = tablets.enroll(db, OPERATOR, shop, "Bay 1")
        for mentor in tablets.mentors_at(db, shop.id):
            offline.ensure(db, db.get(TabletDevice, device.id), mentor.id, "4739", secret=secret, iterations=1000)
    return token


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--mentees", type=int, default=30)
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
        prepare(database)
        seeded = seed_shop(database, args.mentees)
        secret = secrets.token_urlsafe(48)
        token = enroll(database, secret)
        settle(database)
        print(f"  {args.mentees} mentees on MAST (372 tasks), {seeded['events']} progress events")
        settings = Settings(database_url=bench.url, data_dir=bench.data_dir, secret_key=secret)
        timer = ServerTimer(create_app(settings, database))
        counter = StatementCounter(database)
        server, sql = [], []
        with TestClient(app=timer) as client:
            client.cookies[TABLET_COOKIE] = token
            for _ in range(3):  # warm up: first connections, the published list's tasks
                client.get("/tablet/offline/snapshot")
            for _ in range(n):
                counter.reset()
                response = client.get("/tablet/offline/snapshot?queued=0")
                if response.status_code != 200:
                    raise RuntimeError(f"snapshot: {response.status_code}\n{response.text[:500]}")
                server.append(timer.last_ms)
                sql.append(len(counter.statements))
        body = response.json()
        entries = sum(len(m["mentees"]) for m in body["mentors"])
        tasks = sum(len(a["tasks"]) for m in body["mentors"] for e in m["mentees"] for a in e["areas"])
        server.sort()
        counts = Counter(sql)
        print()
        print(f"Offline snapshot benchmark: {entries} mentee entries, {tasks} tasks; {bench.label}")
        print(f"  body {len(response.content) / 1024:.0f} KiB (before gzip); {n} timed requests after 3 warm-up")
        print(f"  server p50 {percentile(server, 50):.1f} ms   p99 {percentile(server, 99):.1f} ms")
        print(f"  SQL statements per request: {'/'.join(str(c) for c in sorted(counts))}"
              + ("" if len(counts) == 1 else " (varies)"))
        met = percentile(server, 50) <= GOAL_P50_MS
        print(f"Goal: server p50 <= {GOAL_P50_MS:.0f} ms: {'met' if met else 'NOT met'}")
    finally:
        database.dispose()
        bench.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
