"""The import structure of the deskwoot package: no import circles, and every module imports on
its own.

A circle (modules that import each other, at module level or inside a function) makes the
import order matter and hides the layering (ARCHITECTURE §1): whoever is imported first sees
the other half-built. The static check reads the source, so it also sees imports that sit
inside functions and would only bite at call time; `if TYPE_CHECKING:` blocks never run and
are skipped. The second check imports each module alone in a fresh interpreter, which catches
a module that only works when something else happened to be imported before it.
"""

from __future__ import annotations

import ast
import importlib
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "deskwoot"
# Alembic runs these as scripts (env.py reads the running migration's context), not imports.
SKIPPED = ("deskwoot.migrations.versions", "deskwoot.migrations.env")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """Every import statement in the tree, at any depth, except under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The deskwoot module `name` is, or the nearest package above it that is one."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """module → the deskwoot modules it imports (a package's __init__ counts as a module)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                if node.level:  # relative: from the module's package, up level - 1
                    base = name.split(".")
                    base = base if is_package else base[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    source = ".".join([*base, node.module] if node.module else base)
                else:
                    source = node.module or ""
                # `from pkg import mod` is an edge to the submodule, `from pkg import name`
                # one to the package that defines the name.
                candidates = [
                    f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                    for alias in node.names
                ]
            for candidate in candidates:
                if candidate != "deskwoot" and not candidate.startswith("deskwoot."):
                    continue
                target = _resolve(candidate, modules)
                if target is not None and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def tangles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan): in each, every
    module reaches every other through imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a deep chain of imports cannot hit the recursion limit.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
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
                        components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest circle per tangle, to print."""
    return [_circle(graph, set(component)) for component in tangles(graph)]


def _circle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, to print."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no circle through {start}")  # a component always has one


def test_no_import_cycles():
    graph = import_graph()
    report = []
    for component in tangles(graph):
        line = " → ".join(_circle(graph, set(component)))
        if len(component) > 2:
            line += f"\n    (tangled together: {', '.join(component)})"
        report.append(line)
    assert not report, "import circles:\n" + "\n".join(report)


def test_the_checker_sees_circles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def _third_party(modules: dict[str, Path]) -> list[str]:
    """Every other package the deskwoot modules import (top-level import statements)."""
    names: set[str] = set()
    for path in modules.values():
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module)
    return sorted(n for n in names if n != "deskwoot" and not n.startswith("deskwoot."))


def _import_alone(module: str) -> tuple[str, str | None]:
    """Import `module` in this process, which must hold no deskwoot module yet."""
    loaded = [name for name in sys.modules if name.split(".")[0] == "deskwoot"]
    if loaded:
        return module, f"the process was not fresh: {loaded[:3]} already imported"
    try:
        importlib.import_module(module)
    except Exception as exc:  # the answer is the failure itself, whatever it is
        return module, f"{type(exc).__name__}: {exc}"
    return module, None


def test_every_module_imports_alone():
    """Each module in a process of its own, forked from a server that has imported the other
    packages deskwoot uses (Flask, SQLAlchemy, the MCP SDK…) but no deskwoot module: as fresh
    as `python -c "import X"` for deskwoot's own imports, without paying ~0.5 s of third-party
    imports a hundred times. Two at a time: the machine this runs on may be shared."""
    modules = _modules()
    names = [name for name in modules if not name.startswith(SKIPPED)]
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_third_party(modules))
    with ProcessPoolExecutor(max_workers=2, mp_context=context, max_tasks_per_child=1) as pool:
        failures = [(m, err) for m, err in pool.map(_import_alone, names) if err is not None]
    assert not failures, "modules that fail to import alone:\n" + "\n".join(
        f"{m}: {err}" for m, err in failures
    )


# What a web worker must not import, even after serving tool calls (reads and a write, both
# protocol eras): each is only needed by a command, an inbound email, an invalid tool call or
# the SDK's own client/server runtime, and costs every gunicorn worker memory
# (bench/README.md, RSS per worker).
NOT_IN_A_WEB_WORKER = ("alembic", "inscriptis", "jsonschema", "mcp", "starlette", "uvicorn")

_SERVE_ONE_CALL = """
import json, sys
from deskwoot import create_app
from deskwoot.extensions import db
from deskwoot.policy import SCOPES, member_actor
from deskwoot.services.access import mcp_switch, tokens
from tests import factories as f

app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x" * 32})
with app.app_context():
    db.create_all()  # no migrations: Alembic is one of the imports a worker must not make
    workspace = f.make_workspace(plan="enterprise")
    inbox = f.make_inbox(workspace)
    admin = f.make_user(workspace, role="admin")
    mcp_switch.set_enabled(member_actor(admin, workspace), True)
    conversation = f.make_conversation(inbox, content="Where is my order?")
    token = tokens.mint(member_actor(admin, workspace), "bot", list(SCOPES)).plaintext
    db.session.commit()
    display_id = conversation.display_id
client = app.test_client()
auth = {"Accept": "application/json", "Authorization": f"Bearer {token}"}
calls = [
    ("tools/list", {}),
    ("tools/call", {"name": "get_conversation", "arguments": {"conversation_id": display_id}}),
    ("tools/call", {"name": "list_conversations", "arguments": {}}),
    ("tools/call", {"name": "add_private_note",
                    "arguments": {"conversation_id": display_id, "body": "checked"}}),
]
for n, (method, params) in enumerate(calls):
    answer = client.post(
        "/api/mcp", json={"jsonrpc": "2.0", "id": n, "method": method, "params": params},
        headers=auth,
    ).get_json()
    assert "result" in answer and not answer["result"].get("isError"), answer
modern = {**auth, "MCP-Protocol-Version": "2026-07-28"}
client.post("/api/mcp", json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"}, headers=modern)
client.get("/login")
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_a_web_worker_leaves_the_heavy_imports_alone():
    import json
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", _SERVE_ONE_CALL],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=True,
    )
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert not loaded & set(NOT_IN_A_WEB_WORKER), sorted(loaded & set(NOT_IN_A_WEB_WORKER))
    assert "deskwoot_mcp_sdk_inbound" in loaded  # the modern era's ladder, without the SDK
