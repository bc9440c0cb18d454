"""The validated parameters of one widget open or one authorization URL."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

MODES = ("popup", "redirect", "inline")
THEMES = ("light", "dark", "auto")


@dataclass(frozen=True)
class FlowContext:
    workspace_id: str
    environment: str
    external_xref: str
    scopes: tuple[str, ...] = ()
    integrations: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    success_url: str | None = None
    failure_url: str | None = None
    host_state: str | None = None
    mode: str = "redirect"
    origin: str | None = None
    nonce: str | None = None
    channel_hash: str | None = None
    lang: str = ""
    theme: str = "auto"
    accent: str | None = None
    connection_id: str | None = None
    via_session: bool = False
    session_id: str | None = None  # the connect session or authorization link it was opened with
    picker_id: str | None = None  # the picker page it came from (binds a session in an inline frame)
    unified: bool = False  # opened by Unified.to's authorization URL: its success redirect carries `id`
    extra: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # Field by field, not dataclasses.asdict: that deep-copies recursively, and every flow start signs one.
        data = {name: getattr(self, name) for name in _FIELDS}
        return {
            k: (list(v) if isinstance(v, tuple) else dict(v) if isinstance(v, dict) else v)
            for k, v in data.items()
            if v not in (None, (), [], {}, False)
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowContext:
        known = set(cls.__dataclass_fields__)
        values: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
        return cls(**values)

    def with_(self, **changes: Any) -> FlowContext:
        return replace(self, **changes)

    def allows_integration(self, slug: str) -> bool:
        return not self.integrations or slug in self.integrations


_FIELDS = tuple(f.name for f in fields(FlowContext))
