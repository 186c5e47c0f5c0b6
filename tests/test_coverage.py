"""Coverage arithmetic: per area and priority, against the edition's P-1/P-2/P-3 rule."""

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from tasklists.coverage import coverage
from tasklists.documents import PRIORITIES, TaskRow, default_rule, is_shop_code

RULE_2024 = {"P-1": 90, "P-2": 75, "P-3": 50}
TITLES = {"0": "Required Supplemental Tasks", "I": "Engine Repair", "II": "Automatic Transmission", "V": "Brakes"}


def task(code: str, priority: str = "P-1", area: str | None = None, not_applicable: bool = False) -> TaskRow:
    area = area or code.split(".")[0]
    reason = "The shop does not do this work." if not_applicable else ""
    return TaskRow(area, TITLES[area], "A", "General", code, "Do the job the way the service manual says.",
                   priority, ("MLR",), not_applicable, reason)


# Area I: P-1 3 of 4 (I.A.5 does not apply), P-2 2 of 2, P-3 1 of 2, and one shop task, achieved.
# Area V: P-1 9 of 10, P-2 3 of 4, no P-3, and two shop tasks: one open, one that does not apply.
ROWS = [
    task("I.A.1"), task("I.A.2"), task("I.A.3"), task("I.A.4"), task("I.A.5", not_applicable=True),
    task("I.B.1", "P-2"), task("I.B.2", "P-2"), task("I.B.3", "P-3"), task("I.B.4", "P-3"),
    task("S.1", area="I"),
    *[task(f"V.A.{n}") for n in range(1, 11)],
    *[task(f"V.B.{n}", "P-2") for n in range(1, 5)],
    task("S.V.1", area="V"), task("S.V.2", area="V", not_applicable=True),
]
ACHIEVED = {
    "I.A.1", "I.A.2", "I.A.3", "I.A.5", "I.B.1", "I.B.2", "I.B.3", "S.1",
    *[f"V.A.{n}" for n in range(1, 10)], "V.B.1", "V.B.2", "V.B.3",
    "VIII.A.1",  # not on this list: ignored
}


def figures(area) -> dict[str, tuple]:
    return {p: (c.total, c.achieved, c.percent, c.required, c.passes) for p, c in area.priorities.items()}


def test_it_matches_hand_calculated_figures():
    report = coverage(ROWS, ACHIEVED, RULE_2024)
    engine, brakes = report.areas
    assert (engine.area_code, engine.area_title) == ("I", "Engine Repair")
    assert figures(engine) == {
        "P-1": (4, 3, 75.0, 90, False),
        "P-2": (2, 2, 100.0, 75, True),
        "P-3": (2, 1, 50.0, 50, True),
    }
    assert (engine.shop_total, engine.shop_achieved, engine.passes) == (1, 1, False)
    assert figures(brakes) == {
        "P-1": (10, 9, 90.0, 90, True),
        "P-2": (4, 3, 75.0, 75, True),
        "P-3": (0, 0, None, 50, True),
    }
    assert (brakes.shop_total, brakes.shop_achieved, brakes.passes) == (1, 0, True)
    # Overall: P-1 12 of 14 = 85.71 %, P-2 5 of 6 = 83.33 %, P-3 1 of 2.
    assert figures(report.overall) == {
        "P-1": (14, 12, 85.7, 90, False),
        "P-2": (6, 5, 83.3, 75, True),
        "P-3": (2, 1, 50.0, 50, True),
    }
    assert (report.overall.shop_total, report.overall.shop_achieved) == (2, 1)
    assert report.passes is False


def test_the_older_rule_asks_for_more():
    report = coverage(ROWS, ACHIEVED, default_rule("2017"))
    assert figures(report.areas[1])["P-1"] == (10, 9, 90.0, 95, False)
    assert figures(report.areas[1])["P-2"] == (4, 3, 75.0, 80, False)


def test_a_list_passes_when_every_area_passes():
    achieved = ACHIEVED | {"I.A.4", "I.B.4"}
    report = coverage(ROWS, achieved, RULE_2024)
    assert [area.passes for area in report.areas] == [True, True]
    assert report.passes is True


def test_a_share_just_under_the_rule_fails_and_never_shows_as_reaching_it():
    rows = [task(f"I.A.{n}") for n in range(1, 2001)]
    short = coverage(rows, {f"I.A.{n}" for n in range(1, 1800)}, RULE_2024).areas[0].priorities["P-1"]
    enough = coverage(rows, {f"I.A.{n}" for n in range(1, 1801)}, RULE_2024).areas[0].priorities["P-1"]
    assert (short.achieved, short.percent, short.passes) == (1799, 89.9, False)
    assert (enough.achieved, enough.percent, enough.passes) == (1800, 90.0, True)


def test_percent_keeps_one_decimal():
    rows = [task("I.A.1"), task("I.A.2"), task("I.A.3")]
    assert coverage(rows, {"I.A.1"}, RULE_2024).areas[0].priorities["P-1"].percent == 33.3


# --- properties ---------------------------------------------------------------------------


@st.composite
def task_rows(draw, max_size: int = 30) -> list[TaskRow]:
    rows = []
    for n in range(1, draw(st.integers(0, max_size)) + 1):
        area = draw(st.sampled_from(sorted(TITLES)))
        shop = draw(st.integers(0, 4)) == 0
        code = f"S.{n}" if shop else f"{area}.A.{n}"
        rows.append(task(code, draw(st.sampled_from(PRIORITIES)), area, draw(st.booleans())))
    return rows


@st.composite
def rows_and_achieved(draw):
    rows = draw(task_rows())
    achieved = draw(st.sets(st.sampled_from([r.code for r in rows]))) if rows else set()
    return rows, achieved


rules = st.fixed_dictionaries({p: st.integers(0, 100) for p in PRIORITIES})


def counted(rows: list[TaskRow], area: str | None, priority: str) -> list[TaskRow]:
    return [r for r in rows if (area is None or r.area_code == area) and r.priority == priority
            and not r.not_applicable and not is_shop_code(r.code)]


@given(rows_and_achieved(), rules)
def test_totals_count_only_applicable_standard_tasks(case, rule):
    rows, achieved = case
    report = coverage(rows, achieved, rule)
    assert [a.area_code for a in report.areas] == list(dict.fromkeys(r.area_code for r in rows))
    for area in [*report.areas, report.overall]:
        code = area.area_code or None
        for p, item in area.priorities.items():
            expected = counted(rows, code, p)
            assert item.total == len(expected)
            assert item.achieved == len([r for r in expected if r.code in achieved]) <= item.total


@given(rows_and_achieved(), rules)
def test_percent_stays_between_0_and_100_and_agrees_with_passes(case, rule):
    report = coverage(*case, rule)
    for area in [*report.areas, report.overall]:
        for p, item in area.priorities.items():
            assert item.required == rule[p]
            if item.total == 0:
                assert item.percent is None and item.passes
            else:
                assert 0.0 <= item.percent <= 100.0
                assert item.passes == (item.percent >= item.required)
        assert area.passes == all(item.passes for item in area.priorities.values())
    assert report.passes == all(area.passes for area in report.areas)


@given(rows_and_achieved(), rules)
def test_shop_tasks_are_reported_apart_and_never_change_the_standard_figures(case, rule):
    rows, achieved = case
    standard = [r for r in rows if not is_shop_code(r.code)]
    with_shop, without = coverage(rows, achieved, rule), coverage(standard, achieved, rule)
    assert with_shop.overall.priorities == without.overall.priorities
    shop = [r for r in rows if is_shop_code(r.code) and not r.not_applicable]
    assert with_shop.overall.shop_total == len(shop)
    assert with_shop.overall.shop_achieved == len([r for r in shop if r.code in achieved])


@given(task_rows(), rules)
def test_a_list_where_nothing_applies_passes_with_no_figures(rows, rule):
    rows = [replace(r, not_applicable=True, na_reason="Not done here.") for r in rows]
    report = coverage(rows, {r.code for r in rows}, rule)
    assert report.passes
    for area in [*report.areas, report.overall]:
        assert area.shop_total == 0
        assert all(item.total == 0 and item.percent is None for item in area.priorities.values())


@given(rules)
def test_an_empty_list_has_no_areas_and_passes(rule):
    report = coverage([], {"I.A.1"}, rule)
    assert report.areas == [] and report.passes
    assert all(item.total == 0 for item in report.overall.priorities.values())


@given(rows_and_achieved(), rules, st.sets(st.from_regex(r"X\.[A-Z]\.[1-9]", fullmatch=True), max_size=5))
def test_achieved_codes_not_on_the_list_are_ignored(case, rule, strangers):
    rows, achieved = case
    assert coverage(rows, achieved | strangers, rule) == coverage(rows, achieved, rule)


@given(rows_and_achieved(), rules, st.data())
def test_achieving_one_more_task_never_makes_an_area_stop_passing(case, rule, data):
    rows, achieved = case
    if not rows:
        return
    extra = data.draw(st.sampled_from([r.code for r in rows]))
    before = coverage(rows, achieved, rule)
    after = coverage(rows, achieved | {extra}, rule)
    for old, new in zip(before.areas, after.areas, strict=True):
        assert new.passes or not old.passes
        for p in PRIORITIES:
            assert new.priorities[p].achieved >= old.priorities[p].achieved
    assert after.passes or not before.passes
