"""No module imports from a layer above its own, and the core imports no web framework.

Layers, bottom to top: the shared vocabularies and tools; the catalog; storage; the services
bundle; the flow protocols; the connection lifecycle; the web glue (pages, errors to responses);
the three web surfaces (browser routes, REST API, dashboard — peers that never import each
other); and the entry points (app, cli).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from server.settings import PROJECT_ROOT

SERVER = PROJECT_ROOT / "server"

LAYERS: dict[str, int] = {
    "errors": 0,
    "error_texts": 0,
    "settings": 0,
    "languages": 0,
    "event_types": 0,
    "audit_actions": 0,
    "crypto": 0,
    "signing": 0,
    "addresses": 0,
    "ratelimit": 0,
    "http": 0,
    "text": 0,
    "logs": 0,
    "metrics": 0,
    "proxies": 0,
    "catalog": 1,
    "sandbox": 1,
    "db": 2,
    "services": 3,
    "flow": 4,
    "lifecycle": 5,
    "passthrough": 6,
    "i18n": 6,
    "pages": 6,
    "error_responses": 6,
    "middleware": 6,
    "assets": 6,
    "throttle": 6,
    "routes": 7,
    "api": 7,
    "dashboard": 7,
    "app": 8,
    "cli": 8,
    "generated": 8,
}
FRAMEWORK_FREE = ("catalog", "sandbox", "db", "services", "flow", "lifecycle", "passthrough")


def group(module: str) -> str:
    """server.flow.oauth2 → flow; server.errors → errors."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "server"


def module_of(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


MODULES = sorted(p for p in SERVER.rglob("*.py") if module_of(p) != "server")


def test_every_module_is_placed_in_a_layer() -> None:
    assert {group(module_of(p)) for p in MODULES} <= set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_of(p))
def test_a_module_imports_nothing_from_a_layer_above_it(path: Path) -> None:
    mine = group(module_of(path))
    upward = [m for m in imports(path) if m.startswith("server.") and LAYERS[group(m)] > LAYERS[mine]]
    assert upward == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_of(p))
def test_the_web_surfaces_do_not_import_each_other(path: Path) -> None:
    mine = group(module_of(path))
    peers = [
        m
        for m in imports(path)
        if m.startswith("server.") and group(m) != mine and LAYERS[group(m)] == LAYERS[mine] == LAYERS["routes"]
    ]
    assert peers == []


@pytest.mark.parametrize("path", [p for p in MODULES if group(module_of(p)) in FRAMEWORK_FREE], ids=module_of)
def test_the_core_imports_no_web_framework(path: Path) -> None:
    assert [m for m in imports(path) if m.split(".")[0] in ("starlette", "uvicorn", "jinja2")] == []


def test_the_layer_check_sees_an_upward_import() -> None:
    # The checks above must be able to fail: an import of the routes from flow/ is upward.
    assert LAYERS[group("server.routes.auth")] > LAYERS[group("server.flow.oauth2")]
    assert "server.db" in imports(SERVER / "flow" / "steps.py")
