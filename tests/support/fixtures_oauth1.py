"""Pytest fixture for the loopback OAuth 1.0a test provider.

Import where needed::

    from tests.support.fixtures_oauth1 import oauth1_server  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .oauth1_server import OAuth1Server

__all__ = ["OAuth1Server", "oauth1_server"]


@pytest.fixture
def oauth1_server() -> Iterator[OAuth1Server]:
    """A started :class:`OAuth1Server` (fresh per test), stopped afterwards."""
    server = OAuth1Server().start()
    try:
        yield server
    finally:
        server.stop()
