"""Task-list files in CSV and JSON (described in FORMAT.md): write them, read them, refuse bad ones whole."""

import bisect
import csv
import io
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tasklists import spreadsheet
from tasklists.documents import (
    PRIORITIES,
    PROGRAMS,
    TaskListDoc,
    TaskRow,
    default_rule,
    is_shop_code,
    is_template_code,
)

FORMAT = "workplace-mentoring/task-list"
VERSION = 1
COLUMNS = (
    "program", "edition", "title", "area_code", "area", "section_code", "section", "code", "statement",
    "priority", "levels", "not_applicable", "na_reason", "phase", "required_rating",
)
TASK_KEYS = ("code", "statement", "priority", "levels")
OPTIONAL_TASK_KEYS = ("not_applicable", "na_reason", "phase", "required_rating")
MAX_STATEMENT = 500
MAX_TITLE = 200
MAX_PHASE = 100
GROUP_CODE = re.compile(r"[0-9A-Za-z]+")
EDITION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.-]{0,19}")
PROGRAM_NAMES = ", ".join(PROGRAMS)
USE_PRIORITY = "use P-1, P-2 or P-3"

# (row index or None for the whole list, field) -> (line, field as the file names it)
Locate = Callable[[int | None, str], tuple[int, str]]


@dataclass(frozen=True)
class Problem:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}" if self.line else f"{self.field}: {self.message}"


class TaskListFileError(ValueError):
    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__("\n".join(str(p) for p in self.problems))


# --- writing ---------------------------------------------------------------------------


def to_csv(doc: TaskListDoc) -> str:
    out = io.StringIO()
    writer = spreadsheet.Writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in doc.rows:
        writer.writerow([
            doc.program, doc.edition, doc.title, row.area_code, row.area_title, row.section_code,
            row.section_title, row.code, row.statement, row.priority, " ".join(row.levels),
            "yes" if row.not_applicable else "", row.na_reason, row.phase,
            "" if row.required_rating is None else row.required_rating,
        ])
    return out.getvalue()


def to_json(doc: TaskListDoc) -> str:
    areas: list[dict] = []
    for row in doc.rows:
        if not areas or areas[-1]["code"] != row.area_code:
            areas.append({"code": row.area_code, "title": row.area_title, "sections": []})
        sections = areas[-1]["sections"]
        if not sections or sections[-1]["code"] != row.section_code:
            sections.append({"code": row.section_code, "title": row.section_title, "tasks": []})
        sections[-1]["tasks"].append({
            "code": row.code, "statement": row.statement, "priority": row.priority, "levels": list(row.levels),
            "not_applicable": row.not_applicable, "na_reason": row.na_reason, "phase": row.phase,
            "required_rating": row.required_rating,
        })
    tree = {
        "format": FORMAT, "version": VERSION, "program": doc.program, "edition": doc.edition,
        "title": doc.title, "levels": list(doc.levels),
        "coverage_rule": {key: doc.coverage_rule[key] for key in sorted(doc.coverage_rule)},
        "areas": areas,
    }
    return json.dumps(tree, indent=2, ensure_ascii=False) + "\n"


# --- checks shared by every reader -----------------------------------------------------


def validate(doc: TaskListDoc, locate: Locate | None = None) -> list[Problem]:
    locate = locate or _locate_by_code(doc)
    problems: list[Problem] = []

    def add(index: int | None, field: str, message: str) -> None:
        line, where = locate(index, field)
        problems.append(Problem(line, where, message))

    def ref(index: int) -> str:  # how a message points at another row
        line, _ = locate(index, "code")
        return f"line {line}" if line else f"row {index + 1}"

    for field, message in _list_problems(doc):
        add(None, field, message)
    first_use: dict[str, int] = {}
    areas, sections = _Groups("area", add, ref), _Groups("section", add, ref)
    for i, row in enumerate(doc.rows):
        for field, message in _row_problems(row, doc.levels):
            add(i, field, message)
        if row.code in first_use:
            add(i, "code", f"{row.code} is used twice; it was first used on {ref(first_use[row.code])}")
        elif row.code:
            first_use[row.code] = i
        resumed = areas.check(i, row.area_code, row.area_code, row.area_code, row.area_title)
        sections.check(i, (row.area_code, row.section_code), row.section_code,
                       f"{row.area_code}.{row.section_code}", row.section_title, quiet=resumed)
    return problems


class _Groups:
    # Areas or sections as the rows go by: a well-formed code, one title, and all rows side by side.

    def __init__(self, kind: str, add: Callable[[int, str, str], None], ref: Callable[[int], str]):
        self.kind, self.add, self.ref = kind, add, ref
        self.seen: dict[object, list] = {}  # key -> [title, first row, last row]

    def check(self, i: int, key: object, code: str, label: str, title: str, quiet: bool = False) -> bool:
        kind = self.kind
        if key not in self.seen:
            self.seen[key] = [title, i, i]
            if not GROUP_CODE.fullmatch(code):
                self.add(i, f"{kind}_code", f"{_q(code)} is not a {kind} code; use letters and digits only, "
                         "like V or B" if code else f"the {kind} code is missing")
            message = _text_problem(title, MAX_TITLE, f"the {kind} title")
            if message:
                self.add(i, kind, message)
            return False
        first_title, first, last = self.seen[key]
        self.seen[key][2] = i
        if not title:
            self.add(i, kind, f"the {kind} title is empty")
        elif not first_title:  # the empty one is already reported; judge the rest against a real title
            self.seen[key][:2] = [title, i]
        elif title != first_title:
            self.add(i, kind, f"{kind} {label} is called {_q(first_title)} on {self.ref(first)} but {_q(title)} "
                     "here; give it one title")
        if last == i - 1 or quiet:
            return False
        self.add(i, f"{kind}_code", f"{kind} {label} already ended on {self.ref(last)}; "
                 f"keep all of a {kind}'s tasks together")
        return True


def _list_problems(doc: TaskListDoc) -> Iterator[tuple[str, str]]:
    known = PROGRAMS.get(doc.program)
    if not doc.program:
        yield "program", f"the program is missing; use one of {PROGRAM_NAMES}"
    elif known is None:
        yield "program", f"{_q(doc.program)} is not a program this app knows; use one of {PROGRAM_NAMES}"
    elif tuple(doc.levels) != known:
        yield "levels", f"the levels of {doc.program} are {' '.join(known)}, not {_q(' '.join(doc.levels))}"
    if not doc.edition:
        yield "edition", "the edition is missing; give the year of the standards, like 2024"
    elif not EDITION.fullmatch(doc.edition):
        yield "edition", f"{_q(doc.edition)} is not an edition; use a short label like 2024"
    message = _text_problem(doc.title, MAX_TITLE, "the title")
    if message:
        yield "title", message
    rule = doc.coverage_rule
    if set(rule) != set(PRIORITIES) or not all(type(v) is int and 0 <= v <= 100 for v in rule.values()):
        yield "coverage_rule", "the coverage rule needs a whole percent from 0 to 100 for each of P-1, P-2 and P-3"
    if not doc.rows:
        yield "file", "there are no tasks in this list"


def _row_problems(row: TaskRow, levels: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    if not row.code:
        yield "code", "the task code is missing"
    elif is_template_code(row.code):
        prefix = f"{row.area_code}.{row.section_code}."
        if not row.code.startswith(prefix):
            yield "code", (f"{row.code} does not belong in area {row.area_code}, section {row.section_code}; "
                           f"codes there start with {prefix}")
    elif not is_shop_code(row.code):
        yield "code", (f"{_q(row.code)} is not a task code; use area.section.number like V.B.3, "
                       "or S. and a name like S.1 for a shop task")
    message = _text_problem(row.statement, MAX_STATEMENT, "the statement")
    if message:
        yield "statement", message
    if not row.priority:
        yield "priority", f"the priority is missing; {USE_PRIORITY}"
    elif row.priority not in PRIORITIES:
        yield "priority", f"{_q(row.priority)} is not a priority; {USE_PRIORITY}"
    yield from _level_problems(row.levels, levels)
    if row.not_applicable and not row.na_reason:
        yield "na_reason", "the task is marked not applicable; say why in na_reason"
    for field, value, limit in (("na_reason", row.na_reason, MAX_STATEMENT), ("phase", row.phase, MAX_PHASE)):
        message = value and _text_problem(value, limit, f"the {field}")
        if message:
            yield field, message
    rating = row.required_rating
    if rating is not None and not (type(rating) is int and 1 <= rating <= 5):
        yield "required_rating", f"{_q(str(rating))} is not a rating; use a whole number from 1 to 5, or leave it empty"


def _level_problems(given: tuple[str, ...], levels: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    names = " ".join(levels)
    if not given:
        yield "levels", f"no levels given; use one or more of {names}" if levels else "no levels given"
        return
    if not levels:  # an unknown program: its levels cannot be checked, and the program is reported
        return
    unknown = [level for level in given if level not in levels]
    for level in unknown:
        yield "levels", f"{_q(level)} is not a level of this program; use one or more of {names}"
    if not unknown and list(given) != [level for level in levels if level in given]:
        yield "levels", f"list each level once, in the order {names}"


def _text_problem(value: str, limit: int, name: str) -> str | None:
    if not value:
        return f"{name} is empty"
    if len(value) > limit:
        return f"{name} is {len(value)} characters long; keep it to {limit}"
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        return f"{name} contains a line break, tab or other control character; remove it"
    return None


def _locate_by_code(doc: TaskListDoc) -> Locate:
    def locate(index: int | None, field: str) -> tuple[int, str]:
        if index is None:
            return 0, field
        return 0, f"task {doc.rows[index].code or f'row {index + 1}'}, {field}"
    return locate


def _q(value: object) -> str:
    text = str(value)
    return '"' + (text if len(text) <= 60 else text[:57] + "...") + '"'


def _clean(text: str) -> str:
    # Spreadsheets and editors add stray spaces, tabs and line breaks; one space is what was meant.
    return " ".join(text.split())


def _order_levels(given: list[str], levels: tuple[str, ...]) -> tuple[str, ...]:
    named = {level.upper(): level for level in levels}  # "mlr" in a file means MLR
    unique = list(dict.fromkeys(named.get(name.upper(), name) for name in given))
    return tuple([lv for lv in levels if lv in unique] + [lv for lv in unique if lv not in levels])


# --- reading ---------------------------------------------------------------------------


def parse(data: bytes, filename: str) -> TaskListDoc:
    name = filename.lower()
    if name.endswith(".csv"):
        return parse_csv(data)
    if name.endswith(".json"):
        return parse_json(data)
    start = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    return parse_json(data) if start[:1] == b"{" else parse_csv(data)


def _decode(data: bytes, problems: list[Problem]) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # Name every line with bad bytes; "\n" never occurs inside a UTF-8 character.
        for number, raw in enumerate(data.split(b"\n"), 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                problems.append(Problem(number, "file", "this line is not UTF-8 text; save the file as UTF-8 "
                                        "(in Excel: CSV UTF-8)"))
        text = data.decode("utf-8", errors="replace")
    text = text.removeprefix("\ufeff")
    if not text.strip():
        problems.append(Problem(1, "file", "the file is empty"))
        raise TaskListFileError(problems)
    return text


def parse_csv(data: bytes) -> TaskListDoc:
    problems: list[Problem] = []
    records = _csv_records(_decode(data, problems), problems)
    if not records:
        raise TaskListFileError(problems or [Problem(1, "file", "the file has no header row and no tasks")])
    header_line, header = records[0]
    names = [name.strip().lower() for name in header]
    while names and not names[-1]:
        names.pop()
    problems += _header_problems(names, header_line)
    if not set(COLUMNS) <= set(names):
        raise TaskListFileError(problems)  # rows cannot be read without their columns

    rows: list[TaskRow] = []
    lines: list[int] = []
    reported: set[tuple[int, str]] = set()
    first: dict[str, str] = {}
    first_line = 0
    for line, cells in records[1:]:
        while len(cells) > len(names) and not cells[-1].strip():  # spreadsheets pad rows with empty cells
            cells = cells[:-1]
        if len(cells) != len(names):
            problems.append(Problem(line, "file", f"this row has {len(cells)} values but the header has "
                                    f"{len(names)} columns; put text that contains commas in double quotes"))
            continue
        values = {name: _clean(cell) for name, cell in zip(names, cells, strict=True)}
        if not first:
            first, first_line = values, line
        for key in ("program", "edition", "title"):
            if values[key] != first[key]:
                problems.append(Problem(line, key, f"{key} is {_q(values[key])} here but {_q(first[key])} on "
                                        f"line {first_line}; every row must give the same {key}"))
        row, row_problems = _csv_row(values, line, PROGRAMS.get(first["program"], ()))
        problems += row_problems
        reported |= {(p.line, p.field) for p in row_problems}
        rows.append(row)
        lines.append(line)
    if not rows:
        problems.append(Problem(header_line + 1, "file", "the file has a header but no task rows"))
        raise TaskListFileError(problems)

    program, edition = first["program"], first["edition"]
    doc = TaskListDoc(program, first["title"], edition, PROGRAMS.get(program, ()), default_rule(edition),
                      tuple(rows))
    problems += [p for p in validate(doc, lambda i, field: (lines[i or 0], field))
                 if (p.line, p.field) not in reported]
    if problems:
        raise TaskListFileError(problems)
    return doc


def _csv_records(text: str, problems: list[Problem]) -> list[tuple[int, list[str]]]:
    records = []
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):  # spreadsheets leave blank rows behind
                records.append((start, [spreadsheet.restore(cell) for cell in cells]))
            start = reader.line_num + 1
    except csv.Error as error:
        problems.append(Problem(reader.line_num or 1, "file", f"the file cannot be read from here on ({error})"))
    return records


def _header_problems(names: list[str], line: int) -> list[Problem]:
    problems = [Problem(line, column, "this column is missing") for column in COLUMNS if column not in names]
    for position, name in enumerate(names):
        if not name:
            problems.append(Problem(line, f"column {position + 1}", "this column has no name"))
        elif name not in COLUMNS:
            problems.append(Problem(line, name, f"{_q(name)} is not a task-list column; check the spelling"))
        elif names.index(name) != position:
            problems.append(Problem(line, name, "this column appears twice"))
    return problems


def _csv_row(values: dict[str, str], line: int, levels: tuple[str, ...]) -> tuple[TaskRow, list[Problem]]:
    problems = []
    not_applicable = values["not_applicable"].lower()
    if not_applicable not in ("", "yes"):
        problems.append(Problem(line, "not_applicable", f"{_q(values['not_applicable'])} is not allowed; "
                                "write yes, or leave it empty"))
    rating = values["required_rating"]
    required_rating = int(rating) if re.fullmatch(r"[0-9]{1,6}", rating) else None
    if rating and required_rating is None:
        problems.append(Problem(line, "required_rating", f"{_q(rating)} is not a rating; use a whole number "
                                "from 1 to 5, or leave it empty"))
    row = TaskRow(
        area_code=values["area_code"], area_title=values["area"],
        section_code=values["section_code"], section_title=values["section"],
        code=values["code"], statement=values["statement"], priority=values["priority"],
        levels=_order_levels([name for name in re.split(r"[\s,;]+", values["levels"]) if name], levels),
        not_applicable=not_applicable == "yes", na_reason=values["na_reason"], phase=values["phase"],
        required_rating=required_rating,
    )
    return row, problems


def parse_json(data: bytes) -> TaskListDoc:
    problems: list[Problem] = []
    text = _decode(data, problems)
    try:
        tree = json.loads(text)
    except json.JSONDecodeError as error:
        problems.append(Problem(error.lineno, "file", f"this is not valid JSON: {error.msg} (column {error.colno})"))
        raise TaskListFileError(problems) from None
    except (ValueError, RecursionError):  # absurdly long numbers or deep nesting
        problems.append(Problem(0, "file", "this is not valid JSON"))
        raise TaskListFileError(problems) from None
    return from_tree(tree, text, problems)


def from_tree(tree: object, text: str, problems: list[Problem] | None = None, *,
              with_header: bool = True) -> TaskListDoc:
    # JSON files and the YAML catalog share one shape; with_header asks for the file's format and version.
    problems = problems if problems is not None else []
    reader = _TreeReader(text, problems)
    required = ("program", "edition", "title", "areas")
    if with_header:
        required = ("format", "version", *required)
    if not reader.has_keys(tree, "", 1, required, ("levels", "coverage_rule")):
        raise TaskListFileError(problems)
    assert isinstance(tree, dict)
    if with_header and "format" in tree and tree["format"] != FORMAT:
        reader.bad(reader.key_line("format"), "format", f'this is not a task-list file; format should be "{FORMAT}"')
    if with_header and "version" in tree and not (type(tree["version"]) is int and tree["version"] == VERSION):
        reader.bad(reader.key_line("version"), "version", f"version {_q(tree['version'])} is not supported; "
                   f"this app reads version {VERSION}")
    program, edition, title = (reader.text(tree, "", key, reader.key_line(key))
                               for key in ("program", "edition", "title"))
    levels = PROGRAMS.get(program, ())
    if "levels" in tree:
        levels = tuple(reader.names(tree, "", "levels", reader.key_line("levels")))
    rule = default_rule(edition)
    if "coverage_rule" in tree:
        if isinstance(tree["coverage_rule"], dict):
            rule = dict(tree["coverage_rule"])
        else:
            reader.bad(reader.key_line("coverage_rule"), "coverage_rule",
                       'write the rule as {"P-1": 90, "P-2": 75, "P-3": 50}')
    rows, where = reader.rows(tree, levels)
    doc = TaskListDoc(program, title, edition, levels, rule, tuple(rows))

    def locate(index: int | None, field: str) -> tuple[int, str]:
        if index is None:
            return (reader.key_line("areas"), "areas") if field == "file" else (reader.key_line(field), field)
        line, area, section, task = where[index]
        groups = {"area_code": f"{area}.code", "area": f"{area}.title",
                  "section_code": f"{section}.code", "section": f"{section}.title"}
        return (0, groups[field]) if field in groups else (line, f"{task}.{field}")

    problems += [p for p in validate(doc, locate) if (p.line, p.field) not in reader.reported]
    if problems:
        raise TaskListFileError(problems)
    return doc


_CODE_VALUE = re.compile(r"""(?:^|[\s{,"'])code["']?\s*:\s*["']?([^"',}\s]+)""", re.M)


class _TreeReader:
    # Walks a parsed tree, noting every shape problem instead of stopping at the first one.

    def __init__(self, text: str, problems: list[Problem]):
        self.source, self.problems = text, problems
        self.reported: set[tuple[int, str]] = set()
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        # A task's line is found by its code: the n-th task with a code gets the n-th place it is written.
        self.code_lines: dict[str, list[int]] = defaultdict(list)
        for match in _CODE_VALUE.finditer(self.source):
            self.code_lines[match.group(1)].append(self.line_of(match.start(1)))

    def line_of(self, position: int) -> int:
        return bisect.bisect_right(self.line_starts, position)

    def key_line(self, key: str) -> int:
        match = re.search(rf'(?m)(?:"{key}"|^{key})\s*:', self.source)
        return self.line_of(match.start()) if match else 0

    def task_line(self, code: object) -> int:
        places = self.code_lines.get(code.strip()) if isinstance(code, str) else None
        return places.pop(0) if places else 0

    def bad(self, line: int, field: str, message: str) -> None:
        self.problems.append(Problem(line, field, message))
        self.reported.add((line, field))

    def has_keys(self, node: object, path: str, line: int, required: tuple, optional: tuple) -> bool:
        if not isinstance(node, dict):
            self.bad(line, path or "file", "expected an object in braces { }")
            return False
        for key in node:
            if key not in required and key not in optional:
                self.bad(line, _join(path, str(key)), f"{_q(key)} is not a field here; check the spelling")
        for key in required:
            if key not in node:
                self.bad(line, _join(path, key), "this field is missing")
        return True

    def text(self, node: dict, path: str, key: str, line: int, default: str = "") -> str:
        value = node.get(key, default)
        if isinstance(value, str):
            return _clean(value)
        self.bad(line, _join(path, key), "expected text in double quotes")
        return default

    def items(self, node: dict, path: str, key: str, line: int) -> list:
        value = node.get(key, [])
        if isinstance(value, list):
            return value
        self.bad(line, _join(path, key), "expected a list in square brackets [ ]")
        return []

    def names(self, node: dict, path: str, key: str, line: int) -> list[str]:
        value = self.items(node, path, key, line)
        if all(isinstance(item, str) for item in value):
            return [_clean(item) for item in value]
        self.bad(line, _join(path, key), 'expected a list of level names, like ["MLR", "AST"]')
        return []

    def rows(self, tree: dict, levels: tuple[str, ...]) -> tuple[list[TaskRow], list[tuple]]:
        rows: list[TaskRow] = []
        where: list[tuple] = []  # per row: line, area path, section path, task path
        for a, area in enumerate(self.items(tree, "", "areas", self.key_line("areas"))):
            area_path = f"areas[{a}]"
            if not self.has_keys(area, area_path, 0, ("code", "title", "sections"), ()):
                continue
            group = {"area_code": self.text(area, area_path, "code", 0),
                     "area_title": self.text(area, area_path, "title", 0)}
            sections = self.items(area, area_path, "sections", 0)
            if not sections and isinstance(area.get("sections"), list):
                self.bad(0, f"{area_path}.sections", "this area has no sections; add tasks or remove the area")
            for s, section in enumerate(sections):
                section_path = f"{area_path}.sections[{s}]"
                if not self.has_keys(section, section_path, 0, ("code", "title", "tasks"), ()):
                    continue
                group |= {"section_code": self.text(section, section_path, "code", 0),
                          "section_title": self.text(section, section_path, "title", 0)}
                tasks = self.items(section, section_path, "tasks", 0)
                if not tasks and isinstance(section.get("tasks"), list):
                    self.bad(0, f"{section_path}.tasks", "this section has no tasks; add some or remove it")
                for t, task in enumerate(tasks):
                    task_path = f"{section_path}.tasks[{t}]"
                    line = self.task_line(task.get("code")) if isinstance(task, dict) else 0
                    if self.has_keys(task, task_path, line, TASK_KEYS, OPTIONAL_TASK_KEYS):
                        rows.append(self.task(task, task_path, line, group, levels))
                        where.append((line, area_path, section_path, task_path))
        return rows, where

    def task(self, task: dict, path: str, line: int, group: dict, levels: tuple[str, ...]) -> TaskRow:
        not_applicable = task.get("not_applicable", False)
        if not isinstance(not_applicable, bool):
            self.bad(line, f"{path}.not_applicable", "expected true or false")
            not_applicable = False
        rating = task.get("required_rating")
        if rating is not None and type(rating) is not int:
            self.bad(line, f"{path}.required_rating", "expected a whole number from 1 to 5, or null")
            rating = None
        return TaskRow(
            **group,
            code=self.text(task, path, "code", line),
            statement=self.text(task, path, "statement", line),
            priority=self.text(task, path, "priority", line),
            levels=_order_levels(self.names(task, path, "levels", line), levels),
            not_applicable=not_applicable,
            na_reason=self.text(task, path, "na_reason", line),
            phase=self.text(task, path, "phase", line),
            required_rating=rating,
        )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key

