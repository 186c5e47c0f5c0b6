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
    return Tally(rows).report(achieved, rule)


class Tally:
    """A list's tasks counted once per area and priority, so that many mentees on the same list are each
    reported by looking at their achieved codes only (the manager's dashboard does this for a whole shop)."""

    def __init__(self, rows: Iterable[TaskRow]):
        self.totals: dict[str, dict[str, int]] = {}  # area code -> key -> tasks, in first-appearance order
        self.titles: dict[str, str] = {}
        self.key_of: dict[str, tuple[str, str]] = {}  # task code -> (area, key) of counted tasks
        for row in rows:
            totals = self.totals.setdefault(row.area_code, dict.fromkeys((*PRIORITIES, "shop"), 0))
            self.titles.setdefault(row.area_code, row.area_title)
            if row.not_applicable:
                continue
            # Shop tasks are the shop's own additions, not part of the standard the rule measures.
            key = "shop" if is_shop_code(row.code) else row.priority
            if key not in totals:  # a priority outside P-1..P-3 cannot be held against the rule
                continue
            totals[key] += 1
            self.key_of[row.code] = (row.area_code, key)

    def report(self, achieved: set[str], rule: dict[str, int]) -> CoverageReport:
        done = {area: dict.fromkeys(keys, 0) for area, keys in self.totals.items()}
        for code in achieved:
            if (found := self.key_of.get(code)) is not None:
                done[found[0]][found[1]] += 1
        tallies = {area: {key: [total, done[area][key]] for key, total in keys.items()}
                   for area, keys in self.totals.items()}
        areas = [_area(code, self.titles[code], tally, rule) for code, tally in tallies.items()]
        overall_tally = _empty_tally()
        for tally in tallies.values():
            for key, (total, count) in tally.items():
                overall_tally[key][0] += total
                overall_tally[key][1] += count
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
