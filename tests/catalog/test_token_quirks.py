"""Token-response normalisation with the real catalog entries, fed the providers' documented shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from server.catalog.loader import load_catalog
from server.catalog.models import TokenResponseSpec
from server.errors import ProviderError
from server.flow.tokens import normalise
from server.http import ProviderResponse

CATALOG = load_catalog()
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def answer(body: str | dict[str, Any], status: int = 200, content_type: str = "application/json") -> ProviderResponse:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return ProviderResponse(status, httpx.Headers({"content-type": content_type}), content)


def spec(slug: str) -> TokenResponseSpec:
    integration = CATALOG.get(slug)
    assert integration is not None and integration.oauth2 is not None, slug
    return integration.oauth2.token_response


def test_slack_reports_errors_with_http_200() -> None:
    with pytest.raises(ProviderError, match="invalid_code"):
        normalise(spec("slack"), answer({"ok": False, "error": "invalid_code"}), now=NOW)


def test_slack_user_token_is_read_from_authed_user() -> None:
    body = {
        "ok": True,
        "access_token": "xoxb-bot",
        "team": {"id": "T1", "name": "Acme"},
        "authed_user": {
            "id": "U1",
            "access_token": "xoxp-user",
            "scope": "channels:history,users:read",
            "token_type": "user",
        },
    }
    tokens = normalise(spec("slack"), answer(body), now=NOW)
    assert tokens.access_token == "xoxp-user"
    assert tokens.metadata["team_id"] == "T1"
    assert tokens.scope == ["channels:history", "users:read"]


def test_github_form_encoded_body_is_read() -> None:
    body = urlencode({"access_token": "gho_abc", "scope": "repo,read:user", "token_type": "bearer"})
    tokens = normalise(spec("github"), answer(body, content_type="application/x-www-form-urlencoded"), now=NOW)
    assert tokens.access_token == "gho_abc" and tokens.scope == ["repo", "read:user"]


def test_github_error_in_form_encoded_body() -> None:
    body = urlencode(
        {"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}
    )
    with pytest.raises(ProviderError, match="bad_verification_code"):
        normalise(spec("github"), answer(body, content_type="application/x-www-form-urlencoded"), now=NOW)


def test_square_gives_expires_at_instead_of_expires_in() -> None:
    body = {
        "access_token": "EAAA",
        "token_type": "bearer",
        "expires_at": "2026-12-29T12:00:00Z",
        "merchant_id": "M1",
        "refresh_token": "r",
    }
    tokens = normalise(spec("square"), answer(body), now=NOW)
    assert tokens.expires_at == datetime(2026, 12, 29, 12, 0, tzinfo=UTC)


def test_mailchimp_expires_in_zero_means_never() -> None:
    tokens = normalise(spec("mailchimp"), answer({"access_token": "mc", "expires_in": 0, "scope": None}), now=NOW)
    assert tokens.expires_at is None and tokens.scope is None


def test_zero_expires_in_elsewhere_is_taken_literally() -> None:
    tokens = normalise(spec("hubspot"), answer({"access_token": "h", "token_type": "bearer", "expires_in": 0}), now=NOW)
    assert tokens.expires_at == NOW


def test_salesforce_has_no_expiry_and_keeps_its_instance_url() -> None:
    body = {
        "access_token": "00D!",
        "instance_url": "https://acme.my.salesforce.com",
        "id": "https://login.salesforce.com/id/00D/005",
        "token_type": "Bearer",
        "issued_at": "1764417600000",
        "signature": "sig",
    }
    tokens = normalise(spec("salesforce"), answer(body), now=NOW)
    assert tokens.expires_at is None and tokens.metadata["instance_url"] == "https://acme.my.salesforce.com"


def test_pipedrive_api_domain_is_kept() -> None:
    body = {
        "access_token": "p",
        "token_type": "Bearer",
        "expires_in": 3599,
        "refresh_token": "r",
        "scope": "base",
        "api_domain": "https://acme.pipedrive.com",
    }
    tokens = normalise(spec("pipedrive"), answer(body), now=NOW)
    assert tokens.metadata["api_domain"] == "https://acme.pipedrive.com" and tokens.expires_at == NOW + timedelta(
        seconds=3599
    )


def test_zoho_api_domain_is_kept() -> None:
    body = {
        "access_token": "z",
        "refresh_token": "r",
        "api_domain": "https://www.zohoapis.eu",
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    assert normalise(spec("zoho-crm"), answer(body), now=NOW).metadata["api_domain"] == "https://www.zohoapis.eu"


def test_a_token_response_without_access_token_is_refused() -> None:
    with pytest.raises(ProviderError, match="no usable access_token"):
        normalise(spec("hubspot"), answer({"token_type": "bearer"}), now=NOW)


@pytest.mark.parametrize("slug", ["shopify", "clickup", "mailchimp"])
def test_entries_whose_provider_sends_no_token_type_accept_its_absence(slug: str) -> None:
    assert normalise(spec(slug), answer({"access_token": "t", "scope": "read_orders"}), now=NOW).access_token == "t"


def test_every_other_oauth2_entry_requires_a_bearer_token_type() -> None:
    lenient = {"shopify", "clickup", "mailchimp"}
    for integration in CATALOG:
        if integration.oauth2 is None or integration.slug in lenient or integration.slug == "slack":
            continue
        tr = integration.oauth2.token_response
        assert tr.token_type == "Bearer" and not tr.token_type_optional, integration.slug


def test_slack_user_tokens_must_be_of_type_user() -> None:
    body = {"ok": True, "authed_user": {"access_token": "xoxp", "token_type": "bot"}}
    with pytest.raises(ProviderError, match="not of type user"):
        normalise(spec("slack"), answer(body), now=NOW)
