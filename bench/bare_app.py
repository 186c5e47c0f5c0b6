"""The comparison point for bench/signoff.py: a minimal Litestar app with one sync handler.

Served by uvicorn exactly like the real app (one worker, same options), so the ratio
"sign-off requests per second / bare requests per second" measures what the app's own work costs
on this machine, not how fast the machine is.
"""

from litestar import Litestar, get


@get("/bare", sync_to_thread=True)
def bare() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(route_handlers=[bare])
