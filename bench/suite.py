"""The benchmark suite: a realistic database served over HTTP, six endpoints, each next to a bare endpoint.

    python bench/suite.py [--db sqlite|postgres] [--shops 20] [--mentees-per-shop 10] [--seconds 8]

Seeds 20 shops with a manager, two mentors and ten mentees each (200 mentees), every mentee on the
shop's published MAST list (372 tasks) with partial progress (10-40 % signed, some ready, some
practice), then serves the real app and a bare Litestar endpoint with uvicorn and measures, one
after the other, with the same closed-loop clients:

    GET /bare                       the comparison: routing + a small JSON answer, nothing else
    POST /login                     email + password (argon2id, as in production)
    GET /assignments/{id}           the mentor's task page for a full MAST list
    POST .../signoff                a sign-off from a shop tablet turn
    GET /manager                    the manager's dashboard
    POST .../records/export         a completion-record PDF (format=pdf)

For each: requests per second, p50 and p99 latency, and the throughput as a ratio to /bare in the same
run. `make bench` runs it on SQLite, and on PostgreSQL when MENTORING_BENCH_DATABASE_URL is set.
"""

import argparse
import os
import random
import secrets
import sys
import time
from datetime import timedelta

import _load
import httpx
from _common import OPERATOR, PASSWORD, fresh_database, prepare, settle
from signoff import BENCH, SESSION_COOKIE, Row, expect, measure, print_table, serve
from sqlalchemy import func
from sqlmodel import select

from mentoring.access import tablets
from mentoring.access.policy import Actor, load_actor
from mentoring.clock import utcnow
from mentoring.people import accounts, triads
from mentoring.people.accounts import NewPersonIn, OrganizationIn
from mentoring.people.models import Organization, Person
from mentoring.people.triads import TriadIn
from mentoring.progress import customize, signoffs
from mentoring.progress.customize import AssignmentIn
from mentoring.progress.models import ProgressEvent
from tasklists import store
from web import sessions
from web.db import Database
from web.deps import TABLET_COOKIE


def seed_shops(database: Database, shops: int, per_shop: int, rng: random.Random) -> dict:
    """Shops as they are after some months of use. Returns ids and emails the runs need."""
    out = {"assignments": [], "managers": [], "mentors": [], "pending": []}
    with database.transaction() as db:
        automobile = next(t for t, _ in store.load_catalog(db) if t.program == "automobile")
    for n in range(1, shops + 1):
        with database.transaction() as db:
            shop = accounts.create_organization(db, OPERATOR, OrganizationIn(name=f"Bench Shop {n:02d}",
                                                                            kind="dealership"))

            def member(name: str, role: str, secret: bool, n=n, shop=shop):
                email = f"{name.lower().replace(' ', '.')}.{n:02d}@bench.example"
                return accounts.add_member(db, OPERATOR, shop, NewPersonIn(
                    full_name=f"{name} {n:02d}", email=email, role=role,
                    password=PASSWORD if secret else "", pin=""))

            manager = member("Manager", "manager", n == 1)
            mentors = [member(f"Mentor {k}", "mentor", n == 1) for k in (1, 2)]
            task_list = customize.start_list(db, OPERATOR, shop, template_id=automobile.id, level="MAST",
                                             name="Shop MAST")
            version = customize.publish(db, OPERATOR, task_list)
            as_mentor = [load_actor(db, m) for m in mentors]
            for k in range(per_shop):
                mentee = member(f"Mentee {k:02d}", "mentee", False)
                mentor = k % 2
                triad = triads.create_triad(db, OPERATOR, shop, TriadIn(
                    mentee_id=mentee.id, mentor_id=mentors[mentor].id, manager_id=manager.id))
                assignment = customize.assign(db, OPERATOR, shop, AssignmentIn(
                    triad_id=triad.id, version_id=version.id, start_date="2026-03-02"))
                codes = [t.code for t in signoffs.tasks_of(db, assignment)]
                as_mentee = Actor(mentee.id, mentee.full_name, memberships=frozenset({(shop.id, "mentee")}))
                signed = int(len(codes) * rng.uniform(0.10, 0.40))
                start = utcnow() - timedelta(days=120)
                for i, code in enumerate(codes[:signed]):
                    at = start + timedelta(hours=6 * i)
                    signoffs.sign_off(db, as_mentor[mentor], assignment.id, code, rating=rng.choice([3, 4, 5]),
                                      pin=None, device="bench", at=at)
                for code in codes[signed:signed + 4]:
                    signoffs.log_practice(db, as_mentee, assignment.id, code, hours="1")
                for code in codes[signed + 4:signed + 7]:
                    signoffs.request_signoff(db, as_mentee, assignment.id, code)
                out["assignments"].append(assignment.id)
                out["pending"] += [(assignment.id, c) for c in codes[signed + 7:]]
            out["managers"].append((shop.id, manager.email))
            out["mentors"].append((mentors[0].id, mentors[0].email))
        print(f"  seeded shop {n}/{shops}", end="\r", flush=True)
    print()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark suite: six endpoints against a bare one.")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--shops", type=int, default=20)
    parser.add_argument("--mentees-per-shop", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--processes", type=int, default=0)
    args = parser.parse_args()
    processes = args.processes or max(1, min(4, (os.cpu_count() or 2) - 1))
    rng = random.Random(7)

    bench = fresh_database(args.db)
    if bench is None:
        return 0
    database = Database(bench.url)
    servers = []
    try:
        print(f"Setting up: {bench.label}")
        started = time.monotonic()
        prepare(database)
        seeded = seed_shops(database, args.shops, args.mentees_per_shop, rng)
        settle(database)
        with database.session() as db:
            events = db.exec(select(func.count()).select_from(ProgressEvent)).one()
        print(f"Seeded {args.shops} shops, {len(seeded['assignments'])} mentees on MAST lists, {events} events "
              f"in {time.monotonic() - started:.0f} s")

        env = {k: v for k, v in os.environ.items() if not k.startswith("MENTORING_")}
        env.update(MENTORING_DATABASE_URL=bench.url, MENTORING_DATA_DIR=str(bench.data_dir),
                   MENTORING_SECRET_KEY=secrets.token_urlsafe(48), PYTHONDONTWRITEBYTECODE="1")
        servers.append(app := serve("app", ["web.app:create_app", "--factory"], env, "/healthz", bench.data_dir))
        servers.append(bare := serve("bare", ["bare_app:app", "--app-dir", str(BENCH)], env, "/bare",
                                     bench.data_dir))

        shop_id, manager_email = seeded["managers"][0]
        mentor_id, mentor_email = seeded["mentors"][0]
        csrf = expect(httpx.get(app.url + "/login"), 200, "GET /login").cookies["csrftoken"]

        def sign_in(email: str) -> str:  # a client of its own: signing in ends the session a browser had
            with httpx.Client(base_url=app.url, follow_redirects=False, timeout=30) as c:
                r = expect(c.post("/login", data={"email": email, "password": PASSWORD, "_csrf_token": csrf},
                                  cookies={"csrftoken": csrf}), 303, f"sign-in {email}")
                return r.cookies[SESSION_COOKIE]
        manager_session, mentor_session = sign_in(manager_email), sign_in(mentor_email)
        with database.transaction() as db:
            device, tablet = tablets.enroll(db, OPERATOR, db.get(Organization, shop_id), "Bench bay")
            tablet_id = device.id

        def get(path: str, session: str) -> _load.Req:
            return _load.Req("GET", path, {"Cookie": f"{SESSION_COOKIE}={session}", "Accept": "text/html",
                                           "Accept-Encoding": "gzip"})

        first_shop = seeded["assignments"][:args.mentees_per_shop]
        mentor_pages = [a for i, a in enumerate(first_shop) if i % 2 == 0]  # the mentor's own mentees
        login_body = f"email={manager_email}&password={PASSWORD}&_csrf_token={csrf}".replace("@", "%40").encode()
        plans = {
            "GET /bare (minimal Litestar, sync)": [_load.Plan(repeat=_load.Req("GET", "/bare", {}))
                                                   for _ in range(args.clients)],
            "POST /login (argon2id)": [_load.Plan(repeat=_load.Req(
                "POST", "/login", {"Cookie": f"csrftoken={csrf}",
                                   "Content-Type": "application/x-www-form-urlencoded"}, login_body))
                for _ in range(args.clients)],
            "GET mentor's task page (MAST, 372)": [_load.Plan(repeat=get(
                f"/assignments/{mentor_pages[i % len(mentor_pages)]}", mentor_session)) for i in range(args.clients)],
            "GET /manager (dashboard)": [_load.Plan(repeat=get("/manager", manager_session))
                                         for _ in range(args.clients)],
            # Each export issues a record with its own verification code, as a manager's click does.
            "POST completion record PDF (MAST)": [_load.Plan(repeat=_load.Req(
                "POST", f"/assignments/{first_shop[i % len(first_shop)]}/records/export",
                {"Cookie": f"{SESSION_COOKIE}={manager_session}; csrftoken={csrf}",
                 "Content-Type": "application/x-www-form-urlencoded"},
                f"_csrf_token={csrf}&format=pdf&paper=letter".encode())) for i in range(args.clients)],
        }
        rows: list[Row] = []
        for label, plan in plans.items():
            server = bare if label.startswith("GET /bare") else app
            warm = "/bare" if server is bare else "/healthz"
            rows.append(measure(label, server, plan, args.seconds, processes, warm, "httpx"))

        # Sign-offs last: they change the data. Each uses its own tablet turn, as on the shop floor.
        mine = [(a, c) for a, c in seeded["pending"] if a in mentor_pages]
        with database.transaction() as db:
            mentor = db.get(Person, mentor_id)
            turns = [sessions.start(db, mentor, ip="127.0.0.1", user_agent="bench/suite.py", tablet_id=tablet_id)
                     for _ in mine]
        signing = [_load.Plan() for _ in range(args.clients)]
        for n, ((assignment_id, code), turn) in enumerate(zip(mine, turns, strict=True)):
            body, content_type = _load.multipart({"_csrf_token": csrf, "rating": "3", "pin": "", "note": ""},
                                                 {"photo": ("", b"", "application/octet-stream")})
            signing[n % args.clients].requests.append(_load.Req(
                "POST", f"/assignments/{assignment_id}/tasks/{code}/signoff",
                {"Cookie": f"{TABLET_COOKIE}={tablet}; {SESSION_COOKIE}={turn}; csrftoken={csrf}",
                 "Content-Type": content_type}, body))
        rows.append(measure("POST sign-off (tablet turn)", app, signing, min(args.seconds, 45), processes,
                            "/healthz", "httpx"))

        print()
        print_table(rows)
        bare_rps = rows[0].rps
        print()
        print(f"{'endpoint':<42}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'x bare':>9}")
        for r in rows:
            print(f"{r.label:<42}{r.rps:>8.1f}{r.p(50):>8.1f}{r.p(99):>8.1f}{r.rps / bare_rps:>9.3f}")
        return 0
    finally:
        for server in servers:
            server.stop()
        database.dispose()
        bench.cleanup()


if __name__ == "__main__":
    sys.exit(main())
