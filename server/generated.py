"""Text generated from the vocabularies' owners into marked regions of the docs and the widget.

`python -m server.generated` rewrites every region (`--check` only reports, for `make check`);
tests/test_vocabularies.py fails when one has
drifted from its owner (server/errors.py, server/languages.py, server/flow/context.py), so adding an error code or a
language in one place and forgetting another fails CI.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from server.errors import ERROR_CODES
from server.flow.context import MODES, THEMES
from server.languages import LANGS
from server.settings import PROJECT_ROOT


def browser_error_codes() -> list[str]:
    """What the widget's `LatchkeyErrorCode` lists: codes a browser sees, and the embed's own."""
    return [code for code, e in ERROR_CODES.items() if e.seen & {"browser", "embed"}]


def error_table() -> str:
    rows = ["| code | from | HTTP status | meaning |", "| --- | --- | --- | --- |"]
    for code in browser_error_codes():
        entry = ERROR_CODES[code]
        source = "the embed script" if "embed" in entry.seen else "the service"
        status = str(entry.status) if entry.status is not None else "—"
        rows.append(f"| `{code}` | {source} | {status} | {entry.description} |")
    return "\n".join(rows) + "\n"


def ts_error_codes() -> str:
    lines = ["/** Stable error codes: every code a browser can see from the service, plus the embed's own. */"]
    lines.append("export type LatchkeyErrorCode =")
    codes = browser_error_codes()
    lines.extend(f"  | '{code}'" + (";" if i == len(codes) - 1 else "") for i, code in enumerate(codes))
    return "\n".join(lines) + "\n"


def _ts_union(doc: str, name: str, items: tuple[str, ...]) -> str:
    union = " | ".join(f"'{item}'" for item in items)
    return f"/** {doc} */\nexport type {name} = {union};\n"


def ts_langs() -> str:
    return _ts_union("The languages the picker and its pages speak.", "LatchkeyLang", LANGS)


def ts_display() -> str:
    mode = _ts_union(
        "How the picker is shown: a popup window (default), the top window, or an iframe.", "LatchkeyMode", MODES
    )
    return mode + "\n" + _ts_union("The picker's colour scheme; `auto` follows the browser.", "LatchkeyTheme", THEMES)


@dataclass(frozen=True)
class Region:
    path: Path
    name: str
    render: Callable[[], str]
    comment: tuple[str, str]  # how a marker line is written in this file

    def markers(self) -> tuple[str, str]:
        start, end = self.comment
        return (
            f"{start} generated: {self.name} (python -m server.generated){end}\n",
            f"{start} end generated: {self.name}{end}\n",
        )


REGIONS = (
    Region(PROJECT_ROOT / "docs" / "protocol.md", "error-codes", error_table, ("<!--", " -->")),
    Region(
        PROJECT_ROOT / "widget" / "packages" / "core" / "src" / "types.ts", "error-codes", ts_error_codes, ("//", "")
    ),
    Region(PROJECT_ROOT / "widget" / "packages" / "core" / "src" / "types.ts", "langs", ts_langs, ("//", "")),
    Region(PROJECT_ROOT / "widget" / "packages" / "core" / "src" / "types.ts", "display", ts_display, ("//", "")),
)


def _split(region: Region, text: str) -> tuple[str, str, str]:
    start, end = region.markers()
    if text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f"{region.path}: needs exactly one pair of markers {start.strip()!r} … {end.strip()!r}")
    head, rest = text.split(start)
    body, tail = rest.split(end)
    return head + start, body, end + tail


def current(region: Region) -> str:
    return _split(region, region.path.read_text(encoding="utf-8"))[1]


def drifted() -> list[str]:
    """The regions whose text is not what their owner generates now."""
    return [f"{r.path.relative_to(PROJECT_ROOT)}: {r.name}" for r in REGIONS if current(r) != r.render()]


def rewrite() -> list[str]:
    changed = []
    for region in REGIONS:
        text = region.path.read_text(encoding="utf-8")
        head, body, tail = _split(region, text)
        if body != region.render():
            region.path.write_text(head + region.render() + tail, encoding="utf-8")
            changed.append(f"{region.path.relative_to(PROJECT_ROOT)}: {region.name}")
    return changed


def main(argv: list[str]) -> int:
    """`--check`: report drifted regions and fail; otherwise rewrite them."""
    if "--check" in argv:
        stale = drifted()
        for line in stale:
            print(f"out of date: {line} (run `python -m server.generated`)", file=sys.stderr)
        return 1 if stale else 0
    for line in rewrite():
        print(f"rewrote {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
