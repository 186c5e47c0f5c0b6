"""The task-list templates shipped with the app: one YAML file per program and edition."""

import re
from pathlib import Path

import yaml

from tasklists.documents import TaskListDoc
from tasklists.files import Problem, TaskListFileError, from_tree

CATALOG_DIR = Path(__file__).parent / "catalog"
# libyaml reads the catalog about ten times faster where it is installed; the results are the same.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CatalogError(ValueError):
    pass


def catalog_files() -> list[Path]:
    return sorted(CATALOG_DIR.glob("*.yaml"))


def load_all() -> list[TaskListDoc]:
    return [load_catalog(path) for path in catalog_files()]


def load_catalog(path: str | Path) -> TaskListDoc:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
        tree = yaml.load(text, Loader=_LOADER)
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise CatalogError(f"{path.name}: cannot be read: {error}") from error
    try:
        return from_tree(tree, text, with_header=False)
    except TaskListFileError as error:
        lines = text.splitlines()
        report = "\n".join(f"{path.name}: {_describe(problem, lines)}" for problem in error.problems)
        raise CatalogError(report) from error


def _describe(problem: Problem, lines: list[str]) -> str:
    # Name the task as well as the line: catalog authors search by code.
    source = lines[problem.line - 1] if 0 < problem.line <= len(lines) else ""
    code = re.search(r"\bcode:\s*\"?([^\",}\s]+)", source)
    return f"task {code.group(1)}, {problem}" if code else str(problem)
