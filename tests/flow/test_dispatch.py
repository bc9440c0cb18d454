"""The redirect protocol of a flow is chosen by auth kind from one table; the sandbox simulates
every redirect kind with its OAuth 2.0 server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server.catalog.loader import load_catalog
from server.catalog.models import Integration
from server.errors import UntrustedFlowError
from server.flow.dispatch import PROTOCOLS, protocol_for


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


CATALOG = load_catalog()


def first_of_kind(kind: str) -> Integration:
    return next(i for i in CATALOG if i.kind == kind)


@pytest.mark.parametrize(("kind", "environment", "protocol"), [
    ("oauth2", "production", "oauth2"),
    ("oauth2", "sandbox", "oauth2"),
    ("oauth1", "production", "oauth1"),
    ("oauth1", "sandbox", "oauth2"),
])  # fmt: skip
def test_each_redirect_kind_has_its_protocol_and_the_sandbox_speaks_oauth2(
    kind: str, environment: str, protocol: str
) -> None:
    assert protocol_for(first_of_kind(kind), environment) == protocol
    assert protocol in PROTOCOLS


@pytest.mark.parametrize("kind", ["api_key", "basic", "oauth2_client_credentials"])
def test_a_form_kind_has_no_redirect_protocol(kind: str) -> None:
    with pytest.raises(UntrustedFlowError) as caught:
        protocol_for(first_of_kind(kind), "production")
    assert caught.value.code == "invalid_request"
