"""Pytest fixtures for the loopback OAuth 2.0 test authorization server.

Import from ``tests/conftest.py``::

    from tests.support.fixtures_oauth import oauth_server  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .oauth_server import OAuthServer

__all__ = ["OAuthServer", "oauth_server"]


@pytest.fixture
def oauth_server() -> Iterator[OAuthServer]:
    """A started :class:`OAuthServer` (fresh per test), stopped afterwards."""
    server = OAuthServer().start()
    try:
        yield server
    finally:
        server.stop()
