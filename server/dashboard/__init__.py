"""The dashboard: server-rendered pages for workspace members at /dashboard.

Integrations, connections, embedded-authorization setup with snippets, API keys and webhooks,
per environment. Pages call the db modules directly — never the HTTP API.
"""
