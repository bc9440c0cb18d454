"""Passthrough over real sockets (uvicorn on loopback): raw paths no client library would send,
answers cut off at the deadline or the size cap, and bodies far larger than any buffer streaming
through both ways with Latchkey's memory staying flat."""

from __future__ import annotations

import hashlib
import json
import socket
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from server.db import connections as connection_store
from server.db import workspaces as workspace_store
from server.db.connections import NewConnection
from server.db.database import close_database, open_database
from server.db.migrations import migrate
from tests.api.test_passthrough import api_key_entry
from tests.harness import LiveServer, _in_own_thread, make_settings
from tests.support.upstream import API_KEY, Upstream

MB = 1024 * 1024


@dataclass
class Wire:
    live: LiveServer
    upstream: Upstream
    key: str
    connection_id: str

    def url(self, path: str) -> str:
        return f"{self.live.url}/api/v1/passthrough/{self.connection_id}/{path}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def _seed(url: str) -> tuple[str, str]:
    db = open_database(url)
    await db.connect()
    try:
        await migrate(db)
        created = await workspace_store.create_workspace(db, "Wire", allowed_origins=[], allowed_redirect_urls=[])
        from server.crypto import Sealer
        from tests.harness import SECRET

        saved = await connection_store.save_connection(
            db,
            Sealer(SECRET, ()),
            NewConnection(
                workspace_id=created.id,
                environment="production",
                integration="hostile",
                external_xref="u-1",
                credentials={"type": "api_key", "fields": {"api_key": API_KEY}},
            ),
        )
        return created.api_keys["production"], saved.connection.id
    finally:
        await close_database(db)


@pytest.fixture
def wire(tmp_path: Path) -> Iterator[Wire]:
    upstream = Upstream().start()
    folder = tmp_path / "catalog"
    folder.mkdir()
    entry = api_key_entry("hostile", f"{upstream.url}/v1", auth="bearer", token="{api_key}")
    (folder / "hostile.json").write_text(json.dumps(entry))
    live = LiveServer(
        lambda base: make_settings(
            tmp_path,
            base_url=base,
            catalog_dir=folder,
            background_tasks=False,
            passthrough_timeout=1.5,
            passthrough_max_response_bytes=64 * MB,
            passthrough_max_request_bytes=64 * MB,
        )
    )
    key, connection_id = _in_own_thread(_seed(live.settings.database_url))
    live.start()
    yield Wire(live, upstream, key, connection_id)
    live.stop()
    upstream.stop()


def raw_get(wire: Wire, target: str) -> int:
    """A request line sent byte for byte as written: no client library normalizes `..` away."""
    with socket.create_connection(("127.0.0.1", wire.live.port), timeout=5) as sock:
        request = (
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {wire.key}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(request.encode())
        answer = b""
        while chunk := sock.recv(65_536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "path",
    [
        "../../admin",
        "a/../../b",
        "./x",
        "a//b",
        "//evil.example/x",
        "a\\b",
        "user@evil.example/x",
        "https://evil.example/x",
        "a/%2e%2e/%2e%2e/b",
        "a/%252e%252e/b",
        "%2F%2Fevil.example",
        "a%5C..%5Cb",
        "a%00b",
    ],
)
def test_a_raw_path_escape_is_refused_400_and_the_upstream_sees_nothing(wire: Wire, path: str) -> None:
    status = raw_get(wire, f"/api/v1/passthrough/{wire.connection_id}/{path}")
    assert status == 400
    assert raw_get(wire, f"/passthrough/{wire.connection_id}/{path}") == 400
    assert wire.upstream.seen == []


def test_a_plain_raw_path_goes_through(wire: Wire) -> None:
    """The same raw request with a clean path is served (so the refusals above are about the path)."""
    assert raw_get(wire, f"/api/v1/passthrough/{wire.connection_id}/contacts/42") == 200
    assert [s.raw_path for s in wire.upstream.seen] == ["/v1/contacts/42"]


def test_a_slow_drip_of_a_small_answer_is_a_clean_504_at_the_deadline(wire: Wire) -> None:
    """An answer declared small is read whole before it is relayed: the host gets an error, not a trickle."""
    started = time.monotonic()
    answer = httpx.get(wire.url("drip"), headers=wire.auth, timeout=10)
    assert answer.status_code == 504 and answer.json()["error"]["code"] == "provider_unavailable"
    assert time.monotonic() - started < 4  # 1000 bytes would take 200 s; the deadline is 1.5 s


def test_a_slow_drip_of_a_large_answer_is_cut_off_at_the_deadline_and_left_incomplete(wire: Wire) -> None:
    started = time.monotonic()
    got = 0
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("GET", wire.url("drip?declared=100000"), headers=wire.auth, timeout=10) as answer,
    ):
        assert answer.status_code == 200  # the answer had begun: it can only be cut off
        for chunk in answer.iter_raw():
            got += len(chunk)
    assert 0 < got < 100 and time.monotonic() - started < 4


def test_an_answer_growing_past_the_cap_is_cut_off(wire: Wire) -> None:
    got = 0
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("GET", wire.url(f"huge?bytes={80 * MB}&chunked"), headers=wire.auth, timeout=30) as answer,
    ):
        for chunk in answer.iter_raw():
            got += len(chunk)
    assert 60 * MB <= got <= 65 * MB


def test_large_bodies_stream_both_ways_without_being_held_in_memory(wire: Wire) -> None:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        got = 0
        with httpx.stream("GET", wire.url(f"huge?bytes={48 * MB}"), headers=wire.auth, timeout=60) as answer:
            assert answer.status_code == 200 and answer.headers["content-length"] == str(48 * MB)
            for chunk in answer.iter_raw():
                got += len(chunk)
        download_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        block = bytes(range(256)) * 256  # 64 KiB
        digest = hashlib.sha256()

        def body() -> Iterator[bytes]:
            for _ in range(32 * MB // len(block)):
                digest.update(block)
                yield block

        uploaded = httpx.post(wire.url("upload"), headers=wire.auth, content=body(), timeout=60)
        upload_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == 48 * MB
    assert uploaded.status_code == 201 and uploaded.json() == {"size": 32 * MB, "sha256": digest.hexdigest()}
    # Whole bodies held anywhere in this process (client, Latchkey, upstream) would show as ≥ 32 MB.
    assert download_peak < 16 * MB and upload_peak < 16 * MB, (download_peak, upload_peak)
