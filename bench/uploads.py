"""Peak server memory under 32 parallel photo uploads to sign-off URLs, from another shop and from the mentor.

    python bench/uploads.py [--db sqlite|postgres] [--parallel 32] [--payload png36 jpeg36 png16]

What it does, in order:
  1. creates a throwaway database (as bench/signoff.py does), seeds one shop (a manager, a mentor, mentees on
     a published MLR list) and a second shop with its own mentor, and enrolls a shop tablet at each;
  2. builds the photos: a 6000x6000 PNG of a few shapes (small file, 36 megapixels), a 6000x6000 baseline
     JPEG and a 4000x4000 PNG;
  3. for every photo and caller, starts a fresh server (uvicorn, one worker, like `mentoring serve`), lets it
     answer a few requests, then sends --parallel sign-off POSTs with that photo at once, each in a tablet
     turn of its own (no PIN, so no argon2 is measured):
       - "other shop": the other shop's mentor, on their own shop's tablet, to this shop's assignments;
       - "mentor": this shop's mentor, each POST a different task, so every one is a real new sign-off;
     while a thread reads the server's VmRSS from /proc every 5 ms;
  4. prints, per run: the answers, the wall time, the server's resident memory before, its peak (the
     kernel's VmHWM, which no sampling can miss), the peak minus the start, and the photos stored.
A fresh server per run: freed memory that the allocator keeps would otherwise count in the next run.
"""

import argparse
import os
import secrets
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import _load
import httpx
from _common import OPERATOR, PIN, fresh_database, prepare, seed, settle
from PIL import Image, ImageDraw
from signoff import SESSION_COOKIE, expect, serve
from sqlalchemy import func
from sqlmodel import select

from mentoring.access import tablets
from mentoring.people import accounts
from mentoring.people.accounts import NewPersonIn, OrganizationIn
from mentoring.people.models import Organization, Person
from mentoring.progress.models import EvidencePhoto
from web import sessions
from web.db import Database
from web.deps import TABLET_COOKIE

MB = 1024 * 1024


# --- photos ----------------------------------------------------------------------------------------

def png_of_shapes(side: int) -> bytes:
    """A large canvas with a few shapes: it compresses to a small file but decodes to side x side pixels."""
    img = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(img)
    step = side // 12
    for n in range(12):
        draw.rectangle((n * step, side // 4, n * step + step // 2, 3 * side // 4), fill=(20 * n, 80, 160))
        draw.line((0, n * step, side - 1, side - n * step - 1), fill="black", width=9)
    out = BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def camera_like_jpeg(side: int) -> bytes:
    """A baseline JPEG with smooth gradients and grain, about as compressible as a photo of a workshop."""
    grain = Image.effect_noise((side // 4, side // 4), 40).resize((side, side), Image.Resampling.BILINEAR)
    ramp = Image.linear_gradient("L").resize((side, side))
    img = Image.merge("RGB", (grain, ramp, ramp.rotate(90)))
    out = BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


PAYLOADS = {
    "png36": ("6000x6000 PNG", lambda: (png_of_shapes(6000), "bay.png", "image/png")),
    "jpeg36": ("6000x6000 JPEG", lambda: (camera_like_jpeg(6000), "bay.jpg", "image/jpeg")),
    "png16": ("4000x4000 PNG", lambda: (png_of_shapes(4000), "bay.png", "image/png")),
}


# --- set-up --------------------------------------------------------------------------------------

@dataclass
class Shops:
    assignments: list[tuple[int, list[str]]]  # this shop's (assignment id, task codes)
    mentor_id: int
    tablet: str  # this shop's tablet cookie
    tablet_id: int
    other_mentor_id: int
    other_tablet: str
    other_tablet_id: int


def seed_shops(database: Database, mentees: int) -> Shops:
    s = seed(database, ["MLR"] * mentees)
    with database.transaction() as db:
        shop = db.get(Organization, s.shop_id)
        device, token = tablets.enroll(db, OPERATOR, shop, "Bay 1")
        other = accounts.create_organization(db, OPERATOR, OrganizationIn(name="Other Garage", kind="independent"))
        other_mentor = accounts.add_member(db, OPERATOR, other, NewPersonIn(
            full_name="Otto Outsider", email="otto@other.example", role="mentor", pin=PIN))
        other_device, other_token = tablets.enroll(db, OPERATOR, other, "Other bay")
        ids = (device.id, other_mentor.id, other_device.id)
    return Shops([(a.id, a.codes) for a in s.assignments], s.mentor_id, token, ids[0], ids[1], other_token, ids[2])


def tablet_turns(database: Database, person_id: int, tablet_id: int, count: int) -> list[str]:
    """One tablet turn per POST, opened with the app's own sessions.start: a signature ends its turn."""
    with database.transaction() as db:
        person = db.get(Person, person_id)
        return [sessions.start(db, person, ip="127.0.0.1", user_agent="bench/uploads.py", tablet_id=tablet_id)
                for _ in range(count)]


def stored_photos(database: Database) -> int:
    with database.session() as db:
        return db.exec(select(func.count()).select_from(EvidencePhoto)).one()


# --- memory ----------------------------------------------------------------------------------------

def status_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class RssSampler(threading.Thread):
    """Reads the server's resident memory every few milliseconds; VmHWM is the kernel's own peak."""

    def __init__(self, pid: int, every: float = 0.005):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            rss = status_kb(self.pid, "VmRSS")
            if rss is not None:
                self.samples.append(rss)
            time.sleep(self.every)


# --- one run -----------------------------------------------------------------------------------

@dataclass
class Run:
    payload: str
    caller: str
    statuses: Counter
    seconds: float
    start_mb: float
    peak_mb: float  # VmHWM at the end
    sampled_peak_mb: float
    stored: int


def one_run(env: dict[str, str], log_dir: Path, database: Database, shops: Shops, caller: str, payload: str,
            photo: tuple[bytes, str, str], parallel: int, next_task: list[int]) -> Run:
    app = serve("app", ["web.app:create_app", "--factory"], env, "/healthz", log_dir)
    try:
        with httpx.Client(base_url=app.url, follow_redirects=False, timeout=60) as c:
            csrf = expect(c.get("/login"), 200, "GET /login").cookies["csrftoken"]
            for _ in range(5):  # the first requests load templates and fill caches: not what is measured
                c.get("/healthz")
                c.get("/login")
        if caller == "mentor":
            person, tablet_id, device = shops.mentor_id, shops.tablet_id, shops.tablet
        else:
            person, tablet_id, device = shops.other_mentor_id, shops.other_tablet_id, shops.other_tablet
        turns = tablet_turns(database, person, tablet_id, parallel)
        content, filename, content_type = photo
        requests = []
        pairs = [(a, codes[i]) for i in range(max(len(c) for _, c in shops.assignments))
                 for a, codes in shops.assignments if i < len(codes)]
        for turn in turns:
            assignment_id, code = pairs[next_task[0] % len(pairs)]
            next_task[0] += 1
            body, ctype = _load.multipart(
                {"_csrf_token": csrf, "rating": "3", "pin": "", "note": "Photo of the bay.", "ro_number": "",
                 "vin": ""}, {"photo": (filename, content, content_type)})
            requests.append((f"/assignments/{assignment_id}/tasks/{code}/signoff",
                             {"Cookie": f"{TABLET_COOKIE}={device}; {SESSION_COOKIE}={turn}; csrftoken={csrf}",
                              "Content-Type": ctype, "Accept": "text/html"}, body))
        before_photos = stored_photos(database)
        time.sleep(0.5)
        start_kb = status_kb(app.proc.pid, "VmRSS") or 0
        statuses: Counter = Counter()
        lock = threading.Lock()
        barrier = threading.Barrier(len(requests) + 1)

        def send(path, headers, body):
            with httpx.Client(base_url=app.url, follow_redirects=False, timeout=120) as c:
                barrier.wait()
                try:
                    outcome = c.post(path, headers=headers, content=body).status_code
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
            with lock:
                statuses[outcome] += 1

        threads = [threading.Thread(target=send, args=r, daemon=True) for r in requests]
        for t in threads:
            t.start()
        sampler = RssSampler(app.proc.pid)
        sampler.start()
        barrier.wait()
        started = time.monotonic()
        for t in threads:
            t.join()
        seconds = time.monotonic() - started
        sampler.stop.set()
        sampler.join()
        peak_kb = status_kb(app.proc.pid, "VmHWM") or 0
        if app.proc.poll() is not None:
            statuses["server died"] += 1
        return Run(payload, caller, statuses, seconds, start_kb / 1024, peak_kb / 1024,
                   max(sampler.samples, default=0) / 1024, stored_photos(database) - before_photos)
    finally:
        app.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--parallel", type=int, default=32, help="uploads sent at once (default 32)")
    parser.add_argument("--payload", nargs="*", choices=sorted(PAYLOADS), default=list(PAYLOADS),
                        help="which photos to send (default: all)")
    parser.add_argument("--caller", nargs="*", choices=["other", "mentor"], default=["other", "mentor"])
    args = parser.parse_args()
    parallel = max(1, min(args.parallel, 256))

    bench = fresh_database(args.db)
    if bench is None:
        return 0
    database = Database(bench.url)
    runs: list[Run] = []
    try:
        print(f"Setting up: {bench.label}")
        prepare(database)
        shops = seed_shops(database, mentees=8)
        settle(database)
        photos = {name: PAYLOADS[name][1]() for name in args.payload}
        env = {k: v for k, v in os.environ.items() if not k.startswith("MENTORING_")}
        # MENTORING_PHOTO_* settings given to this script are passed on to the server under test.
        env.update({k: v for k, v in os.environ.items() if k.startswith("MENTORING_PHOTO_")})
        env.update(MENTORING_DATABASE_URL=bench.url, MENTORING_DATA_DIR=str(bench.data_dir),
                   MENTORING_SECRET_KEY=secrets.token_urlsafe(48), MENTORING_ENVIRONMENT="development",
                   PYTHONDONTWRITEBYTECODE="1")
        next_task = [0]
        for name in args.payload:
            for caller in args.caller:
                label = PAYLOADS[name][0]
                print(f"  {parallel} x {label} ({len(photos[name][0]) / 1024:.0f} KiB) from "
                      f"{'another shop' if caller == 'other' else 'the mentor'}...", flush=True)
                runs.append(one_run(env, bench.data_dir, database, shops, caller, name, photos[name], parallel,
                                    next_task))
    finally:
        database.dispose()
        bench.cleanup()

    print()
    print(f"Upload memory benchmark: {bench.label}; {parallel} parallel sign-off POSTs per row, each with the photo;")
    print(f"uvicorn, 1 worker, fresh server per row; {os.cpu_count()} CPUs; photo settings: "
          + (", ".join(f"{k}={v}" for k, v in env.items() if k.startswith("MENTORING_PHOTO_")) or "defaults"))
    print()
    head = (f"{'photo':<16}{'from':<14}{'answers':<28}{'secs':>6}{'RSS start MB':>14}{'peak MB':>9}"
            f"{'peak-start':>11}{'stored':>7}")
    print(head)
    print("-" * len(head))
    for r in runs:
        answers = " ".join(f"{k}x{v}" for k, v in sorted(r.statuses.items(), key=str))
        print(f"{PAYLOADS[r.payload][0]:<16}{'another shop' if r.caller == 'other' else 'the mentor':<14}"
              f"{answers:<28}{r.seconds:>6.1f}{r.start_mb:>14.0f}{r.peak_mb:>9.0f}{r.peak_mb - r.start_mb:>11.0f}"
              f"{r.stored:>7}")
    print()
    print("peak MB = the server process's VmHWM (the kernel's high-water mark of resident memory) after the row;")
    print("answers = HTTP status x count (303: signed, with the photo stored; 400: refused with a field error;")
    print("404: not a mentee the caller may see; 503: no decode slot free in time).")
    worst = max((r.peak_mb for r in runs), default=0)
    print(f"highest peak over all rows: {worst:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
