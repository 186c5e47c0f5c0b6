"""A live server and a real Chromium for browser tests."""

import os
import shutil
import socket
import threading
import time

import pytest
import uvicorn

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


def require_chromium() -> str:
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("MENTORING_REQUIRE_BROWSER"):
        pytest.fail("Chromium is required (MENTORING_REQUIRE_BROWSER is set) but was not found")
    pytest.skip("Chromium is not installed; CI installs it and runs these tests")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, app):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def open_page(chromium, **context_options):
    """A new page that records what the Content-Security-Policy blocked, to be checked when the test ends."""
    context = chromium.new_context(**context_options)
    page = context.new_page()
    page.csp_violations = []
    page.on("console", lambda m: "Content Security Policy" in m.text and page.csp_violations.append(m.text))
    return context, page


def close_page(context, page) -> None:
    violations = page.csp_violations
    context.close()
    assert not violations, f"the page needed something the CSP forbids: {violations}"


SIZES = [(1280, 800), (768, 1024), (390, 844)]  # desktop, shop tablet, phone


def sign_in_page(page, url: str, email: str, password: str) -> None:
    """Sign in through the login form, as a person would."""
    page.goto(url + "/login")
    page.fill("#f-email", email)
    page.fill("#f-password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
