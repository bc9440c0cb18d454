"""One licence, stated everywhere: the LICENSE file, pyproject's SPDX expression, every npm package."""

from __future__ import annotations

import json
import tomllib

from server.settings import PROJECT_ROOT

SPDX = "Apache-2.0"


def test_the_licence_file_is_the_apache_licence_2_0() -> None:
    text = (PROJECT_ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the whole text, not a pointer to it


def test_pyproject_and_every_npm_package_say_the_same_licence() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == SPDX and project["license-files"] == ["LICENSE"]
    packages = sorted((PROJECT_ROOT / "widget" / "packages").glob("*/package.json"))
    assert len(packages) == 4
    for path in packages:
        assert json.loads(path.read_text())["license"] == SPDX, path
    lock = json.loads((PROJECT_ROOT / "widget" / "package-lock.json").read_text())["packages"]
    ours = {k: v for k, v in lock.items() if k.startswith("packages/") and "/node_modules/" not in k}
    assert ours and all(v["license"] == SPDX for v in ours.values()), ours
