"""The languages Latchkey's pages speak: the one list the picker, the dashboard, the message
catalogs (server/locales/<lang>/) and the widget's `lang` option are checked against."""

from __future__ import annotations

# Code → the language's own name (the dashboard's language menu).
LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français", "de": "Deutsch", "es": "Español", "ja": "日本語"}
LANGS: tuple[str, ...] = tuple(LANGUAGES)
DEFAULT_LANG = "en"
