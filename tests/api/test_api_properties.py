"""Property-based tests over the REST API's inputs: never a 5xx, and a 4xx changes no row.

Hypothesis builds request bodies and query strings from each endpoint's own field names with
hostile values (lone surrogates, NUL and other control characters, long and empty strings, wrong
types, nesting); each answer must be below 500, and when it is a 4xx every table a request could
write is as it was before. The examples are few per test (they run on SQLite and Postgres).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from server.db.tables import connect_sessions, flows, webhook_endpoints
from tests.api.test_api_validation import rows, snapshot
from tests.harness import FAILURE_URL, SUCCESS_URL, Running, Workspace

EXAMPLES = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# Every code point, lone surrogates included (Hypothesis leaves those out unless asked).
ANY_CHARACTER = st.characters(exclude_categories=())
HOSTILE = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "u\x00",
        "\ud800",
        "user-\udfff",
        "\x1b[2J",
        "\x7f",
        "a" * 5000,
        "https://\x00.example",
        "hubspot",
        "crm_contact_read",
        "https://host.test/connected",
        "http://host.test",
    ]
)
# A good-looking value with one bad character inside: what reaches the deepest code.
BAD = st.sampled_from(["\ud800", "\udfff", "\udc80", "\x00", "\x1b", "\x7f", "\x85"])
SPOILT = st.builds(
    lambda head, bad, tail: head + bad + tail, st.sampled_from(["user-", "https://h", ""]), BAD, st.text(max_size=5)
)
TEXT = st.one_of(SPOILT, SPOILT, SPOILT, HOSTILE, st.text(ANY_CHARACTER, max_size=40))
SCALAR = st.one_of(TEXT, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))
NESTED = st.recursive(
    SCALAR, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8
)
VALUE = st.one_of(TEXT, TEXT, TEXT, st.lists(TEXT, min_size=1, max_size=3), NESTED)  # mostly text: where the 500s were


def body_of(base: dict[str, Any], *fields: str) -> st.SearchStrategy[dict[str, Any]]:
    """A good body with one or two fields spoilt (any JSON value, hostile text first), or a stranger key."""
    spoilt = st.dictionaries(st.sampled_from([*base, *fields]), VALUE, min_size=1, max_size=2)
    return st.one_of(
        spoilt.map(lambda changes: {**base, **changes}),
        st.tuples(TEXT, VALUE).map(lambda kv: {**base, kv[0]: kv[1]}),
    )


def query_of(base: dict[str, str], *names: str) -> st.SearchStrategy[str]:
    """A good query string with some parameters spoilt, percent-encoded as a browser would (surrogates
    as their UTF-8 bytes, which no decoder accepts)."""
    spoilt = st.dictionaries(st.sampled_from([*base, *names]) | TEXT, TEXT, min_size=1, max_size=3)
    return spoilt.map(
        lambda changes: "&".join(
            quote(k.encode("utf-8", "surrogatepass"), safe="")
            + "="
            + quote(v.encode("utf-8", "surrogatepass"), safe="")
            for k, v in {**base, **changes}.items()
        )
    )


async def everything(lk: Running) -> tuple[Any, ...]:
    """What any API request might write: the validation snapshot, webhook endpoints, sessions, flows."""
    return (
        *await snapshot(lk),
        await rows(lk, sa.select(webhook_endpoints.c.id, webhook_endpoints.c.url)),
        await rows(lk, sa.select(connect_sessions)),
        await rows(lk, sa.select(flows.c.nonce)),
    )


async def send(lk: Running, workspace: Workspace, method: str, path: str, body: dict[str, Any]) -> None:
    before = await everything(lk)
    answer = await lk.client.request(
        method,
        path,
        headers={**workspace.auth(), "content-type": "application/json"},
        content=json.dumps(body).encode(),  # ASCII: a lone surrogate travels as \ud800, as any client sends it
    )
    assert answer.status_code < 500, (method, path, body, answer.text)
    if 400 <= answer.status_code < 500:
        assert answer.json()["error"]["code"]
        assert await everything(lk) == before, (method, path, body)


async def get(lk: Running, workspace: Workspace, path: str, query: str) -> None:
    before = await everything(lk)
    answer = await lk.client.get(f"{path}?{query}", headers=workspace.auth())
    assert answer.status_code < 500, (path, query, answer.text)
    if answer.status_code >= 400:
        assert answer.json()["error"]["code"] and await everything(lk) == before


@EXAMPLES
@given(
    body=body_of(
        {
            "external_xref": "user-1",
            "integrations": ["hubspot"],
            "success_url": SUCCESS_URL,
            "failure_url": FAILURE_URL,
        },
        "scopes",
        "categories",
        "origin",
        "state",
        "connection_id",
    )
)
@example(body={"external_xref": "user-\ud800", "integrations": ["hubspot"]})  # the known 500
async def test_connect_sessions_never_fail_with_a_5xx(lk: Running, workspace: Workspace, body: dict[str, Any]) -> None:
    await send(lk, workspace, "POST", "/api/v1/connect-sessions", body)


@EXAMPLES
@given(
    body=body_of(
        {"integration": "hubspot", "external_xref": "u", "success_url": SUCCESS_URL, "failure_url": FAILURE_URL},
        "scopes",
        "state",
    )
)
@example(body={"integration": "hubspot", "external_xref": "u", "state": "s\udfff"})
async def test_auth_urls_never_fail_with_a_5xx(lk: Running, workspace: Workspace, body: dict[str, Any]) -> None:
    await send(lk, workspace, "POST", "/api/v1/auth-urls", body)


@EXAMPLES
@given(body=body_of({"integration": "hubspot", "external_xref": "u"}, "scopes"))
@example(body={"integration": "hubspot", "external_xref": "user-\ud800"})  # the known 500
async def test_test_connections_never_fail_with_a_5xx(lk: Running, workspace: Workspace, body: dict[str, Any]) -> None:
    await send(lk, workspace, "POST", "/api/v1/connections", body)


@EXAMPLES
@given(body=body_of({"allowed_origins": ["https://host.test"]}, "allowed_redirect_urls", "public_mode"))
@example(body={"allowed_redirect_urls": ["https://host.test/\ud800"]})
async def test_environment_patches_never_fail_with_a_5xx(
    lk: Running, workspace: Workspace, body: dict[str, Any]
) -> None:
    await send(lk, workspace, "PATCH", "/api/v1/environment", body)


@EXAMPLES
@given(body=body_of({"url": "https://hooks.example.com/x"}, "events", "description"))
@example(body={"url": "https://hooks.example.com/x", "description": "d\udc80"})
async def test_webhook_endpoints_never_fail_with_a_5xx(lk: Running, workspace: Workspace, body: dict[str, Any]) -> None:
    await send(lk, workspace, "POST", "/api/v1/webhooks", body)


@EXAMPLES
@given(
    slug=st.one_of(st.sampled_from(["hubspot", "stripe", "sandbox"]), TEXT),
    body=body_of({"client_id": "id-1", "client_secret": "secret-1"}, "scopes"),
)
@example(slug="hubspot", body={"client_id": "id-\ud800"})
async def test_integration_puts_never_fail_with_a_5xx(
    lk: Running, workspace: Workspace, slug: str, body: dict[str, Any]
) -> None:
    path = "/api/v1/integrations/" + quote(slug.encode("utf-8", "surrogatepass"), safe="")
    await send(lk, workspace, "PUT", path, body)


@EXAMPLES
@given(
    path=st.sampled_from(
        ["/api/v1/connections", "/api/v1/integrations", "/api/v1/webhooks/whe_x/deliveries", "/api/v1/connections/c_x"]
    ),
    query=query_of({"integration": "hubspot", "limit": "5"}, "external_xref", "status", "after", "include", "scopes"),
)
@example(path="/api/v1/connections", query="external_xref=u%00")  # a 500 on Postgres
@example(path="/api/v1/connections/c_%00", query="include=credentials")
async def test_list_filters_never_fail_with_a_5xx(lk: Running, workspace: Workspace, path: str, query: str) -> None:
    await get(lk, workspace, path, query)
