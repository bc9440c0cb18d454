"""All configuration, read once from the environment into one frozen object."""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from server.logs import LOG_FORMATS
from server.proxies import parse_networks
from server.ratelimit import LIMIT_NAMES, LimitName, check_storage_url, parse_limit

logger = logging.getLogger("latchkey.settings")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"
RATE_LIMIT_SETTINGS = ("LATCHKEY_RATE_LIMIT_STORAGE", *(f"LATCHKEY_RATE_LIMIT_{n.upper()}" for n in LIMIT_NAMES))


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
    log_format: str = "text"  # or json: one object per line (server/logs.py)
    # Reverse proxies whose X-Forwarded-For / -Proto (or Forwarded) and X-Request-ID are believed
    # (server/proxies.py): addresses or CIDRs. Empty: the TCP peer is the client.
    trusted_proxies: tuple[str, ...] = ()
    workers: int = 1  # `latchkey serve` processes sharing the database
    # /metrics (server/metrics.py): off unless a Bearer token protects it or it has a port of its own.
    metrics_token: str | None = None
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"  # the address the metrics port listens on (0.0.0.0 in a container)
    max_body_bytes: int = 65_536
    # Passthrough (server/passthrough/): the deadline of each call to a provider's API, and the caps
    # on the request body the host sends and the response body the provider answers (both streamed).
    passthrough_timeout: float = 30.0
    passthrough_max_request_bytes: int = 10_485_760
    passthrough_max_response_bytes: int = 104_857_600
    # Seconds a statement waits for a database lock before the request is answered 503 (retry).
    database_lock_timeout: float = 15.0
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
    # Plain http:// base URL off loopback: redirect URIs and cookies in clear (RFC 9700 §2.6).
    allow_insecure_base_url: bool = False
    # Rate limits (server/ratelimit.py), each in the `limits` notation; the storage is shared by
    # every process pointed at it (redis://…) or counted per process (memory://).
    rate_limit_storage: str = "memory://"
    rate_limit_picker: str = "600/minute"  # per client address
    rate_limit_start: str = "300/minute"  # per client address
    rate_limit_credentials: str = "120/minute"  # per client address
    rate_limit_sign_in: str = "60/minute"  # per client address
    rate_limit_api: str = "10000/minute"  # per API key
    rate_limit_api_auth_failure: str = "60/minute"  # per client address
    # Dashboard sign-in: this many wrong passwords in a row, from one address, lock that address out
    # of that account for sign_in_lockout seconds.
    sign_in_max_failures: int = 5
    sign_in_lockout: int = 900
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def metrics_on(self) -> bool:
        return self.metrics_token is not None or self.metrics_port is not None

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

    @property
    def rate_limits(self) -> dict[LimitName, str]:
        return {name: getattr(self, f"rate_limit_{name}") for name in LIMIT_NAMES}

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
            "log_level": env.get("LATCHKEY_LOG_LEVEL", "INFO").upper(),
            "log_format": env.get("LATCHKEY_LOG_FORMAT", "text").lower(),
            "trusted_proxies": tuple(
                p.strip() for p in env.get("LATCHKEY_TRUSTED_PROXIES", "").split(",") if p.strip()
            ),
        }
        if env.get("LATCHKEY_CATALOG_DIR"):
            kwargs["catalog_dir"] = Path(env["LATCHKEY_CATALOG_DIR"])
        if env.get("LATCHKEY_HTTP_TIMEOUT"):
            kwargs["http_timeout"] = float(env["LATCHKEY_HTTP_TIMEOUT"])
        if env.get("LATCHKEY_METRICS_TOKEN"):
            kwargs["metrics_token"] = env["LATCHKEY_METRICS_TOKEN"]
        if env.get("LATCHKEY_METRICS_PORT"):
            kwargs["metrics_port"] = int(env["LATCHKEY_METRICS_PORT"])
        if env.get("LATCHKEY_METRICS_HOST"):
            kwargs["metrics_host"] = env["LATCHKEY_METRICS_HOST"]
        if env.get("LATCHKEY_WORKERS"):
            kwargs["workers"] = int(env["LATCHKEY_WORKERS"])
        if env.get("LATCHKEY_PASSTHROUGH_TIMEOUT"):
            kwargs["passthrough_timeout"] = float(env["LATCHKEY_PASSTHROUGH_TIMEOUT"])
        if env.get("LATCHKEY_PASSTHROUGH_MAX_REQUEST_BYTES"):
            kwargs["passthrough_max_request_bytes"] = int(env["LATCHKEY_PASSTHROUGH_MAX_REQUEST_BYTES"])
        if env.get("LATCHKEY_PASSTHROUGH_MAX_RESPONSE_BYTES"):
            kwargs["passthrough_max_response_bytes"] = int(env["LATCHKEY_PASSTHROUGH_MAX_RESPONSE_BYTES"])
        if env.get("LATCHKEY_DATABASE_LOCK_TIMEOUT"):
            kwargs["database_lock_timeout"] = float(env["LATCHKEY_DATABASE_LOCK_TIMEOUT"])
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
        if env.get("LATCHKEY_ALLOW_INSECURE_BASE_URL"):
            kwargs["allow_insecure_base_url"] = _flag(
                env["LATCHKEY_ALLOW_INSECURE_BASE_URL"], "LATCHKEY_ALLOW_INSECURE_BASE_URL"
            )
        for name in RATE_LIMIT_SETTINGS:
            if env.get(name):
                kwargs[name.removeprefix("LATCHKEY_").lower()] = env[name].strip()
        if env.get("LATCHKEY_SIGN_IN_MAX_FAILURES"):
            kwargs["sign_in_max_failures"] = int(env["LATCHKEY_SIGN_IN_MAX_FAILURES"])
        if env.get("LATCHKEY_SIGN_IN_LOCKOUT"):
            kwargs["sign_in_lockout"] = int(env["LATCHKEY_SIGN_IN_LOCKOUT"])
        settings = cls(**kwargs)
        check_base_url(settings.base_url, allow_insecure=settings.allow_insecure_base_url)
        if len(settings.secret_key) < 32:
            raise ValueError("LATCHKEY_SECRET_KEY must be at least 32 characters")
        if settings.refresh_rate < 1:
            raise ValueError("LATCHKEY_REFRESH_RATE must be at least 1 (refreshes per minute)")
        if any(delay < 0 for delay in settings.webhook_retry_schedule):
            raise ValueError("LATCHKEY_WEBHOOK_RETRY_SCHEDULE must list non-negative seconds")
        check_storage_url(settings.rate_limit_storage)
        for name, value in settings.rate_limits.items():
            parse_limit(value, f"LATCHKEY_RATE_LIMIT_{name.upper()}")
        if settings.sign_in_max_failures < 1 or settings.sign_in_lockout < 1:
            raise ValueError("LATCHKEY_SIGN_IN_MAX_FAILURES and LATCHKEY_SIGN_IN_LOCKOUT must be at least 1")
        parse_networks(settings.trusted_proxies)  # ValueError names a bad entry
        if settings.log_format not in LOG_FORMATS:
            raise ValueError(f"LATCHKEY_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
        if settings.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("LATCHKEY_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        if settings.metrics_token is not None and len(settings.metrics_token) < 16:
            raise ValueError("LATCHKEY_METRICS_TOKEN must be at least 16 characters")
        if settings.workers < 1:
            raise ValueError("LATCHKEY_WORKERS must be at least 1")
        return settings


def check_base_url(base_url: str, *, allow_insecure: bool) -> None:
    """https://, or plain http:// to loopback (127.0.0.0/8, ::1, localhost) for local use.

    Redirect URIs are built from the base URL and must be protected by TLS (RFC 9700 §2.6): an
    authorization code, the state and the binding cookie would otherwise cross the network in clear.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"LATCHKEY_BASE_URL must be an https:// URL with a host, not {base_url!r}")
    if parts.scheme == "http" and not _loopback(parts.hostname) and not allow_insecure:
        raise ValueError(
            f"LATCHKEY_BASE_URL {base_url!r} is plain http:// off loopback: use https:// "
            "(or set LATCHKEY_ALLOW_INSECURE_BASE_URL=on, never in production)"
        )


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
