"""Loads and validates the catalog: built-in files plus a workspace's own folder.

A bad file stops the service with a message naming the file, the field and why.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import jsonschema
import yaml

from server.catalog.kinds import ApiAuthStyleName
from server.catalog.models import (
    DEFAULT_COLOR,
    ApiSpec,
    ClientCredentialsSpec,
    FormField,
    Integration,
    MetadataRequest,
    OAuth1Spec,
    OAuth2Spec,
    TokenResponseSpec,
    Variable,
    VerifyRequest,
)
from server.catalog.scopes import UNIFIED_SCOPES
from server.errors import ConfigurationError

BUILTIN_DIR = Path(__file__).parent / "integrations"
LOGO_DIR = Path(__file__).parent / "logos"
LOGO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.svg")
SCHEMA_PATH = Path(__file__).parent / "schema.json"
_ORIGIN_OR_HOST = re.compile(r"https://[A-Za-z0-9.-]+|[A-Za-z0-9.-]+|http://(127\.0\.0\.1|localhost)(:[0-9]+)?")
_URL_FIELDS = ("authorize_url", "token_url", "revocation_url", "request_token_url", "access_token_url")


@dataclass(frozen=True)
class Catalog:
    integrations: dict[str, Integration]

    def get(self, slug: str) -> Integration | None:
        return self.integrations.get(slug)

    def __iter__(self) -> Iterator[Integration]:
        return iter(sorted(self.integrations.values(), key=lambda i: i.name.lower()))

    def __len__(self) -> int:
        return len(self.integrations)

    def offered(self, slug: str | None, environment: str) -> Integration | None:
        """The integration, if this environment offers it at all (sandbox-only ones: the sandbox)."""
        integration = self.integrations.get(slug or "")
        if integration is None or (integration.sandbox_only and environment != "sandbox"):
            return None
        return integration

    def offered_in(self, environment: str) -> list[Integration]:
        """Every integration this environment offers, by name."""
        return [i for i in self if self.offered(i.slug, environment)]

    @staticmethod
    def unavailable_reason(
        integration: Integration, *, enabled_scopes: tuple[str, ...] | None, requested: tuple[str, ...]
    ) -> str | None:
        """Why a flow asking for `requested` cannot use this integration, or None when it can.

        `enabled_scopes` are the activation's (empty: every scope the integration has); None: not
        activated in this environment.
        """
        missing = [s for s in requested if s not in integration.scopes]
        if missing:
            return f"cannot grant {', '.join(missing)}"
        if enabled_scopes is None:
            return "not activated"
        not_enabled = [s for s in requested if enabled_scopes and s not in enabled_scopes]
        if not_enabled:
            return f"{', '.join(not_enabled)} not enabled by the activation"
        return None


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot be parsed: {exc}") from exc


def _best_error(errors: list[jsonschema.ValidationError]) -> jsonschema.ValidationError:
    # The stub leaves best_match unannotated; it returns None only for an empty list.
    best: jsonschema.ValidationError = jsonschema.exceptions.best_match(errors)
    return best


def _field_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _placeholders(url: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(url) if name]


def _semantic_checks(path: Path, data: dict[str, Any]) -> None:
    def fail(field: str, why: str) -> NoReturn:
        raise ConfigurationError(f"{path}: {field}: {why}")

    if data["slug"] != path.stem:
        fail("slug", f"must match the file name ({path.stem!r})")
    for scope in data.get("scopes", {}):
        if scope not in UNIFIED_SCOPES:
            fail(f"scopes.{scope}", "is not a unified scope (see server/catalog/scopes.py)")
    auth = data["auth"]
    variables = {v["name"]: v for v in auth.get("variables", [])}
    for name, var in variables.items():
        try:
            re.compile(var["pattern"])
        except re.error as exc:
            fail(f"auth.variables.{name}.pattern", f"is not a valid regular expression: {exc}")
        if var.get("source") == "callback" and not var.get("callback_param"):
            fail(f"auth.variables.{name}", "a callback variable needs callback_param")
        if var.get("source", "user") == "user" and not (var.get("example") or var.get("default")):
            fail(f"auth.variables.{name}", "needs an example (or a default): the form shows it as the expected format")
    for form_field in auth.get("fields", []):
        if form_field.get("pattern") and not form_field.get("placeholder"):
            fail(f"auth.fields.{form_field['name']}", "has a pattern, so it needs a placeholder: the expected format")
    for field_name in _URL_FIELDS:
        url = auth.get(field_name)
        if not url:
            continue
        for name in _placeholders(url):
            if name not in variables:
                fail(f"auth.{field_name}", f"uses {{{name}}} which auth.variables does not declare")
            var = variables[name]
            if var.get("source") == "callback" and not var.get("allowed"):
                fail(f"auth.variables.{name}", f"is used in auth.{field_name}, so it needs an allowed list")
        if url.startswith("{"):
            lead = _placeholders(url)[0] if _placeholders(url) else ""
            allowed = variables.get(lead, {}).get("allowed", [])
            if not allowed or not all(_ORIGIN_OR_HOST.fullmatch(a) for a in allowed):
                fail(
                    f"auth.{field_name}",
                    "may start with a variable only when its allowed values are hosts or https origins",
                )
    for index, request in enumerate(auth.get("metadata_requests", [])):
        if set(_placeholders(request["url"])) - set(variables):
            fail(f"auth.metadata_requests.{index}.url", "uses an undeclared variable")
    for f in auth.get("fields", []):
        if f.get("pattern"):
            try:
                re.compile(f["pattern"])
            except re.error as exc:
                fail(f"auth.fields.{f['name']}.pattern", f"is not a valid regular expression: {exc}")
    if data.get("api"):
        _check_api(data["api"], auth, fail)
    logo = data.get("logo")
    if logo and not logo.startswith("https://") and find_logo(logo, path) is None:
        # The schema already refuses a folder or an absolute path; this also refuses a link out.
        fail("logo", f"file {logo!r} not found in {LOGO_DIR} or beside the catalog file")


_DEFAULT_API_AUTH: dict[str, ApiAuthStyleName] = {
    "oauth2": "bearer",
    "oauth2_client_credentials": "bearer",
    "oauth1": "oauth1",
    "basic": "basic",
}


def api_names(auth: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(what a connection's metadata may hold, what its credentials hold) for an `auth` block: the
    names an `api` template may use."""
    metadata = {v["name"] for v in auth.get("variables", [])}
    metadata |= set(auth.get("token_response", {}).get("extra", {}))
    for request in auth.get("metadata_requests", []):
        metadata |= set(request["extract"])
    fields = auth.get("fields", [])
    metadata |= {f["name"] for f in fields if not f.get("secret")}
    credentials = {f["name"] for f in fields}
    if auth["kind"] in ("oauth2", "oauth2_client_credentials"):
        credentials.add("access_token")
    return metadata, credentials


def _check_api(api: Mapping[str, Any], auth: Mapping[str, Any], fail: Callable[[str, str], NoReturn]) -> None:
    metadata, credentials = api_names(auth)
    style = api.get("auth") or _DEFAULT_API_AUTH.get(auth["kind"])
    if style is None:
        fail("api.auth", f"must be given for a {auth['kind']} integration")
    if (style == "oauth1") != (auth["kind"] == "oauth1"):
        fail("api.auth", "oauth1 signatures go with, and only with, an oauth1 integration")
    base = api["base_url"]
    if "?" in base or "#" in base or base.endswith("/"):
        fail("api.base_url", "takes no query, no fragment and no trailing slash")
    for name in _placeholders(base):
        if name not in metadata:
            fail("api.base_url", f"uses {{{name}}}, which no variable, token-response extra or metadata lookup gives")
    if base.startswith("{") and not api.get("hosts"):
        fail("api.hosts", "must list the allowed hosts when base_url starts with a variable")
    templates = {"token": api.get("token"), "value": api.get("value")}
    templates |= {"username": api.get("username"), "password": api.get("password")}
    templates |= {f"headers.{k}": v for k, v in api.get("headers", {}).items()}
    for where, template in templates.items():
        for name in _placeholders(template or ""):
            if name not in metadata | credentials:
                fail(f"api.{where}", f"uses {{{name}}}, which the connection's credentials and metadata do not hold")


def find_logo(logo: str, source: Path | None) -> Path | None:
    """The logo file of an entry: a bare .svg name, in the logos folder or beside the entry's file.

    Nothing else is ever served as a logo: not `../var/secret_key`, an absolute path, or a
    symbolic link that leads out of those two folders.
    """
    if not LOGO_NAME.fullmatch(logo):
        return None
    folders: list[Path] = [LOGO_DIR, source.parent] if source else [LOGO_DIR]
    for folder in folders:
        candidate = folder / logo
        if candidate.is_file() and candidate.resolve().parent == folder.resolve():
            return candidate
    return None


def _variables(raw: Iterable[Mapping[str, Any]]) -> tuple[Variable, ...]:
    return tuple(
        Variable(
            name=v["name"],
            label=v["label"],
            pattern=v["pattern"],
            help=v.get("help", ""),
            default=v.get("default"),
            example=v.get("example"),
            source=v.get("source", "user"),
            callback_param=v.get("callback_param"),
            allowed=tuple(v.get("allowed", ())),
        )
        for v in raw
    )


def _build(path: Path, data: dict[str, Any], custom: bool) -> Integration:
    auth = data["auth"]
    kind = auth["kind"]
    oauth2 = None
    if kind == "oauth2":
        tr = auth.get("token_response", {})
        oauth2 = OAuth2Spec(
            authorize_url=auth["authorize_url"],
            token_url=auth["token_url"],
            issuer=auth.get("issuer"),
            revocation_url=auth.get("revocation_url"),
            token_auth_method=auth.get("token_auth_method", "client_secret_post"),
            token_request_format=auth.get("token_request_format", "form"),
            token_accept=auth.get("token_accept", "application/json"),
            pkce=auth.get("pkce", False),
            scope_param=auth.get("scope_param", "scope"),
            scope_separator=auth.get("scope_separator", " "),
            default_scopes=tuple(auth.get("default_scopes", ())),
            authorize_params=dict(auth.get("authorize_params", {})),
            token_params=dict(auth.get("token_params", {})),
            refresh=auth.get("refresh", True),
            callback_method=auth.get("callback_method", "GET"),
            variables=_variables(auth.get("variables", [])),
            token_response=TokenResponseSpec(
                access_token=tr.get("access_token", "access_token"),
                refresh_token=tr.get("refresh_token", "refresh_token"),
                expires_in=tr.get("expires_in", "expires_in"),
                expires_at=tr.get("expires_at"),
                scope=tr.get("scope", "scope"),
                scope_separator=tr.get("scope_separator", " "),
                zero_expires_in_means_never=tr.get("zero_expires_in_means_never", False),
                error_flag=tr.get("error_flag"),
                extra=dict(tr.get("extra", {})),
                token_type=tr.get("token_type", "Bearer"),
                token_type_optional=tr.get("token_type_optional", False),
            ),
            metadata_requests=tuple(
                MetadataRequest(
                    url=m["url"],
                    extract=dict(m["extract"]),
                    method=m.get("method", "GET"),
                    headers=dict(m.get("headers", {})),
                    required=m.get("required", True),
                )
                for m in auth.get("metadata_requests", [])
            ),
        )
    oauth1 = None
    if kind == "oauth1":
        oauth1 = OAuth1Spec(
            request_token_url=auth["request_token_url"],
            authorize_url=auth["authorize_url"],
            access_token_url=auth["access_token_url"],
            authorize_params=dict(auth.get("authorize_params", {})),
            scope_param=auth.get("scope_param", "scope"),
            scope_separator=auth.get("scope_separator", ","),
        )
    client_credentials = None
    if kind == "oauth2_client_credentials":
        tr = auth.get("token_response", {})
        client_credentials = ClientCredentialsSpec(
            token_url=auth["token_url"],
            token_auth_method=auth.get("token_auth_method", "client_secret_basic"),
            scope_separator=auth.get("scope_separator", " "),
            token_params=dict(auth.get("token_params", {})),
            token_response=TokenResponseSpec(**tr),
        )
    verify = None
    if auth.get("verify"):
        v = auth["verify"]
        verify = VerifyRequest(
            url=v["url"],
            method=v.get("method", "GET"),
            headers=dict(v.get("headers", {})),
            ok_status=tuple(v.get("ok_status", [200])),
        )
    api = None
    if data.get("api"):
        a = data["api"]
        api = ApiSpec(
            base_url=a["base_url"],
            source=a["source"],
            auth=a.get("auth") or _DEFAULT_API_AUTH[kind],
            token=a.get("token", "{access_token}"),
            name=a.get("name"),
            value=a.get("value"),
            username=a.get("username", "{username}"),
            password=a.get("password", "{password}"),
            headers=dict(a.get("headers", {})),
            hosts=tuple(a.get("hosts", ())),
        )
    fields = tuple(
        FormField(
            name=f["name"],
            label=f["label"],
            secret=f.get("secret", False),
            optional=f.get("optional", False),
            pattern=f.get("pattern"),
            help=f.get("help", ""),
            placeholder=f.get("placeholder", ""),
            default=f.get("default"),
        )
        for f in auth.get("fields", [])
    )
    return Integration(
        slug=data["slug"],
        name=data["name"],
        kind=kind,
        categories=tuple(data["categories"]),
        docs=data["docs"],
        scopes={k: tuple(v) for k, v in data.get("scopes", {}).items()},
        description=data.get("description", ""),
        logo=data.get("logo"),
        logo_source=data.get("logo_source"),
        monogram=data.get("monogram"),
        color=data.get("color", DEFAULT_COLOR),
        sandbox_only=data.get("sandbox_only", False),
        oauth2=oauth2,
        oauth1=oauth1,
        client_credentials=client_credentials,
        fields=fields,
        verify=verify,
        variables=_variables(auth.get("variables", [])),
        api=api,
        notes=data.get("notes", ""),
        custom=custom,
        source=path,
        raw=data,
    )


def load_file(
    path: Path, *, custom: bool = False, validator: jsonschema.Draft202012Validator | None = None
) -> Integration:
    data = _read(path)
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: (top level): must be a mapping")
    validator = validator or _validator()
    errors = list(validator.iter_errors(data))
    if errors:
        error = _best_error(errors)
        field = _field_path(error)
        kind = data.get("auth", {}).get("kind") if isinstance(data.get("auth"), dict) else None
        schema = validator.schema  # an object here; a JSON Schema may also be a bare boolean
        if field == "auth" and error.validator == "oneOf" and isinstance(schema, Mapping) and kind in schema["$defs"]:
            # "not valid under any of the given schemas" helps nobody: check against the kind's own schema.
            branch = validator.evolve(schema={"$ref": f"#/$defs/{kind}", "$defs": schema["$defs"]})
            inner = list(branch.iter_errors(data["auth"]))
            if inner:
                error = _best_error(inner)
                field = ".".join(["auth", *(str(p) for p in error.absolute_path)])
        raise ConfigurationError(f"{path}: {field}: {error.message}")
    _semantic_checks(path, data)
    return _build(path, data, custom)


def catalog_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml", ".json") and p.is_file())


def load_catalog(extra_dir: Path | None = None, *, builtin_dir: Path = BUILTIN_DIR) -> Catalog:
    validator = _validator()
    integrations: dict[str, Integration] = {}
    for path in catalog_files(builtin_dir):
        integration = load_file(path, validator=validator)
        integrations[integration.slug] = integration
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise ConfigurationError(f"{extra_dir}: LATCHKEY_CATALOG_DIR is not a directory")
        for path in catalog_files(extra_dir):
            integration = load_file(path, custom=True, validator=validator)
            if integration.slug in integrations:
                raise ConfigurationError(f"{path}: slug: {integration.slug!r} is already a built-in integration")
            integrations[integration.slug] = integration
    return Catalog(integrations)


def validate_directory(directory: Path) -> list[str]:
    """Every problem in a folder of catalog files, one line each (for `latchkey catalog validate`)."""
    validator = _validator()
    problems = []
    for path in catalog_files(directory):
        try:
            load_file(path, custom=True, validator=validator)
        except ConfigurationError as exc:
            problems.append(str(exc))
    return problems
