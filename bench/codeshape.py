"""Print the code's shape: modules per package and the length of every web handler.

    python bench/codeshape.py

A handler is a function in web/ decorated with a Litestar route (@get, @post, …); its length counts
the lines from `def` to its last statement, decorators and blank lines excluded.
"""

from __future__ import annotations

import ast
import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tasklists", "mentoring", "exports", "web")
ROUTES = {"get", "post", "put", "patch", "delete", "route"}


def modules_per_package() -> Counter[str]:
    counts: Counter[str] = Counter()
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if "migrations" in rel.parts or path.name == "__init__.py":
                continue
            counts[".".join(rel.parts[:-1])] += 1
    return counts


def handler_lengths() -> list[tuple[int, str]]:
    found = []
    for path in sorted((ROOT / "web").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            names = {_decorator_name(d) for d in node.decorator_list}
            if names & ROUTES:
                source = ast.get_source_segment(path.read_text(), node) or ""
                body = [line for line in source.splitlines() if line.strip() and not line.strip().startswith("@")]
                found.append((len(body), f"{path.relative_to(ROOT)}:{node.name}"))
    return sorted(found)


def _decorator_name(node: ast.expr) -> str:
    node = node.func if isinstance(node, ast.Call) else node
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def main() -> int:
    print("modules per package (without __init__ and migrations)")
    for package, count in sorted(modules_per_package().items()):
        print(f"  {package:<24} {count}")
    lengths = handler_lengths()
    sizes = [n for n, _ in lengths]
    longest, where = lengths[-1]
    print(f"web handlers: {len(sizes)}, median {statistics.median(sizes)} lines, longest {longest} ({where})")
    for n, name in lengths[-5:-1][::-1]:
        print(f"  next longest: {n} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
