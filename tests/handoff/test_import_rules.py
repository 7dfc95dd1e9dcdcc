"""The gateway's import rules, read from the source with ``ast`` (imports inside functions count too).

1. Layers import one way: ``transport`` > ``usecases`` > ``storage`` > ``domain``. A module imports its own layer or
   a lower one, never a higher one, and never the composition root (``handoff.app``, ``handoff.__main__``). The base
   modules ``handoff.settings`` and ``handoff.logref`` may be imported by everyone and import nothing of the gateway
   (the standard library, ``contract`` and third-party packages only).
2. Analytics sits beside the live path: nothing imports ``handoff.analytics`` but the composition root and
   ``transport.openapi`` (which documents the analytics routes of ``analytics.insights``). Analytics itself may import
   analytics, domain, storage, the base modules and ``transport.http`` (what every HTTP route shares), nothing else.
3. Only ``handoff.__main__`` imports the simulator (a command: nothing on the live message path does), and only the
   app imports the REST views (other routes share ``handoff.transport.http``).
4. Domain modules are pure: no aiohttp, socketio, sqlalchemy, redis (nor their drivers) anywhere in them.
5. No import cycles between the gateway's modules.
6. SQL stays in storage: outside ``handoff.storage`` and ``handoff.analytics`` (which reads event rows for metrics), no
   module imports sqlalchemy, nor the ORM tables of ``handoff.storage.models`` (its plain names ``utcnow``,
   ``AGENT_ROLES`` and ``CONVERSATION_STATES`` are fine). One exception, for typing only: a use case whose functions
   take the caller's transaction may import ``sqlalchemy.ext.asyncio.AsyncSession`` under ``if TYPE_CHECKING:``.
Each rule's checker is also run on a small made-up graph or source that breaks it, so a checker that cannot fail
is caught.
"""

from __future__ import annotations

import ast
from pathlib import Path

from bot.launcher import ROOT

PACKAGE = ROOT / "handoff"

LAYERS = ("domain", "storage", "usecases", "transport")  # lowest first
ANALYTICS = "analytics"
BASE = frozenset({"handoff.settings", "handoff.logref"})
COMPOSITION_ROOT = frozenset({"handoff.app", "handoff.__main__"})
# What analytics may import of the live layers besides domain and storage.
ANALYTICS_MAY_IMPORT = frozenset({"handoff.transport.http"})
# The one live module that may import analytics, and what of it.
ANALYTICS_IMPORTERS = {"handoff.transport.openapi": frozenset({"handoff.analytics.insights"})}
ONLY_IMPORTED_BY = {
    "handoff.analytics.simulate": frozenset({"handoff.__main__"}),
    "handoff.transport.views": frozenset({"handoff.app"}),
}
# Third-party packages that do I/O (web, sockets, databases): never in the domain.
IO_PACKAGES = frozenset({"aiohttp", "socketio", "engineio", "sqlalchemy", "alembic", "redis", "asyncpg", "aiosqlite"})
# Where SQLAlchemy queries may be built; what the others may import of it (under ``if TYPE_CHECKING:``) and of the models.
SQL_PARTS = frozenset({"storage", ANALYTICS})
TYPING_ONLY_SQL = frozenset({("sqlalchemy.ext.asyncio", "AsyncSession")})
MODELS = "handoff.storage.models"
PLAIN_MODEL_NAMES = frozenset({"utcnow", "AGENT_ROLES", "CONVERSATION_STATES"})


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
            # ``from handoff.storage import events`` imports the module events; the package counts for other names.
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & known
            found |= submodules
            if node.module in known and len(submodules) < len(node.names):
                found.add(node.module)
    return found - {"handoff"}


def import_graph() -> dict[str, set[str]]:
    modules = gateway_modules()
    known = set(modules)
    return {name: imports_of(path, known) - {name} for name, path in modules.items()}


def top_level_imports(source: str) -> set[str]:
    """The top-level package of every absolute import in ``source`` (``sqlalchemy`` for ``from sqlalchemy.orm ...``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


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


def part_of(module: str) -> str:
    """``domain`` ... ``transport``, ``analytics``, ``base`` or ``root`` (the package and the composition root)."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in (*LAYERS, ANALYTICS):
        return parts[1]
    return "base" if module in BASE else "root"


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Rule 1: imports up the layers, of the composition root, or of the gateway by a base module."""
    found = []
    for name, deps in sorted(graph.items()):
        part = part_of(name)
        for dep in sorted(deps):
            target = part_of(dep)
            if part == "base":
                found.append(f"{name} -> {dep}: a base module imports nothing of the gateway")
            elif part in LAYERS and target == "root":
                found.append(f"{name} -> {dep}: the composition root is imported by nobody")
            elif part in LAYERS and target in LAYERS and LAYERS.index(target) > LAYERS.index(part):
                found.append(f"{name} -> {dep}: {part} imports the higher layer {target}")
    return found


def analytics_violations(graph: dict[str, set[str]]) -> list[str]:
    """Rule 2: the live layers import no analytics (but openapi -> insights); analytics imports only what it may."""
    found = []
    for name, deps in sorted(graph.items()):
        part = part_of(name)
        for dep in sorted(deps):
            target = part_of(dep)
            if part in (*LAYERS, "base") and target == ANALYTICS and dep not in ANALYTICS_IMPORTERS.get(name, ()):
                found.append(f"{name} -> {dep}: the live path imports analytics")
            elif part == ANALYTICS and target in ("usecases", "transport", "root") and dep not in ANALYTICS_MAY_IMPORT:
                found.append(f"{name} -> {dep}: analytics imports {target}")
    return found


def sole_importer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Rule 3: the simulator and the REST views are imported only by their one importer."""
    return [f"{importer} -> {module}: only {', '.join(sorted(allowed))} may import it"
            for module, allowed in sorted(ONLY_IMPORTED_BY.items())
            for importer in sorted(importers_of(graph, module) - allowed)]


def io_violations(sources: dict[str, str]) -> list[str]:
    """Rule 4: I/O packages imported by a domain module (``sources``: module name -> source text)."""
    return [f"{name} imports {package}" for name, source in sorted(sources.items()) if part_of(name) == "domain"
            for package in sorted(top_level_imports(source) & IO_PACKAGES)]


def typing_only_nodes(tree: ast.Module) -> set[int]:
    """Ids of the nodes inside ``if TYPE_CHECKING:`` blocks (never run)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            found.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    return found


def sql_violations(sources: dict[str, str]) -> list[str]:
    """Rule 6: sqlalchemy or the ORM tables imported outside storage and analytics (``sources``: name -> source)."""
    found = []
    for name, source in sorted(sources.items()):
        if part_of(name) in SQL_PARTS:
            continue
        tree = ast.parse(source)
        typing_only = typing_only_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [f"{name} imports {alias.name}" for alias in node.names
                          if alias.name.split(".")[0] == "sqlalchemy" or alias.name == MODELS]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    if node.module.split(".")[0] == "sqlalchemy":
                        if (node.module, alias.name) not in TYPING_ONLY_SQL:
                            found.append(f"{name} imports {node.module}.{alias.name}")
                        elif id(node) not in typing_only:
                            found.append(f"{name} imports {node.module}.{alias.name} outside `if TYPE_CHECKING:`")
                    elif (node.module == MODELS and alias.name not in PLAIN_MODEL_NAMES) or (
                        node.module == "handoff.storage" and alias.name == "models"
                    ):
                        found.append(f"{name} imports {node.module}.{alias.name}")
    return found


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert len(graph) > 50
    assert {part_of(name) for name in graph} == {*LAYERS, ANALYTICS, "base", "root"}
    assert "handoff.storage.conversations" in graph["handoff.usecases.conversations"]
    assert "handoff.analytics.insights" in graph["handoff.transport.openapi"]
    assert "handoff.analytics.simulate" in graph["handoff.__main__"]  # the sole importers do import
    assert "handoff.transport.views" in graph["handoff.app"]
    assert "handoff.analytics.metrics" in graph["handoff.analytics.prediction"]  # imports inside functions count
    assert "handoff.transport.http" in graph["handoff.analytics.insights"]


def test_layers_import_downward_only() -> None:
    assert layer_violations(import_graph()) == []


def test_the_layer_check_finds_an_upward_import() -> None:
    graph = {
        "handoff.domain.rules": {"handoff.storage.rows", "handoff.settings"},
        "handoff.storage.rows": {"handoff.domain.rules", "handoff.logref"},
        "handoff.usecases.work": {"handoff.transport.door", "handoff.storage.rows"},
        "handoff.transport.door": {"handoff.usecases.work", "handoff.app"},
        "handoff.settings": {"handoff.domain.rules"},
        "handoff.app": {"handoff.transport.door"},
    }
    assert layer_violations(graph) == [
        "handoff.domain.rules -> handoff.storage.rows: domain imports the higher layer storage",
        "handoff.settings -> handoff.domain.rules: a base module imports nothing of the gateway",
        "handoff.transport.door -> handoff.app: the composition root is imported by nobody",
        "handoff.usecases.work -> handoff.transport.door: usecases imports the higher layer transport",
    ]


def test_analytics_stays_beside_the_live_path() -> None:
    assert analytics_violations(import_graph()) == []


def test_the_analytics_check_finds_a_live_import_of_analytics() -> None:
    graph = {
        "handoff.usecases.gateway": {"handoff.analytics.prediction"},
        "handoff.transport.openapi": {"handoff.analytics.insights", "handoff.analytics.metrics"},
        "handoff.settings": {"handoff.analytics.metrics"},
        "handoff.analytics.insights": {"handoff.transport.http", "handoff.storage.agents", "handoff.analytics.metrics"},
        "handoff.analytics.metrics": {"handoff.usecases.gateway", "handoff.transport.views", "handoff.app"},
        "handoff.app": {"handoff.analytics.insights"},
        "handoff.__main__": {"handoff.analytics.prediction"},
    }
    assert analytics_violations(graph) == [
        "handoff.analytics.metrics -> handoff.app: analytics imports root",
        "handoff.analytics.metrics -> handoff.transport.views: analytics imports transport",
        "handoff.analytics.metrics -> handoff.usecases.gateway: analytics imports usecases",
        "handoff.settings -> handoff.analytics.metrics: the live path imports analytics",
        "handoff.transport.openapi -> handoff.analytics.metrics: the live path imports analytics",
        "handoff.usecases.gateway -> handoff.analytics.prediction: the live path imports analytics",
    ]


def test_only_the_command_line_imports_the_simulator_and_only_the_app_the_views() -> None:
    assert sole_importer_violations(import_graph()) == []


def test_the_sole_importer_check_finds_another_importer() -> None:
    graph = {
        "handoff.__main__": {"handoff.analytics.simulate"},
        "handoff.app": {"handoff.transport.views", "handoff.analytics.simulate"},
        "handoff.analytics.insights": {"handoff.transport.views"},
    }
    assert sole_importer_violations(graph) == [
        "handoff.app -> handoff.analytics.simulate: only handoff.__main__ may import it",
        "handoff.analytics.insights -> handoff.transport.views: only handoff.app may import it",
    ]


def test_the_domain_does_no_io() -> None:
    sources = {name: path.read_text() for name, path in gateway_modules().items()}
    assert len([name for name in sources if part_of(name) == "domain"]) > 10
    assert io_violations(sources) == []


def test_the_io_check_finds_an_io_import_even_inside_a_function() -> None:
    sources = {
        "handoff.domain.rules": "import sqlalchemy as sa\n\ndef f():\n    from redis.asyncio import Redis\n",
        "handoff.domain.fine": "import re\nfrom contract.redact import redact\nfrom handoff.domain import states\n",
        "handoff.storage.rows": "import sqlalchemy\n",  # storage may
    }
    assert io_violations(sources) == ["handoff.domain.rules imports redis", "handoff.domain.rules imports sqlalchemy"]


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_sql_stays_in_storage() -> None:
    sources = {name: path.read_text() for name, path in gateway_modules().items()}
    assert "from sqlalchemy.ext.asyncio import AsyncSession" in sources["handoff.usecases.lockout"]  # typing only
    assert sql_violations(sources) == []


def test_the_sql_check_finds_queries_outside_storage() -> None:
    typing_only = "import typing\n\nif typing.TYPE_CHECKING:\n    from sqlalchemy.ext.asyncio import AsyncSession\n"
    sources = {
        "handoff.usecases.work": "from sqlalchemy import select\nfrom sqlalchemy.ext.asyncio import AsyncSession\n",
        "handoff.usecases.fine": typing_only + "from handoff.storage.models import AGENT_ROLES, utcnow\n",
        "handoff.transport.door": "def f():\n    import sqlalchemy.orm\n    from handoff.storage.models import Event\n",
        "handoff.app": "from handoff.storage import db, models\n",
        "handoff.domain.rules": typing_only.replace("AsyncSession", "AsyncSession, async_sessionmaker"),
        "handoff.storage.rows": "from sqlalchemy import select\nfrom handoff.storage.models import Conversation\n",
        "handoff.analytics.metrics": "from sqlalchemy import func\nfrom handoff.storage.models import Event\n",
    }
    assert sql_violations(sources) == [
        "handoff.app imports handoff.storage.models",
        "handoff.domain.rules imports sqlalchemy.ext.asyncio.async_sessionmaker",
        "handoff.transport.door imports sqlalchemy.orm",
        "handoff.transport.door imports handoff.storage.models.Event",
        "handoff.usecases.work imports sqlalchemy.select",
        "handoff.usecases.work imports sqlalchemy.ext.asyncio.AsyncSession outside `if TYPE_CHECKING:`",
    ]
