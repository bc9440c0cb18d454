"""The custom flow: your backend lists integrations and creates an authorization URL itself.

    python examples/custom-flow/custom_flow.py --integration hubspot --external-xref user-42

It prints the integrations this environment offers, then a one-time authorization URL
(POST /api/v1/auth-urls) for one of them. Send your user's browser there: it goes straight to
that provider (no picker) and comes back to your success or failure URL with `connection_id`
or `error`. With --wait, the script then waits for the connection and prints it (never its tokens).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]


class LatchkeyError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def latchkey_client(base_url: str, api_key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{base_url.rstrip('/')}/api/v1",
        timeout=httpx.Timeout(10.0),
        headers={"Authorization": f"Bearer {api_key}"},
    )


def data_of(response: httpx.Response) -> Any:
    body = response.json()
    if response.is_error:
        error = body.get("error", {})
        raise LatchkeyError(error.get("code", "server_error"), error.get("message", response.text))
    return body["data"]


def list_integrations(client: httpx.Client) -> list[dict[str, Any]]:
    integrations: list[dict[str, Any]] = data_of(client.get("/integrations"))
    return integrations


def create_auth_url(
    client: httpx.Client,
    *,
    integration: str,
    external_xref: str,
    success_url: str,
    failure_url: str,
    scopes: list[str],
    state: str | None,
) -> dict[str, Any]:
    body = {
        "integration": integration,
        "external_xref": external_xref,
        "success_url": success_url,
        "failure_url": failure_url,
        "scopes": scopes,
        "state": state,
    }
    created: dict[str, Any] = data_of(client.post("/auth-urls", json={k: v for k, v in body.items() if v}))
    return created


def wait_for_connection(
    client: httpx.Client, *, integration: str, external_xref: str, since: str, timeout: float
) -> dict[str, Any] | None:
    """Poll until this user has a connection to `integration` authorized after `since` (ISO time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connections: list[dict[str, Any]] = data_of(
            client.get("/connections", params={"external_xref": external_xref, "integration": integration})
        )
        for connection in connections:
            if (connection.get("authorized_at") or connection["updated_at"]) >= since:
                return connection
        time.sleep(1)
    return None


def demo_api_key() -> str | None:
    """The sandbox key `make run` saved for the demo workspace, if any."""
    path = REPO / "var" / "demo-keys.json"
    return json.loads(path.read_text())["sandbox"] if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="List integrations and create an authorization URL (custom flow)")
    parser.add_argument("--latchkey", default=os.environ.get("LATCHKEY_URL", "http://127.0.0.1:8000"))
    parser.add_argument(
        "--api-key",
        default=os.environ.get("LATCHKEY_API_KEY") or demo_api_key(),
        help="the environment's secret key (default: $LATCHKEY_API_KEY, else var/demo-keys.json)",
    )
    parser.add_argument("--integration", default="sandbox", help="integration slug (default: sandbox)")
    parser.add_argument("--external-xref", default="custom-flow-user", help="your ID for the end-user")
    parser.add_argument("--scopes", default="", help="unified scopes, comma-separated (e.g. crm_contact_read)")
    parser.add_argument("--success-url", default="http://localhost:8001/", help="on the environment's allowlist")
    parser.add_argument("--failure-url", default="http://localhost:8001/", help="on the environment's allowlist")
    parser.add_argument("--state", help="your own opaque value, echoed back on the success / failure URL")
    parser.add_argument("--wait", type=float, metavar="SECONDS", help="then wait this long for the connection")
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("no secret key: pass --api-key, set LATCHKEY_API_KEY, or run `make run` first")

    with latchkey_client(args.latchkey, args.api_key) as client:
        try:
            integrations = list_integrations(client)
            print("Integrations in this environment (* = available):")
            for item in integrations:
                if item["active"]:
                    mark = "*" if item["available"] else " "
                    print(f"  {mark} {item['slug']:<20} {item['name']}")
            since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))
            created = create_auth_url(
                client,
                integration=args.integration,
                external_xref=args.external_xref,
                success_url=args.success_url,
                failure_url=args.failure_url,
                scopes=[s.strip() for s in args.scopes.split(",") if s.strip()],
                state=args.state,
            )
        except LatchkeyError as exc:
            print(f"Latchkey refused: {exc}", file=sys.stderr)
            return 1
        print(f"\nAuthorization URL for {args.integration} (expires {created['expires_at']}):")
        print(created["url"])
        if args.wait:
            print(f"\nWaiting up to {args.wait:g} s for the connection…", flush=True)
            connection = wait_for_connection(
                client, integration=args.integration, external_xref=args.external_xref, since=since, timeout=args.wait
            )
            if connection is None:
                print("No connection yet.", file=sys.stderr)
                return 2
            print(
                f"Connected: {connection['id']} ({connection['integration']}, {connection['status']}, "
                f"scopes {', '.join(connection['scopes_granted']) or '—'})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
