"""The packages depend on each other in one direction, and no modules import each other in a circle.

    channels ──► gateway ◄── handoff          (a ──► b: b may import a, never the other way)
                    ▲           │
                    └─ records ◄┘

    store ──► every other package

``gateway`` ties the parts together (the app, the router, the API, the CLI) and may import any of them.
``store`` (the Redis key names, the lease, append-once) imports no other package of the project, and every
package may import it. Besides it, ``channels`` (the adapters) and ``handoff`` (the working desk in Redis: cases,
queue, lifecycle) import no other package of the project; ``records`` (the SQL system of record with its search,
reports and export) imports only ``handoff`` (the case's shape, lifecycle and labels). Every import counts, at a
module's top, inside a function or under ``TYPE_CHECKING``: a circle that only type checkers walk is still two
modules that cannot be read apart.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

from tests.test_packaging import shipped_packages

ROOT = Path(__file__).resolve().parent.parent

# What each package must not import (gateway, at the top, may import them all).
FORBIDDEN = {
    "channels": {"gateway", "handoff", "records"},
    "handoff": {"gateway", "records"},
    "records": {"gateway", "channels"},
    "store": {"channels", "gateway", "handoff", "records"},
}


def project_packages(root: Path = ROOT) -> list[str]:
    """The top-level packages the wheel ships (pyproject.toml)."""
    return sorted({name.split(".")[0] for name in shipped_packages(root)})


def modules_of(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of the packages by its dotted name (a package by its own name, for its ``__init__``)."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_names(module: str, path: Path) -> Iterator[str]:
    """Every name the module imports, anywhere in it, as a dotted name (``from a import b`` gives ``a.b``,
    which may be a module or a name in ``a``)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            yield from (f"{source}.{alias.name}" for alias in node.names)


def dependencies(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Which project modules each module imports: the imported module itself, or the nearest package or module
    that holds the imported name."""
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(module, path):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that reach each other through their imports (Tarjan's strongly connected
    components of more than one module), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a long chain of imports cannot exhaust Python's recursion limit.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def wrong_direction(graph: dict[str, set[str]]) -> list[str]:
    """``a imports b`` for each import that goes against FORBIDDEN."""
    return sorted(f"{module} imports {target}" for module, targets in graph.items() for target in targets
                  if target.split(".")[0] in FORBIDDEN.get(module.split(".")[0], ()))


def project_graph() -> dict[str, set[str]]:
    return dependencies(modules_of(ROOT, project_packages()))


def test_every_package_the_rules_name_is_shipped() -> None:
    assert set(FORBIDDEN) | {"gateway"} <= set(project_packages())


def test_imports_go_one_way_channels_and_handoff_and_records_into_gateway() -> None:
    assert wrong_direction(project_graph()) == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert circles(project_graph()) == []


def across_channels(graph: dict[str, set[str]]) -> list[str]:
    """Imports from one channel's folder into another's (the registry, ``channels/__init__``, lists them all)."""
    def folder(module: str) -> str | None:
        parts = module.split(".")
        return parts[1] if parts[0] == "channels" and len(parts) > 2 else None

    return sorted(f"{module} imports {target}" for module, targets in graph.items() for target in targets
                  if folder(module) and folder(target) and folder(module) != folder(target))


def test_a_channels_folder_never_imports_another_channels_folder() -> None:
    assert across_channels(project_graph()) == []


def test_the_check_names_an_import_from_another_channels_folder(tmp_path: Path) -> None:
    write(tmp_path, {"channels/__init__.py": "", "channels/base.py": "",
                     "channels/a/__init__.py": "",
                     "channels/a/x.py": "from channels.b.y import z\nfrom channels import base\n",
                     "channels/b/__init__.py": "", "channels/b/y.py": "z = 1\n"})
    assert across_channels(dependencies(modules_of(tmp_path, ["channels"]))) == ["channels.a.x imports channels.b.y"]


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def test_the_check_sees_circles_through_relative_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    write(tmp_path, {
        "a/__init__.py": "",
        "a/one.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a.two import Two\n",
        "a/two.py": "def late():\n    from .three import x\n",
        "a/three.py": "from . import one\nx = 1\n",
        "a/four.py": "import a.one\n",
        "b/__init__.py": "from b.inner import thing\n",
        "b/inner.py": "from b import other\nthing = 1\n",  # a package importing its own submodule: no circle
        "b/other.py": "",
    })
    graph = dependencies(modules_of(tmp_path, ["a", "b"]))
    assert circles(graph) == [["a.one", "a.three", "a.two"]]
    assert graph["a.four"] == {"a.one"} and graph["b.inner"] == {"b.other"}


def test_the_check_names_an_import_against_the_direction(tmp_path: Path) -> None:
    write(tmp_path, {"handoff/__init__.py": "", "handoff/x.py": "from records.y import z\n",
                     "records/__init__.py": "", "records/y.py": "from handoff import x\nz = 1\n"})
    graph = dependencies(modules_of(tmp_path, ["handoff", "records"]))
    assert wrong_direction(graph) == ["handoff.x imports records.y"]
