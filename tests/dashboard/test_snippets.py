"""The embed page's snippets: built from the settings, valid in their language, and working.

The script-tag snippet is run to a connection in Chromium by tests/browser/test_dashboard.py; here
the React, Vue and Angular snippets are compiled against the widget packages' own types (tsc, Vue's
SFC compiler, Angular's ngc with strict templates), and the curl and Python API calls are run
against a live server, where the session they mint opens the picker.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from server.dashboard.snippets import EXAMPLE_XREF, build_snippets
from server.db.embed_settings import EmbedSettings
from server.db.workspaces import CreatedWorkspace, Environment
from tests.harness import LiveServer, _in_own_thread, make_settings

ROOT = Path(__file__).resolve().parents[2]
WIDGET = ROOT / "widget"
BIN = WIDGET / "node_modules" / ".bin"
BASE = "https://latchkey.example.com"
ORIGIN = "https://app.example.com"

VARIANTS: dict[str, tuple[bool, dict[str, Any]]] = {
    "public-popup": (
        True,
        {
            "mode": "popup",
            "scopes": ("crm_contact_read",),
            "integrations": ("hubspot", "sandbox"),
            "theme": "dark",
            "accent": "ff5500",
            "lang": "fr",
        },
    ),
    "public-inline": (True, {"mode": "inline", "categories": ("crm", "commerce")}),
    "public-redirect": (True, {"mode": "redirect", "success_url": f"{ORIGIN}/ok", "failure_url": f"{ORIGIN}/ko"}),
    "session-popup": (False, {"mode": "popup", "theme": "light"}),
    "session-inline": (False, {"mode": "inline", "lang": "ja", "scopes": ("commerce_order_read",)}),
    "session-redirect": (False, {"mode": "redirect", "success_url": f"{ORIGIN}/ok"}),
}


def environment(public: bool, *, workspace_id: str = "ws_123", origins: tuple[str, ...] = (ORIGIN,)) -> Environment:
    return Environment(
        workspace_id=workspace_id,
        workspace_name="Acme",
        name="sandbox" if public else "production",
        api_key_prefix="lk_sbx_abcde",
        allowed_origins=origins,
        allowed_redirect_urls=(f"{ORIGIN}/",),
        public_mode=public,
    )


def snippets_of(variant: str, **env_overrides: Any) -> dict[str, str]:
    public, options = VARIANTS[variant]
    env = environment(public, **env_overrides)
    return {s.id: s.code for s in build_snippets(BASE, env, EmbedSettings(env.workspace_id, env.name, **options))}


# -- what the snippets say -------------------------------------------------------------------------


def test_a_public_snippet_carries_the_workspace_and_the_options() -> None:
    html = snippets_of("public-popup")["html"]
    assert f'<script src="{BASE}/embed.js"></script>' in html
    assert (
        'workspaceId: "ws_123"' in html
        and 'environment: "sandbox"' in html
        and f'externalXref: "{EXAMPLE_XREF}"' in html
    )
    for line in (
        'scopes: ["crm_contact_read"]',
        'integrations: ["hubspot", "sandbox"]',
        'lang: "fr"',
        'theme: "dark"',
        'accent: "ff5500"',
    ):
        assert line in html
    assert "Latchkey.open(" in html and "mode:" not in html  # popup is the default


def test_inline_and_redirect_snippets_use_mount_and_the_redirect_urls() -> None:
    assert "Latchkey.mount(" in snippets_of("public-inline")["html"]
    assert 'categories: ["crm", "commerce"]' in snippets_of("public-inline")["html"]
    redirect = snippets_of("public-redirect")["html"]
    assert (
        'mode: "redirect"' in redirect
        and f'successUrl: "{ORIGIN}/ok"' in redirect
        and f'failureUrl: "{ORIGIN}/ko"' in redirect
    )


def test_without_public_mode_the_snippets_use_a_connect_session() -> None:
    snippets = snippets_of("session-popup")
    assert "sessionToken: sessionToken" in snippets["html"] and "workspaceId" not in snippets["html"]
    assert "sessionToken={sessionToken}" in snippets["react"]
    assert ':session-token="sessionToken"' in snippets["vue"]
    assert '[sessionToken]="sessionToken"' in snippets["angular"]
    assert "/api/v1/connect-sessions" in snippets["curl"] and "/api/v1/connect-sessions" in snippets["python"]
    match = re.search(r"-d '(.*)'", snippets["curl"], re.S)
    assert match is not None
    body = json.loads(match.group(1))
    assert body == {"external_xref": EXAMPLE_XREF, "origin": ORIGIN}
    assert "LATCHKEY_SECRET_KEY" in snippets["curl"] and "lk_sbx_" not in "".join(snippets.values())  # never a key


def test_redirect_sessions_carry_the_urls_and_no_origin() -> None:
    match = re.search(r"-d '(.*)'", snippets_of("session-redirect")["curl"], re.S)
    assert match is not None
    body = json.loads(match.group(1))
    assert body == {"external_xref": EXAMPLE_XREF, "success_url": f"{ORIGIN}/ok"}


def test_values_are_escaped_for_their_language() -> None:
    env = environment(True, workspace_id='ws_"</script><b>')
    code = {s.id: s.code for s in build_snippets(BASE, env, EmbedSettings(env.workspace_id, "sandbox"))}
    assert code["html"].count("</script>") == 2  # the embed.js tag's and the snippet's own: no early end
    assert 'workspaceId: "ws_\\"\\u003c/script\\u003e\\u003cb\\u003e"' in code["html"]
    assert 'workspaceId={"ws_\\"\\u003c/script\\u003e\\u003cb\\u003e"}' in code["react"]
    assert 'workspace-id="ws_&quot;&lt;/script>&lt;b>"' in code["vue"]
    assert 'workspaceId="ws_&quot;&lt;/script>&lt;b>"' in code["angular"]


# -- valid JavaScript, compiled frameworks, working API calls ------------------------------------


def _inline_scripts(html: str) -> list[str]:
    return re.findall(r"<script>(.*?)</script>", html, re.S)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_every_script_tag_snippet_is_valid_javascript(tmp_path: Path) -> None:
    sources = {f"{v}-{n}": code for v in VARIANTS for n, code in enumerate(_inline_scripts(snippets_of(v)["html"]))}
    assert len(sources) == len(VARIANTS)
    check = (
        "const vm = require('vm'); const s = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "for (const [k, v] of Object.entries(s)) { try { new vm.Script(v, {filename: k}); } catch (e) { console.log(k + ': ' + e); process.exitCode = 1; } }"
    )
    result = subprocess.run(
        ["node", "-e", check], check=False, input=json.dumps(sources), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def snippet_dir() -> Iterator[Path]:
    if not (BIN / "tsc").exists() or not (BIN / "ngc").exists():
        if os.environ.get("CI"):
            pytest.fail("the widget's node_modules are missing: cd widget && npm ci")
        pytest.skip("the widget's node_modules are not installed (cd widget && npm ci)")
    # Inside widget/, so that @latchkey/*, react, vue and @angular/* resolve from its node_modules.
    directory = WIDGET / f".snippet-check-{secrets.token_hex(4)}"
    directory.mkdir()
    (directory / "tsconfig.json").write_text(
        json.dumps(
            {
                "extends": "../tsconfig.base.json",
                "compilerOptions": {
                    "target": "ES2022",
                    "lib": ["ES2022", "DOM"],
                    "jsx": "react-jsx",
                    "experimentalDecorators": True,
                    "useDefineForClassFields": False,
                    "noUnusedLocals": False,
                },
                "angularCompilerOptions": {
                    "strictTemplates": True,
                    "strictInjectionParameters": True,
                    "strictInputAccessModifiers": True,
                },
                "include": ["*.ts", "*.tsx"],
            }
        )
    )
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


VUE_COMPILE = """
const fs = require("fs");
const { parse, compileScript } = require("vue/compiler-sfc");
for (const file of process.argv.slice(1)) {
  const { descriptor, errors } = parse(fs.readFileSync(file, "utf8"), { filename: file });
  if (errors.length) { console.log(file + ": " + errors.map(String).join("; ")); process.exitCode = 1; continue; }
  try { fs.writeFileSync(file + ".ts", compileScript(descriptor, { id: file, inlineTemplate: true, isProd: true }).content); }
  catch (e) { console.log(file + ": " + e); process.exitCode = 1; }
}
"""


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=False, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_react_vue_and_angular_snippets_compile_against_the_widget_packages(snippet_dir: Path) -> None:
    for variant in VARIANTS:
        snippets = snippets_of(variant)
        stem = variant.replace("-", "_")
        (snippet_dir / f"{stem}.tsx").write_text(snippets["react"])
        (snippet_dir / f"{stem}.vue").write_text(snippets["vue"])
        (snippet_dir / f"{stem}.component.ts").write_text(snippets["angular"])
    vue = _run(["node", "-e", VUE_COMPILE, *sorted(p.name for p in snippet_dir.glob("*.vue"))], snippet_dir)
    assert vue.returncode == 0, vue.stdout + vue.stderr
    assert len(list(snippet_dir.glob("*.vue.ts"))) == len(VARIANTS)
    # React (.tsx) and the compiled Vue components, against @latchkey/react's and @latchkey/vue's types.
    tsc = _run([str(BIN / "tsc"), "-p", "tsconfig.json"], snippet_dir)
    assert tsc.returncode == 0, tsc.stdout + tsc.stderr
    # Angular with strict template checks: inputs, outputs and their types.
    (snippet_dir / "tsconfig.ng.json").write_text(
        json.dumps({"extends": "./tsconfig.json", "compilerOptions": {"noEmit": True}, "include": ["*.component.ts"]})
    )
    ngc = _run([str(BIN / "ngc"), "-p", "tsconfig.ng.json"], snippet_dir)
    assert ngc.returncode == 0, ngc.stdout + ngc.stderr


def test_the_type_checks_catch_a_wrong_option(snippet_dir: Path) -> None:
    """The compile test can fail: a theme the packages do not know is an error in each framework."""
    snippets = snippets_of("public-popup")
    (snippet_dir / "bad.tsx").write_text(snippets["react"].replace('theme="dark"', 'theme="purple"'))
    (snippet_dir / "bad.component.ts").write_text(snippets["angular"].replace('theme="dark"', 'theme="purple"'))
    tsc = _run([str(BIN / "tsc"), "-p", "tsconfig.json"], snippet_dir)
    assert tsc.returncode != 0 and "purple" in tsc.stdout
    (snippet_dir / "tsconfig.ng.json").write_text(
        json.dumps({"extends": "./tsconfig.json", "compilerOptions": {"noEmit": True}, "include": ["*.component.ts"]})
    )
    ngc = _run([str(BIN / "ngc"), "-p", "tsconfig.ng.json"], snippet_dir)
    assert ngc.returncode != 0 and "purple" in ngc.stdout + ngc.stderr


async def _seed(url: str) -> CreatedWorkspace:
    from server.db import workspaces as workspace_store
    from server.db.database import close_database, open_database
    from server.db.migrations import migrate

    db = open_database(url)
    await db.connect()
    try:
        await migrate(db)
        return await workspace_store.create_workspace(
            db, "Snippets", allowed_origins=[ORIGIN], allowed_redirect_urls=[f"{ORIGIN}/"]
        )
    finally:
        await close_database(db)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveServer, CreatedWorkspace]]:
    server = LiveServer(lambda base: make_settings(tmp_path, base_url=base, background_tasks=False))
    created = _in_own_thread(_seed(server.settings.database_url))
    server.start()
    yield server, created
    server.stop()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("variant", ["session-popup", "session-inline", "session-redirect"])
def test_the_api_call_snippets_mint_a_session_that_opens_the_picker(
    live: tuple[LiveServer, CreatedWorkspace], variant: str
) -> None:
    server, created = live
    _, options = VARIANTS[variant]
    env = Environment(
        workspace_id=created.id,
        workspace_name="Snippets",
        name="production",
        api_key_prefix=created.api_keys["production"][:12],
        allowed_origins=(ORIGIN,),
        allowed_redirect_urls=(f"{ORIGIN}/",),
        public_mode=False,
    )
    snippets = {
        s.id: s.code for s in build_snippets(server.url, env, EmbedSettings(created.id, "production", **options))
    }
    environ = {**os.environ, "LATCHKEY_SECRET_KEY": created.api_keys["production"]}

    curl = subprocess.run(
        ["bash", "-c", snippets["curl"]], check=False, env=environ, capture_output=True, text=True, timeout=30
    )
    assert curl.returncode == 0, curl.stderr
    token_from_curl = json.loads(curl.stdout)["data"]["token"]

    python = subprocess.run(
        [sys.executable, "-c", snippets["python"] + "\nprint(session_token)"],
        check=False,
        env=environ,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert python.returncode == 0, python.stderr
    token_from_python = python.stdout.strip()

    mode = options["mode"]
    for token in (token_from_curl, token_from_python):
        query = {"session": token, "mode": mode}
        if mode != "redirect":
            query["origin"] = ORIGIN
        picker = httpx.get(f"{server.url}/picker?{urlencode(query)}", timeout=10)
        assert picker.status_code == 200, picker.text
        assert 'id="lk-picker"' in picker.text and f'data-external-xref="{EXAMPLE_XREF}"' in picker.text
