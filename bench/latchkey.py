"""Latchkey as the bench drives it: from outside, through its CLI, REST API and picker only.

So the bench measures whatever `server/` is at the time, without reaching into it: a workspace
made with `latchkey workspace create`, the bench's catalog entry (an integration pointed at the
zero-work provider, in a LATCHKEY_CATALOG_DIR) activated with the production key, start links
read from the picker, and connections counted through the API with paging.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import httpx

from bench.servers import ROOT, Server, free_port, running

SLUG = "bench-zero"
SUCCESS_URL = "https://host.example/connected"
FAILURE_URL = "https://host.example/failed"
CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-client-secret"
UNLIMITED = "100000000/minute"
# All the load comes from one address and one key: the limits are counted (their cost is measured) but never reached.
RATE_LIMITS = {
    f"LATCHKEY_RATE_LIMIT_{name}": UNLIMITED
    for name in ("PICKER", "START", "CREDENTIALS", "SIGN_IN", "API", "API_AUTH_FAILURE")
}


def write_catalog(folder: Path, provider_url: str) -> None:
    """The bench's integration: an OAuth 2.0 provider on loopback (plain http is allowed to 127.0.0.1)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{SLUG}.yaml").write_text(
        f"""slug: {SLUG}
name: Zero-work provider
description: The bench's OAuth 2.0 provider, which does no work.
categories: [crm]
docs: https://host.example/docs
auth:
  kind: oauth2
  authorize_url: {provider_url}/authorize
  token_url: {provider_url}/token
  pkce: true
  scope_separator: " "
api:
  base_url: {provider_url}/api
  source: https://host.example/api
scopes:
  crm_contact_read: [contacts.read]
"""
    )


def latchkey_env(*, var_dir: Path, database_url: str, base_url: str, secret: str, catalog_dir: Path) -> dict[str, str]:
    return {
        "LATCHKEY_VAR_DIR": str(var_dir),
        "LATCHKEY_DATABASE_URL": database_url,
        "LATCHKEY_BASE_URL": base_url,
        "LATCHKEY_SECRET_KEY": secret,
        "LATCHKEY_CATALOG_DIR": str(catalog_dir),
        "LATCHKEY_LOG_LEVEL": "WARNING",
        **RATE_LIMITS,
    }


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"latchkey {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


@dataclass(frozen=True)
class Workspace:
    id: str
    sandbox_key: str
    production_key: str


def create_workspace(env: dict[str, str]) -> Workspace:
    out = cli(
        env, "workspace", "create", "--name", "Bench", "--redirect-url", SUCCESS_URL, "--redirect-url", FAILURE_URL
    )
    workspace = re.search(r"^workspace (\S+)", out, re.M)
    keys = dict(re.findall(r"^\s+(sandbox|production)\s+secret key: (\S+)", out, re.M))
    if workspace is None or set(keys) != {"sandbox", "production"}:
        raise RuntimeError(f"unexpected output of `latchkey workspace create`:\n{out}")
    return Workspace(id=workspace.group(1), sandbox_key=keys["sandbox"], production_key=keys["production"])


@contextlib.contextmanager
def running_latchkey(name: str, env: dict[str, str], *, logs: Path, port: int | None = None) -> Iterator[Server]:
    """`latchkey serve`; its base URL is LATCHKEY_BASE_URL's unless `port` puts a second process elsewhere."""
    port = port or int(env["LATCHKEY_BASE_URL"].rsplit(":", 1)[1])
    with running(
        name, ["-m", "server.cli", "serve", "--port", str(port)], port=port, logs=logs, env=env, probe="/healthz"
    ) as server:
        yield server


def new_base_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _checked(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body


async def prepare(base: str, ws: Workspace, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
    """Production: public mode (so the picker hands out start links) and the bench integration
    activated with client credentials; sandbox: the simulated provider activated."""
    async with httpx.AsyncClient(
        base_url=base, headers=bearer(ws.production_key), timeout=30, transport=transport
    ) as api:
        await _checked(await api.patch("/api/v1/environment", json={"public_mode": True}), "public mode")
        await _checked(
            await api.put(
                f"/api/v1/integrations/{SLUG}",
                json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scopes": ["crm_contact_read"]},
            ),
            "activation",
        )
    async with httpx.AsyncClient(base_url=base, headers=bearer(ws.sandbox_key), timeout=30, transport=transport) as api:
        await _checked(await api.put("/api/v1/integrations/sandbox", json={}), "sandbox activation")


async def seed_test_connections(
    base: str, ws: Workspace, count: int, *, transport: httpx.AsyncBaseTransport | None = None
) -> list[str]:
    """Sandbox test connections (POST /api/v1/connections): what the read endpoints are measured on."""
    async with httpx.AsyncClient(base_url=base, headers=bearer(ws.sandbox_key), timeout=30, transport=transport) as api:
        ids = []
        for i in range(count):
            made = await _checked(
                await api.post(
                    "/api/v1/connections",
                    json={"integration": "hubspot", "external_xref": f"reader-{i:03d}", "scopes": ["crm_contact_read"]},
                ),
                "test connection",
            )
            ids.append(str(made["data"]["id"]))
        return ids


async def start_links(
    base: str,
    workspace_id: str,
    environment: str,
    slug: str,
    xrefs: list[str],
    *,
    concurrency: int = 8,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[str]:
    """One start link per end-user, as the picker hands them out (absolute URLs)."""
    pattern = re.compile(rf'href="(/auth/{re.escape(slug)}/start\?ctx=[^"]+)"')
    gate = asyncio.Semaphore(concurrency)

    async def one(client: httpx.AsyncClient, xref: str) -> str:
        async with gate:
            page = await client.get(
                "/picker",
                params={
                    "workspace": workspace_id,
                    "env": environment,
                    "external_xref": xref,
                    "mode": "redirect",
                    "success_url": SUCCESS_URL,
                    "failure_url": FAILURE_URL,
                },
            )
        page.raise_for_status()
        href = pattern.search(page.text)
        if href is None:
            raise RuntimeError(f"the {environment} picker lists no {slug} integration")
        return base + unescape(href.group(1))

    async with httpx.AsyncClient(base_url=base, timeout=60, transport=transport) as client:
        return list(await asyncio.gather(*(one(client, x) for x in xrefs)))


async def list_connections(base: str, key: str, integration: str) -> list[dict[str, Any]]:
    """Every connection of the key's environment to `integration`, page after page."""
    rows: list[dict[str, Any]] = []
    after: str | None = None
    async with httpx.AsyncClient(base_url=base, headers=bearer(key), timeout=60) as api:
        while True:
            params = {"integration": integration, "limit": "200", **({"after": after} if after else {})}
            page = await _checked(await api.get("/api/v1/connections", params=params), "list")
            rows.extend(page["data"])
            after = page["next_after"]
            if after is None:
                return rows
