"""Coverage: per area and priority, the share of standard tasks achieved, held against the edition's rule."""

from collections.abc import Iterable
from dataclasses import dataclass

from tasklists.documents import PRIORITIES, TaskRow, is_shop_code


@dataclass(frozen=True)
class PriorityCoverage:
    priority: str
    total: int
    achieved: int
    required: int
    percent: float | None
    passes: bool


@dataclass(frozen=True)
class AreaCoverage:
    area_code: str
    area_title: str
    priorities: dict[str, PriorityCoverage]  # keyed P-1, P-2, P-3, in that order
    shop_total: int
    shop_achieved: int
    passes: bool


@dataclass(frozen=True)
class CoverageReport:
    areas: list[AreaCoverage]
    overall: AreaCoverage
    passes: bool


def coverage(rows: Iterable[TaskRow], achieved: set[str], rule: dict[str, int]) -> CoverageReport:
    tallies: dict[str, dict] = {}  # area code -> counts, in first-appearance order
    titles: dict[str, str] = {}
    for row in rows:
        tally = tallies.setdefault(row.area_code, _empty_tally())
        titles.setdefault(row.area_code, row.area_title)
        if row.not_applicable:
            continue
        # Shop tasks are the shop's own additions, not part of the standard the rule measures.
        key = "shop" if is_shop_code(row.code) else row.priority
        if key not in tally:  # a priority outside P-1..P-3 cannot be held against the rule
            continue
        tally[key][0] += 1
        tally[key][1] += row.code in achieved
    areas = [_area(code, titles[code], tally, rule) for code, tally in tallies.items()]
    overall_tally = _empty_tally()
    for tally in tallies.values():
        for key, (total, done) in tally.items():
            overall_tally[key][0] += total
            overall_tally[key][1] += done
    overall = _area("", "All areas", overall_tally, rule)
    return CoverageReport(areas=areas, overall=overall, passes=all(area.passes for area in areas))


def _empty_tally() -> dict[str, list[int]]:
    return {key: [0, 0] for key in (*PRIORITIES, "shop")}


def _area(code: str, title: str, tally: dict[str, list[int]], rule: dict[str, int]) -> AreaCoverage:
    priorities = {p: _priority(p, *tally[p], rule[p]) for p in PRIORITIES}
    return AreaCoverage(
        area_code=code, area_title=title, priorities=priorities,
        shop_total=tally["shop"][0], shop_achieved=tally["shop"][1],
        passes=all(item.passes for item in priorities.values()),
    )


def _priority(priority: str, total: int, achieved: int, required: int) -> PriorityCoverage:
    # Integers decide the pass, so 89.99 % never passes a 90 % rule. The shown percent is rounded
    # down for the same reason: a figure that reads 90.0 always passes 90.
    return PriorityCoverage(
        priority=priority, total=total, achieved=achieved, required=required,
        percent=(achieved * 1000 // total) / 10 if total else None,
        passes=achieved * 100 >= required * total,
    )
