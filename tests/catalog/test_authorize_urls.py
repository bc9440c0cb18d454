"""Golden tests: the authorization URL every OAuth 2.0 integration builds for one fixed request.

The expected URLs live in golden/authorize_urls.json. After a deliberate catalog change,
regenerate with `UPDATE_GOLDEN=1 pytest tests/catalog/test_authorize_urls.py` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from server.catalog.loader import load_catalog
from server.catalog.models import Integration, OAuth2Spec
from server.errors import FlowError
from server.flow.oauth2 import authorization_url, user_variables
from server.flow.scopes import provider_scopes_for
from server.flow.templating import render_url

GOLDEN = Path(__file__).parent / "golden" / "authorize_urls.json"
CATALOG = load_catalog()
OAUTH2 = [i for i in CATALOG if i.kind == "oauth2" and not i.sandbox_only]
SAMPLES = {
    "shop": "acme-store",
    "subdomain": "acme",
    "login_host": "acme.my.salesforce.com",
    "tenant": "contoso.onmicrosoft.com",
}
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def integration_of(slug: str) -> Integration:
    found = CATALOG.get(slug)
    assert found is not None, slug
    return found


def oauth2_of(integration: Integration) -> OAuth2Spec:
    assert integration.oauth2 is not None, integration.slug
    return integration.oauth2


def build(integration: Integration) -> str:
    spec = oauth2_of(integration)
    values = user_variables(
        integration, {v.name: SAMPLES.get(v.name, "") for v in integration.variables if v.source == "user"}
    )
    scopes = tuple(sorted(integration.scopes))
    return authorization_url(
        spec,
        render_url(spec.authorize_url, values),
        client_id="client-123",
        redirect_uri=f"https://latchkey.example/auth/{integration.slug}/callback",
        state="STATE",
        code_challenge=CHALLENGE if spec.pkce else None,
        provider_scopes=provider_scopes_for(integration, scopes),
    )


def current() -> dict[str, str]:
    return {i.slug: build(i) for i in OAUTH2}


def test_golden_file_covers_every_oauth2_integration() -> None:
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(current(), indent=2, sort_keys=True) + "\n")
    assert set(json.loads(GOLDEN.read_text())) == {i.slug for i in OAUTH2}


@pytest.mark.parametrize("integration", OAUTH2, ids=lambda i: i.slug)
def test_authorize_url_matches_golden_and_is_well_formed(integration: Integration) -> None:
    url = build(integration)
    assert url == json.loads(GOLDEN.read_text())[integration.slug]
    spec = oauth2_of(integration)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["response_type"] == "code" and query["client_id"] == "client-123" and query["state"] == "STATE"
    assert query["redirect_uri"] == f"https://latchkey.example/auth/{integration.slug}/callback"
    expected_scopes = provider_scopes_for(integration, tuple(sorted(integration.scopes)))
    if spec.scope_separator is None:
        assert spec.scope_param not in query
    elif expected_scopes:
        assert query[spec.scope_param].split(spec.scope_separator) == expected_scopes
    if spec.pkce:
        assert query["code_challenge"] == CHALLENGE and query["code_challenge_method"] == "S256"
    else:
        assert "code_challenge" not in query
    for key, value in spec.authorize_params.items():
        if key not in ("response_type", "client_id", "redirect_uri", "state"):
            assert query[key] == value
    host = urlsplit(url).hostname
    assert host is not None
    template_host = urlsplit(spec.authorize_url).netloc
    if "{" not in template_host:
        assert host == template_host
    else:
        assert host.endswith(template_host.rsplit("}", 1)[1])
    assert not re.search(r"[{}]", url)


@pytest.mark.parametrize(
    ("slug", "name", "value"),
    [
        ("shopify", "shop", "evil.com/x"),
        ("shopify", "shop", "a.evil.com#"),
        ("shopify", "shop", "evil.com?"),
        ("shopify", "shop", "user@evil.com"),
        ("zendesk", "subdomain", "acme.evil.com"),
        ("zendesk", "subdomain", ".."),
        ("salesforce", "login_host", "evil.com"),
        ("salesforce", "login_host", "login.salesforce.com.evil.com"),
        ("microsoft-teams", "tenant", "../../evil"),
        ("shopify", "shop", ""),
    ],
)
def test_template_variables_cannot_change_the_host(slug: str, name: str, value: str) -> None:
    integration = integration_of(slug)
    spec = oauth2_of(integration)
    with pytest.raises(FlowError) as caught:
        values = user_variables(integration, {name: value})
        render_url(spec.authorize_url, values)
    assert caught.value.code == "invalid_request"


def test_zoom_always_gets_s256_even_though_it_reads_a_missing_method_as_plain() -> None:
    zoom = integration_of("zoom")
    assert oauth2_of(zoom).pkce
    query = parse_qs(urlsplit(build(zoom)).query)
    assert query["code_challenge_method"] == ["S256"]


def test_core_parameters_cannot_be_overridden_by_authorize_params() -> None:
    from dataclasses import replace

    spec = replace(
        oauth2_of(integration_of("hubspot")),
        authorize_params={"redirect_uri": "https://evil.example", "prompt": "consent"},
    )
    url = authorization_url(
        spec,
        spec.authorize_url,
        client_id="c",
        redirect_uri="https://good.example/cb",
        state="s",
        code_challenge=None,
        provider_scopes=[],
    )
    query = parse_qs(urlsplit(url).query)
    assert query["redirect_uri"] == ["https://good.example/cb"] and query["prompt"] == ["consent"]
