"""The Litestar application factory."""

import asyncio
import gc
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from litestar import Litestar, MediaType, Response, Router, get, route
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import HttpMethod
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import File
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from mentoring.progress import evidence
from web import apidoc, errors, inputs, security, templating
from web.db import Database
from web.deps import csrf_cookie_name, is_https, provide_actor, provide_db
from web.pages import (
    admin,
    api,
    api_v1,
    apprenticeship,
    auth,
    case,
    homes,
    hours,
    manage,
    offline_sync,
    prior,
    progress,
    pwa,
    records,
    sponsor,
    tablet,
    tasklists,
)
from web.render import FORM_BODY_BYTES
from web.settings import Settings

HERE = Path(__file__).parent


WORKER_THREADS = 32  # sync handlers wait on the database; the default pool is only cpu count + 4


def _worker_threads() -> None:
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="mentoring"))


def _freeze_startup_objects() -> None:
    # Everything loaded so far (modules, templates, the ORM's mappings) lives as long as the process. Leaving
    # it out of the garbage collector's full passes keeps those pauses, and with them the slowest
    # requests, short.
    gc.collect()
    gc.freeze()


@get("/favicon.ico", include_in_schema=False)
async def favicon() -> File:
    """Browsers ask for /favicon.ico whatever the page links; answer it instead of a 404 on every page."""
    return File(HERE / "static" / "favicon.ico", media_type="image/x-icon", content_disposition_type="inline",
                headers={"Cache-Control": "public, max-age=86400"})


def _documented(handler) -> bool:
    """The OpenAPI schema describes the JSON API and the public key documents, not the HTML pages."""
    return any(p.startswith(("/api/", "/.well-known/", "/healthz")) or p.endswith(".json") for p in handler.paths)


def _options_handlers(handlers: list) -> list:
    """An OPTIONS handler for each path that several handlers share.

    Litestar 2 makes one when a path's first handler is registered and never updates it, so its Allow header
    names only that handler's methods (litestar issue #4169, fixed in 3.0). Registered first, these take the
    place of Litestar's own; each names every method of its path."""
    methods: dict[str, set[str]] = defaultdict(set)
    for handler in handlers:
        for path in handler.paths:
            methods[path] |= set(handler.http_methods)
    made = []
    for path, allowed in methods.items():
        if len(allowed) > 1 and "OPTIONS" not in allowed:
            made.append(route(path, http_method=[HttpMethod.OPTIONS], include_in_schema=False,
                              sync_to_thread=False, name=f"options:{path}")(_allow(allowed | {"OPTIONS"})))
    return made


def _allow(methods: set[str]):
    def answer() -> Response:
        return Response(content=None, status_code=204, headers={"Allow": allow}, media_type=MediaType.TEXT)

    allow = ", ".join(sorted(methods))
    return answer


def create_app(settings: Settings | None = None, database: Database | None = None) -> Litestar:
    settings = settings or Settings()
    database = database or Database(settings.db_url)
    logging.basicConfig(level=logging.INFO)
    handlers = [*auth.HANDLERS, *homes.HANDLERS, *admin.HANDLERS, *api.HANDLERS, *tasklists.HANDLERS,
                *progress.HANDLERS, *tablet.HANDLERS, *api_v1.HANDLERS, *manage.HANDLERS, *records.HANDLERS,
                *case.HANDLERS, *pwa.HANDLERS, *offline_sync.HANDLERS,
                *apprenticeship.HANDLERS, *hours.HANDLERS, *sponsor.HANDLERS, *prior.HANDLERS]
    handlers = [*_options_handlers(handlers), *handlers]
    return Litestar(
        route_handlers=[
            # One router per kind, so that Litestar registers each handler once: registering handlers that
            # share a path one by one wraps sync_to_thread handlers twice (seen in Litestar 2.25).
            Router("/", route_handlers=[h for h in handlers if _documented(h)]),
            Router("/", route_handlers=[h for h in handlers if not _documented(h)], include_in_schema=False),
            create_static_files_router(path="/static", directories=[HERE / "static"], include_in_schema=False),
            favicon,
        ],
        dependencies={
            "db": Provide(provide_db),
            "actor": Provide(provide_actor, sync_to_thread=True),
        },
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine,
                                       engine_callback=templating.configure),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name=csrf_cookie_name(settings),
            cookie_httponly=True,
            cookie_secure=is_https(settings),
            cookie_samesite="lax",
        ),
        before_send=[security.headers_hook(is_https(settings))],
        before_request=inputs.refuse_nul_bytes,
        # Task-list pages repeat the same markup per task; gzip shrinks them about tenfold.
        # Level 3: a 190 KiB task list compresses in 1.1 ms to 25 KiB; level 5 takes twice as long for 23 KiB.
        compression_config=CompressionConfig(backend="gzip", minimum_size=2048, gzip_compress_level=3),
        # Only the schema itself: the viewer pages load scripts from CDNs, which the CSP (rightly) refuses.
        openapi_config=OpenAPIConfig(title="Workplace Mentoring", version="0.1.0", path="/api/schema",
                                     render_plugins=[JsonRenderPlugin()],
                                     components=Components(security_schemes=apidoc.SECURITY_SCHEMES)),
        plugins=[apidoc.TaggedUnions()],
        exception_handlers=dict(errors.HANDLERS),
        state=State({"settings": settings, "database": database,
                     "photo_gate": evidence.DecodeGate(settings.photo_decodes, settings.photo_decode_wait_seconds)}),
        # Forms and JSON are read whole before any handler runs, even for callers who may do nothing here; the
        # routes that take files (sign-off photos, task-list imports, /verify) allow more (UPLOAD_BODY_BYTES).
        request_max_body_size=FORM_BODY_BYTES,
        on_startup=[_worker_threads, _freeze_startup_objects],
        on_shutdown=[records.wait_for_exports, database.dispose],
    )
