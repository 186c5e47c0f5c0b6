"""Crosswalk: carry a mentee's achieved tasks from one task-list edition to the next."""

from dataclasses import dataclass

from tasklists.documents import TaskListDoc, is_shop_code


@dataclass(frozen=True)
class Crosswalk:
    mapped: dict[str, str]  # old code -> new code
    unmapped: list[str]  # old codes with no counterpart, in list order
    new_only: list[str]  # new codes nothing maps to, in list order
    carried: set[str]  # new codes achieved through the mapping


def crosswalk(old: TaskListDoc, new: TaskListDoc, achieved: set[str],
              renames: dict[str, str] | None = None) -> Crosswalk:
    renames = renames or {}
    new_codes = {row.code for row in new.rows}
    mapped: dict[str, str] = {}
    unmapped: list[str] = []
    for row in old.rows:
        target = _target(row.code, renames, new_codes)
        if target is None:
            unmapped.append(row.code)
        else:
            mapped[row.code] = target
    targets = set(mapped.values())
    return Crosswalk(
        mapped=mapped,
        unmapped=unmapped,
        new_only=[row.code for row in new.rows if row.code not in targets],
        carried={new_code for old_code, new_code in mapped.items() if old_code in achieved},
    )


def _target(code: str, renames: dict[str, str], new_codes: set[str]) -> str | None:
    # A shop's own task is only ever the same task under the same code; renames speak for the standard.
    if is_shop_code(code):
        return code if code in new_codes else None
    target = renames.get(code, code)
    return target if target in new_codes and not is_shop_code(target) else None
