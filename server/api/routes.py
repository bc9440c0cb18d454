from __future__ import annotations

from starlette.routing import Route

from server.api import connections, environment, integrations, openapi, sessions, webhooks

routes = [
    Route("/api/v1/openapi.json", openapi.openapi, methods=["GET"]),
    Route("/api/v1/environment", environment.get_environment, methods=["GET"]),
    Route("/api/v1/environment", environment.patch_environment, methods=["PATCH"]),
    Route("/api/v1/scopes", integrations.list_scopes, methods=["GET"]),
    Route("/api/v1/integrations", integrations.list_integrations, methods=["GET"]),
    Route("/api/v1/integrations/{slug}", integrations.activate, methods=["PUT"]),
    Route("/api/v1/integrations/{slug}", integrations.deactivate, methods=["DELETE"]),
    Route("/api/v1/connect-sessions", sessions.create_connect_session, methods=["POST"]),
    Route("/api/v1/connect-sessions/{id}", sessions.revoke_connect_session, methods=["DELETE"]),
    Route("/api/v1/auth-urls", sessions.create_auth_url, methods=["POST"]),
    Route("/api/v1/connections", connections.list_connections, methods=["GET"]),
    Route("/api/v1/connections", connections.create_test_connection, methods=["POST"]),
    Route("/api/v1/connections/{id}", connections.get_connection, methods=["GET"]),
    Route("/api/v1/connections/{id}", connections.delete_connection, methods=["DELETE"]),
    Route("/api/v1/connections/{id}/check", connections.check_connection, methods=["POST"]),
    Route("/api/v1/webhooks", webhooks.list_webhooks, methods=["GET"]),
    Route("/api/v1/webhooks", webhooks.create_webhook, methods=["POST"]),
    Route("/api/v1/webhooks/{id}", webhooks.delete_webhook, methods=["DELETE"]),
    Route("/api/v1/webhooks/{id}/deliveries", webhooks.list_deliveries, methods=["GET"]),
]
