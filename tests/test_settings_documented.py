"""Every environment variable Latchkey reads has its row in the README's settings table, and the
table names no variable that is not read (the table is the settings' one documentation)."""

from __future__ import annotations

import re

from server.settings import PROJECT_ROOT, RATE_LIMIT_SETTINGS

_ROW = re.compile(r"^\| `(LATCHKEY_[A-Z0-9_]+)` \|", re.M)


def read_variables() -> set[str]:
    sources = [PROJECT_ROOT / "server" / "settings.py"]
    found = {name for path in sources for name in re.findall(r'"(LATCHKEY_[A-Z0-9_]+)"', path.read_text())}
    return found | set(RATE_LIMIT_SETTINGS)


def test_every_setting_read_is_in_the_readme_table_and_nothing_else() -> None:
    table = set(_ROW.findall((PROJECT_ROOT / "README.md").read_text()))
    assert read_variables() - table == set(), "settings without a README row"
    assert table - read_variables() == set(), "README rows for settings nothing reads"


def test_the_check_can_see_the_settings_it_is_about() -> None:
    assert {"LATCHKEY_TRUSTED_PROXIES", "LATCHKEY_METRICS_TOKEN", "LATCHKEY_WORKERS"} <= read_variables()
