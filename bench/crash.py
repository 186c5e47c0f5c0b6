"""Crash test: kill the server with SIGKILL at random moments under sign-off load, and check after each kill.

Each cycle starts the real app (uvicorn, as `mentoring serve` does), lets several tablet clients sign
tasks off as fast as they can, kills the server with `kill -9` after a random 0.3–2 s, and then checks:

- `PRAGMA integrity_check` on the SQLite file is "ok";
- `mentoring audit verify` exits 0 (every event chain intact);
- every sign-off the server acknowledged (answered 303) is in the database.

A sign-off in flight when the server died may or may not have landed; both are fine, as long as the
client was never told it had. Exits 1 on the first cycle whose checks fail. Not part of `make test`:
`make crash` runs it (50 cycles take 3 to 6 minutes).
"""

import argparse
import os
import random
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from _common import OPERATOR, fresh_database, prepare, seed
from signoff import REPO, SESSION_COOKIE, serve
from sqlalchemy.engine import make_url
from sqlmodel import select

from mentoring.access import tablets
from mentoring.people.models import Organization, Person
from mentoring.progress.models import ProgressEvent
from web import sessions
from web.db import Database
from web.deps import TABLET_COOKIE

MENTORING = str(Path(sys.executable).with_name("mentoring"))  # the console script of this environment


def open_turns(database: Database, mentor_id: int, tablet_id: int, count: int) -> list[str]:
    """Tablet turns opened ahead of time (a turn normally starts with the mentor's PIN; one sign-off ends it)."""
    with database.transaction() as db:
        mentor = db.get(Person, mentor_id)
        return [sessions.start(db, mentor, ip="127.0.0.1", user_agent="bench/crash.py", tablet_id=tablet_id)
                for _ in range(count)]


def signed_pairs(database: Database) -> set[tuple[int, str]]:
    with database.session() as db:
        rows = db.exec(select(ProgressEvent.assignment_id, ProgressEvent.task_code)
                       .where(ProgressEvent.kind == "signoff")).all()
    return {(a, c) for a, c in rows}


def load(url: str, work: list[tuple[tuple[int, str], str]], lock: threading.Lock, acked: list, tablet: str,
         csrf: str) -> None:
    """One tablet client: take the next task and a fresh turn, sign, record the pair if acknowledged."""
    with httpx.Client(base_url=url, timeout=10) as client:
        while True:
            with lock:
                if not work:
                    return
                (assignment_id, code), turn = work.pop()
            try:
                response = client.post(
                    f"/assignments/{assignment_id}/tasks/{code}/signoff",
                    data={"_csrf_token": csrf, "rating": "3", "pin": "", "note": "crash test"},
                    files={"photo": ("", b"", "application/octet-stream")},
                    headers={"Cookie": f"{TABLET_COOKIE}={tablet}; {SESSION_COOKIE}={turn}; csrftoken={csrf}"})
            except httpx.HTTPError:
                return  # the server is gone; this sign-off was never acknowledged
            if response.status_code == 303:
                acked.append((assignment_id, code))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--mentees", type=int, default=12)
    parser.add_argument("--seed", type=int, default=None, help="random seed for the kill moments")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    bench = fresh_database("sqlite")
    database = Database(bench.url)
    db_file = Path(make_url(bench.url).database)
    try:
        prepare(database)
        s = seed(database, ["MAST"] * args.mentees)
        with database.transaction() as db:
            device, tablet = tablets.enroll(db, OPERATOR, db.get(Organization, s.shop_id), "Crash bay")
            tablet_id = device.id
        pending = [(a.id, code) for a in s.assignments for code in a.codes]
        rng.shuffle(pending)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MENTORING_")}
        env.update(MENTORING_DATABASE_URL=bench.url, MENTORING_DATA_DIR=str(bench.data_dir),
                   MENTORING_SECRET_KEY=secrets.token_urlsafe(48), PYTHONDONTWRITEBYTECODE="1")
        print(f"Crash test: {args.cycles} cycles, {args.clients} tablet clients, {len(pending)} tasks to sign; "
              f"{bench.label}")
        csrf, acked_total, started = "", 0, time.monotonic()
        for cycle in range(1, args.cycles + 1):
            batch = pending[:400]
            turns = open_turns(database, s.mentor_id, tablet_id, len(batch))
            server = serve("app", ["web.app:create_app", "--factory"], env, "/healthz", bench.data_dir)
            if not csrf:  # signed with the app's secret, so it stays valid across restarts
                csrf = httpx.get(server.url + "/login").cookies["csrftoken"]
            work, lock, acked = list(zip(batch, turns, strict=True))[::-1], threading.Lock(), []
            clients = [threading.Thread(target=load, args=(server.url, work, lock, acked, tablet, csrf))
                       for _ in range(args.clients)]
            for c in clients:
                c.start()
            time.sleep(rng.uniform(0.3, 2.0))
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait()
            for c in clients:
                c.join()

            with sqlite3.connect(db_file) as conn:
                integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            verify = subprocess.run([MENTORING, "audit", "verify"], cwd=REPO, env=env, capture_output=True, text=True)
            signed = signed_pairs(database)
            lost = [pair for pair in acked if pair not in signed]
            acked_total += len(acked)
            print(f"cycle {cycle:>2}: {len(acked):>3} acknowledged, {len(signed):>5} signed in all, "
                  f"integrity {integrity}, audit verify exit {verify.returncode}, lost {len(lost)}", flush=True)
            if integrity != "ok" or verify.returncode != 0 or lost:
                print(verify.stdout + verify.stderr)
                print(f"FAILED in cycle {cycle}: lost {lost[:10]}")
                return 1
            pending = [p for p in pending if p not in signed]
        print(f"OK: {args.cycles} kills, {acked_total} acknowledged sign-offs, 0 lost; "
              f"integrity ok and audit chains intact after every restart ({time.monotonic() - started:.0f} s).")
        return 0
    finally:
        database.dispose()
        bench.cleanup()


if __name__ == "__main__":
    sys.exit(main())
