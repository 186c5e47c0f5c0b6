"""A small closed-loop load generator: N clients, each sending one request at a time, for a fixed time.

The clients run as threads spread over a few worker processes, so the load generator is not held
back by one interpreter's GIL. Every request is prepared before the clock starts; the loop only
sends, times and counts. Loopback only; every loop ends at the deadline or when its work runs out.
"""

import http.client
import http.cookiejar
import multiprocessing as mp
import os
import queue
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

REQUEST_TIMEOUT = 30.0  # seconds; a request slower than this counts as an error


@dataclass(frozen=True)
class Req:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None


@dataclass
class Plan:
    """One client's work: a finite list of requests, or one request repeated until the deadline."""

    requests: list[Req] = field(default_factory=list)
    repeat: Req | None = None


@dataclass
class Result:
    latencies_ms: list[float]  # successful requests only
    statuses: Counter  # every outcome, e.g. {200: 9000} or {303: 812, "303->/login": 3}
    successes: int
    errors: int
    span_s: float  # from the start signal to the last response
    ran_out: int  # clients that used up their work before the deadline
    client_cpu_s: float  # CPU used by the load generator during the run
    server_share: float | None  # server CPU seconds / wall seconds during the run (1.0 = one core)
    server_cpu_s: float | None  # server CPU seconds during the run


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Each request carries its own Cookie header; never let the client's jar add or change one."""

    def set_ok(self, cookie, request):
        return False


class _Httpx:
    """The default client: httpx, one keep-alive connection per simulated client."""

    errors = (httpx.HTTPError,)

    def __init__(self, base_url: str):
        self.client = httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT, follow_redirects=False,
                                   cookies=http.cookiejar.CookieJar(policy=_NoCookies()))

    def send(self, req: Req) -> tuple[int, str]:
        response = self.client.request(req.method, req.path, headers=req.headers, content=req.body)
        return response.status_code, response.headers.get("location", "")

    def close(self) -> None:
        self.client.close()


class _Stdlib:
    """--client stdlib: http.client, several times cheaper per request than httpx, for machines where an
    httpx load generator cannot keep a fast endpoint busy (see the gen CPU column)."""

    errors = (http.client.HTTPException, OSError)

    def __init__(self, base_url: str):
        url = urllib.parse.urlsplit(base_url)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=REQUEST_TIMEOUT)

    def send(self, req: Req) -> tuple[int, str]:
        try:
            self.conn.request(req.method, req.path, body=req.body, headers=req.headers)
            response = self.conn.getresponse()
            response.read()
        except self.errors:
            self.conn.close()  # reconnect on the next request
            raise
        return response.status, response.getheader("location", "")

    def close(self) -> None:
        self.conn.close()


CLIENTS = {"httpx": _Httpx, "stdlib": _Stdlib}


def ok(status: int, location: str) -> bool:
    # A redirect to the sign-in page is how the app answers a request it did not authenticate.
    if status == 303:
        return not location.startswith("/login")
    return 200 <= status < 300


def _client_loop(kind: str, base_url: str, plan: Plan, warm_path: str, ready: threading.Barrier, go, deadline,
                 out: list) -> None:
    latencies: list[float] = []
    statuses: Counter = Counter()
    successes = errors = 0
    ran_out = False
    last_end = 0.0
    client = CLIENTS[kind](base_url)
    try:
        try:
            client.send(Req("GET", warm_path, {}))  # open the keep-alive connection before the clock starts
        except client.errors as exc:
            statuses["warm-up " + type(exc).__name__] += 1  # reported; the client still runs
        finally:
            ready.wait()
        go.wait()
        end_at = deadline.value
        work = iter(plan.requests)
        while time.monotonic() < end_at:
            req = plan.repeat or next(work, None)
            if req is None:
                ran_out = True
                break
            start = time.monotonic()
            try:
                status, location = client.send(req)
                good = ok(status, location)
                outcome = status if good or status != 303 else "303->" + location.split("?")[0]
            except client.errors as exc:
                good, outcome = False, type(exc).__name__
            last_end = time.monotonic()
            statuses[outcome] += 1
            if good:
                successes += 1
                latencies.append((last_end - start) * 1000)
            else:
                errors += 1
    finally:
        client.close()
        out.append((latencies, statuses, successes, errors, ran_out, last_end))


def _process_main(kind: str, base_url: str, plans: list[Plan], warm_path: str, ready_q, go, deadline, result_q
                  ) -> None:
    results: list = []
    barrier = threading.Barrier(len(plans) + 1)
    threads = [threading.Thread(target=_client_loop, daemon=True,
                                args=(kind, base_url, p, warm_path, barrier, go, deadline, results)) for p in plans]
    for t in threads:
        t.start()
    barrier.wait()
    ready_q.put(os.getpid())
    go.wait()
    cpu_start = time.process_time()
    for t in threads:
        t.join()
    result_q.put((results, time.process_time() - cpu_start))


def run(base_url: str, plans: list[Plan], seconds: float, processes: int, warm_path: str, *, kind: str = "httpx",
        cpu_probe: Callable[[], float | None] = lambda: None) -> Result:
    """Run every plan as one client; return when all clients have stopped.

    cpu_probe (the server's CPU seconds so far) is read when the clock starts and when the last client
    has stopped, so that the server's CPU share covers the timed run only."""
    ctx = mp.get_context("spawn")  # no forked copies of the parent's engines or threads
    ready_q, result_q = ctx.Queue(), ctx.Queue()
    go = ctx.Event()
    deadline = ctx.Value("d", 0.0)
    processes = max(1, min(processes, len(plans)))
    chunks = [plans[i::processes] for i in range(processes)]
    procs = [ctx.Process(target=_process_main, daemon=True,
                         args=(kind, base_url, c, warm_path, ready_q, go, deadline, result_q)) for c in chunks]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            ready_q.get(timeout=120)
        cpu_start = cpu_probe()
        deadline.value = time.monotonic() + seconds
        started = time.monotonic()
        go.set()
        gathered, cpu = [], 0.0
        for _ in procs:
            part, part_cpu = result_q.get(timeout=seconds + REQUEST_TIMEOUT + 60)
            gathered += part
            cpu += part_cpu
        cpu_end, ended = cpu_probe(), time.monotonic()
    except queue.Empty:
        raise RuntimeError("the load generator did not report in time") from None
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
    latencies = sorted(x for part in gathered for x in part[0])
    statuses: Counter = Counter()
    for part in gathered:
        statuses.update(part[1])
    last = max((part[5] for part in gathered), default=0.0) or ended  # no answer at all: the whole wait
    server_share = ((cpu_end - cpu_start) / (ended - started)
                    if cpu_start is not None and cpu_end is not None else None)
    return Result(latencies, statuses, sum(p[2] for p in gathered), sum(p[3] for p in gathered),
                  max(last - started, 1e-9), sum(1 for p in gathered if p[4]), cpu, server_share,
                  (cpu_end - cpu_start) if cpu_start is not None and cpu_end is not None else None)


# --- multipart/form-data, built once per request before the clock starts -----------------------

BOUNDARY = "mentoringbench7MA4YWxkTrZu0gW"


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """The body a browser sends for the sign-off form, and its Content-Type."""
    parts = []
    for name, value in fields.items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content, content_type) in files.items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: {content_type}\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={BOUNDARY}"
