"""Issue 15 in a real Chromium: the installable tablet app (manifest, service worker, offline shell) and signing
with the network switched off in Playwright (context.set_offline), synced when it comes back."""

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from mentoring.access import tablets
from mentoring.access.policy import Actor
from web.deps import TABLET_COOKIE

from .browser import close_page, open_page

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
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=10000)


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

        # Offline, the start page still opens: the service worker answers with the shell.
        context.set_offline(True)
        page.reload()
        assert page.locator("main #app").count() == 1  # the shell, not the server's page
        assert page.locator("h1").inner_text() in {"Who is signing?", "No copy on this tablet yet"}
        assert page.locator("#net-status").inner_text().startswith("○ Offline")

        # The tablet's script makes the same canonical JSON, PBKDF2 key and HMAC proof as the server's vectors.
        if not VECTORS.exists():
            return
        vectors = json.loads(VECTORS.read_text())
        results = page.evaluate("""async (vectors) => {
          const core = await import('/static/offline-core.js');
          const out = [];
          for (const v of vectors) {
            const k = await core.deriveK(v.pin, v.salt, v.iterations);
            const key = await crypto.subtle.importKey("raw", k, {name: "HMAC", hash: "SHA-256"}, false, ["sign"]);
            const canonical = core.canonicalEvent(v.event);
            out.push({key: core.hex(k), check: await core.sha256Hex(k), canonical,
                      proof: await core.hmacHex(key, canonical)});
          }
          return out;
        }""", vectors["vectors"])
        for vector, got in zip(vectors["vectors"], results, strict=True):
            assert got["key"] == vector["key"] and got["check"] == vector["check"]
            assert got["canonical"] == vector["canonical"] and got["proof"] == vector["proof"]
    finally:
        close_page(context, page)
