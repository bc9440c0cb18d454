"""The OpenAPI 3.1 document describes exactly the REST API's routes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.routing import Mount, Route

from server.api.routes import routes
from server.catalog.scopes import UNIFIED_SCOPES
from tests.harness import BASE_URL, Running, Workspace

SPEC_PATH = "/api/v1/openapi.json"  # the document itself is not one of its operations


def api_operations() -> set[tuple[str, str]]:
    operations = set()
    for mount in routes:
        assert isinstance(mount, Mount)
        for route in mount.routes:
            assert isinstance(route, Route)
            path = re.sub(r":\w+}", "}", mount.path + route.path)  # {path:path} is {path} in OpenAPI
            if path == SPEC_PATH:
                continue
            for method in route.methods or ():
                if method != "HEAD":
                    operations.add((path, method.lower()))
    return operations


def documented_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return {(path, method) for path, item in document["paths"].items() for method in item if method in methods}


@pytest.fixture
async def document(lk: Running) -> dict[str, Any]:
    answer = await lk.client.get(SPEC_PATH)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    spec: dict[str, Any] = answer.json()
    return spec


async def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    assert document["openapi"].startswith("3.1.")
    validator.validate(document)  # raises with the failing path on any problem


async def test_the_document_has_the_openapi_3_1_shape(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    assert document["servers"] == [{"url": BASE_URL}]
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearer": []}]
    for path, item in document["paths"].items():
        assert path.startswith("/api/v1/")
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["summary"] and operation["responses"], (path, method)
            for status in operation["responses"]:
                assert re.fullmatch(r"[1-5][0-9][0-9]", status), (path, method, status)


async def test_every_api_route_is_documented_and_nothing_else(document: dict[str, Any]) -> None:
    assert documented_operations(document) == api_operations()


async def test_path_parameters_are_declared(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        for method, operation in item.items():
            if method != "parameters":
                declared_here = declared | {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
                assert names == declared_here, (path, method)


async def test_every_reference_resolves(document: dict[str, Any]) -> None:
    text = repr(document)
    for name in re.findall(r"#/components/schemas/(\w+)", text):
        assert name in document["components"]["schemas"], name


async def test_every_authenticated_operation_documents_401(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                assert "401" in operation["responses"], (path, method)


async def test_the_scope_enum_is_the_unified_scopes(document: dict[str, Any]) -> None:
    connection = document["components"]["schemas"]["Connection"]["properties"]
    assert connection["scopes_granted"]["items"]["enum"] == sorted(UNIFIED_SCOPES)


async def test_the_body_schemas_list_the_fields_the_endpoints_accept(
    document: dict[str, Any], lk: Running, workspace: Workspace
) -> None:
    """A field the document allows is not refused as unknown by the endpoint (and the reverse)."""
    for path, method in (
        ("/api/v1/connect-sessions", "post"),
        ("/api/v1/auth-urls", "post"),
        ("/api/v1/connections", "post"),
        ("/api/v1/environment", "patch"),
    ):
        schema = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert schema["additionalProperties"] is False
        for field in schema["properties"]:
            answer = await lk.client.request(method.upper(), path, headers=workspace.auth(), json={field: 12345})
            assert "Unknown field" not in answer.text, (path, field)
        answer = await lk.client.request(method.upper(), path, headers=workspace.auth(), json={"not_a_field": 1})
        assert "Unknown field" in answer.text
