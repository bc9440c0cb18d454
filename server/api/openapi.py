"""The OpenAPI 3.1 document of the REST API, served at /api/v1/openapi.json.

Written for client generators as much as for readers: every operation has a stable camelCase
operationId (a generated client's method name: renaming one breaks its callers), a tag per resource,
and examples (server/api/openapi_examples.py). A string the server refuses when empty says
minLength 1. tests/api/test_openapi_contract.py and test_openapi_client.py hold it to that.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.api import openapi_examples as ex
from server.audit_actions import ACTOR_KINDS, AUDIT_ACTIONS
from server.catalog.kinds import AUTH_KINDS
from server.catalog.scopes import UNIFIED_SCOPES
from server.errors import ERROR_CODES, codes_seen
from server.event_types import WEBHOOK_EVENT_TYPES

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, description: str = "OK", example: Any = None) -> Schema:
    media: Schema = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


def _data(schema: Schema) -> Schema:
    return {"type": "object", "required": ["data"], "properties": {"data": schema}}


_ERRORS = {
    "400": _json(_ref("Error"), "Invalid request"),
    "401": _json(_ref("Error"), "Missing or invalid API key"),
    "404": _json(_ref("Error"), "Not found in this workspace environment"),
}


def _body(schema: Schema, example: Schema) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": schema, "example": example}}}


def _path_param(name: str, example: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "example": example}


# One tag per resource, in the order a reader meets them; a generated client groups its methods by tag.
TAGS: list[Schema] = [
    {"name": "Environment", "description": "The API key's workspace environment: its allowlists and public mode."},
    {"name": "Scopes", "description": "The unified scopes that integrations map to their providers' own."},
    {
        "name": "Integrations",
        "description": "The catalog, and activating an integration (with its client credentials) in this environment.",
    },
    {
        "name": "Connect sessions",
        "description": "Short-lived, single-browser tokens that open the widget for one end-user, and authorization "
        "URLs straight to one integration for a picker of your own.",
    },
    {
        "name": "Connections",
        "description": "An end-user's authorized account at one integration: its status, scopes and credentials.",
    },
    {
        "name": "Passthrough",
        "description": "Calls to the connection's provider, sent with its credentials (docs/passthrough.md).",
    },
    {"name": "Webhooks", "description": "Endpoints that receive signed connection events, and their delivery logs."},
    {"name": "Audit", "description": "The environment's activity log: who changed its configuration, and what."},
]

# A free-form JSON object: without additionalProperties, generators type {"type": "object"} as {}.
_OBJECT: Schema = {"type": "object", "additionalProperties": True}
# What validation.opt_str refuses past its default length.
_MAX_STR = 2048


_PASSTHROUGH_ANSWER: Schema = {
    "description": "The provider's own answer, whatever its status — body and content headers as it sent them — with "
    "Latchkey-Connection-Id and Latchkey-Integration (docs/passthrough.md)",
    "headers": {
        "Latchkey-Connection-Id": {"schema": {"type": "string"}},
        "Latchkey-Integration": {"schema": {"type": "string"}},
    },
    "content": {"*/*": {"schema": {}, "example": ex.PASSTHROUGH_ANSWER}},
}


def _passthrough(*, with_path: bool) -> Schema:
    """Each method of the passthrough route: forwarded to the connection's provider as it came."""
    parameters: list[Schema] = [_path_param("id", ex.CONNECTION_ID)]
    if with_path:
        parameters.append(
            {
                "name": "path",
                "in": "path",
                "required": True,
                "description": "relative to the integration's API base URL, sent as it came (no . or .. "
                "segments, //, backslash or @ after decoding)",
                "schema": {"type": "string"},
                "example": "crm/v3/objects/contacts",
            }
        )
    responses: Schema = {
        "200": _PASSTHROUGH_ANSWER,
        "400": _json(_ref("Error"), "invalid_request: a path that could leave the API base URL"),
        "409": _json(
            _ref("Error"), "conflict: the integration has no API passthrough, or the connection lacks a value"
        ),
        "413": _json(_ref("Error"), "payload_too_large: the body is over LATCHKEY_PASSTHROUGH_MAX_REQUEST_BYTES"),
        "502": _json(_ref("Error"), "provider_unavailable (unreachable) or provider_error (answer over the cap)"),
        "504": _json(_ref("Error"), "provider_unavailable: no answer within LATCHKEY_PASSTHROUGH_TIMEOUT"),
        **_ERRORS,
    }
    item: Schema = {"parameters": parameters}
    for method in ("get", "post", "put", "patch", "delete"):
        operation: Schema = {
            "operationId": f"passthrough{method.capitalize()}{'' if with_path else 'Root'}",
            "tags": ["Passthrough"],
            "summary": f"Passthrough {method.upper()}: call the connection's provider with its credentials"
            + ("" if with_path else " (the API base URL itself)"),
            "responses": responses,
        }
        if method in ("post", "put", "patch", "delete"):
            operation["requestBody"] = {
                "required": False,
                "content": {"*/*": {"schema": {}, "example": ex.PASSTHROUGH_REQUEST}},
            }
        item[method] = operation
    return item


def document(base_url: str) -> Schema:
    scope = {"type": "string", "enum": sorted(UNIFIED_SCOPES)}
    schemas = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {
                            "type": "string",
                            "enum": list(codes_seen("api")),
                            "description": "Stable: "
                            + "; ".join(f"{c} ({ERROR_CODES[c].status})" for c in codes_seen("api")),
                        },
                        "message": {"type": "string"},
                    },
                }
            },
        },
        "Connection": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "integration": {"type": "string"},
                "environment": {"type": "string"},
                "external_xref": {"type": "string"},
                "status": {"type": "string", "enum": ["healthy", "unhealthy", "revoked"]},
                "status_reason": {"type": ["string", "null"]},
                "scopes_requested": {"type": "array", "items": scope},
                "scopes_granted": {"type": "array", "items": scope},
                "provider_scopes": {"type": "array", "items": {"type": "string"}},
                "partial_grant": {"type": "boolean"},
                "metadata": _OBJECT,
                "expires_at": {"type": ["string", "null"], "format": "date-time"},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "authorized_at": {"type": "string", "format": "date-time"},
                "status_changed_at": {"type": ["string", "null"], "format": "date-time"},
                "credentials": {**_OBJECT, "description": "only with ?include=credentials"},
            },
        },
        "Integration": {
            "type": "object",
            "properties": {
                "slug": {"type": "string"},
                "name": {"type": "string"},
                "auth_kind": {
                    "type": "string",
                    "enum": list(AUTH_KINDS),
                },
                "categories": {"type": "array", "items": {"type": "string"}},
                "unified_scopes": {"type": "array", "items": scope},
                "active": {"type": "boolean"},
                "available": {"type": "boolean"},
                "unavailable_reason": {"type": ["string", "null"]},
                "redirect_uri": {"type": ["string", "null"]},
                "docs": {"type": "string"},
                "custom": {"type": "boolean"},
                "activation": {"anyOf": [_ref("Activation"), {"type": "null"}]},
            },
        },
        "Activation": {
            "type": "object",
            "properties": {
                "integration": {"type": "string"},
                "environment": {"type": "string"},
                "client_id": {"type": ["string", "null"]},
                "has_client_secret": {"type": "boolean"},
                "scopes": {"type": "array", "items": scope, "description": "empty: every scope it has"},
            },
        },
        "Scope": {
            "type": "object",
            "required": ["name", "description"],
            "properties": {"name": scope, "description": {"type": "string"}},
        },
        "Environment": {
            "type": "object",
            "properties": {
                "workspace_id": {"type": "string"},
                "workspace_name": {"type": "string"},
                "environment": {"type": "string"},
                "api_key_prefix": {"type": "string"},
                "public_mode": {"type": "boolean"},
                "allowed_origins": {"type": "array", "items": {"type": "string"}},
                "allowed_redirect_urls": {"type": "array", "items": {"type": "string"}},
            },
        },
    }
    xref = {"type": "string", "minLength": 1, "maxLength": 255}
    event_type = {"type": "string", "enum": list(WEBHOOK_EVENT_TYPES)}
    schemas["Check"] = {
        "type": "object",
        "properties": {
            "outcome": {"type": "string", "enum": ["fresh", "refreshed", "not_refreshable", "failed"]},
            "error": {
                "type": ["object", "null"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    }
    schemas["Webhook"] = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "environment": {"type": "string"},
            "url": {"type": "string"},
            "events": {"type": "array", "items": event_type},
            "description": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
        },
    }
    schemas["WebhookDelivery"] = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "the webhook-id header, the same on every attempt"},
            "endpoint_id": {"type": "string"},
            "event_type": event_type,
            "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
            "attempts": {"type": "integer"},
            "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
            "last_attempt_at": {"type": ["string", "null"], "format": "date-time"},
            "last_status_code": {"type": ["integer", "null"]},
            "last_error": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "delivered_at": {"type": ["string", "null"], "format": "date-time"},
        },
    }
    audit_action = {"type": "string", "enum": list(AUDIT_ACTIONS)}
    schemas["AuditEvent"] = {
        "type": "object",
        "required": ["id", "environment", "action", "actor", "changes", "created_at"],
        "properties": {
            "id": {"type": "string", "description": "for `after`, to read the next page"},
            "environment": {
                "type": ["string", "null"],
                "description": "null for an event of the whole workspace (a member added, the workspace created)",
            },
            "action": audit_action,
            "actor": {
                "type": "object",
                "required": ["kind", "name"],
                "properties": {
                    "kind": {"type": "string", "enum": list(ACTOR_KINDS)},
                    "name": {
                        "type": "string",
                        "description": "a member's e-mail, an API key's non-secret prefix (lk_sbx_ab12c…), "
                        "or 'command line'",
                    },
                },
            },
            "changes": {
                **_OBJECT,
                "description": "what changed: {field: {before, after}} for a changed setting, or the plain "
                "values of what was added or removed (integration, scopes, a webhook URL without its query "
                "string, events…). Never a client secret (only set / changed / removed), API key, signing "
                "secret or password.",
            },
            "created_at": {"type": "string", "format": "date-time"},
        },
    }
    # Every key their as_json writes, null or not: a generated client need not make each one optional.
    for name in ("Connection", "Integration", "Activation", "Environment", "Check", "Webhook", "WebhookDelivery"):
        schemas[name]["required"] = [field for field in schemas[name]["properties"] if field != "credentials"]
    paths = {
        "/api/v1/environment": {
            "get": {
                "operationId": "getEnvironment",
                "tags": ["Environment"],
                "summary": "This key's environment",
                "responses": {"200": _json(_data(_ref("Environment")), example=ex.data(ex.ENVIRONMENT)), **_ERRORS},
            },
            "patch": {
                "operationId": "updateEnvironment",
                "tags": ["Environment"],
                "summary": "Set allowed origins, redirect URLs and public mode",
                "requestBody": _body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "allowed_origins": {
                                "type": "array",
                                "items": {"type": "string", "minLength": 1},
                                "description": "origins like https://app.example.com; replaces the list",
                            },
                            "allowed_redirect_urls": {
                                "type": "array",
                                "items": {"type": "string", "minLength": 1},
                                "description": "absolute http(s) URLs without query or fragment; replaces the list",
                            },
                            "public_mode": {"type": "boolean"},
                        },
                    },
                    ex.ENVIRONMENT_PATCH,
                ),
                "responses": {"200": _json(_data(_ref("Environment")), example=ex.data(ex.ENVIRONMENT)), **_ERRORS},
            },
        },
        "/api/v1/scopes": {
            "get": {
                "operationId": "listScopes",
                "tags": ["Scopes"],
                "summary": "Unified scopes",
                "responses": {
                    "200": _json(_data({"type": "array", "items": _ref("Scope")}), example=ex.SCOPES),
                    **_ERRORS,
                },
            }
        },
        "/api/v1/integrations": {
            "get": {
                "operationId": "listIntegrations",
                "tags": ["Integrations"],
                "summary": "The catalog with activation status",
                "parameters": [
                    {
                        "name": "scopes",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "comma-separated unified scopes",
                    }
                ],
                "responses": {
                    "200": _json(
                        _data({"type": "array", "items": _ref("Integration")}), example=ex.data([ex.INTEGRATION])
                    ),
                    **_ERRORS,
                },
            }
        },
        "/api/v1/integrations/{slug}": {
            "parameters": [_path_param("slug", "hubspot")],
            "put": {
                "operationId": "activateIntegration",
                "tags": ["Integrations"],
                "summary": "Activate (or update) an integration",
                "requestBody": _body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "client_id": {"type": "string", "maxLength": 512},
                            "client_secret": {"type": "string", "maxLength": _MAX_STR},
                            "scopes": {"type": "array", "items": scope},
                        },
                    },
                    ex.ACTIVATION_PUT,
                ),
                "responses": {"200": _json(_data(_ref("Activation")), example=ex.data(ex.ACTIVATION)), **_ERRORS},
            },
            "delete": {
                "operationId": "deactivateIntegration",
                "tags": ["Integrations"],
                "summary": "Deactivate",
                "responses": {"204": {"description": "Deactivated"}, **_ERRORS},
            },
        },
        "/api/v1/connect-sessions": {
            "post": {
                "operationId": "createConnectSession",
                "tags": ["Connect sessions"],
                "summary": "Create a connect session token for the widget",
                "requestBody": _body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["external_xref"],
                        "properties": {
                            "external_xref": xref,
                            "integrations": {"type": "array", "items": {"type": "string"}},
                            "scopes": {"type": "array", "items": scope},
                            "categories": {"type": "array", "items": {"type": "string"}},
                            "success_url": {"type": "string", "maxLength": _MAX_STR},
                            "failure_url": {"type": "string", "maxLength": _MAX_STR},
                            "origin": {"type": "string", "maxLength": 300, "description": "for popup mode"},
                            "state": {"type": "string", "maxLength": 512},
                            "connection_id": {
                                "type": "string",
                                "maxLength": 64,
                                "description": "re-authorize this connection",
                            },
                        },
                    },
                    ex.CONNECT_SESSION_POST,
                ),
                "responses": {
                    "201": _json(
                        _data(
                            {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string", "description": "for DELETE /api/v1/connect-sessions/{id}"},
                                    "token": {
                                        "type": "string",
                                        "description": "for the picker's `session`; bound to the first browser "
                                        "that starts a flow with it",
                                    },
                                    "expires_at": {"type": "string", "format": "date-time"},
                                    "url": {"type": "string"},
                                },
                            }
                        ),
                        example=ex.data(ex.CONNECT_SESSION),
                    ),
                    **_ERRORS,
                },
            }
        },
        "/api/v1/connect-sessions/{id}": {
            "parameters": [_path_param("id", ex.SESSION_ID)],
            "delete": {
                "operationId": "revokeConnectSession",
                "tags": ["Connect sessions"],
                "summary": "Revoke a connect session or an authorization URL: no flow starts or completes with it",
                "responses": {"204": {"description": "Revoked"}, **_ERRORS},
            },
        },
        "/api/v1/auth-urls": {
            "post": {
                "operationId": "createAuthUrl",
                "tags": ["Connect sessions"],
                "summary": "Create an authorization URL for one integration (custom flow)",
                "requestBody": _body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["integration", "external_xref", "success_url", "failure_url"],
                        "properties": {
                            "integration": {"type": "string"},
                            "external_xref": xref,
                            "scopes": {"type": "array", "items": scope},
                            "success_url": {"type": "string", "minLength": 1, "maxLength": _MAX_STR},
                            "failure_url": {"type": "string", "minLength": 1, "maxLength": _MAX_STR},
                            "state": {"type": "string", "maxLength": 512},
                        },
                    },
                    ex.AUTH_URL_POST,
                ),
                "responses": {
                    "201": _json(
                        _data(
                            {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string", "description": "for DELETE /api/v1/connect-sessions/{id}"},
                                    "url": {
                                        "type": "string",
                                        "description": "single use: consumed by its successful flow, and bound to "
                                        "the first browser that opens it",
                                    },
                                    "expires_at": {"type": "string", "format": "date-time"},
                                },
                            }
                        ),
                        example=ex.data(ex.AUTH_URL),
                    ),
                    **_ERRORS,
                },
            }
        },
        "/api/v1/connections": {
            "get": {
                "operationId": "listConnections",
                "tags": ["Connections"],
                "summary": "List connections",
                "parameters": [
                    {"name": n, "in": "query", "schema": {"type": "string"}} for n in ("integration", "external_xref")
                ]
                + [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["healthy", "unhealthy", "revoked"]},
                    },
                    {"name": "after", "in": "query", "schema": {"type": "string"}},
                ]
                + [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "data": {"type": "array", "items": _ref("Connection")},
                                "next_after": {"type": ["string", "null"]},
                            },
                        },
                        example=ex.page(ex.CONNECTION),
                    ),
                    **_ERRORS,
                },
            },
            "post": {
                "operationId": "createTestConnection",
                "tags": ["Connections"],
                "summary": "Create a sandbox test connection",
                "requestBody": _body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["integration", "external_xref"],
                        "properties": {
                            "integration": {"type": "string"},
                            "external_xref": xref,
                            "scopes": {"type": "array", "items": scope},
                        },
                    },
                    ex.CONNECTION_POST,
                ),
                "responses": {
                    "201": _json(_data(_ref("Connection")), "Created", example=ex.data(ex.CONNECTION)),
                    "200": _json(
                        _data(_ref("Connection")),
                        "The end-user's connection to this integration already existed",
                        example=ex.data(ex.CONNECTION),
                    ),
                    "403": _json(_ref("Error"), "Not the sandbox"),
                    **_ERRORS,
                },
            },
        },
        "/api/v1/connections/{id}": {
            "parameters": [_path_param("id", ex.CONNECTION_ID)],
            "get": {
                "operationId": "getConnection",
                "tags": ["Connections"],
                "summary": "Get a connection",
                "description": "With include=credentials, an access token that expires within 5 minutes is refreshed first.",
                "parameters": [
                    {"name": "include", "in": "query", "schema": {"type": "string", "enum": ["credentials"]}}
                ],
                "responses": {
                    "200": _json(_data(_ref("Connection")), example=ex.data(ex.CONNECTION_WITH_CREDENTIALS)),
                    "409": _json(
                        _ref("Error"), "connection_unhealthy: the token expired and cannot be refreshed; re-authorize"
                    ),
                    "502": _json(_ref("Error"), "provider_error: the token expired and refreshing it failed"),
                    "504": _json(
                        _ref("Error"), "provider_unavailable: the token expired and the provider is unreachable"
                    ),
                    **_ERRORS,
                },
            },
            "delete": {
                "operationId": "deleteConnection",
                "tags": ["Connections"],
                "summary": "Delete a connection",
                "responses": {"204": {"description": "Deleted"}, **_ERRORS},
            },
        },
        "/api/v1/connections/{id}/check": {
            "parameters": [_path_param("id", ex.CONNECTION_ID)],
            "post": {
                "operationId": "checkConnection",
                "tags": ["Connections"],
                "summary": "Health check: refresh the tokens now if they can be refreshed, report the status",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["data", "check"],
                            "properties": {"data": _ref("Connection"), "check": _ref("Check")},
                        },
                        example=ex.CHECK,
                    ),
                    **_ERRORS,
                },
            },
        },
        "/api/v1/passthrough/{id}/{path}": _passthrough(with_path=True),
        "/api/v1/passthrough/{id}": _passthrough(with_path=False),
        "/api/v1/webhooks": {
            "get": {
                "operationId": "listWebhooks",
                "tags": ["Webhooks"],
                "summary": "List webhook endpoints",
                "responses": {
                    "200": _json(_data({"type": "array", "items": _ref("Webhook")}), example=ex.data([ex.WEBHOOK])),
                    **_ERRORS,
                },
            },
            "post": {
                "operationId": "createWebhook",
                "tags": ["Webhooks"],
                "summary": "Add a webhook endpoint (its signing secret is in this response only)",
                "requestBody": _body(
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["url"],
                        "properties": {
                            "url": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": _MAX_STR,
                                "description": "https (http only to loopback when the server allows it)",
                            },
                            "events": {
                                "type": "array",
                                "items": event_type,
                                "description": "default: every event type",
                            },
                            "description": {"type": "string", "maxLength": 200},
                        },
                    },
                    ex.WEBHOOK_POST,
                ),
                "responses": {
                    "201": _json(
                        _data(
                            {
                                "allOf": [
                                    _ref("Webhook"),
                                    {
                                        "type": "object",
                                        "properties": {
                                            "secret": {"type": "string", "description": "whsec_…, shown once"}
                                        },
                                    },
                                ]
                            }
                        ),
                        example=ex.data(ex.WEBHOOK_CREATED),
                    ),
                    **_ERRORS,
                },
            },
        },
        "/api/v1/webhooks/{id}": {
            "parameters": [_path_param("id", ex.WEBHOOK_ID)],
            "delete": {
                "operationId": "deleteWebhook",
                "tags": ["Webhooks"],
                "summary": "Remove a webhook endpoint and its pending deliveries",
                "responses": {"204": {"description": "Removed"}, **_ERRORS},
            },
        },
        "/api/v1/audit-events": {
            "get": {
                "operationId": "listAuditEvents",
                "tags": ["Audit"],
                "summary": "The environment's activity log, newest first: who changed its configuration, and what",
                "description": "Allowlists and public mode, embed settings, integrations, API key rotations, "
                "webhook endpoints and connection deletions of this key's environment, and the workspace's own "
                "events (members added). Made through the API, the dashboard or the command line.",
                "parameters": [
                    {
                        "name": "action",
                        "in": "query",
                        "description": "only these actions (repeat it, or separate them with commas)",
                        "style": "form",
                        "explode": True,
                        "schema": {"type": "array", "items": audit_action},
                    },
                    {
                        "name": "after",
                        "in": "query",
                        "description": "the next_after of the previous page",
                        "schema": {"type": "string"},
                    },
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "data": {"type": "array", "items": _ref("AuditEvent")},
                                "next_after": {"type": ["string", "null"]},
                            },
                        },
                        example=ex.page(ex.AUDIT_EVENT),
                    ),
                    **_ERRORS,
                },
            },
        },
        "/api/v1/webhooks/{id}/deliveries": {
            "parameters": [_path_param("id", ex.WEBHOOK_ID)],
            "get": {
                "operationId": "listWebhookDeliveries",
                "tags": ["Webhooks"],
                "summary": "The endpoint's delivery log, newest first",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["pending", "delivered", "failed"]},
                    },
                    {"name": "after", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "data": {"type": "array", "items": _ref("WebhookDelivery")},
                                "next_after": {"type": ["string", "null"]},
                            },
                        },
                        example=ex.page(ex.DELIVERY),
                    ),
                    **_ERRORS,
                },
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Latchkey API",
            "version": "1.0.0",
            "description": 'Errors are {"error": {"code", "message"}} with stable snake_case codes.',
        },
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "tags": TAGS,
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(document(request.app.state.services.settings.base_url))
