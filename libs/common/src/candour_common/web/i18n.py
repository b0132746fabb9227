"""English and Welsh pages: which language a request gets, and the message catalogues.

Every page is written in English (the gettext msgids) and translated into Welsh in a
`.po` catalogue per package: `candour_common/locale` for the shared layout, macros
and vocabularies, `<service package>/locale` for each service's own pages (a
service's catalogue falls back to the shared one). `make i18n-extract`,
`make i18n-update` and `make i18n-compile` keep them in step (see babel.cfg).

The catalogues are compiled in memory when a service builds its templates, not
committed as `.mo` files: a clean clone then works without a build step and a
compiled file can never be older than its `.po` (a few hundred messages compile in
milliseconds). Fuzzy entries are left out, as `pybabel compile` leaves them out.

The language is chosen, first match wins, by `?lang=cy|en` (and then remembered in
the `lang` cookie), by that cookie, or by the browser's Accept-Language; English
otherwise. JSON APIs and problem+json stay English: only pages are translated.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from candour_common.translatable import N_, Localisable

ENGLISH = "en"
WELSH = "cy"
LANGUAGES = (ENGLISH, WELSH)
DEFAULT_LANGUAGE = ENGLISH
LANG_PARAM = "lang"
LANG_COOKIE = "lang"
# A year: long enough that a reader is not asked again, and it holds nothing but "cy"/"en".
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
COMMON_LOCALE = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
# Babel's name for each language, for dates in words.
BABEL_LOCALES = {ENGLISH: "en_GB", WELSH: "cy_GB"}
# What the language switch and the alternates call each language, in that language.
LANGUAGE_NAMES = {ENGLISH: "English", WELSH: "Cymraeg"}
# What a story's language is called on a page in the page's language (translate() them):
# the share page's choice, the console's label, the search filter (codes as StoryLanguage).
STORY_LANGUAGE_LABELS = {ENGLISH: N_("English"), WELSH: N_("Welsh")}


def _supported(value: str | None) -> str | None:
    """`cy` or `en` from a tag such as `cy`, `CY-gb` or `en_GB`; None for anything else."""
    if not value:
        return None
    primary = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The supported language the browser prefers most (RFC 9110 q-values; q=0 means
    "not this one"); None when it names none of them. A malformed part is skipped."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:1000].split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = -1.0
        language = _supported(tag)
        if language is not None and 0 < quality <= 1:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    """The page's language, and whether the request asked for it in the URL (so the
    response remembers it in the cookie)."""

    language: str
    from_query: bool = False


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> LanguageChoice:
    """Which language a page is shown in: `?lang=`, then the cookie, then the header."""
    if (chosen := _supported(query)) is not None and len(query or "") <= 10:
        return LanguageChoice(chosen, from_query=True)
    if (remembered := _supported(cookie)) is not None and len(cookie or "") <= 10:
        return LanguageChoice(remembered)
    return LanguageChoice(from_accept_language(accept_language) or DEFAULT_LANGUAGE)


def language_choice(request: Request) -> LanguageChoice:
    """The request's language, worked out once and kept on the request."""
    known: LanguageChoice | None = getattr(request.state, "language_choice", None)
    if known is None:
        known = negotiate(
            request.query_params.get(LANG_PARAM),
            request.cookies.get(LANG_COOKIE),
            request.headers.get("accept-language"),
        )
        request.state.language_choice = known
    return known


def request_language(request: Request) -> str:
    return language_choice(request).language


def remember_language(request: Request, response: Response, *, secure: bool) -> None:
    """Keep a language chosen with `?lang=` in the `lang` cookie (only the choice: no id,
    nothing that tracks anyone; SameSite=Lax so following a link keeps it)."""
    choice = language_choice(request)
    if choice.from_query and request.cookies.get(LANG_COOKIE) != choice.language:
        response.set_cookie(
            LANG_COOKIE,
            choice.language,
            max_age=LANG_COOKIE_MAX_AGE,
            samesite="lax",
            secure=secure,
            httponly=True,
        )


# Query parameters that may carry a secret (an email link's signed token, a private
# code pasted into a URL by hand): never copied into a page's language links.
SECRET_PARAMS = frozenset({"token"})


def page_url(request: Request, language: str) -> str:
    """This page in `language`: its own URL with `lang` set (the other query kept,
    but never a secret: the page would otherwise repeat it in its head and switch)."""
    without_secrets = request.url.remove_query_params(list(SECRET_PARAMS))
    return str(without_secrets.include_query_params(**{LANG_PARAM: language}))


def compile_po(path: Path) -> gettext.GNUTranslations:
    """A `.po` catalogue compiled in memory (fuzzy entries left out)."""
    with path.open("rb") as source:
        catalog = read_po(source, locale=path.parent.parent.name, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def load_translations(locale_dirs: Iterable[Path]) -> dict[str, gettext.NullTranslations]:
    """Each language's translations from `locale_dirs` (the first wins, the others are its
    fallbacks). English is the msgids themselves."""
    found: dict[str, gettext.NullTranslations] = {ENGLISH: gettext.NullTranslations()}
    for language in LANGUAGES:
        if language == ENGLISH:
            continue
        chain: gettext.NullTranslations | None = None
        for directory in locale_dirs:
            path = directory / language / "LC_MESSAGES" / f"{DOMAIN}.po"
            if not path.exists():
                continue
            translations = compile_po(path)
            if chain is None:
                chain = translations
            else:
                chain.add_fallback(translations)
        found[language] = chain or gettext.NullTranslations()
    return found


# The language of the page being rendered, for the macros a template imports (an
# imported template does not see its importer's `request`).
_rendering: ContextVar[str | None] = ContextVar("candour_page_language", default=None)


@contextmanager
def rendering_in(language: str) -> Iterator[None]:
    """Render templates in `language` inside this block (set by `pages.render`)."""
    token = _rendering.set(language)
    try:
        yield
    finally:
        _rendering.reset(token)


def _context_language(context: Context) -> str:
    request = context.get("request")
    if isinstance(request, Request):
        return request_language(request)
    return _rendering.get() or DEFAULT_LANGUAGE


def translate_in(context: Context, message: str) -> str:
    """`message` in the language of the page a template context is rendering (for a
    filter or function that makes words for a page)."""
    return _translations_of(context).gettext(message)


def _translations_of(context: Context) -> gettext.NullTranslations:
    found = context.environment.globals.get("_translations")
    if not isinstance(found, Mapping):
        return gettext.NullTranslations()
    chosen = found.get(_context_language(context))
    return chosen if isinstance(chosen, gettext.NullTranslations) else gettext.NullTranslations()


def install_translations(
    env: Environment, translations: Mapping[str, gettext.NullTranslations]
) -> None:
    """`{% trans %}`, `_()`, `gettext()` and `ngettext()` in `env`'s templates (for the
    templates' own words), `translate()` (for messages made in Python), in the language
    of the request being rendered; `current_language()` and `language_links()` for the
    layout."""

    @pass_context
    def _gettext(context: Context, message: str) -> str:
        return translations[_context_language(context)].gettext(message)

    @pass_context
    def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
        return translations[_context_language(context)].ngettext(singular, plural, n)

    @pass_context
    def translate(context: Context, message: str) -> str:
        """A message made in Python (an error, a label marked with N_), translated when it
        is in the catalogue. Plain text, unlike `_()`: it is escaped like any value, and
        a `%` in it is just a character."""
        if not message:
            return ""
        language = _context_language(context)
        chosen = translations[language]
        if isinstance(message, Localisable):
            return message.localised(chosen.gettext, babel_locale(language))
        return chosen.gettext(message)

    @pass_context
    def current_language(context: Context) -> str:
        return _context_language(context)

    @pass_context
    def text_language(context: Context, language: str) -> Markup:
        """` lang="cy"` for an element whose text (a story) is in another language than
        the page, so a screen reader speaks it right (WCAG 3.1.2); nothing otherwise."""
        code = str(language)
        if code not in LANGUAGES or code == _context_language(context):
            return Markup("")
        return Markup(' lang="{}"').format(code)

    @pass_context
    def language_links(context: Context) -> list[dict[str, str]]:
        """Every language's version of this page (for hreflang and the switch)."""
        request = context.get("request")
        if not isinstance(request, Request):
            return []
        return [
            {"language": code, "name": LANGUAGE_NAMES[code], "url": page_url(request, code)}
            for code in LANGUAGES
        ]

    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    env.globals["_translations"] = translations
    env.globals["translate"] = translate
    env.globals["current_language"] = current_language
    env.globals["text_language"] = text_language
    env.globals["story_languages"] = STORY_LANGUAGE_LABELS
    env.globals["language_links"] = language_links


def babel_locale(language: str) -> str:
    return BABEL_LOCALES.get(language, BABEL_LOCALES[DEFAULT_LANGUAGE])


def localised_date_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The date filters, in the words of the page's language ("1 Mawrth 2025")."""

    def localised(format_one: Any) -> Any:
        @pass_context
        def in_page_language(context: Context, value: Any) -> str:
            result: str = format_one(value, locale=babel_locale(_context_language(context)))
            return result

        return in_page_language

    return {name: localised(function) for name, function in filters.items()}


@pass_context
def number_in_words(context: Context, value: int | float) -> str:
    """`12,400` with the grouping of the page's language (Babel's CLDR data)."""
    return format_decimal(value, locale=babel_locale(_context_language(context)))
