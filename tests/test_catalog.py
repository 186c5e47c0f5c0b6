"""The catalog of task-list templates shipped with the app."""

import re

import pytest

from tasklists.catalog import CatalogError, catalog_files, load_all, load_catalog
from tasklists.documents import PRIORITIES, PROGRAMS, default_rule, is_template_code

CATALOG = load_all()
BY_PROGRAM = {doc.program: doc for doc in CATALOG}


@pytest.mark.parametrize("path", catalog_files(), ids=lambda p: p.name)
def test_every_catalog_file_loads(path):
    doc = load_catalog(path)
    assert path.name == f"{doc.program}-{doc.edition}.yaml"
    assert doc.rows


def test_catalog_files_are_the_yaml_files_in_order():
    names = [path.name for path in catalog_files()]
    assert names == sorted(names) and len(names) >= 4
    assert all(name.endswith(".yaml") for name in names)


def test_each_of_the_four_programs_is_present():
    assert set(BY_PROGRAM) == set(PROGRAMS)
    for doc in CATALOG:
        assert doc.levels == PROGRAMS[doc.program]


def test_automobile_has_the_supplemental_area_and_areas_one_to_eight():
    areas = list(dict.fromkeys(row.area_code for row in BY_PROGRAM["automobile"].rows))
    assert areas == ["0", "I", "II", "III", "IV", "V", "VI", "VII", "VIII"]


@pytest.mark.parametrize("doc", CATALOG, ids=lambda d: d.program)
def test_every_row_has_a_code_statement_priority_and_levels(doc):
    for row in doc.rows:
        assert is_template_code(row.code), row.code
        assert row.statement and row.priority in PRIORITIES and row.levels, row.code
        assert not row.not_applicable and row.required_rating is None


def test_the_automobile_mlr_subset_has_about_190_tasks():
    mlr = [row for row in BY_PROGRAM["automobile"].rows if "MLR" in row.levels]
    assert 185 <= len(mlr) <= 195


@pytest.mark.parametrize("doc", CATALOG, ids=lambda d: d.program)
def test_levels_nest_so_a_smaller_level_is_inside_every_larger_one(doc):
    for row in doc.rows:
        assert row.levels == doc.levels[doc.levels.index(row.levels[0]):], row.code


@pytest.mark.parametrize("doc", CATALOG, ids=lambda d: d.program)
def test_tasks_are_numbered_from_1_without_gaps_in_each_section(doc):
    numbers: dict[tuple[str, str], list[int]] = {}
    for row in doc.rows:
        numbers.setdefault((row.area_code, row.section_code), []).append(int(row.code.rsplit(".", 1)[1]))
    for section, found in numbers.items():
        assert found == list(range(1, len(found) + 1)), section


@pytest.mark.parametrize("doc", CATALOG, ids=lambda d: d.program)
def test_each_catalog_rule_is_the_rule_of_its_edition(doc):
    # CSV files carry no rule; they take it from the edition, so the catalog must agree.
    assert doc.coverage_rule == default_rule(doc.edition)


@pytest.mark.parametrize("doc", CATALOG, ids=lambda d: d.program)
def test_statements_are_one_plain_sentence_of_reasonable_length(doc):
    for row in doc.rows:
        assert 6 <= len(row.statement.split()) <= 30, row.code
        assert re.fullmatch(r"[A-Z].*[.]", row.statement), row.code


def test_a_broken_catalog_file_is_refused_naming_the_file_and_the_task(tmp_path):
    source = catalog_files()[0].read_text(encoding="utf-8")
    first_task = re.search(r"code: ([0-9A-Z]+\.[A-Z]+\.1), priority: P-\d", source)
    broken = source.replace(first_task.group(0), f"code: {first_task.group(1)}, priority: P-7", 1)
    path = tmp_path / "broken-2024.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    line = broken[: broken.index("P-7")].count("\n") + 1
    assert str(info.value).startswith(f"broken-2024.yaml: task {first_task.group(1)}, line {line}, ")
    assert str(info.value).endswith('priority: "P-7" is not a priority; use P-1, P-2 or P-3')


def test_a_file_that_is_not_yaml_is_refused_with_its_name(tmp_path):
    path = tmp_path / "bad-2024.yaml"
    path.write_text("program: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="bad-2024.yaml"):
        load_catalog(path)
