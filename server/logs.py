"""How Latchkey logs: one handler on the root logger, so LATCHKEY_LOG_LEVEL governs every logger
(ours, uvicorn's, httpx's), in text or one JSON object per line (LATCHKEY_LOG_FORMAT=json), each
line with the request ID of the request it belongs to.

What is never logged is decided where a line is written: the access log prints no query string
(server/middleware.py), httpx's request lines keep only the origin (server/http.py); nothing here
has to scrub a message after the fact.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

LOG_FORMATS = ("text", "json")
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("latchkey_request_id", default=None)
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(request_suffix)s"
# Loggers that install handlers or levels of their own: reset to pass everything to the root.
_OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi", "httpx", "httpcore", "latchkey")


class _LatchkeyHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging installs (told apart from handlers others installed). It writes
    to whatever sys.stderr is at the time, never to a stream that was replaced and closed since."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class _WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        record.request_id = request_id
        record.request_suffix = f" [request {request_id}]" if request_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, log_format: str = "text") -> None:
    """The root logger's one handler and level; every other logger hands its records up to it."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LATCHKEY_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    handler = _LatchkeyHandler()
    handler.addFilter(_WithRequestId())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _LatchkeyHandler)]:
        root.removeHandler(old)  # configured again (a test, a worker): one handler of ours, others kept
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _OWN_HANDLERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
    # uvicorn's access log prints query strings (codes, states): ours (server/middleware.py) replaces it.
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
    uvicorn_access.disabled = True
