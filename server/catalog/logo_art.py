"""The integrations' logos: brand marks from simple-icons on the brand's colour, else a monogram.

Each built-in entry says where its logo comes from (`logo_source`): `simple-icons/<slug>`, a mark
of the simple-icons npm package (CC0-1.0; `make setup` installs it with the widget's packages),
drawn white or near-black on the brand's hex, whichever reads better; or `monogram`, the entry's
`monogram` letters (else its initials) on its `color`, for a brand simple-icons lacks (Slack,
Salesforce and Microsoft's among them). The files under catalog/logos/ are written from those by
`python -m server.catalog.logo_art` and committed, so the service needs no npm at run time;
`--check` (and tests/catalog/test_logos.py) fails when they drift from the catalog or the package.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path

import yaml

from server.catalog.loader import BUILTIN_DIR, LOGO_DIR
from server.catalog.models import DEFAULT_COLOR, initials_of

SIMPLE_ICONS = Path(__file__).resolve().parents[2] / "widget" / "node_modules" / "simple-icons"
SOURCE = re.compile(r"^(?:simple-icons/(?P<icon>[a-z0-9]+)|monogram)$")
SIZE = 40
MARK = 24  # simple-icons draw on a 24 × 24 grid: centred, it leaves an 8-unit margin
DARK_INK = "#111827"
LIGHT_INK = "#ffffff"
FONT = "system-ui,-apple-system,'Segoe UI',sans-serif"


@dataclass(frozen=True)
class Icon:
    title: str
    hex: str
    path: str


def _luminance(hex_colour: str) -> float:
    """WCAG 2 relative luminance of #rrggbb."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def ink_on(background: str) -> str:
    """White on the brand's colour, unless near-black reads better (Mailchimp's yellow, Intercom's cyan)."""
    lum = _luminance(background)
    on_white = 1.05 / (lum + 0.05)
    on_dark = (lum + 0.05) / (_luminance(DARK_INK) + 0.05)
    return LIGHT_INK if on_white >= on_dark else DARK_INK


def _open(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}" width="{SIZE}" height="{SIZE}" '
        f'role="img" aria-label="{escape(title)}">'
    )


def draw_mark(title: str, icon: Icon) -> str:
    background = f"#{icon.hex.lower()}"
    offset = (SIZE - MARK) // 2
    return (
        f'{_open(title)}<rect width="{SIZE}" height="{SIZE}" rx="8" fill="{background}"/>'
        f'<path transform="translate({offset} {offset})" fill="{ink_on(background)}" d="{escape(icon.path)}"/></svg>'
    )


def draw_monogram(title: str, letters: str, colour: str) -> str:
    size = 15 if len(letters) <= 2 else 12
    return (
        f'{_open(title)}<rect width="{SIZE}" height="{SIZE}" rx="8" fill="{escape(colour.lower())}"/>'
        f'<text x="20" y="25" text-anchor="middle" font-family="{FONT}" font-size="{size}" font-weight="600" '
        f'fill="{ink_on(colour)}">{escape(letters)}</text></svg>'
    )


def read_icons(package: Path = SIMPLE_ICONS) -> tuple[str, dict[str, Icon]]:
    """The package's version and its icons by slug (title and hex from its data, path from its SVG)."""
    version = json.loads((package / "package.json").read_text())["version"]
    icons: dict[str, Icon] = {}
    for entry in json.loads((package / "data" / "simple-icons.json").read_text()):
        slug = entry["slug"]
        svg = (package / "icons" / f"{slug}.svg").read_text()
        path = re.search(r' d="([^"]+)"', svg)
        if path:
            icons[slug] = Icon(entry["title"], entry["hex"], path.group(1))
    return version, icons


def entries(directory: Path = BUILTIN_DIR) -> list[dict[str, object]]:
    return [yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*.yaml"))]


def draw(entry: Mapping[str, object], icons: Mapping[str, Icon]) -> str:
    """One entry's logo, from its logo_source."""
    name, source = str(entry["name"]), str(entry.get("logo_source", ""))
    match = SOURCE.fullmatch(source)
    if match is None:
        raise ValueError(f"{entry['slug']}: logo_source must be simple-icons/<slug> or monogram, not {source!r}")
    if match["icon"]:
        icon = icons.get(match["icon"])
        if icon is None:
            raise ValueError(f"{entry['slug']}: simple-icons has no icon {match['icon']!r}")
        return draw_mark(name, icon)
    letters = str(entry.get("monogram") or initials_of(name, str(entry["slug"])))
    return draw_monogram(name, letters, str(entry.get("color", DEFAULT_COLOR)))


def expected_files(directory: Path = BUILTIN_DIR, package: Path = SIMPLE_ICONS) -> dict[str, str]:
    """Every built-in entry's logo file name and what it must hold."""
    _, icons = read_icons(package)
    return {str(entry["logo"]): draw(entry, icons) for entry in entries(directory)}


def main(argv: list[str]) -> int:
    if not (SIMPLE_ICONS / "package.json").exists():
        print(f"simple-icons is not installed at {SIMPLE_ICONS}: run make setup", file=sys.stderr)
        return 2
    drift = []
    for name, svg in expected_files().items():
        path = LOGO_DIR / name
        if not path.exists() or path.read_text() != svg:
            drift.append(name)
            if "--check" not in argv:
                path.write_text(svg)
    if "--check" in argv and drift:
        print(f"logos differ from the catalog and simple-icons: {', '.join(drift)} (python -m server.catalog.logo_art)")
        return 1
    print(f"{len(drift)} logo(s) {'to write' if '--check' in argv else 'written'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
