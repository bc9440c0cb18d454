"""scripts/screenshots.py, which keeps docs/screenshots/ true, works: it starts its own seeded demo
and takes every picture the README shows, at the sizes it promises."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

from server.settings import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "screenshots.py"


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_the_screenshot_script_takes_every_picture_the_readme_shows(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)],
        cwd=PROJECT_ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    readme = (PROJECT_ROOT / "README.md").read_text()
    for name in ("picker-light", "picker-dark", "credentials-form", "dashboard"):
        assert (
            f"docs/screenshots/{name}.png" in readme
            and (PROJECT_ROOT / "docs" / "screenshots" / f"{name}.png").exists()
        )
        expected = (1280, 800) if name == "dashboard" else (480, 720)
        assert png_size(tmp_path / f"{name}.png") == expected
