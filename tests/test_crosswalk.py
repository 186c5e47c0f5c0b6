"""Crosswalk: moving a mentee's achieved tasks from one edition of a task list to the next."""

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from tasklists.catalog import load_all
from tasklists.crosswalk import crosswalk
from tasklists.documents import TaskListDoc, TaskRow, default_rule

AUTOMOBILE = next(doc for doc in load_all() if doc.program == "automobile")


def task(code: str) -> TaskRow:
    area, section = ("V", "B") if code.startswith("S.") else code.split(".")[:2]
    return TaskRow(area, "Brakes", section, "Hydraulic System", code, "Bleed the brake system the right way.",
                   "P-1", ("MLR", "AST", "MAST"))


def edition(year: str, *codes: str) -> TaskListDoc:
    return TaskListDoc("automobile", "Automobile Service", year, ("MLR", "AST", "MAST"), default_rule(year),
                       tuple(task(code) for code in codes))


OLD = edition("2017", "V.B.1", "V.B.2", "V.B.3", "V.B.4", "S.1")
NEW = edition("2024", "V.B.1", "V.B.2", "V.B.5", "V.B.6", "S.1")


def test_identical_lists_map_every_task_and_carry_every_achievement():
    achieved = {row.code for row in AUTOMOBILE.rows[::3]}
    result = crosswalk(AUTOMOBILE, AUTOMOBILE, achieved)
    assert result.mapped == {row.code: row.code for row in AUTOMOBILE.rows}
    assert result.unmapped == [] and result.new_only == []
    assert result.carried == achieved


def test_a_removed_or_renumbered_task_shows_as_unmapped_without_a_rename():
    result = crosswalk(OLD, NEW, set())
    assert result.mapped == {"V.B.1": "V.B.1", "V.B.2": "V.B.2", "S.1": "S.1"}
    assert result.unmapped == ["V.B.3", "V.B.4"]
    assert result.new_only == ["V.B.5", "V.B.6"]


def test_a_rename_maps_a_renumbered_task_and_carries_its_achievement():
    result = crosswalk(OLD, NEW, {"V.B.1", "V.B.3", "V.B.4"}, renames={"V.B.3": "V.B.5"})
    assert result.mapped["V.B.3"] == "V.B.5"
    assert result.unmapped == ["V.B.4"]
    assert result.new_only == ["V.B.6"]
    assert result.carried == {"V.B.1", "V.B.5"}


def test_a_rename_wins_over_a_code_that_was_reused_for_another_task():
    new = edition("2024", "V.B.1", "V.B.2")
    result = crosswalk(edition("2017", "V.B.1", "V.B.2"), new, {"V.B.2"}, renames={"V.B.2": "V.B.1"})
    assert result.mapped == {"V.B.1": "V.B.1", "V.B.2": "V.B.1"}
    assert result.new_only == ["V.B.2"]
    assert result.carried == {"V.B.1"}


def test_a_rename_to_a_task_missing_from_the_new_list_leaves_it_unmapped():
    result = crosswalk(OLD, NEW, {"V.B.3"}, renames={"V.B.3": "V.B.9"})
    assert "V.B.3" in result.unmapped and result.carried == set()


def test_shop_tasks_map_only_by_their_own_code():
    old = edition("2017", "V.B.1", "S.1", "S.2")
    new = edition("2024", "V.B.1", "S.1", "S.3")
    result = crosswalk(old, new, {"S.1", "S.2"}, renames={"S.2": "S.3", "V.B.1": "S.1"})
    assert result.mapped == {"S.1": "S.1"}
    assert result.unmapped == ["V.B.1", "S.2"]
    assert result.carried == {"S.1"}


def test_achievements_on_tasks_that_do_not_carry_over_are_dropped():
    result = crosswalk(OLD, NEW, {"V.B.4", "I.A.1"})
    assert result.carried == set()


codes = st.lists(st.sampled_from([f"V.B.{n}" for n in range(1, 9)] + ["S.1", "S.2"]), unique=True)


@given(codes, codes, st.data())
def test_every_old_task_is_either_mapped_or_unmapped_and_carried_tasks_are_new_ones(old_codes, new_codes, data):
    old, new = edition("2017", *old_codes), edition("2024", *new_codes)
    achieved = data.draw(st.sets(st.sampled_from(old_codes))) if old_codes else set()
    renames = data.draw(st.dictionaries(st.sampled_from([f"V.B.{n}" for n in range(1, 9)]),
                                        st.sampled_from([f"V.B.{n}" for n in range(1, 9)] + ["S.1"])))
    result = crosswalk(old, new, achieved, renames)
    assert set(result.mapped) | set(result.unmapped) == set(old_codes)
    assert not set(result.mapped) & set(result.unmapped)
    assert set(result.mapped.values()) <= set(new_codes)
    assert set(result.new_only) == set(new_codes) - set(result.mapped.values())
    assert result.carried <= set(new_codes) and len(result.carried) <= len(achieved)


def test_a_task_keeps_its_code_when_only_its_wording_changes():
    reworded = replace(NEW, rows=tuple(replace(row, statement="Bleed the brakes in the order the maker gives.")
                                       for row in NEW.rows))
    assert crosswalk(NEW, reworded, {"V.B.5"}).carried == {"V.B.5"}
