"""Text that no database column can hold is refused before any handler runs, alike on SQLite and PostgreSQL.

PostgreSQL refuses a NUL byte in text (web/errors.py `on_data_error` is the backstop); SQLite stores it, so
without this check the same request would be refused on one database and stored on the other. One check
for both: the path, the query string, form fields and JSON bodies. Uploaded files may hold any bytes.
"""

import json

from litestar import Request
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException

from mentoring.errors import FormError

NUL = "\x00"


async def refuse_nul_bytes(request: Request) -> None:
    """The before_request hook: 400 for pages, 422 naming the field for the JSON API."""
    field = await _field_with_nul(request)
    if field is None:
        return
    if request.url.path.startswith("/api/"):
        raise FormError({field: "Contains a NUL byte, which cannot be stored; remove it."})
    raise ClientException(f"The input contains a character that cannot be stored (a NUL byte, in {field}); "
                          "remove it and try again.")


async def _field_with_nul(request: Request) -> str | None:
    if NUL in request.scope["path"]:
        return "path"
    for key, value in request.query_params.multi_items():
        if NUL in key or NUL in value:
            return key.replace(NUL, "") or "query"
    content_type = request.content_type[0]
    if content_type in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART):
        form = await request.form()
        for key, value in form.multi_items():
            if NUL in key or (not isinstance(value, UploadFile) and NUL in str(value)):
                return key.replace(NUL, "") or "form"
    elif content_type == "application/json":
        try:
            return _in_json(json.loads(await request.body()), "")
        except (ValueError, RecursionError):
            return None  # not JSON, or absurdly deep: the handler refuses it in its own words
    return None


def _in_json(node: object, path: str) -> str | None:
    if isinstance(node, str):
        return (path or "body") if NUL in node else None
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        name = f"{path}.{key}" if path else str(key)
        if NUL in str(key):
            return name.replace(NUL, "")
        found = _in_json(value, name)
        if found:
            return found
    return None
