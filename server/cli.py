"""The `latchkey` command: serve, migrate, workspace, member, key, catalog, webhook, seed-demo."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from server.audit_actions import Actor
from server.catalog.loader import load_catalog, validate_directory
from server.crypto import Sealer
from server.db import activations as activation_store
from server.db import workspaces as workspace_store
from server.db.database import Database, close_database, open_database
from server.db.migrations import migrate
from server.errors import ConfigurationError, LatchkeyError
from server.logs import configure_logging
from server.settings import Settings

T = TypeVar("T")


def _run_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def runner() -> T:
        db = open_database(settings.database_url, lock_timeout=settings.database_lock_timeout)
        await db.connect()
        try:
            await migrate(db)
            return await work(db)
        finally:
            await close_database(db)

    return asyncio.run(runner())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from server.app import create_app

    workers = args.workers or settings.workers
    if workers > 1 and settings.metrics_on:
        _multiprocess_metrics_dir()
    # Our own access log (server.middleware) redacts query strings; uvicorn's would print them. Forwarded
    # headers are read by server/proxies.py (LATCHKEY_TRUSTED_PROXIES), not by uvicorn. Logging is ours
    # (server/logs.py): uvicorn installs no handlers of its own.
    options = {
        "host": args.host,
        "port": args.port,
        "access_log": False,
        "log_config": None,
        "log_level": settings.log_level.lower(),
        "proxy_headers": False,
        "timeout_graceful_shutdown": 30,
    }
    if workers > 1:
        # Each worker process builds its own app from the same environment; they share the database,
        # and the background tasks coordinate through row leases. Migrated once here, first.
        _run_db(settings, _nothing)
        uvicorn.run("server.cli:worker_app", factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)
    return 0


def _multiprocess_metrics_dir() -> None:
    """A fresh, empty folder where every worker writes its metric samples (prometheus-client's
    multiprocess mode): in the environment before any worker imports prometheus_client, and new each
    start so no sample of an earlier run is counted again."""
    import os
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="latchkey-metrics-")


def worker_app() -> Any:
    """The app of one `latchkey serve --workers N` process (uvicorn imports this in each)."""
    from server.app import create_app

    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


async def _nothing(db: Database) -> None:
    return None


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    _run_db(settings, _nothing)
    print("database is up to date")
    return 0


def _check_allowlists(origins: list[str], urls: list[str]) -> None:
    from server.flow.allowlist import valid_allowlist_entry

    for origin in origins:
        if not valid_allowlist_entry(origin, kind="origin"):
            raise ValueError(f"--origin {origin!r} is not an origin like https://app.example.com")
    for url in urls:
        if not valid_allowlist_entry(url, kind="url"):
            raise ValueError(f"--redirect-url {url!r} is not an absolute http(s) URL without query or fragment")


def cmd_workspace_create(args: argparse.Namespace, settings: Settings) -> int:
    if args.member_email:
        from server.db.members import normalise_email

        normalise_email(args.member_email)  # a bad address stops here, before the workspace exists
    _check_allowlists(args.origin or [], args.redirect_url or [])

    async def work(db: Database) -> workspace_store.CreatedWorkspace:
        return await workspace_store.create_workspace(
            db,
            args.name,
            allowed_origins=args.origin or [],
            allowed_redirect_urls=args.redirect_url or [],
            actor=Actor.cli(),
        )

    created = _run_db(settings, work)
    print(f"workspace {created.id} ({created.name})")
    for env, key in created.api_keys.items():
        print(f"  {env:<10} secret key: {key}   (shown once)")
    if args.member_email:
        _add_member(settings, created.id, args.member_email, None)
    return 0


def _add_member(settings: Settings, workspace_id: str, email: str, password: str | None) -> None:
    """A dashboard member; without `password`, one is generated and printed once."""
    from server.dashboard import passwords
    from server.db import members as member_store

    generated = password is None
    password = passwords.generate_password() if password is None else password
    password_hash = passwords.hash_password(password)
    member = _run_db(
        settings, lambda db: member_store.create_member(db, workspace_id, email, password_hash, actor=Actor.cli())
    )
    print(f"member {member.email} of workspace {member.workspace_id} ({member.workspace_name})")
    print(f"  dashboard: {settings.base_url}/dashboard")
    if generated:
        print(f"  password: {password}   (shown once)")


def cmd_member_add(args: argparse.Namespace, settings: Settings) -> int:
    from server.dashboard import passwords
    from server.db import members as member_store

    member_store.normalise_email(args.email)
    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None
    problem = passwords.check_new_password(password) if password is not None else None
    if problem:
        print(f"latchkey: the password is too weak: {problem}", file=sys.stderr)
        return 2
    _add_member(settings, args.workspace, args.email, password)
    return 0


def cmd_workspace_list(args: argparse.Namespace, settings: Settings) -> int:
    for ws in _run_db(settings, workspace_store.list_workspaces):
        print(f"{ws['id']}\t{ws['name']}")
    return 0


def cmd_key_rotate(args: argparse.Namespace, settings: Settings) -> int:
    grace = workspace_store.parse_grace(args.grace)
    rotated = _run_db(
        settings, lambda db: workspace_store.rotate_key(db, args.workspace, args.env, grace=grace, actor=Actor.cli())
    )
    if rotated.previous_key_expires_at is None:
        old = "the old key no longer works"
    else:
        until = rotated.previous_key_expires_at.strftime("%Y-%m-%d %H:%M UTC")
        old = f"the old key keeps working for {workspace_store.grace_text(grace)}, until {until}"
    print(f"new {args.env} secret key for {args.workspace}: {rotated.key}   (shown once; {old})")
    if rotated.cut_off_prefix is not None:
        print(f"the key before it ({rotated.cut_off_prefix}…), still in its grace period, stopped working now")
    return 0


def cmd_key_expire_previous(args: argparse.Namespace, settings: Settings) -> int:
    prefix = _run_db(
        settings, lambda db: workspace_store.expire_previous_key(db, args.workspace, args.env, actor=Actor.cli())
    )
    if prefix is None:
        print(f"no previous {args.env} key of {args.workspace} is still valid: nothing to expire")
    else:
        print(f"the previous {args.env} key of {args.workspace} ({prefix}…) no longer works")
    return 0


def cmd_catalog_validate(args: argparse.Namespace, settings: Settings) -> int:
    if not Path(args.directory).is_dir():
        raise ConfigurationError(f"{args.directory}: not a directory")
    problems = validate_directory(Path(args.directory))
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{args.directory}: every catalog file is valid")
    return 1 if problems else 0


def cmd_catalog_list(args: argparse.Namespace, settings: Settings) -> int:
    catalog = load_catalog(settings.catalog_dir)
    rows = [i.summary() for i in catalog]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(
            f"{row['slug']:<20} {row['name']:<24} {row['auth_kind']:<26} {','.join(row['categories']):<24} {' '.join(row['unified_scopes'])}"
        )
    return 0


def cmd_reseal(args: argparse.Namespace, settings: Settings) -> int:
    from server.db.reseal import reseal_all

    sealer = Sealer(settings.secret_key, settings.old_secret_keys)
    counts = _run_db(settings, lambda db: reseal_all(db, sealer))
    print(
        f"resealed {counts['connections']} connection(s), {counts['activations']} activation secret(s) and "
        f"{counts['webhooks']} webhook secret(s) with the current key"
    )
    return 0


def cmd_webhook_add(args: argparse.Namespace, settings: Settings) -> int:
    from server.db import webhooks as webhook_store
    from server.lifecycle.urls import check_webhook_url

    url = check_webhook_url(args.url, allow_loopback=settings.webhook_allow_loopback)
    events = webhook_store.check_events(args.event)
    sealer = Sealer(settings.secret_key, settings.old_secret_keys)

    async def work(db: Database) -> webhook_store.CreatedEndpoint:
        await workspace_store.get_environment(db, args.workspace, args.env)
        return await webhook_store.create_endpoint(
            db,
            sealer,
            args.workspace,
            args.env,
            url=url,
            events=events,
            description=args.description,
            actor=Actor.cli(),
        )

    created = _run_db(settings, work)
    print(f"webhook {created.endpoint.id} -> {created.endpoint.url} ({', '.join(created.endpoint.events)})")
    print(f"  signing secret: {created.secret}   (shown once)")
    return 0


def cmd_webhook_list(args: argparse.Namespace, settings: Settings) -> int:
    from server.db import webhooks as webhook_store

    async def work(db: Database) -> list[webhook_store.WebhookEndpoint]:
        await workspace_store.get_environment(db, args.workspace, args.env)
        return await webhook_store.list_endpoints(db, args.workspace, args.env)

    for endpoint in _run_db(settings, work):
        print(f"{endpoint.id}\t{endpoint.url}\t{','.join(endpoint.events)}")
    return 0


def cmd_webhook_remove(args: argparse.Namespace, settings: Settings) -> int:
    from server.db import webhooks as webhook_store

    removed = _run_db(
        settings, lambda db: webhook_store.delete_endpoint(db, args.workspace, args.env, args.id, actor=Actor.cli())
    )
    print(f"removed webhook {removed.id} ({removed.url}) and its pending deliveries")
    return 0


def cmd_catalog_table(args: argparse.Namespace, settings: Settings) -> int:
    from server.catalog.table import markdown_table

    sys.stdout.write(markdown_table(load_catalog(settings.catalog_dir)))
    return 0


DEMO_WORKSPACE = "ws_demo"
DEMO_ORIGINS = ["http://localhost:8001", "http://127.0.0.1:8001", "http://localhost:5173"]
DEMO_REDIRECTS = [
    "http://localhost:8001/",
    "http://127.0.0.1:8001/",
    "http://localhost:5173/",
    "http://localhost:8002/",
]


def cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Idempotent demo data for `make run`: a sandbox workspace with a few integrations active."""
    catalog = load_catalog(settings.catalog_dir)

    async def work(db: Database) -> tuple[dict[str, str], str, str]:
        sealer = Sealer(settings.secret_key, settings.old_secret_keys)
        existing = {w["id"] for w in await workspace_store.list_workspaces(db)}
        keys: dict[str, str] = {}
        if DEMO_WORKSPACE not in existing:
            created = await workspace_store.create_workspace(
                db,
                "Demo workspace",
                workspace_id=DEMO_WORKSPACE,
                allowed_origins=DEMO_ORIGINS,
                allowed_redirect_urls=DEMO_REDIRECTS,
                actor=Actor.cli(),
            )
            keys = created.api_keys
        for slug in ("sandbox", "hubspot", "salesforce", "slack", "github", "stripe", "zendesk", "shopify"):
            if catalog.get(slug):
                await activation_store.activate(
                    db,
                    sealer,
                    DEMO_WORKSPACE,
                    "sandbox",
                    slug,
                    client_id=None,
                    client_secret=None,
                    scopes=[],
                    actor=Actor.cli(),  # seeding again changes nothing, so records nothing
                )
        password = await _demo_member(db, saved.get(DEMO_PASSWORD_FIELD))
        return keys, password, await _demo_connection(db, sealer, settings)

    key_file = Path(settings.database_url.split("///", 1)[-1]).parent / "demo-keys.json" if settings.is_sqlite else None
    saved = json.loads(key_file.read_text()) if key_file and key_file.exists() else {}
    keys, password, connection_id = _run_db(settings, work)
    remembered = {DEMO_PASSWORD_FIELD: password, DEMO_CONNECTION_FIELD: connection_id}
    if key_file and (keys or any(saved.get(k) != v for k, v in remembered.items())):
        key_file.write_text(json.dumps({**saved, **keys, **remembered}, indent=2))
        key_file.chmod(0o600)
    print(f"demo workspace: {DEMO_WORKSPACE} (sandbox, public mode on)")
    if keys:
        print(f"  sandbox secret key: {keys['sandbox']}   (also in {key_file})")
    elif key_file and key_file.exists():
        print(f"  secret keys: see {key_file}")
    print(f"  demo connection: {connection_id} (HubSpot, sandbox data) — passthrough:")
    print(
        f"    curl -H 'Authorization: Bearer <sandbox key>' {settings.base_url}/api/v1/passthrough/{connection_id}/crm/contacts"
    )
    print(f"  dashboard: {settings.base_url}/dashboard")
    print(f"    email:    {DEMO_MEMBER}")
    print(f"    password: {password}" + (f"   (also in {key_file})" if key_file else ""))
    return 0


DEMO_MEMBER = "demo@latchkey.localhost"
DEMO_PASSWORD_FIELD = "dashboard_password"
DEMO_CONNECTION_FIELD = "demo_connection"


async def _demo_connection(db: Database, sealer: Sealer, settings: Settings) -> str:
    """A sandbox HubSpot connection for demo-user with fresh sandbox tokens: the README's passthrough
    call works before anyone has clicked through the picker. Seeding again keeps its ID."""
    from datetime import timedelta

    from server.db import connections as connection_store
    from server.db.clock import utcnow
    from server.sandbox.tokens import mint_tokens, new_account
    from server.signing import Signer

    tokens = mint_tokens(Signer(settings.secret_key, settings.old_secret_keys), new_account())
    expires_at = utcnow() + timedelta(seconds=tokens.expires_in)
    saved = await connection_store.save_connection(
        db,
        sealer,
        connection_store.NewConnection(
            workspace_id=DEMO_WORKSPACE,
            environment="sandbox",
            integration="hubspot",
            external_xref="demo-user",
            credentials={
                "type": "oauth2",
                "access_token": tokens.access_token,
                "token_type": "bearer",
                "refresh_token": tokens.refresh_token,
                "expires_at": expires_at.isoformat(),
            },
            scopes_requested=["crm_contact_read"],
            scopes_granted=["crm_contact_read"],
            provider_scopes=["crm.objects.contacts.read"],
            metadata={"sandbox": True},
            expires_at=expires_at,
        ),
    )
    return saved.connection.id


async def _demo_member(db: Database, remembered: str | None) -> str:
    """The demo's dashboard member: the remembered password if it still signs in, else a new one."""
    from server.dashboard import passwords
    from server.db import members as member_store

    record = await member_store.find_by_email(db, DEMO_MEMBER)
    if record and remembered and passwords.verify_password(remembered, record.password_hash):
        return remembered
    password = passwords.generate_password()
    if record is None:
        await member_store.create_member(
            db, DEMO_WORKSPACE, DEMO_MEMBER, passwords.hash_password(password), actor=Actor.cli()
        )
    else:
        await member_store.set_password(db, record.member.id, passwords.hash_password(password))
    return password


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="latchkey", description="Self-hosted embeddable authorization.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, help="processes sharing the database (default: LATCHKEY_WORKERS or 1)")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("reseal", help="re-encrypt stored secrets with the current LATCHKEY_SECRET_KEY").set_defaults(
        func=cmd_reseal
    )
    sub.add_parser("seed-demo", help="create the demo workspace (idempotent)").set_defaults(func=cmd_seed_demo)

    ws = sub.add_parser("workspace", help="manage workspaces").add_subparsers(dest="ws_command", required=True)
    create = ws.add_parser("create", help="create a workspace (prints its secret keys once)")
    create.add_argument("--name", required=True)
    create.add_argument("--origin", action="append", help="allowed host origin (repeatable)")
    create.add_argument("--redirect-url", action="append", help="allowed success/failure URL (repeatable)")
    create.set_defaults(func=cmd_workspace_create)
    create.add_argument("--member-email", help="also add a dashboard member (prints a generated password once)")
    ws.add_parser("list", help="list workspaces").set_defaults(func=cmd_workspace_list)

    members = sub.add_parser("member", help="dashboard members").add_subparsers(dest="member_command", required=True)
    member_add = members.add_parser(
        "add", help="add a dashboard member to a workspace (prints a generated password once)"
    )
    member_add.add_argument("--workspace", required=True)
    member_add.add_argument("--email", required=True)
    member_add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    member_add.set_defaults(func=cmd_member_add)

    key = sub.add_parser("key", help="manage API keys").add_subparsers(dest="key_command", required=True)
    rotate = key.add_parser("rotate", help="replace an environment's secret key")
    rotate.add_argument("--workspace", required=True)
    rotate.add_argument("--env", choices=["sandbox", "production"], required=True)
    rotate.add_argument(
        "--grace",
        default="0",
        help="how long the old key keeps working: 30m, 24h, 7d (at most 30d; default 0: it stops at once)",
    )
    rotate.set_defaults(func=cmd_key_rotate)
    expire = key.add_parser("expire-previous", help="stop a rotated-out key now, ending its grace period")
    expire.add_argument("--workspace", required=True)
    expire.add_argument("--env", choices=["sandbox", "production"], required=True)
    expire.set_defaults(func=cmd_key_expire_previous)

    catalog = sub.add_parser("catalog", help="the integration catalog").add_subparsers(
        dest="catalog_command", required=True
    )
    validate = catalog.add_parser("validate", help="validate a folder of custom integrations")
    validate.add_argument("directory")
    validate.set_defaults(func=cmd_catalog_validate)
    listing = catalog.add_parser("list", help="print the catalog")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_catalog_list)
    catalog.add_parser("table", help="print the Markdown table of docs/integrations.md").set_defaults(
        func=cmd_catalog_table
    )

    webhook = sub.add_parser("webhook", help="webhook endpoints of an environment").add_subparsers(
        dest="webhook_command", required=True
    )
    for name, helptext, func in (
        ("add", "add an endpoint (prints its signing secret once)", cmd_webhook_add),
        ("list", "list the endpoints", cmd_webhook_list),
        ("remove", "remove an endpoint and its pending deliveries", cmd_webhook_remove),
    ):
        command = webhook.add_parser(name, help=helptext)
        command.add_argument("--workspace", required=True)
        command.add_argument("--env", choices=["sandbox", "production"], required=True)
        command.set_defaults(func=func)
        if name == "add":
            command.add_argument("--url", required=True)
            command.add_argument("--event", action="append", help="event type to send (repeatable; default: all)")
            command.add_argument("--description")
        if name == "remove":
            command.add_argument("id", help="the endpoint ID (whep_…)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level, settings.log_format)  # LATCHKEY_LOG_LEVEL governs every logger
        command: Callable[[argparse.Namespace, Settings], int] = args.func  # set by build_parser
        return command(args, settings)
    except (ConfigurationError, LatchkeyError, ValueError) as exc:
        print(f"latchkey: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
