"""Reading the dashboard's HTML forms: one clear message per field, keyed by the field's name."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from starlette.datastructures import FormData

from server.catalog.scopes import UNIFIED_SCOPES
from server.flow.allowlist import normalise_origin, valid_allowlist_entry

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


@dataclass
class Form:
    """A submitted form, the values to show back in it, and the errors found so far."""

    data: FormData
    errors: dict[str, str] = field(default_factory=dict)

    def text(self, name: str, *, max_len: int = 2048, required: str | None = None) -> str:
        value = self.data.get(name)
        value = value.strip() if isinstance(value, str) else ""
        if len(value) > max_len:
            self.errors[name] = f"Use at most {max_len} characters."
        elif not value and required:
            self.errors[name] = required
        return value

    def secret(self, name: str, *, max_len: int = 2048) -> str:
        """Like text(), but never stripped of inner content and never echoed back into the page."""
        value = self.data.get(name)
        value = value.strip() if isinstance(value, str) else ""
        if len(value) > max_len:
            self.errors[name] = f"Use at most {max_len} characters."
        return value

    def choices(self, name: str, allowed: Iterable[str]) -> list[str]:
        allowed = list(allowed)
        picked = [v for v in self.data.getlist(name) if isinstance(v, str)]
        unknown = [v for v in picked if v not in allowed]
        if unknown:
            self.errors[name] = f"{unknown[0]!r} is not one of the choices."
        return [v for v in allowed if v in picked]  # in the order offered, without duplicates

    def choice(self, name: str, allowed: Iterable[str], default: str) -> str:
        value = self.data.get(name) or default
        if value not in list(allowed):
            self.errors[name] = "Pick one of the choices."
            return default
        return value

    def flag(self, name: str) -> bool:
        return self.data.get(name) in ("on", "true", "1", "yes")

    def origins(self, name: str) -> list[str]:
        """Host origins, one a line: normalised, with the first bad one named."""
        result: list[str] = []
        for entry in split_lines(self.data.get(name)):
            normal = normalise_origin(entry) if valid_allowlist_entry(entry, kind="origin") else None
            if normal is None:
                self.errors[name] = f"{entry!r} is not an origin like https://app.example.com (no path)."
                return result
            if normal not in result:
                result.append(normal)
        return result

    def redirect_urls(self, name: str) -> list[str]:
        result: list[str] = []
        for entry in split_lines(self.data.get(name)):
            if not valid_allowlist_entry(entry, kind="url"):
                self.errors[name] = f"{entry!r} is not an absolute http(s) URL without a query or fragment."
                return result
            if entry not in result:
                result.append(entry)
        return result

    def url(self, name: str) -> str | None:
        value = self.text(name)
        if value and not valid_allowlist_entry(value, kind="url"):
            self.errors[name] = (
                "Enter an absolute http(s) URL without a query or fragment, like https://app.example.com/connected."
            )
        return value or None

    def accent(self, name: str) -> str | None:
        value = self.text(name, max_len=7)
        if not value:
            return None
        match = _HEX.match(value)
        if not match:
            self.errors[name] = "Enter a colour like #4f46e5."
            return None
        return match.group(1).lower()

    def scopes(self, name: str, allowed: Iterable[str] | None = None) -> list[str]:
        return self.choices(name, sorted(allowed if allowed is not None else UNIFIED_SCOPES))


def split_lines(value: object) -> list[str]:
    if not isinstance(value, str):
        return []
    return [line.strip() for line in re.split(r"[\r\n,]+", value) if line.strip()]
