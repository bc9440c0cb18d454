"""Table definitions (SQLAlchemy Core). The schema's history lives in `migrations.py`."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

environments = sa.Table(
    "environments",
    metadata,
    sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(20), primary_key=True),
    sa.Column("api_key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("api_key_prefix", sa.String(20), nullable=False),
    sa.Column("allowed_origins", sa.Text, nullable=False, server_default="[]"),
    sa.Column("allowed_redirect_urls", sa.Text, nullable=False, server_default="[]"),
    sa.Column("public_mode", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

activations = sa.Table(
    "activations",
    metadata,
    sa.Column("workspace_id", sa.String(40), primary_key=True),
    sa.Column("environment", sa.String(20), primary_key=True),
    sa.Column("integration", sa.String(63), primary_key=True),
    sa.Column("client_id", sa.Text, nullable=True),
    sa.Column("client_secret_enc", sa.Text, nullable=True),
    sa.Column("scopes", sa.Text, nullable=False, server_default="[]"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

connections = sa.Table(
    "connections",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("environment", sa.String(20), nullable=False),
    sa.Column("integration", sa.String(63), nullable=False),
    sa.Column("external_xref", sa.String(255), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.Column("scopes_requested", sa.Text, nullable=False, server_default="[]"),
    sa.Column("scopes_granted", sa.Text, nullable=False, server_default="[]"),
    sa.Column("provider_scopes", sa.Text, nullable=False, server_default="[]"),
    sa.Column("partial_grant", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("credentials_enc", sa.Text, nullable=False),
    sa.Column("metadata", sa.Text, nullable=False, server_default="{}"),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("authorized_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("workspace_id", "environment", "integration", "external_xref", name="uq_connection_user"),
)

flows = sa.Table(
    "flows",
    metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("environment", sa.String(20), nullable=False),
    sa.Column("integration", sa.String(63), nullable=False),
    sa.Column("pkce_verifier_enc", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
)

widget_results = sa.Table(
    "widget_results",
    metadata,
    sa.Column("channel_hash", sa.String(64), primary_key=True),
    sa.Column("host_origin", sa.Text, nullable=True),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
)

auth_events = sa.Table(
    "auth_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("environment", sa.String(20), nullable=False),
    sa.Column("integration", sa.String(63), nullable=False),
    sa.Column("external_xref", sa.String(255), nullable=True),
    sa.Column("connection_id", sa.String(40), nullable=True),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("error_code", sa.String(40), nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

sandbox_codes = sa.Table(
    "sandbox_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(200), nullable=False),
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("code_challenge", sa.String(128), nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
)

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

sa.Index("ix_connections_lookup", connections.c.workspace_id, connections.c.environment, connections.c.created_at)
sa.Index("ix_flows_expires", flows.c.expires_at)
sa.Index("ix_auth_events_ws", auth_events.c.workspace_id, auth_events.c.environment, auth_events.c.created_at)


# ---- Schema version 2: connection lifecycle (refresh, health) and webhooks -------------------
# Columns added to a version-1 table carry info={"since": 2}: migration 1 leaves them out, and
# migration 2 adds them with ALTER TABLE (see migrations.py).

_V2 = {"since": 2}

for _column in (
    sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True, info=_V2),
    # NULL: not known yet (a row written before version 2); the refresher finds out and sets it.
    sa.Column("refreshable", sa.Boolean, nullable=True, info=_V2),
    # The refresh lease: one refresher per connection across every process sharing the database.
    sa.Column("refresh_lock_until", sa.DateTime(timezone=True), nullable=True, info=_V2),
    sa.Column("refresh_lock_token", sa.String(32), nullable=True, info=_V2),
    sa.Column("refresh_attempted_at", sa.DateTime(timezone=True), nullable=True, info=_V2),
    sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True, info=_V2),
    sa.Column("refresh_failures", sa.Integer, nullable=False, server_default="0", info=_V2),
    sa.Column("refresh_failing_since", sa.DateTime(timezone=True), nullable=True, info=_V2),
    sa.Column("refresh_error", sa.String(40), nullable=True, info=_V2),
    sa.Column("next_refresh_at", sa.DateTime(timezone=True), nullable=True, info=_V2),
):
    connections.append_column(_column)

sa.Index("ix_connections_refresh_due", connections.c.status, connections.c.expires_at, info=_V2)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    sa.Column("environment", sa.String(20), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("events", sa.Text, nullable=False, server_default="[]"),
    sa.Column("description", sa.String(200), nullable=True),
    sa.Column("secret_enc", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    info=_V2,
)

# The outbox: one row per (event, endpoint), written in the transaction that records the event.
# Its id is the `webhook-id` header, the same on every attempt, so receivers can de-duplicate.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("endpoint_id", sa.String(40), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
    sa.Column("workspace_id", sa.String(40), nullable=False),
    sa.Column("environment", sa.String(20), nullable=False),
    sa.Column("event_type", sa.String(40), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("lease_token", sa.String(32), nullable=True),
    sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    info=_V2,
)

sa.Index("ix_webhook_endpoints_env", webhook_endpoints.c.workspace_id, webhook_endpoints.c.environment, info=_V2)
sa.Index("ix_webhook_deliveries_due", webhook_deliveries.c.status, webhook_deliveries.c.next_attempt_at, info=_V2)
sa.Index("ix_webhook_deliveries_endpoint", webhook_deliveries.c.endpoint_id, webhook_deliveries.c.created_at, info=_V2)


# ---- Schema version 3: the dashboard (workspace members, their sessions, embed settings) --------

_V3 = {"since": 3}

members = sa.Table(
    "members",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    sa.Column("email", sa.String(254), nullable=False, unique=True),  # stored lower-case
    sa.Column("password_hash", sa.String(255), nullable=False),
    # Lockout: consecutive wrong passwords, and the time until which sign-in is refused.
    sa.Column("failed_sign_ins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    info=_V3,
)

# A signed-in browser. The cookie carries the session ID; the row holds only its SHA-256.
dashboard_sessions = sa.Table(
    "dashboard_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    info=_V3,
)

# What the dashboard's embed page configures and its snippets are built from, per environment.
embed_settings = sa.Table(
    "embed_settings",
    metadata,
    sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("environment", sa.String(20), primary_key=True),
    sa.Column("success_url", sa.Text, nullable=True),
    sa.Column("failure_url", sa.Text, nullable=True),
    sa.Column("scopes", sa.Text, nullable=False, server_default="[]"),
    sa.Column("mode", sa.String(20), nullable=False, server_default="popup"),
    sa.Column("categories", sa.Text, nullable=False, server_default="[]"),
    sa.Column("integrations", sa.Text, nullable=False, server_default="[]"),
    sa.Column("theme", sa.String(10), nullable=False, server_default="auto"),
    sa.Column("accent", sa.String(6), nullable=True),
    sa.Column("lang", sa.String(5), nullable=False, server_default="en"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    info=_V3,
)

sa.Index("ix_members_workspace", members.c.workspace_id, info=_V3)
sa.Index("ix_dashboard_sessions_member", dashboard_sessions.c.member_id, info=_V3)
sa.Index("ix_dashboard_sessions_expires", dashboard_sessions.c.expires_at, info=_V3)

# ---- Schema version 4: connect sessions and authorization links as server-side records ----------

_V4 = {"since": 4}

# A connect session (`POST /api/v1/connect-sessions`) or an authorization link
# (`POST /api/v1/auth-urls`). The token is a random secret the host hands to the browser; the row
# keeps its SHA-256, the flow's context, and which browser first started a flow with it.
connect_sessions = sa.Table(
    "connect_sessions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    sa.Column("environment", sa.String(20), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # session | auth_url
    sa.Column("context", sa.Text, nullable=False),  # the flow context, JSON (no secrets)
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    # The first start binds the record: the binding cookie's hash, and the picker it came from.
    sa.Column("browser_hash", sa.String(64), nullable=True),
    sa.Column("picker_id", sa.String(64), nullable=True),
    sa.Column("bound_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),  # an auth URL's successful flow
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),  # DELETE /api/v1/connect-sessions/{id}
    info=_V4,
)

sa.Index("ix_connect_sessions_environment", connect_sessions.c.workspace_id, connect_sessions.c.environment, info=_V4)
sa.Index("ix_connect_sessions_expires", connect_sessions.c.expires_at, info=_V4)

# ---- Schema version 5: the sign-in lockout per member and client address ------------------------

_V5 = {"since": 5}

# Wrong passwords in a row for one member from one client address, and the lock they led to: a
# stranger elsewhere cannot lock a member out. (members.failed_sign_ins / locked_until, the
# version-3 per-account lockout, are no longer read or written.)
sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("client_address", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
    info=_V5,
)

sa.Index("ix_sign_in_failures_last_failed", sign_in_failures.c.last_failed_at, info=_V5)

# ---- Schema version 6: the activity log (audit events) -----------------------------------------

_V6 = {"since": 6}

# Who changed a workspace environment's configuration, when, and what changed (server/db/audit.py).
# `seq` orders the log (newest first: seq descending); `id` is the public ID and paging cursor, so
# the log shows no count of other workspaces' events. `changes` is JSON and never holds a secret.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    sa.Column("environment", sa.String(20), nullable=True),  # NULL: the whole workspace (a member, the workspace)
    sa.Column("action", sa.String(40), nullable=False),  # server/audit_actions.py
    sa.Column("actor_kind", sa.String(10), nullable=False),  # member | api_key | cli
    sa.Column("actor", sa.String(254), nullable=False),  # an e-mail, an API key's prefix, or "command line"
    sa.Column("changes", sa.Text, nullable=False, server_default="{}"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    info=_V6,
)

sa.Index("ix_audit_events_workspace", audit_events.c.workspace_id, audit_events.c.seq, info=_V6)

# ---- Schema version 7: overlapping API key rotation --------------------------------------------

_V7 = {"since": 7}

# The key a rotation with a grace period replaced: it keeps working until previous_key_expires_at,
# so a host can deploy the new key without downtime. NULL: no previous key (grace 0, or expired early).
for _column in (
    sa.Column("previous_key_hash", sa.String(64), nullable=True, info=_V7),
    sa.Column("previous_key_prefix", sa.String(20), nullable=True, info=_V7),
    sa.Column("previous_key_expires_at", sa.DateTime(timezone=True), nullable=True, info=_V7),
):
    environments.append_column(_column)

# Unique, like api_key_hash: the API's key lookup finds either hash through an index.
sa.Index("ix_environments_previous_key_hash", environments.c.previous_key_hash, unique=True, info=_V7)
