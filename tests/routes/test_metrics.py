"""`/metrics`: off by default, Bearer-protected with LATCHKEY_METRICS_TOKEN, or on a port of its own;
flows, requests by route template, rate limits and the outbox counted, with bounded labels only."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import (
    FAILURE_URL,
    SUCCESS_URL,
    Running,
    free_port,
    make_settings,
    new_workspace,
    query_of,
    running_app,
)

TOKEN = "metrics-token-0123456789abcdef"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(lk: Running) -> str:
    answer = await lk.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return answer.text


async def sandbox_flow(lk: Running, workspace_id: str, decision: str = "approve") -> dict[str, str]:
    params = {
        "workspace": workspace_id,
        "env": "sandbox",
        "external_xref": "metrics-user",
        "mode": "redirect",
        "success_url": SUCCESS_URL,
        "failure_url": FAILURE_URL,
    }
    page = await lk.client.get("/picker", params=params)
    ctx = page.text.split('href="/auth/sandbox/start?ctx=', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    start = await lk.client.get(f"/auth/sandbox/start?ctx={ctx}")
    consent = await lk.client.get(start.headers["location"])
    request_token = consent.text.split('name="request" value="', 1)[1].split('"', 1)[0]
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": decision})
    back = await lk.client.get(decided.headers["location"])
    return query_of(back.headers["location"])


async def test_metrics_are_off_unless_a_token_or_a_port_is_set(lk: Running) -> None:
    assert (await lk.client.get("/metrics")).status_code == 404


async def test_a_flow_is_counted_by_integration_and_requests_by_route_template(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path, metrics_token=TOKEN, background_tasks=False)) as lk:
        ws = await new_workspace(lk.services)
        before = await scrape(lk)
        done = await sandbox_flow(lk, ws.id)
        failed = await sandbox_flow(lk, ws.id, decision="deny")
        after = await scrape(lk)
    assert done["connection_id"] and failed["error"] == "access_denied"
    for name, labels, delta in (
        ("latchkey_flows_started_total", {"integration": "sandbox"}, 2),
        ("latchkey_flows_completed_total", {"integration": "sandbox"}, 1),
        ("latchkey_flows_failed_total", {"integration": "sandbox", "error": "access_denied"}, 1),
    ):
        assert value(after, name, **labels) - value(before, name, **labels) == delta, name
    start = {"route": "/auth/{integration}/start", "method": "GET", "status": "302"}
    assert (
        value(after, "latchkey_http_request_duration_seconds_count", **start)
        - value(before, "latchkey_http_request_duration_seconds_count", **start)
        == 2
    )
    # Bounded labels: templates, never the path's values or IDs.
    assert done["connection_id"] not in after and ws.id not in after and "ctx=" not in after
    assert "latchkey_webhook_outbox_backlog" in after and "latchkey_webhook_oldest_due_seconds" in after


async def test_the_token_is_required_and_a_wrong_one_is_refused(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path, metrics_token=TOKEN)) as lk:
        assert (await lk.client.get("/metrics")).status_code == 401
        wrong = await lk.client.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
        assert wrong.status_code == 401 and "latchkey_" not in wrong.text


async def test_a_rate_limit_refusal_is_counted_by_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, metrics_token=TOKEN, rate_limit_api_auth_failure="1/minute")
    async with running_app(settings) as lk:
        before = await scrape(lk)
        for _ in range(3):
            await lk.client.get("/api/v1/connections", headers={"Authorization": "Bearer lk_live_nope"})
        after = await scrape(lk)
    key = {"limit": "api_auth_failure"}
    assert value(after, "latchkey_rate_limited_total", **key) - value(before, "latchkey_rate_limited_total", **key) == 2


async def test_the_metrics_port_serves_the_same_text_without_the_api(tmp_path: Path) -> None:
    port = free_port()
    async with running_app(make_settings(tmp_path, metrics_port=port)) as lk:
        assert (await lk.client.get("/metrics")).status_code == 404  # not on the service's own port
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200 OK") and b"latchkey_http_request_duration_seconds" in answer
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/v1/connections HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 404")
        writer.close()


@pytest.mark.parametrize("token", ["short"])
def test_a_short_metrics_token_is_refused_at_start(token: str) -> None:
    from server.settings import Settings

    with pytest.raises(ValueError, match="LATCHKEY_METRICS_TOKEN"):
        Settings.from_env({"LATCHKEY_SECRET_KEY": "x" * 40, "LATCHKEY_METRICS_TOKEN": token})
