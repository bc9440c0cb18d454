"""`make bench`: Latchkey's endpoints as ratios to a bare Starlette endpoint, measured in one run,
plus the widget's size and the picker's weight and first paint.

Both servers run under the same uvicorn settings (uvloop + httptools, one worker, no access log)
on loopback; the load generator runs in this process and competes with them for the 2 cores, so
compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from html import unescape
from pathlib import Path

import httpx

from bench.load import run_closed_loop

ROOT = Path(__file__).resolve().parent.parent
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "16"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early ({url})")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"server did not start ({url})")


def start_servers(tmp: Path) -> tuple[str, str, list[subprocess.Popen[bytes]]]:
    lk_port, bare_port = free_port(), free_port()
    base = f"http://127.0.0.1:{lk_port}"
    env = {
        **os.environ,
        "LATCHKEY_VAR_DIR": str(tmp),
        "LATCHKEY_BASE_URL": base,
        "LATCHKEY_LOG_LEVEL": "WARNING",
        "LATCHKEY_SECRET_KEY": "bench-secret-" + "x" * 40,
        # All the load comes from one address: the limits are counted (their cost is measured) but never reached.
        "LATCHKEY_RATE_LIMIT_PICKER": "100000000/minute",
        "LATCHKEY_RATE_LIMIT_START": "100000000/minute",
    }
    latchkey = [sys.executable, "-m", "server.cli"]
    subprocess.run([*latchkey, "seed-demo"], env=env, check=True, capture_output=True)
    procs = [
        subprocess.Popen([*latchkey, "serve", "--port", str(lk_port)], env=env, stderr=subprocess.DEVNULL),
        subprocess.Popen(
            [sys.executable, "-m", "bench.bare", "--port", str(bare_port)], cwd=ROOT, stderr=subprocess.DEVNULL
        ),
    ]
    wait_up(f"{base}/healthz", procs[0])
    wait_up(f"http://127.0.0.1:{bare_port}/", procs[1])
    return base, f"http://127.0.0.1:{bare_port}", procs


def start_link(base: str) -> str:
    page = httpx.get(
        f"{base}/picker",
        params={
            "workspace": "ws_demo",
            "env": "sandbox",
            "external_xref": "bench",
            "mode": "redirect",
            "success_url": "http://localhost:8001/",
        },
    )
    page.raise_for_status()
    href = re.search(r'href="(/auth/sandbox/start\?ctx=[^"]+)"', page.text)
    assert href, "the demo picker lists no sandbox integration"
    return unescape(href.group(1))


async def throughput(base: str, bare: str, link: str) -> dict[str, float]:
    def client(base_url: str) -> Callable[[], httpx.AsyncClient]:
        return lambda: httpx.AsyncClient(
            base_url=base_url, timeout=10, limits=httpx.Limits(max_keepalive_connections=1)
        )

    async def bare_one(c: httpx.AsyncClient) -> None:
        r = await c.get("/")
        assert r.status_code == 200

    async def start_one(c: httpx.AsyncClient) -> None:
        r = await c.get(link)
        assert r.status_code == 302

    async def flow_one(c: httpx.AsyncClient) -> None:
        started = await c.get(link)
        assert started.status_code == 302
        consent = await c.get(started.headers["location"])
        match = re.search(r'name="request" value="([^"]+)"', consent.text)
        assert match is not None
        token = match.group(1)
        decided = await c.post("/sandbox/oauth/decide", data={"request": unescape(token), "decision": "approve"})
        done = await c.get(decided.headers["location"])
        assert done.status_code == 302 and "connection_id=" in done.headers["location"], done.text[:200]

    results = {}
    for name, url, one in (
        ("bare", bare, bare_one),
        ("start", base, start_one),
        ("flow", base, flow_one),
        ("bare (again)", bare, bare_one),
    ):
        rate, ok, failed = await run_closed_loop(client(url), one, workers=WORKERS, seconds=SECONDS)
        results[name] = rate
        print(f"  {name:<14} {rate:9.1f} /s   ({ok} ok, {failed} failed, {WORKERS} workers, {SECONDS:g} s)", flush=True)
    return results


def wrk_ratio(base: str, bare: str, link: str) -> None:
    if not shutil.which("wrk"):
        print("  (wrk not installed: `apt-get install wrk` adds a second load generator)")
        return
    rates = {}
    for name, url in (("bare", f"{bare}/"), ("start", f"{base}{link}")):
        out = subprocess.run(
            ["wrk", "-t1", "-c16", f"-d{int(SECONDS)}s", url], check=False, capture_output=True, text=True
        ).stdout
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
        rates[name] = float(match.group(1)) if match else 0.0
    print(
        f"  wrk: bare {rates['bare']:.0f}/s, start {rates['start']:.0f}/s  → start/bare = {rates['start'] / rates['bare']:.3f}"
    )


def widget_size() -> None:
    embed = ROOT / "widget" / "packages" / "core" / "dist" / "embed.js"
    if not embed.exists():
        print("  embed.js not built (make widget)")
        return
    raw = embed.read_bytes()
    print(f"  embed.js: {len(raw)} bytes minified, {len(gzip.compress(raw, 9))} bytes min+gz (budget 3072)")


def picker_weight(base: str) -> None:
    url = f"{base}/picker?workspace=ws_demo&env=sandbox&external_xref=bench&mode=redirect"
    with httpx.Client(base_url=base) as c:
        html = c.get(url).content
        assets = re.findall(rb'(?:src|href)="(/(?:static|logos)/[^"]+)"', html)
        total = len(html)
        total_gz = len(gzip.compress(html))
        for asset in sorted(set(assets)):
            body = c.get(asset.decode()).content
            total += len(body)
            total_gz += len(gzip.compress(body))
    print(
        f"  picker page: {len(html)} bytes HTML; with its {len(set(assets))} assets {total} bytes ({total_gz} bytes gzipped)"
    )
    first_paint(url)


def first_paint(url: str) -> None:
    chromium = shutil.which("chromium")
    if not chromium:
        print("  first paint: chromium not installed (make chromium)")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        times = []
        for _ in range(5):
            page = browser.new_page()
            page.goto(url, wait_until="load")
            # Paint entries arrive after the first frame: wait for them (buffered), at most 3 s.
            fp = page.evaluate("""() => new Promise((resolve) => {
                new PerformanceObserver((list) => {
                    const fcp = list.getEntries().find((e) => e.name === 'first-contentful-paint');
                    if (fcp) resolve(fcp.startTime);
                }).observe({type: 'paint', buffered: true});
                setTimeout(() => resolve(null), 3000);
            })""")
            if fp:
                times.append(fp)
            page.close()
        browser.close()
    if times:
        times.sort()
        print(
            f"  picker first contentful paint in Chromium: median {times[len(times) // 2]:.0f} ms over {len(times)} loads"
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base, bare, procs = start_servers(Path(tmp))
        try:
            link = start_link(base)
            print("Throughput (closed loop, httpx client in this process):")
            rates = asyncio.run(throughput(base, bare, link))
            baseline = (rates["bare"] + rates["bare (again)"]) / 2
            print(f"  → start / bare           = {rates['start'] / baseline:.3f}")
            print(
                f"  → full flow / bare       = {rates['flow'] / baseline:.3f}   (one flow = 4 requests: start, consent, decide, callback + token exchange)"
            )
            wrk_ratio(base, bare, link)
            print("Sizes:")
            widget_size()
            picker_weight(base)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=10)


if __name__ == "__main__":
    main()
