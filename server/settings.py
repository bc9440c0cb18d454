"""All configuration, read once from the environment into one frozen object."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger("latchkey.settings")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


@dataclass(frozen=True)
class Settings:
    secret_key: str
    database_url: str = f"sqlite:///{DEFAULT_VAR_DIR / 'latchkey.db'}"
    base_url: str = "http://127.0.0.1:8000"
    catalog_dir: Path | None = None
    old_secret_keys: tuple[str, ...] = ()
    state_max_age: int = 600
    connect_session_max_age: int = 1800
    http_timeout: float = 10.0
    http_max_bytes: int = 1_048_576
    widget_dist: Path = PROJECT_ROOT / "widget" / "packages" / "core" / "dist"
    templates_dir: Path = PROJECT_ROOT / "templates"
    static_dir: Path = PROJECT_ROOT / "server" / "static"
    log_level: str = "INFO"
    max_body_bytes: int = 65_536
    # Connection lifecycle: the background refresher and the health rules.
    background_tasks: bool = True
    refresh_ahead: int = 600
    refresh_rate: int = 60
    refresh_poll_interval: float = 15.0
    refresh_failure_grace: int = 86_400
    # Webhooks: delivery deadline, retry schedule (seconds after each failed attempt), SSRF rule.
    webhook_timeout: float = 10.0
    webhook_retry_schedule: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    webhook_poll_interval: float = 1.0
    webhook_allow_loopback: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        var_dir = Path(env.get("LATCHKEY_VAR_DIR", str(DEFAULT_VAR_DIR)))
        secret = env.get("LATCHKEY_SECRET_KEY") or _local_secret(var_dir)
        kwargs: dict[str, Any] = {
            "secret_key": secret,
            "database_url": env.get("LATCHKEY_DATABASE_URL", f"sqlite:///{var_dir / 'latchkey.db'}"),
            "base_url": env.get("LATCHKEY_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            "old_secret_keys": tuple(k for k in env.get("LATCHKEY_OLD_SECRET_KEYS", "").split(",") if k),
            "log_level": env.get("LATCHKEY_LOG_LEVEL", "INFO"),
        }
        if env.get("LATCHKEY_CATALOG_DIR"):
            kwargs["catalog_dir"] = Path(env["LATCHKEY_CATALOG_DIR"])
        if env.get("LATCHKEY_HTTP_TIMEOUT"):
            kwargs["http_timeout"] = float(env["LATCHKEY_HTTP_TIMEOUT"])
        if env.get("LATCHKEY_STATE_MAX_AGE"):
            kwargs["state_max_age"] = int(env["LATCHKEY_STATE_MAX_AGE"])
        if env.get("LATCHKEY_BACKGROUND_TASKS"):
            kwargs["background_tasks"] = _flag(env["LATCHKEY_BACKGROUND_TASKS"], "LATCHKEY_BACKGROUND_TASKS")
        if env.get("LATCHKEY_REFRESH_AHEAD"):
            kwargs["refresh_ahead"] = int(env["LATCHKEY_REFRESH_AHEAD"])
        if env.get("LATCHKEY_REFRESH_RATE"):
            kwargs["refresh_rate"] = int(env["LATCHKEY_REFRESH_RATE"])
        if env.get("LATCHKEY_REFRESH_FAILURE_GRACE"):
            kwargs["refresh_failure_grace"] = int(env["LATCHKEY_REFRESH_FAILURE_GRACE"])
        if env.get("LATCHKEY_WEBHOOK_TIMEOUT"):
            kwargs["webhook_timeout"] = float(env["LATCHKEY_WEBHOOK_TIMEOUT"])
        if env.get("LATCHKEY_WEBHOOK_RETRY_SCHEDULE"):
            kwargs["webhook_retry_schedule"] = tuple(
                float(v) for v in env["LATCHKEY_WEBHOOK_RETRY_SCHEDULE"].split(",") if v.strip()
            )
        if env.get("LATCHKEY_WEBHOOK_ALLOW_LOOPBACK"):
            kwargs["webhook_allow_loopback"] = _flag(
                env["LATCHKEY_WEBHOOK_ALLOW_LOOPBACK"], "LATCHKEY_WEBHOOK_ALLOW_LOOPBACK"
            )
        settings = cls(**kwargs)
        if len(settings.secret_key) < 32:
            raise ValueError("LATCHKEY_SECRET_KEY must be at least 32 characters")
        if settings.refresh_rate < 1:
            raise ValueError("LATCHKEY_REFRESH_RATE must be at least 1 (refreshes per minute)")
        if any(delay < 0 for delay in settings.webhook_retry_schedule):
            raise ValueError("LATCHKEY_WEBHOOK_RETRY_SCHEDULE must list non-negative seconds")
        return settings


def _flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be on or off, not {value!r}")


def _local_secret(var_dir: Path) -> str:
    """A random secret generated once and kept in var/secret_key, for local use only."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    logger.warning(
        "LATCHKEY_SECRET_KEY is not set: generated a random one in %s. "
        "Set LATCHKEY_SECRET_KEY in production (losing it makes stored credentials unreadable).",
        path,
    )
    return secret
