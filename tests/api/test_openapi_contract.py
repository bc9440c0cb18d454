"""The OpenAPI document as a client generator reads it: names, tags, examples and minLength.

A generated client's method names are the operationIds, its groups the tags, its docs the examples;
and its validation trusts minLength. Each of those is checked here against the document and, for
the examples and minLength, against the running app, so the document cannot drift from the server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from server.api.openapi import document as build_document
from tests.harness import BASE_URL, Running, Workspace

Operation = tuple[str, str, dict[str, Any]]
HTTP_METHODS = ("get", "put", "post", "delete", "patch")

# Published operationIds: a generated client's method names. Renaming one breaks its callers, so a
# change here is an API change; a new operation adds a line.
PUBLISHED_OPERATION_IDS = {
    ("/api/v1/environment", "get"): "getEnvironment",
    ("/api/v1/environment", "patch"): "updateEnvironment",
    ("/api/v1/scopes", "get"): "listScopes",
    ("/api/v1/integrations", "get"): "listIntegrations",
    ("/api/v1/integrations/{slug}", "put"): "activateIntegration",
    ("/api/v1/integrations/{slug}", "delete"): "deactivateIntegration",
    ("/api/v1/connect-sessions", "post"): "createConnectSession",
    ("/api/v1/connect-sessions/{id}", "delete"): "revokeConnectSession",
    ("/api/v1/auth-urls", "post"): "createAuthUrl",
    ("/api/v1/connections", "get"): "listConnections",
    ("/api/v1/connections", "post"): "createTestConnection",
    ("/api/v1/connections/{id}", "get"): "getConnection",
    ("/api/v1/connections/{id}", "delete"): "deleteConnection",
    ("/api/v1/connections/{id}/check", "post"): "checkConnection",
    **{
        (path, method): f"passthrough{method.capitalize()}{suffix}"
        for path, suffix in (("/api/v1/passthrough/{id}/{path}", ""), ("/api/v1/passthrough/{id}", "Root"))
        for method in HTTP_METHODS
    },
    ("/api/v1/webhooks", "get"): "listWebhooks",
    ("/api/v1/webhooks", "post"): "createWebhook",
    ("/api/v1/webhooks/{id}", "delete"): "deleteWebhook",
    ("/api/v1/webhooks/{id}/deliveries", "get"): "listWebhookDeliveries",
    ("/api/v1/audit-events", "get"): "listAuditEvents",
}


def operations(spec: dict[str, Any]) -> Iterator[Operation]:
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def parameters(spec: dict[str, Any], path: str, operation: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec["paths"][path].get("parameters", []), *operation.get("parameters", [])]


def success_media(operation: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            for media in response.get("content", {}).values():
                yield status, media


def body_media(operation: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from operation.get("requestBody", {}).get("content", {}).values()


def check_against(spec: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    """Validate as JSON Schema 2020-12 (OpenAPI 3.1's dialect), formats included, refs into the document."""
    root = {**schema, "components": spec["components"]}
    validator = jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    validator.validate(value)


async def test_every_operation_has_a_unique_camel_case_operation_id(spec: dict[str, Any]) -> None:
    ids = [str(operation.get("operationId")) for _, _, operation in operations(spec)]  # a missing one: "None"
    assert ids and all(re.fullmatch(r"[a-z][a-zA-Z0-9]*", i) for i in ids), ids
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)


async def test_published_operation_ids_do_not_change(spec: dict[str, Any]) -> None:
    assert {(path, method): op["operationId"] for path, method, op in operations(spec)} == PUBLISHED_OPERATION_IDS


async def test_every_operation_has_a_tag_and_every_tag_is_described(spec: dict[str, Any]) -> None:
    described = {tag["name"]: tag.get("description") for tag in spec["tags"]}
    assert all(described.values()), described
    used = set()
    for path, method, operation in operations(spec):
        assert operation.get("tags"), (path, method)
        assert set(operation["tags"]) <= set(described), (path, method, operation["tags"])
        used |= set(operation["tags"])
    assert used == set(described)  # no tag is declared for nothing
    for resource in ("Connections", "Connect sessions", "Integrations", "Environment", "Webhooks", "Passthrough"):
        assert resource in described


async def test_every_request_body_and_success_response_has_an_example(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        for media in body_media(operation):
            assert "example" in media, (path, method, "request body")
        answers = list(success_media(operation))
        assert answers or set(operation["responses"]) & {"204"}, (path, method, "no success response")
        for status, media in answers:
            assert "example" in media, (path, method, status)
        for parameter in parameters(spec, path, operation):
            if parameter["in"] == "path":
                assert "example" in parameter, (path, method, parameter["name"])


async def test_every_example_is_valid_against_its_own_schema(spec: dict[str, Any]) -> None:
    checked = 0
    for path, _, operation in operations(spec):
        media_list = [*body_media(operation), *(media for _, media in success_media(operation))]
        media_list += [p for p in parameters(spec, path, operation) if "example" in p]
        for media in media_list:
            if "example" in media:
                check_against(spec, media["schema"], media["example"])
                checked += 1
    assert checked > 2 * len(list(operations(spec)))


def test_the_example_check_catches_an_example_that_breaks_its_schema() -> None:
    """The validation above can fail: a connection whose status is not one of the enum's."""
    spec = build_document(BASE_URL)
    media = spec["paths"]["/api/v1/connections/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
    broken = {"data": {**media["example"]["data"], "status": "asleep"}}
    with pytest.raises(jsonschema.ValidationError, match="asleep"):
        check_against(spec, media["schema"], broken)


def _url(spec: dict[str, Any], path: str, operation: dict[str, Any]) -> str:
    for parameter in parameters(spec, path, operation):
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", parameter["example"])
    return path


async def test_the_app_answers_each_example_request_as_its_response_schema_says(
    spec: dict[str, Any], lk: Running, workspace: Workspace
) -> None:
    """Every operation that needs no stored ID, called with its examples: the real answer validates
    against the schema documented for its status (required fields, enums, formats and all)."""
    checked = []
    for path, method, operation in sorted(operations(spec), key=lambda o: o[1] == "get"):  # writes first
        if "{id}" in path:  # the example IDs are not stored here
            continue
        media = operation.get("requestBody", {}).get("content", {}).get("application/json")
        kwargs = {"json": media["example"]} if media else {}
        answer = await lk.client.request(method, _url(spec, path, operation), headers=workspace.auth(), **kwargs)
        assert answer.is_success, (operation["operationId"], answer.text)
        documented = operation["responses"][str(answer.status_code)]
        if "content" in documented:
            check_against(spec, documented["content"]["application/json"]["schema"], answer.json())
        checked.append(operation["operationId"])
    assert {"createConnectSession", "listConnections", "listIntegrations", "listAuditEvents"} <= set(checked)


def _emptiable_fields(schema: dict[str, Any]) -> Iterator[tuple[str, Any, bool]]:
    """(field, its empty value, whether the schema refuses it) for every free string in a body schema."""
    for name, field in schema["properties"].items():
        if field.get("type") == "string" and "enum" not in field:
            yield name, "", field.get("minLength", 0) >= 1
        items = field.get("items", {})
        if field.get("type") == "array" and items.get("type") == "string" and "enum" not in items:
            yield name, [""], items.get("minLength", 0) >= 1


async def test_an_empty_string_gets_400_exactly_where_the_schema_says_min_length_1(
    spec: dict[str, Any], lk: Running, workspace: Workspace
) -> None:
    """Both ways: "" where the schema says minLength 1 is refused with 400 invalid_request, and a
    string the schema lets be empty is not refused as invalid, so neither can change alone."""
    patch = spec["paths"]["/api/v1/environment"]["patch"]["requestBody"]["content"]["application/json"]["example"]
    assert (await lk.client.patch("/api/v1/environment", headers=workspace.auth(), json=patch)).status_code == 200
    drift, refused_as_documented = [], []
    for path, method, operation in operations(spec):
        media = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if media is None:
            continue
        url = _url(spec, path, operation)
        answer = await lk.client.request(method, url, headers=workspace.auth(), json=media["example"])
        assert answer.is_success, (operation["operationId"], "its example is refused", answer.text)
        for name, empty, documented in _emptiable_fields(media["schema"]):
            answer = await lk.client.request(
                method, url, headers=workspace.auth(), json={**media["example"], name: empty}
            )
            refused = answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"
            if refused != documented:
                drift.append((operation["operationId"], name, documented, answer.status_code, answer.text[:120]))
            elif documented:
                refused_as_documented.append(f"{operation['operationId']}.{name}")
    assert not drift, drift
    for field in ("createConnectSession.external_xref", "createAuthUrl.success_url", "createWebhook.url"):
        assert field in refused_as_documented, refused_as_documented
    assert "updateEnvironment.allowed_origins" in refused_as_documented
