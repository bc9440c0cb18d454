"""Copy-paste snippets built from an environment's embed settings: a script tag, React, Vue,
Angular, and the connect-session API call (curl and Python).

Framework-free, so tests can render a snippet and run or compile it. Every value that comes from
the settings is a JSON string literal, so it is valid and safe JavaScript / TypeScript / Python.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from server.db.embed_settings import EmbedSettings
from server.db.workspaces import Environment

EXAMPLE_XREF = "user-123"
EXAMPLE_ORIGIN = "https://app.example.com"
SESSION_ENDPOINT = "/latchkey/connect-session"


@dataclass(frozen=True)
class Snippet:
    id: str
    label: str
    language: str  # for the code block's class and the test that runs it
    filename: str
    code: str
    note: str = ""


def _js(value: Any) -> str:
    """A JavaScript literal that is also safe inside an HTML <script> element."""
    text = json.dumps(value, ensure_ascii=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


_PLAIN = re.compile(r"^[A-Za-z0-9 _:/.?=%#+@,-]*$")


def _attr(value: str) -> str:
    """A value inside a double-quoted HTML / template attribute."""
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


@dataclass(frozen=True)
class SnippetInputs:
    base_url: str
    env: Environment
    settings: EmbedSettings

    @property
    def public(self) -> bool:
        return self.env.public_mode

    @property
    def origin(self) -> str:
        return self.env.allowed_origins[0] if self.env.allowed_origins else EXAMPLE_ORIGIN

    def display(self) -> list[tuple[str, Any]]:
        """Widget options besides who and where: in the order the docs list them, defaults left out."""
        s = self.settings
        items: list[tuple[str, Any]] = []
        if s.scopes:
            items.append(("scopes", list(s.scopes)))
        if s.integrations:
            items.append(("integrations", list(s.integrations)))
        if s.categories:
            items.append(("categories", list(s.categories)))
        if s.mode == "redirect":
            items.append(("mode", "redirect"))
            if s.success_url:
                items.append(("successUrl", s.success_url))
            if s.failure_url:
                items.append(("failureUrl", s.failure_url))
        if s.lang != "en":
            items.append(("lang", s.lang))
        if s.theme != "auto":
            items.append(("theme", s.theme))
        if s.accent:
            items.append(("accent", s.accent))
        return items

    def who(self) -> list[tuple[str, Any]]:
        if self.public:
            return [("workspaceId", self.env.workspace_id), ("environment", self.env.name)]
        return []


def _object_lines(items: list[tuple[str, str]], indent: str, *, trailing_comma: bool = False) -> str:
    """`key: value` lines; a value may end with `  // comment`, which goes after the comma."""
    lines = []
    for n, (key, value) in enumerate(items):
        code, _, comment = value.partition("  // ")
        comma = "," if trailing_comma or n < len(items) - 1 else ""
        lines.append(f"{indent}{key}: {code}{comma}" + (f" // {comment}" if comment else ""))
    return "\n".join(lines)


def vanilla(inputs: SnippetInputs) -> Snippet:
    s = inputs.settings
    options: list[tuple[str, str]] = [(k, _js(v)) for k, v in inputs.who()]
    if inputs.public:
        options.append(("externalXref", _js(EXAMPLE_XREF) + "  // your app's ID for the signed-in user"))
    else:
        options.append(("sessionToken", "sessionToken"))
    options += [(k, _js(v)) for k, v in inputs.display()]
    script = f'<script src="{_attr(inputs.base_url)}/embed.js"></script>\n'
    on_success = (
        "  // Store connection.connectionId with your user; your backend reads the connection with your secret key.\n"
        '  console.log("Connected", connection.integration, connection.connectionId);\n'
    )
    on_error = '  if (error.code !== "closed") console.error("Latchkey:", error.code, error.message);\n'
    fetch_token = (
        f'  // Your backend mints a connect session for the signed-in user (see "API call") and returns its token.\n'
        f'  fetch({_js(SESSION_ENDPOINT)}, {{ method: "POST", credentials: "same-origin" }})\n'
        "    .then(function (response) { return response.json(); })\n"
    )
    if s.mode == "inline":
        body = _object_lines(options, "    ", trailing_comma=True)
        mount = (
            '  Latchkey.mount(document.getElementById("latchkey-picker"), {\n'
            f"{body}\n"
            "    onSuccess: function (connection) {\n" + _indent(on_success, "    ") + "    },\n"
            "    onError: function (error) {\n" + _indent(on_error, "    ") + "    }\n"
            "  });\n"
        )
        if inputs.public:
            js = mount
        else:
            js = (
                fetch_token
                + "    .then(function (body) {\n      var sessionToken = body.token;\n"
                + _indent(mount, "    ")
                + "    });\n"
            )
        code = script + '<div id="latchkey-picker"></div>\n<script>\n' + js + "</script>\n"
        return Snippet(
            "html", "HTML", "html", "index.html", code, "The picker appears inline, in an iframe inside the div."
        )
    body = _object_lines(options, "      ")
    if s.mode == "redirect":
        call = "    Latchkey.open({\n" + body + "\n    });\n"
        note = "The picker opens in this window; the flow ends on your success or failure URL."
    else:
        call = (
            "    Latchkey.open({\n"
            + body
            + "\n    }).then(function (connection) {\n"
            + _indent(on_success, "    ")
            + "    }, function (error) {\n"
            + _indent(on_error, "    ")
            + "    });\n"
        )
        note = "Latchkey.open() must run in the click handler itself, before any await: browsers only allow popups from a click."
    button = '<button type="button" id="latchkey-connect"{disabled}>Connect an app</button>\n'
    listener = '  button.addEventListener("click", function () {\n' + call + "  });\n"
    if inputs.public:
        js = '  var button = document.getElementById("latchkey-connect");\n' + listener
        code = script + button.format(disabled="") + "<script>\n" + js + "</script>\n"
    else:
        js = (
            '  var button = document.getElementById("latchkey-connect");\n'
            "  var sessionToken = null;\n"
            + fetch_token
            + "    .then(function (body) { sessionToken = body.token; button.disabled = false; });\n"
            + listener
        )
        code = script + button.format(disabled=" disabled") + "<script>\n" + js + "</script>\n"
    return Snippet("html", "HTML", "html", "index.html", code, note)


def _indent(text: str, prefix: str) -> str:
    return "".join(prefix + line if line.strip() else line for line in text.splitlines(keepends=True))


def _component_props(inputs: SnippetInputs, *, style: str) -> list[str]:
    """Props for React (`jsx`), Vue (`vue`) or Angular (`angular`) templates."""

    def prop(name: str, value: Any, *, expression: str | None = None) -> str:
        if style == "vue":
            kebab = "".join("-" + c.lower() if c.isupper() else c for c in name)
            if isinstance(value, str) and expression is None:
                return f'{kebab}="{_attr(value)}"'
            return f':{kebab}="{_attr(expression or _js(value).replace(chr(34), chr(39)))}"'
        if style == "angular":
            if isinstance(value, str) and expression is None:
                return f'{name}="{_attr(value)}"'
            return f'[{name}]="{_attr(expression or _js(value).replace(chr(34), chr(39)))}"'
        if isinstance(value, str) and expression is None and _PLAIN.match(value):
            return f'{name}="{value}"'
        return f"{name}={{{expression or _js(value)}}}"

    props = [prop("baseUrl", inputs.base_url)]
    props += [prop(k, v) for k, v in inputs.who()]
    if inputs.public:
        expression = {"jsx": "userId", "vue": "userId", "angular": "userId"}[style]
        props.append(prop("externalXref", "", expression=expression))
    else:
        props.append(prop("sessionToken", "", expression="sessionToken"))
    mode = inputs.settings.mode
    for key, value in inputs.display():
        props.append(prop(key, value))
    if mode == "inline":
        props.append(prop("mode", "inline"))
    return props


def react(inputs: SnippetInputs) -> Snippet:
    inline = inputs.settings.mode == "inline"
    component = "LatchkeyConnect" if inline else "LatchkeyButton"
    arg = "userId" if inputs.public else "sessionToken"
    props = _component_props(inputs, style="jsx")
    if inputs.settings.mode != "redirect":
        props.append(
            "onSuccess={(connection) => {\n"
            "  // Store connection.connectionId with your user.\n"
            '  console.log("Connected", connection.integration, connection.connectionId);\n'
            "}}"
        )
    rendered = "\n".join(_indent(p, "      ") for p in props)
    close = "    />\n" if inline else "    >\n      Connect an app\n    </LatchkeyButton>\n"
    code = (
        f'import {{ {component} }} from "@latchkey/react";\n\n'
        + (
            '// `sessionToken`: minted by your backend for the signed-in user (see "API call").\n'
            if not inputs.public
            else ""
        )
        + f"export function ConnectIntegration({{ {arg} }}: {{ {arg}: string }}) {{\n"
        f"  return (\n    <{component}\n{rendered}\n" + close + "  );\n}\n"
    )
    return Snippet("react", "React", "tsx", "ConnectIntegration.tsx", code, "npm install @latchkey/react")


def vue(inputs: SnippetInputs) -> Snippet:
    arg = "userId" if inputs.public else "sessionToken"
    props = _component_props(inputs, style="vue")
    events = ""
    if inputs.settings.mode != "redirect":
        events = '\n    @success="onSuccess"'
    inline = inputs.settings.mode == "inline"
    attrs = "\n".join("    " + p for p in props)
    script = (
        '<script setup lang="ts">\n'
        'import { LatchkeyConnect, type Connection } from "@latchkey/vue";\n\n'
        + (
            '// `sessionToken`: minted by your backend for the signed-in user (see "API call").\n'
            if not inputs.public
            else ""
        )
        + f"defineProps<{{ {arg}: string }}>();\n"
    )
    if inputs.settings.mode != "redirect":
        script += (
            "\nfunction onSuccess(connection: Connection) {\n"
            "  // Store connection.connectionId with your user.\n"
            '  console.log("Connected", connection.integration, connection.connectionId);\n'
            "}\n"
        )
    else:
        script = script.replace(", type Connection", "")
    script += "</script>\n\n"
    body = (
        "  <LatchkeyConnect\n" + attrs + events + ("\n  />\n" if inline else "\n  >Connect an app</LatchkeyConnect>\n")
    )
    code = script + "<template>\n" + body + "</template>\n"
    return Snippet("vue", "Vue", "vue", "ConnectIntegration.vue", code, "npm install @latchkey/vue")


def angular(inputs: SnippetInputs) -> Snippet:
    arg = "userId" if inputs.public else "sessionToken"
    props = _component_props(inputs, style="angular")
    if inputs.settings.mode != "redirect":
        props.append('(success)="onSuccess($event)"')
    inline = inputs.settings.mode == "inline"
    attrs = "\n".join("      " + p for p in props)
    tag = (
        "    <latchkey-connect\n"
        + attrs
        + ("\n    ></latchkey-connect>\n" if inline else "\n    >Connect an app</latchkey-connect>\n")
    )
    imports = 'import { Component, Input } from "@angular/core";\n'
    imports += (
        "import { LatchkeyConnectComponent"
        + (", type Connection" if inputs.settings.mode != "redirect" else "")
        + ' } from "@latchkey/angular";\n\n'
    )
    handler = ""
    if inputs.settings.mode != "redirect":
        handler = (
            "\n  onSuccess(connection: Connection): void {\n"
            "    // Store connection.connectionId with your user.\n"
            '    console.log("Connected", connection.integration, connection.connectionId);\n'
            "  }\n"
        )
    code = (
        imports + '@Component({\n  selector: "app-connect-integration",\n  standalone: true,\n'
        "  imports: [LatchkeyConnectComponent],\n  template: `\n" + tag + "  `,\n})\n"
        "export class ConnectIntegrationComponent {\n"
        + ('  // Minted by your backend for the signed-in user (see "API call").\n' if not inputs.public else "")
        + f"  @Input({{ required: true }}) {arg}!: string;\n"
        + handler
        + "}\n"
    )
    return Snippet(
        "angular", "Angular", "ts", "connect-integration.component.ts", code, "npm install @latchkey/angular"
    )


def session_body(inputs: SnippetInputs) -> dict[str, Any]:
    s = inputs.settings
    body: dict[str, Any] = {"external_xref": EXAMPLE_XREF}
    if s.scopes:
        body["scopes"] = list(s.scopes)
    if s.integrations:
        body["integrations"] = list(s.integrations)
    if s.categories:
        body["categories"] = list(s.categories)
    if s.success_url:
        body["success_url"] = s.success_url
    if s.failure_url:
        body["failure_url"] = s.failure_url
    if s.mode != "redirect":
        body["origin"] = inputs.origin
    return body


def _body_lines(body: dict[str, Any], indent: str, close: str) -> str:
    """A JSON object one key a line, each value compact (strings and lists of strings: valid Python too)."""
    lines = [f"{indent}{json.dumps(k)}: {json.dumps(v)}" for k, v in body.items()]
    return "{\n" + ",\n".join(lines) + "\n" + close + "}"


def curl(inputs: SnippetInputs) -> Snippet:
    payload = _body_lines(session_body(inputs), "    ", "  ").replace("'", "'\\''")
    code = (
        f"curl -X POST {inputs.base_url}/api/v1/connect-sessions \\\n"
        '  -H "Authorization: Bearer $LATCHKEY_SECRET_KEY" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d '{payload}'\n"
    )
    return Snippet(
        "curl",
        "curl",
        "sh",
        "connect-session.sh",
        code,
        "The answer's data.token is the widget's sessionToken; it expires in 30 minutes.",
    )


def python(inputs: SnippetInputs) -> Snippet:
    payload = _body_lines(session_body(inputs), "        ", "    ")
    code = (
        "import os\n\nimport httpx\n\n"
        "response = httpx.post(\n"
        f"    {_js(inputs.base_url + '/api/v1/connect-sessions')},\n"
        '    headers={"Authorization": f"Bearer {os.environ[\'LATCHKEY_SECRET_KEY\']}"},\n'
        f"    json={payload},\n"
        "    timeout=10,\n"
        ")\n"
        "response.raise_for_status()\n"
        'session_token = response.json()["data"]["token"]  # hand it to the widget as sessionToken\n'
    )
    return Snippet(
        "python",
        "Python",
        "python",
        "connect_session.py",
        code,
        "Run it on your backend: the secret key never goes to the browser.",
    )


def build_snippets(base_url: str, env: Environment, settings: EmbedSettings) -> list[Snippet]:
    inputs = SnippetInputs(base_url=base_url, env=env, settings=settings)
    return [vanilla(inputs), react(inputs), vue(inputs), angular(inputs), curl(inputs), python(inputs)]
