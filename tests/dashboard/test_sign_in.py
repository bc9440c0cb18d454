"""Signing in to the dashboard: the session cookie, wrong passwords, the lockout, signing out."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from server.dashboard import auth, passwords
from server.db.clock import as_utc, utcnow
from server.db.statements import Row
from server.db.tables import dashboard_sessions, members, sign_in_failures
from tests.dashboard.support import PASSWORD, Member, add_member, form_token, sign_in, try_sign_in
from tests.harness import BASE_URL, Running, Workspace, make_settings, new_workspace, running_app


async def member_row(lk: Running, email: str = "dev@example.com") -> Row:
    row = await lk.db.fetch_one(sa.select(members).where(members.c.email == email))
    assert row is not None, f"no member {email}"
    return row


async def failures_from(lk: Running, address: str = "127.0.0.1") -> Row | None:
    """This address's run of wrong passwords for the member (the test client's address by default)."""
    row: Row | None = await lk.db.fetch_one(
        sa.select(sign_in_failures).where(sign_in_failures.c.client_address == address)
    )
    return row


def from_address(lk: Running, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=lk.app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


async def session_count(lk: Running) -> int:
    n: int = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(dashboard_sessions))
    return n


async def test_a_member_signs_in_and_sees_the_dashboard(lk: Running, member: Member) -> None:
    response = await try_sign_in(lk.client, "Dev@Example.com ", PASSWORD)  # case and spaces do not matter
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/sandbox/integrations"
    cookie = response.headers["set-cookie"]
    assert (
        cookie.startswith("latchkey_dashboard=")
        and "HttpOnly" in cookie
        and "SameSite=lax" in cookie
        and "Path=/" in cookie
    )
    page = await lk.client.get("/dashboard/sandbox/integrations")
    assert page.status_code == 200 and "dev@example.com" in page.text and "Test workspace" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    row = await member_row(lk)
    assert row["last_sign_in_at"] is not None and await failures_from(lk) is None
    assert await session_count(lk) == 1


async def test_the_session_cookie_holds_no_row_key(lk: Running, member: Member) -> None:
    await sign_in(lk.client, member)
    cookie = lk.client.cookies.get("latchkey_dashboard")
    assert cookie is not None
    [stored] = await lk.db.fetch_all(sa.select(dashboard_sessions.c.id_hash))
    assert stored["id_hash"] not in cookie  # only the SHA-256 of the session ID is stored


async def test_signed_out_visitors_are_sent_to_sign_in(lk: Running, member: Member) -> None:
    response = await lk.client.get("/dashboard/sandbox/connections")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/sign-in?next=%2Fdashboard%2Fsandbox%2Fconnections"
    assert (await lk.client.get("/dashboard")).headers["location"] == "/dashboard/sandbox/integrations"


async def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(lk: Running, member: Member) -> None:
    page = await lk.client.get("/dashboard/sign-in?next=/dashboard/production/webhooks")
    assert 'name="next" value="/dashboard/production/webhooks"' in page.text
    for target, expected in (
        ("/dashboard/production/webhooks", "/dashboard/production/webhooks"),
        ("//evil.example/dashboard/", "/dashboard/sandbox/integrations"),
        ("https://evil.example/", "/dashboard/sandbox/integrations"),
        ("/dashboard/\\evil.example", "/dashboard/sandbox/integrations"),
    ):
        lk.client.cookies.clear()
        page = await lk.client.get("/dashboard/sign-in")
        response = await lk.client.post(
            "/dashboard/sign-in",
            data={"form_token": form_token(page.text), "email": member.email, "password": PASSWORD, "next": target},
        )
        assert response.headers["location"] == expected


async def test_a_wrong_password_is_refused_and_counted(lk: Running, member: Member) -> None:
    response = await try_sign_in(lk.client, member.email, "wrong password, long enough")
    assert response.status_code == 400
    assert 'data-error-code="invalid_credentials"' in response.text
    assert "latchkey_dashboard=" not in response.headers.get("set-cookie", "")
    assert (await lk.client.get("/dashboard/sandbox/integrations")).status_code == 303
    counted = await failures_from(lk)
    assert counted is not None and counted["failures"] == 1 and await session_count(lk) == 0


async def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(lk: Running, member: Member) -> None:
    unknown = await try_sign_in(lk.client, "nobody@example.com", PASSWORD)
    wrong = await try_sign_in(lk.client, member.email, "not the password at all")
    assert unknown.status_code == wrong.status_code == 400
    message = "That email address and password do not match a member."
    assert message in unknown.text and message in wrong.text


async def test_five_wrong_passwords_lock_the_address_out_of_the_account_for_fifteen_minutes(
    lk: Running, member: Member
) -> None:
    for attempt in range(4):
        assert (await try_sign_in(lk.client, member.email, f"wrong-password-{attempt}")).status_code == 400
    fifth = await try_sign_in(lk.client, member.email, "wrong-password-4")
    assert fifth.status_code == 429 and 'data-error-code="account_locked"' in fifth.text
    row = await failures_from(lk)
    assert row is not None
    locked_until = as_utc(row["locked_until"])
    assert locked_until is not None
    assert abs(locked_until - (utcnow() + timedelta(minutes=15))) < timedelta(seconds=30)
    # The page says until when, and Retry-After says how long.
    assert f"locked until {locked_until.strftime('%H:%M UTC')}" in fifth.text
    assert abs(int(fifth.headers["retry-after"]) - 900) <= 30

    # While locked, even the right password is refused, and no session is made.
    right = await try_sign_in(lk.client, member.email, PASSWORD)
    assert right.status_code == 429 and 'data-error-code="account_locked"' in right.text
    assert await session_count(lk) == 0 and (await lk.client.get("/dashboard/sandbox/integrations")).status_code == 303


async def test_the_lock_ends_after_its_time_and_is_per_account(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    other = await add_member(lk, workspace.id, email="other@example.com")
    for attempt in range(5):
        await try_sign_in(lk.client, member.email, f"wrong-password-{attempt}")
    assert (await try_sign_in(lk.client, other.email, PASSWORD)).status_code == 303  # another account is not locked
    lk.client.cookies.clear()

    await lk.db.execute(sign_in_failures.update().values(locked_until=utcnow() - timedelta(seconds=1)))
    assert (await try_sign_in(lk.client, member.email, PASSWORD)).status_code == 303
    assert await failures_from(lk) is None


async def test_wrong_passwords_from_one_address_do_not_lock_the_member_out_elsewhere(
    lk: Running, member: Member
) -> None:
    async with from_address(lk, "203.0.113.66") as stranger, from_address(lk, "198.51.100.20") as office:
        for attempt in range(5):
            await try_sign_in(stranger, member.email, f"wrong-password-{attempt}")
        refused = await try_sign_in(stranger, member.email, PASSWORD)
        assert refused.status_code == 429 and 'data-error-code="account_locked"' in refused.text
        assert (await try_sign_in(office, member.email, PASSWORD)).status_code == 303
        # The member's sign-in ends no one else's lock: the stranger is still locked out.
        assert (await try_sign_in(stranger, member.email, PASSWORD)).status_code == 429
    assert await session_count(lk) == 1


async def test_a_right_password_resets_the_count(lk: Running, member: Member) -> None:
    for attempt in range(4):
        await try_sign_in(lk.client, member.email, f"wrong-password-{attempt}")
    assert (await try_sign_in(lk.client, member.email, PASSWORD)).status_code == 303
    assert await failures_from(lk) is None


async def test_sign_in_without_the_form_token_is_refused(lk: Running, member: Member) -> None:
    response = await lk.client.post("/dashboard/sign-in", data={"email": member.email, "password": PASSWORD})
    assert response.status_code == 403 and 'data-error-code="csrf_failed"' in response.text
    # A token from another browser (no matching cookie) is refused too: login CSRF.
    page = await lk.client.get("/dashboard/sign-in")
    token = form_token(page.text)
    lk.client.cookies.clear()
    response = await lk.client.post(
        "/dashboard/sign-in", data={"form_token": token, "email": member.email, "password": PASSWORD}
    )
    assert response.status_code == 403 and await session_count(lk) == 0


async def test_sign_out_ends_the_session_for_good(lk: Running, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    stolen = lk.client.cookies.get("latchkey_dashboard")
    assert stolen is not None
    response = await lk.client.post("/dashboard/sign-out", data={"csrf_token": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/sign-in"
    assert 'latchkey_dashboard=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    assert await session_count(lk) == 0
    # A copy of the old cookie no longer works.
    lk.client.cookies.clear()
    lk.client.cookies.set("latchkey_dashboard", stolen)
    assert (await lk.client.get("/dashboard/sandbox/integrations")).status_code == 303


async def test_a_forged_or_expired_cookie_is_ignored(lk: Running, member: Member) -> None:
    lk.client.cookies.set("latchkey_dashboard", "forged.value.here")
    assert (await lk.client.get("/dashboard/sandbox/integrations")).status_code == 303
    await sign_in(lk.client, member)
    await lk.db.execute(dashboard_sessions.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    assert (await lk.client.get("/dashboard/sandbox/integrations")).status_code == 303


async def test_over_https_the_cookie_is_host_prefixed_and_secure(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, base_url="https://latchkey.test")
    async with running_app(settings) as lk:
        workspace = await new_workspace(lk.services)
        member = await add_member(lk, workspace.id)
        response = await try_sign_in(lk.client, member.email, PASSWORD)
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-latchkey_dashboard=") and "Secure" in cookie and "Path=/" in cookie
        assert "Domain" not in cookie
        assert auth.session_cookie_name(settings) == "__Host-latchkey_dashboard"


def test_passwords_are_hashed_with_scrypt_at_owasp_cost() -> None:
    cost = passwords.ScryptCost()
    assert (2**cost.log2_n, cost.r, cost.p) == (2**15, 8, 3)
    encoded = passwords.hash_password(PASSWORD, cost)
    assert encoded.startswith("scrypt$15$8$3$") and PASSWORD not in encoded
    assert passwords.verify_password(PASSWORD, encoded)
    assert not passwords.verify_password(PASSWORD + "x", encoded)
    assert encoded != passwords.hash_password(PASSWORD, cost)  # salted
    assert not passwords.verify_password(PASSWORD, "md5$whatever")


async def test_a_cheaper_old_hash_is_upgraded_on_sign_in(
    lk: Running, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = await add_member(lk, workspace.id)  # hashed at the tests' cheap cost
    monkeypatch.setattr(passwords, "DEFAULT_COST", passwords.ScryptCost(log2_n=11, r=8, p=1))
    assert (await try_sign_in(lk.client, member.email, PASSWORD)).status_code == 303
    assert (await member_row(lk))["password_hash"].startswith("scrypt$11$8$1$")


@pytest.mark.parametrize("path", ["/dashboard/staging/integrations", "/dashboard/staging/connections/conn_x"])
async def test_unknown_environments_are_not_found(lk: Running, member: Member, path: str) -> None:
    await sign_in(lk.client, member)
    response = await lk.client.get(path)
    assert response.status_code == 404 and 'data-error-code="not_found"' in response.text


async def test_sign_in_page_is_not_framed_and_posts_same_origin(lk: Running) -> None:
    page = await lk.client.get("/dashboard/sign-in")
    assert page.status_code == 200 and isinstance(page, httpx.Response)
    assert page.headers["referrer-policy"] == "same-origin" and page.headers["x-frame-options"] == "DENY"
    assert "form-action 'self'" in page.headers["content-security-policy"]


async def test_signing_in_again_ends_the_previous_session(lk: Running, workspace: Workspace, member: Member) -> None:
    """Two tabs: one signs in as one member, the other, open since before, as another."""
    other = await add_member(lk, workspace.id, email="other@example.com")
    page = await lk.client.get("/dashboard/sign-in")  # the second tab's form
    token, form_cookie = form_token(page.text), lk.client.cookies.get("latchkey_dashboard_sign_in")
    assert form_cookie is not None
    await sign_in(lk.client, member)
    lk.client.cookies.set("latchkey_dashboard_sign_in", form_cookie)
    response = await lk.client.post(
        "/dashboard/sign-in", data={"form_token": token, "email": other.email, "password": PASSWORD}
    )
    assert response.status_code == 303
    assert await session_count(lk) == 1
    assert "other@example.com" in (await lk.client.get("/dashboard/sandbox/integrations")).text


async def test_a_sign_in_with_a_control_character_is_refused_and_counts_nothing(lk: Running, member: Member) -> None:
    response = await try_sign_in(lk.client, member.email + "\x00", PASSWORD)
    assert response.status_code == 400 and 'data-error-code="invalid_request"' in response.text
    assert "latchkey_dashboard=" not in response.headers.get("set-cookie", "")
    assert await failures_from(lk) is None and await session_count(lk) == 0
