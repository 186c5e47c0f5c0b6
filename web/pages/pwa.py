"""The installable tablet app: its manifest, its service worker and the offline shell.

None of these carries data: the shell is an empty page that web/static/offline-app.js fills from the copy the
tablet keeps (GET /tablet/offline/snapshot), so they answer everyone, like the static files they stand beside.
"""

from pathlib import Path

from litestar import Response, get

from web.render import page

STATIC = Path(__file__).parent.parent / "static"

MANIFEST = {
    "name": "Workplace Mentoring",
    "short_name": "Mentoring",
    "description": "Sign-offs on the shop tablet, also where the Wi-Fi does not reach.",
    "id": "/tablet",
    "start_url": "/tablet",
    "scope": "/",
    "display": "fullscreen",
    "display_override": ["fullscreen", "standalone"],
    "orientation": "any",
    "background_color": "#f5f7fa",
    "theme_color": "#12263f",
    "icons": [
        {"src": "/static/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
        {"src": "/static/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
        {"src": "/static/icons/maskable-192.png", "sizes": "192x192", "type": "image/png", "purpose": "maskable"},
        {"src": "/static/icons/maskable-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
    ],
}


@get("/manifest.webmanifest", sync_to_thread=False)
def manifest() -> Response:
    return Response(MANIFEST, media_type="application/manifest+json", headers={"Cache-Control": "no-cache"})


SERVICE_WORKER = (STATIC / "sw.js").read_bytes()  # read once: this handler runs on the event loop


@get("/sw.js", sync_to_thread=False)
def service_worker() -> Response:
    """Served from the root, not /static/, so that its scope can be the whole site (the shop screen is /tablet).

    no-cache: the browser checks for a new worker on every visit instead of keeping an old one for a day."""
    return Response(SERVICE_WORKER, media_type="text/javascript",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})


@get("/tablet/offline", sync_to_thread=False)
def offline_shell() -> Response:
    return page("tablet/offline.html")


HANDLERS = [manifest, service_worker, offline_shell]
