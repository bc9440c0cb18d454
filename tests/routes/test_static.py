"""Integration logos are served only from the logos folder or beside the entry's own file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.harness import make_settings, running_app

ENTRY = {
    "slug": "acme",
    "name": "Acme",
    "categories": ["crm"],
    "docs": "https://acme.example/docs",
    "auth": {"kind": "api_key", "fields": [{"name": "api_key", "label": "API key", "secret": True}]},
    "scopes": {"crm_contact_read": []},
    "logo": "acme.svg",
}


async def test_a_logo_swapped_for_a_link_out_of_its_folder_is_not_served(tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("the-secret-key-" + "x" * 40)
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "acme.json").write_text(json.dumps(ENTRY))
    (catalog / "acme.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" id="acme-logo"/>')
    async with running_app(make_settings(tmp_path, catalog_dir=catalog)) as lk:
        served = await lk.client.get("/logos/acme.svg")
        assert served.status_code == 200 and 'id="acme-logo"' in served.text
        (catalog / "acme.svg").unlink()
        (catalog / "acme.svg").symlink_to(secret)
        swapped = await lk.client.get("/logos/acme.svg")
        assert swapped.status_code == 200 and swapped.headers["content-type"].startswith("image/svg+xml")
        assert "the-secret-key" not in swapped.text and "<text" in swapped.text  # the drawn initials instead
