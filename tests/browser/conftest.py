"""Browser tests: Latchkey and the host page on two different sites, driven in Debian's Chromium.

Latchkey runs under a real uvicorn on http://127.0.0.1:<port>; host pages are served from
http://localhost:<port> — a different site, so cookies, storage and postMessage behave as in
production. Playwright drives /usr/bin/chromium (it cannot download a browser here).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pytest

from server.crypto import Sealer
from server.db import activations as activation_store
from server.db import workspaces as workspace_store
from server.db.database import close_database, open_database
from server.db.migrations import migrate
from tests.harness import SECRET, LiveServer, _in_own_thread, free_port, make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

ROOT = Path(__file__).resolve().parents[2]
PAGES = Path(__file__).parent / "pages"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium")

pytestmark = pytest.mark.browser


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            if CHROMIUM is None:
                item.add_marker(
                    pytest.mark.skip(reason="Debian's chromium is not installed (make chromium installs it)")
                )


@dataclass
class Host:
    """The host app's origin: static files from tests/browser/pages and examples/, {{LATCHKEY}} filled in."""

    url: str
    server: http.server.ThreadingHTTPServer


@dataclass
class Demo:
    latchkey: LiveServer
    host: Host
    workspace_id: str
    sandbox_key: str
    production_key: str

    @property
    def base(self) -> str:
        return self.latchkey.url


def _host_handler(latchkey_url: str, workspace_id: str) -> type[http.server.SimpleHTTPRequestHandler]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def send_head(self) -> BinaryIO | None:
            path = Path(self.translate_path(self.path))
            if path.suffix == ".html" and path.is_file():
                body = (
                    path.read_text()
                    .replace("{{LATCHKEY}}", latchkey_url)
                    .replace("{{WORKSPACE}}", workspace_id)
                    .encode()
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                import io

                return io.BytesIO(body)
            return super().send_head()

    return Handler


async def _seed(database_url: str, host_origin: str, redirect_base: str) -> tuple[str, dict[str, str]]:
    db = open_database(database_url)
    await db.connect()
    try:
        await migrate(db)
        created = await workspace_store.create_workspace(
            db, "Browser tests", allowed_origins=[host_origin], allowed_redirect_urls=[redirect_base + "/"]
        )
        sealer = Sealer(SECRET)
        for slug in ("sandbox", "hubspot", "stripe", "shopify", "slack"):
            await activation_store.activate(
                db, sealer, created.id, "sandbox", slug, client_id=None, client_secret=None, scopes=[]
            )
        return created.id, created.api_keys
    finally:
        await close_database(db)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("browser")
    host_port = free_port()
    host_origin = f"http://localhost:{host_port}"
    live = LiveServer(lambda base: make_settings(tmp, base_url=base))
    workspace_id, keys = _in_own_thread(_seed(live.settings.database_url, host_origin, host_origin))
    live.start()
    handler = functools.partial(_host_handler(live.url, workspace_id), directory=str(PAGES))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", host_port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Demo(
        latchkey=live,
        host=Host(url=host_origin, server=server),
        workspace_id=workspace_id,
        sandbox_key=keys["sandbox"],
        production_key=keys["production"],
    )
    server.shutdown()
    live.stop()


@pytest.fixture(scope="module")
def other_site() -> Iterator[str]:
    """A third origin, on no environment's allowlist (another loopback address), serving pages/ as is."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.2", free_port()), functools.partial(Quiet, directory=str(PAGES)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.2:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API keeps an event loop running while it is started, which
    # would break every async test collected after tests/browser/ if it lived for the session.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context()
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
