"""The actions an environment's activity log records, and who can act.

The one list: the stores that record an action, the dashboard's activity page, the REST API's
`action` filter and its OpenAPI enum all read it, and tests/test_vocabularies.py checks that every
action recorded in server/ is here. Framework-free and storage-free (layer 0), like event_types.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AuditActionName = Literal[
    "workspace.created",
    "member.added",
    "environment.updated",
    "embed.updated",
    "integration.activated",
    "integration.updated",
    "integration.deactivated",
    "api_key.rotated",
    "api_key.previous_expired",
    "webhook.created",
    "webhook.deleted",
    "connection.deleted",
]

# "workspace": the event concerns the whole workspace (a member, the workspace itself) and shows in
# both environments' logs; "environment": one environment's configuration.
Scope = Literal["workspace", "environment"]


@dataclass(frozen=True)
class AuditAction:
    name: AuditActionName
    label: str  # a line of the dashboard's activity page
    scope: Scope


AUDIT_ACTIONS: dict[str, AuditAction] = {
    a.name: a
    for a in (
        AuditAction("workspace.created", "Workspace created", "workspace"),
        AuditAction("member.added", "Member added", "workspace"),
        AuditAction("environment.updated", "Allowlists or public mode changed", "environment"),
        AuditAction("embed.updated", "Embed settings changed", "environment"),
        AuditAction("integration.activated", "Integration activated", "environment"),
        AuditAction("integration.updated", "Integration settings changed", "environment"),
        AuditAction("integration.deactivated", "Integration deactivated", "environment"),
        AuditAction("api_key.rotated", "API key rotated", "environment"),
        AuditAction("api_key.previous_expired", "Previous API key stopped early", "environment"),
        AuditAction("webhook.created", "Webhook endpoint added", "environment"),
        AuditAction("webhook.deleted", "Webhook endpoint removed", "environment"),
        AuditAction("connection.deleted", "Connection deleted", "environment"),
    )
}

ActorKind = Literal["member", "api_key", "cli"]
ACTOR_KINDS: dict[str, str] = {"member": "Member", "api_key": "API key", "cli": "Command line"}
CLI_ACTOR_NAME = "command line"
KEY_PREFIX_LENGTH = 12  # what environments.api_key_prefix keeps of a key: `lk_sbx_` and 5 random characters


@dataclass(frozen=True)
class Actor:
    """Who made a change: a member's e-mail, an API key's non-secret prefix, or the command line."""

    kind: ActorKind
    name: str

    @classmethod
    def member(cls, email: str) -> Actor:
        return cls("member", email)

    @classmethod
    def api_key(cls, prefix: str) -> Actor:
        """`prefix`: the key's first characters as the environment stores them; never more than those 12."""
        return cls("api_key", f"{prefix[:KEY_PREFIX_LENGTH]}…")

    @classmethod
    def cli(cls) -> Actor:
        return cls("cli", CLI_ACTOR_NAME)
