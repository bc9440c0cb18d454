from __future__ import annotations

from starlette.routing import Mount, Route

from server.api import audit, connections, environment, integrations, openapi, passthrough, sessions, webhooks

_v1 = [
    Route("/openapi.json", openapi.openapi, methods=["GET"]),
    Route("/environment", environment.get_environment, methods=["GET"]),
    Route("/environment", environment.patch_environment, methods=["PATCH"]),
    Route("/scopes", integrations.list_scopes, methods=["GET"]),
    Route("/integrations", integrations.list_integrations, methods=["GET"]),
    Route("/integrations/{slug}", integrations.activate, methods=["PUT"]),
    Route("/integrations/{slug}", integrations.deactivate, methods=["DELETE"]),
    Route("/connect-sessions", sessions.create_connect_session, methods=["POST"]),
    Route("/connect-sessions/{id}", sessions.revoke_connect_session, methods=["DELETE"]),
    Route("/auth-urls", sessions.create_auth_url, methods=["POST"]),
    Route("/connections", connections.list_connections, methods=["GET"]),
    Route("/connections", connections.create_test_connection, methods=["POST"]),
    Route("/connections/{id}", connections.get_connection, methods=["GET"]),
    Route("/connections/{id}", connections.delete_connection, methods=["DELETE"]),
    Route("/connections/{id}/check", connections.check_connection, methods=["POST"]),
    Route("/passthrough/{id}/{path:path}", passthrough.passthrough, methods=passthrough.METHODS),
    Route("/passthrough/{id}", passthrough.passthrough, methods=passthrough.METHODS),
    Route("/webhooks", webhooks.list_webhooks, methods=["GET"]),
    Route("/webhooks", webhooks.create_webhook, methods=["POST"]),
    Route("/webhooks/{id}", webhooks.delete_webhook, methods=["DELETE"]),
    Route("/webhooks/{id}/deliveries", webhooks.list_deliveries, methods=["GET"]),
    Route("/audit-events", audit.list_audit_events, methods=["GET"]),
]

# One mount: a request elsewhere is told apart from the API by one prefix match, not one per route.
routes = [Mount("/api/v1", routes=_v1)]

# Unified.to's shape of the same route, for hosts migrating from it (docs/migrating-from-unified.md).
unified_routes = [
    Route("/passthrough/{id}/{path:path}", passthrough.passthrough, methods=passthrough.METHODS),
    Route("/passthrough/{id}", passthrough.passthrough, methods=passthrough.METHODS),
]
