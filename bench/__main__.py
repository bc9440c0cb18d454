"""`make bench`: every goal of issue 11 as a ratio measured in one run, then the widget's sizes.

What runs, in order (how to read the output: bench/README.md):

1. SQLite — Latchkey and its same-work ceiling (bench/ceilings.py) on one database file: the
   credentials read, the connection read and the list; the sandbox start link and two static
   files against bare Starlette (bench/bare.py); complete flows against the lean client
   (bench/oauth.py) at 1 and 20 browsers; passthrough against a direct call to the same upstream; a
   burst of concurrent flows, each its own end-user.
2. Postgres — the same reads against an asyncpg ceiling, the burst on one process, then the burst
   on two Latchkey processes sharing the database (skipped, and said why, when Postgres is not
   reachable).
3. Sizes — embed.js, the picker's weight and first paint; then what a `memory://` rate limit
   costs a request with few and with many clients counted (bench/ratelimit.py).

Settings (environment): BENCH_SECONDS (each measurement, default 2), BENCH_ROUNDS (alternating
rounds, default 3), BENCH_DRIVERS (flow driver processes, default 2), BENCH_BURST (concurrent
flows, default 1000), BENCH_POSTGRES_URL (an admin URL; a fresh database is made and dropped),
BENCH_ONLY (a comma-separated list of sections to run, from SECTIONS; default all).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import goals, ratelimit, sizes, wrk
from bench.latchkey import (
    SLUG,
    SUCCESS_URL,
    Workspace,
    cli,
    create_workspace,
    latchkey_env,
    list_connections,
    new_base_url,
    prepare,
    running_latchkey,
    seed_test_connections,
    start_links,
    write_catalog,
)
from bench.postgres import DEFAULT_ADMIN_URL, fresh_database, unreachable
from bench.report import header, note
from bench.servers import ROOT, Server, bench_app, free_port

STATIC_FILES = {"/embed.js": sizes.EMBED, "/static/picker.js": ROOT / "server" / "static" / "picker.js"}
LIST_SIZE = 20  # connections in the environment the reads are measured on (the list returns them all)
LOOP_USERS = 100  # end-users the closed loops of flows cycle through (a repeat re-authorizes)
SECTIONS = ("reads", "start", "static", "flows", "passthrough", "burst", "sizes", "ratelimit", "postgres")


def wanted(section: str) -> bool:
    """BENCH_ONLY=start,flows runs only those sections: a quicker look while working on one goal."""
    only = {s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip()}
    unknown = only - set(SECTIONS)
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown section {sorted(unknown)[0]!r} (sections: {', '.join(SECTIONS)})")
    return not only or section in only


@dataclass(frozen=True)
class Bench:
    timing: goals.Timing
    postgres_url: str
    work: Path  # a temporary folder: databases, catalog, logs
    secret: str
    provider: Server
    lean: Server
    bare: Server

    @property
    def logs(self) -> Path:
        return self.work / "logs"


def timing_from_env() -> goals.Timing:
    return goals.Timing(
        seconds=max(1, round(float(os.environ.get("BENCH_SECONDS", "2")))),
        rounds=max(1, int(os.environ.get("BENCH_ROUNDS", "3"))),
        drivers=max(1, int(os.environ.get("BENCH_DRIVERS", "2"))),
        burst=max(1, int(os.environ.get("BENCH_BURST", "1000"))),
    )


def workspace_for(bench: Bench, name: str, database_url: str) -> tuple[dict[str, str], Workspace]:
    env = latchkey_env(
        var_dir=bench.work / name,
        database_url=database_url,
        base_url=new_base_url(),
        secret=bench.secret,
        catalog_dir=bench.work / "catalog",
    )
    return env, create_workspace(env)


def ceiling(bench: Bench, name: str, database_url: str) -> contextlib.AbstractContextManager[Server]:
    return bench_app(
        name,
        "bench.ceilings",
        "--database-url",
        database_url,
        logs=bench.logs,
        env={"LATCHKEY_SECRET_KEY": bench.secret},
    )


def on_sqlite(bench: Bench) -> None:
    database_url = f"sqlite:///{bench.work / 'sqlite' / 'latchkey.db'}"
    env, ws = workspace_for(bench, "sqlite", database_url)
    cli(env, "seed-demo")  # the picker whose weight `sizes` reports
    with (
        running_latchkey("latchkey-sqlite", env, logs=bench.logs) as lk,
        ceiling(bench, "ceiling-sqlite", database_url) as same_work,
    ):
        asyncio.run(prepare(lk.url, ws))
        connection_ids = asyncio.run(seed_test_connections(lk.url, ws, LIST_SIZE))
        if wanted("reads"):
            header("SQLite: Latchkey against its same-work ceiling (one sqlite3 connection, hand-written SQL)")
            goals.reads(lk.url, same_work.url, ws, connection_ids[0], bench.timing)
        if wanted("start") or wanted("static"):
            header("SQLite: against bare Starlette (bare serves the static files' bytes from memory)")
        if wanted("start"):
            [link] = asyncio.run(start_links(lk.url, ws.id, "sandbox", "sandbox", ["bench"]))
            goals.start(lk.url, bench.bare.url, link.removeprefix(lk.url), bench.timing)
        if wanted("static"):
            goals.static(lk.url, bench.bare.url, [p for p, f in STATIC_FILES.items() if f.exists()], bench.timing)
        if wanted("flows"):
            header("SQLite: complete flows (fresh browser each) against the lean client, zero-work provider")
            users = [f"loop-{i:03d}" for i in range(LOOP_USERS)]
            links = asyncio.run(start_links(lk.url, ws.id, "production", SLUG, users))
            goals.flows(links, bench.lean.url, bench.timing)
        if wanted("passthrough"):
            header("SQLite: passthrough against a direct call to the same zero-work API resource")
            # The connection passed through is one the complete flows made.
            connections = asyncio.run(list_connections(lk.url, ws.production_key, SLUG))
            if connections:
                goals.passthrough(lk.url, bench.provider.url, ws, str(connections[0]["id"]), bench.timing)
            else:
                note("passthrough: skipped, it needs a connection the flows section makes (BENCH_ONLY)")
        if wanted("burst"):
            goals.burst(f"{bench.timing.burst:,} concurrent flows, SQLite", lk.url, ws, bench.timing, tag="sqlite")
        if wanted("sizes"):
            print("\nSizes:", flush=True)
            sizes.widget_size()
            sizes.logo_sizes()
            sizes.picker_weight(lk.url)
        if wanted("ratelimit"):
            print("\nRate limits (memory://, in-process):", flush=True)
            ratelimit.rate_limit_costs()


def on_postgres(bench: Bench) -> None:
    if not wanted("postgres"):
        return
    reason = unreachable(bench.postgres_url)
    if reason:
        print(f"\nPostgres: skipped, {reason} (set BENCH_POSTGRES_URL, or `make postgres`)", flush=True)
        return
    with fresh_database(bench.postgres_url) as database_url:
        env, ws = workspace_for(bench, "postgres", database_url)
        with (
            running_latchkey("latchkey-pg", env, logs=bench.logs) as lk,
            ceiling(bench, "ceiling-pg", database_url) as same_work,
        ):
            asyncio.run(prepare(lk.url, ws))
            connection_ids = asyncio.run(seed_test_connections(lk.url, ws, LIST_SIZE))
            header(
                f"Postgres ({database_url.rsplit('/', 1)[1]}): against the same-work ceiling (one asyncpg connection)"
            )
            goals.reads(lk.url, same_work.url, ws, connection_ids[0], bench.timing)
            burst = f"{bench.timing.burst:,} concurrent flows, Postgres"
            goals.burst(burst, lk.url, ws, bench.timing, tag="pg")
            with running_latchkey("latchkey-pg-2", env, logs=bench.logs, port=free_port()) as second:
                goals.burst(f"{burst}, 2 processes", lk.url, ws, bench.timing, tag="pg2", spread=[lk.url, second.url])


def main() -> None:
    began = time.perf_counter()
    timing = timing_from_env()
    if not wrk.available():
        raise SystemExit("wrk is not installed: `make bench` installs it (scripts/ensure-apt-package.sh wrk)")
    print(
        f"Latchkey bench: medians of {timing.rounds} alternating rounds of {timing.seconds} s; requests by"
        f" wrk -t1 -c16, flows by {timing.drivers} driver processes; {os.cpu_count()} cores. Reading it: bench/README.md",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="latchkey-bench-") as folder, contextlib.ExitStack() as stack:
        work = Path(folder)
        logs = work / "logs"
        provider = stack.enter_context(bench_app("provider", "bench.oauth", "provider", logs=logs))
        write_catalog(work / "catalog", provider.url)
        lean_args = ("lean", "--provider", provider.url, "--success-url", SUCCESS_URL)
        lean = stack.enter_context(bench_app("lean", "bench.oauth", *lean_args, logs=logs))
        files = [f"--file={path}={file}" for path, file in STATIC_FILES.items() if file.exists()]
        bare = stack.enter_context(bench_app("bare", "bench.bare", *files, logs=logs))
        bench = Bench(
            timing=timing,
            postgres_url=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL),
            work=work,
            secret=secrets.token_urlsafe(48),
            provider=provider,
            lean=lean,
            bare=bare,
        )
        on_sqlite(bench)
        on_postgres(bench)
    minutes, seconds = divmod(time.perf_counter() - began, 60)
    note_line = f"whole run: {int(minutes)} min {seconds:.0f} s"
    print()
    note(note_line)


if __name__ == "__main__":
    main()
