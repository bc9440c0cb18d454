"""Each sandbox account's synthetic CRM: contacts, companies and deals, the same on every call.

Derived from the account id alone (`random.Random(account)`), never stored: a connection keeps its
data across refreshes (the account rides in its tokens) and two accounts see different data. Small
on purpose (25 contacts, 10 companies, 15 deals), every e-mail and domain under the reserved
`.test` TLD. Paging is the provider's usual shape: `limit` and an opaque `cursor`, answered as
`{"data": [...], "next_cursor": ... | null}`. Framework-free: the routes turn PagingError into a 400.
"""

from __future__ import annotations

import base64
import binascii
import functools
import random
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

Record = dict[str, Any]

CONTACTS = 25
COMPANIES = 10
DEALS = 15

COLLECTIONS = ("contacts", "companies", "deals")
DEFAULT_LIMIT = 10
MAX_LIMIT = 100

# Every account's records were "created" in 2024, the oldest first.
_EPOCH = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
_SPAN_MINUTES = 350 * 24 * 60  # up to 2024-12-23: every created_at stays in 2024

_FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Bea", "Carlos", "Chen", "Dara", "Elena", "Emeka", "Farah", "Grace", "Hiro",
    "Ines", "Jonas", "Kofi", "Lena", "Malik", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq",
    "Uma", "Vera", "Wei", "Yusuf", "Zoe",
)  # fmt: skip
_LAST_NAMES = (
    "Abara", "Berg", "Castillo", "Dubois", "Eriksen", "Fontaine", "Garcia", "Haddad", "Ito", "Jansen",
    "Kowalski", "Lindqvist", "Mensah", "Novak", "Okafor", "Petrov", "Quist", "Rossi", "Sato", "Tanaka",
    "Ueda", "Varga", "Weber", "Yilmaz", "Zhang",
)  # fmt: skip
_COMPANY_WORDS = (
    "Acorn", "Basalt", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Indigo", "Juniper",
    "Kestrel", "Lumen", "Meridian", "Northwind", "Orchid", "Pioneer", "Quartz", "Riverbend", "Summit",
    "Tidewater",
)  # fmt: skip
_COMPANY_KINDS = ("Labs", "Logistics", "Foods", "Systems", "Studio", "Health", "Energy", "Partners")
_INDUSTRIES = ("software", "logistics", "food", "manufacturing", "design", "healthcare", "energy", "finance")
_TITLES = ("CEO", "CTO", "Head of Sales", "Operations Manager", "Buyer", "Engineer", "Marketing Lead", "Founder")
_DEAL_WORDS = ("Annual licence", "Pilot", "Renewal", "Expansion", "Onboarding package", "Support plan")
_STAGES = ("lead", "qualified", "proposal", "negotiation", "won", "lost")

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_POST_FIELDS = frozenset({"email", "name"})
_MAX_NAME = 200
_MAX_EMAIL = 254


class PagingError(ValueError):
    """A `limit` or `cursor` the list endpoints refuse (a 400)."""


class ContactInvalid(ValueError):
    """A contact body the write endpoint refuses: one message per field (a 422)."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class Dataset:
    account: Record
    contacts: tuple[Record, ...]
    companies: tuple[Record, ...]
    deals: tuple[Record, ...]

    def collection(self, name: str) -> tuple[Record, ...] | None:
        """`contacts`, `companies` or `deals`; None for any other name."""
        return {"contacts": self.contacts, "companies": self.companies, "deals": self.deals}.get(name)


@functools.lru_cache(maxsize=64)
def dataset(account: str) -> Dataset:
    """The account's data: the same for the same id, in any process, on every call.

    Kept for the last few accounts (making one is about 0.2 ms); shared, so callers hand out copies
    (`page`, `find`) and never change a record.
    """
    rng = random.Random(account)
    account_record = {"id": account, "object": "account", "name": f"{rng.choice(_COMPANY_WORDS)} Sandbox Org"}
    # Companies first, then their people, then the deals: nothing is older than what it refers to.
    times = iter(sorted(_timestamps(rng, COMPANIES + CONTACTS + DEALS)))
    companies = tuple(_company(rng, word, next(times)) for word in rng.sample(_COMPANY_WORDS, COMPANIES))
    people = rng.sample([(f, la) for f in _FIRST_NAMES for la in _LAST_NAMES], CONTACTS)
    contacts = tuple(_contact(rng, first, last, rng.choice(companies), next(times)) for first, last in people)
    deals = tuple(_deal(rng, rng.choice(contacts), next(times)) for _ in range(DEALS))
    return Dataset(
        account=account_record,
        contacts=_by_creation(contacts),
        companies=_by_creation(companies),
        deals=_by_creation(deals),
    )


def _timestamps(rng: random.Random, n: int) -> list[datetime]:
    minutes = rng.sample(range(_SPAN_MINUTES), n)
    return [_EPOCH + timedelta(minutes=m, seconds=rng.randrange(60)) for m in minutes]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}_{rng.getrandbits(64):016x}"


def _company(rng: random.Random, word: str, created: datetime) -> Record:
    kind = rng.choice(_COMPANY_KINDS)
    slug = f"{word}-{kind}".lower()
    return {
        "id": _id(rng, "com"),
        "object": "company",
        "name": f"{word} {kind}",
        "domain": f"{slug}.test",
        "industry": rng.choice(_INDUSTRIES),
        "employees": rng.choice((4, 12, 25, 60, 140, 320, 900, 2500)),
        "created_at": _iso(created),
    }


def _contact(rng: random.Random, first: str, last: str, company: Record, created: datetime) -> Record:
    return {
        "id": _id(rng, "con"),
        "object": "contact",
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}",
        "email": f"{first}.{last}@{company['domain']}".lower(),
        "title": rng.choice(_TITLES),
        "company_id": company["id"],
        "created_at": _iso(created),
    }


def _deal(rng: random.Random, contact: Record, created: datetime) -> Record:
    return {
        "id": _id(rng, "deal"),
        "object": "deal",
        "name": f"{rng.choice(_DEAL_WORDS)} for {contact['name']}",
        "amount": rng.randrange(5, 500) * 100,
        "currency": "USD",
        "stage": rng.choice(_STAGES),
        "company_id": contact["company_id"],
        "contact_id": contact["id"],
        "created_at": _iso(created),
    }


def _by_creation(records: tuple[Record, ...]) -> tuple[Record, ...]:
    return tuple(sorted(records, key=lambda r: (r["created_at"], r["id"])))


def find(records: tuple[Record, ...], record_id: str) -> Record | None:
    found = next((r for r in records if r["id"] == record_id), None)
    return dict(found) if found is not None else None


def parse_limit(raw: str | None) -> int:
    """`limit`: a whole number from 1 to 100; 10 when absent."""
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise PagingError(f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


def page(records: tuple[Record, ...], limit: int, cursor: str | None) -> Record:
    """One page after `cursor` (the opaque `next_cursor` of the page before; None for the first)."""
    start = 0 if cursor is None else _position_after(records, cursor)
    chunk = records[start : start + limit]
    more = start + limit < len(records)
    return {"data": [dict(r) for r in chunk], "next_cursor": _cursor_after(chunk[-1]) if more else None}


def _cursor_after(record: Record) -> str:
    return base64.urlsafe_b64encode(f"after:{record['id']}".encode()).decode().rstrip("=")


def _position_after(records: tuple[Record, ...], cursor: str) -> int:
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise PagingError("cursor is not one this list handed out.") from exc
    kind, _, record_id = decoded.partition(":")
    for index, record in enumerate(records):
        if kind == "after" and record["id"] == record_id:
            return index + 1
    raise PagingError("cursor is not one this list handed out.")


def new_contact(body: dict[str, Any], now: datetime) -> Record:
    """The contact a write would create (it is not stored): `email` required, `name` optional,
    any other field refused."""
    unknown = sorted(set(body) - _POST_FIELDS)
    errors: dict[str, str] = dict.fromkeys(unknown, "is not a field of a contact (email, name).")
    email = body.get("email")
    if email is None:
        errors["email"] = "is required."
    elif not isinstance(email, str) or len(email) > _MAX_EMAIL or not _EMAIL.fullmatch(email):
        errors["email"] = "must be an e-mail address such as ada@example.test."
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME):
        errors["name"] = f"must be a non-empty string of at most {_MAX_NAME} characters."
    if errors:
        raise ContactInvalid(errors)
    return {
        "id": f"con_{secrets.token_hex(8)}",
        "object": "contact",
        "first_name": None,
        "last_name": None,
        "name": name.strip() if isinstance(name, str) else None,
        "email": email,
        "title": None,
        "company_id": None,
        "created_at": _iso(now),
    }
