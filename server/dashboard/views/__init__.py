"""Dashboard pages, one module per section."""
