"""In-memory task lists: the values every import, export and coverage calculation shares."""

import re
from dataclasses import dataclass

PRIORITIES = ("P-1", "P-2", "P-3")

# Levels are listed smallest first; where a program nests them, each level contains the one before.
PROGRAMS: dict[str, tuple[str, ...]] = {
    "automobile": ("MLR", "AST", "MAST"),
    "medium-heavy-truck": ("TMLR", "TST", "MTST"),
    "collision-repair-refinish": ("CRR",),
    "collision-estimating": ("CDE",),
}

TEMPLATE_CODE = re.compile(r"[0-9A-Z]+\.[A-Z]+\.[1-9][0-9]*")
SHOP_CODE = re.compile(r"S\.[A-Za-z0-9.-]+")

# The 2024 automobile standards lowered the bar from 95/80/50; later editions keep the new rule.
NEW_RULE_FROM = 2024


@dataclass(frozen=True)
class TaskRow:
    area_code: str
    area_title: str
    section_code: str
    section_title: str
    code: str
    statement: str
    priority: str
    levels: tuple[str, ...]
    not_applicable: bool = False
    na_reason: str = ""
    phase: str = ""
    required_rating: int | None = None


@dataclass(frozen=True)
class TaskListDoc:
    program: str
    title: str
    edition: str
    levels: tuple[str, ...]
    coverage_rule: dict[str, int]
    rows: tuple[TaskRow, ...]


def default_rule(edition: str) -> dict[str, int]:
    year = re.match(r"[0-9]{4}", str(edition))
    if year and int(year.group()) >= NEW_RULE_FROM:
        return {"P-1": 90, "P-2": 75, "P-3": 50}
    return {"P-1": 95, "P-2": 80, "P-3": 50}


def is_shop_code(code: str) -> bool:
    return SHOP_CODE.fullmatch(code) is not None


def is_template_code(code: str) -> bool:
    return TEMPLATE_CODE.fullmatch(code) is not None
