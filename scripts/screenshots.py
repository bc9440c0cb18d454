"""The screenshots in docs/screenshots/, taken afresh from the seeded demo so they stay true.

Starts its own Latchkey on a free port with a throw-away SQLite database, seeds the demo as
`make run` does, and photographs in Debian's Chromium: the picker (light and dark), the Stripe
API-key form and the dashboard's integrations page. `make screenshots` runs it.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, ViewportSize, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a file: the bench's way of running servers is one import away

from bench.servers import free_port, running  # noqa: E402

BIN = Path(sys.executable).parent
SHOTS = ("picker-light", "picker-dark", "credentials-form", "dashboard")
VIEWPORT: ViewportSize = {"width": 480, "height": 720}
DASHBOARD_VIEWPORT: ViewportSize = {"width": 1280, "height": 800}


@contextmanager
def demo_service(work: Path) -> Iterator[tuple[str, str]]:
    """A seeded Latchkey for the duration of the block: its base URL and the dashboard password."""
    port = free_port()
    env = {
        "LATCHKEY_DATABASE_URL": f"sqlite:///{work / 'latchkey.db'}",
        "LATCHKEY_SECRET_KEY": secrets.token_urlsafe(32),
        "LATCHKEY_BASE_URL": f"http://127.0.0.1:{port}",
    }
    for command in ("migrate", "seed-demo"):
        subprocess.run(
            [str(BIN / "latchkey"), command], env={**os.environ, **env}, cwd=ROOT, check=True, capture_output=True
        )
    password = json.loads((work / "demo-keys.json").read_text())["dashboard_password"]
    serve = ["-m", "server.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with running("latchkey", serve, port=port, logs=work, env=env, probe="/healthz") as server:
        yield server.url, password


def picker_url(base: str, **extra: str) -> str:
    query = "&".join(
        f"{k}={v}"
        for k, v in {
            "workspace": "ws_demo",
            "env": "sandbox",
            "external_xref": "demo-user",
            "mode": "redirect",
            **extra,
        }.items()
    )
    return f"{base}/picker?{query}"


def settle(page: Page) -> None:
    """Every image decoded (the logos load lazily) before the picture is taken."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => [...document.images].every((img) => img.complete)")


def take(base: str, password: str, out: Path) -> list[Path]:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed: run make chromium")
    out.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        for theme in ("light", "dark"):
            page = browser.new_page(viewport=VIEWPORT, color_scheme=theme)
            page.goto(picker_url(base, theme=theme))
            settle(page)
            taken.append(out / f"picker-{theme}.png")
            page.screenshot(path=taken[-1])
            page.close()
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(picker_url(base, theme="light"))
        page.click("a[data-integration=stripe]")
        page.wait_for_url("**/auth/stripe/start?**")
        page.fill("#f-api_key", "pk_live_not_a_secret_key")
        page.click("#lk-credentials button[type=submit]")  # shows the field's expected format
        settle(page)
        taken.append(out / "credentials-form.png")
        page.screenshot(path=taken[-1])
        page.close()
        page = browser.new_page(viewport=DASHBOARD_VIEWPORT, color_scheme="light")
        page.goto(f"{base}/dashboard")
        page.fill("input[name=email]", "demo@latchkey.localhost")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard/**")
        page.goto(f"{base}/dashboard/sandbox/integrations")
        settle(page)
        taken.append(out / "dashboard.png")
        page.screenshot(path=taken[-1])
        browser.close()
    return taken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="latchkey-shots-") as work, demo_service(Path(work)) as (base, password):
        for path in take(base, password, args.out):
            print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
