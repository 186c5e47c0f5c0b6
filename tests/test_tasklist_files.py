"""Task-list files: what a shop can import and export, and how a bad file is refused."""

import csv
import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tasklists
from tasklists.catalog import load_all
from tasklists.documents import PROGRAMS, TaskListDoc, TaskRow, default_rule, is_shop_code
from tasklists.files import COLUMNS, Problem, TaskListFileError, parse, parse_csv, parse_json, to_csv, to_json, validate

AREAS = {"I": "Engine Repair", "V": "Brakes"}
SECTIONS = {("I", "A"): "General", ("V", "A"): "General", ("V", "B"): "Hydraulic System"}
ALL = ("MLR", "AST", "MAST")


def task(code: str, priority: str = "P-1", levels: tuple[str, ...] = ALL, **extra) -> TaskRow:
    area, section = code.split(".")[:2] if not is_shop_code(code) else ("V", "B")
    return TaskRow(area, AREAS[area], section, SECTIONS[area, section], code,
                   f"Carry out the work described by task {code} safely.", priority, levels, **extra)


SMALL = TaskListDoc(
    "automobile", "Automobile Service", "2024", ALL, default_rule("2024"),
    (
        task("I.A.1"),                                    # line 2
        task("I.A.2", "P-2", ("AST", "MAST")),            # line 3
        task("V.A.1", "P-3", ("MAST",)),                  # line 4
        task("V.B.1"),                                    # line 5
        task("V.B.2", not_applicable=True, na_reason="We do not service drum brakes."),  # line 6
        task("S.V.B.1", phase="first 90 days", required_rating=4),  # line 7
    ),
)
CATALOG = load_all()


def csv_with(edits: dict[int, dict[str, str]], doc: TaskListDoc = SMALL) -> bytes:
    # Change cells by file line number and column name, as a shop manager would in a spreadsheet.
    rows = list(csv.reader(io.StringIO(to_csv(doc))))
    for line, changes in edits.items():
        for column, value in changes.items():
            rows[line - 1][COLUMNS.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def refused(data: bytes, reader=parse_csv) -> list[Problem]:
    with pytest.raises(TaskListFileError) as info:
        reader(data)
    return info.value.problems


def where(problems: list[Problem]) -> list[tuple[int, str]]:
    return [(p.line, p.field) for p in problems]


# --- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("doc", CATALOG, ids=lambda d: d.program)
def test_every_catalog_list_survives_csv_export_import_export(doc):
    text = to_csv(doc)
    assert to_csv(parse_csv(text.encode())) == text
    assert parse_csv(text.encode()) == doc


@pytest.mark.parametrize("doc", CATALOG, ids=lambda d: d.program)
def test_every_catalog_list_survives_json_export_import_export(doc):
    text = to_json(doc)
    assert to_json(parse_json(text.encode())) == text
    assert parse_json(text.encode()) == doc


@pytest.mark.parametrize("doc", CATALOG, ids=lambda d: d.program)
def test_csv_and_json_carry_the_same_list(doc):
    assert parse_json(to_json(parse_csv(to_csv(doc).encode())).encode()) == doc


def test_the_csv_has_the_documented_header_and_plain_line_endings():
    text = to_csv(SMALL)
    assert text.splitlines()[0] == (
        "program,edition,title,area_code,area,section_code,section,code,statement,priority,levels,"
        "not_applicable,na_reason,phase,required_rating")
    assert "\r" not in text and text.endswith("\n")
    assert text.splitlines()[6] == ("automobile,2024,Automobile Service,V,Brakes,B,Hydraulic System,S.V.B.1,"
                                    "Carry out the work described by task S.V.B.1 safely.,P-1,MLR AST MAST,,,"
                                    "first 90 days,4")


def test_the_json_groups_tasks_by_area_and_section():
    tree = json.loads(to_json(SMALL))
    assert list(tree) == ["format", "version", "program", "edition", "title", "levels", "coverage_rule", "areas"]
    assert tree["format"] == "workplace-mentoring/task-list" and tree["version"] == 1
    assert [(a["code"], [s["code"] for s in a["sections"]]) for a in tree["areas"]] == [("I", ["A"]), ("V", ["A", "B"])]
    assert tree["areas"][1]["sections"][1]["tasks"][1] == {
        "code": "V.B.2", "statement": "Carry out the work described by task V.B.2 safely.", "priority": "P-1",
        "levels": ["MLR", "AST", "MAST"], "not_applicable": True, "na_reason": "We do not service drum brakes.",
        "phase": "", "required_rating": None,
    }


def test_it_accepts_what_excel_saves_a_byte_order_mark_and_crlf_line_endings():
    data = b"\xef\xbb\xbf" + to_csv(SMALL).replace("\n", "\r\n").encode()
    assert parse_csv(data) == SMALL


def test_it_tidies_stray_spaces_and_reads_levels_in_any_order():
    data = csv_with({2: {"statement": "  Carry out the work described by   task I.A.1 safely. ",
                         "levels": "MAST, MLR AST"}})
    assert parse_csv(data) == SMALL


def test_a_csv_list_takes_its_coverage_rule_from_the_edition():
    old = csv_with({line: {"edition": "2017"} for line in range(2, 8)})
    assert parse_csv(old).coverage_rule == {"P-1": 95, "P-2": 80, "P-3": 50}
    assert parse_csv(to_csv(SMALL).encode()).coverage_rule == {"P-1": 90, "P-2": 75, "P-3": 50}


def test_parse_chooses_the_format_by_extension_or_by_content():
    assert parse(to_csv(SMALL).encode(), "list.CSV") == SMALL
    assert parse(to_json(SMALL).encode(), "list.json") == SMALL
    assert parse(to_json(SMALL).encode(), "upload") == SMALL
    assert parse(to_csv(SMALL).encode(), "upload.txt") == SMALL


# --- refusals ---------------------------------------------------------------------------


def test_it_refuses_a_missing_column():
    text = to_csv(SMALL).replace(",priority,", ",", 1)
    problems = refused(text.encode())
    assert where(problems) == [(1, "priority")]
    assert str(TaskListFileError(problems)) == "line 1, priority: this column is missing"


def test_it_names_every_missing_column_and_each_unknown_one():
    problems = refused(b"program,edition,titel,area_code\nautomobile,2024,x,I\n")
    assert {p.field for p in problems} == set(COLUMNS) - {"program", "edition", "area_code"} | {"titel"}
    assert all(p.line == 1 for p in problems)


def test_it_refuses_a_duplicate_code():
    problems = refused(csv_with({5: {"code": "I.A.1"}}))
    # V.B.1 became I.A.1: a duplicate, and a code that does not belong in section V.B.
    assert (5, "code") in where(problems)
    assert any("I.A.1 is used twice; it was first used on line 2" in p.message for p in problems)


def test_it_refuses_a_bad_priority():
    problems = refused(csv_with({4: {"priority": "P4"}}))
    assert str(TaskListFileError(problems)) == 'line 4, priority: "P4" is not a priority; use P-1, P-2 or P-3'


def test_it_refuses_an_unknown_level():
    problems = refused(csv_with({3: {"levels": "AST MSAT"}}))
    assert where(problems) == [(3, "levels")]
    assert '"MSAT" is not a level of this program' in problems[0].message


def test_it_refuses_a_task_without_levels():
    assert where(refused(csv_with({3: {"levels": " "}}))) == [(3, "levels")]


def test_it_refuses_an_empty_statement():
    problems = refused(csv_with({6: {"statement": "   "}}))
    assert str(problems[0]) == "line 6, statement: the statement is empty"


def test_it_refuses_a_statement_over_500_characters():
    problems = refused(csv_with({2: {"statement": "Check it. " * 51}}))
    assert where(problems) == [(2, "statement")]
    assert "keep it to 500" in problems[0].message


def test_it_refuses_bytes_that_are_not_utf8():
    data = to_csv(SMALL).encode().replace(b"Hydraulic", b"Hydr\xe4ulic")  # Latin-1 "ä" on lines 5 to 7
    problems = refused(data)
    assert where(problems) == [(5, "file"), (6, "file"), (7, "file")]
    assert "not UTF-8" in problems[0].message


def test_it_refuses_an_unknown_program_and_rows_that_disagree():
    problems = refused(csv_with({2: {"program": "motorbike"}, 4: {"edition": "2017"}}))
    assert where(problems) == [(2, "program"), (3, "program"), (4, "program"), (4, "edition"), (5, "program"),
                               (6, "program"), (7, "program")]
    assert problems[0].message.startswith('"motorbike" is not a program this app knows')
    assert problems[3].message == 'edition is "2017" here but "2024" on line 2; every row must give the same edition'


def test_it_refuses_a_malformed_code():
    problems = refused(csv_with({2: {"code": "1A1"}, 3: {"code": "V.A.9"}}))
    assert where(problems) == [(2, "code"), (3, "code")]
    assert "is not a task code" in problems[0].message
    assert "does not belong in area I, section A" in problems[1].message


def test_it_refuses_not_applicable_values_it_does_not_understand_and_a_missing_reason():
    problems = refused(csv_with({2: {"not_applicable": "maybe"}, 3: {"not_applicable": "yes"}}))
    assert where(problems) == [(2, "not_applicable"), (3, "na_reason")]


@pytest.mark.parametrize("rating", ["0", "6", "three", "2.5"])
def test_it_refuses_a_required_rating_outside_1_to_5(rating):
    assert where(refused(csv_with({2: {"required_rating": rating}}))) == [(2, "required_rating")]


def test_it_refuses_two_titles_for_one_area_or_section_and_an_empty_title():
    problems = refused(csv_with({5: {"area": "Brake Systems"}, 6: {"section": "Hydraulics"}, 2: {"area": ""}}))
    assert where(problems) == [(2, "area"), (5, "area"), (6, "section")]
    assert problems[1].message == ('area V is called "Brakes" on line 4 but "Brake Systems" here; '
                                   "give it one title")


def test_it_refuses_a_section_split_apart():
    rows = SMALL.rows
    doc = TaskListDoc(SMALL.program, SMALL.title, SMALL.edition, SMALL.levels, SMALL.coverage_rule,
                      (rows[0], rows[3], rows[2], rows[4]))
    problems = refused(to_csv(doc).encode())
    assert where(problems) == [(5, "section_code")]
    assert problems[0].message == "section V.B already ended on line 3; keep all of a section's tasks together"


def test_it_refuses_an_empty_file_and_a_header_without_rows():
    assert where(refused(b"")) == [(1, "file")]
    assert where(refused(to_csv(SMALL).splitlines()[0].encode() + b"\n\n")) == [(2, "file")]


def test_it_refuses_a_row_with_too_many_values():
    data = to_csv(SMALL).replace("first 90 days", "first, 90 days").encode()
    problems = refused(data.replace(b'"first, 90 days"', b"first, 90 days"))
    assert where(problems) == [(7, "file")]


def test_a_file_with_several_problems_reports_all_of_them():
    data = csv_with({
        2: {"priority": "high"},
        3: {"levels": "XYZ"},
        4: {"statement": ""},
        5: {"code": "I.A.1"},
        7: {"required_rating": "9"},
    })
    error = pytest.raises(TaskListFileError, parse_csv, data).value
    assert where(error.problems) == [(2, "priority"), (3, "levels"), (4, "statement"), (5, "code"), (5, "code"),
                                     (7, "required_rating")]
    assert len(str(error).splitlines()) == 6


def test_a_bad_json_task_is_located_by_line_and_path():
    text = to_json(SMALL).replace('"priority": "P-3"', '"priority": "P4"')
    line = text.splitlines().index('              "code": "V.A.1",') + 1
    problems = refused(text.encode(), parse_json)
    assert str(problems[0]) == (f'line {line}, areas[1].sections[0].tasks[0].priority: '
                                '"P4" is not a priority; use P-1, P-2 or P-3')


def test_json_reports_every_shape_problem_at_once():
    tree = json.loads(to_json(SMALL))
    tree["format"] = "something-else"
    tree["areas"][0]["sections"][0]["tasks"][0]["levels"] = "MLR"
    tree["areas"][0]["sections"][0]["tasks"][1]["colour"] = "red"
    del tree["areas"][1]["sections"][0]["tasks"][0]["statement"]
    tree["areas"][1]["title"] = 7
    problems = refused(json.dumps(tree, indent=2).encode(), parse_json)
    assert [p.field for p in problems] == [
        "areas[1].title",
        "format",
        "areas[0].sections[0].tasks[0].levels",
        "areas[0].sections[0].tasks[1].colour",
        "areas[1].sections[0].tasks[0].statement",
    ]


def test_json_that_does_not_parse_is_refused_with_its_line():
    assert where(refused(b'{\n  "program": "automobile",\n  oops\n}', parse_json)) == [(3, "file")]


def test_validate_checks_a_list_built_in_code():
    doc = TaskListDoc("automobile", "", "2024", ALL, {"P-1": 90}, (task("I.A.1", "P-0"),))
    assert [(p.field, p.message) for p in validate(doc)] == [
        ("title", "the title is empty"),
        ("coverage_rule", "the coverage rule needs a whole percent from 0 to 100 for each of P-1, P-2 and P-3"),
        ("task I.A.1, priority", '"P-0" is not a priority; use P-1, P-2 or P-3'),
    ]


# --- generated lists and damaged files ---------------------------------------------------

words = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=30)
tidy = words.map(lambda s: " ".join(s.split())).filter(bool)


@st.composite
def task_lists(draw) -> TaskListDoc:
    program = draw(st.sampled_from(sorted(PROGRAMS)))
    levels = PROGRAMS[program]
    rows = []
    for area in draw(st.lists(st.sampled_from(["0", "I", "II", "V", "S"]), min_size=1, max_size=3, unique=True)):
        area_title = draw(tidy)
        for section in draw(st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=3, unique=True)):
            section_title = draw(tidy)
            codes = [f"{area}.{section}.{n}" for n in range(1, draw(st.integers(0, 3)) + 1)]
            codes += [f"S.{area}.{section}.{n}" for n in range(1, draw(st.integers(0 if codes else 1, 2)) + 1)]
            for code in codes:
                chosen = draw(st.lists(st.sampled_from(levels), min_size=1, unique=True))
                not_applicable = draw(st.booleans())
                rows.append(TaskRow(
                    area, area_title, section, section_title, code, draw(tidy), draw(st.sampled_from(
                        ["P-1", "P-2", "P-3"])), tuple(lv for lv in levels if lv in chosen),
                    not_applicable, draw(tidy) if not_applicable else draw(st.just("") | tidy),
                    draw(st.just("") | tidy), draw(st.none() | st.integers(1, 5)),
                ))
    edition = draw(st.sampled_from(["2017", "2021", "2024", "2025"]))
    return TaskListDoc(program, draw(tidy), edition, levels, default_rule(edition), tuple(rows))


@given(task_lists())
def test_any_valid_list_survives_both_formats_unchanged(doc):
    assert validate(doc) == []
    assert parse_csv(to_csv(doc).encode()) == doc
    assert parse_json(to_json(doc).encode()) == doc
    assert parse_csv(to_csv(parse_json(to_json(doc).encode())).encode()) == doc


def _survives(reader, data: bytes) -> None:
    try:
        doc = reader(data)
    except TaskListFileError as error:
        assert error.problems and all(isinstance(p, Problem) for p in error.problems)
    else:  # whatever is accepted is a valid list that exports and imports unchanged
        assert validate(doc) == []
        assert parse_json(to_json(doc).encode()) == doc
        assert parse_csv(to_csv(doc).encode()).rows == doc.rows


@given(st.binary(max_size=3000))
def test_random_bytes_only_ever_raise_a_task_list_error(data):
    _survives(parse_csv, data)
    _survives(parse_json, data)
    _survives(lambda d: parse(d, "upload"), data)


@given(st.text(max_size=1000))
def test_random_text_only_ever_raises_a_task_list_error(text):
    _survives(parse_csv, text.encode("utf-8", "surrogatepass"))
    _survives(parse_json, text.encode("utf-8", "surrogatepass"))


@given(st.data())
def test_a_csv_with_damaged_cells_is_refused_cleanly_or_read_whole(data):
    rows = list(csv.reader(io.StringIO(to_csv(SMALL))))
    for _ in range(data.draw(st.integers(1, 4))):
        line = data.draw(st.integers(0, len(rows) - 1))
        column = data.draw(st.integers(0, len(COLUMNS) - 1))
        rows[line][column] = data.draw(st.text(max_size=20) | st.sampled_from(["", "yes", "P-2", "MLR", "S.1"]))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    _survives(parse_csv, out.getvalue().encode("utf-8", "surrogatepass"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@given(st.data())
def test_a_json_list_with_a_damaged_part_is_refused_cleanly_or_read_whole(data):
    tree = json.loads(to_json(SMALL))
    parent, key = tree, data.draw(st.sampled_from(list(tree)))
    # Walk down a random path, then replace or remove what is there.
    while isinstance(parent[key], dict | list) and parent[key] and data.draw(st.booleans()):
        parent = parent[key]
        key = data.draw(st.sampled_from(list(parent)) if isinstance(parent, dict) else st.integers(0, len(parent) - 1))
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[key]
    else:
        parent[key] = data.draw(json_values)
    _survives(parse_json, json.dumps(tree).encode())


@given(json_values)
def test_any_json_value_only_ever_raises_a_task_list_error(value):
    _survives(parse_json, json.dumps(value).encode())


def test_the_examples_in_the_format_guide_are_valid_files():
    guide = (Path(tasklists.__file__).parent / "FORMAT.md").read_text(encoding="utf-8")
    csv_example = next(b for b in re.findall(r"```\n(.*?)```", guide, re.S) if b.count("\n") > 1)
    json_example = re.search(r"```json\n(.*?)```", guide, re.S).group(1)
    assert to_csv(parse_csv(csv_example.encode())) == csv_example
    assert parse_json(json_example.encode()).rows[0].code == "V.B.1"


def test_it_ignores_empty_cells_a_spreadsheet_adds_after_the_last_column():
    data = to_csv(SMALL).replace("\n", ",,\n").encode()
    assert parse_csv(data) == SMALL
