"""The dashboard's routes, mounted by server/app.py under /dashboard."""

from __future__ import annotations

from starlette.routing import Route

from server.dashboard.views import account, activity, api_keys, connections, embed, integrations, webhooks

ENV = "/dashboard/{env}"

dashboard_routes = [
    Route("/dashboard", account.home, methods=["GET"]),
    Route("/dashboard/sign-in", account.sign_in_form, methods=["GET"]),
    Route("/dashboard/sign-in", account.sign_in, methods=["POST"]),
    Route("/dashboard/sign-out", account.sign_out, methods=["POST"]),
    Route(ENV, account.home, methods=["GET"]),
    Route(f"{ENV}/integrations", integrations.catalog, methods=["GET"]),
    Route(f"{ENV}/integrations/{{slug}}", integrations.detail, methods=["GET"]),
    Route(f"{ENV}/integrations/{{slug}}", integrations.save, methods=["POST"]),
    Route(f"{ENV}/integrations/{{slug}}/activate", integrations.quick_activate, methods=["POST"]),
    Route(f"{ENV}/integrations/{{slug}}/deactivate", integrations.deactivate, methods=["POST"]),
    Route(f"{ENV}/connections", connections.list_connections, methods=["GET"]),
    Route(f"{ENV}/connections", connections.create_test_connection, methods=["POST"]),
    Route(f"{ENV}/connections/{{id}}", connections.detail, methods=["GET"]),
    Route(f"{ENV}/connections/{{id}}/delete", connections.delete, methods=["POST"]),
    Route(f"{ENV}/embed", embed.show, methods=["GET"]),
    Route(f"{ENV}/embed", embed.save, methods=["POST"]),
    Route(f"{ENV}/embed/preview", embed.preview, methods=["GET"]),
    Route(f"{ENV}/api-keys", api_keys.show, methods=["GET"]),
    Route(f"{ENV}/api-keys/rotate", api_keys.rotate, methods=["POST"]),
    Route(f"{ENV}/api-keys/expire-previous", api_keys.expire_previous, methods=["POST"]),
    Route(f"{ENV}/webhooks", webhooks.list_endpoints, methods=["GET"]),
    Route(f"{ENV}/webhooks", webhooks.create, methods=["POST"]),
    Route(f"{ENV}/webhooks/{{id}}", webhooks.detail, methods=["GET"]),
    Route(f"{ENV}/webhooks/{{id}}/delete", webhooks.delete, methods=["POST"]),
    Route(f"{ENV}/activity", activity.show, methods=["GET"]),
]
