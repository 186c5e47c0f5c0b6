"""Security headers on every kind of response, cookie attributes, and templates free of inline script."""

import re
from pathlib import Path

import pytest
from litestar.testing import TestClient

from web.app import create_app
from web.settings import Settings

from .conftest import PASSWORD, Browser

TEMPLATES = Path(__file__).parent.parent / "web" / "templates"


def assert_secure_headers(response, *, no_store: bool = True) -> None:
    csp = response.headers.get("content-security-policy", "")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives.get("script-src") == "'self'", csp  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives.get("object-src") == "'none'"
    assert directives.get("base-uri") == "'none'"
    assert directives.get("frame-ancestors") == "'none'"
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") == "same-origin"
    if no_store:
        assert response.headers.get("cache-control") == "no-store"


def test_pages_api_and_errors_all_carry_the_headers(browser, world):
    anonymous = [
        (browser.get("/login"), 200),
        (browser.get("/no/such/page"), 404),
        (browser.get("/no/such/page", headers={"accept": "application/json"}), 404),
        (browser.client.request("PATCH", "/login"), 405),
        (browser.get("/api/v1/triads"), 401),
        (browser.post("/login", {"email": "x"}, csrf=False), 403),  # no CSRF token
        (browser.get("/manager"), 303),  # redirect to sign in
    ]
    for response, status in anonymous:
        assert response.status_code == status, (response.request.url, response.status_code)
        assert_secure_headers(response)

    browser.login(world.mentor.email, PASSWORD)
    signed_in = [
        (browser.get("/mentor"), 200),
        (browser.get("/manager"), 403),  # a mentor is not a manager
        (browser.get(f"/mentees/{world.other_mentee.id}"), 404),  # another shop's mentee
        (browser.get("/api/v1/triads"), 200),
    ]
    for response, status in signed_in:
        assert response.status_code == status, (response.request.url, response.status_code)
        assert_secure_headers(response)


def test_a_server_error_page_carries_the_headers(settings, clean_db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated fault")

    monkeypatch.setattr("web.pages.auth.page", broken)
    with TestClient(app=create_app(settings, clean_db), raise_server_exceptions=False) as client:
        response = client.get("/login")
    assert response.status_code == 500
    assert "simulated fault" not in response.text  # no internals in the answer
    assert_secure_headers(response)


def test_static_files_keep_their_caching_but_get_the_headers(browser):
    response = browser.get("/static/htmx.min.js")
    assert response.status_code == 200
    assert_secure_headers(response, no_store=False)
    assert response.headers.get("cache-control") != "no-store"


def _set_cookies(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def test_cookies_over_http_are_httponly_and_samesite(browser, world):
    login_page = browser.get("/login")
    cookies = _set_cookies(login_page)
    signed_in = _set_cookies(browser.login(world.mentor.email, PASSWORD))
    for header in [cookies["csrftoken"], signed_in["mentoring_session"]]:
        assert "HttpOnly" in header and "SameSite=lax" in header, header
        assert "Secure" not in header  # a Secure cookie would never come back over plain http


def test_cookies_over_https_are_secure_with_the_host_prefix(tmp_path, database_url, clean_db, world):
    settings = Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 40,
                        base_url="https://shop.example")
    with TestClient(app=create_app(settings, clean_db), base_url="https://shop.example") as client:
        browser = Browser(client)
        page = browser.get("/login")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        csrf = _set_cookies(page)["__Host-csrftoken"]
        response = client.post("/login", data={"email": world.manager.email, "password": PASSWORD,
                                               "_csrf_token": client.cookies["__Host-csrftoken"]},
                               follow_redirects=False)
        assert response.status_code == 303, response.text
        session = _set_cookies(response)["__Host-mentoring"]
        enrolled = client.post(f"/shops/{world.shop.id}/tablets",
                               data={"name": "Bay 1", "_csrf_token": client.cookies["__Host-csrftoken"]},
                               follow_redirects=False)
        assert enrolled.status_code == 303, enrolled.text
        tablet = _set_cookies(enrolled)["__Host-mentoring_tablet"]
        for header in [csrf, session, tablet]:
            assert "Secure" in header and "HttpOnly" in header and "SameSite=lax" in header, header
            assert "Path=/" in header and "Domain=" not in header, header  # what __Host- requires
        assert client.get("/tablet").status_code == 200  # the enrolled tablet is recognised by its new name


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"<style[\s>]", re.I), "<style> block"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
]


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_need_nothing_the_policy_forbids(template):
    text = template.read_text()
    found = [what for pattern, what in INLINE if pattern.search(text)]
    assert not found, f"{template.name}: {found}"
