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
PUBLIC = "https://latchkey.example"
METRICS_TOKEN = "metrics-token-of-the-served-test"
DONE = "http://host.test/done"


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
        "LATCHKEY_BASE_URL": PUBLIC,  # the public URL: TLS ends at the proxy
        "LATCHKEY_TRUSTED_PROXIES": "127.0.0.2",
        "LATCHKEY_LOG_FORMAT": "json",
        "LATCHKEY_LOG_LEVEL": "DEBUG",
        "LATCHKEY_VAR_DIR": str(tmp_path / "var"),
        "LATCHKEY_BACKGROUND_TASKS": "on",
        "LATCHKEY_METRICS_TOKEN": METRICS_TOKEN,
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


def sandbox_flow_through(proxy: str, workspace_id: str) -> str:
    """A whole sandbox flow through the proxy, as a browser at the public URL would make it (the
    binding cookie is `Secure`, so it is carried by hand over the test's plain-http hop)."""
    cookies: dict[str, str] = {}

    def get(url: str, **kwargs: object) -> httpx.Response:
        answer = httpx.request(
            str(kwargs.pop("method", "GET")),
            url.replace(PUBLIC, proxy),
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
            timeout=10,
            **kwargs,  # type: ignore[arg-type]
        )
        for header in answer.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            cookies[name] = rest.split(";", 1)[0]
        return answer

    page = get(f"{proxy}/picker?workspace={workspace_id}&env=sandbox&external_xref=u&mode=redirect&success_url={DONE}")
    link = page.text.split('href="/auth/sandbox/start?ctx=', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    start = get(f"{proxy}/auth/sandbox/start?ctx={link}")
    assert start.status_code == 302 and start.headers["location"].startswith(PUBLIC), start.text
    consent = get(start.headers["location"])
    request_token = consent.text.split('name="request" value="', 1)[1].split('"', 1)[0]
    decided = get(
        f"{proxy}/sandbox/oauth/decide", method="POST", data={"request": request_token, "decision": "approve"}
    )
    back = get(decided.headers["location"])
    assert back.status_code == 302 and back.headers["location"].startswith(DONE), back.text
    return back.headers["location"]


def counter(text: str, name: str, integration: str) -> float:
    match = re.search(rf'^{name}{{integration="{integration}"}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def test_two_workers_behind_a_trusted_proxy_log_json_with_request_ids_count_flows_and_follow_the_database(
    served: Served,
) -> None:
    out = cli(served.env, "workspace", "create", "--name", "Served", "--redirect-url", DONE)
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

    workspace = re.search(r"^workspace (\S+)", out, re.M)
    assert workspace is not None
    activated = httpx.put(f"{served.proxy.url}/api/v1/integrations/sandbox", headers=auth, json={}, timeout=10)
    assert activated.status_code == 200, activated.text
    sandbox_flow_through(served.proxy.url, workspace.group(1))
    scraped = [
        httpx.get(f"{served.proxy.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
        for _ in range(4)  # whichever worker answers, it reads every worker's samples
    ]
    for answer in scraped:
        assert answer.status_code == 200
        assert counter(answer.text, "latchkey_flows_started_total", "sandbox") == 1
        assert counter(answer.text, "latchkey_flows_completed_total", "sandbox") == 1
    assert httpx.get(f"{served.proxy.url}/metrics", timeout=10).status_code == 401

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
