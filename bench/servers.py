"""Starting and stopping the processes the bench measures, each under the same uvicorn settings.

Every server — Latchkey, the bare app, the same-work ceilings, the zero-work provider and the
lean client — runs as its own process with one uvicorn worker, uvloop and httptools when they are
installed (uvicorn's "auto"), no access log: a ratio then compares the work done per request, not
the way it is served.
"""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from starlette.types import ASGIApp

ROOT = Path(__file__).resolve().parent.parent


def serve(app: ASGIApp, port: int) -> None:
    """How every bench app is served: Latchkey's own `latchkey serve` settings (its frozen startup
    heap too: server/app.py)."""
    gc.freeze()
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning", proxy_headers=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


class ServerFailed(RuntimeError):
    """A server exited or did not answer in time; the message carries the end of its log."""


def wait_up(server: Server, probe: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(f"{server.name} exited early:\n{server.log_tail()}")
        try:
            httpx.get(server.url + probe, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise ServerFailed(f"{server.name} did not answer {probe} within {timeout:g} s:\n{server.log_tail()}")


@contextlib.contextmanager
def running(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    logs: Path,
    env: Mapping[str, str] | None = None,
    probe: str = "/",
) -> Iterator[Server]:
    """A server process for the duration of the block; `argv` runs under this Python, from the repo root."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(name=name, url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        wait_up(server, probe)
        yield server
    finally:
        server.stop()


def bench_app(
    name: str, module: str, *args: str, logs: Path, env: Mapping[str, str] | None = None
) -> contextlib.AbstractContextManager[Server]:
    """One of the bench's own apps (`python -m bench.<module> … --port P`)."""
    port = free_port()
    return running(name, ["-m", module, *args, "--port", str(port)], port=port, logs=logs, env=env)
