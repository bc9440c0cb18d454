"""Latchkey as it runs in production: `latchkey serve --workers 2` behind a reverse proxy on loopback,
JSON logs with request IDs, and `/readyz` following the database as it goes away and comes back.

A real subprocess, a real proxy (tests/support/reverse_proxy.py: it listens and connects from
127.0.0.2, the one trusted address), real Postgres. The client address and scheme the proxy
forwards reach the app; the same headers sent straight to the app, from another address, do not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.harness import POSTGRES_URL, SECRET, free_port
from tests.harness import test_database_url as database_url_for
from tests.support.db_faults import PostgresOutage
from tests.support.reverse_proxy import ReverseProxy

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="runs in the Postgres pass (make test-postgres): /readyz is shown going 503 by refusing "
    "Postgres connections, which SQLite has no server to do",
)
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    proxy: ReverseProxy
    log: Path
    env: dict[str, str]
    database_url: str

    @property
    def direct(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lines(self) -> list[dict[str, object]]:
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                found.append(json.loads(line))
        return found


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    database_url = database_url_for(tmp_path)
    env = {
        **os.environ,
        "LATCHKEY_SECRET_KEY": SECRET,
        "LATCHKEY_DATABASE_URL": database_url,
        "LATCHKEY_BASE_URL": "https://latchkey.example",  # the public URL: TLS ends at the proxy
        "LATCHKEY_TRUSTED_PROXIES": "127.0.0.2",
        "LATCHKEY_LOG_FORMAT": "json",
        "LATCHKEY_LOG_LEVEL": "DEBUG",
        "LATCHKEY_VAR_DIR": str(tmp_path / "var"),
        "LATCHKEY_BACKGROUND_TASKS": "on",
    }
    cli(env, "migrate")
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    proxy = ReverseProxy(port).start()
    served = Served(process, port, proxy, log, env, database_url)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{served.direct}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield served
    finally:
        proxy.stop()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def from_address(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


def test_two_workers_behind_a_trusted_proxy_log_json_with_request_ids_and_follow_the_database(
    served: Served,
) -> None:
    out = cli(served.env, "workspace", "create", "--name", "Served")
    key = re.search(r"sandbox\s+secret key: (\S+)", out)
    assert key is not None
    auth = {"Authorization": f"Bearer {key.group(1)}"}
    with from_address("127.0.0.4") as client:  # the end of the chain the proxy sees
        made = client.post(
            f"{served.proxy.url}/api/v1/connections",
            headers=auth,
            json={"integration": "hubspot", "external_xref": "u"},
        )
        assert made.status_code == 201, made.text
        assert made.headers["x-request-id"] == served.proxy.request_ids[-1]  # the proxy's ID, returned
        through = client.get(
            f"{served.proxy.url}/api/v1/passthrough/{made.json()['data']['id']}/crm/contacts?token=canary-query",
            headers=auth,
        )
        assert through.status_code == 200, through.text
    with from_address("127.0.0.3") as client:  # not the proxy: its forwarded headers are anyone's
        spoofed = client.get(
            f"{served.direct}/healthz", headers={"X-Forwarded-For": "203.0.113.66", "X-Forwarded-Proto": "https"}
        )
        assert spoofed.status_code == 200 and not spoofed.headers["x-request-id"].startswith("proxy-")

    outage = PostgresOutage(served.database_url)
    outage.begin()
    try:
        down = httpx.get(f"{served.proxy.url}/readyz", timeout=10)
        assert down.status_code == 503 and down.json()["reason"] == "the database is unreachable"
    finally:
        outage.end()
    deadline = time.monotonic() + 15
    while httpx.get(f"{served.proxy.url}/readyz", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "readyz did not come back after the database did"
        time.sleep(0.2)

    time.sleep(0.3)  # the last access lines are written after their answers
    lines = served.lines()
    assert lines and all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)
    access = [str(line["message"]) for line in lines if line["logger"] == "latchkey.access"]
    assert any(
        a.startswith("POST /api/v1/connections 201 ") and a.endswith("from 127.0.0.4 over https") for a in access
    )
    assert any(a.startswith("GET /healthz 200 ") and a.endswith("from 127.0.0.3 over http") for a in access)
    assert not any("203.0.113.66" in a for a in access)
    ids = {line["request_id"] for line in lines if line["logger"] == "latchkey.access"}
    assert set(served.proxy.request_ids) <= ids
    started = [line for line in lines if str(line["message"]).startswith("Started server process")]
    assert len(started) == 2  # two worker processes
    text = served.log.read_text()
    assert "canary-query" not in text and key.group(1) not in text
