"""The examples in examples/, run as a developer would and driven in Chromium to a connection.

Each example host runs on an origin of its own (localhost on another port), added to the test
workspace's allowlists through the REST API. The React and Vue apps are built with their own
`npm ci && npx vite build`, configured by VITE_LATCHKEY_URL and VITE_WORKSPACE_ID.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from playwright.sync_api import Page

from tests.harness import free_port

if TYPE_CHECKING:
    from tests.browser.conftest import Demo


ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
WIDGET_PACKAGES = ROOT / "widget" / "packages"


def load_example(relative: str) -> ModuleType:
    path = EXAMPLES / relative
    spec = importlib.util.spec_from_file_location(f"example_{path.parent.name.replace('-', '_')}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def api(demo: Demo, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method,
        f"{demo.base}/api/v1{path}",
        headers={"Authorization": f"Bearer {demo.sandbox_key}"},
        timeout=10,
        **kwargs,
    )


def allow(demo: Demo, *, origin: str | None = None, redirect_prefix: str | None = None) -> None:
    """Add an origin and / or a redirect prefix to the sandbox environment, keeping the others."""
    env = api(demo, "GET", "/environment").json()["data"]
    origins, urls = env["allowed_origins"], env["allowed_redirect_urls"]
    patched = api(
        demo,
        "PATCH",
        "/environment",
        json={
            "allowed_origins": [*origins, origin] if origin and origin not in origins else origins,
            "allowed_redirect_urls": [*urls, redirect_prefix]
            if redirect_prefix and redirect_prefix not in urls
            else urls,
        },
    )
    assert patched.status_code == 200, patched.text


def connections_of(demo: Demo, xref: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = api(demo, "GET", "/connections", params={"external_xref": xref}).json()["data"]
    return listed


def serve_directory(directory: Path, port: int) -> http.server.ThreadingHTTPServer:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def frames_of(page: Page, demo: Demo) -> list[str]:
    """Each frame the page holds, once the page has settled; fails on a broken or unintended one.

    A frame Chromium refused to show (a CSP frame-ancestors refusal, an unreachable address) is
    left on chrome-error://; a frame of Latchkey's that shows an error page has `data-error-code`.
    """
    page.wait_for_load_state("networkidle")
    urls = []
    for frame in page.main_frame.child_frames:
        assert not frame.url.startswith("chrome-error:"), f"{page.url} holds a frame the browser refused: {frame.url}"
        assert frame.url.startswith(demo.base + "/picker?"), f"{page.url} holds an unintended frame: {frame.url}"
        assert frame.locator("[data-error-code]").count() == 0, (
            f"{page.url} holds a frame with an error page: {frame.locator('[data-error-code]').first.text_content()}"
        )
        frame.locator("a.lk-item").first.wait_for(timeout=10_000)
        urls.append(frame.url)
    return urls


def approve_in_popup(page: Page, opener: Callable[[], object], pick: str | None = "sandbox") -> None:
    """Open the popup, pick an integration in it (unless an inline picker already did), approve."""
    with page.expect_popup() as popup_info:
        opener()
    popup = popup_info.value
    if pick:
        popup.click(f"a[data-integration={pick}]")
    popup.click("button[value=approve]")


# -- React and Vue (Vite builds) ------------------------------------------------------------------


@pytest.fixture(scope="session")
def vite_builds(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`npm ci && npx vite build` for both apps, in parallel, pointed at the test Latchkey."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the React and Vue examples cannot be built")
    for package in ("core", "react", "vue"):
        if not (WIDGET_PACKAGES / package / "dist" / "index.mjs").is_file():
            pytest.fail(f"widget/packages/{package}/dist is not built: run `make widget` first")
    out = tmp_path_factory.mktemp("vite")
    env = {**os.environ, "VITE_LATCHKEY_URL": demo.base, "VITE_WORKSPACE_ID": demo.workspace_id}
    script = "npm ci --no-audit --no-fund --loglevel=error && npx vite build --logLevel error --outDir {out}"
    running = {
        name: subprocess.Popen(
            ["bash", "-c", script.format(out=out / name)],
            cwd=EXAMPLES / name,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("react", "vue")
    }
    for name, process in running.items():
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, f"building examples/{name} failed:\n{output}"
    return {name: out / name for name in running}


@pytest.fixture(scope="session")
def vite_sites(demo: Demo, vite_builds: dict[str, Path]) -> Iterator[dict[str, str]]:
    """Each built app on its own origin, allowed as a host origin."""
    servers, sites = [], {}
    for name, dist in vite_builds.items():
        port = free_port()
        servers.append(serve_directory(dist, port))
        sites[name] = f"http://localhost:{port}"
        allow(demo, origin=sites[name])
    yield sites
    for server in servers:
        server.shutdown()


@pytest.mark.parametrize(("app", "xref"), [("react", "react-demo-user"), ("vue", "vue-demo-user")])
def test_vite_example_connects_through_a_sandbox_popup(
    demo: Demo, page: Page, vite_sites: dict[str, str], app: str, xref: str
) -> None:
    page.goto(vite_sites[app] + "/")
    button = page.get_by_role("button", name="Connect an integration")
    button.and_(page.locator(":enabled")).wait_for(timeout=10_000)  # enabled once embed.js has loaded
    assert frames_of(page, demo) == []
    approve_in_popup(page, button.click)
    item = page.locator("#connections li[data-connection-id]").first
    item.wait_for(timeout=10_000)
    connection_id = item.get_attribute("data-connection-id")
    stored = {c["id"]: c for c in connections_of(demo, xref)}
    assert connection_id in stored and stored[connection_id]["integration"] == "sandbox"
    assert page.locator("#problem").count() == 0


@pytest.mark.parametrize("app", ["react", "vue"])
def test_vite_example_inline_picker_is_its_only_frame(
    demo: Demo, page: Page, vite_sites: dict[str, str], app: str
) -> None:
    page.goto(vite_sites[app] + "/")
    page.click("#toggle-inline")
    page.frame_locator("#inline iframe").locator("a.lk-item").first.wait_for(timeout=10_000)
    assert len(frames_of(page, demo)) == 1


# -- plain HTML -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_site(demo: Demo) -> Iterator[str]:
    """examples/plain-html/serve.py's server, on its own origin."""
    serve = load_example("plain-html/serve.py")
    server = serve.make_server("127.0.0.1", free_port(), demo.base, demo.workspace_id, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site = f"http://localhost:{server.server_address[1]}"
    allow(demo, origin=site, redirect_prefix=site + "/")
    yield site
    server.shutdown()
    server.server_close()


def listed_connection(page: Page, how: str) -> str:
    item = page.locator(f"#connections li[data-connection-id]:has-text('({how})')").first
    item.wait_for(timeout=10_000)
    connection_id = item.get_attribute("data-connection-id")
    assert connection_id is not None
    return connection_id


@pytest.mark.parametrize(("name", "inline_pickers"), [("index.html", 0), ("declarative.html", 1)])
def test_every_plain_html_page_holds_only_its_intended_frames(
    demo: Demo, page: Page, plain_site: str, name: str, inline_pickers: int
) -> None:
    assert {p.name for p in (EXAMPLES / "plain-html").glob("*.html")} == {"index.html", "declarative.html"}
    page.goto(f"{plain_site}/{name}")
    assert len(frames_of(page, demo)) == inline_pickers
    if name == "index.html":  # its inline picker is one click away
        page.click("#toggle-inline")
        page.frame_locator("#inline-picker iframe").locator("a.lk-item").first.wait_for(timeout=10_000)
        assert len(frames_of(page, demo)) == 1


def test_plain_html_popup_shows_the_connection(demo: Demo, page: Page, plain_site: str) -> None:
    page.goto(plain_site + "/")
    approve_in_popup(page, lambda: page.click("#connect-popup"))
    connection_id = listed_connection(page, "popup")
    assert connection_id in {c["id"] for c in connections_of(demo, "plain-demo-user")}
    assert page.text_content("#status") == ""


def test_plain_html_redirect_comes_back_with_the_connection(demo: Demo, page: Page, plain_site: str) -> None:
    page.goto(plain_site + "/")
    page.click("#connect-redirect")
    page.wait_for_url(f"{demo.base}/picker?**")
    page.click("a[data-integration=sandbox]")
    page.click("button[value=approve]")
    page.wait_for_url(plain_site + "/**")
    connection_id = listed_connection(page, "redirect")
    assert connection_id in {c["id"] for c in connections_of(demo, "plain-demo-user")}
    assert page.url == plain_site + "/"  # the page tidies the result out of its address


def test_plain_html_inline_picker_shows_the_connection(demo: Demo, page: Page, plain_site: str) -> None:
    page.goto(plain_site + "/")
    page.click("#toggle-inline")
    picker = page.frame_locator("#inline-picker iframe")
    approve_in_popup(page, picker.locator("a[data-integration=sandbox]").click, pick=None)
    connection_id = listed_connection(page, "inline")
    assert connection_id in {c["id"] for c in connections_of(demo, "plain-demo-user")}


def test_plain_html_declarative_page_shows_the_connection(demo: Demo, page: Page, plain_site: str) -> None:
    page.goto(plain_site + "/declarative.html")
    picker = page.frame_locator("#inline-declarative iframe")
    picker.locator("a[data-integration=sandbox]").wait_for(timeout=10_000)  # mounted on DOMContentLoaded
    approve_in_popup(page, lambda: page.click("#connect-declarative"))
    connection_id = listed_connection(page, "popup")
    assert connection_id in {c["id"] for c in connections_of(demo, "plain-demo-user")}


# -- redirect host (Starlette, connect session) ---------------------------------------------------


@pytest.fixture(scope="module")
def redirect_host(demo: Demo) -> Iterator[str]:
    example = load_example("redirect-host/app.py")
    port = free_port()
    site = f"http://localhost:{port}"
    app = example.make_app(example.HostConfig(latchkey_url=demo.base, api_key=demo.sandbox_key, public_url=site))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the redirect-host example did not start"
        time.sleep(0.02)
    allow(demo, redirect_prefix=site + "/")
    yield site
    server.should_exit = True
    thread.join(timeout=10)


def test_redirect_host_reads_the_connection_back_without_tokens(demo: Demo, page: Page, redirect_host: str) -> None:
    page.goto(redirect_host + "/")
    page.click("#connect")
    page.wait_for_url(f"{demo.base}/picker?**")
    offered = {a.get_attribute("data-integration") for a in page.locator("a.lk-item").all()}
    assert offered == {"sandbox", "hubspot"}  # the session asks for CRMs with crm_contact_read
    page.click("a[data-integration=sandbox]")
    page.click("button[value=approve]")
    page.wait_for_url(f"{redirect_host}/connected?**")
    assert page.text_content("#integration") == "sandbox"
    assert page.text_content("#status") == "healthy"
    scopes = page.text_content("#scopes")
    assert scopes is not None and "crm_contact_read" in scopes
    connection_id = page.text_content("#connection-id")
    assert connection_id in {c["id"] for c in connections_of(demo, "redirect-demo-user")}
    credentials = api(demo, "GET", f"/connections/{connection_id}", params={"include": "credentials"}).json()["data"][
        "credentials"
    ]
    body = page.content()
    assert credentials["access_token"] not in body and credentials["refresh_token"] not in body


def test_redirect_host_shows_a_denial(demo: Demo, page: Page, redirect_host: str) -> None:
    page.goto(redirect_host + "/")
    page.click("#connect")
    page.click("a[data-integration=sandbox]")
    page.click("button[value=deny]")
    page.wait_for_url(f"{redirect_host}/failed?**")
    assert page.text_content("#error") == "access_denied"


# -- custom flow (script) -------------------------------------------------------------------------


def test_custom_flow_script_prints_a_url_that_ends_on_the_success_url(
    demo: Demo, page: Page, capsys: pytest.CaptureFixture[str]
) -> None:
    custom_flow = load_example("custom-flow/custom_flow.py")
    success = f"{demo.host.url}/done.html"
    code = custom_flow.main(
        [
            "--latchkey",
            demo.base,
            "--api-key",
            demo.sandbox_key,
            "--integration",
            "sandbox",
            "--external-xref",
            "custom-flow-user",
            "--success-url",
            success,
            "--failure-url",
            success,
            "--state",
            "from-the-script",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "* sandbox" in printed
    url = printed.strip().splitlines()[-1]
    assert url.startswith(f"{demo.base}/auth/sandbox/start?link=")
    page.goto(url)  # straight to the provider's consent page: no picker
    page.click("button[value=approve]")
    page.wait_for_url(success + "?**")
    query = parse_qs(urlsplit(page.url).query)
    assert query["state"] == ["from-the-script"]
    assert query["connection_id"][0] in {c["id"] for c in connections_of(demo, "custom-flow-user")}
