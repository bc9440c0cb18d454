"""Files served from memory: /embed.js, /static/…, /logos/{slug}.svg (server/assets.py).

Each answers with a strong ETag and 304 for a client that holds it, HEAD without a body, and the
headers it had when read from disk per request; a file changed on disk is served from the next
check (every request for a logo, at most every second for our own files); nothing outside its
folder is ever served, however the path is spelled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Message

from server import assets
from server.settings import PROJECT_ROOT
from tests.harness import Running, make_settings, running_app

ENTRY = {
    "slug": "acme",
    "name": "Acme",
    "categories": ["crm"],
    "docs": "https://acme.example/docs",
    "auth": {"kind": "api_key", "fields": [{"name": "api_key", "label": "API key", "secret": True}]},
    "scopes": {"crm_contact_read": []},
    "logo": "acme.svg",
}


async def test_a_logo_swapped_for_a_link_out_of_its_folder_is_not_served(tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("the-secret-key-" + "x" * 40)
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "acme.json").write_text(json.dumps(ENTRY))
    (catalog / "acme.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" id="acme-logo"/>')
    async with running_app(make_settings(tmp_path, catalog_dir=catalog)) as lk:
        served = await lk.client.get("/logos/acme.svg")
        assert served.status_code == 200 and 'id="acme-logo"' in served.text
        (catalog / "acme.svg").unlink()
        (catalog / "acme.svg").symlink_to(secret)
        swapped = await lk.client.get("/logos/acme.svg")
        assert swapped.status_code == 200 and swapped.headers["content-type"].startswith("image/svg+xml")
        assert "the-secret-key" not in swapped.text and "<text" in swapped.text  # the drawn initials instead


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/embed.js", "application/javascript"),
        ("/static/picker.js", "text/javascript; charset=utf-8"),
        ("/static/latchkey.css", "text/css; charset=utf-8"),
        ("/logos/github.svg", "image/svg+xml"),
    ],
)
async def test_a_client_holding_the_etag_gets_304_and_no_body(lk: Running, path: str, content_type: str) -> None:
    first = await lk.client.get(path)
    etag = first.headers["etag"]
    assert first.status_code == 200 and first.headers["content-type"] == content_type and first.content
    assert etag.startswith('"') and not etag.startswith('W/"')  # strong: the content's hash
    again = await lk.client.get(path, headers={"if-none-match": f'"other", {etag}'})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    stale = await lk.client.get(path, headers={"if-none-match": '"other"'})
    assert stale.status_code == 200 and stale.content == first.content


@pytest.mark.parametrize("path", ["/embed.js", "/static/picker.js", "/logos/github.svg"])
async def test_head_answers_the_headers_of_get_without_the_body(lk: Running, path: str) -> None:
    got = await lk.client.get(path)
    head = await lk.client.head(path)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(got.content)) and head.headers["etag"] == got.headers["etag"]
    assert await answer_as_sent(lk.app, path, "HEAD") == (200, b"")  # the client above drops any body itself


async def test_the_embed_script_may_be_loaded_and_cached_by_any_origin(lk: Running) -> None:
    answer = await lk.client.get("/embed.js")
    built = (lk.services.settings.widget_dist / "embed.js").read_bytes()
    assert answer.content == built
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["cross-origin-resource-policy"] == "cross-origin"
    assert answer.headers["cache-control"] == "public, max-age=300"
    assert answer.headers["x-content-type-options"] == "nosniff"


async def test_a_logo_is_cached_a_day_and_may_run_no_script(lk: Running) -> None:
    answer = await lk.client.get("/logos/github.svg")
    assert answer.headers["cache-control"] == "public, max-age=86400"
    assert answer.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"


class Clock:
    """A stand-in for time.monotonic in server/assets.py, moved on by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(assets, "monotonic", clock)
    return clock


async def test_a_rebuilt_embed_script_is_served_once_a_second_has_passed(tmp_path: Path, clock: Clock) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    async with running_app(make_settings(tmp_path, widget_dist=dist)) as lk:
        missing = await lk.client.get("/embed.js")
        assert missing.status_code == 503 and "make widget" in missing.text
        assert missing.headers["content-type"] == "application/javascript"
        (dist / "embed.js").write_text("/* build 1 */")
        clock.now += assets.RECHECK_SECONDS
        first = await lk.client.get("/embed.js")
        assert first.status_code == 200 and first.text == "/* build 1 */"
        (dist / "embed.js").write_text("/* build 2, longer */")
        assert (await lk.client.get("/embed.js")).text == "/* build 1 */"  # no stat on every request
        clock.now += assets.RECHECK_SECONDS
        second = await lk.client.get("/embed.js", headers={"if-none-match": first.headers["etag"]})
        assert second.status_code == 200 and second.text == "/* build 2, longer */"
        assert second.headers["etag"] != first.headers["etag"]


async def test_a_static_file_swapped_for_a_link_out_of_the_folder_is_not_served(tmp_path: Path, clock: Clock) -> None:
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "page.js").write_text("/* page */")
    (tmp_path / "secret.txt").write_text("top-secret")
    async with running_app(make_settings(tmp_path, static_dir=folder)) as lk:
        assert (await lk.client.get("/static/page.js")).text == "/* page */"
        (folder / "page.js").unlink()
        (folder / "page.js").symlink_to(tmp_path / "secret.txt")
        clock.now += assets.RECHECK_SECONDS
        swapped = await lk.client.get("/static/page.js")
        assert swapped.status_code == 404 and "top-secret" not in swapped.text


APP_PY = PROJECT_ROOT / "server" / "app.py"  # the served folder is server/static


@pytest.mark.parametrize(
    "path",
    [
        "/static/../server/app.py",
        "/static/../app.py",
        "/static/./../app.py",
        "/static/%2e%2e/app.py",
        "/static/.%2e/app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e%2fapp.py",
        "/static/%2e%2e%2f%2e%2e%2fpyproject.toml",
        "/static/..%5capp.py",
        f"/static/{APP_PY}",
        f"/static/%2f{str(APP_PY).lstrip('/')}",
        "/static/",
        "/static/nothing-here.js",
    ],
)
async def test_no_spelling_of_a_path_reaches_a_file_outside_the_static_folder(lk: Running, path: str) -> None:
    assert APP_PY.is_file()
    through_client = await lk.client.get(path)  # a client removes literal dot segments before sending
    assert through_client.status_code == 404 and "create_app" not in through_client.text
    assert (await answer_as_sent(lk.app, path))[0] == 404  # as a raw request line would arrive


async def test_a_link_inside_the_static_folder_to_a_file_outside_is_not_served(tmp_path: Path) -> None:
    folder = tmp_path / "static"
    folder.mkdir()
    (tmp_path / "secret.txt").write_text("top-secret")
    os.symlink(tmp_path / "secret.txt", folder / "leak.js")
    async with running_app(make_settings(tmp_path, static_dir=folder)) as lk:
        answer = await lk.client.get("/static/leak.js")
        assert answer.status_code == 404 and "top-secret" not in answer.text


async def test_static_files_may_only_be_read(lk: Running) -> None:
    answer = await lk.client.post("/static/picker.js")
    assert answer.status_code == 405


async def answer_as_sent(app: ASGIApp, path: str, method: str = "GET") -> tuple[int, bytes]:
    """Status and body for `path` handed to the app unnormalised, as a server passes it on."""
    statuses: list[int] = []
    body = b""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal body
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
        else:
            body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"latchkey.test")],
        "client": ("127.0.0.1", 50000),
        "server": ("latchkey.test", 80),
    }
    await app(scope, receive, send)
    return statuses[0], body


async def test_every_page_names_the_favicon_and_favicon_ico_leads_to_it(lk: Running) -> None:
    icon = await lk.client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.text.startswith("<svg")
    ico = await lk.client.get("/favicon.ico")
    assert ico.status_code == 301 and ico.headers["location"] == "/static/favicon.svg"
    for path in ("/", "/picker?workspace=nope", "/dashboard/sign-in"):
        page = await lk.client.get(path)
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page.text, path


@pytest.mark.parametrize("path", ["/embed.js", "/static/picker.js", "/logos/github.svg"])
async def test_a_file_carries_each_security_header_once(lk: Running, path: str) -> None:
    for answer in (await lk.client.get(path), await lk.client.get(path, headers={"if-none-match": "*"})):
        names = [name.lower() for name, _ in answer.headers.multi_items()]
        assert names.count("x-content-type-options") == 1 and names.count("referrer-policy") == 1
        assert answer.headers["referrer-policy"] == "no-referrer"
