"""Every error becomes a page for people and a JSON body for programs; never a bare 500 trace."""

import logging
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.response import Redirect, Template
from sqlalchemy.exc import DataError

from mentoring.errors import Forbidden, FormError, NotFound

log = logging.getLogger("mentoring")

TITLES = {
    400: "That request could not be understood",
    401: "Please sign in",
    403: "You cannot do that here",
    404: "Not found",
    405: "Not allowed",
    409: "Already done",
    413: "Too large",
    429: "Too many attempts",
    500: "Something went wrong on our side",
    503: "Temporarily unavailable",
}


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path.endswith(".json") or (
        "application/json" in request.headers.get("accept", "")
        and "text/html" not in request.headers.get("accept", ""))


def _answer(request: Request, status: int, detail: str, extra: dict | None = None) -> Response:
    if wants_json(request):
        body = {"status_code": status, "detail": detail, **(extra or {})}
        return Response(body, status_code=status, media_type=MediaType.JSON)
    return Template(template_name="error.html", status_code=status,
                    context={"status": status, "title": TITLES.get(status, "Error"), "detail": detail})


def on_http_exception(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, NotAuthorizedException) and not wants_json(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/login?next={quote(target, safe='')}", status_code=303)
    extra = {"errors": exc.extra} if exc.extra and isinstance(exc.extra, (list, dict)) else None
    detail = exc.detail if exc.status_code < 500 else TITLES[500]
    response = _answer(request, exc.status_code, detail, extra)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


def on_not_found(request: Request, _exc: NotFound) -> Response:
    return _answer(request, 404, "There is nothing here, or it is not yours to see.")


def on_forbidden(request: Request, exc: Forbidden) -> Response:
    return _answer(request, 403, str(exc) or "Your role does not allow this.")


def on_form_error(request: Request, exc: FormError) -> Response:
    # Reached only by the API: pages catch FormError and re-render their form.
    return _answer(request, 422, str(exc), {"errors": exc.errors})


def on_overflow(request: Request, _exc: OverflowError) -> Response:
    # SQLite cannot bind an integer beyond 64 bits: an id that large names no object.
    return on_not_found(request, NotFound())


def on_data_error(request: Request, exc: DataError) -> Response:
    """Input the database refuses to store or compare: on PostgreSQL an id beyond its integer range (which
    names no object) or text with a NUL byte. SQLite accepts both, so the answer must not depend on the driver."""
    if "out of range" in str(exc.orig):
        return on_not_found(request, NotFound())
    return _answer(request, 400, "The input contains characters that cannot be stored (such as a NUL byte).")


def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _answer(request, 500, "The error has been logged. Please try again.")


HANDLERS = {
    HTTPException: on_http_exception,
    NotFound: on_not_found,
    Forbidden: on_forbidden,
    FormError: on_form_error,
    OverflowError: on_overflow,
    DataError: on_data_error,
    Exception: on_unexpected,
}
