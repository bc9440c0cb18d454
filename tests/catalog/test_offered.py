"""What an environment offers, in one place: sandbox-only integrations, and why a flow asking for
some scopes cannot use an integration (not activated, cannot grant, not enabled)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server.catalog.loader import Catalog, load_catalog
from server.catalog.models import Integration


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


CATALOG = load_catalog()


def integration(slug: str) -> Integration:
    found = CATALOG.get(slug)
    assert found is not None
    return found


def test_sandbox_only_integrations_are_offered_in_the_sandbox_alone() -> None:
    assert CATALOG.offered("sandbox", "sandbox") is integration("sandbox")
    assert CATALOG.offered("sandbox", "production") is None
    assert CATALOG.offered("hubspot", "production") is integration("hubspot")
    assert CATALOG.offered("no-such-integration", "sandbox") is None and CATALOG.offered(None, "sandbox") is None


def test_offered_in_lists_every_integration_the_environment_offers() -> None:
    production = {i.slug for i in CATALOG.offered_in("production")}
    sandbox = {i.slug for i in CATALOG.offered_in("sandbox")}
    sandbox_only = {i.slug for i in CATALOG if i.sandbox_only}
    assert sandbox_only and sandbox == production | sandbox_only and not production & sandbox_only


@pytest.mark.parametrize(
    ("enabled", "requested", "reason"),
    [
        ((), ("crm_contact_read",), None),
        (None, ("crm_contact_read",), "not activated"),
        ((), ("storage_file_read",), "cannot grant storage_file_read"),
        (("crm_company_read",), ("crm_contact_read",), "crm_contact_read not enabled by the activation"),
        (("crm_contact_read",), ("crm_contact_read",), None),
    ],
)
def test_the_reason_an_integration_is_unavailable(
    enabled: tuple[str, ...] | None, requested: tuple[str, ...], reason: str | None
) -> None:
    hubspot = integration("hubspot")
    assert Catalog.unavailable_reason(hubspot, enabled_scopes=enabled, requested=requested) == reason
