"""Every catalog file validates, and a bad file stops start-up naming the file, the field and why."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from server.catalog.loader import BUILTIN_DIR, catalog_files, load_catalog, load_file, validate_directory
from server.catalog.scopes import UNIFIED_SCOPES
from server.errors import ConfigurationError

CATALOG = load_catalog()
KINDS = {"oauth2", "oauth2_client_credentials", "oauth1", "api_key", "basic"}


def test_the_catalog_is_broad() -> None:
    real = [i for i in CATALOG if not i.sandbox_only]
    assert len(real) >= 40
    assert {i.kind for i in real} == KINDS
    categories = {c for i in real for c in i.categories}
    assert {
        "crm",
        "commerce",
        "accounting",
        "hris",
        "ats",
        "messaging",
        "calendar",
        "storage",
        "ticketing",
        "devtools",
        "marketing",
    } <= categories


@pytest.mark.parametrize("path", catalog_files(BUILTIN_DIR), ids=lambda p: p.stem)
def test_every_file_validates_and_is_documented(path: Path) -> None:
    integration = load_file(path)
    assert integration.docs.startswith("https://") or (
        integration.sandbox_only and (BUILTIN_DIR.parents[2] / integration.docs).is_file()
    )
    assert set(integration.scopes) <= set(UNIFIED_SCOPES)
    assert integration.logo and (BUILTIN_DIR.parent / "logos" / integration.logo).is_file()
    assert integration.api is not None, "every built-in integration says how passthrough reaches its API"
    assert integration.api.source.startswith(("https://", "docs/"))
    if integration.kind in ("api_key", "basic", "oauth2_client_credentials"):
        assert integration.fields
        for field in integration.fields:
            if field.pattern:
                re.compile(field.pattern)


def write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


GOOD = {
    "slug": "good",
    "name": "Good",
    "categories": ["crm"],
    "docs": "https://good.example/docs",
    "auth": {"kind": "api_key", "fields": [{"name": "api_key", "label": "API key", "secret": True}]},
    "scopes": {"crm_contact_read": []},
}


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        (
            {"auth": {"kind": "oauth2", "authorize_url": "http://evil.example/a", "token_url": "https://x.example/t"}},
            "auth.authorize_url",
            "does not match",
        ),
        ({"scopes": {"crm_everything": []}}, "scopes.crm_everything", "not a unified scope"),
        ({"slug": "other"}, "slug", "must match the file name"),
        ({"categories": []}, "categories", "should be non-empty"),
        (
            {
                "auth": {
                    "kind": "oauth2",
                    "authorize_url": "https://{shop}.example/a",
                    "token_url": "https://x.example/t",
                }
            },
            "auth.authorize_url",
            "does not declare",
        ),
        (
            {"auth": {"kind": "api_key", "fields": [{"name": "k", "label": "K", "pattern": "(", "placeholder": "x"}]}},
            "auth.fields.k.pattern",
            "regular expression",
        ),
        (
            {"auth": {"kind": "api_key", "fields": [{"name": "k", "label": "K", "pattern": "^k_[a-z]+$"}]}},
            "auth.fields.k",
            "needs a placeholder",
        ),
        (
            {
                "auth": {
                    "kind": "oauth2",
                    "authorize_url": "https://{shop}.example/a",
                    "token_url": "https://x.example/t",
                    "variables": [{"name": "shop", "label": "Shop", "pattern": "^[a-z]+$"}],
                }
            },
            "auth.variables.shop",
            "needs an example",
        ),
        (
            {"api": {"base_url": "https://good.example", "source": "https://good.example/api"}},
            "api.auth",
            "must be given",
        ),
        (
            {"api": {"base_url": "https://{region}.good.example", "auth": "bearer", "source": "https://g.example"}},
            "api.base_url",
            "uses {region}",
        ),
        (
            {"api": {"base_url": "https://good.example/v1/", "auth": "bearer", "source": "https://g.example"}},
            "api.base_url",
            "no trailing slash",
        ),
        (
            {"api": {"base_url": "https://good.example", "auth": "oauth1", "source": "https://g.example"}},
            "api.auth",
            "oauth1 signatures",
        ),
        (
            {"api": {"base_url": "https://good.example", "auth": "header", "source": "https://g.example"}},
            "api",
            "'name' is a required property",
        ),
        (
            {
                "api": {
                    "base_url": "https://good.example",
                    "auth": "header",
                    "name": "X-Key",
                    "value": "{secret}",
                    "source": "https://g.example",
                }
            },
            "api.value",
            "uses {secret}",
        ),
    ],
)
def test_a_bad_file_is_refused_with_file_field_and_reason(
    tmp_path: Path, change: dict[str, Any], field: str, why: str
) -> None:
    path = write(tmp_path, "good.json", {**GOOD, **change})
    with pytest.raises(ConfigurationError) as caught:
        load_file(path, custom=True)
    message = str(caught.value)
    assert message.startswith(str(path)) and field in message and why in message


def test_a_base_url_that_starts_with_a_variable_must_list_its_hosts(tmp_path: Path) -> None:
    oauth = {
        "kind": "oauth2",
        "authorize_url": "https://good.example/a",
        "token_url": "https://good.example/t",
        "token_response": {"extra": {"instance_url": "instance_url"}},
    }
    api = {"base_url": "{instance_url}/v1", "source": "https://good.example/api"}
    path = write(tmp_path, "good.json", {**GOOD, "auth": oauth, "api": api})
    with pytest.raises(ConfigurationError, match=r"api\.hosts"):
        load_file(path, custom=True)
    path = write(tmp_path, "good.json", {**GOOD, "auth": oauth, "api": {**api, "hosts": ["good.example"]}})
    loaded = load_file(path, custom=True).api
    assert loaded is not None and loaded.auth == "bearer" and loaded.hosts == ("good.example",)


def test_the_service_refuses_to_start_on_a_bad_custom_catalog(tmp_path: Path) -> None:
    from server.app import create_app
    from tests.harness import make_settings

    write(tmp_path, "good.json", {**GOOD, "scopes": {"nope": []}})
    with pytest.raises(ConfigurationError, match=re.escape("good.json: scopes.nope")):
        create_app(make_settings(tmp_path, catalog_dir=tmp_path))


def test_custom_integrations_join_the_catalog_but_cannot_shadow_builtins(tmp_path: Path) -> None:
    write(tmp_path, "good.json", GOOD)
    catalog = load_catalog(tmp_path)
    good = catalog.get("good")
    assert good is not None
    assert good.custom and len(catalog) == len(CATALOG) + 1
    write(tmp_path, "hubspot.json", {**GOOD, "slug": "hubspot"})
    with pytest.raises(ConfigurationError, match="already a built-in"):
        load_catalog(tmp_path)


def test_validate_directory_reports_every_bad_file(tmp_path: Path) -> None:
    write(tmp_path, "good.json", GOOD)
    write(tmp_path, "bad.json", {**GOOD, "slug": "bad", "docs": "http://insecure.example"})
    problems = validate_directory(tmp_path)
    assert len(problems) == 1 and "bad.json: docs" in problems[0]


@pytest.mark.parametrize("logo", ["../var/secret_key", "{var}/secret_key", "sub/good.svg", ".hidden.svg", "good.png"])
def test_a_logo_that_is_not_a_bare_svg_file_name_is_refused(tmp_path: Path, logo: str) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret_key").write_text("s" * 64)
    catalog = tmp_path / "catalog"
    (catalog / "sub").mkdir(parents=True)
    for name in ("good.svg", ".hidden.svg", "good.png"):
        (catalog / "sub" / name).write_text("<svg/>")
        (catalog / name).write_text("<svg/>")
    write(catalog, "good.json", {**GOOD, "logo": logo.replace("{var}", str(tmp_path / "var"))})
    [problem] = validate_directory(catalog)
    assert "good.json: logo" in problem


def test_a_logo_linked_out_of_the_catalog_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("s" * 64)
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "good.svg").symlink_to(tmp_path / "secret_key")
    write(catalog, "good.json", {**GOOD, "logo": "good.svg"})
    [problem] = validate_directory(catalog)
    assert "good.json: logo" in problem and "not found" in problem


def test_a_bare_logo_beside_the_entry_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "good.svg").write_text("<svg/>")
    write(tmp_path, "good.json", {**GOOD, "logo": "good.svg"})
    assert validate_directory(tmp_path) == []
