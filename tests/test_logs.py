"""Logs: one handler on the root logger governs every logger, JSON lines carry the request ID, and
at DEBUG — everything logged — no state, code, token, key or query string appears anywhere."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.logs import configure_logging
from tests.harness import FAILURE_URL, SUCCESS_URL, make_settings, new_workspace, query_of, running_app


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.usefixtures("restored_logging")
def test_the_level_governs_every_logger_ours_uvicorns_and_httpxs(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING", "json")
    for name in ("latchkey.access", "uvicorn.error", "httpx", "httpcore"):
        logging.getLogger(name).info("quiet %s", name)
        logging.getLogger(name).warning("loud %s", name)
    lines = json_lines(capsys.readouterr().err)
    assert [line["message"] for line in lines] == [
        "loud latchkey.access",
        "loud uvicorn.error",
        "loud httpx",
        "loud httpcore",
    ]
    assert all(set(line) >= {"time", "level", "logger", "message", "request_id"} for line in lines)


@pytest.mark.usefixtures("restored_logging")
def test_a_bad_format_is_refused() -> None:
    with pytest.raises(ValueError, match="LATCHKEY_LOG_FORMAT"):
        configure_logging("INFO", "xml")


@pytest.mark.usefixtures("restored_logging")
async def test_at_debug_a_whole_flow_and_a_passthrough_log_request_ids_and_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG", "json")
    secrets: list[str] = []
    async with running_app(make_settings(tmp_path, background_tasks=False)) as lk:
        ws = await new_workspace(lk.services)
        secrets += [ws.sandbox_key, ws.production_key]
        params = {
            "workspace": ws.id,
            "env": "sandbox",
            "external_xref": "canary-user-42",
            "mode": "redirect",
            "success_url": SUCCESS_URL,
            "failure_url": FAILURE_URL,
            "state": "canary-host-state",
        }
        page = await lk.client.get("/picker", params=params)
        marker = 'href="/auth/sandbox/start?ctx='
        ctx = page.text.split(marker, 1)[1].split('"', 1)[0].replace("&amp;", "&")
        secrets.append(ctx.split("&", 1)[0])
        start = await lk.client.get(f"/auth/sandbox/start?ctx={ctx}")
        secrets += [query_of(start.headers["location"])["state"], start.headers["set-cookie"].split("=", 1)[1][:40]]
        consent = await lk.client.get(start.headers["location"])
        request_token = consent.text.split('name="request" value="', 1)[1].split('"', 1)[0]
        decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "approve"})
        secrets.append(query_of(decided.headers["location"])["code"])
        back = await lk.client.get(decided.headers["location"])
        connection_id = query_of(back.headers["location"])["connection_id"]
        read = await lk.client.get(f"/api/v1/connections/{connection_id}?include=credentials", headers=ws.auth())
        credentials = read.json()["data"]["credentials"]
        secrets += [credentials["access_token"], credentials["refresh_token"]]
        through = await lk.client.get(
            f"/api/v1/passthrough/{connection_id}/crm/contacts?limit=2&token=canary-query", headers=ws.auth()
        )
        assert through.status_code == 200
    lines = json_lines(capsys.readouterr().err)
    text = "\n".join(json.dumps(line) for line in lines)
    for secret in [*secrets, "canary-query", "canary-host-state"]:
        assert secret and secret not in text, secret
    access = [line for line in lines if line["logger"] == "latchkey.access"]
    assert len(access) >= 7 and all(isinstance(line["request_id"], str) for line in access)
    assert len({line["request_id"] for line in access}) == len(access)  # one ID per request
    assert any(line["logger"] == "httpx" for line in lines)  # outbound calls were logged, as origins


@pytest.mark.usefixtures("restored_logging")
def test_uvicorns_own_access_log_which_prints_query_strings_stays_silent_even_at_debug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("DEBUG", "text")
    logging.getLogger("uvicorn.access").info('127.0.0.1:5 - "GET /auth/x/callback?code=canary-code HTTP/1.1" 200')
    logging.getLogger("latchkey.access").info("GET /auth/x/callback 200 1.0ms from 127.0.0.1 over http")
    err = capsys.readouterr().err
    assert "canary-code" not in err and "GET /auth/x/callback 200" in err
