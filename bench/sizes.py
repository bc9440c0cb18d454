"""The widget's size, the picker's weight and its first paint in Chromium."""

from __future__ import annotations

import gzip
import re
import shutil

import httpx

from bench.servers import ROOT

EMBED = ROOT / "widget" / "packages" / "core" / "dist" / "embed.js"


def widget_size() -> None:
    if not EMBED.exists():
        print("  embed.js not built (make widget)")
        return
    raw = EMBED.read_bytes()
    print(f"  embed.js: {len(raw)} bytes minified, {len(gzip.compress(raw, 9))} bytes min+gz (budget 3072)")


def logo_sizes() -> None:
    """The logo files the picker loads (lazily, one small SVG each): simple-icons marks and monograms."""
    from server.catalog.loader import LOGO_DIR, load_catalog

    entries = [entry for entry in load_catalog() if entry.logo and not entry.custom]
    files = {entry.slug: (LOGO_DIR / str(entry.logo)).read_bytes() for entry in entries}
    sizes = {slug: len(body) for slug, body in files.items()}
    gzipped = {slug: len(gzip.compress(body, 9)) for slug, body in files.items()}
    marks = sum(1 for entry in entries if (entry.logo_source or "").startswith("simple-icons/"))
    largest = max(sizes, key=sizes.__getitem__)
    print(
        f"  logos: {marks} simple-icons marks, {len(entries) - marks} monograms; {sum(sizes.values())} bytes in all "
        f"({sum(gzipped.values())} gzipped), median {sorted(sizes.values())[len(sizes) // 2]}, "
        f"largest {largest} {sizes[largest]} bytes ({gzipped[largest]} gzipped)"
    )


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
