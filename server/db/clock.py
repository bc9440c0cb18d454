from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; every stored time is UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def required_utc(value: datetime | None, what: str) -> datetime:
    """`as_utc` for a NOT NULL column: a NULL there is a broken row, so say which one."""
    utc = as_utc(value)
    if utc is None:
        raise ValueError(f"{what} is NULL, but the column is NOT NULL")
    return utc
