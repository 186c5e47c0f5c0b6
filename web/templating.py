"""Jinja filters shared by the templates."""

from datetime import datetime
from zoneinfo import ZoneInfo

from litestar.plugins.jinja import JinjaTemplateEngine

from mentoring.progress.signoffs import practice_days
from mentoring.words import plural
from web import charts


def choices(objects, label: str = "full_name") -> list[tuple[int, str]]:
    """Objects as (id, label) pairs for a <select>."""
    return [(o.id, getattr(o, label)) for o in objects]


def local(moment: datetime | None, tz: str = "UTC") -> str:
    """Stored UTC, shown in the shop's time zone."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def hours(minutes: int | None) -> str:
    return f"{(minutes or 0) / 60:.1f}".rstrip("0").rstrip(".") + " h"


def configure(engine: JinjaTemplateEngine) -> None:
    from web.render import notice

    engine.engine.filters.update(choices=choices, local=local, hours=hours, plural=plural,
                                 practice_days=practice_days, area_bars=charts.area_bars, heat=charts.heat)
    engine.engine.globals["notice"] = notice
