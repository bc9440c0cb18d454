"""A TypeScript client generated from the OpenAPI document type-checks against every operation.

openapi-typescript (widget/package.json's devDependencies) turns the served document into a `paths`
type; the TypeScript written here calls each operation through it, with the document's own
examples as the path parameters, the request body and the expected answer, and tsc --noEmit must
accept it. The calls are generated from the operation list, so a new operation is covered at once;
the @ts-expect-error lines prove the types are strict enough to catch a missing parameter.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_openapi_contract import operations, parameters

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

BIN = Path(__file__).resolve().parents[2] / "widget" / "node_modules" / ".bin"

HELPER = """\
import type { paths } from "./api";

type HttpMethod = "get" | "put" | "post" | "delete" | "patch";
type Item<P extends keyof paths> = paths[P];
type Defined<I, M extends HttpMethod> = M extends keyof I ? NonNullable<I[M]> : never;
/** The methods a path really has (openapi-typescript writes the others as `?: never`). */
export type MethodOf<P extends keyof paths> = {
  [M in HttpMethod]: [Defined<Item<P>, M>] extends [never] ? never : M;
}[HttpMethod];
export type Operation<P extends keyof paths, M extends MethodOf<P>> = Defined<Item<P>, M>;
type Content<R> = R extends { content: infer C } ? C[keyof C] : never;
type Body<O> = O extends { requestBody: infer R }
  ? { body: Content<R> }
  : O extends { requestBody?: infer R }
    ? [NonNullable<R>] extends [never]
      ? {}
      : { body?: Content<NonNullable<R>> }
    : {};
export type Args<O> = { params: O extends { parameters: infer X } ? X : never } & Body<O>;
export type Success<O> = O extends { responses: infer R }
  ? { [S in keyof R]: `${S & number}` extends `2${string}` ? Content<R[S]> : never }[keyof R]
  : never;

export async function call<P extends keyof paths, M extends MethodOf<P>>(
  path: P,
  method: M,
  args: Args<Operation<P, M>>,
): Promise<Success<Operation<P, M>>> {
  const given = args as { params: { path?: Record<string, string> }; body?: unknown };
  let url: string = path;
  for (const [name, value] of Object.entries(given.params.path ?? {})) {
    url = url.replace(`{${name}}`, encodeURIComponent(value));
  }
  const answer = await fetch(url, {
    method: method.toUpperCase(),
    headers: { "content-type": "application/json" },
    body: given.body === undefined ? undefined : JSON.stringify(given.body),
  });
  return (await answer.json()) as Success<Operation<P, M>>;
}
"""

NEGATIVE = """
export async function wrongCalls(): Promise<void> {
  // @ts-expect-error the path parameter id is required
  await call("/api/v1/connections/{id}", "get", { params: {} });
  // @ts-expect-error external_xref is a required field of the body
  await call("/api/v1/connect-sessions", "post", { params: {}, body: { integrations: ["sandbox"] } });
  // @ts-expect-error a connection has no PUT
  await call("/api/v1/connections/{id}", "put", { params: { path: { id: "conn_1" } } });
}
"""


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def client_source(spec: dict[str, Any]) -> str:
    """One typed call per operation, and its example answer assigned to the operation's success type."""
    lines = [HELPER, "export async function everyCall(): Promise<void> {"]
    for path, method, operation in operations(spec):
        name = operation["operationId"]
        op_type = f"Operation<{_literal(path)}, {_literal(method)}>"
        path_params = {p["name"]: p["example"] for p in parameters(spec, path, operation) if p["in"] == "path"}
        args = [f"params: {{ path: {_literal(path_params)} }}" if path_params else "params: {}"]
        for media in operation.get("requestBody", {}).get("content", {}).values():
            args.append(f"body: {_literal(media['example'])}")
        lines.append(f"  const {name}: Success<{op_type}> = await call({_literal(path)}, {_literal(method)}, {{ ")
        lines[-1] += ", ".join(args) + " });"
        lines.append(f"  void {name};")
        for status, response in operation["responses"].items():
            for media in response.get("content", {}).values() if status.startswith("2") else ():
                lines.append(f"  const {name}{status}: Success<{op_type}> = {_literal(media['example'])};")
                lines.append(f"  void {name}{status};")
    lines.append("}")
    return "\n".join(lines) + NEGATIVE


def type_check(spec: dict[str, Any], directory: Path) -> subprocess.CompletedProcess[str]:
    """Generate api.d.ts from the document with openapi-typescript, then tsc --noEmit the calls."""
    for tool in ("openapi-typescript", "tsc"):
        if not (BIN / tool).exists():
            pytest.fail(f"{BIN / tool} is missing: cd widget && npm ci (make test does)")
    (directory / "openapi.json").write_text(json.dumps(spec))
    generate = subprocess.run(
        [str(BIN / "openapi-typescript"), "openapi.json", "-o", "api.d.ts"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert generate.returncode == 0, generate.stdout + generate.stderr
    (directory / "client.ts").write_text(client_source(spec))
    options: dict[str, Any] = {"target": "ES2022", "lib": ["ES2022", "DOM"], "module": "ESNext"}
    options |= {"moduleResolution": "Bundler", "strict": True, "noEmit": True, "types": [], "skipLibCheck": False}
    (directory / "tsconfig.json").write_text(json.dumps({"compilerOptions": options, "files": ["client.ts"]}))
    return subprocess.run(
        [str(BIN / "tsc"), "-p", "tsconfig.json"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def test_a_generated_typescript_client_type_checks_a_call_to_every_operation(
    spec: dict[str, Any], tmp_path: Path
) -> None:
    result = type_check(spec, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    source = (tmp_path / "client.ts").read_text()
    for _, _, operation in operations(spec):
        assert f"const {operation['operationId']}: Success<" in source


async def test_the_type_check_fails_on_an_example_that_breaks_the_generated_types(
    spec: dict[str, Any], tmp_path: Path
) -> None:
    """The check above can fail: a connection example with a status the Connection type does not allow."""
    answer = spec["paths"]["/api/v1/connections/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
    answer["example"] = {"data": {**answer["example"]["data"], "status": "asleep"}}
    result = type_check(spec, tmp_path)
    assert result.returncode != 0 and '"asleep"' in result.stdout, result.stdout + result.stderr
