"""Jinja filters shared by the templates."""

from litestar.plugins.jinja import JinjaTemplateEngine


def choices(objects, label: str = "full_name") -> list[tuple[int, str]]:
    """Objects as (id, label) pairs for a <select>."""
    return [(o.id, getattr(o, label)) for o in objects]


def configure(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters["choices"] = choices
