"""What the server-drawn SVG charts need beyond the figures (templates/manage/_charts.html): colour classes
and bar geometry. mentoring/ gives plain numbers (tasks signed and percent per area); this draws them."""

from typing import NamedTuple

HEAT = (90, 75, 50, 25, 1, 0)  # colour classes h90 … h0 in app.css: darker green as more is signed


def heat(percent: int) -> int:
    """The colour class of a share signed: the highest floor of HEAT it reaches."""
    return next(floor for floor in HEAT if percent >= floor)


class Bars(NamedTuple):
    label: str  # the figures, for screen readers
    paths: list[tuple[int, str]]  # (colour class, SVG path)


def area_bars(areas) -> Bars:
    """One 7-pixel bar per area (AreaProgress), 9 pixels apart, as tall as its share signed (24 pixels: all).

    Bars of one colour class are drawn as one path: the dashboard draws this on each of a hundred rows."""
    paths: dict[int, str] = {}
    for i, a in enumerate(areas):
        bar = a.percent * 24 // 100
        if bar:
            cls = heat(a.percent)
            paths[cls] = paths.get(cls, "") + f"M{i * 9 + 1} {25 - bar}h7v{bar}h-7z"
    return Bars(", ".join(f"{a.code}: {a.done} of {a.total}" for a in areas), list(paths.items()))
