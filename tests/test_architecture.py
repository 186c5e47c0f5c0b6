"""The architecture, kept as tests: which package may import which, and where access is decided.

Each rule is a small checker over a module's syntax tree (ast, not text search), run over the whole source
tree; each checker is also fed a made-up bad module, so a rule that could never fail would show up here."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["tasklists", "mentoring", "exports", "web"]  # each may import only those before it
KERNEL = {"clock", "errors", "lru", "mail", "words"}
SUBPACKAGES = ["trail", "access", "people", "progress", "oversight"]  # each may import only those before it
ACCESS_TABLES = {"Membership", "Enrollment"}

# Modules outside mentoring/access/ that may query memberships or enrollments: read models that list them,
# never to decide who may see or do something (they are reached only through a policy check or a guard).
ACCESS_QUERY_ALLOWED = {
    "mentoring/people/roster.py": "the read model of rosters, members and enrollments; callers ask the policy first",
    "mentoring/people/accounts.py": "writes memberships: refuses a role held twice, finds the roles it removes",
    "mentoring/people/invitations.py": "accepting an invitation refuses a role the person already holds",
    "mentoring/people/triads.py": "a new enrollment refuses a second open one for the same mentee and school",
    "mentoring/oversight/digest.py": "members are the digest's candidates; what each sees comes via the inbox",
    "exports/record.py": "a completion record names the school and instructor of the mentee's enrollment",
    "mentoring/demo.py": "seeds the demo and reads its people back by role",
}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def _runtime_nodes(tree: ast.AST):
    """Every node except those under `if TYPE_CHECKING:`: an import for type hints only adds no dependency."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imported_modules(tree: ast.Module, module: str = "") -> set[str]:
    """Every module a source imports, anywhere in it (lazy imports in functions too), as dotted names;
    `from a.b import c` counts as a.b.c, since c may be a module. `module` resolves relative imports."""
    found = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join([*parent, base] if base else parent)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


# --- (a) the layers ---------------------------------------------------------------------------

def layer_violations(package: str, tree: ast.Module, module: str = "") -> set[str]:
    allowed = set(LAYERS[: LAYERS.index(package) + 1])
    tops = {name.split(".")[0] for name in imported_modules(tree, module)}
    bad = {top for top in tops if top in LAYERS and top not in allowed}
    if package != "web" and "litestar" in tops:
        bad.add("litestar")
    return bad


@pytest.mark.parametrize("package", LAYERS)
def test_dependencies_point_one_way_and_litestar_stays_in_web(package):
    bad = {_rel(path): layer_violations(package, _tree(path)) for path in _modules(package)}
    assert {path: found for path, found in bad.items() if found} == {}


def test_an_import_for_type_hints_only_is_no_dependency():
    source = ("from typing import TYPE_CHECKING\n"
              "if TYPE_CHECKING:\n    from exports import record\nelse:\n    import web")
    assert layer_violations("mentoring", ast.parse(source)) == {"web"}


def test_the_layer_check_catches_an_upward_import_and_litestar_outside_web():
    assert layer_violations("mentoring", ast.parse("from exports import record")) == {"exports"}
    assert layer_violations("tasklists", ast.parse("def f():\n    import mentoring.clock")) == {"mentoring"}
    assert layer_violations("exports", ast.parse("from litestar import get")) == {"litestar"}
    assert layer_violations("web", ast.parse("from litestar import get\nfrom exports import record")) == set()


# --- (b) the order of mentoring's subpackages ------------------------------------------------------

def subpackage_violations(path: str, tree: ast.Module) -> set[str]:
    """The mentoring modules a module of mentoring/ may not import. The kernel imports no subpackage; a
    subpackage imports the kernel, any subpackage's models and the subpackages before it; demo.py anything."""
    parts = path.removesuffix(".py").split("/")
    module = ".".join(parts)
    if parts[-1] == "__init__":
        module += ".x"  # relative imports in a package's __init__ resolve from the package itself
    if path == "mentoring/demo.py":
        return set()
    own = parts[1] if len(parts) > 2 else None  # None: the kernel (or mentoring/__init__.py)
    bad = set()
    for name in imported_modules(tree, module):
        target = name.split(".")
        if target[0] != "mentoring" or len(target) < 2 or target[1] in KERNEL or target[1] == "data":
            continue
        if target[1] not in SUBPACKAGES:  # e.g. `from mentoring import demo`
            bad.add(name)
        elif own is not None and len(target) > 2 and target[2] == "models":
            continue
        elif own is None or SUBPACKAGES.index(target[1]) > SUBPACKAGES.index(own):
            bad.add(name)
    return bad


def test_mentoring_subpackages_import_only_the_kernel_models_and_those_before_them():
    bad = {_rel(path): subpackage_violations(_rel(path), _tree(path)) for path in _modules("mentoring")}
    assert {path: found for path, found in bad.items() if found} == {}


@pytest.mark.parametrize("path, source, bad", [
    ("mentoring/clock.py", "from mentoring.trail import audit", {"mentoring.trail.audit"}),
    ("mentoring/errors.py", "from mentoring.people.models import Person", {"mentoring.people.models.Person"}),
    ("mentoring/access/policy.py", "from mentoring.people import roster", {"mentoring.people.roster"}),
    ("mentoring/access/auth.py", "import mentoring.progress.signoffs", {"mentoring.progress.signoffs"}),
    ("mentoring/people/roster.py", "def f():\n    from ..oversight import flags", {"mentoring.oversight.flags"}),
    ("mentoring/trail/audit.py", "from mentoring import demo", {"mentoring.demo"}),
])
def test_the_subpackage_check_catches_an_import_against_the_order(path, source, bad):
    assert subpackage_violations(path, ast.parse(source)) == bad


@pytest.mark.parametrize("path, source", [
    ("mentoring/trail/audit.py", "from mentoring.people.models import Person\nfrom mentoring.clock import utcnow"),
    ("mentoring/oversight/flags.py", "from mentoring.access import policy\nfrom mentoring.progress import board"),
    ("mentoring/progress/board.py", "from .models import Assignment\nfrom mentoring.oversight.models import Flag"),
    ("mentoring/demo.py", "from mentoring.oversight import flags"),
])
def test_the_subpackage_check_lets_the_allowed_imports_through(path, source):
    assert subpackage_violations(path, ast.parse(source)) == set()


# --- (c) access is decided in mentoring/access/ only -------------------------------------------

QUERY_CALLS = {"select", "query", "join", "outerjoin", "where", "filter", "filter_by", "exists", "get", "exec",
               "scalars", "scalar", "in_", "union"}


def access_queries(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, table) of each query-building call that names Membership or Enrollment (under any alias it
    is imported as) in its function, receiver or arguments: select(Membership…), .join(Enrollment, …),
    .where(Enrollment.x == …), db.get(Membership, …). Creating a row (Membership(…)) is not a query."""
    names = {table: table for table in ACCESS_TABLES}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names |= {alias.asname or alias.name: alias.name for alias in node.names if alias.name in ACCESS_TABLES}
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called not in QUERY_CALLS:
            continue
        for part in [*node.args, *(k.value for k in node.keywords), func]:
            for inner in ast.walk(part):
                if isinstance(inner, ast.Name) and inner.id in names:
                    found.add((node.lineno, names[inner.id]))
                elif isinstance(inner, ast.Attribute) and inner.attr in ACCESS_TABLES:  # models.Membership
                    found.add((node.lineno, inner.attr))
    return sorted(found)


def test_only_mentoring_access_queries_memberships_and_enrollments_bar_the_read_models():
    offenders = {}
    for package in ("mentoring", "exports", "web", "tasklists"):
        for path in _modules(package):
            rel = _rel(path)
            if rel.startswith("mentoring/access/") or rel in ACCESS_QUERY_ALLOWED:
                continue
            if hits := access_queries(_tree(path)):
                offenders[rel] = hits
    assert offenders == {}, ("Ask mentoring/access/policy.py who may see or do what, or add a read model to "
                             "ACCESS_QUERY_ALLOWED with its reason")


def test_every_allowed_read_model_still_queries_them():
    # An entry whose module no longer needs it goes, so the list stays short and true.
    stale = [rel for rel in ACCESS_QUERY_ALLOWED if not access_queries(_tree(ROOT / rel))]
    assert stale == []


@pytest.mark.parametrize("source, table", [
    ("from mentoring.people.models import Membership\n"
     "def may(db, a):\n    return db.exec(select(Membership.id).where(Membership.person_id == a)).first()",
     "Membership"),
    ("from mentoring.people.models import Enrollment as E\n"
     "def q(db):\n    return db.query(Person).join(E, E.mentee_id == Person.id)", "Enrollment"),
    ("from mentoring.people import models\n"
     "def g(db, i):\n    return db.get(models.Enrollment, i)", "Enrollment"),
    ("from mentoring.people.models import Membership\n"
     "def q():\n    return select(Person).where(Person.id.in_(select(Membership.person_id)))", "Membership"),
])
def test_the_access_check_catches_a_membership_or_enrollment_query(source, table):
    assert {found for _, found in access_queries(ast.parse(source))} == {table}


def test_the_access_check_leaves_creating_rows_and_other_tables_alone():
    source = ("from mentoring.people.models import Membership, Triad\n"
              "def add(db, p, o):\n    db.add(Membership(person_id=p, organization_id=o, role='mentor'))\n"
              "    return db.exec(select(Triad).where(Triad.mentee_id == p)).all()")
    assert access_queries(ast.parse(source)) == []
