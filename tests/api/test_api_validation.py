"""Request validation: every malformed request is a 4xx with a stable code, and writes nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.sql import ClauseElement

from server.db.tables import activations, connections, environments
from tests.harness import Running, Workspace


async def rows(lk: Running, query: ClauseElement) -> list[dict[str, Any]]:
    records = await lk.db.fetch_all(query)
    # A Record iterates its values, like a tuple: its column names are its mapping's keys.
    return sorted(({k: r[k] for k in r._mapping.keys()} for r in records), key=repr)  # noqa: SIM118


async def snapshot(lk: Running) -> tuple[list[dict[str, Any]], ...]:
    """Everything a bad request might have written."""
    return (
        await rows(lk, sa.select(connections.c.id, connections.c.external_xref, connections.c.updated_at)),
        await rows(
            lk,
            sa.select(
                activations.c.workspace_id,
                activations.c.environment,
                activations.c.integration,
                activations.c.scopes,
                activations.c.client_id,
                activations.c.client_secret_enc,
            ),
        ),
        await rows(
            lk,
            sa.select(
                environments.c.name,
                environments.c.allowed_origins,
                environments.c.allowed_redirect_urls,
                environments.c.public_mode,
                environments.c.updated_at,
            ),
        ),
    )


async def assert_refused(
    lk: Running, answer: httpx.Response, status: int, code: str, before: tuple[list[dict[str, Any]], ...]
) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == code and error["message"]
    assert await snapshot(lk) == before


BODY_ENDPOINTS = [
    ("POST", "/api/v1/connections"),
    ("PUT", "/api/v1/integrations/hubspot"),
    ("PATCH", "/api/v1/environment"),
    ("POST", "/api/v1/connect-sessions"),
    ("POST", "/api/v1/auth-urls"),
]


@pytest.mark.parametrize("body", [b"{'a': 1}", b"\xff\xfe{}", b'{"a": 1,}', b"{"])
async def test_bad_json_is_400(lk: Running, workspace: Workspace, body: bytes) -> None:
    before = await snapshot(lk)
    for method, path in BODY_ENDPOINTS:
        answer = await lk.client.request(
            method, path, headers={**workspace.auth(), "content-type": "application/json"}, content=body
        )
        await assert_refused(lk, answer, 400, "invalid_request", before)
        assert "not valid JSON" in answer.json()["error"]["message"], path


@pytest.mark.parametrize("body", [b'["integration"]', b'"text"', b"null", b"42"])
async def test_json_that_is_not_an_object_is_400(lk: Running, workspace: Workspace, body: bytes) -> None:
    before = await snapshot(lk)
    for method, path in BODY_ENDPOINTS:
        answer = await lk.client.request(method, path, headers=workspace.auth(), content=body)
        await assert_refused(lk, answer, 400, "invalid_request", before)
        assert "JSON object" in answer.json()["error"]["message"], path


async def test_deeply_nested_json_is_400_not_500(lk: Running, workspace: Workspace) -> None:
    before = await snapshot(lk)
    answer = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), content=b"[" * 30_000 + b"]" * 30_000
    )
    await assert_refused(lk, answer, 400, "invalid_request", before)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/connections", {"integration": "hubspot", "external_xref": "u", "admin": True}),
        (
            "PUT",
            "/api/v1/integrations/hubspot",
            {"client_id": "x", "client_secret": "y", "redirect_uri": "http://evil"},
        ),
        ("PATCH", "/api/v1/environment", {"public_mode": True, "api_key": "x"}),
        ("POST", "/api/v1/connect-sessions", {"external_xref": "u", "workspace_id": "ws_other"}),
        ("POST", "/api/v1/auth-urls", {"integration": "hubspot", "external_xref": "u", "environment": "production"}),
    ],
)
async def test_unknown_fields_are_400_and_named(
    lk: Running, workspace: Workspace, method: str, path: str, body: dict[str, Any]
) -> None:
    before = await snapshot(lk)
    answer = await lk.client.request(method, path, headers=workspace.auth(), json=body)
    await assert_refused(lk, answer, 400, "invalid_request", before)
    unknown = next(
        k for k in body if k not in ("integration", "external_xref", "client_id", "client_secret", "public_mode")
    )
    assert repr(unknown) in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/connections", {"integration": "hubspot", "external_xref": 42}),
        ("POST", "/api/v1/connections", {"integration": "hubspot", "external_xref": ""}),
        ("POST", "/api/v1/connections", {"integration": "hubspot", "external_xref": "x" * 256}),
        ("POST", "/api/v1/connections", {"integration": "hubspot", "external_xref": "a\nb"}),
        ("POST", "/api/v1/connections", {"integration": "hubspot", "external_xref": "u", "scopes": "crm_contact_read"}),
        ("POST", "/api/v1/connections", {"integration": "hubspot", "external_xref": "u", "scopes": [1, 2]}),
        ("PUT", "/api/v1/integrations/hubspot", {"client_id": 123}),
        ("PUT", "/api/v1/integrations/hubspot", {"client_secret": ["x"]}),
        ("PUT", "/api/v1/integrations/hubspot", {"client_id": "x" * 513}),
        ("PUT", "/api/v1/integrations/hubspot", {"scopes": {"crm_contact_read": True}}),
        ("PATCH", "/api/v1/environment", {"public_mode": "yes"}),
        ("PATCH", "/api/v1/environment", {"allowed_origins": "https://app.example.com"}),
        ("PATCH", "/api/v1/environment", {"allowed_origins": ["https://app.example.com/path"]}),
        ("PATCH", "/api/v1/environment", {"allowed_redirect_urls": ["https://app.example.com/cb#x"]}),
        ("PATCH", "/api/v1/environment", {"allowed_redirect_urls": ["/relative"]}),
        ("POST", "/api/v1/connect-sessions", {"external_xref": None}),
        ("POST", "/api/v1/connect-sessions", {"external_xref": "u", "integrations": "hubspot"}),
        ("POST", "/api/v1/connect-sessions", {"external_xref": "u", "state": "s" * 513}),
        ("POST", "/api/v1/connect-sessions", {"external_xref": "u", "categories": ["CRM; drop"]}),
        ("POST", "/api/v1/auth-urls", {"integration": "hubspot", "external_xref": "u"}),
    ],
)
async def test_wrong_types_and_values_are_400(
    lk: Running, workspace: Workspace, method: str, path: str, body: dict[str, Any]
) -> None:
    before = await snapshot(lk)
    answer = await lk.client.request(method, path, headers=workspace.auth(), json=body)
    await assert_refused(lk, answer, 400, "invalid_request", before)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/connections", {"integration": "hubspot", "external_xref": "u", "scopes": ["crm_everything"]}),
        ("PUT", "/api/v1/integrations/hubspot", {"scopes": ["admin"]}),
        ("POST", "/api/v1/connect-sessions", {"external_xref": "u", "scopes": ["crm_contact_read", "root"]}),
        (
            "POST",
            "/api/v1/auth-urls",
            {
                "integration": "hubspot",
                "external_xref": "u",
                "scopes": ["nope"],
                "success_url": "http://host.test/connected",
                "failure_url": "http://host.test/failed",
            },
        ),
    ],
)
async def test_unknown_unified_scope_is_400_naming_it(
    lk: Running, workspace: Workspace, method: str, path: str, body: dict[str, Any]
) -> None:
    before = await snapshot(lk)
    answer = await lk.client.request(method, path, headers=workspace.auth(), json=body)
    await assert_refused(lk, answer, 400, "invalid_request", before)
    assert "Unknown scope" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        (
            "POST",
            "/api/v1/connections",
            {"integration": "no-such-thing", "external_xref": "u"},
            404,
            "integration_not_found",
        ),
        ("POST", "/api/v1/connections", {"integration": 7, "external_xref": "u"}, 404, "integration_not_found"),
        ("POST", "/api/v1/connections", {"external_xref": "u"}, 404, "integration_not_found"),
        ("PUT", "/api/v1/integrations/no-such-thing", {}, 404, "integration_not_found"),
        ("DELETE", "/api/v1/integrations/no-such-thing", None, 404, "integration_not_found"),
        (
            "POST",
            "/api/v1/connect-sessions",
            {"external_xref": "u", "integrations": ["no-such-thing"]},
            400,
            "integration_not_found",
        ),
        (
            "POST",
            "/api/v1/auth-urls",
            {"integration": "no-such-thing", "external_xref": "u"},
            404,
            "integration_not_found",
        ),
    ],
)
async def test_unknown_integration_is_refused(
    lk: Running, workspace: Workspace, method: str, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    before = await snapshot(lk)
    answer = await lk.client.request(method, path, headers=workspace.auth(), json=body)
    await assert_refused(lk, answer, status, code, before)


async def test_sandbox_only_integration_is_unknown_in_production(lk: Running, workspace: Workspace) -> None:
    before = await snapshot(lk)
    answer = await lk.client.put("/api/v1/integrations/sandbox", headers=workspace.auth("production"), json={})
    await assert_refused(lk, answer, 404, "integration_not_found", before)


async def test_too_large_body_is_413(lk: Running, workspace: Workspace) -> None:
    before = await snapshot(lk)
    big = b'{"external_xref": "' + b"x" * (lk.services.settings.max_body_bytes + 1) + b'"}'
    for method, path in BODY_ENDPOINTS:
        answer = await lk.client.request(method, path, headers=workspace.auth(), content=big)
        await assert_refused(lk, answer, 413, "payload_too_large", before)


async def test_limit_out_of_range_is_400(lk: Running, workspace: Workspace) -> None:
    for limit in ("0", "-1", "201", "1000000", "ten", "1.5", ""):
        answer = await lk.client.get("/api/v1/connections", headers=workspace.auth(), params={"limit": limit})
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request", limit
        assert "limit" in answer.json()["error"]["message"]


async def test_limit_at_the_bounds_is_accepted(lk: Running, workspace: Workspace) -> None:
    for limit in ("1", "200"):
        answer = await lk.client.get("/api/v1/connections", headers=workspace.auth(), params={"limit": limit})
        assert answer.status_code == 200, limit


async def test_unknown_status_filter_is_400(lk: Running, workspace: Workspace) -> None:
    answer = await lk.client.get("/api/v1/connections", headers=workspace.auth(), params={"status": "deleted"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"


async def test_an_empty_body_counts_as_an_empty_object(lk: Running, workspace: Workspace) -> None:
    """PUT with no body activates with no scopes; the same as `{}`."""
    answer = await lk.client.put("/api/v1/integrations/hubspot", headers=workspace.auth())
    assert answer.status_code == 200 and answer.json()["data"]["scopes"] == []


async def test_unknown_api_path_is_404_json(lk: Running, workspace: Workspace) -> None:
    answer = await lk.client.get("/api/v1/nothing-here", headers=workspace.auth())
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


async def test_wrong_method_is_405_json(lk: Running, workspace: Workspace) -> None:
    answer = await lk.client.post("/api/v1/scopes", headers=workspace.auth(), json={})
    assert answer.status_code == 405 and answer.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("text", ["user-\ud800", "user\x00", "user\x1b[2J"])
async def test_a_lone_surrogate_or_control_character_in_a_json_string_is_400_not_500(
    lk: Running, workspace: Workspace, text: str
) -> None:
    before = await snapshot(lk)
    for method, path, body in [
        ("POST", "/api/v1/connections", {"integration": "hubspot", "external_xref": text}),
        ("POST", "/api/v1/connect-sessions", {"external_xref": text}),
        ("POST", "/api/v1/auth-urls", {"integration": "hubspot", "external_xref": "u", "state": text}),
        ("PATCH", "/api/v1/environment", {"allowed_origins": [f"https://{text}.example"]}),
        ("PUT", "/api/v1/integrations/hubspot", {"client_id": text}),
    ]:
        # json.dumps escapes a lone surrogate as \ud800: valid JSON text that Python decodes back to one.
        answer = await lk.client.request(
            method,
            path,
            headers={**workspace.auth(), "content-type": "application/json"},
            content=json.dumps(body).encode(),
        )
        await assert_refused(lk, answer, 400, "invalid_request", before)


@pytest.mark.parametrize("path", ["/api/v1/connections?external_xref=u%00", "/api/v1/connections/conn_%00x"])
async def test_nul_in_an_api_query_or_path_is_400_not_500(lk: Running, workspace: Workspace, path: str) -> None:
    before = await snapshot(lk)
    await assert_refused(lk, await lk.client.get(path, headers=workspace.auth()), 400, "invalid_request", before)


async def test_text_that_is_not_utf8_in_a_query_is_400(lk: Running, workspace: Workspace) -> None:
    before = await snapshot(lk)
    answer = await lk.client.get("/api/v1/connections?external_xref=%ED%A0%80", headers=workspace.auth())
    await assert_refused(lk, answer, 400, "invalid_request", before)
