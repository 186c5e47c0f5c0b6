"""32 mentors' browsers press Sign at the same moment against a live server: one sign-off, 31 clear refusals."""

import threading

import httpx
from sqlmodel import select

from mentoring.progress.models import ProgressEvent

from .conftest import PASSWORD

N = 32  # as many mentors as the issue asks for


def test_32_parallel_sign_off_posts_record_one_and_refuse_31(live_server, world, assigned, clean_db):
    with httpx.Client(base_url=live_server.url) as client:
        client.get("/login")
        client.post("/login", data={"email": world.mentor.email, "password": PASSWORD,
                                    "_csrf_token": client.cookies["csrftoken"]})
        cookies = dict(client.cookies)
    barrier = threading.Barrier(N)
    statuses: list[tuple[int, str]] = []

    def press_sign():
        with httpx.Client(base_url=live_server.url, cookies=cookies, timeout=60) as c:
            barrier.wait()
            r = c.post(f"/assignments/{assigned.id}/tasks/0.A.1/signoff",
                       data={"rating": "3", "pin": "2580", "_csrf_token": cookies["csrftoken"]},
                       files={"photo": ("", b"", "application/octet-stream")})
            statuses.append((r.status_code, r.text))

    threads = [threading.Thread(target=press_sign) for _ in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(code for code, _ in statuses)
    assert codes.count(303) == 1 and codes.count(409) == N - 1, codes
    assert all("Already signed by Milo Mentor at" in text for code, text in statuses if code == 409)
    with clean_db.session() as db:
        assert len(db.exec(select(ProgressEvent).where(ProgressEvent.kind == "signoff")).all()) == 1
