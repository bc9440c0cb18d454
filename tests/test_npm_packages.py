"""What the npm registry shows of each widget package: keywords, a README whose links work on a
registry page (no relative links: there is no repository beside it there), and types for every export."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from server.settings import PROJECT_ROOT

PACKAGES = sorted((PROJECT_ROOT / "widget" / "packages").glob("*/package.json"))
NAMES = [path.parent.name for path in PACKAGES]


def manifest(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_there_are_the_four_packages() -> None:
    assert NAMES == ["angular", "core", "react", "vue"]


@pytest.mark.parametrize("path", PACKAGES, ids=NAMES)
def test_a_package_has_keywords_that_name_latchkey(path: Path) -> None:
    keywords = manifest(path).get("keywords", [])
    assert "latchkey" in keywords and len(keywords) == len(set(keywords)) >= 4


@pytest.mark.parametrize("path", PACKAGES, ids=NAMES)
def test_a_packages_readme_links_only_to_absolute_urls(path: Path) -> None:
    readme = (path.parent / "README.md").read_text()
    links = re.findall(r"\]\(([^)]*)\)", readme)
    assert all(link.startswith(("https://", "#")) for link in links), links


@pytest.mark.parametrize("path", PACKAGES, ids=NAMES)
def test_every_export_but_the_manifest_has_types_first(path: Path) -> None:
    for subpath, target in manifest(path)["exports"].items():
        if subpath == "./package.json":
            continue
        assert isinstance(target, dict), (subpath, target)
        assert next(iter(target)) == "types", (subpath, target)  # TypeScript reads conditions in order
        assert target["types"].endswith(".d.ts") and target["types"].startswith("./dist/")
