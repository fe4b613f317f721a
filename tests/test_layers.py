"""The layers, checked: the domain imports no web code, neither itself nor through what it imports.

A small reader of `import` statements (with `ast`, no import is executed) instead of
import-linter: it runs in the test suite, which is what CI runs, and needs no tool or
configuration beside it. Imports inside functions count (they run when the function does);
imports under `if TYPE_CHECKING:` do not (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "shop_api"

WEB = (
    "shop_api.web.routes",
    "shop_api.web.schemas",
    "shop_api.web.middleware",
    "shop_api.web.endpoint",
    "shop_api.web.auth",
    "shop_api.web.admin",
    "aiohttp",
    "aiohttp_jinja2",
)


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in (ROOT / PACKAGE).rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            yield from (n for branch in child.orelse for n in _import_nodes_of(branch))
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from _import_nodes(child)


def _import_nodes_of(node: ast.AST):
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    yield from _import_nodes(node)


def imports_of(module: str) -> set[str]:
    """The modules `module` imports (`from a import b` imports a, and a.b if it is a module)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, *([node.module] if node.module else [])])
        names.add(base)
        names.update(
            f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES
        )
    return names


def _with_parents(name: str) -> list[str]:
    """Importing a.b.c runs a and a.b first."""
    parts = name.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts) + 1)]


def chains_to(start: str, forbidden: tuple[str, ...]) -> list[list[str]]:
    """Every forbidden name `start` reaches, each with the chain of imports that reaches it."""
    seen = {start: [start]}
    todo = [start]
    found = []
    while todo:
        module = todo.pop()
        for name in sorted(imports_of(module)):
            for target in _with_parents(name):
                if target in seen:
                    continue
                chain = [*seen[module], target]
                if any(target == f or target.startswith(f + ".") for f in forbidden):
                    found.append(chain)
                    seen[target] = chain
                elif target in MODULES:
                    seen[target] = chain
                    todo.append(target)
    return found


def test_the_domain_imports_no_web_code():
    domain = sorted(name for name in MODULES if name.startswith("shop_api.domain"))
    assert "shop_api.domain.orders" in domain
    chains = [" -> ".join(chain) for module in domain for chain in chains_to(module, WEB)]
    assert chains == []


def test_the_checker_sees_the_web_imports_that_are_there():
    """Without this, a reader that found no import at all would pass the test above."""
    assert ["shop_api.web.routes.orders", "aiohttp"] in chains_to("shop_api.web.routes.orders", WEB)
    reached = [chain[-1] for chain in chains_to("shop_api.web.routes.orders", ("shop_api.db",))]
    assert reached == ["shop_api.db"]
