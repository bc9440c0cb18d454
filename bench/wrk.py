"""Single requests under load: `wrk -t1 -c16 --latency`, one URL at a time.

wrk is written in C and needs a fraction of a core, so on a 2-core machine the server measured
keeps nearly a core of its own; a Python load generator would take the server's share.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkRun:
    rate: float  # requests per second
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors plus answers other than 2xx and 3xx

    @property
    def valid(self) -> bool:
        return self.requests > 0 and self.errors == 0


def available() -> bool:
    return shutil.which("wrk") is not None


def _millis(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse(output: str) -> WrkRun:
    def find(pattern: str) -> str | None:
        match = re.search(pattern, output)
        return match.group(1) if match else None

    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    errors += int(find(r"Non-2xx or 3xx responses: (\d+)") or 0)
    p50, p99 = find(r"\s50%\s+(\S+)"), find(r"\s99%\s+(\S+)")
    return WrkRun(
        rate=float(find(r"Requests/sec:\s+([\d.]+)") or 0.0),
        p50_ms=_millis(p50) if p50 else 0.0,
        p99_ms=_millis(p99) if p99 else 0.0,
        requests=int(find(r"(\d+) requests in") or 0),
        errors=errors,
    )


def lua_headers(headers: dict[str, str], folder: Path) -> Path:
    script = folder / "headers.lua"
    lines = [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    return script


def run(url: str, seconds: int, *, headers: dict[str, str] | None = None, connections: int = 16) -> WrkRun:
    with tempfile.TemporaryDirectory() as folder:
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency", url]
        if headers:
            argv[1:1] = ["-s", str(lua_headers(headers, Path(folder)))]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed on {url}: {done.stderr.strip()}")
    return parse(done.stdout)
