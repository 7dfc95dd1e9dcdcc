"""The gateway's import rules, read from the source with ``ast`` (imports inside functions count too).

- No import cycles between the gateway's modules.
- The demo-data simulator is a command (``python -m handoff simulate``): only ``handoff.__main__`` imports it, so
  nothing on the live message path does.
- The REST views are wired in by the app only: other routes share ``handoff.http``, not the views.
"""

from __future__ import annotations

import ast
from pathlib import Path

from bot.launcher import ROOT

PACKAGE = ROOT / "handoff"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def gateway_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The gateway modules ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in known:
                found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if f"{node.module}.{alias.name}" in known)
    return found - {"handoff"}


def import_graph() -> dict[str, set[str]]:
    modules = gateway_modules()
    known = set(modules)
    return {name: imports_of(path, known) - {name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def importers_of(graph: dict[str, set[str]], module: str) -> set[str]:
    return {name for name, deps in graph.items() if module in deps}


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert len(graph) > 40
    assert "handoff.store" in graph["handoff.conversations"]
    assert "handoff.insights" in graph["handoff.openapi"]


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_command_line_imports_the_simulator() -> None:
    assert importers_of(import_graph(), "handoff.simulate") == {"handoff.__main__"}


def test_only_the_app_imports_the_rest_views() -> None:
    assert importers_of(import_graph(), "handoff.views") == {"handoff.app"}
