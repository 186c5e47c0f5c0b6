"""What the server-drawn SVG charts need beyond the figures (templates/manage/_charts.html): colour classes
and bar geometry. mentoring/ gives plain numbers (tasks signed and percent per area); this draws them."""

from typing import NamedTuple

from mentoring import lru

HEAT = (90, 75, 50, 25, 1, 0)  # colour classes h90 … h0 in app.css: darker green as more is signed
_HEAT_OF = tuple(next(floor for floor in HEAT if percent >= floor) for percent in range(101))


def heat(percent: int) -> int:
    """The colour class of a share signed (0 to 100): the highest floor of HEAT it reaches."""
    return _HEAT_OF[percent]


class Bars(NamedTuple):
    label: str  # the figures, for screen readers
    paths: list[tuple[int, str]]  # (colour class, SVG path)


# The dashboard draws a hundred rows on every request from progress it keeps cached, and shares each row's list
# of areas between requests: the bars are worked out once per list (held here with it, so the id stays its own).
_DRAWN = lru.LRU(20_000)


def area_bars(areas) -> Bars:
    """One 7-pixel bar per area (AreaProgress), 9 pixels apart, as tall as its share signed (24 pixels: all);
    bars of one colour class are drawn as one path."""
    found = _DRAWN.get(id(areas))
    if found is not None and found[0] is areas:
        return found[1]
    paths: dict[int, str] = {}
    for i, a in enumerate(areas):
        bar = a.percent * 24 // 100
        if bar:
            cls = _HEAT_OF[a.percent]
            paths[cls] = paths.get(cls, "") + f"M{i * 9 + 1} {25 - bar}h7v{bar}h-7z"
    bars = Bars(", ".join(f"{a.code}: {a.done} of {a.total}" for a in areas), list(paths.items()))
    _DRAWN.put(id(areas), (areas, bars))
    return bars
