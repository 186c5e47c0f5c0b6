"""Issue 15 in a real Chromium: the installable tablet app (manifest, service worker, offline shell) and signing
with the network switched off in Playwright (context.set_offline), synced when it comes back."""

import base64
import io
import json
import time
import uuid
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from mentoring.access import tablets
from mentoring.access.policy import Actor
from mentoring.progress import signoffs
from web.deps import TABLET_COOKIE

from .browser import close_page, open_page
from .test_browser_signoff import axe_violations
from .test_offline_sync import audit_verify, jpeg, second, stored  # noqa: F401 (second is a fixture)

pytestmark = pytest.mark.browser

VECTORS = Path(__file__).parent / "offline_vectors.json"
CORE = "import('/static/offline-core.js')"


def enrolled_tablet(chromium, clean_db, world, url):
    """A browser context holding a shop tablet's cookie, as after a manager enrolled it."""
    with clean_db.transaction() as db:
        device, token = tablets.enroll(db, Actor(None, "test", True), world.shop, "Bay 3")
        device_id = device.id
    context, page = open_page(chromium, viewport={"width": 768, "height": 1024}, has_touch=True)
    context.add_cookies([{"name": TABLET_COOKIE, "value": token, "url": url}])
    return context, page, device_id


def wait_for_worker(page) -> None:
    # Polled from here: page.wait_for_function evaluates strings in the page, which its CSP (rightly) refuses.
    wait_until(lambda: page.evaluate("navigator.serviceWorker.controller !== null"), "the service worker")


def test_the_app_installs_and_the_shell_works_offline(chromium, live_server, world, clean_db):
    url = live_server.url
    context, page, _ = enrolled_tablet(chromium, clean_db, world, url)
    try:
        page.goto(url + "/tablet")
        # Installable: a linked manifest with the fields and icons a browser asks for, the icons really that size.
        href = page.get_attribute("link[rel=manifest]", "href")
        answer = page.request.get(url + href)
        assert answer.ok and answer.headers["content-type"].startswith("application/manifest+json")
        manifest = answer.json()
        assert manifest["start_url"] == "/tablet" and manifest["scope"] == "/"
        assert manifest["display"] in {"standalone", "fullscreen"} and manifest["name"] and manifest["short_name"]
        assert manifest["theme_color"].startswith("#") and manifest["background_color"].startswith("#")
        sizes = set()
        for icon in manifest["icons"]:
            image = Image.open(io.BytesIO(page.request.get(url + icon["src"]).body()))
            assert image.format == "PNG" and f"{image.width}x{image.height}" == icon["sizes"]
            sizes.add((icon["sizes"], icon.get("purpose", "any")))
        assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
        worker = page.request.get(url + "/sw.js")
        assert worker.headers["content-type"].startswith("text/javascript")
        assert worker.headers["cache-control"] == "no-cache"

        # The service worker registers from the shop screen and controls it.
        wait_for_worker(page)
        assert page.evaluate("navigator.serviceWorker.controller.scriptURL") == url + "/sw.js"
        assert page.locator("#net-status").inner_text().startswith("● Online")

        # During a mentor's turn, "Done" asks first while a signature waits on the tablet.
        page.click(f".tile:has-text('{world.mentor.full_name}')")
        page.fill("#f-pin", "2580")
        with page.expect_navigation():
            page.locator("form[action^='/tablet/mentors'] button").click()
        expect(page.locator("#net-status")).to_contain_text("No signatures waiting")
        page.evaluate(f"""{CORE}.then((core) => core.queueAdd({{state: "queued", event: {{task_code: "X.1"}}}}))""")
        expect(page.locator("#net-status")).to_contain_text("1 signature waiting to be sent")
        asked = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
        page.click("text=Done")
        for _ in range(200):  # the question comes once the queue is counted, after the click returns
            if asked:
                break
            page.wait_for_timeout(25)
        expect(page.locator("#net-status")).to_contain_text("1 signature waiting")
        assert "1 signature is saved on this tablet and not sent yet" in asked[0] and "/mentor" in page.url

        # Offline, the start page still opens: the service worker answers with the shell, from the tablet's copy.
        wait_until(lambda: page.evaluate(f"{CORE}.then(async (core) => Boolean(await core.kvGet('snapshot')))"),
                   "the tablet's copy")
        context.set_offline(True)
        page.reload()
        assert page.locator("main #app").count() == 1  # the shell, not the server's page
        expect(page.locator("h1")).to_have_text("Who is signing?")
        assert page.locator("#net-status").inner_text().startswith("○ Offline")

        # The tablet's script makes the same canonical JSON, PBKDF2 key and HMAC proof as the server (helper
        # vectors from tests/offline_vectors.json, which tests/test_offline_device.py checks on the Python side).
        v = json.loads(VECTORS.read_text())
        got = page.evaluate("""async (v) => {
          const core = await import('/static/offline-core.js');
          const k = await core.deriveK(v.pin, v.salt, v.iterations);
          const verifier = {salt: v.salt, iterations: v.iterations, check: v.check};
          const canonical = core.canonicalEvent(v.event);
          return {key: core.hex(k), check: await core.sha256Hex(k), canonical,
                  proof: await core.hmacHex(await core.unlockKey(verifier, v.pin), canonical),
                  wrong: await core.unlockKey(verifier, v.wrong_pin)};
        }""", v)
        assert got == {"key": v["key"], "check": v["check"], "canonical": v["canonical"], "proof": v["proof"],
                       "wrong": None}
    finally:
        close_page(context, page)


def queue_of(page) -> list[dict]:
    """The tablet's queue as the test can read it: fields, proof and the photo's bytes (base64)."""
    return page.evaluate("""async () => {
      const core = await import('/static/offline-core.js');
      const items = await core.queueAll();
      return Promise.all(items.map(async (i) => ({state: i.state, detail: i.detail || "", event: i.event,
        proof: i.proof, photo: i.photo ? btoa(String.fromCharCode(...new Uint8Array(await i.photo.arrayBuffer())))
        : ""})));
    }""")


def wait_until(check, what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def sign_offline(page, mentee: str, *, rating="4", ro="", vin="", note="", photo=None, check_axe=False) -> str:
    """From a mentor's list of mentees (or a mentee's tasks): sign the first open task; returns its code."""
    if "your mentees" in page.locator("h1").inner_text():
        page.click(f".tile:has-text('{mentee}')")
    expect(page.locator("h1")).to_contain_text(mentee)
    task = page.locator("li.row a.row-main").first
    code = task.locator("strong").inner_text()
    task.click()
    if check_axe:
        assert axe_violations(page) == []
    page.check(f"input[name=rating][value='{rating}']")
    page.fill("#f-ro_number", ro)
    page.fill("#f-vin", vin)
    page.fill("#f-note", note)
    if photo:
        page.set_input_files("#f-photo", files=[{"name": "lift.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    page.click("button.big")
    status = page.locator("[role=status].confirmation")
    expect(status).to_contain_text("Saved on this tablet")
    assert "when the connection returns" in status.inner_text()
    return code


def unlock_online(page, url, mentor) -> None:
    page.click(f".tile:has-text('{mentor.full_name}')")
    page.fill("#f-pin", "2580")
    with page.expect_navigation():
        page.locator("form[action^='/tablet/mentors'] button").click()
    with page.expect_navigation():
        page.click("text=Done")
    assert page.url == url + "/tablet"


def test_three_signatures_made_offline_reach_the_server_once_each(
        chromium, live_server, world, assigned, second, clean_db, monkeypatch, database_url, tmp_path):
    url = live_server.url
    context, page, device_id = enrolled_tablet(chromium, clean_db, world, url)
    try:
        page.goto(url + "/tablet")
        wait_for_worker(page)
        # Each mentor enters the PIN online once on this tablet: the server then gives it their offline verifier.
        unlock_online(page, url, world.mentor)
        unlock_online(page, url, world.mentor2)
        wait_until(lambda: page.evaluate(f"""{CORE}.then(async (core) => {{
            const snap = await core.kvGet('snapshot');
            return Boolean(snap && snap.mentors.length === 2 && snap.mentors.every((m) => m.verifier));
        }})"""), "a copy with both verifiers")

        context.set_offline(True)
        # The shop screen's tile leads to a page the service worker cannot fetch: it answers with the shell.
        page.click(f".tile:has-text('{world.mentor.full_name}')")
        page.fill("#f-pin", "1111")  # a wrong PIN is refused on the tablet itself
        page.click("button.big")
        expect(page.locator("#e-pin")).to_have_text("That PIN is not right.")
        assert axe_violations(page) == []
        page.fill("#f-pin", "2580")
        page.click("button.big")
        expect(page.locator("h1")).to_contain_text("your mentees")
        first = sign_offline(page, world.mentee.full_name, ro="RO-1182", vin="1HGCM82633A004352",
                             note="Watched on the lift.\nTorque checked twice.", photo=jpeg(), check_axe=True)
        assert axe_violations(page) == []  # the confirmation
        page.click("text=Another task for")
        second_code = sign_offline(page, world.mentee.full_name, rating="3")
        assert second_code != first
        page.click("button:has-text('Done')")

        page.reload()  # offline: the shell comes back from the service worker, the queue from IndexedDB
        assert page.locator("main #app").count() == 1
        expect(page.locator("#net-status")).to_contain_text("Offline")
        assert "2 signatures waiting to be sent" in page.locator("#net-status").inner_text()
        page.click(f".tile:has-text('{world.mentor2.full_name}')")
        page.fill("#f-pin", "2580")
        page.click("button.big")
        expect(page.locator("h1")).to_contain_text("your mentees")
        sign_offline(page, world.mentee2.full_name, rating="5", note="Second mentee")
        queued = queue_of(page)
        assert [q["state"] for q in queued] == ["queued"] * 3 and sum(bool(q["photo"]) for q in queued) == 1
        assert all(q["event"]["device_id"] == device_id for q in queued)
        assert stored(clean_db)[0] == []  # nothing has reached the server

        page.goto(url + "/tablet/offline#/queue")
        expect(page.locator("#queue li")).to_have_count(3)
        assert axe_violations(page) == []

        context.set_offline(False)  # the `online` event sends the queue, in order
        wait_until(lambda: all(q["state"] != "queued" for q in queue_of(page)), "the queue to be sent")
        assert queue_of(page) == []
        events, photos, conflicts = stored(clean_db)
        assert [e.idempotency_key for e in events] == [q["event"]["idempotency_key"] for q in queued]
        assert [e.task_code for e in events] == [q["event"]["task_code"] for q in queued]
        assert (events[0].ro_number, events[0].vin, events[0].rating) == ("RO-1182", "1HGCM82633A004352", 4)
        assert events[0].note == "Watched on the lift.\r\nTorque checked twice."  # as a form post sends it
        assert len(photos) == 1 and photos[0].event_id == events[0].id and conflicts == []
        assert all(e.tablet_id == device_id and e.device_time is not None for e in events)

        # Each event sent a second time (an acknowledgement lost on the way) is stored once.
        token = page.evaluate(f"{CORE}.then(async (core) => (await core.kvGet('snapshot')).csrf_token)")

        def send(item, **changes):
            fields = {k: str(v) for k, v in {**item["event"], **changes}.items()} | {"proof": item["proof"]}
            if item["photo"]:
                fields["photo"] = {"name": "lift.jpg", "mimeType": "image/jpeg",
                                   "buffer": base64.b64decode(item["photo"])}
            return page.request.post(url + "/tablet/offline/events", multipart=fields,
                                     headers={"x-csrftoken": token})

        again = [send(q) for q in queued]
        assert [(a.status, a.json()["status"]) for a in again] == [(200, "duplicate")] * 3
        # A forged event (another task, the proof of a different one) is refused by the server.
        forged = send(queued[1], idempotency_key=str(uuid.uuid4()), task_code=queued[0]["event"]["task_code"])
        assert (forged.status, forged.json()["status"]) == (403, "refused")
        assert len(stored(clean_db)[0]) == 3

        with clean_db.session() as db:
            assert signoffs.verify_chains(db) == []
        assert "every chain intact" in audit_verify(monkeypatch, database_url, tmp_path)
    finally:
        close_page(context, page)
