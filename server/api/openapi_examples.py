"""Examples for the OpenAPI document: one request and one answer per operation.

Kept apart from the schemas so server/api/openapi.py stays readable. They are not decoration:
tests/api/test_openapi_contract.py validates each against its schema and sends each request
example to the running app, which must accept it, so a generated client's docs show calls that work.
The values hang together (the same connection, endpoint and URLs throughout), and the URLs are the
ones ENVIRONMENT_PATCH puts on the allowlists.
"""

from __future__ import annotations

from typing import Any

Example = dict[str, Any]

APP = "https://app.example.com"
BASE = "https://latchkey.example.com"
CONNECTION_ID = "conn_ibur5BncZOetOTv0"
SESSION_ID = "cs_Rxt1XmEzfDuA2D9W"
WEBHOOK_ID = "whep_cftpSg1r8dUWVcaa"
AT = "2026-01-15T09:30:00Z"
LATER = "2026-01-15T10:00:00Z"

ENVIRONMENT: Example = {
    "workspace_id": "ws_Bm0XmJkJpJnZ",
    "workspace_name": "Acme",
    "environment": "sandbox",
    "api_key_prefix": "lk_sbx_V5aNv",
    "allowed_origins": [APP],
    "allowed_redirect_urls": [f"{APP}/connected", f"{APP}/failed"],
    "public_mode": False,
}
ENVIRONMENT_PATCH: Example = {
    "allowed_origins": [APP],
    "allowed_redirect_urls": [f"{APP}/connected", f"{APP}/failed"],
    "public_mode": False,
}

SCOPES: Example = {
    "data": [
        {"name": "crm_contact_read", "description": "Read CRM contacts and people"},
        {"name": "crm_contact_write", "description": "Create and update CRM contacts"},
    ]
}

ACTIVATION: Example = {
    "integration": "hubspot",
    "environment": "sandbox",
    "client_id": "8c1f6d7e-2b1a-4c55-9d1e-0a7f3b2c4d5e",
    "has_client_secret": True,
    "scopes": ["crm_contact_read"],
}
ACTIVATION_PUT: Example = {
    "client_id": "8c1f6d7e-2b1a-4c55-9d1e-0a7f3b2c4d5e",
    "client_secret": "hubspot-client-secret",
    "scopes": ["crm_contact_read"],
}
INTEGRATION: Example = {
    "slug": "hubspot",
    "name": "HubSpot",
    "auth_kind": "oauth2",
    "categories": ["crm", "marketing", "ticketing"],
    "unified_scopes": ["crm_contact_read", "crm_contact_write"],
    "docs": "https://developers.hubspot.com/docs/api-reference/auth-oauth-v3/guide",
    "custom": False,
    "active": True,
    "activation": ACTIVATION,
    "redirect_uri": f"{BASE}/auth/hubspot/callback",
    "available": True,
    "unavailable_reason": None,
}

CONNECT_SESSION_POST: Example = {
    "external_xref": "user_42",
    "integrations": ["sandbox"],
    "scopes": ["crm_contact_read"],
    "success_url": f"{APP}/connected",
    "failure_url": f"{APP}/failed",
    "origin": APP,
    "state": "signup-step-3",
}
CONNECT_SESSION: Example = {
    "id": SESSION_ID,
    "token": "dBgKQhnkqZZYJ3JYuVdHmx5ia-tB7lpY30QEgt_G5ps",
    "expires_at": LATER,
    "url": f"{BASE}/picker?session=dBgKQhnkqZZYJ3JYuVdHmx5ia-tB7lpY30QEgt_G5ps&mode=redirect",
}
AUTH_URL_POST: Example = {
    "integration": "sandbox",
    "external_xref": "user_42",
    "scopes": ["crm_contact_read"],
    "success_url": f"{APP}/connected",
    "failure_url": f"{APP}/failed",
    "state": "signup-step-3",
}
AUTH_URL: Example = {
    "id": "cs_euaRmlgmQEQA2UUV",
    "url": f"{BASE}/auth/sandbox/start?link=NjffM3VtlYz7LD62sdPRs9JPaX5iJAJtJ5stk8eedws",
    "expires_at": LATER,
}

CONNECTION: Example = {
    "id": CONNECTION_ID,
    "integration": "sandbox",
    "environment": "sandbox",
    "external_xref": "user_42",
    "status": "healthy",
    "status_reason": None,
    "scopes_requested": ["crm_contact_read"],
    "scopes_granted": ["crm_contact_read"],
    "provider_scopes": ["contacts.read"],
    "partial_grant": False,
    "metadata": {"sandbox": True},
    "expires_at": LATER,
    "created_at": AT,
    "updated_at": AT,
    "authorized_at": AT,
    "status_changed_at": AT,
}
CONNECTION_WITH_CREDENTIALS: Example = {
    **CONNECTION,
    "credentials": {
        "type": "oauth2",
        "access_token": "sbx_at_eyJhIjoiYWNjdF81MDll",
        "token_type": "bearer",
        "refresh_token": "sbx_rt_eyJhIjoiYWNjdF81MDll",
        "expires_at": LATER,
    },
}
CONNECTION_POST: Example = {"integration": "sandbox", "external_xref": "user_42", "scopes": ["crm_contact_read"]}
CHECK: Example = {"data": CONNECTION, "check": {"outcome": "refreshed", "error": None}}

PASSTHROUGH_REQUEST: Example = {"properties": {"email": "ada@example.com"}}
PASSTHROUGH_ANSWER: Example = {"id": "51", "properties": {"email": "ada@example.com"}}

WEBHOOK: Example = {
    "id": WEBHOOK_ID,
    "environment": "sandbox",
    "url": "https://hooks.example.com/latchkey",
    "events": ["connection.created", "connection.deleted"],
    "description": "Production alerts",
    "created_at": AT,
}
WEBHOOK_POST: Example = {
    "url": "https://hooks.example.com/latchkey",
    "events": ["connection.created", "connection.deleted"],
    "description": "Production alerts",
}
WEBHOOK_CREATED: Example = {**WEBHOOK, "secret": "whsec_KWGY+djRji8UyRGh/52ocV8gpQNnu5+RdDy6MqZoqu4="}
DELIVERY: Example = {
    "id": "msg_019bc1d2e3f4a1b2c3d4e5f6a7b8",
    "endpoint_id": WEBHOOK_ID,
    "event_type": "connection.created",
    "status": "delivered",
    "attempts": 1,
    "next_attempt_at": None,
    "last_attempt_at": AT,
    "last_status_code": 200,
    "last_error": None,
    "created_at": AT,
    "delivered_at": AT,
}

AUDIT_EVENT: Example = {
    "id": "aud_PMOFp1AltrdK7C7Q",
    "environment": "sandbox",
    "action": "webhook.created",
    "actor": {"kind": "api_key", "name": "lk_sbx_V5aNv…"},
    "changes": {
        "endpoint_id": WEBHOOK_ID,
        "url": "https://hooks.example.com/latchkey",
        "events": ["connection.created", "connection.deleted"],
    },
    "created_at": AT,
}


def data(value: Any) -> Example:
    return {"data": value}


def page(*items: Example) -> Example:
    return {"data": list(items), "next_after": None}
