"""Real Chromium against a live server: sign-in and an admin form, at tablet size."""

import pytest

from .conftest import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page, server, email):
    page.goto(server.url + "/login")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_a_manager_signs_in_and_sees_the_shops_triads(tablet, live_server, world):
    sign_in(tablet, live_server, world.manager.email)
    tablet.wait_for_url(live_server.url + "/manager")
    assert "Tess Mentee" in tablet.inner_text("main")
    assert "Olga Mentee" not in tablet.inner_text("main")


def test_a_wrong_password_shows_a_message_in_the_page(tablet, live_server, world):
    tablet.goto(live_server.url + "/login")
    tablet.fill("#f-email", world.manager.email)
    tablet.fill("#f-password", "not-it")
    tablet.click("button[type=submit]")
    assert "Email or password is not right." in tablet.inner_text("[role=alert]")
    assert tablet.input_value("#f-email") == world.manager.email


def test_controls_are_big_enough_for_gloved_hands(tablet, live_server, world):
    sign_in(tablet, live_server, world.admin.email)
    tablet.goto(f"{live_server.url}/admin/orgs/{world.shop.id}/members/new")
    sizes = tablet.eval_on_selector_all(
        "main button, main input:not([type=hidden]), main select, main a.button",
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })")
    assert sizes and all(w >= 44 and h >= 44 for w, h in sizes), sizes


def test_an_admin_adds_a_mentor_after_fixing_a_mistake(tablet, live_server, world):
    sign_in(tablet, live_server, world.admin.email)
    tablet.goto(f"{live_server.url}/admin/orgs/{world.shop.id}/members/new")
    tablet.fill("#f-full_name", "Rita Ramos")
    tablet.fill("#f-email", "rita.ramos@example")  # no dot after the @
    tablet.select_option("#f-role", "mentor")
    tablet.click("button.primary")
    assert "Enter an email address" in tablet.inner_text("#e-email")
    assert tablet.input_value("#f-full_name") == "Rita Ramos"
    tablet.fill("#f-email", "rita.ramos@example.com")
    tablet.click("button.primary")
    tablet.wait_for_url(f"{live_server.url}/admin/orgs/{world.shop.id}?done=person-added")
    assert "Rita Ramos" in tablet.inner_text("main")
