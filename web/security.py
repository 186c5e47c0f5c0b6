"""Security headers on every response: pages, API answers, static files and error pages alike.

They are added in a `before_send` hook rather than in middleware because Litestar runs route
middleware only for matched routes; the hook also sees the 404 and 405 answers of the router.
"""

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

# No inline script anywhere (templates use HTMX attributes and files under /static); HTMX's own
# indicator <style> is switched off in base.html, so styles need no 'unsafe-inline' either.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
])

COMMON = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",  # for browsers that predate frame-ancestors
    "cross-origin-opener-policy": "same-origin",
}


def headers_hook(https: bool):
    """The before_send hook; `https` adds HSTS, which only means something over HTTPS."""
    extra = {"strict-transport-security": "max-age=31536000"} if https else {}

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        for name, value in (COMMON | extra).items():
            headers[name] = value
        # Pages and API answers carry personal data: no copy may stay in a browser or proxy cache.
        # Static assets are the same for everyone and keep whatever caching the static router set.
        if not scope.get("path", "").startswith("/static/") and "cache-control" not in headers:
            headers["cache-control"] = "no-store"

    return add_headers
