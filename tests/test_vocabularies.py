"""Each vocabulary has one owner; these tests fail when a copy drifts from it.

Error codes: server/errors.py. Webhook event types: server/event_types.py. Audit actions:
server/audit_actions.py. Auth kinds: server/catalog/kinds.py. Languages: server/languages.py. The
copies are found by reading the source (every `code=` literal, every `type=` given to record_event,
every `action=` given to record_audit, the embed's latchkeyError calls), the generated regions of
the docs and the widget, and the OpenAPI document.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest

from server.api.openapi import document
from server.audit_actions import ACTOR_KINDS, AUDIT_ACTIONS, AuditActionName
from server.catalog.kinds import API_AUTH_STYLES, AUTH_KINDS, FORM_KINDS, REDIRECT_KINDS, ApiAuthStyleName
from server.catalog.loader import SCHEMA_PATH, load_catalog
from server.dashboard.views.activity import ACTION_LABELS
from server.dashboard.views.connections import EVENT_LABELS
from server.dashboard.views.integrations import KIND_LABELS
from server.dashboard.views.webhooks import EVENT_DESCRIPTIONS
from server.db import webhooks as webhook_store
from server.errors import ERROR_CODES, ErrorCodeName, LatchkeyError, codes_seen
from server.event_types import EVENT_TYPES, WEBHOOK_EVENT_TYPES, EventTypeName
from server.flow.context import MODES, THEMES
from server.flow.dispatch import BY_KIND
from server.generated import REGIONS, Region, browser_error_codes, current, drifted
from server.i18n import LOCALE_DIR
from server.languages import LANGS
from server.settings import PROJECT_ROOT

SERVER = PROJECT_ROOT / "server"
CODE_KEYWORDS = {"code", "error_code"}


def _server_sources() -> Iterator[tuple[Path, ast.AST]]:
    for path in sorted(SERVER.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def error_code_literals() -> set[tuple[str, str]]:
    """(place, code) for every error code written as a literal in server/."""
    found: set[tuple[str, str]] = set()
    for path, tree in _server_sources():
        place = str(path.relative_to(PROJECT_ROOT))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg in CODE_KEYWORDS and (value := _literal(keyword.value)):
                        found.add((place, value))
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name == "json_error" and node.args and (value := _literal(node.args[0])):
                    found.add((place, value))
                if name == "error_page" and len(node.args) > 1 and (value := _literal(node.args[1])):
                    found.add((place, value))
            if isinstance(node, ast.Dict):
                for key, value_node in zip(node.keys, node.values, strict=True):
                    if _literal(key) in CODE_KEYWORDS and (value := _literal(value_node)):
                        found.add((place, value))
            if isinstance(node, ast.ClassDef):
                for statement in node.body:
                    if (
                        isinstance(statement, ast.Assign | ast.AnnAssign)
                        and any(getattr(t, "id", "") == "code" for t in _targets(statement))
                        and (value := _literal(statement.value))
                    ):
                        found.add((place, value))
    return found


def _targets(statement: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return statement.targets if isinstance(statement, ast.Assign) else [statement.target]


def test_the_source_scan_finds_the_codes_it_should() -> None:
    codes = {code for _, code in error_code_literals()}
    # A scan that found nothing would pass the next test vacuously.
    assert {"wrong_browser", "state_reused", "issuer_mismatch", "csrf_failed", "payload_too_large"} <= codes


def test_every_error_code_in_the_source_is_registered() -> None:
    unregistered = sorted((place, code) for place, code in error_code_literals() if code not in ERROR_CODES)
    assert unregistered == []


def test_the_registry_and_its_literal_type_list_the_same_codes() -> None:
    assert list(ERROR_CODES) == list(ErrorCodeName.__args__)  # type: ignore[attr-defined]


def test_every_error_class_defaults_to_a_registered_code_and_its_status() -> None:
    classes: list[type[LatchkeyError]] = [LatchkeyError]
    seen = []
    while classes:
        cls = classes.pop()
        seen.append(cls)
        classes.extend(cls.__subclasses__())
        assert cls.code in ERROR_CODES, cls
        error = cls("x")
        assert error.status == ERROR_CODES[cls.code].status
    assert len(seen) >= 10


def test_only_the_embeds_own_codes_have_no_http_status() -> None:
    assert {c for c, e in ERROR_CODES.items() if e.status is None} == set(codes_seen("embed"))


def test_the_openapi_document_lists_the_apis_codes() -> None:
    schema = document("https://latchkey.example")["components"]["schemas"]["Error"]
    assert schema["properties"]["error"]["properties"]["code"]["enum"] == list(codes_seen("api"))


def test_the_embed_script_raises_only_registered_browser_codes() -> None:
    sources = (PROJECT_ROOT / "widget" / "packages" / "core" / "src").glob("*.ts")
    raised = {
        m for path in sources for m in re.findall(r"latchkeyError\((?:[\w.]+ \|\| )?'([a-z_]+)'", path.read_text())
    }
    assert raised >= {"load_failed", "closed", "popup_blocked", "invalid_request", "server_error"}
    assert raised <= set(browser_error_codes())


def test_every_generated_region_matches_its_owner() -> None:
    assert drifted() == [], "run `.venv/bin/python -m server.generated` and commit the result"


@pytest.mark.parametrize("region", REGIONS, ids=lambda r: f"{r.path.name}:{r.name}")
def test_a_generated_region_names_every_item_of_its_owner(region: Region) -> None:
    text = current(region)
    items = {"error-codes": browser_error_codes(), "langs": list(LANGS), "display": [*MODES, *THEMES]}[region.name]
    assert all(item in text for item in items)


def test_the_widgets_error_code_type_is_the_browser_codes() -> None:
    types_ts = (PROJECT_ROOT / "widget" / "packages" / "core" / "src" / "types.ts").read_text()
    union = types_ts.split("export type LatchkeyErrorCode =", 1)[1].split(";", 1)[0]
    assert re.findall(r"'([a-z_]+)'", union) == browser_error_codes()
    assert {"session_required", "issuer_mismatch", "not_found"} <= set(browser_error_codes())


def test_the_protocol_docs_table_lists_the_browser_codes() -> None:
    [table] = [current(r) for r in REGIONS if r.path.name == "protocol.md"]
    assert re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.M) == browser_error_codes()


# --- webhook event types ---------------------------------------------------------------------


def recorded_event_types() -> set[str]:
    found: set[str] = set()
    for _, tree in _server_sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "record_event",
                "_record",
            ):
                for keyword in node.keywords:
                    if keyword.arg == "type":
                        values = (
                            [keyword.value.body, keyword.value.orelse]
                            if isinstance(keyword.value, ast.IfExp)
                            else [keyword.value]
                        )
                        found.update(v for v in map(_literal, values) if v)
                if getattr(node.func, "id", "") == "_record" and len(node.args) > 2 and (v := _literal(node.args[2])):
                    found.add(v)
    return found


def test_every_recorded_event_type_is_known() -> None:
    recorded = recorded_event_types()
    assert {"auth.started", "auth.failed", "connection.created", "connection.deleted"} <= recorded
    assert recorded <= set(EVENT_TYPES)


def test_the_event_types_and_their_literal_type_agree() -> None:
    assert list(EVENT_TYPES) == list(EventTypeName.__args__)  # type: ignore[attr-defined]


def test_webhook_subscriptions_and_the_dashboard_use_the_one_list() -> None:
    assert webhook_store.EVENT_TYPES == WEBHOOK_EVENT_TYPES
    assert set(EVENT_LABELS) == set(EVENT_TYPES)
    assert list(EVENT_DESCRIPTIONS) == list(WEBHOOK_EVENT_TYPES)
    assert "auth.started" in EVENT_TYPES and "auth.started" not in WEBHOOK_EVENT_TYPES


def test_the_readmes_webhook_table_lists_the_webhook_event_types() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    table = readme.split("| event | when | `data` |", 1)[1].split("\n\n", 1)[0]
    assert re.findall(r"^\| `([a-z_.]+)` \|", table, flags=re.M) == list(WEBHOOK_EVENT_TYPES)


# --- audit actions (the activity log) -----------------------------------------------------------


def recorded_audit_actions() -> set[tuple[str, str]]:
    """(place, action) for every action given as a literal (or either branch of one) to record_audit."""
    found: set[tuple[str, str]] = set()
    for path, tree in _server_sources():
        place = str(path.relative_to(PROJECT_ROOT))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "record_audit"
            ):
                for keyword in node.keywords:
                    if keyword.arg == "action":
                        value = keyword.value
                        values = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
                        found.update((place, v) for v in map(_literal, values) if v)
    return found


def test_the_audit_scan_finds_the_actions_it_should() -> None:
    actions = {action for _, action in recorded_audit_actions()}
    # A scan that found nothing would pass the next test vacuously.
    assert {"environment.updated", "integration.activated", "api_key.rotated", "webhook.created"} <= actions


def test_every_recorded_audit_action_is_registered() -> None:
    unregistered = sorted((place, a) for place, a in recorded_audit_actions() if a not in AUDIT_ACTIONS)
    assert unregistered == []


def test_every_registered_audit_action_is_recorded_somewhere() -> None:
    assert {action for _, action in recorded_audit_actions()} == set(AUDIT_ACTIONS)


def test_the_audit_actions_and_their_literal_type_agree() -> None:
    assert list(AUDIT_ACTIONS) == list(get_args(AuditActionName))


def test_the_activity_page_and_the_openapi_document_use_the_one_list() -> None:
    assert list(ACTION_LABELS) == list(AUDIT_ACTIONS)
    schema = document("https://latchkey.example")["components"]["schemas"]["AuditEvent"]
    assert schema["properties"]["action"]["enum"] == list(AUDIT_ACTIONS)
    assert schema["properties"]["actor"]["properties"]["kind"]["enum"] == list(ACTOR_KINDS)


# --- auth kinds -------------------------------------------------------------------------------


def test_the_catalog_schema_knows_exactly_the_auth_kinds() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    branches = [ref["$ref"].rsplit("/", 1)[1] for ref in schema["properties"]["auth"]["oneOf"]]
    consts = [schema["$defs"][b]["properties"]["kind"]["const"] for b in branches]
    assert sorted(consts) == sorted(AUTH_KINDS)


def test_every_kind_is_a_redirect_or_a_form_and_each_redirect_has_a_protocol() -> None:
    assert sorted(REDIRECT_KINDS + FORM_KINDS) == sorted(AUTH_KINDS)
    assert sorted(BY_KIND) == sorted(REDIRECT_KINDS)
    assert set(KIND_LABELS) == set(AUTH_KINDS)


def test_the_built_in_catalog_uses_every_auth_kind() -> None:
    assert {i.kind for i in load_catalog()} == set(AUTH_KINDS)


def test_the_catalog_schema_and_the_model_know_exactly_the_api_auth_styles() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$defs"]["api"]["properties"]["auth"]["enum"] == list(API_AUTH_STYLES)
    assert get_args(ApiAuthStyleName) == tuple(API_AUTH_STYLES)
    # No built-in provider takes its key in the query; tests/api/test_passthrough.py exercises that style.
    assert {i.api.auth for i in load_catalog() if i.api is not None} == set(API_AUTH_STYLES) - {"query"}


# --- languages --------------------------------------------------------------------------------


def test_every_language_has_a_message_catalog_and_no_other_does() -> None:
    on_disk = {p.name for p in LOCALE_DIR.iterdir() if (p / "LC_MESSAGES" / "latchkey.po").is_file()}
    assert on_disk == set(LANGS)
