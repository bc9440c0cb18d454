"""Signing a member in through the real sign-in form, and posting dashboard forms with CSRF tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from server.dashboard import passwords
from server.db import members as member_store
from tests.harness import Running

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


@dataclass
class Member:
    email: str
    workspace_id: str
    password: str = PASSWORD


async def add_member(
    lk: Running, workspace_id: str, email: str = "dev@example.com", password: str = PASSWORD
) -> Member:
    await member_store.create_member(lk.db, workspace_id, email, passwords.hash_password(password))
    return Member(email=email, workspace_id=workspace_id, password=password)


def form_token(html: str) -> str:
    match = _FORM_TOKEN.search(html)
    assert match, "no sign-in form token in the page"
    return match.group(1)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def try_sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await client.get("/dashboard/sign-in")
    return await client.post(
        "/dashboard/sign-in",
        data={
            "form_token": form_token(page.text),
            "email": email,
            "password": password,
            "next": "/dashboard/sandbox/integrations",
        },
    )


async def sign_in(client: httpx.AsyncClient, member: Member) -> str:
    """Sign in; return the session's CSRF token (read from a page, as a browser would)."""
    response = await try_sign_in(client, member.email, member.password)
    assert response.status_code == 303, response.text
    page = await client.get("/dashboard/sandbox/integrations")
    assert page.status_code == 200
    return csrf_of(page.text)


async def post(
    client: httpx.AsyncClient, path: str, csrf: str | None, data: dict[str, Any] | None = None, **kwargs: Any
) -> httpx.Response:
    """A form post; values may be lists (repeated fields). `csrf=None` leaves the token out."""
    fields: dict[str, Any] = dict(data or {})
    if csrf is not None:
        fields["csrf_token"] = csrf
    return await client.post(path, data=fields, **kwargs)
