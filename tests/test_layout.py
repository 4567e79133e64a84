"""The house plan (DESIGN.md) checked on the source: imports point down the layers, no import circle, the CLI
is imported by nobody, judges know no benchmark, no module grows past ~400 lines, and the README's layout
names every package and module.

Imports are read from the ast, at any depth (a function-level import is a dependency too), so the checks need
no import of the package and see the lazy imports that keep ``--help`` fast.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "starling_eval"

# DESIGN.md's layers, top to bottom: an import only ever points down (or within its own layer)
LAYERS = {"cli": 1, "goodhart": 2, "gate": 2, "report": 2, "pipeline": 3, "registry": 4, "adapters": 5, "judges": 5,
          "backends": 6, "store": 7, "data": 7, "stats": 7, "spec": 7, "provenance": 7}
MAX_LINES = 400
# modules allowed past MAX_LINES, with why (remove an entry when the module is split)
LONG_MODULES = {
    "starling_eval.testing.server": "the local test server stands outside the harness; it is being extended with "
                                    "fault modes in another branch, and split after that lands",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The module ``name`` lives in: itself, or the longest module prefix (``pkg.mod.attr`` -> ``pkg.mod``)."""
    known = modules()
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(path: Path, module: str) -> set[str]:
    """The starling_eval modules ``path`` imports, at any depth of its code."""
    is_package = path.name == "__init__.py"
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(_resolve(a.name) for a in node.names if a.name.split(".")[0] == "starling_eval")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + is_package]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] == "starling_eval":
                found.update(_resolve(f"{source}.{a.name}") or _resolve(source) for a in node.names)
    found.discard(None)
    found.discard(module)
    return found  # type: ignore[return-value]


@cache
def graph() -> dict[str, frozenset[str]]:
    return {m: frozenset(imports_of(p, m)) for m, p in modules().items()}


def _cycles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_circle_between_modules_or_packages():
    assert _cycles(graph()) == []
    packages: dict[str, set[str]] = {}
    for module, deps in graph().items():
        packages.setdefault(_top(module), set()).update(_top(d) for d in deps if _top(d) != _top(module))
    assert _cycles({k: frozenset(v) for k, v in packages.items()}) == []


def test_imports_point_down_the_layers():
    upward = [f"{m} -> {d}" for m, deps in graph().items() for d in sorted(deps)
              if _top(m) in LAYERS and _top(d) in LAYERS and LAYERS[_top(d)] < LAYERS[_top(m)]]
    assert upward == []


def test_nothing_outside_the_cli_imports_it():
    outside = [f"{m} -> {d}" for m, deps in graph().items() for d in sorted(deps)
               if _top(d) == "cli" and _top(m) != "cli" and m != "starling_eval.__main__"]
    assert outside == []
    for script in sorted((REPO / "benchmarks").glob("*.py")):
        assert not {d for d in imports_of(script, script.stem) if _top(d) == "cli"}, script


def test_no_cli_command_module_imports_another():
    shared = {"starling_eval.cli.options", "starling_eval.cli.specs", "starling_eval.cli.errors",
              "starling_eval.cli.console", "starling_eval.cli.cards"}
    commands = {m for m in modules() if _top(m) == "cli" and m != "starling_eval.cli"} - shared
    assert commands, "no command modules found"
    crossing = [f"{m} -> {d}" for m in sorted(commands) for d in sorted(graph()[m]) if d in commands]
    assert crossing == []
    assert all(d in shared or _top(d) != "cli" for m in shared for d in graph()[m])


def test_judges_know_no_benchmark_and_adapters_only_describe():
    judges = [f"{m} -> {d}" for m, deps in graph().items() if _top(m) == "judges"
              for d in sorted(deps) if _top(d) in ("adapters", "registry", "pipeline")]
    assert judges == []
    adapters = [f"{m} -> {d}" for m, deps in graph().items() if _top(m) == "adapters"
                for d in sorted(deps) if _top(d) in ("backends", "judges", "store", "pipeline", "registry")]
    assert adapters == []
    library = [f"{m} -> {d}" for m, deps in graph().items() if _top(m) != "testing"
               for d in sorted(deps) if _top(d) == "testing"]
    assert library == []


def test_no_module_is_longer_than_about_400_lines():
    long = {m: n for m, p in modules().items()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES and m not in LONG_MODULES}
    assert long == {}


def _readme_layout() -> dict[str, str]:
    """README's layout block as {path: its text}: ``"cli"``, ``"adapters/mtbench"``, ``"spec.py"``, ... (a line
    naming a path, indented two spaces per level under ``starling_eval/``, and the lines that continue it)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    entries: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    current = None
    for line in block.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        name = stripped.split()[0] if stripped else ""
        if 2 <= indent <= 6 and name.endswith(("/", ".py")) and current != "end":
            stack = [(i, n) for i, n in stack if i < indent]
            path = "/".join([n for _, n in stack] + [name.rstrip("/")])
            entries[path] = stripped
            stack.append((indent, name.rstrip("/")))
            current = path
        elif indent == 0 and stripped and not stripped.startswith("starling_eval/"):
            current = "end"
        elif current not in (None, "end") and indent > 6:
            entries[current] += " " + stripped
    return entries


def test_the_readme_layout_names_every_package_and_module():
    entries = _readme_layout()
    missing = []
    for directory in sorted(p for p in PACKAGE.rglob("*") if p.is_dir() and any(p.glob("*.py"))):
        rel = directory.relative_to(PACKAGE).as_posix()
        if rel != "." and rel not in entries:
            missing.append(f"{rel}/")
            continue
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", entries.get(rel, "")))
        for module in sorted(directory.glob("*.py")):
            if module.stem.startswith("__"):
                continue
            child = module.name if rel == "." else f"{rel}/{module.name}"
            if child not in entries and module.stem not in words:
                missing.append(child)
    assert missing == []
