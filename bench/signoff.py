"""Sign-off throughput and latency against a real server, next to a bare Litestar endpoint.

    python bench/signoff.py [--db sqlite|postgres] [--clients 32] [--seconds 10]

What it does, in order:
  1. creates a throwaway database (SQLite in a temp dir; PostgreSQL: a scratch database next to the
     one in MENTORING_BENCH_DATABASE_URL), migrates it, loads the catalog and seeds one shop: a
     manager, one mentor (password + PIN) and --mentees mentees, each assigned a published MAST
     automobile list (372 tasks);
  2. starts two uvicorn servers on 127.0.0.1, each in its own process with one worker like
     `mentoring serve`: the real app, and bench/bare_app.py (one sync GET /bare);
  3. as the manager, enrolls a shop tablet over HTTP; as the mentor, unlocks it once with the PIN;
  4. measures, one after the other: GET /bare, sign-off POSTs in tablet turns (no PIN, so no
     argon2), and a smaller run of sign-off POSTs from a personal device (PIN checked with argon2);
  5. prints requests/second, p50/p99 latency, errors, the ratio to the bare endpoint, the goal line.
Every sign-off POST signs a different (assignment, task) pair, so each one is a real new signature.
"""

import argparse
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import _load
import httpx
from _common import PASSWORD, PIN, Seed, fresh_database, percentile, prepare, seed, settle
from sqlalchemy import func
from sqlmodel import select

from mentoring.access.models import TabletDevice
from mentoring.people.models import Person
from mentoring.progress.models import ProgressEvent
from web import sessions
from web.app import WORKER_THREADS
from web.db import Database
from web.deps import TABLET_COOKIE

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SESSION_COOKIE = "mentoring_session"  # the name for an http:// base URL (web.deps.session_cookie_name)
GOAL_RATIO, GOAL_P99_MS = 0.15, 100.0
TABLET_MAX_SECONDS = 45  # a tablet turn expires after 60 s without a tap (mentoring.access.tablets.IDLE_SECONDS)


# --- servers -------------------------------------------------------------------------------------

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen
    log: Path

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the server process so far (Linux /proc; None elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def serve(name: str, target: list[str], env: dict[str, str], ready_path: str, log_dir: Path) -> Server:
    """uvicorn in its own process, one worker, like `mentoring serve` (its access log is off for both
    servers: writing a log line per request would be measured too)."""
    port = free_port()
    log = log_dir / f"{name}.log"
    cmd = [sys.executable, "-m", "uvicorn", *target, "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1", "--log-level", "warning", "--no-access-log"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(server.url + ready_path, timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} server did not answer {ready_path} within 60 s:\n{log.read_text()[-3000:]}")


# --- signing in over HTTP ------------------------------------------------------------------------

def expect(response: httpx.Response, status: int, what: str) -> httpx.Response:
    if response.status_code != status or response.headers.get("location", "").startswith("/login"):
        raise RuntimeError(f"{what}: expected {status}, got {response.status_code} "
                           f"{response.headers.get('location', '')}\n{response.text[:800]}")
    return response


@dataclass
class Credentials:
    csrf: str  # one double-submit token, valid for every client (signed with the app's secret)
    tablet: str  # the enrolled tablet's device cookie
    tablet_id: int
    personal: str  # the mentor's session from a normal sign-in on a personal device


def sign_in(app_url: str, database: Database, s: Seed) -> Credentials:
    with httpx.Client(base_url=app_url, follow_redirects=False, timeout=30) as c:
        csrf = expect(c.get("/login"), 200, "GET /login").cookies["csrftoken"]
        expect(c.post("/login", data={"email": s.manager_email, "password": PASSWORD, "_csrf_token": csrf}),
               303, "manager sign-in")
        enrolled = expect(c.post(f"/shops/{s.shop_id}/tablets", data={"name": "Bench bay", "_csrf_token": csrf}),
                          303, "tablet enrollment")
        tablet = enrolled.cookies[TABLET_COOKIE]
        # One real unlock, as a mentor does at the tablet: tap your name, enter your PIN.
        unlocked = expect(c.post(f"/tablet/mentors/{s.mentor_id}", data={"pin": PIN, "_csrf_token": csrf}),
                          303, "tablet unlock with PIN")
        turn = unlocked.cookies[SESSION_COOKIE]
        expect(c.get("/mentor", cookies={TABLET_COOKIE: tablet, SESSION_COOKIE: turn}), 200, "GET /mentor on tablet")
    with httpx.Client(base_url=app_url, follow_redirects=False, timeout=30) as c:
        own = expect(c.get("/login"), 200, "GET /login").cookies["csrftoken"]
        personal = expect(c.post("/login", data={"email": s.mentor_email, "password": PASSWORD, "_csrf_token": own}),
                          303, "mentor sign-in").cookies[SESSION_COOKIE]
    with database.session() as db:
        tablet_id = db.exec(select(TabletDevice.id).where(TabletDevice.shop_id == s.shop_id)).one()
    return Credentials(csrf, tablet, tablet_id, personal)


def open_tablet_turns(database: Database, s: Seed, tablet_id: int, count: int) -> list[str]:
    """Session tokens for `count` tablet turns of the mentor.

    A signature on a shop tablet ends the mentor's turn (web/pages/progress.py, sign_off), so each
    tablet sign-off needs a turn of its own. A turn normally starts with the PIN (argon2, measured in
    the personal-device run); here the turns are opened ahead of time with the app's own
    sessions.start(..., tablet_id=...) so that the timed request is the sign-off POST alone."""
    with database.transaction() as db:
        mentor = db.get(Person, s.mentor_id)
        return [sessions.start(db, mentor, ip="127.0.0.1", user_agent="bench/signoff.py", tablet_id=tablet_id)
                for _ in range(count)]


# --- work ------------------------------------------------------------------------------------------

def signoff_plans(pairs_by_assignment: list[tuple[int, list[str]]], clients: int, cookies: list[str] | str,
                  csrf: str, pin: str) -> list[_load.Plan]:
    """Distinct (assignment, task) pairs dealt round-robin, so concurrent clients mostly work on
    different mentees (as several mentors at several bays would). `cookies` is one Cookie header per
    pair (tablet turns) or one for all (personal device)."""
    pairs = [(a, codes[i]) for i in range(max(len(c) for _, c in pairs_by_assignment))
             for a, codes in pairs_by_assignment if i < len(codes)]
    plans = [_load.Plan() for _ in range(clients)]
    for n, (assignment_id, code) in enumerate(pairs):
        body, content_type = _load.multipart(
            {"_csrf_token": csrf, "rating": "3", "pin": pin, "note": "Observed on a customer car.",
             "ro_number": "", "vin": ""},
            {"photo": ("", b"", "application/octet-stream")})  # an empty file input, as browsers send it
        cookie = cookies[n] if isinstance(cookies, list) else cookies
        plans[n % clients].requests.append(_load.Req(
            "POST", f"/assignments/{assignment_id}/tasks/{code}/signoff",
            {"Cookie": cookie, "Content-Type": content_type, "Accept": "text/html"}, body))
    return plans


@dataclass
class Row:
    label: str
    clients: int
    processes: int
    result: _load.Result

    @property
    def rps(self) -> float:
        return self.result.successes / self.result.span_s

    def p(self, pct: float) -> float:
        return percentile(self.result.latencies_ms, pct)

    @property
    def server_ms_per_request(self) -> float | None:
        done = self.result.successes + self.result.errors
        return self.result.server_cpu_s / done * 1000 if self.result.server_cpu_s is not None and done else None

    @property
    def generator_share(self) -> float:
        return self.result.client_cpu_s / self.result.span_s

    @property
    def generator_saturated(self) -> bool:
        # Python clients near the CPU they can use cannot send faster, so the server may have had more to give.
        # Many threads in one process fight over the GIL and top out well below 100%, hence 70%.
        cpus = min(self.processes, os.cpu_count() or 1)
        return self.generator_share >= 0.7 * cpus


def wait_healthy(server: Server, path: str, limit: float = 60) -> None:
    """Before a run, let a server that is still busy with the previous run's requests finish them."""
    deadline, waited = time.monotonic() + limit, time.monotonic()
    while time.monotonic() < deadline:
        try:
            if httpx.get(server.url + path, timeout=5).status_code == 200:
                if time.monotonic() - waited > 1:
                    print(f"  ({server.name} server answered again after {time.monotonic() - waited:.0f} s)")
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    print(f"  ({server.name} server still not answering {path} after {limit:g} s; measuring anyway)")


def measure(label: str, server: Server, plans: list[_load.Plan], seconds: float, processes: int,
            warm_path: str, client: str) -> Row:
    wait_healthy(server, warm_path)
    print(f"  running {label} ({len(plans)} clients, {seconds:g} s)...", flush=True)
    result = _load.run(server.url, plans, seconds, processes, warm_path, kind=client, cpu_probe=server.cpu_seconds)
    return Row(label, len(plans), max(1, min(processes, len(plans))), result)


def signed_events(database: Database, device_prefix: str) -> int:
    with database.session() as db:
        return db.exec(select(func.count()).select_from(ProgressEvent).where(
            ProgressEvent.kind == "signoff", ProgressEvent.device.startswith(device_prefix))).one()


# --- report ----------------------------------------------------------------------------------------

def print_table(rows: list[Row]) -> None:
    head = (f"{'endpoint':<42}{'clients':>8}{'secs':>6}{'ok':>7}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
            f"{'errors':>7}{'srv CPU':>8}{'srv ms/req':>11}{'gen CPU':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        cpu = f"{r.result.server_share:.0%}" if r.result.server_share is not None else "n/a"
        per = f"{r.server_ms_per_request:.2f}" if r.server_ms_per_request is not None else "n/a"
        gen = f"{r.generator_share:.0%}" + ("!" if r.generator_saturated else "")
        print(f"{r.label:<42}{r.clients:>8}{r.result.span_s:>6.1f}{r.result.successes:>7}{r.rps:>8.1f}"
              f"{r.p(50):>8.1f}{r.p(99):>8.1f}{r.result.errors:>7}{cpu:>8}{per:>11}{gen:>8}")
    for r in rows:
        odd = {k: v for k, v in r.result.statuses.items() if not (k == 200 or k == 303)}
        if odd:
            print(f"  {r.label}: other outcomes {dict(odd)}")
        if r.generator_saturated:
            print(f"  {r.label}: the load generator was saturated (gen CPU marked !), so this req/s is a lower"
                  " bound of what the server can do")
        if r.result.ran_out:
            print(f"  {r.label}: {r.result.ran_out} client(s) used up their sign-offs before the deadline "
                  "(add --mentees)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--seconds", type=float, default=10, help="length of each timed run (default 10)")
    parser.add_argument("--mentees", type=int, default=40, help="mentees with a MAST list (default 40)")
    parser.add_argument("--pin-clients", type=int, default=8, help="clients in the personal-device run (default 8)")
    parser.add_argument("--pin-seconds", type=float, default=None, help="length of that run (default seconds/2)")
    parser.add_argument("--client", choices=sorted(_load.CLIENTS), default="httpx",
                        help="HTTP client of the load generator (default httpx; stdlib = http.client, lighter)")
    parser.add_argument("--processes", type=int, default=None,
                        help="load-generator processes (default: CPUs - 1, at least 1, at most 4)")
    args = parser.parse_args()
    args.clients = max(1, min(args.clients, 512))
    args.seconds = max(1.0, min(args.seconds, 600.0))
    pin_clients = max(1, min(args.pin_clients, args.clients))
    pin_seconds = args.pin_seconds or max(3.0, args.seconds / 2)
    tablet_seconds = min(args.seconds, TABLET_MAX_SECONDS)
    if tablet_seconds < args.seconds:
        print(f"(the tablet run lasts {TABLET_MAX_SECONDS} s: its turns expire 60 s after they are opened)")
    processes = args.processes or max(1, min(4, (os.cpu_count() or 2) - 1))
    pin_mentees = max(1, args.mentees // 5)
    tablet_mentees = max(1, args.mentees - pin_mentees)

    bench = fresh_database(args.db)
    if bench is None:
        return 0
    servers: list[Server] = []
    database = Database(bench.url)
    try:
        print(f"Setting up: {bench.label}")
        prepare(database)
        s = seed(database, ["MAST"] * (tablet_mentees + pin_mentees))
        settle(database)
        tasks = len(s.assignments[0].codes)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MENTORING_")}
        env.update(MENTORING_DATABASE_URL=bench.url, MENTORING_DATA_DIR=str(bench.data_dir),
                   MENTORING_SECRET_KEY=secrets.token_urlsafe(48), MENTORING_ENVIRONMENT="development",
                   PYTHONDONTWRITEBYTECODE="1")
        servers.append(app := serve("app", ["web.app:create_app", "--factory"], env, "/healthz", bench.data_dir))
        servers.append(bare := serve("bare", ["bare_app:app", "--app-dir", str(BENCH)], env, "/bare",
                                     bench.data_dir))
        creds = sign_in(app.url, database, s)

        tablet_pairs = [(a.id, a.codes) for a in s.assignments[:tablet_mentees]]
        pin_pairs = [(a.id, a.codes) for a in s.assignments[tablet_mentees:]]
        print(f"Seeded 1 shop, 1 mentor, {len(s.assignments)} mentees x {tasks} MAST tasks; "
              f"app {app.url}, bare {bare.url}; load from {processes} process(es)")

        rows = [measure("GET /bare (minimal Litestar, sync)", bare,
                        [_load.Plan(repeat=_load.Req("GET", "/bare", {"Accept": "application/json"}))
                         for _ in range(args.clients)], args.seconds, processes, "/bare", args.client)]

        turns = open_tablet_turns(database, s, creds.tablet_id, sum(len(c) for _, c in tablet_pairs))
        cookies = [f"{TABLET_COOKIE}={creds.tablet}; {SESSION_COOKIE}={t}; csrftoken={creds.csrf}" for t in turns]
        tablet = measure("POST sign-off, shop tablet turn (no PIN)", app,
                         signoff_plans(tablet_pairs, args.clients, cookies, creds.csrf, pin=""),
                         tablet_seconds, processes, "/healthz", args.client)
        rows.append(tablet)

        personal_cookie = f"{SESSION_COOKIE}={creds.personal}; csrftoken={creds.csrf}"
        rows.append(measure("POST sign-off, personal device + PIN", app,
                            signoff_plans(pin_pairs, pin_clients, personal_cookie, creds.csrf, pin=PIN),
                            pin_seconds, processes, "/healthz", args.client))

        for server in servers:
            if server.proc.poll() is not None:
                print(f"WARNING: the {server.name} server stopped during the run:\n{server.log.read_text()[-2000:]}")
        on_tablet, personal = signed_events(database, "shop tablet"), signed_events(database, "personal")

        print()
        print(f"Sign-off benchmark: {bench.label}")
        print(f"uvicorn, 1 worker per app, loopback; {os.cpu_count()} CPUs; load generator: {args.client}, "
              f"{processes} process(es), closed loop (each client waits for its answer)")
        threads = WORKER_THREADS
        print(f"app worker threads for sync handlers: {threads} (web/app.py sets the loop's default executor)")
        print()
        print_table(rows)
        print()
        print(f"database check: {on_tablet} tablet and {personal} personal-device sign-off events written; "
              f"clients counted {rows[1].result.successes} and {rows[2].result.successes}"
              + ("" if (on_tablet, personal) == (rows[1].result.successes, rows[2].result.successes)
                 else "  <-- MISMATCH (a request the client gave up on after "
                      f"{_load.REQUEST_TIMEOUT:g} s can still be committed by the server later)"))
        print("Notes:")
        print("  - ok = answers 2xx, or 303 not to /login; latency percentiles are over those; errors = the rest.")
        print("  - srv CPU = the server process's CPU time / wall time during the run (100% = one core; one")
        print("    worker's Python work cannot go much past one core); srv ms/req = server CPU time per request.")
        print("    gen CPU = the same share for the load generator, all its processes together.")
        print("  - Tablet turns: on the shop floor a mentor taps their name and enters the PIN once per turn, and")
        print("    the signature ends the turn. The sign-off POST itself checks no PIN (no argon2), which is what")
        print("    the tablet row measures; its turns were opened beforehand with sessions.start(tablet_id=...).")
        print("  - Personal device: every sign-off verifies the PIN with argon2id (t=2, 19 MiB), like a real one.")
        print("  - Each sign-off is a new (mentee, task) pair; mentees' lists fill up as the run goes, so later")
        print(f"    sign-offs replay longer event chains ({tasks} tasks per list).")
        ratio = tablet.rps / rows[0].rps if rows[0].rps else 0.0
        print()
        print(f"sign-off (tablet) / bare throughput ratio: {ratio:.3f}   "
              f"(personal device + PIN: {rows[2].rps / rows[0].rps if rows[0].rps else 0:.3f})")
        bare_ms, tablet_ms = rows[0].server_ms_per_request, tablet.server_ms_per_request
        if bare_ms and tablet_ms and not rows[0].result.errors and not tablet.result.errors:
            # The same ratio from server CPU per request: it does not depend on how fast the clients are.
            print(f"same ratio from server CPU per request (bare {bare_ms:.2f} ms / sign-off {tablet_ms:.2f} ms): "
                  f"{bare_ms / tablet_ms:.3f}" + ("   <- use this one: the bare run was client-bound"
                                                  if rows[0].generator_saturated else ""))
        # Closed loop: each client sends its next request when the last is answered, so the mean latency is
        # clients / throughput (Little's law) and the p99 cannot be below it.
        print(f"with {args.clients} clients in a closed loop, a p99 <= {GOAL_P99_MS:g} ms needs at least "
              f"{args.clients / GOAL_P99_MS * 1000:.0f} sign-offs/s (mean latency = clients / throughput); "
              f"measured {tablet.rps:.0f}/s, mean {args.clients / tablet.rps * 1000 if tablet.rps else 0:.0f} ms")
        print(f"goal: ratio >= {GOAL_RATIO} and p99 <= {GOAL_P99_MS:g} ms")
        met = ratio >= GOAL_RATIO and tablet.p(99) <= GOAL_P99_MS and tablet.result.errors == 0
        print(f"goal {'MET' if met else 'NOT MET'}: ratio {ratio:.3f}, tablet sign-off p99 {tablet.p(99):.1f} ms, "
              f"{tablet.result.errors} errors")
    finally:
        for server in servers:
            server.stop()
        database.dispose()
        bench.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
