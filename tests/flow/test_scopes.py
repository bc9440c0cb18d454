"""Unified scopes: parsing, mapping to provider scopes, and reading back what was granted."""

from __future__ import annotations

import pytest

from server.catalog.loader import load_catalog
from server.catalog.models import Integration
from server.errors import FlowError, InvalidRequest
from server.flow.scopes import granted, parse_scope_list, provider_scopes_for, unsupported_scopes

CATALOG = load_catalog()


def integration(slug: str) -> Integration:
    found = CATALOG.get(slug)
    assert found is not None, slug
    return found


@pytest.fixture
def _database() -> None:
    """No database needed here."""


def test_unknown_scope_names_are_an_error_not_ignored() -> None:
    with pytest.raises(InvalidRequest, match="crm_everything"):
        parse_scope_list("crm_contact_read,crm_everything")


def test_scope_lists_are_deduplicated_in_order() -> None:
    assert parse_scope_list("user_profile crm_contact_read,user_profile") == ("user_profile", "crm_contact_read")


def test_mapping_joins_default_scopes_and_removes_duplicates() -> None:
    jira = integration("jira")
    assert provider_scopes_for(jira, ("ticketing_ticket_read", "task_read")) == ["offline_access", "read:jira-work"]


def test_a_scope_the_integration_cannot_grant_names_itself() -> None:
    with pytest.raises(FlowError) as caught:
        provider_scopes_for(integration("hubspot"), ("repo_read",))
    assert caught.value.code == "invalid_scope" and "repo_read" in caught.value.message
    assert unsupported_scopes(integration("hubspot"), ("repo_read", "crm_contact_read")) == ["repo_read"]


def test_a_partial_grant_is_flagged() -> None:
    hubspot = integration("hubspot")
    asked = ("crm_contact_read", "crm_deal_read")
    provider = provider_scopes_for(hubspot, asked)
    grant = granted(hubspot, asked, ["crm.objects.contacts.read", "oauth"], provider)
    assert grant.unified == ["crm_contact_read"] and grant.partial is True
    assert grant.provider == ["crm.objects.contacts.read", "oauth"]


def test_a_full_grant_is_not_partial_and_silence_means_granted_as_asked() -> None:
    hubspot = integration("hubspot")
    asked = ("crm_contact_read",)
    provider = provider_scopes_for(hubspot, asked)
    assert granted(hubspot, asked, ["crm.objects.contacts.read"], provider).partial is False
    silent = granted(hubspot, asked, None, provider)
    assert silent.unified == ["crm_contact_read"] and silent.provider == provider and not silent.partial
