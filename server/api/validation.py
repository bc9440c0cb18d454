"""Reading and checking JSON request bodies: one clear message per problem."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from server.errors import InvalidRequest
from server.text import check_json

MAX_BODY = 65_536


async def read_json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InvalidRequest("The request body is too large.", status=413, code="payload_too_large")
    if not body:
        return {}
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequest("The request body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    check_json(data)  # lone surrogates, NUL and other control characters: 400, not a 500 later
    return data


def only_fields(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidRequest(f"Unknown field {unknown[0]!r}. Allowed: {', '.join(sorted(allowed))}.")


def opt_str(data: dict[str, Any], name: str, *, max_len: int = 2048) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise InvalidRequest(f"{name} must be a string of at most {max_len} characters.")
    return value


def opt_str_list(data: dict[str, Any], name: str, *, max_items: int = 100) -> list[str] | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > max_items or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"{name} must be a list of strings.")
    return value


def opt_bool(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true or false.")
    return value


def int_param(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be a whole number.") from exc
    if not lo <= number <= hi:
        raise InvalidRequest(f"{name} must be between {lo} and {hi}.")
    return number
