"""Mapping unified scopes to an integration's provider scopes, and back."""

from __future__ import annotations

from dataclasses import dataclass

from server.catalog.models import Integration
from server.catalog.scopes import UNIFIED_SCOPES
from server.errors import FlowError, InvalidRequest


def parse_scope_list(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Unified scopes from a comma/space separated string or a list; unknown names are an error."""
    if value is None:
        return ()
    items = value.replace(",", " ").split() if isinstance(value, str) else [str(v).strip() for v in value]
    unknown = [s for s in items if s not in UNIFIED_SCOPES]
    if unknown:
        raise InvalidRequest(f"Unknown scope {unknown[0]!r}: see GET /api/v1/scopes for the unified scopes.")
    return tuple(dict.fromkeys(items))


def unsupported_scopes(integration: Integration, unified: tuple[str, ...]) -> list[str]:
    return [s for s in unified if s not in integration.scopes]


def provider_scopes_for(integration: Integration, unified: tuple[str, ...]) -> list[str]:
    missing = unsupported_scopes(integration, unified)
    if missing:
        raise FlowError(f"{integration.name} cannot grant the scope {missing[0]!r}.", code="invalid_scope")
    provider: list[str] = list(integration.oauth2.default_scopes) if integration.oauth2 else []
    for scope in unified:
        provider.extend(integration.scopes[scope])
    return list(dict.fromkeys(provider))


@dataclass(frozen=True)
class Grant:
    unified: list[str]
    provider: list[str]
    partial: bool


def granted(
    integration: Integration,
    requested: tuple[str, ...],
    provider_granted: list[str] | None,
    provider_requested: list[str],
) -> Grant:
    """Which unified scopes a token carries. A provider that echoes no scope granted what was asked."""
    if provider_granted is None:
        return Grant(unified=list(requested), provider=provider_requested, partial=False)
    have = set(provider_granted)
    unified = [s for s in requested if set(integration.scopes.get(s, ())) <= have]
    return Grant(unified=unified, provider=sorted(have), partial=len(unified) < len(requested))
