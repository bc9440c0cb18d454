from pathlib import Path

from server.catalog.loader import load_catalog
from server.catalog.table import markdown_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def test_docs_integration_table_is_up_to_date() -> None:
    """Regenerate with: latchkey catalog table > docs/integrations.md"""
    assert DOC.read_text() == markdown_table(load_catalog())


def test_table_has_a_row_per_integration_with_its_scopes() -> None:
    table = markdown_table(load_catalog())
    row = next(line for line in table.splitlines() if "(`hubspot`)" in line)
    hubspot = load_catalog().get("hubspot")
    assert hubspot is not None
    assert "| oauth2 |" in row and row.count("✓") == len(hubspot.scopes)
