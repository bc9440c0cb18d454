"""The pages' languages: gettext catalogs read with Babel, and the choice of one per request.

Catalogs live in server/locales/<lang>/LC_MESSAGES/latchkey.po. They are read once, at start-up
(a broken catalog stops the service there), and handed to Jinja's i18n extension per render as
newstyle `gettext` / `ngettext` callables: autoescaped, with `%(name)s` placeholders filled from
keyword arguments.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from server.languages import DEFAULT_LANG, LANGS

LOCALE_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "latchkey"


def catalog_path(lang: str, directory: Path = LOCALE_DIR) -> Path:
    return directory / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_translations(lang: str, directory: Path = LOCALE_DIR) -> Translations:
    """Read one .po catalog and compile it in memory (fuzzy entries are left out, as msgfmt does)."""
    with catalog_path(lang, directory).open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN, abort_invalid=True)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def primary_subtag(tag: str) -> str:
    return tag.strip().split("-")[0].split("_")[0].lower()


def requested_lang(value: str | None) -> str | None:
    """The `lang` parameter when it names a language we have, else None."""
    lang = primary_subtag(value or "")
    return lang if lang in LANGS else None


def negotiate(accept_language: str | None, default: str = DEFAULT_LANG) -> str:
    """The first language of an Accept-Language header that we have, by quality, else the default."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")[:32]):
        tag, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, position, primary_subtag(tag)))
    for _, _, lang in sorted(ranked):
        if lang in LANGS:
            return lang
    return default


def _newstyle_gettext(translate: Callable[[str], str]) -> Callable[..., str]:
    @pass_context
    def gettext(__context: Context, __string: str, **variables: Any) -> str:
        text = translate(__string)
        if __context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return gettext


def _newstyle_ngettext(translate: Callable[[str, str, int], str]) -> Callable[..., str]:
    @pass_context
    def ngettext(__context: Context, __singular: str, __plural: str, __num: int, **variables: Any) -> str:
        variables.setdefault("num", __num)
        text = translate(__singular, __plural, __num)
        if __context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return ngettext


class MessageCatalogs:
    """Every language's translations, loaded up front."""

    def __init__(self, directory: Path = LOCALE_DIR, langs: tuple[str, ...] = LANGS) -> None:
        self.directory = directory
        self._translations = {lang: load_translations(lang, directory) for lang in langs}
        self._callables = {
            lang: {"gettext": _newstyle_gettext(t.gettext), "ngettext": _newstyle_ngettext(t.ngettext)}
            for lang, t in self._translations.items()
        }

    def translations(self, lang: str) -> Translations:
        return self._translations.get(lang) or self._translations[DEFAULT_LANG]

    def template_callables(self, lang: str) -> Mapping[str, Callable[..., str]]:
        """What a template context needs for `_()`, `gettext()` and `ngettext()` in this language."""
        return self._callables.get(lang) or self._callables[DEFAULT_LANG]


@functools.cache
def message_catalogs(directory: Path = LOCALE_DIR) -> MessageCatalogs:
    return MessageCatalogs(directory)
